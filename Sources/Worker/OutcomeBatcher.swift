import Logging
import Queue
import Synchronization

/// Collects what finished jobs need Redis to record (acks, failures, hand-backs) and records them in
/// batches: one script call per kind and queue for everything that finished since the last flush.
final class OutcomeBatcher: Sendable {
    private struct Pending {
        var acks: [JobLease] = []
        var failures: [FailedAttempt] = []
        var releases: [JobLease] = []
        var isEmpty: Bool { acks.isEmpty && failures.isEmpty && releases.isEmpty }
    }

    private let queue: JobQueue
    private let logger: Logger
    private let pending = Mutex(Pending())
    private let wakeups: AsyncStream<Void>
    private let wake: AsyncStream<Void>.Continuation
    /// How long outcomes are kept trying while Redis is unreachable; after that the lease expiry re-runs the job.
    private let giveUpAfter: Duration

    init(queue: JobQueue, giveUpAfter: Duration, logger: Logger) {
        self.queue = queue
        self.logger = logger
        self.giveUpAfter = giveUpAfter
        (wakeups, wake) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(1))
    }

    func completed(_ lease: JobLease) {
        pending.withLock { $0.acks.append(lease) }
        wake.yield()
    }

    func failed(_ attempt: FailedAttempt) {
        pending.withLock { $0.failures.append(attempt) }
        wake.yield()
    }

    func handBack(_ lease: JobLease) {
        pending.withLock { $0.releases.append(lease) }
        wake.yield()
    }

    /// Ends ``run()`` once what is pending is recorded.
    func finish() {
        wake.finish()
    }

    /// Records outcomes as they come, until ``finish()``.
    func run() async {
        for await _ in wakeups {
            await flush()
        }
        await flush()
    }

    private func flush() async {
        let batch = pending.withLock { state in
            defer { state = Pending() }
            return state
        }
        guard !batch.isEmpty else { return }
        let deadline = ContinuousClock.now + giveUpAfter
        var delay = Duration.milliseconds(100)
        while true {
            do {
                if !batch.acks.isEmpty { try await queue.ack(batch.acks) }
                if !batch.failures.isEmpty { try await queue.fail(batch.failures) }
                if !batch.releases.isEmpty { try await queue.release(batch.releases) }
                return
            } catch {
                // Every script is replay-safe, so recording the whole batch again is correct.
                guard ContinuousClock.now + delay < deadline else {
                    logger.error("Could not record job outcomes; their leases will expire and the jobs run again", metadata: ["error": "\(error)", "jobs": "\(batch.acks.count + batch.failures.count + batch.releases.count)"])
                    return
                }
                logger.warning("Recording job outcomes failed, retrying", metadata: ["error": "\(error)"])
                try? await Task.sleep(for: delay)
                delay = min(delay * 2, .seconds(2))
            }
        }
    }
}
