public import Logging
public import PhoenixQueue
public import ServiceLifecycle

/// Promotes due delayed jobs and reaps expired leases of every queue Redis knows (`phx:queues`) and of
/// `alwaysMaintained`, every `interval`, whatever workers run: a worker type scaled to zero (KEDA scales on
/// the ready list alone) still gets its retries and delayed jobs made ready and its crashed workers' jobs
/// back, which is what brings its replicas back. `phoenix serve` runs one; workers maintain their own
/// queues as well. Both are scripts, so any number of processes may run them at once.
public struct QueueMaintainer: Service {
    let queue: JobQueue
    let alwaysMaintained: [String]
    let interval: Duration
    let logger: Logger

    /// A maintainer of every queue of `queue`'s Redis and `alwaysMaintained` (queues served by worker types,
    /// even before their first job).
    public init(queue: JobQueue, alwaysMaintained: [String], interval: Duration = .seconds(1), logger: Logger) {
        self.queue = queue
        self.alwaysMaintained = alwaysMaintained
        self.interval = interval
        self.logger = logger
    }

    /// Maintains until graceful shutdown or cancellation; a failed pass is logged and the next one tried.
    public func run() async throws {
        await cancelWhenGracefulShutdown { [self] in
            while !Task.isCancelled {
                do {
                    try await Self.maintain(Set(try await queue.queues()).union(alwaysMaintained).sorted(), of: queue, logger: logger)
                } catch {
                    if !Task.isCancelled { logger.error("Queue maintenance failed", metadata: ["error": "\(error)"]) }
                }
                try? await Task.sleep(for: interval)
            }
        }
    }

    /// One pass over `queues`: due delayed jobs to ready, expired leases back to ready (or dead on their last
    /// attempt), logged when any lease had expired.
    public static func maintain(_ queues: [String], of queue: JobQueue, logger: Logger) async throws(QueueError) {
        for name in queues {
            try await queue.promoteDueJobs(queue: name)
            let (requeued, buried) = try await queue.reapExpiredLeases(queue: name)
            if requeued + buried > 0 {
                logger.warning("Reaped expired leases", metadata: ["queue": "\(name)", "requeued": "\(requeued)", "buried": "\(buried)"])
            }
        }
    }
}
