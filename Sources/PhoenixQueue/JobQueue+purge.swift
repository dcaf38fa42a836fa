import PhoenixRedis

extension JobQueue {
    /// Removes every waiting (ready, delayed) and dead job, in every queue, whose envelope mentions `value`
    /// (case-insensitively): for erasing a user, whose payloads hold CV contents and letters. Running jobs
    /// are left to finish; jobs enqueued once the walk passed their place are not seen. The events of the
    /// queues' event streams that mention it (their user, progress message or error) are deleted too. Returns
    /// how many jobs were removed.
    ///
    /// Walks each structure in pages of ``scriptBatchSize`` ids (the ready list, or a fair queue's key lists,
    /// by index, the sorted sets with `ZSCAN`), one `purge` script call per page, so Redis is never held for long.
    public func purgeJobs(mentioning value: String) async throws(QueueError) -> Int {
        let needle = value.lowercased()
        var removed = 0
        for partition in try await queues().flatMap(partitions(of:)) {
            let (queue, index) = (partition.queue, partition.index)
            // A fair queue's ready ids wait in one list per key (its ready list holds tickets).
            var lists = [keys.ready(queue, partition: index)]
            if try await send(RedisCommand("HGET", keys.flow(queue, partition: index), "fair")).string == "1" {
                let waiting = try await ids(RedisCommand("LRANGE", keys.turns(queue, partition: index), 0, -1))
                    + ids(RedisCommand("SMEMBERS", keys.parked(queue, partition: index)))
                lists = Set(waiting).sorted().map { keys.keyList($0, in: queue, partition: index) }
            }
            for list in lists {
                var start = 0
                while true {
                    let page = try await ids(RedisCommand("LRANGE", list, start, start + Self.scriptBatchSize - 1))
                    guard !page.isEmpty else { break }
                    let count = try await purge(partition, "ready", needle, page)
                    removed += count
                    start += page.count - count
                }
            }
            for (name, key) in [("delayed", keys.delayed(queue, partition: index)), ("dead", keys.dead(queue, partition: index))] {
                var cursor = "0"
                repeat {
                    let reply = try await send(RedisCommand("ZSCAN", key, cursor, "COUNT", Self.scriptBatchSize))
                    guard let parts = reply.array, parts.count == 2, let next = parts[0].string, let members = parts[1].array else {
                        throw .unexpectedReply(script: "ZSCAN", detail: "\(reply)")
                    }
                    // ZSCAN answers member, score, member, score…
                    let page = stride(from: 0, to: members.count, by: 2).compactMap { members[$0].string }
                    if !page.isEmpty { removed += try await purge(partition, name, needle, page) }
                    cursor = next
                } while cursor != "0"
            }
            try await purgeEvents(in: JobEventStream(queue: queue, partition: index), mentioning: needle)
        }
        return removed
    }

    /// Deletes the events of `stream` whose user, progress message or error mentions `needle` (lower case),
    /// reading the stream in pages. Deleting an entry twice is harmless, so a repeated call only deletes what
    /// was appended since.
    private func purgeEvents(in stream: JobEventStream, mentioning needle: String) async throws(QueueError) {
        var from = StreamEntryID.start
        while true {
            let page = try await events(in: stream, after: from, limit: Self.scriptBatchSize)
            guard let last = page.last else { return }
            let mentioning = page.filter { event in
                [event.user, event.message, event.error].contains { $0?.lowercased().contains(needle) == true }
            }
            if !mentioning.isEmpty {
                _ = try await send(RedisCommand("XDEL", arguments: [keys.events(stream.queue, partition: stream.partition)] + Set(mentioning.map(\.position.entry)).map(\.description)))
            }
            from = last.position.entry
        }
    }

    private func purge(_ partition: QueuePartition, _ structure: String, _ needle: String, _ ids: [String]) async throws(QueueError) -> Int {
        let reply = try await run(QueueScripts.purge, partition, jobs: ids, [structure, needle] + ids)
        guard let count = reply.int else { throw .unexpectedReply(script: "purge", detail: "\(reply)") }
        return count
    }

    private func ids(_ command: RedisCommand) async throws(QueueError) -> [String] {
        try await send(command).array?.compactMap(\.string) ?? []
    }

    private func send(_ command: RedisCommand) async throws(QueueError) -> RedisValue {
        do { return try await redis.send(command) } catch { throw .redis(error) }
    }
}
