/// The Redis key layout of the queue engine, under one configurable prefix (default `phx`).
///
/// Per queue: `ready` (list: LLEN is the queue depth), `delayed`, `leased` and `dead` (sorted sets scored by
/// due time, lease deadline and time of death), `paused` (flag), `signal` (at most one token that wakes
/// idle workers), `counters` (hash of totals) and per-minute throughput counters. Per job: one hash.
/// docs/ARCHITECTURE.md describes every key.
public struct QueueKeys: Sendable, Hashable {
    /// The prefix every key starts with.
    public let prefix: String

    /// A layout under `prefix`.
    public init(prefix: String = "phx") {
        self.prefix = prefix
    }

    /// Set of every queue that ever received a job.
    public var queues: String { "\(prefix):queues" }
    /// List of ready job ids; workers pop from its right end.
    public func ready(_ queue: String) -> String { "\(prefix):queue:\(queue):ready" }
    /// Sorted set of delayed and retrying job ids, scored by due time (ms).
    public func delayed(_ queue: String) -> String { "\(prefix):queue:\(queue):delayed" }
    /// Sorted set of leased job ids, scored by lease deadline (ms).
    public func leased(_ queue: String) -> String { "\(prefix):queue:\(queue):leased" }
    /// Sorted set of dead job ids, scored by time of death (ms).
    public func dead(_ queue: String) -> String { "\(prefix):queue:\(queue):dead" }
    /// Present while the queue is paused.
    public func paused(_ queue: String) -> String { "\(prefix):queue:\(queue):paused" }
    /// List holding at most one token, pushed whenever jobs become ready; idle workers block on it.
    public func signal(_ queue: String) -> String { "\(prefix):queue:\(queue):signal" }
    /// Hash of running totals: enqueued, completed, failed, retried, dead, cancelled.
    public func counters(_ queue: String) -> String { "\(prefix):queue:\(queue):counters" }
    /// Hash of one job: its envelope and lifecycle fields.
    public func job(_ id: String) -> String { "\(prefix):job:\(id)" }
    /// The id of the first job enqueued with an idempotency key.
    public func idempotency(_ key: String) -> String { "\(prefix):idempotency:\(key)" }
}
