import Foundation
public import Hummingbird
import PostgresNIO
public import PhoenixRedis
public import PhoenixSupabase
import PhoenixJobsCore

/// `GET /health` (the process answers) and `GET /ready` (Redis and PostgreSQL answer), without a token.
public struct HealthRoutes: Sendable {
    /// A client of its own with short timeouts, so that a Redis outage answers 503 in about a second
    /// instead of waiting out the main client's reconnect timeout.
    let redis: RedisClient
    let store: PhoenixStore
    /// Production: `/ready` names what failed only to a `service_role` caller (checked with this verifier);
    /// anyone else gets the status alone. `nil`: details for everyone.
    let detailsVerifier: TokenVerifier?

    public init(redis configuration: RedisConfiguration, store: PhoenixStore, detailsOnlyForServicesVerifiedBy detailsVerifier: TokenVerifier? = nil) {
        var probe = configuration
        probe.connectTimeout = .seconds(1)
        probe.commandTimeout = .seconds(1)
        probe.reconnectTimeout = .milliseconds(500)
        redis = RedisClient(configuration: probe, poolSize: 1)
        self.store = store
        self.detailsVerifier = detailsVerifier
    }

    public func add(to router: Router<APIContext>) {
        Self.addLiveness(to: router)
        router.get("ready") { request, context in
            let probe = redis
            async let redisCheck = check { try await probe.send("PING") }
            async let postgresCheck = check { try await store.client.query("SELECT 1", logger: context.logger) }
            let (redisError, postgresError) = await (redisCheck, postgresCheck)
            let ready = redisError == nil && postgresError == nil
            var body: [String: JSONValue] = ["status": .string(ready ? "ready" : "unavailable")]
            if await showsDetails(request) {
                body["redis"] = .string(redisError ?? "ok")
                body["postgres"] = .string(postgresError ?? "ok")
            }
            return Response.json(.object(body), status: ready ? .ok : .serviceUnavailable)
        }
    }

    /// `GET /health` alone: the process answers, whatever Redis and PostgreSQL do. Workers serve it beside
    /// `/metrics` for liveness probes, which must not restart a worker that is waiting out a Redis outage.
    public static func addLiveness<Context: RequestContext>(to router: Router<Context>) {
        router.get("health") { _, _ in
            Response.json(.object(["status": .string("healthy"), "timestamp": .string(Date().formatted(.iso8601))]))
        }
    }

    /// Whether the caller may see what failed: anyone, unless a verifier restricts it to `service_role`.
    private func showsDetails(_ request: Request) async -> Bool {
        guard let detailsVerifier else { return true }
        return (try? await detailsVerifier.identity(authorization: request.headers[.authorization]))?.role == .serviceRole
    }

    /// nil when `probe` succeeds within 2 seconds, else why not.
    private func check(_ probe: @escaping @Sendable () async throws -> some Sendable) async -> String? {
        switch await within(.seconds(2), probe) {
        case .success: nil
        case .failure(let error): "\(error)"
        case nil: "no answer within 2 s"
        }
    }
}
