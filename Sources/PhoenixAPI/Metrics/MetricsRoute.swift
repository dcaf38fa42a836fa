import CoreMetrics
import Foundation
public import Hummingbird
public import Prometheus
public import PhoenixQueue
public import PostgresNIO
import PhoenixSupabase

/// `GET /metrics`: the process's metrics in the Prometheus text format, after refreshing the queue gauges
/// from Redis (`phoenix_queue_depth{queue,state}`, `phoenix_queue_oldest_ready_timestamp_seconds{queue}`,
/// `phoenix_queue_paused{queue}`; flow control: `phoenix_queue_fair_share{queue}`,
/// `phoenix_queue_concurrency_limit{queue,per="key"|"queue"}` and `phoenix_queue_rate_limit_per_minute{queue}`
/// (0 for none), `phoenix_queue_keys_waiting{queue,
/// on="turn"|"limit"}`), so any API process or worker reports the shared queues' state, the
/// process's own figures (``ProcessSample``), and, where `workerHeartbeats` is given (the API), each worker
/// type's live workers and heartbeat age (``WorkerHeartbeatMetrics``), and where `outbox` is given (the API,
/// whose processes relay it), the transactional-enqueue outbox: `phoenix_outbox_rows{state="waiting"|"refused"}`
/// and `phoenix_outbox_oldest_waiting_age_seconds` (0 when none waits). A database that does not answer within
/// 2 seconds leaves those gauges out of the scrape rather than failing it.
public struct MetricsRoute: Sendable {
    let queue: JobQueue
    let registry: PrometheusCollectorRegistry
    let knownQueues: [String]
    let workerHeartbeats: WorkerHeartbeatMetrics?
    let outbox: PostgresClient?

    public init(
        queue: JobQueue, registry: PrometheusCollectorRegistry, knownQueues: [String], workerHeartbeats: WorkerHeartbeatMetrics? = nil,
        outbox: PostgresClient? = nil
    ) {
        self.queue = queue
        self.registry = registry
        self.knownQueues = knownQueues
        self.workerHeartbeats = workerHeartbeats
        self.outbox = outbox
    }

    public func add<Context: RequestContext>(to router: Router<Context>) {
        router.get("metrics") { _, _ in try await render() }
    }

    /// The text exposition, queue gauges refreshed first.
    func render() async throws -> Response {
        let factory = PrometheusMetricsFactory(registry: registry)
        let overview = try await queue.overview(alwaysListed: knownQueues, staleAfter: .seconds(30))
        let now = Date().timeIntervalSince1970
        for row in overview.queues {
            for (state, count) in [("ready", row.ready), ("delayed", row.delayed), ("leased", row.leased), ("dead", row.dead)] {
                Gauge(label: "phoenix_queue_depth", dimensions: [("queue", row.queue), ("state", state)], factory: factory).record(count)
            }
            // The enqueue time of the oldest ready job, or now when none waits (its age is then 0).
            Gauge(label: "phoenix_queue_oldest_ready_timestamp_seconds", dimensions: [("queue", row.queue)], factory: factory)
                .record(now - (row.oldestReadySeconds ?? 0))
            Gauge(label: "phoenix_queue_paused", dimensions: [("queue", row.queue)], factory: factory).record(row.paused ? 1 : 0)
            Gauge(label: "phoenix_queue_fair_share", dimensions: [("queue", row.queue)], factory: factory).record(row.fairShare ? 1 : 0)
            // A limit not set is exported as 0.
            for (budget, limit, used) in [("requests", row.requestsPerMinute, row.startedLastMinute), ("tokens", row.tokensPerMinute, row.tokensLastMinute)] {
                Gauge(label: "phoenix_queue_rate_limit_per_minute", dimensions: [("queue", row.queue), ("budget", budget)], factory: factory).record(limit ?? 0)
                Gauge(label: "phoenix_queue_rate_last_minute", dimensions: [("queue", row.queue), ("budget", budget)], factory: factory).record(used)
            }
            Gauge(label: "phoenix_queue_held_seconds", dimensions: [("queue", row.queue)], factory: factory).record(row.heldSeconds ?? 0)
            for (limit, value) in [("key", row.keyConcurrency), ("queue", row.concurrency)] {
                Gauge(label: "phoenix_queue_concurrency_limit", dimensions: [("queue", row.queue), ("per", limit)], factory: factory).record(value ?? 0)
            }
            for (wait, count) in [("turn", row.keysInTurn), ("limit", row.keysAtLimit)] {
                Gauge(label: "phoenix_queue_keys_waiting", dimensions: [("queue", row.queue), ("on", wait)], factory: factory).record(count)
            }
        }
        try await workerHeartbeats?.refresh(from: queue, into: registry)
        if let outbox, case .success(let status)? = await within(.seconds(2), { try await OutboxStatus.read(outbox) }) {
            for (state, count) in [("waiting", status.waiting), ("refused", status.refused)] {
                Gauge(label: "phoenix_outbox_rows", dimensions: [("state", state)], factory: factory).record(count)
            }
            Gauge(label: "phoenix_outbox_oldest_waiting_age_seconds", factory: factory).record(status.oldestWaitingSeconds)
        }
        ProcessSample.current()?.export(to: registry)
        return Response(
            status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(bytes: registry.emitToBuffer()))
        )
    }
}
