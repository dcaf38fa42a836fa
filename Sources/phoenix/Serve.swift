import PhoenixAPI
import ArgumentParser
import EnvironmentVariables
import Foundation
import Hummingbird
import Logging
import PostgresNIO
import Prometheus
import ServiceLifecycle
import UnixSignals
import PhoenixOutbox
import PhoenixPlatform
import PhoenixSupabase
import PhoenixWorker
import PhoenixQueue
import PhoenixRedis

/// `phoenix serve`: the HTTP front, until SIGTERM or SIGINT.
struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Serve the HTTP API (jobs, events, queues, health) until SIGTERM/SIGINT.")

    @Option(name: .long, help: "Address to listen on (0.0.0.0 in containers; 127.0.0.1 to stay on this machine).")
    var host: String = "0.0.0.0"

    @Option(name: .long, help: "Port to listen on (default: PORT, else 8080).")
    var port: Int?

    func run() async throws {
        let settings = Settings()
        try bootstrapLogging(settings)
        try settings.checkProductionSettings(serving: true)
        let configuration = try settings.apiConfiguration(host: host, port: port)
        let (auth, verifier) = try await settings.tokenVerifier()
        let queue = try makeQueue(settings, poolSize: 8)
        defer { queue.redis.shutdown() }
        let database = try settings.database()
        let client = PostgresClient(configuration: database, backgroundLogger: Logger(label: "phoenix.postgres"))
        let logger = Logger(label: "phoenix.api")
        try await checkRedisServer(queue, logger: logger)
        await applyDefaultFlow(queue, logger: logger)
        let store = PhoenixStore(client: client)
        let events = JobEventHub(queue: queue, store: store, logger: Logger(label: "phoenix.events"))
        let router = try phoenixRouter(
            configuration: configuration, queue: queue, store: store, verifier: verifier, metrics: bootstrapMetrics(),
            events: events, sessionSecret: auth.hmacSecret
        )
        let app = APIServer.application(router: router, configuration: configuration, logger: logger) { port in
            logger.info("Phoenix Jobs API listening", metadata: ["address": "\(configuration.host):\(port)"])
        }
        // Every queue keeps its delayed jobs and expired leases moving, even with no worker of its type running.
        let maintainer = QueueMaintainer(queue: queue, alwaysMaintained: WorkerType.servedQueues, logger: Logger(label: "phoenix.maintenance"))
        // Jobs that committed transactions asked for (phoenix_enqueue_job) go into Redis; every replica relays,
        // each taking other rows. Supabase's transaction pooler (port 6543) cannot LISTEN: the relay polls there.
        let relay = OutboxRelay(
            database: client, queue: queue, catalog: PhoenixJobs.catalog(), listens: database.port != Self.transactionPoolerPort,
            logger: Logger(label: "phoenix.outbox")
        )
        // Services stop in reverse order: the event streams end (their responses with them), the server drains,
        // the relay stops, then PostgreSQL closes.
        let group = ServiceGroup(configuration: .init(
            services: [.init(service: client), .init(service: relay), .init(service: maintainer), .init(service: app), .init(service: events)],
            gracefulShutdownSignals: [.sigterm, .sigint], logger: logger
        ))
        try await group.run()
    }

    /// The port of Supabase's transaction pooler (Supavisor), through which `LISTEN` hears nothing.
    static let transactionPoolerPort = 6543
}

/// The HTTP front of the Phoenix platform: the manifest's catalogue and user rules (the user job types, each
/// for the caller only), and heartbeat figures for every worker type.
func phoenixRouter(
    configuration: APIConfiguration, queue: JobQueue, store: PhoenixStore, verifier: TokenVerifier, metrics: PrometheusCollectorRegistry,
    events: JobEventHub, sessionSecret: String?
) throws -> Router<APIContext> {
    let catalog = PhoenixJobs.catalog()
    return try APIServer.router(
        configuration: configuration, queue: queue, catalog: catalog, rules: UserJobRules(catalog: catalog, eventType: PhoenixJobs.eventType),
        workerTypes: WorkerType.allCases.map(\.rawValue), store: store, verifier: verifier, metrics: metrics, events: events, sessionSecret: sessionSecret
    )
}

extension Settings {
    /// The HTTP front's settings: `PORT`, `MAX_BODY_BYTES`, `RATE_LIMIT_PER_MINUTE`, `STRIPE_WEBHOOK_SECRET`,
    /// `ALLOWED_ORIGINS`, `DASHBOARD_PASSWORD`.
    func apiConfiguration(host: String, port: Int?) throws -> APIConfiguration {
        APIConfiguration(
            host: host, port: try self.port(override: port), bodyLimit: try bodyLimit(), rateLimitPerMinute: try rateLimit(),
            stripeWebhookSecret: environment[.stripeWebhookSecret].flatMap { $0.isEmpty ? nil : $0 },
            allowedOrigins: try allowedOrigins(),
            dashboardPassword: environment[.dashboardPassword].flatMap { $0.isEmpty ? nil : $0 },
            production: try isProduction(), eventProcessing: try eventProcessing()
        )
    }

    /// The token checks (`JWT_SECRET_KEY`, `SUPABASE_JWKS`, `SUPABASE_URL`, `JWT_AUDIENCE`) and a verifier.
    func tokenVerifier() async throws -> (AuthSettings, TokenVerifier) {
        do {
            let auth = try AuthSettings(environment: environment)
            return (auth, try await TokenVerifier(settings: auth))
        } catch {
            throw SettingError(variable: error.variable, problem: error.problem)
        }
    }

    /// `PORT`, or `override`, else 8080.
    func port(override: Int?) throws -> Int {
        if let override { return try checkedPort(override, variable: "--port") }
        guard let text = environment[.port], !text.isEmpty else { return 8080 }
        guard let port = Int(text) else { throw SettingError(variable: "PORT", problem: "must be a port number, got '\(text)'") }
        return try checkedPort(port, variable: "PORT")
    }

    private func checkedPort(_ port: Int, variable: String) throws -> Int {
        guard (0...65535).contains(port) else { throw SettingError(variable: variable, problem: "must be between 0 and 65535, got \(port)") }
        return port
    }

    /// `METRICS_PORT` (or `override`): where a worker serves `/metrics`; nil when neither is set.
    func metricsPort(override: Int?) throws -> Int? {
        if let override { return try checkedPort(override, variable: "--metrics-port") }
        guard let text = environment[.metricsPort], !text.isEmpty else { return nil }
        guard let port = Int(text) else { throw SettingError(variable: "METRICS_PORT", problem: "must be a port number, got '\(text)'") }
        return try checkedPort(port, variable: "METRICS_PORT")
    }

    /// `ALLOWED_ORIGINS`: comma-separated origins (`https://app.example.org`) browsers may call from.
    func allowedOrigins() throws -> [String] {
        guard let text = environment[.allowedOrigins], !text.isEmpty else { return [] }
        let origins = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        for origin in origins {
            guard let url = URL(string: origin), ["http", "https"].contains(url.scheme ?? ""), url.host != nil, url.path.isEmpty || url.path == "/" else {
                throw SettingError(variable: "ALLOWED_ORIGINS", problem: "'\(origin)' is not an origin such as https://app.example.org")
            }
        }
        return origins
    }

    /// `MAX_BODY_BYTES`: largest request body (default 1 MiB).
    func bodyLimit() throws -> Int {
        try positiveInteger(.maxBodyBytes, default: 1 << 20, maximum: 64 << 20)
    }

    /// `RATE_LIMIT_PER_MINUTE`: requests per caller per minute (default 600).
    func rateLimit() throws -> Int {
        try positiveInteger(.rateLimitPerMinute, default: 600, maximum: 1_000_000)
    }

    /// A whole number from 1 to `maximum`, or `value` when the variable is not set.
    func positiveInteger(_ variable: EnvironmentVariable, default value: Int, maximum: Int) throws -> Int {
        guard let text = environment[variable], !text.isEmpty else { return value }
        guard let number = Int(text), (1...maximum).contains(number) else {
            throw SettingError(variable: variable.name, problem: "must be a whole number from 1 to \(maximum), got '\(text)'")
        }
        return number
    }
}
