import Foundation
import PhoenixJobsCore
import PhoenixRedis

/// What became of a cancel request.
public enum CancelOutcome: Sendable, Equatable {
    /// The job was waiting and will not run.
    case cancelled
    /// The job is running: its worker is told at its next heartbeat to cancel the handler, and the job then
    /// ends cancelled (or completed, when its handler got there first).
    case cancelling
    /// No such job (never enqueued, or its record expired).
    case notFound
    /// The job is finished (completed, dead or already cancelled) and was left as it is.
    case notCancellable(JobState)
}

extension JobQueue {
    // MARK: - Jobs

    /// Cancels a job that waits (ready or delayed) at once, or asks the worker running a leased one to cancel it.
    public func cancel(id: String) async throws(QueueError) -> CancelOutcome {
        guard let partition = try await partition(ofJob: id) else { return .notFound }
        let reply = try await run(QueueScripts.cancel, partition, jobs: [id], [id, retention.wholeSeconds])
        switch reply.string {
        case "ok": return .cancelled
        case "cancelling": return .cancelling
        case "missing": return .notFound
        case let state?: return JobState(rawValue: state).map(CancelOutcome.notCancellable) ?? .notFound
        case nil: throw .unexpectedReply(script: "cancel", detail: "\(reply)")
        }
    }

    /// The queue whose key space holds job `id`'s hash (a job's keys live under its queue's hash tag), `nil`
    /// when no queue does.
    public func queue(ofJob id: String) async throws(QueueError) -> String? {
        try await partition(ofJob: id)?.queue
    }

    /// The partition whose key space holds job `id`'s hash. Asks every partition of every known queue at once
    /// (one pipeline).
    func partition(ofJob id: String) async throws(QueueError) -> QueuePartition? {
        let partitions = try await queues().flatMap(partitions(of:))
        let replies: [Result<RedisValue, RedisError>]
        do {
            replies = try await redis.pipeline(partitions.map { RedisCommand("EXISTS", keys.job(id, in: $0.queue, partition: $0.index)) })
        } catch {
            throw .redis(error)
        }
        return zip(partitions, replies).first { (try? $0.1.get().int) == 1 }?.0
    }

    /// The stored record of a job, `nil` when there is none.
    public func job(id: String) async throws(QueueError) -> JobRecord? {
        try await locateJob(id: id)?.record
    }

    /// The stored record of a job and the event stream its events go to, `nil` when there is none.
    public func locateJob(id: String) async throws(QueueError) -> (record: JobRecord, stream: JobEventStream)? {
        guard let partition = try await partition(ofJob: id) else { return nil }
        guard let record = try await record(id: id, in: partition) else { return nil }
        return (record, JobEventStream(queue: partition.queue, partition: partition.index))
    }

    private func record(id: String, in partition: QueuePartition) async throws(QueueError) -> JobRecord? {
        let reply: RedisValue
        do {
            reply = try await redis.send(recordCommand(id: id, in: partition))
        } catch .server(code: "WRONGTYPE", _) {
            return nil
        } catch {
            throw .redis(error)
        }
        return try Self.record(id: id, from: reply)
    }

    /// The stored records of those of `ids` whose hash is in `stream`'s partition, in the order of `ids`, read
    /// in one pipeline; ids with no record (or a foreign value at their key) are left out.
    public func records(ids: [String], in stream: JobEventStream) async throws(QueueError) -> [JobRecord] {
        let partition = QueuePartition(stream.queue, stream.partition)
        let replies: [Result<RedisValue, RedisError>]
        do {
            replies = try await redis.pipeline(ids.map { recordCommand(id: $0, in: partition) })
        } catch {
            throw .redis(error)
        }
        var records: [JobRecord] = []
        for (id, reply) in zip(ids, replies) {
            guard case .success(let value) = reply, let record = try Self.record(id: id, from: value) else { continue }
            records.append(record)
        }
        return records
    }

    private static let recordFields = [
        "envelope", "state", "attempt", "maxAttempts", "lastError", "worker", "startedAt", "finishedAt", "diedAt", "progress", "progressMessage", "cancelRequested",
    ]

    private func recordCommand(id: String, in partition: QueuePartition) -> RedisCommand {
        RedisCommand("HMGET", arguments: [keys.job(id, in: partition.queue, partition: partition.index)] + Self.recordFields)
    }

    private static func record(id: String, from reply: RedisValue) throws(QueueError) -> JobRecord? {
        let values = try elements(of: reply, script: "HMGET")
        guard values.count == recordFields.count, let state = values[1].string.flatMap(JobState.init(rawValue:)) else { return nil }
        let envelope: JobEnvelope? = {
            guard case .bulk(let bytes) = values[0] else { return nil }
            return try? JobEnvelope(json: bytes)
        }()
        return JobRecord(
            id: id,
            envelope: envelope,
            state: state,
            attempt: values[2].int ?? 0,
            maxAttempts: values[3].int ?? 0,
            lastError: values[4].string,
            worker: values[5].string,
            startedAt: values[6].int.map(Date.init(milliseconds:)),
            finishedAt: (values[7].int ?? values[8].int).map(Date.init(milliseconds:)),
            progress: values[9].string.flatMap(Double.init),
            progressMessage: values[10].string,
            cancelRequestedAt: values[11].int.map(Date.init(milliseconds:))
        )
    }

    // MARK: - Queues

    /// Every queue that ever received a job, sorted by name.
    public func queues() async throws(QueueError) -> [String] {
        do {
            return try await redis.send("SMEMBERS", keys.queues).array?.compactMap(\.string).sorted() ?? []
        } catch {
            throw .redis(error)
        }
    }

    /// Stops workers from fetching jobs of `queue` (every partition); enqueueing goes on.
    public func pause(queue: String) async throws(QueueError) {
        for partition in partitions(of: queue) {
            do { try await redis.send("SET", keys.paused(queue, partition: partition.index), "1") } catch { throw .redis(error) }
        }
    }

    /// Lets workers fetch from `queue` again; returns whether it was paused.
    @discardableResult
    public func resume(queue: String) async throws(QueueError) -> Bool {
        var wasPaused = false
        for partition in partitions(of: queue) where try await run(QueueScripts.resume, partition, []).int == 1 { wasPaused = true }
        return wasPaused
    }

    /// A snapshot of `queue`'s counts, totals and the last `minutes` of throughput: the sums over its
    /// partitions (each read consistently on its own), the oldest ready job of any.
    public func stats(queue: String, minutes: Int = 60) async throws(QueueError) -> QueueStats {
        var total: QueueStats?
        for partition in partitions(of: queue) {
            let stats = try await stats(of: partition, minutes: minutes)
            total = total.map { $0.adding(stats) } ?? stats
        }
        guard let total else { throw .unexpectedReply(script: "stats", detail: "no partition") }
        return total
    }

    private func stats(of partition: QueuePartition, minutes: Int) async throws(QueueError) -> QueueStats {
        let queue = partition.queue
        let values = try Self.elements(of: try await run(QueueScripts.stats, partition, [max(1, minutes)]), script: "stats")
        guard values.count == 15, let now = values[0].int, let counterPairs = values[7].array,
              let completed = values[8].array, let failed = values[9].array, let flow = values[10].array, flow.count == 6,
              let started = values[13].array?.map({ $0.string.flatMap { Int($0) } ?? 0 }), started.count == 2,
              let tokens = values[14].array?.map({ $0.string.flatMap { Int($0) } ?? 0 }), tokens.count == 2
        else { throw .unexpectedReply(script: "stats", detail: "\(values.count) values") }
        let heldUntil = flow[5].string.flatMap { Int($0) } ?? 0
        var totals: [String: Int] = [:]
        for pair in stride(from: 0, to: counterPairs.count - 1, by: 2) {
            if let name = counterPairs[pair].string { totals[name] = counterPairs[pair + 1].int ?? 0 }
        }
        return QueueStats(
            queue: queue,
            // Ids of jobs cancelled while they waited stay in the list until a fetch drops them.
            ready: max(0, (values[1].int ?? 0) - (totals["cancelledWaiting"] ?? 0)),
            delayed: values[2].int ?? 0,
            leased: values[3].int ?? 0,
            dead: values[4].int ?? 0,
            paused: values[5].int == 1,
            oldestReadyAge: values[6].int.map { .milliseconds(max(0, now - $0)) },
            enqueued: totals["enqueued"] ?? 0,
            completed: totals["completed"] ?? 0,
            failed: totals["failed"] ?? 0,
            buried: totals["dead"] ?? 0,
            cancelled: totals["cancelled"] ?? 0,
            completedPerMinute: completed.map { $0.int ?? 0 },
            failedPerMinute: failed.map { $0.int ?? 0 },
            flow: FlowSettings(
                fairShare: flow[0].string == "1", keyConcurrency: flow[1].string.flatMap { Int($0) }, concurrency: flow[2].string.flatMap { Int($0) },
                requestsPerMinute: flow[3].string.flatMap { Int($0) }, tokensPerMinute: flow[4].string.flatMap { Int($0) }
            ),
            keysInTurn: values[11].int ?? 0,
            keysAtLimit: values[12].int ?? 0,
            rates: FlowRates(
                startedLastMinute: FlowRates.lastSixtySeconds(previous: started[0], current: started[1], now: now),
                tokensLastMinute: FlowRates.lastSixtySeconds(previous: tokens[0], current: tokens[1], now: now),
                heldFor: heldUntil > now ? .milliseconds(heldUntil - now) : nil
            )
        )
    }

    // MARK: - Running jobs

    /// Up to `limit` jobs of `queue` leased now, those whose lease ends soonest first (across its partitions).
    public func runningJobs(queue: String, limit: Int = 20) async throws(QueueError) -> [RunningJob] {
        var running: [RunningJob] = []
        for partition in partitions(of: queue) where running.count < limit {
            let (name, index) = (partition.queue, partition.index)
            do {
                let ids = try await redis.send("ZRANGE", keys.leased(name, partition: index), 0, limit - running.count - 1).array?.compactMap(\.string) ?? []
                let fields = ["type", "worker", "startedAt", "cancelRequested"]
                let replies = try await redis.pipeline(ids.map { RedisCommand("HMGET", arguments: [keys.job($0, in: name, partition: index)] + fields) })
                running += zip(ids, replies).map { id, reply in
                    let values = (try? reply.get())?.array ?? []
                    let value = { (index: Int) in index < values.count ? values[index] : .null }
                    return RunningJob(id: id, type: value(0).string, worker: value(1).string, startedAt: value(2).int.map(Date.init(milliseconds:)), cancelling: value(3) != .null)
                }
            } catch {
                throw .redis(error)
            }
        }
        return running
    }

    // MARK: - Dead set

    /// Dead jobs of `queue`, most recent first (across its partitions).
    public func deadJobs(queue: String, offset: Int = 0, limit: Int = 50) async throws(QueueError) -> [DeadJob] {
        let partitions = partitions(of: queue)
        guard partitions.count > 1 else { return try await deadJobs(in: partitions[0], offset: offset, limit: limit) }
        // The page's jobs are among the first offset + limit of each partition.
        var merged: [DeadJob] = []
        for partition in partitions { merged += try await deadJobs(in: partition, offset: 0, limit: offset + max(1, limit)) }
        merged.sort { ($0.diedAt, $0.id) > ($1.diedAt, $1.id) }
        return Array(merged.dropFirst(offset).prefix(max(1, limit)))
    }

    private func deadJobs(in partition: QueuePartition, offset: Int, limit: Int) async throws(QueueError) -> [DeadJob] {
        let (queue, index) = (partition.queue, partition.index)
        do {
            let ids = try await redis.send("ZREVRANGE", keys.dead(queue, partition: index), offset, offset + max(1, limit) - 1).array?.compactMap(\.string) ?? []
            let fields = ["type", "attempt", "lastError", "diedAt"]
            let replies = try await redis.pipeline(ids.map { RedisCommand("HMGET", arguments: [keys.job($0, in: queue, partition: index)] + fields) })
            return zip(ids, replies).map { id, reply in
                let values = (try? reply.get())?.array ?? []
                let value = { (index: Int) in index < values.count ? values[index] : .null }
                return DeadJob(
                    id: id,
                    type: value(0).string,
                    attempts: value(1).int ?? 0,
                    error: value(2).string ?? "unknown (job record unreadable)",
                    diedAt: Date(milliseconds: value(3).int ?? 0)
                )
            }
        } catch {
            throw .redis(error)
        }
    }

    /// Gives dead jobs a fresh set of attempts; per id, whether it was requeued.
    @discardableResult
    public func retryDead(queue: String, ids: [String]) async throws(QueueError) -> [Bool] {
        try await deadSetScript(QueueScripts.retryDead, queue: queue, ids: ids)
    }

    /// Deletes dead jobs for good; per id, whether it was in the dead set.
    @discardableResult
    public func discardDead(queue: String, ids: [String]) async throws(QueueError) -> [Bool] {
        try await deadSetScript(QueueScripts.discardDead, queue: queue, ids: ids)
    }

    /// Runs a dead-set script over `ids`, each in the partition whose dead set holds it (partition 0 for an id
    /// in none, which the script then answers 0 for).
    private func deadSetScript(_ script: RedisScript, queue: String, ids: [String]) async throws(QueueError) -> [Bool] {
        let partitions = partitions(of: queue)
        var home = [Int](repeating: 0, count: ids.count)
        if partitions.count > 1 {
            let commands = ids.flatMap { id in partitions.map { RedisCommand("ZSCORE", keys.dead(queue, partition: $0.index), id) } }
            let replies: [Result<RedisValue, RedisError>]
            do { replies = try await redis.pipeline(commands) } catch { throw .redis(error) }
            for index in ids.indices {
                let answers = replies[(index * partitions.count)..<((index + 1) * partitions.count)]
                home[index] = answers.firstIndex { (try? $0.get()) != .null }.map { $0 - index * partitions.count } ?? 0
            }
        }
        var results = [Bool](repeating: false, count: ids.count)
        for (partition, indices) in Dictionary(grouping: ids.indices, by: { home[$0] }) {
            for chunk in indices.chunked(into: Self.scriptBatchSize) {
                let chunkIDs = chunk.map { ids[$0] }
                let reply = try await run(script, partitions[partition], jobs: chunkIDs, chunkIDs.map { $0 as any RedisArgumentConvertible })
                for (index, value) in zip(chunk, try Self.elements(of: reply, script: script.name)) { results[index] = value.int == 1 }
            }
        }
        return results
    }
}

extension Date {
    /// A date from milliseconds since 1970, as the queue scripts store times.
    init(milliseconds: Int) {
        self.init(timeIntervalSince1970: Double(milliseconds) / 1000)
    }
}
