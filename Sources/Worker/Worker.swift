import Foundation
public import Logging
public import Queue
public import ServiceLifecycle
import Synchronization

/// A worker process's job runner, run as a `Service`: fetches jobs of its queues in batches, runs up to
/// `concurrency` at once, records outcomes in batches, beats its heart (registration and lease renewal),
/// promotes due jobs, reaps expired leases, fires periodic jobs, and shuts down gracefully.
///
/// On graceful shutdown (SIGTERM/SIGINT through a `ServiceGroup`) it stops fetching, hands back jobs it
/// fetched but had not started, lets running jobs finish within the grace period, cancels and hands back
/// the rest, records every outcome, unregisters, and returns.
public final class Worker: Service, Sendable {
    /// This process's worker id (`host:pid:random`).
    public let id: String
    let queue: JobQueue
    let registry: JobRegistry
    let configuration: WorkerConfiguration
    let periodicJobs: [PeriodicJob]
    let logger: Logger
    let slots: JobSlots
    let outcomes: OutcomeBatcher
    let metrics: WorkerMetrics
    let startedAt = Date()
    private let state = Mutex(RunState())

    struct RunState {
        var stopping = false
        var handingBack = false
        var running: [String: JobLease] = [:]
        var processed = 0
        var failed = 0
        var lastPeriods: [String: Int64] = [:]
    }

    /// A worker serving `configuration.queues` with the job types of `registry`.
    public init(queue: JobQueue, registry: JobRegistry, configuration: WorkerConfiguration, periodicJobs: [PeriodicJob] = [], logger: Logger = Logger(label: "phoenix.worker")) {
        let host = ProcessInfo.processInfo.hostName
        self.id = "\(host):\(getpid()):\(UUID().uuidString.prefix(6).lowercased())"
        self.queue = queue
        self.registry = registry
        self.configuration = configuration
        self.periodicJobs = periodicJobs.filter { job in (try? job.makeJob()).map { configuration.queues.contains($0.queue) } ?? false }
        var logger = logger
        logger[metadataKey: "worker"] = "\(id)"
        self.logger = logger
        self.slots = JobSlots(capacity: configuration.concurrency)
        self.outcomes = OutcomeBatcher(queue: queue, giveUpAfter: configuration.lease, logger: logger)
        self.metrics = WorkerMetrics(factory: configuration.metricsFactory, workerType: configuration.types.map(\.rawValue).joined(separator: ","))
    }

    /// Runs until graceful shutdown or cancellation.
    public func run() async throws {
        logger.info("Worker started", metadata: [
            "queues": "\(configuration.queues.joined(separator: ","))", "concurrency": "\(configuration.concurrency)",
        ])
        await withTaskGroup(of: Void.self) { recorder in
            recorder.addTask { await self.outcomes.run() }
            await withTaskGroup(of: Void.self) { background in
                background.addTask { await self.every(self.configuration.heartbeatInterval) { await self.heartbeat() } }
                background.addTask { await self.every(.seconds(1)) { await self.maintain() } }
                await withTaskCancellationOrGracefulShutdownHandler {
                    await self.fetchAndRun()
                } onCancelOrGracefulShutdown: {
                    self.stop()
                }
                background.cancelAll()
            }
            outcomes.finish()
        }
        do {
            try await queue.unregister(workerID: id)
        } catch {
            logger.warning("Could not unregister the worker; its heartbeat will go stale", metadata: ["error": "\(error)"])
        }
        let totals = state.withLock { ($0.processed, $0.failed) }
        logger.info("Worker stopped", metadata: ["processed": "\(totals.0)", "failed": "\(totals.1)"])
    }

    /// Stops fetching; running jobs go on.
    func stop() {
        state.withLock { $0.stopping = true }
        slots.stop()
    }

    var isStopping: Bool { state.withLock { $0.stopping } }

    // MARK: - Fetch loop

    private func fetchAndRun() async {
        // Discarding: a finished job's task is freed at once (a plain task group keeps every child's result
        // until it is awaited, which grew a busy worker's memory by kilobytes per job).
        await withDiscardingTaskGroup { jobs in
            var nextQueue = 0
            while !isStopping {
                await slots.waitForFreeSlot()
                let free = slots.take(upTo: configuration.concurrency)
                guard free > 0, !isStopping else {
                    slots.put(free)
                    continue
                }
                let fetched: [LeasedJob]
                do {
                    fetched = try await fetch(upTo: free, startingAt: nextQueue)
                } catch {
                    slots.put(free)
                    logger.error("Fetching jobs failed; retrying", metadata: ["error": "\(error)"])
                    try? await Task.sleep(for: .seconds(1))
                    continue
                }
                nextQueue = (nextQueue + 1) % max(1, configuration.queues.count)
                slots.put(free - fetched.count)
                if isStopping {
                    // Fetched while shutdown began: hand back at once, they have not started.
                    fetched.forEach { outcomes.handBack($0.lease) }
                    slots.put(fetched.count)
                    break
                }
                for unit in unitsOfWork(fetched) {
                    state.withLock { state in
                        for job in unit { state.running[job.lease.id] = job.lease }
                    }
                    jobs.addTask { await self.execute(unit) }
                }
                if fetched.isEmpty {
                    do {
                        _ = try await queue.waitForJobs(queues: configuration.queues, timeout: configuration.idleWait)
                    } catch {
                        logger.error("Waiting for jobs failed; retrying", metadata: ["error": "\(error)"])
                        try? await Task.sleep(for: .seconds(1))
                    }
                }
            }
            await drain(jobs: &jobs)
        }
    }

    /// Fills `count` slots from the queues, starting with a different queue each time for fairness.
    private func fetch(upTo count: Int, startingAt start: Int) async throws -> [LeasedJob] {
        let queues = configuration.queues
        var fetched: [LeasedJob] = []
        for offset in queues.indices where fetched.count < count {
            let name = queues[(start + offset) % queues.count]
            fetched += try await queue.fetch(queue: name, limit: count - fetched.count, lease: configuration.lease, worker: id)
        }
        return fetched
    }

    /// After shutdown began: waits for running jobs up to the grace period, then cancels the rest, whose
    /// leases are handed back.
    private func drain(jobs: inout DiscardingTaskGroup) async {
        let deadline = ContinuousClock.now + configuration.gracePeriod
        if slots.busy > 0 {
            logger.info("Waiting for running jobs to finish", metadata: ["running": "\(slots.busy)", "grace": "\(configuration.gracePeriod)"])
        }
        while slots.busy > 0 && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(50))
        }
        if slots.busy > 0 {
            logger.warning("Grace period over; handing back running jobs", metadata: ["running": "\(slots.busy)"])
            state.withLock { $0.handingBack = true }
            jobs.cancelAll()
        }
    }

    // MARK: - Bookkeeping for execution

    /// Records that a job ended; returns whether the worker is handing running jobs back.
    func finished(_ lease: JobLease, failed: Bool) -> Bool {
        let handingBack = state.withLock { state in
            state.running[lease.id] = nil
            if failed { state.failed += 1 } else { state.processed += 1 }
            return state.handingBack
        }
        slots.put()
        return handingBack
    }

    var isHandingBack: Bool { state.withLock { $0.handingBack } }

    // MARK: - Heartbeat and maintenance

    private func every(_ interval: Duration, _ body: () async -> Void) async {
        while !Task.isCancelled {
            await body()
            try? await Task.sleep(for: interval)
        }
    }

    /// Registers the worker and extends the leases of its running jobs.
    private func heartbeat() async {
        let (running, processed, failed) = state.withLock { (Array($0.running.values), $0.processed, $0.failed) }
        let info = WorkerInfo(
            id: id, type: configuration.types.map(\.rawValue).joined(separator: ","), queues: configuration.queues,
            host: ProcessInfo.processInfo.hostName, pid: Int(getpid()), version: PhoenixVersion.current,
            concurrency: configuration.concurrency, busy: running.count, processed: processed, failed: failed, startedAt: startedAt
        )
        do {
            try await queue.heartbeat(info, staleAfter: configuration.staleAfter)
            metrics.heartbeat()
            guard !running.isEmpty else { return }
            let extended = try await queue.extendLeases(running, by: configuration.lease)
            for (lease, kept) in zip(running, extended) where !kept {
                logger.warning("Lease lost while running; the job may run twice", metadata: ["job.id": "\(lease.id)"])
            }
        } catch {
            logger.error("Heartbeat failed", metadata: ["error": "\(error)"])
        }
    }

    /// Promotes due jobs, reaps expired leases and fires periodic jobs, for this worker's queues.
    private func maintain() async {
        do {
            for name in configuration.queues {
                try await queue.promoteDueJobs(queue: name)
                let (requeued, buried) = try await queue.reapExpiredLeases(queue: name)
                if requeued + buried > 0 {
                    logger.warning("Reaped expired leases", metadata: ["queue": "\(name)", "requeued": "\(requeued)", "buried": "\(buried)"])
                }
            }
            try await firePeriodicJobs()
        } catch {
            logger.error("Queue maintenance failed", metadata: ["error": "\(error)"])
        }
    }

    private func firePeriodicJobs() async throws {
        let now = Date()
        for periodic in periodicJobs {
            let period = periodic.period(at: now)
            let isNew = state.withLock { state in
                defer { state.lastPeriods[periodic.name] = period }
                return state.lastPeriods[periodic.name] != period
            }
            guard isNew else { continue }
            var job = try periodic.makeJob()
            job.idempotencyKey = "periodic:\(periodic.name):\(period)"
            job.enqueuedBy = Enqueuer.scheduler
            if try await queue.enqueue(job).created {
                logger.info("Periodic job enqueued", metadata: ["periodic": "\(periodic.name)", "period": "\(period)"])
            }
        }
    }
}

/// The version of Phoenix Jobs, reported by workers and the CLI.
public enum PhoenixVersion {
    /// Semantic version of this build.
    public static let current = "0.1.0"
}
