import Foundation
import Logging
import PhoenixJobsCore
import PhoenixQueue

extension Worker {
    /// How one attempt ended.
    enum AttemptResult: Sendable {
        case completed
        case failed(any Error)
        case timedOut
    }

    /// Splits fetched jobs into units of work: jobs of a batch job type together (up to its batch size),
    /// every other job alone.
    func unitsOfWork(_ jobs: [LeasedJob]) -> [[LeasedJob]] {
        var units: [[LeasedJob]] = []
        var batches: [String: [LeasedJob]] = [:]
        for job in jobs {
            if let entry = registry.entry(job.envelope.type), entry.runBatch != nil {
                batches[entry.name, default: []].append(job)
            } else {
                units.append([job])
            }
        }
        for (name, group) in batches {
            let size = registry.entry(name)?.maxBatchSize ?? 1
            units += stride(from: 0, to: group.count, by: size).map { Array(group[$0..<min($0 + size, group.count)]) }
        }
        return units
    }

    /// Runs one unit of work under its type's timeout and records each job's outcome. Redelivered jobs are
    /// first looked up in the run ledger: one an earlier delivery completed is acknowledged without running.
    func execute(_ unit: [LeasedJob]) async {
        guard let entry = unit.first.flatMap({ registry.entry($0.envelope.type) }) else {
            unit.forEach(deferUnknownType)
            return
        }
        let unit = await leavingOutCompletedRuns(unit)
        guard !unit.isEmpty else { return }
        let contexts = unit.map(context(for:))
        for job in unit { metrics.started(job) }
        let started = ContinuousClock.now
        let results: [AttemptResult]
        let first = unit[0]
        if let runBatch = entry.runBatch {
            let items = zip(unit, contexts).map { ($0.envelope.payload, $1) }
            switch await race(entry.timeout, { await runBatch(items) }) {
            case .finished(let errors): results = errors.map { $0.map(AttemptResult.failed) ?? .completed }
            case .timedOut: results = unit.map { _ in .timedOut }
            case .cancelled: results = unit.map { _ in .failed(CancellationError()) }
            }
        } else {
            let context = contexts[0]
            let cancellation = cancellable(first.lease)
            defer { forgetCancellation(first.lease) }
            switch await race(entry.timeout, cancellation: cancellation, { () async -> AttemptResult in
                do {
                    try await entry.run(first.envelope.payload, context)
                    return .completed
                } catch {
                    return .failed(error)
                }
            }) {
            case .finished(let result): results = [result]
            case .timedOut: results = [.timedOut]
            case .cancelled where cancellation.isCancelled:
                await finishCancelled(first, context: context, cancellation: cancellation, duration: ContinuousClock.now - started)
                return
            case .cancelled: results = [.failed(CancellationError())]
            }
        }
        let duration = ContinuousClock.now - started
        for (index, job) in unit.enumerated() {
            record(index < results.count ? results[index] : .failed(CancellationError()), of: job, entry: entry, context: contexts[index], duration: duration)
        }
    }

    /// Ends a job whose handler was cancelled at its cancellation's request. Once the handler stopped (or 10 s
    /// passed), a run it committed meanwhile is acknowledged as completed, since its results and quota stand;
    /// otherwise its run row says cancelled and the queue ends it cancelled (no retry, no attempt counted as
    /// failed).
    private func finishCancelled(_ job: LeasedJob, context: JobContext, cancellation: RaceCancellation, duration: Duration) async {
        if !(await cancellation.workEnded(within: .seconds(10))) {
            context.logger.warning("The cancelled handler did not stop within 10 s; the job ends cancelled all the same")
        }
        if let runLedger {
            do {
                if try await runLedger.completedRuns(among: [job.envelope.id]).contains(job.envelope.id) {
                    _ = finished(job.lease, failed: false)
                    outcomes.completed(job.lease)
                    metrics.finished(job, outcome: "completed", duration: duration)
                    log(.info, "Job completed before its cancellation took effect", context, duration)
                    return
                }
                let user = queue.fairnessKey(of: job.envelope).flatMap { UUID(uuidString: $0) }
                try await runLedger.recordCancelled(job.envelope, attempt: job.envelope.attempt, worker: id, userID: user)
            } catch {
                context.logger.warning("Could not record the cancelled run", metadata: ["error": "\(error)"])
            }
        }
        _ = finished(job.lease, failed: false)
        outcomes.failed(FailedAttempt(lease: job.lease, error: "cancelled while running", retryAfter: nil))
        metrics.finished(job, outcome: "cancelled", duration: duration)
        log(.info, "Job cancelled while running", context, duration)
    }

    private func context(for job: LeasedJob) -> JobContext {
        JobContext(envelope: job.envelope, workerID: id, logger: logger, actions: LeasedJobActions(queue: queue, lease: job.lease))
    }

    /// The jobs of `unit` left to run: a redelivered job whose run the ledger records as completed is
    /// acknowledged now; when the ledger cannot be read, redelivered jobs fail this attempt (retried later)
    /// rather than risk running twice what may have completed.
    private func leavingOutCompletedRuns(_ unit: [LeasedJob]) async -> [LeasedJob] {
        guard let runLedger else { return unit }
        let redelivered = unit.filter(\.isRedelivery)
        guard !redelivered.isEmpty else { return unit }
        let completed: Set<UUID>
        do {
            completed = try await runLedger.completedRuns(among: redelivered.map(\.envelope.id))
        } catch {
            for job in redelivered {
                _ = finished(job.lease, failed: true)
                let policy = registry.entry(job.envelope.type)?.retryPolicy ?? RetryPolicy()
                outcomes.failed(FailedAttempt(job: job, error: "could not check whether an earlier delivery completed this job: \(error)", policy: policy))
                context(for: job).logger.warning("Run ledger unreadable; redelivered job not run", metadata: ["error": "\(error)"])
            }
            return unit.filter { !$0.isRedelivery }
        }
        for job in unit where completed.contains(job.envelope.id) {
            _ = finished(job.lease, failed: false)
            outcomes.completed(job.lease)
            context(for: job).logger.info("Job already completed by an earlier delivery; acknowledged without running it again")
        }
        return unit.filter { !completed.contains($0.envelope.id) }
    }

    /// A job of a type this worker does not know: handed back to wait for a worker that knows it (a rolling
    /// deploy), until it has waited `unknownTypeWait` since its enqueue; then it goes dead saying so.
    private func deferUnknownType(_ job: LeasedJob) {
        let waited = Duration.seconds(max(0, Date().timeIntervalSince(job.envelope.enqueuedAt)))
        let left = configuration.unknownTypeWait - waited
        // A hand-back is no failed attempt (as at shutdown); going dead is.
        _ = finished(job.lease, failed: left <= .zero)
        let logger = context(for: job).logger
        if left > .zero {
            let delay = min(left, .seconds(30))
            outcomes.handBack(job.lease, after: delay)
            logger.warning("No handler for this job type in this worker; handed back to wait for a worker that knows it", metadata: ["retry_in": "\(delay)"])
        } else {
            outcomes.failed(FailedAttempt(lease: job.lease, error: "no handler for job type '\(job.envelope.type)' in worker type \(configuration.name) after waiting \(configuration.unknownTypeWait) for a worker that knows it", retryAfter: nil))
            logger.error("No handler for this job type after the wait for a newer worker; moved to the dead set")
        }
    }

    /// Frees the job's slot and queues its ack, failure or hand-back.
    private func record(_ result: AttemptResult, of job: LeasedJob, entry: JobRegistry.Entry, context: JobContext, duration: Duration) {
        switch result {
        case .completed:
            _ = finished(job.lease, failed: false)
            outcomes.completed(job.lease)
            metrics.finished(job, outcome: "completed", duration: duration)
            log(.debug, "Job completed", context, duration)
        case .timedOut:
            _ = finished(job.lease, failed: true)
            outcomes.failed(FailedAttempt(job: job, error: "timed out after \(entry.timeout)", policy: entry.retryPolicy))
            metrics.finished(job, outcome: "timeout", duration: duration)
            log(.warning, "Job timed out", context, duration)
        case .failed(let wait as RetryLater) where job.delivery - job.envelope.attempt < RetryLater.maxDeliveriesWithoutAttempt:
            // Not the job's failure: it waits without spending an attempt, and its queue with it.
            _ = finished(job.lease, failed: false)
            if wait.holdsQueue { outcomes.holdBack(queue: job.lease.queue, for: wait.after) }
            outcomes.handBack(job.lease, after: wait.after)
            metrics.finished(job, outcome: "retry_later", duration: duration)
            log(.info, "Job told to wait; handed back without spending an attempt", context, duration, ["reason": "\(wait.reason)", "retry_in": "\(wait.after)"])
        case .failed(let error):
            let handingBack = finished(job.lease, failed: !(error is CancellationError))
            if error is CancellationError && handingBack {
                outcomes.handBack(job.lease)
                metrics.finished(job, outcome: "handed_back", duration: duration)
                log(.info, "Job handed back at shutdown", context, duration)
                return
            }
            let failure = FailedAttempt(job: job, error: "\(error)", permanent: error is PermanentFailure, policy: entry.retryPolicy)
            let outcome = failure.retryAfter == nil ? "dead" : "retry"
            outcomes.failed(failure)
            metrics.finished(job, outcome: outcome, duration: duration)
            log(.warning, "Job failed", context, duration, ["error": "\(error)", "outcome": "\(outcome)"])
        }
    }

    /// Logs how an attempt ended with the job's metadata, which is only built when `level` is logged (this
    /// runs for every job, and most outcomes are below the configured level).
    private func log(_ level: Logger.Level, _ message: Logger.Message, _ context: JobContext, _ duration: Duration, _ extra: Logger.Metadata = [:]) {
        logger.log(level: level, message, metadata: context.metadata.merging(extra) { $1 }.merging(["duration_ms": "\(duration.milliseconds)"]) { $1 })
    }
}
