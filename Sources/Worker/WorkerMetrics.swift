import Foundation
public import CoreMetrics
import Queue
import Synchronization

/// The worker's metrics (swift-metrics; `phoenix serve` and `phoenix work --metrics-port` export them in
/// the Prometheus format): attempts finished by queue and outcome, jobs in progress, attempt duration by
/// queue and type, wait from due time to start, and the last heartbeat. Names are listed in
/// docs/ARCHITECTURE.md. Metric objects are made once per label set and kept, since a busy worker records
/// thousands of jobs a second.
final class WorkerMetrics: Sendable {
    private let factory: any MetricsFactory
    private let workerType: String
    private let counters = Mutex<[String: Counter]>([:])
    private let timers = Mutex<[String: CoreMetrics.Timer]>([:])
    private let meters = Mutex<[String: Meter]>([:])

    init(factory: any MetricsFactory, workerType: String) {
        self.factory = factory
        self.workerType = workerType
    }

    /// A job started: its wait since it was due, and one more in progress.
    func started(_ job: LeasedJob, at now: Date = Date()) {
        let due = job.envelope.runAt ?? job.envelope.enqueuedAt
        timer("phoenix_job_wait_seconds", [("queue", job.envelope.queue)]).recordNanoseconds(Int64(max(0, now.timeIntervalSince(due)) * 1e9))
        meter("phoenix_jobs_in_progress", [("queue", job.envelope.queue)]).increment()
    }

    /// A job's attempt ended with `outcome` (`completed`, `retry`, `dead`, `timeout`, `handed_back`).
    func finished(_ job: LeasedJob, outcome: String, duration: Duration) {
        let queue = job.envelope.queue
        meter("phoenix_jobs_in_progress", [("queue", queue)]).decrement()
        counter("phoenix_jobs_completed_total", [("queue", queue), ("outcome", outcome)]).increment()
        timer("phoenix_job_duration_seconds", [("queue", queue), ("type", job.envelope.type)])
            .recordNanoseconds(duration.components.seconds * 1_000_000_000 + duration.components.attoseconds / 1_000_000_000)
    }

    /// A heartbeat went out.
    func heartbeat(at now: Date = Date()) {
        Gauge(label: "phoenix_worker_last_heartbeat_timestamp_seconds", dimensions: [("worker_type", workerType)], factory: factory)
            .record(now.timeIntervalSince1970)
    }

    private func counter(_ label: String, _ dimensions: [(String, String)]) -> Counter {
        cached(counters, label, dimensions) { Counter(label: label, dimensions: dimensions, factory: factory) }
    }

    private func timer(_ label: String, _ dimensions: [(String, String)]) -> CoreMetrics.Timer {
        cached(timers, label, dimensions) { CoreMetrics.Timer(label: label, dimensions: dimensions, factory: factory) }
    }

    private func meter(_ label: String, _ dimensions: [(String, String)]) -> Meter {
        cached(meters, label, dimensions) { Meter(label: label, dimensions: dimensions, factory: factory) }
    }

    private func cached<Metric>(_ cache: borrowing Mutex<[String: Metric]>, _ label: String, _ dimensions: [(String, String)], make: () -> Metric) -> Metric {
        let key = dimensions.reduce(label) { $0 + "|" + $1.0 + "=" + $1.1 }
        return cache.withLock { metrics in
            if let metric = metrics[key] { return metric }
            let metric = make()
            metrics[key] = metric
            return metric
        }
    }
}
