public import PhoenixJobsCore
import PhoenixRedis
import Synchronization

/// Enqueues jobs that callers submit one at a time, gathering those that arrive together into one script call
/// per partition: while a call for a partition is out, the jobs that come for it wait, and the next call takes
/// them all (up to the script's batch size). A caller alone goes out at once; under load the script's fixed
/// costs (type checks, the clock, the counters, waking workers, a round trip) are paid once per batch, not
/// once per job. The API's single-job submissions go through one.
///
/// Each caller gets what enqueueing its job alone would have given. A batch that Redis refuses as a whole is
/// sent again job by job, so that one bad job (an idempotency key another program overwrote) fails only its
/// own caller; a lost connection or a missing replica acknowledgement fails every caller of the batch, as it
/// would each of them alone (each may send again with its idempotency key), and so does the cancellation of
/// the caller whose task sends the batch (the server may have run it, as for any cancelled call). A waiting
/// caller is not released by cancellation: it waits for the call in flight, which the Redis command timeout
/// bounds, and then, if its turn has come, sends nothing and passes the turn on.
public final class EnqueueCoalescer: Sendable {
    public let queue: JobQueue

    /// What a waiting caller is resumed with: its job's result, or the turn to send the next batch.
    private enum Turn: Sendable {
        case done(Result<EnqueueResult, QueueError>)
        case lead
    }

    private struct Waiter {
        let job: JobEnvelope
        let continuation: CheckedContinuation<Turn, Never>
    }

    /// One partition's state: whether a call is out for it, and the callers waiting for the next.
    private struct Lane {
        var busy = false
        var waiting: [Waiter] = []
    }

    /// Guards the lanes, one per partition enqueued to so far.
    private let lanes = Mutex<[QueuePartition: Lane]>([:])

    public init(queue: JobQueue) {
        self.queue = queue
    }

    /// Enqueues `job`, in a batch with the jobs of other callers that arrive meanwhile.
    public func enqueue(_ job: JobEnvelope) async throws(QueueError) -> EnqueueResult {
        do { try job.validate() } catch { throw .invalidJob(id: error.id, reason: error.reason) }
        let partition = queue.partition(of: job)
        let turn = await withCheckedContinuation { continuation in
            let leads = lanes.withLock { lanes in
                if lanes[partition, default: Lane()].busy {
                    lanes[partition, default: Lane()].waiting.append(Waiter(job: job, continuation: continuation))
                    return false
                }
                lanes[partition, default: Lane()].busy = true
                return true
            }
            if leads { continuation.resume(returning: .lead) }
        }
        switch turn {
        case .done(let result): return try result.get()
        case .lead: return try await lead(partition, own: job).get()
        }
    }

    /// How many callers wait for the next call of `queue`'s partitions.
    func waiting(in queue: String) -> Int {
        lanes.withLock { lanes in lanes.filter { $0.key.queue == queue }.values.reduce(0) { $0 + $1.waiting.count } }
    }

    /// Sends `own` with the jobs waiting for `partition`, hands each waiting caller its result, then gives the
    /// next turn to the first caller that came meanwhile (or marks the lane idle). A caller cancelled while it
    /// waited for its turn sends nothing: its job fails as cancelled and the turn goes on to the next.
    private func lead(_ partition: QueuePartition, own: JobEnvelope) async -> Result<EnqueueResult, QueueError> {
        if Task.isCancelled {
            handOver(partition)
            return .failure(.redis(.cancelled))
        }
        let others = lanes.withLock { lanes in
            let taken = Array(lanes[partition, default: Lane()].waiting.prefix(JobQueue.enqueueCallSize - 1))
            lanes[partition, default: Lane()].waiting.removeFirst(taken.count)
            return taken
        }
        let results = await send([own] + others.map(\.job))
        for (waiter, result) in zip(others, results.dropFirst()) { waiter.continuation.resume(returning: .done(result)) }
        handOver(partition)
        return results[0]
    }

    /// Gives the next turn of `partition` to the first caller waiting, or marks the lane idle.
    private func handOver(_ partition: QueuePartition) {
        let next = lanes.withLock { lanes -> Waiter? in
            guard !lanes[partition, default: Lane()].waiting.isEmpty else {
                lanes[partition] = nil
                return nil
            }
            return lanes[partition, default: Lane()].waiting.removeFirst()
        }
        next?.continuation.resume(returning: .lead)
    }

    /// One result per job: from one script call, or, when Redis refused the batch as a whole, from one call each.
    private func send(_ jobs: [JobEnvelope]) async -> [Result<EnqueueResult, QueueError>] {
        do {
            return try await queue.enqueue(jobs).map { .success($0) }
        } catch {
            guard jobs.count > 1, case .redis(.server) = error else { return Array(repeating: .failure(error), count: jobs.count) }
            var results: [Result<EnqueueResult, QueueError>] = []
            for job in jobs {
                do { results.append(.success(try await queue.enqueue(job))) } catch { results.append(.failure(error)) }
            }
            return results
        }
    }
}
