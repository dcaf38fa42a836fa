import Foundation
public import Logging
public import PhoenixQueue
public import ServiceLifecycle
import Synchronization
import PhoenixJobsCore

/// A worker process's job runner, run as a `Service`: fetches jobs of its queues in batches, runs up to
/// `concurrency` at once, records outcomes in batches, beats its heart (registration and lease renewal),
/// promotes due jobs, reaps expired leases, fires periodic jobs, and shuts down gracefully.
///
/// On graceful shutdown (SIGTERM/SIGINT through a `ServiceGroup`) it stops fetching, hands back jobs it
/// fetched but had not started, lets running jobs finish within the grace period, cancels and hands back
/// the rest, records every outcome, unregisters, and returns: within the grace period plus one lease, even
/// when Redis does not answer (it then logs which jobs it could not hand back; their leases expire).
public final class Worker: Service, Sendable {
    /// This process's worker id (`host:pid:random`).
    public let id: String
    let queue: JobQueue
    let registry: JobRegistry
    let configuration: WorkerConfiguration
    let periodicJobs: [PeriodicJob]
    let runLedger: (any RunLedger)?
    let logger: Logger
    let slots: JobSlots
    let outcomes: OutcomeBatcher
    let metrics: WorkerMetrics
    let startedAt = Date()
    /// Guards the run state below: stopping flags, the running deliveries, counts, periods fired.
    private let state = Mutex(RunState())

    struct RunState {
        var stopping = false
        /// When shutdown began; running jobs get the grace period from here.
        var stopRequestedAt: ContinuousClock.Instant?
        var handingBack = false
        /// The deliveries running now, by lease (a job fetched again after its lease was lost runs under a
        /// new lease beside the old run, and each keeps its own heartbeat).
        var running: Set<JobLease> = []
        /// Cancels the fetch loop's Redis call in flight; called when shutdown begins.
        var inFlight: (@Sendable () -> Void)?
        /// How to cancel each running job of a type run one job at a time, should its cancellation be asked.
        var cancellations: [JobLease: RaceCancellation] = [:]
        var processed = 0
        var failed = 0
        var lastPeriods: [String: Int64] = [:]
    }

    /// A worker serving `configuration.queues` with the job types of `registry`.
    /// - Parameter runLedger: where redelivered jobs are looked up before they run (see ``RunLedger``); `nil`
    ///   for workers whose jobs record no runs (diagnostics).
    public init(
        queue: JobQueue, registry: JobRegistry, configuration: WorkerConfiguration, periodicJobs: [PeriodicJob] = [],
        runLedger: (any RunLedger)? = nil, logger: Logger = Logger(label: "phoenix.worker")
    ) {
        let host = ProcessInfo.processInfo.hostName
        self.id = "\(host):\(getpid()):\(UUID().uuidString.prefix(6).lowercased())"
        self.queue = queue
        self.registry = registry
        self.configuration = configuration
        self.periodicJobs = periodicJobs.filter { job in (try? job.makeJob()).map { configuration.queues.contains($0.queue) } ?? false }
        self.runLedger = runLedger
        var logger = logger
        logger[metadataKey: "worker"] = "\(id)"
        self.logger = logger
        self.slots = JobSlots(capacity: configuration.concurrency)
        self.outcomes = OutcomeBatcher(queue: queue, giveUpAfter: configuration.lease, logger: logger)
        self.metrics = WorkerMetrics(factory: configuration.metricsFactory, workerType: configuration.name)
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
            // What is left to record gets until the shutdown deadline: then the recorder is cancelled and says
            // what it could not record.
            recorder.addTask { try? await Task.sleep(until: self.shutdownDeadline) }
            await recorder.next()
            recorder.cancelAll()
        }
        let unregistered = await race(max(.milliseconds(100), shutdownDeadline - .now)) { [queue, id] () -> String? in
            do {
                try await queue.unregister(workerID: id)
                return nil
            } catch {
                return "\(error)"
            }
        }
        switch unregistered {
        case .finished(nil): break
        case .finished(let error?): logger.warning("Could not unregister the worker; its heartbeat will go stale", metadata: ["error": "\(error)"])
        case .timedOut, .cancelled: logger.warning("Could not unregister the worker before the shutdown deadline; its heartbeat will go stale")
        }
        let totals = state.withLock { ($0.processed, $0.failed) }
        logger.info("Worker stopped", metadata: ["processed": "\(totals.0)", "failed": "\(totals.1)"])
    }

    /// Stops fetching (abandoning the fetch loop's Redis call in flight); running jobs go on.
    func stop() {
        let cancelInFlight = state.withLock { state -> (@Sendable () -> Void)? in
            if !state.stopping {
                state.stopping = true
                state.stopRequestedAt = .now
            }
            return state.inFlight
        }
        cancelInFlight?()
        slots.stop()
    }

    var isStopping: Bool { state.withLock { $0.stopping } }

    /// When shutdown must be over: the grace period for running jobs, plus one lease to record what they
    /// left (hand-backs, acks) and unregister.
    private var shutdownDeadline: ContinuousClock.Instant {
        let start = state.withLock { $0.stopRequestedAt } ?? .now
        return start + configuration.gracePeriod + configuration.lease
    }

    // MARK: - Fetch loop

    /// How long a busy worker waits for half its slots to come free before it fetches for fewer
    /// (``JobSlots/waitForFreeSlots(batch:linger:)``).
    static let fetchLinger = Duration.milliseconds(2)

    private func fetchAndRun() async {
        // Discarding: a finished job's task is freed at once (a plain task group keeps every child's result
        // until it is awaited, which grew a busy worker's memory by kilobytes per job).
        await withDiscardingTaskGroup { jobs in
            var schedule = FetchSchedule<ContinuousClock.Instant>(queues: configuration.queues)
            while !isStopping {
                await slots.waitForFreeSlots(batch: max(1, configuration.concurrency / 2), linger: Self.fetchLinger)
                let free = slots.take(upTo: configuration.concurrency)
                guard free > 0, !isStopping else {
                    slots.put(free)
                    continue
                }
                let fetched = await fetch(upTo: free, schedule: &schedule)
                // A replayed fetch returns what the first call leased, which may be more than is free now.
                let runnable = Array(fetched.prefix(free))
                fetched.dropFirst(free).forEach { outcomes.handBack($0.lease) }
                slots.put(free - runnable.count)
                if isStopping {
                    // Fetched while shutdown began: hand back at once, they have not started.
                    runnable.forEach { outcomes.handBack($0.lease) }
                    slots.put(runnable.count)
                    break
                }
                for unit in unitsOfWork(runnable) {
                    state.withLock { state in
                        for job in unit { state.running.insert(job.lease) }
                    }
                    jobs.addTask { await self.execute(unit) }
                }
                if runnable.isEmpty { await waitForJobs(schedule) }
            }
            await handBackUnansweredFetches(schedule)
            await drain(jobs: &jobs)
        }
    }

    /// Fills up to `count` slots from the queues the schedule offers; a queue whose fetch fails is backed off
    /// and reported, and the jobs the other queues gave are kept.
    private func fetch(upTo count: Int, schedule: inout FetchSchedule<ContinuousClock.Instant>) async -> [LeasedJob] {
        var fetched: [LeasedJob] = []
        for (name, token) in schedule.round(at: .now) where fetched.count < count && !isStopping {
            let limit = count - fetched.count
            do {
                let got = try await interruptible { [queue, configuration, id] in
                    try await queue.fetchJobs(queue: name, limit: limit, lease: configuration.lease, worker: id, token: token)
                }
                fetched += got.jobs
                if let wait = got.rateLimitedFor { schedule.postpone(name, by: wait, at: .now) } else { schedule.succeeded(name) }
            } catch {
                let (failures, backoff) = schedule.failed(name, at: .now)
                metrics.fetchFailed(queue: name)
                logger.error("Fetching jobs failed; this queue is skipped for a while, the others go on", metadata: [
                    "queue": "\(name)", "error": "\(error)", "failures_in_a_row": "\(failures)", "retry_in": "\(backoff)",
                ])
            }
        }
        return fetched
    }

    /// Waits for a ready signal on the queues not backing off, at most until the next backed-off queue may be
    /// tried again.
    private func waitForJobs(_ schedule: FetchSchedule<ContinuousClock.Instant>) async {
        let now = ContinuousClock.now
        var wait = configuration.idleWait
        if let retry = schedule.nextRetry(after: now) { wait = max(.milliseconds(10), min(wait, retry - now)) }
        let queues = schedule.available(at: now)
        do {
            guard !queues.isEmpty else { throw CancellationError() }
            _ = try await interruptible { [queue, wait] in try await queue.waitForJobs(queues: queues, timeout: wait) }
        } catch {
            if !(error is CancellationError) && !isStopping {
                logger.error("Waiting for jobs failed; retrying", metadata: ["error": "\(error)"])
            }
            guard !isStopping else { return }
            try? await Task.sleep(for: queues.isEmpty ? wait : .seconds(1))
        }
    }

    /// Runs one Redis call of the fetch loop so that ``stop()`` can abandon it: a server that does not answer
    /// must not hold up shutdown.
    private func interruptible<T: Sendable>(_ call: @escaping @Sendable () async throws -> T) async throws -> T {
        let task = Task { () -> Result<T, any Error> in
            do { return .success(try await call()) } catch { return .failure(error) }
        }
        let stopped = state.withLock { state in
            if !state.stopping { state.inFlight = { task.cancel() } }
            return state.stopping
        }
        if stopped { task.cancel() }
        let outcome = await task.value
        state.withLock { $0.inFlight = nil }
        return try outcome.get()
    }

    /// At shutdown: a fetch that failed without an answer may have leased jobs; its replay returns them, and
    /// they are handed back (else they would wait for their lease to expire, and lose an attempt).
    private func handBackUnansweredFetches(_ schedule: FetchSchedule<ContinuousClock.Instant>) async {
        for (name, queueState) in schedule.states where queueState.failures > 0 {
            let replay = await race(max(.milliseconds(100), shutdownDeadline - .now)) { [queue, configuration, id] in
                try? await queue.fetch(queue: name, limit: configuration.concurrency, lease: configuration.lease, worker: id, token: queueState.token)
            }
            if case .finished(let jobs?) = replay { jobs.forEach { outcomes.handBack($0.lease) } }
        }
    }

    /// After shutdown began: waits for running jobs until the grace period (counted from the stop request)
    /// is over, then cancels the rest, whose leases are handed back.
    private func drain(jobs: inout DiscardingTaskGroup) async {
        let deadline = (state.withLock { $0.stopRequestedAt } ?? .now) + configuration.gracePeriod
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

    /// Records that a delivery ended; returns whether the worker is handing running jobs back.
    func finished(_ lease: JobLease, failed: Bool) -> Bool {
        let handingBack = state.withLock { state in
            state.running.remove(lease)
            if failed { state.failed += 1 } else { state.processed += 1 }
            return state.handingBack
        }
        slots.put()
        return handingBack
    }

    var isHandingBack: Bool { state.withLock { $0.handingBack } }

    /// Makes the running delivery `lease` cancellable through the lease extension (``cancelRunning(_:)``)
    /// until ``forgetCancellation(_:)``.
    func cancellable(_ lease: JobLease) -> RaceCancellation {
        let cancellation = RaceCancellation()
        state.withLock { $0.cancellations[lease] = cancellation }
        return cancellation
    }

    func forgetCancellation(_ lease: JobLease) {
        _ = state.withLock { $0.cancellations.removeValue(forKey: lease) }
    }

    /// The lease extension found that the cancellation of the job running under `lease` was asked: its
    /// handler is cancelled (a job of a batch type finishes its batch, then ends cancelled unless it completed).
    private func cancelRunning(_ lease: JobLease) {
        guard let cancellation = state.withLock({ $0.cancellations[lease] }), !cancellation.isCancelled else { return }
        logger.info("Cancelling a running job at its cancellation's request", metadata: ["job.id": "\(lease.id)", "job.queue": "\(lease.queue)"])
        cancellation.cancel()
    }

    // MARK: - Heartbeat and maintenance

    private func every(_ interval: Duration, _ body: () async -> Void) async {
        while !Task.isCancelled {
            await body()
            try? await Task.sleep(for: interval)
        }
    }

    /// Registers the worker and extends the leases of its running jobs, cancelling those whose cancellation
    /// was asked.
    private func heartbeat() async {
        let (running, processed, failed) = state.withLock { (Array($0.running), $0.processed, $0.failed) }
        let info = WorkerInfo(
            id: id, type: configuration.name, queues: configuration.queues,
            host: ProcessInfo.processInfo.hostName, pid: Int(getpid()), version: PhoenixVersion.current,
            concurrency: configuration.concurrency, busy: running.count, processed: processed, failed: failed, startedAt: startedAt
        )
        do {
            try await queue.heartbeat(info, staleAfter: configuration.staleAfter)
            metrics.heartbeat()
            guard !running.isEmpty else { return }
            let renewals = try await queue.extendLeases(running, by: configuration.lease)
            for (lease, renewal) in zip(running, renewals) {
                switch renewal {
                case .extended: break
                case .cancelRequested: cancelRunning(lease)
                case .lost: logger.warning("Lease lost while running; the job may run twice", metadata: ["job.id": "\(lease.id)"])
                }
            }
        } catch {
            logger.error("Heartbeat failed", metadata: ["error": "\(error)"])
        }
    }

    /// Promotes due jobs, reaps expired leases and fires periodic jobs, for this worker's queues.
    private func maintain() async {
        do {
            try await QueueMaintainer.maintain(configuration.queues, of: queue, logger: logger)
            try await firePeriodicJobs()
        } catch {
            logger.error("Queue maintenance failed", metadata: ["error": "\(error)"])
        }
    }

    /// Enqueues each periodic job once per period. A period counts as done only once its enqueue answered,
    /// so a Redis error is retried at the next maintenance round instead of skipping the period.
    func firePeriodicJobs(at now: Date = Date()) async throws {
        for periodic in periodicJobs {
            let period = periodic.period(at: now)
            guard state.withLock({ $0.lastPeriods[periodic.name] != period }) else { continue }
            var job = try periodic.makeJob()
            job.idempotencyKey = "periodic:\(periodic.name):\(period)"
            job.enqueuedBy = Enqueuer.scheduler
            let created = try await queue.enqueue(job).created
            state.withLock { $0.lastPeriods[periodic.name] = period }
            if created {
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
