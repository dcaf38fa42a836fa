import Logging
import Queue

extension Worker {
    /// How one attempt ended.
    enum AttemptResult: Sendable {
        case completed
        case failed(any Error)
        case timedOut
    }

    /// Runs one job under its type's timeout and reports the outcome.
    func execute(_ job: LeasedJob) async {
        let envelope = job.envelope
        let context = JobContext(job: job, queue: queue, logger: logger)
        guard let entry = registry.entry(envelope.type) else {
            _ = finished(job.lease, failed: true)
            context.logger.error("No handler for this job type")
            outcomes.failed(FailedAttempt(lease: job.lease, error: "no handler for job type '\(envelope.type)' in worker type \(configuration.types.map(\.rawValue).joined(separator: ","))", retryAfter: nil))
            return
        }
        let started = ContinuousClock.now
        let result = await attempt(entry, envelope.payload, context)
        let duration = ContinuousClock.now - started
        var metadata: Logger.Metadata = ["duration_ms": "\(duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000)"]
        switch result {
        case .completed:
            _ = finished(job.lease, failed: false)
            outcomes.completed(job.lease)
            context.logger.debug("Job completed", metadata: metadata)
        case .timedOut:
            _ = finished(job.lease, failed: true)
            let failure = FailedAttempt(job: job, error: "timed out after \(entry.timeout)", policy: entry.retryPolicy)
            outcomes.failed(failure)
            context.logger.warning("Job timed out", metadata: metadata)
        case .failed(let error):
            let handingBack = finished(job.lease, failed: !(error is CancellationError))
            if error is CancellationError && handingBack {
                outcomes.handBack(job.lease)
                context.logger.info("Job handed back at shutdown", metadata: metadata)
                return
            }
            let permanent = error is PermanentFailure
            let failure = FailedAttempt(job: job, error: "\(error)", permanent: permanent, policy: entry.retryPolicy)
            outcomes.failed(failure)
            metadata["error"] = "\(error)"
            metadata["outcome"] = "\(failure.retryAfter == nil ? "dead" : "retry")"
            context.logger.warning("Job failed", metadata: metadata)
        }
    }

    /// Races the handler against its timeout; the loser is cancelled.
    private func attempt(_ entry: JobRegistry.Entry, _ payload: JSONValue, _ context: JobContext) async -> AttemptResult {
        await withTaskGroup(of: AttemptResult?.self) { group in
            group.addTask {
                do {
                    try await entry.run(payload, context)
                    return .completed
                } catch {
                    return .failed(error)
                }
            }
            group.addTask {
                do {
                    try await Task.sleep(for: entry.timeout)
                    return .timedOut
                } catch {
                    return nil  // cancelled: the handler ended first, or the worker is handing jobs back
                }
            }
            var outcome: AttemptResult?
            while outcome == nil, let next = await group.next() {
                outcome = next
            }
            group.cancelAll()
            return outcome ?? .failed(CancellationError())
        }
    }
}
