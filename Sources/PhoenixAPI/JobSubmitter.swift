public import CoreMetrics
public import PhoenixQueue
import PhoenixJobsCore

/// Enqueues the jobs the API accepts and counts them: `phoenix_jobs_enqueued_total{queue}` grows by the
/// jobs actually added (not those an idempotency key found already there). Single jobs that requests submit
/// at the same moment share script calls (``EnqueueCoalescer``).
public struct JobSubmitter: Sendable {
    let queue: JobQueue
    let coalescer: EnqueueCoalescer
    let factory: any MetricsFactory

    public init(queue: JobQueue, metricsFactory: any MetricsFactory) {
        self.queue = queue
        self.coalescer = EnqueueCoalescer(queue: queue)
        self.factory = metricsFactory
    }

    func enqueue(_ job: JobEnvelope) async throws -> EnqueueResult {
        let result = try await coalescer.enqueue(job)
        count([job], results: [result])
        return result
    }

    func enqueue(_ jobs: [JobEnvelope]) async throws -> [EnqueueResult] {
        let results = try await queue.enqueue(jobs)
        count(jobs, results: results)
        return results
    }

    private func count(_ jobs: [JobEnvelope], results: [EnqueueResult]) {
        var added: [String: Int] = [:]
        for (job, result) in zip(jobs, results) where result.created { added[job.queue, default: 0] += 1 }
        for (name, count) in added {
            Counter(label: "phoenix_jobs_enqueued_total", dimensions: [("queue", name)], factory: factory).increment(by: count)
        }
    }
}
