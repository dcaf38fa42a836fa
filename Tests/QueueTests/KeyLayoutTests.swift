import PhoenixQueue
import PhoenixRedis
import Testing
import TestSupport

/// Issue 18 (4): the key layout is recorded in Redis, and a process of another layout refuses to run on it.
@Suite struct KeyLayoutTests {
    @Test func aNewPrefixRecordsThisLayoutAndPassesAgain() async throws {
        let queue = try makeQueue()
        #expect(try await KeyLayoutCheck.verify(queue) == QueueKeys.version)
        #expect(try await queue.redis.send("HGET", queue.keys.layout, "version") == .bulk(Array("\(QueueKeys.version)".utf8)))
        // Queues of this layout are no reason to refuse.
        try await queue.enqueue(job())
        #expect(try await KeyLayoutCheck.verify(queue) == QueueKeys.version)
    }

    @Test func aRecordOfAnotherLayoutIsRefused() async throws {
        let queue = try makeQueue()
        try await queue.redis.send("HSET", queue.keys.layout, "version", 3)
        await #expect(throws: KeyLayoutError.otherVersion(3, prefix: queue.keys.prefix)) { try await KeyLayoutCheck.verify(queue) }
        #expect(KeyLayoutError.otherVersion(3, prefix: "phx").description.contains("give this one another PHOENIX_KEY_PREFIX"))
    }

    @Test func layoutOneQueuesWithoutARecordAreRefusedByName() async throws {
        let queue = try makeQueue()
        try await queue.redis.send("SADD", queue.keys.queues, "letters", "cv")
        try await queue.redis.send("RPUSH", "\(queue.keys.prefix):queue:letters:ready", "an-old-job")
        await #expect(throws: KeyLayoutError.layoutOneData(queues: ["letters"], prefix: queue.keys.prefix)) { try await KeyLayoutCheck.verify(queue) }
        // Nothing was recorded: the old keys are still the ones in use.
        #expect(try await queue.redis.send("HGET", queue.keys.layout, "version") == .null)
    }
}
