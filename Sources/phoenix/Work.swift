import PhoenixAPI
import ArgumentParser
import Hummingbird
import Logging
import PostgresNIO
import PhoenixPlatform
import ServiceLifecycle
import UnixSignals
import PhoenixWorker
import PhoenixSupabase
import PhoenixQueue
import PhoenixRedis

/// `phoenix work`: runs a worker until SIGTERM or SIGINT.
struct Work: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run a worker for WORKER_TYPE's queues until SIGTERM/SIGINT.")

    @Option(name: .long, help: "Worker type(s): \(WorkerType.allCases.map(\.rawValue).joined(separator: ", ")), a comma-separated list, or all (default: WORKER_TYPE).")
    var type: String?

    @Option(name: .long, help: "Jobs run at once (default: WORKER_CONCURRENCY, else 10).")
    var concurrency: Int?

    @Option(name: .long, help: "Seconds running jobs get to finish after SIGTERM before they are handed back.")
    var grace: Double = Double(WorkerConfiguration.defaultGracePeriod.components.seconds)

    @Option(name: .long, help: "Seconds a fetched job stays leased without a heartbeat.")
    var lease: Double = 30

    @Option(name: .long, help: "Seconds between heartbeats.")
    var heartbeat: Double = 5

    @Option(name: .long, help: "Seconds after which a silent worker counts as gone.")
    var staleAfter: Double = 30

    @Option(name: .long, help: "Serve GET /metrics (Prometheus) and GET /health on this port (default: METRICS_PORT; none when unset).")
    var metricsPort: Int?

    func validate() throws {
        for (name, value) in [("--grace", grace), ("--lease", lease), ("--heartbeat", heartbeat), ("--stale-after", staleAfter)] where value < 0.05 || value > 86_400 {
            throw ValidationError("\(name) must be between 0.05 and 86400 seconds, got \(value)")
        }
        guard heartbeat < lease else { throw ValidationError("--heartbeat (\(heartbeat) s) must be shorter than --lease (\(lease) s), or leases expire between heartbeats") }
    }

    func run() async throws {
        let settings = Settings()
        try bootstrapLogging(settings)
        // Before the configuration, whose metrics factory defaults to the process-wide one.
        let metrics = bootstrapMetrics()
        let types = try settings.workerTypes(override: type)
        let configuration = WorkerConfiguration(
            name: WorkerType.name(of: types),
            queues: types.map(\.queue),
            withheldQueues: try settings.withheldQueues(of: types),
            concurrency: try settings.concurrency(override: concurrency),
            lease: .seconds(lease),
            heartbeatInterval: .seconds(heartbeat),
            staleAfter: .seconds(staleAfter),
            gracePeriod: .seconds(grace),
            unknownTypeWait: try settings.unknownJobTypeWait()
        )
        let queue = try makeQueue(settings, poolSize: 4)
        defer { queue.redis.shutdown() }
        let logger = Logger(label: "phoenix.worker")
        try await checkRedisServer(queue, logger: logger)
        await applyDefaultFlow(queue, logger: logger)
        if !configuration.withheldQueues.isEmpty {
            logger.notice("Event processing is disabled (ENABLE_EVENT_PROCESSING=false): this worker takes no events jobs", metadata: ["queues": "\(configuration.queues.joined(separator: ","))"])
        }
        var services: [any Service] = []
        var store: PhoenixStore?
        // Job types that write to PostgreSQL need DATABASE_URL; diagnostics, or only withheld events, do not.
        if usesDatabase(configuration.queues) {
            try settings.checkProductionSettings(serving: false)
            let client = PostgresClient(configuration: try settings.database(), backgroundLogger: Logger(label: "phoenix.postgres"))
            services.append(client)
            store = PhoenixStore(client: client)
        }
        // Only the handlers of the job types this worker takes, each reading its own settings.
        let jobs = try await workerJobs(servedBy: configuration.queues, store: store, queue: queue, settings: settings)
        let worker = Worker(queue: queue, registry: jobs.registry, configuration: configuration, periodicJobs: jobs.periodic, runLedger: store, logger: logger)
        services.append(worker)
        if let port = try settings.metricsPort(override: metricsPort) {
            let router = Router()
            MetricsRoute(queue: queue, registry: metrics, knownQueues: configuration.queues).add(to: router)
            HealthRoutes.addLiveness(to: router)
            services.append(Application(router: router, configuration: .init(address: .hostname("0.0.0.0", port: port), serverName: "phoenix-worker"), logger: logger))
        }
        // Services shut down in reverse order: the worker finishes its jobs before PostgreSQL closes.
        let group = ServiceGroup(configuration: .init(services: services.map { .init(service: $0) }, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}
