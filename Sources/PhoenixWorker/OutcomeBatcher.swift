import Logging
import Synchronization
import PhoenixQueue

/// Collects what finished jobs need Redis to record (acks, failures, hand-backs, a provider's hold on a queue)
/// and records them in batches: one script call per kind and queue for everything that finished since the
/// last flush.
///
/// A batch that fails is sent again whole: every script acts only for the delivery named by each lease, so a
/// part that was recorded already changes nothing the second time (a hold sent again ends at most the
/// retry's delay later).
final class OutcomeBatcher: Sendable {
    private struct Pending {
        var acks: [JobLease] = []
        var failures: [FailedAttempt] = []
        /// Hand-backs by delay (zero: ready at once).
        var releases: [Duration: [JobLease]] = [:]
        /// Queues a provider asked to wait, with the longest wait asked.
        var holds: [String: Duration] = [:]
        var isEmpty: Bool { acks.isEmpty && failures.isEmpty && releases.isEmpty && holds.isEmpty }
        var count: Int { acks.count + failures.count + releases.values.reduce(0) { $0 + $1.count } }
    }

    private let queue: JobQueue
    private let logger: Logger
    /// Guards what finished since the last flush.
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

    /// Hands a job back unstarted, ready at once or after `delay`.
    func handBack(_ lease: JobLease, after delay: Duration = .zero) {
        pending.withLock { $0.releases[delay, default: []].append(lease) }
        wake.yield()
    }

    /// Holds every job of `queue` back for `duration` (``JobQueue/holdBack(queue:for:)``), before the
    /// hand-backs of the same flush are recorded.
    func holdBack(queue: String, for duration: Duration) {
        pending.withLock { $0.holds[queue] = max($0.holds[queue] ?? .zero, duration) }
        wake.yield()
    }

    /// Ends ``run()`` once what is pending is recorded.
    func finish() {
        wake.finish()
    }

    /// Records outcomes as they come, until ``finish()``; when cancelled (the shutdown deadline passed), logs
    /// what it could not record.
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
                for (name, duration) in batch.holds { try await queue.holdBack(queue: name, for: duration) }
                if !batch.acks.isEmpty { try await queue.ack(batch.acks) }
                if !batch.failures.isEmpty { try await queue.fail(batch.failures) }
                for (after, leases) in batch.releases { try await queue.release(leases, after: after) }
                return
            } catch {
                guard !Task.isCancelled, ContinuousClock.now + delay < deadline else {
                    report(unrecorded: batch, error: error)
                    return
                }
                logger.warning("Recording job outcomes failed, retrying", metadata: ["error": "\(error)"])
                try? await Task.sleep(for: delay)
                delay = min(delay * 2, .seconds(2))
            }
        }
    }

    /// Says which jobs' outcomes could not be recorded: they stay leased until their lease expires, then run
    /// again (a completed one is then acknowledged without running, from the run ledger).
    private func report(unrecorded batch: Pending, error: any Error) {
        let ids = { (leases: [JobLease]) in leases.map(\.id).joined(separator: ",") }
        logger.error("Could not record job outcomes; these jobs stay leased until their lease expires, then run again", metadata: [
            "error": "\(error)", "jobs": "\(batch.count)", "not_acknowledged": "\(ids(batch.acks))",
            "not_failed": "\(ids(batch.failures.map(\.lease)))", "not_handed_back": "\(ids(batch.releases.values.flatMap { $0 }))",
        ])
    }
}
