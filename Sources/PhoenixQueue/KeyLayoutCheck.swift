public import PhoenixRedis

/// Which key layout the data under a prefix is written in, checked when a worker or the HTTP front starts.
///
/// Layout 1 built every key of a job from the prefix alone (`phx:job:<id>`, `phx:queue:<q>:ready`), which Redis
/// Cluster cannot serve; layout 2 (``QueueKeys``) puts every key of a queue under the queue's hash tag. A
/// process of one layout sees nothing of the other's jobs, so running against the wrong one would strand
/// them: the check refuses instead, saying what to do.
public enum KeyLayoutCheck {
    /// Records ``QueueKeys/version`` at ``QueueKeys/layout`` when nothing is recorded yet, and returns it;
    /// refuses a Redis whose record names another version, or that holds layout-1 queues without a record.
    /// Then checks the queues' partition counts against the record (recording those it does not hold yet): a
    /// process that split a queue otherwise than the others would enqueue where no worker looks, or look where
    /// nothing is enqueued.
    /// - Throws: ``KeyLayoutError`` saying what to do, or ``QueueError`` when Redis cannot be read.
    @discardableResult
    public static func verify(_ queue: JobQueue) async throws -> Int {
        let version = try await verifyVersion(queue)
        try await verifyPartitions(queue)
        return version
    }

    private static func verifyVersion(_ queue: JobQueue) async throws -> Int {
        let keys = queue.keys
        if let recorded = try await recordedVersion(queue) {
            guard recorded == QueueKeys.version else { throw KeyLayoutError.otherVersion(recorded, prefix: keys.prefix) }
            return recorded
        }
        let older = try await layoutOneQueues(queue)
        guard older.isEmpty else { throw KeyLayoutError.layoutOneData(queues: older, prefix: keys.prefix) }
        do {
            try await queue.redis.send("HSETNX", keys.layout, "version", QueueKeys.version)
        } catch {
            throw QueueError.redis(error)
        }
        // Another process may have recorded first: what counts is what is recorded now.
        let recorded = try await recordedVersion(queue) ?? QueueKeys.version
        guard recorded == QueueKeys.version else { throw KeyLayoutError.otherVersion(recorded, prefix: keys.prefix) }
        return recorded
    }

    /// The record's `partitions:<queue>` fields must match this process's counts; a queue this process splits
    /// and the record does not name is recorded (first come, first recorded), and checked again.
    private static func verifyPartitions(_ queue: JobQueue) async throws {
        let keys = queue.keys
        var recorded = try await recordedPartitions(queue)
        let unrecorded = keys.partitions.filter { recorded[$0.key] == nil }
        if !unrecorded.isEmpty {
            let commands = unrecorded.map { RedisCommand("HSETNX", keys.layout, "partitions:\($0.key)", $0.value) }
            do { _ = try await queue.redis.pipeline(commands) } catch { throw QueueError.redis(error) }
            recorded = try await recordedPartitions(queue)
        }
        for name in Set(recorded.keys).union(keys.partitions.keys).sorted() {
            let stored = recorded[name] ?? 1, configured = keys.partitionCount(name)
            guard stored == configured else {
                throw KeyLayoutError.otherPartitions(queue: name, recorded: stored, configured: configured, prefix: keys.prefix)
            }
        }
    }

    /// The partition counts the record holds (`partitions:<queue>` fields).
    private static func recordedPartitions(_ queue: JobQueue) async throws(QueueError) -> [String: Int] {
        let reply: RedisValue
        do { reply = try await queue.redis.send("HGETALL", queue.keys.layout) } catch { throw .redis(error) }
        let fields = reply.array?.compactMap(\.string) ?? []
        var counts: [String: Int] = [:]
        for index in stride(from: 0, to: fields.count - 1, by: 2) where fields[index].hasPrefix("partitions:") {
            counts[String(fields[index].dropFirst("partitions:".count))] = Int(fields[index + 1]) ?? 0
        }
        return counts
    }

    private static func recordedVersion(_ queue: JobQueue) async throws(QueueError) -> Int? {
        let reply: RedisValue
        do { reply = try await queue.redis.send("HGET", queue.keys.layout, "version") } catch { throw .redis(error) }
        guard let text = reply.string else { return nil }
        return Int(text) ?? 0
    }

    /// The queues of the set of queues that still have layout-1 keys (a counters hash or a ready list under
    /// `<prefix>:queue:<name>:`), one `EXISTS` per key so that each may live on its own cluster node.
    private static func layoutOneQueues(_ queue: JobQueue) async throws(QueueError) -> [String] {
        let names = try await queue.queues()
        let prefix = queue.keys.prefix
        let commands = names.flatMap { name in
            ["counters", "ready", "delayed", "leased", "dead"].map { RedisCommand("EXISTS", "\(prefix):queue:\(name):\($0)") }
        }
        let replies: [Result<RedisValue, RedisError>]
        do { replies = try await queue.redis.pipeline(commands) } catch { throw .redis(error) }
        return names.enumerated().filter { index, _ in
            replies[(index * 5)..<(index * 5 + 5)].contains { (try? $0.get().int) == 1 }
        }.map(\.element)
    }
}

/// Data under the prefix is in a key layout this build does not read, and what to do about it.
public enum KeyLayoutError: Error, Equatable, CustomStringConvertible {
    /// The layout record names another version.
    case otherVersion(Int, prefix: String)
    /// Queues hold keys of layout 1, written before layouts were recorded.
    case layoutOneData(queues: [String], prefix: String)
    /// The record splits a queue into another number of partitions than this process does.
    case otherPartitions(queue: String, recorded: Int, configured: Int, prefix: String)

    public var description: String {
        switch self {
        case .otherVersion(let version, let prefix):
            "REDIS_URL: the keys under '\(prefix)' are in key layout \(version) (\(prefix):layout), this build reads layout \(QueueKeys.version); "
                + "run the build that wrote them until their queues are empty, or give this one another PHOENIX_KEY_PREFIX"
        case .layoutOneData(let queues, let prefix):
            "REDIS_URL: queues \(queues.joined(separator: ", ")) hold keys in key layout 1 (\(prefix):queue:<name>:…), this build reads layout "
                + "\(QueueKeys.version) (hash-tagged, for Redis Cluster); let the previous build's workers empty them and delete the old keys "
                + "(docs/DEPLOYMENT.md, 'Upgrading to key layout 2'), or give this build another PHOENIX_KEY_PREFIX"
        case .otherPartitions(let queue, let recorded, let configured, let prefix):
            "QUEUE_PARTITIONS: queue '\(queue)' has \(recorded) partition(s) in Redis (\(prefix):layout), this process \(configured); give every "
                + "process the same QUEUE_PARTITIONS, or change the record as docs/DEPLOYMENT.md, 'Partitioned queues', says"
        }
    }
}
