import Foundation
import Prometheus
import Synchronization
import PhoenixQueue

/// The workers of each worker type, as the worker registry in Redis shows them, for `/metrics` of the API:
/// `phoenix_workers_live{worker_type}`, the workers whose last heartbeat is within the stale period, and
/// `phoenix_worker_heartbeat_age_seconds{worker_type}`, the seconds since the newest heartbeat of that type.
/// Workers that take no inbound traffic (Render's background workers) are watched this way without being
/// scraped. The registry forgets a silent worker after its stale period, so the newest heartbeat of each type
/// is also remembered here: its age keeps growing while no worker of the type beats (none is exported for a
/// type this process has never seen beat; its live count is 0).
public final class WorkerHeartbeatMetrics: Sendable {
    /// The newest heartbeat seen per worker type, by any scrape of this process.
    private let newestHeartbeats = Mutex<[String: Date]>([:])
    /// The platform's worker types, each exported even when none runs.
    let workerTypes: [String]
    /// A worker silent for longer is not live (`phoenix work --stale-after`'s default).
    let staleAfter: Duration

    /// Figures for `workerTypes`, the names workers register under (a worker of several registers them
    /// joined with commas).
    public init(workerTypes: [String], staleAfter: Duration = .seconds(30)) {
        self.workerTypes = workerTypes
        self.staleAfter = staleAfter
    }

    /// Per worker type: live workers and the newest heartbeat (nil: none ever seen).
    struct Figures: Equatable {
        var live: Int
        var newestHeartbeat: Date?
    }

    /// Reads the registry and sets the gauges of `registry`.
    func refresh(from queue: JobQueue, into registry: PrometheusCollectorRegistry) async throws(QueueError) {
        // A day: longer than any worker stays in the registry unrenewed.
        let (now, workers) = try await queue.registeredWorkers(seenWithin: .seconds(86_400))
        for (type, figures) in self.figures(now: now, workers: workers) {
            let labels = [("worker_type", type)]
            registry.makeGauge(descriptor: MetricNameDescriptor(
                namespace: "phoenix", metricName: "workers_live", unitName: "", helpText: "Workers of the type whose heartbeat is within the stale period (worker registry)."
            ), labels: labels).set(Double(figures.live))
            if let newest = figures.newestHeartbeat {
                registry.makeGauge(descriptor: MetricNameDescriptor(
                    namespace: "phoenix", metricName: "worker_heartbeat_age", unitName: "seconds", helpText: "Seconds since the newest heartbeat of a worker of the type (Redis clock)."
                ), labels: labels).set(max(0, now.timeIntervalSince(newest)))
            }
        }
    }

    /// The figures of every worker type at `now` (Redis clock) from the registry's `workers`, remembering the
    /// newest heartbeats for later calls. A worker serving several types (`event_bridge,diagnostics`) counts
    /// for each; names that are no worker type of the platform are left out.
    func figures(now: Date, workers: [WorkerInfo]) -> [String: Figures] {
        let liveSince = now.addingTimeInterval(-Double(staleAfter.components.seconds))
        return newestHeartbeats.withLock { newest in
            var figures: [String: Figures] = [:]
            for type in workerTypes { figures[type] = Figures(live: 0, newestHeartbeat: newest[type]) }
            for worker in workers {
                guard let beat = worker.heartbeatAt else { continue }
                for name in worker.type.split(separator: ",") {
                    let type = name.trimmingCharacters(in: .whitespaces)
                    guard figures[type] != nil else { continue }
                    if beat >= liveSince { figures[type]?.live += 1 }
                    if beat > (newest[type] ?? .distantPast) { newest[type] = beat }
                    figures[type]?.newestHeartbeat = newest[type]
                }
            }
            return figures
        }
    }
}
