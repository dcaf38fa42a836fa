import PhoenixAPI
import Foundation
import Hummingbird
import NIOCore
import NIOHTTP1
import PhoenixJobsCore
import PhoenixQueue
import Testing
import TestSupport

/// Issue 14 (7): what `ENVIRONMENT=production` changes in the HTTP front, and the token checks that hold
/// in every environment once `SUPABASE_URL` is set.
@Suite struct ProductionModeTests {
    static let production: APIConfiguration = {
        var configuration = LiveAPI.configuration
        configuration.production = true
        return configuration
    }()
    static let form = [("Content-Type", "application/x-www-form-urlencoded")]

    @Test func theDashboardCookieIsSecureAndSignInsAreThrottledPerAddress() async throws {
        try await LiveAPI.run(configuration: Self.production) { api in
            let signedIn = try await api.call(.POST, "/dashboard/login", body: "credential=dashboard-test-password", headers: Self.form)
            #expect(signedIn.status == 303)
            let cookie = signedIn.headers.first(name: "Set-Cookie") ?? ""
            #expect(cookie.contains("Secure") && cookie.contains("HttpOnly"), "\(cookie)")
            // One sign-in and some guesses fit in the minute's budget; then guesses are refused. A new clock
            // minute may begin during the loop and reset the count once (a loaded machine made that happen),
            // so the guesses go on until refused, for at most two minutes' budgets.
            var statuses: [Int] = []
            let limit = DashboardRoutes.signInAttemptsPerMinute
            while !statuses.contains(429) && statuses.count < 2 * limit + 2 {
                statuses.append(try await api.call(.POST, "/dashboard/login", body: "credential=guess", headers: Self.form).status)
            }
            #expect(statuses.contains(429) && statuses.filter { $0 == 401 }.count <= 2 * limit, "\(statuses)")
            #expect(statuses.allSatisfy { [401, 429].contains($0) }, "\(statuses)")
            let refused = try await api.call(.POST, "/dashboard/login", body: "credential=dashboard-test-password", headers: Self.form)
            if refused.status == 429 { #expect(refused.errorCode == "rate_limited" && refused.headers.first(name: "Retry-After") != nil) }
        }
        try await LiveAPI.run { api in
            let signedIn = try await api.call(.POST, "/dashboard/login", body: "credential=dashboard-test-password", headers: Self.form)
            #expect(!(signedIn.headers.first(name: "Set-Cookie") ?? "").contains("Secure"))
        }
    }

    @Test func readinessDetailsAreForServicesOnlyInProduction() async throws {
        try await LiveAPI.run(configuration: Self.production) { api in
            let anonymous = try await api.call(.GET, "/ready")
            #expect(anonymous.status == 200 && anonymous["status"] == .string("ready"))
            #expect(anonymous["redis"] == nil && anonymous["postgres"] == nil)
            let user = try await api.call(.GET, "/ready", token: try await api.minter.token())
            #expect(user["redis"] == nil)
            let service = try await api.call(.GET, "/ready", token: try await api.minter.service())
            #expect(service["redis"] == .string("ok") && service["postgres"] == .string("ok"))
        }
        try await LiveAPI.run { api in
            let open = try await api.call(.GET, "/ready")
            #expect(open["redis"] == .string("ok"))
        }
    }

    @Test func theIssuerIsCheckedWhenTheProjectURLIsKnown() async throws {
        let issuer = "https://project.supabase.test/auth/v1"
        try await LiveAPI.run(auth: { _ in AuthSettings(hmacSecret: TokenMinter.secret, issuer: issuer) }) { api in
            let user = UUID().uuidString.lowercased()
            let claims = { (role: String, iss: String?) -> String in
                let audience = role == "authenticated" ? #", "aud": "authenticated", "sub": "\#(user)""# : ""
                return #"{"role": "\#(role)", "exp": \#(Int(Date().timeIntervalSince1970) + 600)\#(audience)\#(iss.map { #", "iss": "\#($0)""# } ?? "")}"#
            }
            let cases: [(String, String?, Bool)] = [
                ("authenticated", issuer, true), ("authenticated", nil, false), ("authenticated", "supabase", false),
                ("authenticated", "https://other.supabase.test/auth/v1", false),
                ("service_role", issuer, true), ("service_role", "supabase", true), ("service_role", "https://evil.test/auth/v1", false), ("service_role", nil, false),
            ]
            for (role, iss, accepted) in cases {
                let reply = try await api.call(.GET, "/v1/jobs/\(UUID())", token: HostileCallerTests.hs256(claims(role, iss)))
                #expect(accepted ? reply.status == 404 : (reply.status == 401 && AuthTests.message(reply).contains("issuer")), "\(role) iss \(iss ?? "none"): \(reply.status) \(reply.json)")
            }
        }
    }

    @Test func aFailingJWKSEndpointIsNotFetchedOnEveryRequest() async throws {
        let minter = await TokenMinter()
        let fetches = Counter()
        let supabase = Router()
        supabase.get("auth/v1/.well-known/jwks.json") { _, _ -> Response in
            await fetches.increment()
            return Response(status: .internalServerError)
        }
        try await withServer(supabase) { base in
            let verifier = try await TokenVerifier(settings: try AuthSettings(environment: ["SUPABASE_URL": base]))
            let token = try await minter.token(.ecdsa)
            for _ in 0..<20 {
                await #expect(throws: APIError.self) { try await verifier.identity(authorization: "Bearer \(token)") }
            }
            // Twenty requests, fetching each time before: one fetch within the first second of backoff (two if
            // a loaded machine took longer than that over the loop).
            #expect(await fetches.value <= 2)
            let error = await #expect(throws: APIError.self) { try await verifier.identity(authorization: "Bearer \(token)") }
            #expect(error?.status == .serviceUnavailable && error?.message.contains("next try in") == true, "\(String(describing: error))")
        }
    }
}
