public import PhoenixRedis

/// The Redis key layout of the queue engine (layout ``version``), under one configurable prefix (default `phx`).
///
/// Every key of a queue, its jobs' hashes and idempotency keys included, carries the queue's hash tag
/// (`phx:queue:{letters}:…`), so Redis Cluster keeps a queue in one slot and a script that moves its jobs
/// touches one node. Per queue: `ready` (list: LLEN is the queue depth), `delayed`, `leased` and `dead`
/// (sorted sets scored by due time, lease deadline and time of death), `paused` (flag), `signal` (at most one
/// token that wakes idle workers), `counters` (hash of totals), per-minute throughput counters, one hash per
/// job and one string per idempotency key; for flow control `flow` (settings), and in a fair queue `turns`,
/// `parked`, `running` and one list of waiting ids per fairness key. Outside the queues: the set of queues, the worker registry (under
/// a hash tag of its own) and the layout record. docs/ARCHITECTURE.md describes every key.
public struct QueueKeys: Sendable, Hashable {
    /// The version of this layout, recorded in Redis at ``layout``; a process refuses a Redis that records
    /// another (``KeyLayoutCheck``).
    public static let version = 2

    /// The prefix every key starts with.
    public let prefix: String
    /// How many partitions each queue is split into; a queue not named has one.
    public let partitions: [String: Int]
    /// The hash tag of every partition of the queues with more than one.
    private let partitionTags: [String: [String]]

    /// A layout under `prefix`, with `partitions` giving the queues split into more than one partition.
    public init(prefix: String = "phx", partitions: [String: Int] = [:]) {
        self.prefix = prefix
        self.partitions = partitions.filter { $0.value > 1 }
        var tags: [String: [String]] = [:]
        for (queue, count) in self.partitions {
            tags[queue] = (0..<count).map { Self.tag(of: queue, partition: $0, count: count) }
        }
        partitionTags = tags
    }

    /// How many partitions `queue` has (1 unless configured).
    public func partitionCount(_ queue: String) -> Int { partitions[queue] ?? 1 }

    /// The partition of `queue` that `placement` picks: always 0 for a queue of one partition; else spread
    /// evenly and stably. A job is placed by its fairness key, else its idempotency key (so that a second
    /// enqueue with the key finds the first job), else its id (so that enqueueing the same job again finds it).
    public func partition(placedBy placement: String, in queue: String) -> Int {
        let count = partitionCount(queue)
        guard count > 1 else { return 0 }
        // FNV-1a: stable across processes and releases, unlike Swift's seeded hashing.
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in placement.utf8 { hash = (hash ^ UInt64(byte)) &* 0x0100_0000_01b3 }
        return Int(hash % UInt64(count))
    }

    /// The hash tag of partition `partition` of a queue of `count`: the queue's name for partition 0 (so a
    /// queue split later keeps its jobs in partition 0), else the first `<queue>:<partition>:<k>` whose slot
    /// falls in the `count`-th of the slot space `partition` places after the queue's own. A cluster whose
    /// masters hold equal runs of slots (as `redis-cli --cluster create` makes them) with as many masters as
    /// partitions then has one partition on each.
    static func tag(of queue: String, partition: Int, count: Int) -> String {
        guard partition > 0 else { return queue }
        let share = { (tag: String) in RedisClusterSlot.of(tag) * count / RedisClusterSlot.count }
        let wanted = (share(queue) + partition) % count
        var attempt = 0
        while share("\(queue):\(partition):\(attempt)") != wanted { attempt += 1 }
        return "\(queue):\(partition):\(attempt)"
    }

    /// Set of every queue that ever received a job.
    public var queues: String { "\(prefix):queues" }
    /// Hash recording the key layout the data under this prefix is written in (`version`).
    public var layout: String { "\(prefix):layout" }
    /// Sorted set of registered workers, scored by last heartbeat (ms).
    public var workers: String { "\(prefix):{workers}" }
    /// Hash of one registered worker's details; in the registry's slot.
    public func worker(_ id: String) -> String { "\(prefix):{workers}:\(id)" }

    /// What every key of a partition of `queue` starts with: the prefix and the partition's hash tag. The
    /// scripts get it as their first argument and build the names of the partition's keys from it.
    public func base(_ queue: String, partition: Int = 0) -> String {
        "\(prefix):queue:{\(partition == 0 ? queue : partitionTags[queue]?[partition] ?? queue)}"
    }
    /// List of ready job ids; workers pop from its right end.
    public func ready(_ queue: String, partition: Int = 0) -> String { "\(base(queue, partition: partition)):ready" }
    /// Sorted set of delayed and retrying job ids, scored by due time (ms).
    public func delayed(_ queue: String, partition: Int = 0) -> String { "\(base(queue, partition: partition)):delayed" }
    /// Sorted set of leased job ids, scored by lease deadline (ms).
    public func leased(_ queue: String, partition: Int = 0) -> String { "\(base(queue, partition: partition)):leased" }
    /// Sorted set of dead job ids, scored by time of death (ms).
    public func dead(_ queue: String, partition: Int = 0) -> String { "\(base(queue, partition: partition)):dead" }
    /// Present while the queue is paused.
    public func paused(_ queue: String, partition: Int = 0) -> String { "\(base(queue, partition: partition)):paused" }
    /// List holding at most one token, pushed whenever jobs become ready; idle workers block on it.
    public func signal(_ queue: String, partition: Int = 0) -> String { "\(base(queue, partition: partition)):signal" }
    /// Hash of running totals: enqueued, completed, failed, retried, dead, cancelled.
    public func counters(_ queue: String, partition: Int = 0) -> String { "\(base(queue, partition: partition)):counters" }
    /// Hash of the queue's flow control (``FlowSettings``): `fair`, `keyConcurrency`, `concurrency`.
    public func flow(_ queue: String, partition: Int = 0) -> String { "\(base(queue, partition: partition)):flow" }
    /// In a fair queue, list of the fairness keys with jobs waiting, in turn order (workers pop from its right).
    public func turns(_ queue: String, partition: Int = 0) -> String { "\(base(queue, partition: partition)):turns" }
    /// In a fair queue, set of the fairness keys with jobs waiting that run as many jobs as their limit allows.
    public func parked(_ queue: String, partition: Int = 0) -> String { "\(base(queue, partition: partition)):parked" }
    /// In a fair queue, hash of the fairness keys weighing more than 1 (their weight: how many times the share
    /// of a key of weight 1 they get).
    public func weights(_ queue: String, partition: Int = 0) -> String { "\(base(queue, partition: partition)):weights" }
    /// In a fair queue, hash of the weighted keys whose turn a fetch cut short: the jobs they took in it so far.
    public func served(_ queue: String, partition: Int = 0) -> String { "\(base(queue, partition: partition)):served" }
    /// In a fair queue, hash of how many leased jobs each fairness key has.
    public func running(_ queue: String, partition: Int = 0) -> String { "\(base(queue, partition: partition)):running" }
    /// The stream of a queue's job events (``JobEvent``), the last 10,000 or so.
    public func events(_ queue: String, partition: Int = 0) -> String { "\(base(queue, partition: partition)):events" }
    /// In a fair queue, list of the ids of the ready jobs of one fairness key; workers pop from its right end.
    public func keyList(_ key: String, in queue: String, partition: Int = 0) -> String { "\(base(queue, partition: partition)):key:\(key)" }
    /// Hash of one job of `queue`: its envelope and lifecycle fields.
    public func job(_ id: String, in queue: String, partition: Int = 0) -> String { "\(base(queue, partition: partition)):job:\(id)" }
    /// The id of the first job of `queue` enqueued with an idempotency key.
    public func idempotency(_ key: String, in queue: String, partition: Int = 0) -> String { "\(base(queue, partition: partition)):idempotency:\(key)" }
}
