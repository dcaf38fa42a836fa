import PhoenixAPI
import AsyncHTTPClient
import Foundation
import Hummingbird
import NIOCore
import NIOHTTP1
import PostgresNIO
import PhoenixJobsCore
import PhoenixQueue
import PhoenixRedis
import PhoenixSupabase
import Testing
import TestSupport

/// The JWKS fetched from a Supabase project URL, and readiness when a dependency is down.
@Suite struct KeySourceAndReadinessTests {
    @Test func aJWKSIsFetchedFromTheProjectURLAndCached() async throws {
        let minter = await TokenMinter()
        let fetches = Counter()
        let supabase = Router()
        supabase.get("auth/v1/.well-known/jwks.json") { _, _ -> Response in
            await fetches.increment()
            return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: minter.jwksJSON)))
        }
        try await withServer(supabase) { base in
            let settings = try AuthSettings(environment: ["SUPABASE_URL": base])
            #expect(settings.jwksURL == "\(base)/auth/v1/.well-known/jwks.json")
            let verifier = try await TokenVerifier(settings: settings)
            let user = UUID()
            #expect(settings.issuer == "\(base)/auth/v1")
            let identity = try await verifier.identity(authorization: "Bearer \(try await minter.token(.ecdsa, user: user, issuer: settings.issuer))")
            #expect(identity == Identity(role: .authenticated, userID: user))
            _ = try await verifier.identity(authorization: "Bearer \(try await minter.service(.ecdsa, issuer: settings.issuer))")
            #expect(await fetches.value == 1)
            await #expect(throws: APIError.self) { try await verifier.identity(authorization: "Bearer \(try await minter.service(.stranger, issuer: settings.issuer))") }
        }
    }

    @Test func readinessAnswers503NamingRedisWhenItIsDown() async throws {
        try await TestPostgres.withMigratedDatabase { client in
            let router = Router(context: APIContext.self)
            router.middlewares.add(ErrorMiddleware<APIContext>())
            // Nothing listens on port 1.
            HealthRoutes(redis: try RedisConfiguration(url: "redis://127.0.0.1:1/0"), store: PhoenixStore(client: client)).add(to: router)
            try await withServer(router) { base in
                let started = ContinuousClock.now
                let response = try await HTTPClient.shared.execute(HTTPClientRequest(url: "\(base)/ready"), timeout: .seconds(10))
                let body = String(buffer: try await response.body.collect(upTo: 1 << 16))
                #expect(response.status.code == 503)
                #expect(body.contains(#""postgres":"ok""#) && body.contains(#""status":"unavailable""#) && !body.contains(#""redis":"ok""#))
                #expect(ContinuousClock.now - started < .seconds(5))
            }
        }
    }
}

/// A count shared between tasks.
actor Counter {
    private(set) var value = 0
    func increment() { value += 1 }
}
