public import PhoenixJobsCore
import PhoenixRedis

extension JobQueue {
    /// Longest fairness key stored as it is; a longer value is replaced by a digest of it, so that a payload
    /// cannot make key names of any length.
    static let maxFairnessKeyBytes = 128

    /// The key `job` takes turns by in a fair queue: the value of its type's fairness field (``fairnessFields``)
    /// in its payload, a string or a number; `nil` when the type has no field or the payload lacks it.
    public func fairnessKey(of job: JobEnvelope) -> String? {
        guard let field = fairnessFields[job.type], let value = job.payload.objectValue?[field] else { return nil }
        let text: String
        switch value {
        case .string(let string): text = string
        case .number(let number) where number == number.rounded() && abs(number) < 1e15: text = String(Int64(number))
        case .number(let number): text = "\(number)"
        default: return nil
        }
        return Self.fairnessKey(text)
    }

    /// `text` as a fairness key: itself, or a digest of it when it is longer than ``maxFairnessKeyBytes``.
    static func fairnessKey(_ text: String) -> String {
        guard text.utf8.count > Self.maxFairnessKeyBytes else { return text }
        // FNV-1a, as partitions use: stable across processes.
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 { hash = (hash ^ UInt64(byte)) &* 0x0100_0000_01b3 }
        return "#" + String(hash, radix: 16)
    }

    /// Gives the jobs of fairness key `key` (a user) `weight` times the share of a key of weight 1 in fair
    /// queue `queue` (1 to 100; 1 removes the weight): premium users' turns, for example. Stored in the
    /// partition holding the key's jobs; takes effect at the key's next turn.
    public func setFairShareWeight(_ weight: Int, forKey key: String, queue: String) async throws(QueueError) {
        guard (1...100).contains(weight) else { throw .invalidSetting("a fair share weight must be between 1 and 100, got \(weight)") }
        let stored = Self.fairnessKey(key)
        let hash = keys.weights(queue, partition: keys.partition(placedBy: stored, in: queue))
        do {
            if weight == 1 { try await redis.send("HDEL", hash, stored) } else { try await redis.send("HSET", hash, stored, weight) }
        } catch {
            throw .redis(error)
        }
    }

    /// The flow control of `queue` (its concurrency and rate summed over its partitions).
    public func flowSettings(queue: String) async throws(QueueError) -> FlowSettings {
        var settings = FlowSettings()
        for partition in partitions(of: queue) {
            let reply: RedisValue
            do {
                reply = try await redis.send("HMGET", keys.flow(queue, partition: partition.index), "fair", "keyConcurrency", "concurrency", "rpm", "tpm")
            } catch {
                throw .redis(error)
            }
            let fields = try Self.elements(of: reply, script: "HMGET flow")
            guard fields.count == 5 else { throw .unexpectedReply(script: "HMGET flow", detail: "\(reply)") }
            settings.fairShare = fields[0].string == "1"
            settings.keyConcurrency = fields[1].string.flatMap { Int($0) }
            settings.concurrency = Self.sum(settings.concurrency, fields[2].string.flatMap { Int($0) })
            settings.requestsPerMinute = Self.sum(settings.requestsPerMinute, fields[3].string.flatMap { Int($0) })
            settings.tokensPerMinute = Self.sum(settings.tokensPerMinute, fields[4].string.flatMap { Int($0) })
        }
        return settings
    }

    /// Changes the flow control of `queue`; a `nil` argument leaves that setting as it is. The queue's
    /// concurrency, rate and token budget are shared out among its partitions (each gets at least 1). Returns the
    /// settings now in force.
    /// - Throws: ``QueueError/queueNotEmpty(queue:depth:)`` when fair share would switch while jobs wait in
    ///   line (nothing is changed then); ``QueueError/invalidSetting(_:)`` for a limit below 1.
    @discardableResult
    public func configureFlow(
        queue: String, fairShare: Bool? = nil, keyConcurrency: FlowLimit? = nil, concurrency: FlowLimit? = nil,
        requestsPerMinute: FlowLimit? = nil, tokensPerMinute: FlowLimit? = nil
    ) async throws(QueueError) -> FlowSettings {
        try await configure(
            queue: queue, fair: fairShare.map { $0 ? "1" : "0" } ?? "", keyConcurrency: try FlowLimit.argument(keyConcurrency),
            shared: [concurrency, requestsPerMinute, tokensPerMinute]
        )
        return try await flowSettings(queue: queue)
    }

    /// Charges `tokens` that one call of the job under `lease` spent (a provider's usage figures) to its queue's
    /// token budget (``FlowSettings/tokensPerMinute``) and per-minute count. `report` names this report: a
    /// retried call with the same id counts once. Reports of one delivery are sent one after another.
    public func spendTokens(_ tokens: Int, lease: JobLease, report: String = JobQueue.newToken()) async throws(QueueError) {
        guard tokens > 0 else { return }
        _ = try await run(QueueScripts.spendTokens, QueuePartition(of: lease), jobs: [lease.id], [lease.id, report, tokens])
    }

    /// Holds every job of `queue` back from starting, on every worker, for `duration` (a provider answered
    /// 429, or 503 with Retry-After); a longer hold in force stays. Returns how long the queue is held now.
    @discardableResult
    public func holdBack(queue: String, for duration: Duration) async throws(QueueError) -> Duration {
        var held = Duration.zero
        for partition in partitions(of: queue) {
            let reply = try await run(QueueScripts.holdBack, partition, [max(1, duration.wholeMilliseconds)])
            held = max(held, .milliseconds(reply.int ?? 0))
        }
        return held
    }

    /// Switches fair share on for `queue` unless its settings record a choice already (an operator's, on or
    /// off, which a platform's default must not undo). Returns `false` when it had to switch but jobs wait in
    /// line, so it could not.
    public func switchOnFairShareByDefault(queue: String) async throws(QueueError) -> Bool {
        do {
            try await configure(queue: queue, fair: "default", keyConcurrency: "", shared: [nil, nil, nil])
            return true
        } catch .queueNotEmpty {
            return false
        }
    }

    /// Runs `configureFlow` on every partition of `queue`, sharing its `shared` limits (concurrency, requests
    /// and tokens per minute) out among them.
    private func configure(queue: String, fair: String, keyConcurrency keyLimit: String, shared: [FlowLimit?]) async throws(QueueError) {
        let all = partitions(of: queue)
        // Partition p's share of a queue-wide limit: an even split, the first partitions taking the remainder.
        func share(_ limit: FlowLimit?, _ partition: QueuePartition) throws(QueueError) -> String {
            guard case .atMost(let n)? = limit, n >= 1 else { return try FlowLimit.argument(limit) }
            return String(max(1, n / all.count + (partition.index < n % all.count ? 1 : 0)))
        }
        for partition in all {
            var arguments = [fair, keyLimit]
            for limit in shared { arguments.append(try share(limit, partition)) }
            let reply = try Self.elements(of: try await run(QueueScripts.configureFlow, partition, arguments), script: "configureFlow")
            if reply.first?.string == "busy" {
                throw .queueNotEmpty(queue: queue, depth: reply.dropFirst().first?.int ?? 0)
            }
        }
    }

    private static func sum(_ total: Int?, _ value: Int?) -> Int? {
        guard let value else { return total }
        return (total ?? 0) + value
    }
}

extension FlowLimit {
    /// A limit as `configureFlow` takes it: '' unchanged, '0' no limit, else the number.
    static func argument(_ limit: FlowLimit?) throws(QueueError) -> String {
        switch limit {
        case nil: return ""
        case .unlimited: return "0"
        case .atMost(let n) where n >= 1: return String(n)
        case .atMost(let n): throw .invalidSetting("a concurrency limit must be 1 or more (or none), got \(n)")
        }
    }
}
