public import CoreMetrics
public import PhoenixQueue
import PhoenixJobsCore

/// Enqueues the jobs the API accepts and counts them: `phoenix_jobs_enqueued_total{queue}` grows by the
/// jobs actually added (not those an idempotency key found already there).
public struct JobSubmitter: Sendable {
    let queue: JobQueue
    let factory: any MetricsFactory

    public init(queue: JobQueue, metricsFactory: any MetricsFactory) {
        self.queue = queue
        self.factory = metricsFactory
    }

    func enqueue(_ job: JobEnvelope) async throws -> EnqueueResult {
        try await enqueue([job])[0]
    }

    func enqueue(_ jobs: [JobEnvelope]) async throws -> [EnqueueResult] {
        let results = try await queue.enqueue(jobs)
        var added: [String: Int] = [:]
        for (job, result) in zip(jobs, results) where result.created { added[job.queue, default: 0] += 1 }
        for (name, count) in added {
            Counter(label: "phoenix_jobs_enqueued_total", dimensions: [("queue", name)], factory: factory).increment(by: count)
        }
        return results
    }
}
