import PhoenixRedis
public import Foundation

/// What a worker process tells the registry with each heartbeat.
public struct WorkerInfo: Sendable, Equatable, Codable {
    /// Unique id of the worker process (`host:pid:random`).
    public var id: String
    /// The worker type it was started as (`letters`, `all`, …).
    public var type: String
    /// Queues it serves.
    public var queues: [String]
    /// Host name.
    public var host: String
    /// Process id.
    public var pid: Int
    /// Phoenix Jobs version.
    public var version: String
    /// Most jobs it runs at once.
    public var concurrency: Int
    /// Jobs running now.
    public var busy: Int
    /// Jobs it completed.
    public var processed: Int
    /// Attempts that failed on it.
    public var failed: Int
    /// When it started.
    public var startedAt: Date
    /// Its last heartbeat (Redis clock); set by the registry.
    public var heartbeatAt: Date?

    /// A worker's self-description.
    public init(id: String, type: String, queues: [String], host: String, pid: Int, version: String, concurrency: Int, busy: Int = 0, processed: Int = 0, failed: Int = 0, startedAt: Date, heartbeatAt: Date? = nil) {
        self.id = id
        self.type = type
        self.queues = queues
        self.host = host
        self.pid = pid
        self.version = version
        self.concurrency = concurrency
        self.busy = busy
        self.processed = processed
        self.failed = failed
        self.startedAt = startedAt
        self.heartbeatAt = heartbeatAt
    }
}

extension JobQueue {
    /// Records a worker's heartbeat; its hash expires unless renewed, and workers stale for longer than
    /// `staleAfter` are forgotten.
    public func heartbeat(_ worker: WorkerInfo, staleAfter: Duration) async throws(QueueError) {
        let fields: [any RedisArgumentConvertible] = [
            "type", worker.type, "queues", worker.queues.joined(separator: ","), "host", worker.host,
            "pid", worker.pid, "version", worker.version, "concurrency", worker.concurrency, "busy", worker.busy,
            "processed", worker.processed, "failed", worker.failed,
            "startedAt", Int64(worker.startedAt.timeIntervalSince1970 * 1000),
        ]
        _ = try await run(QueueScripts.heartbeat, keys: [keys.workers, keys.worker(worker.id)], [keys.workers, worker.id, staleAfter.wholeSeconds * 2, staleAfter.wholeMilliseconds] + fields)
    }

    /// Workers whose last heartbeat is more recent than `staleAfter`, sorted by id.
    public func liveWorkers(staleAfter: Duration) async throws(QueueError) -> [WorkerInfo] {
        try await registeredWorkers(seenWithin: staleAfter).workers
    }

    /// The registry's workers whose last heartbeat is more recent than `seenWithin` (a worker silent for
    /// longer than its own stale period is forgotten by the next heartbeat of any worker), sorted by id, and
    /// the Redis clock they were read at: the clock the heartbeats were stamped with.
    public func registeredWorkers(seenWithin: Duration) async throws(QueueError) -> (now: Date, workers: [WorkerInfo]) {
        let values = try Self.elements(of: try await run(QueueScripts.liveWorkers, keys: [keys.workers], [keys.workers, seenWithin.wholeMilliseconds]), script: "liveWorkers")
        var workers: [WorkerInfo] = []
        for index in stride(from: 1, to: values.count - 1, by: 2) {
            guard let id = values[index].string, let pairs = values[index + 1].array, !pairs.isEmpty else { continue }
            var fields: [String: String] = [:]
            for pair in stride(from: 0, to: pairs.count - 1, by: 2) {
                if let name = pairs[pair].string { fields[name] = pairs[pair + 1].string }
            }
            let int = { (name: String) in fields[name].flatMap { Int($0) } ?? 0 }
            workers.append(WorkerInfo(
                id: id, type: fields["type"] ?? "?", queues: (fields["queues"] ?? "").split(separator: ",").map(String.init),
                host: fields["host"] ?? "?", pid: int("pid"), version: fields["version"] ?? "?",
                concurrency: int("concurrency"), busy: int("busy"), processed: int("processed"), failed: int("failed"),
                startedAt: Date(milliseconds: int("startedAt")), heartbeatAt: Date(milliseconds: int("heartbeatAt"))
            ))
        }
        return (Date(milliseconds: values.first?.int ?? 0), workers.sorted { $0.id < $1.id })
    }

    /// Removes a worker from the registry, as a clean shutdown does.
    public func unregister(workerID: String) async throws(QueueError) {
        _ = try await run(QueueScripts.unregister, keys: [keys.workers, keys.worker(workerID)], [keys.workers, workerID])
    }

    /// Records the progress (0–1) of a running job under its lease; `false` when the lease is gone.
    @discardableResult
    public func reportProgress(_ lease: JobLease, fraction: Double, message: String) async throws(QueueError) -> Bool {
        let clamped = min(1, max(0, fraction))
        return try await run(QueueScripts.progress, QueuePartition(of: lease), jobs: [lease.id], [lease.id, lease.token, clamped, message]).int == 1
    }
}
