/// The Redis key layout of the queue engine (layout ``version``), under one configurable prefix (default `phx`).
///
/// Every key of a queue, its jobs' hashes and idempotency keys included, carries the queue's hash tag
/// (`phx:queue:{letters}:…`), so Redis Cluster keeps a queue in one slot and a script that moves its jobs
/// touches one node. Per queue: `ready` (list: LLEN is the queue depth), `delayed`, `leased` and `dead`
/// (sorted sets scored by due time, lease deadline and time of death), `paused` (flag), `signal` (at most one
/// token that wakes idle workers), `counters` (hash of totals), per-minute throughput counters, one hash per
/// job and one string per idempotency key. Outside the queues: the set of queues, the worker registry (under
/// a hash tag of its own) and the layout record. docs/ARCHITECTURE.md describes every key.
public struct QueueKeys: Sendable, Hashable {
    /// The version of this layout, recorded in Redis at ``layout``; a process refuses a Redis that records
    /// another (``KeyLayoutCheck``).
    public static let version = 2

    /// The prefix every key starts with.
    public let prefix: String

    /// A layout under `prefix`.
    public init(prefix: String = "phx") {
        self.prefix = prefix
    }

    /// Set of every queue that ever received a job.
    public var queues: String { "\(prefix):queues" }
    /// Hash recording the key layout the data under this prefix is written in (`version`).
    public var layout: String { "\(prefix):layout" }
    /// Sorted set of registered workers, scored by last heartbeat (ms).
    public var workers: String { "\(prefix):{workers}" }
    /// Hash of one registered worker's details; in the registry's slot.
    public func worker(_ id: String) -> String { "\(prefix):{workers}:\(id)" }

    /// What every key of `queue` starts with: the prefix and the queue's hash tag. The scripts get it as
    /// their first argument and build the names of the queue's keys from it.
    public func base(_ queue: String) -> String { "\(prefix):queue:{\(queue)}" }
    /// List of ready job ids; workers pop from its right end.
    public func ready(_ queue: String) -> String { "\(base(queue)):ready" }
    /// Sorted set of delayed and retrying job ids, scored by due time (ms).
    public func delayed(_ queue: String) -> String { "\(base(queue)):delayed" }
    /// Sorted set of leased job ids, scored by lease deadline (ms).
    public func leased(_ queue: String) -> String { "\(base(queue)):leased" }
    /// Sorted set of dead job ids, scored by time of death (ms).
    public func dead(_ queue: String) -> String { "\(base(queue)):dead" }
    /// Present while the queue is paused.
    public func paused(_ queue: String) -> String { "\(base(queue)):paused" }
    /// List holding at most one token, pushed whenever jobs become ready; idle workers block on it.
    public func signal(_ queue: String) -> String { "\(base(queue)):signal" }
    /// Hash of running totals: enqueued, completed, failed, retried, dead, cancelled.
    public func counters(_ queue: String) -> String { "\(base(queue)):counters" }
    /// Hash of one job of `queue`: its envelope and lifecycle fields.
    public func job(_ id: String, in queue: String) -> String { "\(base(queue)):job:\(id)" }
    /// The id of the first job of `queue` enqueued with an idempotency key.
    public func idempotency(_ key: String, in queue: String) -> String { "\(base(queue)):idempotency:\(key)" }
}
