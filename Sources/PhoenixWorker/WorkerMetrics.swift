import Foundation
import CoreMetrics
import Synchronization
import PhoenixQueue
import PhoenixJobsCore

/// The worker's metrics (swift-metrics; `phoenix serve` and `phoenix work --metrics-port` export them in
/// the Prometheus format): attempts finished by queue and outcome, jobs in progress, attempt duration by
/// queue and type, wait from due time to start, and the last heartbeat. Names are listed in
/// docs/ARCHITECTURE.md. Metric objects are made once per label set and kept, since a busy worker records
/// thousands of jobs a second: one look-up by queue, then by outcome or type.
final class WorkerMetrics: Sendable {
    private let factory: any MetricsFactory
    private let workerType: String
    private let queues = Mutex<[String: QueueMetrics]>([:])

    /// The metric objects of one queue. Outcome counters and per-type timers are made on first use.
    private final class QueueMetrics: Sendable {
        let wait: CoreMetrics.Timer
        let inProgress: Meter
        let fetchFailures: Counter
        private let queue: String
        private let factory: any MetricsFactory
        private let outcomes = Mutex<[String: Counter]>([:])
        private let durations = Mutex<[String: CoreMetrics.Timer]>([:])

        init(queue: String, factory: any MetricsFactory) {
            self.queue = queue
            self.factory = factory
            wait = CoreMetrics.Timer(label: "phoenix_job_wait_seconds", dimensions: [("queue", queue)], factory: factory)
            inProgress = Meter(label: "phoenix_jobs_in_progress", dimensions: [("queue", queue)], factory: factory)
            fetchFailures = Counter(label: "phoenix_fetch_failures_total", dimensions: [("queue", queue)], factory: factory)
        }

        func completed(outcome: String) -> Counter {
            cached(outcomes, outcome) {
                Counter(label: "phoenix_jobs_completed_total", dimensions: [("queue", queue), ("outcome", outcome)], factory: factory)
            }
        }

        func duration(type: String) -> CoreMetrics.Timer {
            cached(durations, type) {
                CoreMetrics.Timer(label: "phoenix_job_duration_seconds", dimensions: [("queue", queue), ("type", type)], factory: factory)
            }
        }
    }

    init(factory: any MetricsFactory, workerType: String) {
        self.factory = factory
        self.workerType = workerType
    }

    /// A job started: its wait since it was due, and one more in progress.
    func started(_ job: LeasedJob, at now: Date = Date()) {
        let due = job.envelope.runAt ?? job.envelope.enqueuedAt
        let metrics = of(job.envelope.queue)
        metrics.wait.recordNanoseconds(Int64(max(0, now.timeIntervalSince(due)) * 1e9))
        metrics.inProgress.increment()
    }

    /// A job's attempt ended with `outcome` (`completed`, `retry`, `dead`, `timeout`, `handed_back`, `retry_later`, `cancelled`).
    func finished(_ job: LeasedJob, outcome: String, duration: Duration) {
        let metrics = of(job.envelope.queue)
        metrics.inProgress.decrement()
        metrics.completed(outcome: outcome).increment()
        metrics.duration(type: job.envelope.type)
            .recordNanoseconds(duration.components.seconds * 1_000_000_000 + duration.components.attoseconds / 1_000_000_000)
    }

    /// A fetch from `queue` failed (the queue is backed off).
    func fetchFailed(queue: String) {
        of(queue).fetchFailures.increment()
    }

    /// A heartbeat went out.
    func heartbeat(at now: Date = Date()) {
        Gauge(label: "phoenix_worker_last_heartbeat_timestamp_seconds", dimensions: [("worker_type", workerType)], factory: factory)
            .record(now.timeIntervalSince1970)
    }

    private func of(_ queue: String) -> QueueMetrics {
        cached(queues, queue) { QueueMetrics(queue: queue, factory: factory) }
    }
}

/// The metric kept under `key` in `cache`, made by `make` the first time.
private func cached<Metric>(_ cache: borrowing Mutex<[String: Metric]>, _ key: String, make: () -> Metric) -> Metric {
    cache.withLock { metrics in
        if let metric = metrics[key] { return metric }
        let metric = make()
        metrics[key] = metric
        return metric
    }
}
