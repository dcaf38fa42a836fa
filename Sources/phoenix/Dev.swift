import PhoenixAPI
import ArgumentParser
import EnvironmentVariables
import Foundation
import Logging
import LocalServers
import PhoenixOutbox
import PostgresNIO
import ServiceLifecycle
import UnixSignals
import PhoenixPlatform
import PhoenixSupabase
import PhoenixWorker
import PhoenixQueue
import PhoenixRedis

/// `phoenix dev`: the whole platform on one machine, until Ctrl-C.
struct Dev: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the whole platform here: private Redis and PostgreSQL unless REDIS_URL / DATABASE_URL are set, migrations, the HTTP front and a worker of every type."
    )

    @Flag(name: .long, help: "Enqueue an example of every job type (an event, a profile sync, a letter, a CV) and report how they ended.")
    var demo = false

    @Option(name: .long, help: "Port of the HTTP front (default: PORT, else 8080).")
    var port: Int?

    @Option(name: .long, help: "Folder for the private servers' data (kept between runs; git ignores .data).")
    var data: String = ".data"

    func run() async throws {
        var environment = ProcessInfo.processInfo.environment
        var started: [LocalServer] = []
        do {
            try await runPlatform(&environment, started: &started)
        } catch {
            await stop(started)
            throw error
        }
        await stop(started)
    }

    private func runPlatform(_ environment: inout [String: String], started: inout [LocalServer]) async throws {
        guard try !Settings(environment: environment).isProduction() else {
            throw SettingError(variable: "ENVIRONMENT", problem: "phoenix dev makes up secrets and runs local servers; it does not run in production (use serve and work)")
        }
        let folder = URL(fileURLWithPath: data, isDirectory: true).standardizedFileURL
        // The servers start before the service group, whose signal handling their processes must not inherit.
        if (environment[.redisURL] ?? "").isEmpty {
            let redis = try await LocalRedis.start(directory: folder.appendingPathComponent("redis"))
            started.append(redis)
            environment[.redisURL] = redis.url
            say("started \(redis.summary)")
        }
        if (environment[.databaseURL] ?? "").isEmpty && (environment[.supabaseDatabaseURL] ?? "").isEmpty {
            let postgres = try await LocalPostgres.start(directory: folder.appendingPathComponent("postgres"), database: "phoenix")
            started.append(postgres)
            environment[.databaseURL] = postgres.url
            say("started \(postgres.summary)")
        }
        // Without key settings, a secret made up for this run signs the token `phoenix dev` prints; a configured
        // secret is never used to mint a token that would end up on the screen.
        var runSecret: String?
        if [EnvironmentVariable.jwtSecretKey, .supabaseJWKS, .supabaseURL].allSatisfy({ environment.nonEmpty($0) == nil }) {
            runSecret = Self.randomHex(32)
            environment[.jwtSecretKey] = runSecret
        }
        if (environment[.dashboardPassword] ?? "").isEmpty { environment[.dashboardPassword] = Self.randomHex(6) }

        let settings = Settings(environment: environment)
        try bootstrapLogging(settings)
        let metrics = bootstrapMetrics()
        let logger = Logger(label: "phoenix.dev")
        let client = PostgresClient(configuration: try settings.database(), backgroundLogger: Logger(label: "phoenix.postgres"))
        say(try await Migrate.applyPending(try Migrator(directory: URL(fileURLWithPath: Migrate.folder(settings))), settings: settings, logger: logger))
        let store = PhoenixStore(client: client)
        let queue = try makeQueue(settings, poolSize: 8)
        defer { queue.redis.shutdown() }
        try await checkRedisServer(queue, logger: logger)
        await applyDefaultFlow(queue, logger: logger)

        let api = try settings.apiConfiguration(host: "127.0.0.1", port: port)
        let (auth, verifier) = try await settings.tokenVerifier()
        let events = JobEventHub(queue: queue, store: store, logger: Logger(label: "phoenix.events"))
        let router = try phoenixRouter(configuration: api, queue: queue, store: store, verifier: verifier, metrics: metrics, events: events, sessionSecret: auth.hmacSecret)
        let base = AsyncStream<String>.makeStream()
        let app = APIServer.application(router: router, configuration: api, logger: Logger(label: "phoenix.api")) { bound in
            base.continuation.yield("http://127.0.0.1:\(bound)")
            base.continuation.finish()
        }
        let workerConfiguration = WorkerConfiguration(
            name: WorkerType.name(of: WorkerType.allCases), queues: WorkerType.servedQueues, withheldQueues: try settings.withheldQueues(of: WorkerType.allCases),
            concurrency: try settings.concurrency(override: nil), unknownTypeWait: try settings.unknownJobTypeWait()
        )
        let jobs = try await workerJobs(servedBy: workerConfiguration.queues, store: store, queue: queue, settings: settings)
        let worker = Worker(
            queue: queue, registry: jobs.registry, configuration: workerConfiguration, periodicJobs: jobs.periodic, runLedger: store,
            logger: Logger(label: "phoenix.worker")
        )
        let guide = DevGuide(
            queue: queue, store: store, demo: demo, base: base.stream,
            environment: environment, serviceToken: runSecret.map(DevGuide.serviceToken(secret:))
        )
        let relay = OutboxRelay(database: client, queue: queue, catalog: PhoenixJobs.catalog(), logger: Logger(label: "phoenix.outbox"))
        // Services stop in reverse order: the guide, then the worker (running jobs finish), the event streams (so
        // that their responses end), the server, the outbox relay, PostgreSQL.
        let group = ServiceGroup(configuration: .init(
            services: [
                .init(service: client), .init(service: relay), .init(service: app), .init(service: events), .init(service: worker),
                .init(service: guide, successTerminationBehavior: .ignore),
            ],
            gracefulShutdownSignals: [.sigterm, .sigint], logger: logger
        ))
        try await group.run()
    }

    private func stop(_ servers: [LocalServer]) async {
        for server in servers.reversed() {
            await server.stop()
            say("stopped \(server.summary)")
        }
    }

    static func randomHex(_ bytes: Int) -> String {
        (0..<bytes).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
    }
}

/// Writes a line to standard output at once (unbuffered), so that it shows up in a log or pipe immediately.
func say(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}
