import PhoenixAPI
import AsyncHTTPClient
import Hummingbird
import Foundation
import JWTKit
import Logging
import NIOCore
import NIOHTTP1
import PostgresNIO
import Prometheus
import PhoenixJobsCore
import PhoenixPlatform
import PhoenixQueue
import PhoenixRedis
import PhoenixSupabase
import TestSupport
import PhoenixWorker

/// Signs test tokens: HS256 with the test secret, ES256 with a key published in the test JWKS, and
/// ES256 with a key nobody published.
struct TokenMinter: Sendable {
    static let secret = "phoenix-test-secret-of-at-least-32-bytes"
    let hmac = JWTKeyCollection()
    let ecdsa = JWTKeyCollection()
    let stranger = JWTKeyCollection()
    let jwksJSON: String

    init() async {
        await hmac.add(hmac: HMACKey(from: Self.secret), digestAlgorithm: .sha256)
        let key = ES256PrivateKey()
        await ecdsa.add(ecdsa: key, kid: "phoenix-test")
        await stranger.add(ecdsa: ES256PrivateKey(), kid: "phoenix-test")
        let parameters = key.parameters!
        jwksJSON = #"{"keys": [{"kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256", "kid": "phoenix-test", "x": "\#(parameters.x)", "y": "\#(parameters.y)"}]}"#
    }

    struct Claims: JWTPayload {
        var sub: SubjectClaim?
        var exp: ExpirationClaim
        var aud: AudienceClaim?
        var iss: IssuerClaim?
        var role: String
        func verify(using algorithm: some JWTAlgorithm) async throws {}
    }

    enum Signer { case hmac, ecdsa, stranger }

    func token(_ signer: Signer = .hmac, role: String = "authenticated", user: UUID? = UUID(), audience: String? = "authenticated", issuer: String? = nil, expiresIn: TimeInterval = 600) async throws -> String {
        let claims = Claims(sub: user.map { SubjectClaim(value: $0.uuidString.lowercased()) }, exp: .init(value: Date().addingTimeInterval(expiresIn)), aud: audience.map { AudienceClaim(value: [$0]) }, iss: issuer.map { IssuerClaim(value: $0) }, role: role)
        switch signer {
        case .hmac: return try await hmac.sign(claims)
        case .ecdsa: return try await ecdsa.sign(claims, kid: "phoenix-test")
        case .stranger: return try await stranger.sign(claims, kid: "phoenix-test")
        }
    }

    /// A service token (no subject, no audience, as Supabase's service key).
    func service(_ signer: Signer = .hmac, issuer: String? = nil, expiresIn: TimeInterval = 600) async throws -> String {
        try await token(signer, role: "service_role", user: nil, audience: nil, issuer: issuer, expiresIn: expiresIn)
    }
}

/// A response: status and JSON body.
struct Reply {
    let status: Int
    let json: JSONValue
    let headers: HTTPHeaders

    subscript(_ key: String) -> JSONValue? { json.objectValue?[key] }
    var errorCode: String? {
        guard case .string(let code)? = json.objectValue?["error"]?.objectValue?["code"] else { return nil }
        return code
    }
}

/// A live API server (real socket) over a fresh database and a queue under its own prefix, with a
/// diagnostics worker running, for the duration of `body`.
struct LiveAPI {
    let base: String
    let queue: JobQueue
    let client: PostgresClient
    let minter: TokenMinter

    /// The test server's settings: loopback, a free port, a 64 KiB body limit, the test Stripe secret, one allowed origin.
    static let configuration = APIConfiguration(
        host: "127.0.0.1", port: 0, bodyLimit: 64 * 1024, rateLimitPerMinute: 1000,
        stripeWebhookSecret: "whsec_phoenix_test", allowedOrigins: ["https://app.phoenix.test"], dashboardPassword: "dashboard-test-password"
    )

    static func run(auth: (TokenMinter) -> AuthSettings = { AuthSettings(hmacSecret: TokenMinter.secret, jwksJSON: $0.jwksJSON) },
                    configuration: APIConfiguration = LiveAPI.configuration,
                    redis: RedisConfiguration? = nil,
                    _ body: (LiveAPI) async throws -> Void) async throws {
        let minter = await TokenMinter()
        try await TestPostgres.withMigratedDatabase { client in
            let redisClient = RedisClient(configuration: try redis ?? TestRedis.configuration())
            let catalog = PhoenixJobs.catalog()
            let verifier = try await TokenVerifier(settings: auth(minter))
            var logger = Logger(label: "test.api")
            logger.logLevel = .error
            // Diagnostic jobs stand in for user job types: `user_id` in their payload names the user.
            let phoenixRules = UserJobRules(catalog: catalog, eventType: PhoenixJobs.eventType)
            let rules = UserJobRules(userField: phoenixRules.userField.merging(["diagnostic.noop": "user_id", "diagnostic.sleep": "user_id"]) { $1 }, eventType: phoenixRules.eventType)
            // As `phoenix serve` does, jobs carry their user as their fairness key (the user event streams follow it).
            let queue = JobQueue(redis: redisClient, keys: QueueKeys(prefix: TestRedis.uniquePrefix("api")), fairnessFields: rules.userField)
            let store = PhoenixStore(client: client)
            let events = JobEventHub(queue: queue, store: store, logger: logger)
            let metrics = PrometheusCollectorRegistry()
            let router = try APIServer.router(
                configuration: configuration, queue: queue, catalog: catalog, rules: rules, workerTypes: WorkerType.allCases.map(\.rawValue),
                store: store, verifier: verifier, metrics: metrics, events: events
            )
            let diagnostics = try await PhoenixJobs.registry(servedBy: [WorkerType.diagnostics.queue], dependencies: HandlerDependencies(store: nil, environment: [:]))
            let worker = Worker(queue: queue, registry: diagnostics, configuration: WorkerConfiguration(name: WorkerType.diagnostics.rawValue, queues: [WorkerType.diagnostics.queue], concurrency: 10, idleWait: .milliseconds(200), metricsFactory: PrometheusMetricsFactory(registry: metrics)), logger: logger)
            // After the server: at shutdown the event streams end first, and their responses with them.
            try await withServer(router, services: [events, worker]) { base in
                try await body(LiveAPI(base: base, queue: queue, client: client, minter: minter))
            }
        }
    }

    /// A client that shows redirects instead of following them (the tests check them), kept for the process.
    static let http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: .init(redirectConfiguration: .disallow))

    /// Sends a request; `body` is JSON text.
    func call(_ method: HTTPMethod, _ path: String, token: String? = nil, body: String? = nil, headers: [(String, String)] = []) async throws -> Reply {
        var request = HTTPClientRequest(url: base + path)
        request.method = method
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: body))
        }
        let response = try await Self.http.execute(request, timeout: .seconds(10))
        let bytes = try await response.body.collect(upTo: 1 << 22)
        let json = bytes.readableBytes == 0 ? JSONValue.null : ((try? JSONValue.parse(bytes.readableBytesView)) ?? .string(String(buffer: bytes)))
        return Reply(status: Int(response.status.code), json: json, headers: response.headers)
    }
}

/// A server-sent event as a test receives it.
struct ReceivedEvent: Sendable {
    let id: String?
    let name: String
    let data: JSONValue
    subscript(_ key: String) -> JSONValue? { data.objectValue?[key] }
}

/// An open `text/event-stream` response, read event by event.
struct EventStreamReader {
    let status: Int
    let headers: HTTPHeaders
    /// The JSON body of a refused request.
    let error: Reply?
    private var body: HTTPClientResponse.Body.AsyncIterator?
    private var pending = ""

    /// Opens `path` on `api` with `token` as a Bearer header (or none) and, when given, `Last-Event-ID`.
    static func open(_ api: LiveAPI, _ path: String, token: String? = nil, lastEventID: String? = nil) async throws -> EventStreamReader {
        var request = HTTPClientRequest(url: api.base + path)
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        if let lastEventID { request.headers.add(name: "Last-Event-ID", value: lastEventID) }
        let response = try await LiveAPI.http.execute(request, timeout: .seconds(120))
        guard response.status == .ok else {
            let bytes = try await response.body.collect(upTo: 1 << 20)
            let json = (try? JSONValue.parse(bytes.readableBytesView)) ?? .string(String(buffer: bytes))
            return EventStreamReader(status: Int(response.status.code), headers: response.headers, error: Reply(status: Int(response.status.code), json: json, headers: response.headers), body: nil)
        }
        return EventStreamReader(status: 200, headers: response.headers, error: nil, body: response.body.makeAsyncIterator())
    }

    private init(status: Int, headers: HTTPHeaders, error: Reply?, body: HTTPClientResponse.Body.AsyncIterator?) {
        self.status = status
        self.headers = headers
        self.error = error
        self.body = body
    }

    /// The next event (comments are passed over); `nil` once the server ended the stream.
    mutating func next() async throws -> ReceivedEvent? {
        while true {
            if let end = pending.range(of: "\n\n") {
                let block = pending[..<end.lowerBound]
                pending = String(pending[end.upperBound...])
                var id: String?, name = "message", data = ""
                for line in block.split(separator: "\n") {
                    if line.hasPrefix("id: ") { id = String(line.dropFirst(4)) }
                    if line.hasPrefix("event: ") { name = String(line.dropFirst(7)) }
                    if line.hasPrefix("data: ") { data += line.dropFirst(6) }
                }
                if data.isEmpty { continue }
                return ReceivedEvent(id: id, name: name, data: try JSONValue.parse(Array(data.utf8)))
            }
            guard var iterator = body, let chunk = try await iterator.next() else { return nil }
            body = iterator
            pending += String(buffer: chunk)
        }
    }

    /// Events until one named `name` (included), failing the test when the stream ends first.
    mutating func events(through name: String) async throws -> [ReceivedEvent] {
        var events: [ReceivedEvent] = []
        while let event = try await next() {
            events.append(event)
            if event.name == name { return events }
        }
        throw StreamEnded(before: name, received: events.map(\.name))
    }

    struct StreamEnded: Error, CustomStringConvertible {
        let before: String
        let received: [String]
        var description: String { "the stream ended before a '\(before)' event; received \(received)" }
    }
}
