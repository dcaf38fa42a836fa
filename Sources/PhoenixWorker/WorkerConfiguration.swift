public import CoreMetrics

/// How a worker process runs: what it serves, how many jobs at once, and its timings.
public struct WorkerConfiguration: Sendable {
    /// The name it registers under and labels its metrics with: what the platform started it as (a worker
    /// type, or several joined with commas).
    public var name: String
    /// The queues it was started to serve, in the order it looks at them.
    public var servedQueues: [String]
    /// Queues among those it takes no jobs from for now (the platform's switch for a kind of work).
    public var withheldQueues: Set<String>
    /// Most jobs running at once (`WORKER_CONCURRENCY`).
    public var concurrency: Int
    /// How long a fetched job stays leased without a heartbeat.
    public var lease: Duration
    /// Time between heartbeats (register, extend leases, promote due jobs, reap expired leases).
    public var heartbeatInterval: Duration
    /// A worker whose last heartbeat is older than this counts as gone.
    public var staleAfter: Duration
    /// How long running jobs may take to finish after SIGTERM before they are handed back.
    public var gracePeriod: Duration
    /// Longest wait on Redis for new jobs before looking again (an idle worker makes one call per wait).
    public var idleWait: Duration
    /// How long a job of a type this worker does not know waits for a worker that knows it (a rolling deploy
    /// brings newer workers), counted from its enqueue; it is handed back meanwhile, then goes dead.
    public var unknownTypeWait: Duration
    /// Where the worker's metrics go (swift-metrics); the process-wide `MetricsSystem.factory` by default.
    public var metricsFactory: any MetricsFactory

    /// The default `gracePeriod`: deploy files give a stopping worker more than this (Deploy/, checked by tests).
    public static let defaultGracePeriod: Duration = .seconds(25)

    /// The default `unknownTypeWait` (`UNKNOWN_JOB_TYPE_WAIT`): long enough for a rolling deploy.
    public static let defaultUnknownTypeWait: Duration = .seconds(15 * 60)

    /// The queues it takes jobs from: those it serves but for the withheld ones.
    public var queues: [String] { servedQueues.filter { !withheldQueues.contains($0) } }

    /// A configuration; the defaults suit production (30 s leases renewed every 5 s).
    public init(
        name: String,
        queues: [String],
        withheldQueues: Set<String> = [],
        concurrency: Int = 10,
        lease: Duration = .seconds(30),
        heartbeatInterval: Duration = .seconds(5),
        staleAfter: Duration = .seconds(30),
        gracePeriod: Duration = WorkerConfiguration.defaultGracePeriod,
        idleWait: Duration = .seconds(2),
        unknownTypeWait: Duration = WorkerConfiguration.defaultUnknownTypeWait,
        metricsFactory: any MetricsFactory = MetricsSystem.factory
    ) {
        self.name = name
        self.servedQueues = queues
        self.withheldQueues = withheldQueues
        self.concurrency = concurrency
        self.lease = lease
        self.heartbeatInterval = heartbeatInterval
        self.staleAfter = staleAfter
        self.gracePeriod = gracePeriod
        self.idleWait = idleWait
        self.unknownTypeWait = unknownTypeWait
        self.metricsFactory = metricsFactory
    }
}
