import Logging
import Queue

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

    /// Runs one unit of work under its type's timeout and records each job's outcome.
    func execute(_ unit: [LeasedJob]) async {
        guard let first = unit.first else { return }
        guard let entry = registry.entry(first.envelope.type) else {
            for job in unit {
                let context = self.context(for: job)
                _ = finished(job.lease, failed: true)
                context.logger.error("No handler for this job type")
                outcomes.failed(FailedAttempt(lease: job.lease, error: "no handler for job type '\(job.envelope.type)' in worker type \(configuration.types.map(\.rawValue).joined(separator: ","))", retryAfter: nil))
            }
            return
        }
        let contexts = unit.map(context(for:))
        for job in unit { metrics.started(job) }
        let started = ContinuousClock.now
        let results: [AttemptResult]
        if let runBatch = entry.runBatch {
            let items = zip(unit, contexts).map { ($0.envelope.payload, $1) }
            switch await race(entry.timeout, { await runBatch(items) }) {
            case .finished(let errors): results = errors.map { $0.map(AttemptResult.failed) ?? .completed }
            case .timedOut: results = unit.map { _ in .timedOut }
            case .cancelled: results = unit.map { _ in .failed(CancellationError()) }
            }
        } else {
            let context = contexts[0]
            switch await race(entry.timeout, { () async -> AttemptResult in
                do {
                    try await entry.run(first.envelope.payload, context)
                    return .completed
                } catch {
                    return .failed(error)
                }
            }) {
            case .finished(let result): results = [result]
            case .timedOut: results = [.timedOut]
            case .cancelled: results = [.failed(CancellationError())]
            }
        }
        let duration = ContinuousClock.now - started
        for (index, job) in unit.enumerated() {
            record(index < results.count ? results[index] : .failed(CancellationError()), of: job, entry: entry, context: contexts[index], duration: duration)
        }
    }

    private func context(for job: LeasedJob) -> JobContext {
        JobContext(job: job, queue: queue, workerID: id, logger: logger)
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
