import Foundation
import PhoenixJobsCore
@testable import PhoenixQueue
import PhoenixRedis
import Testing
import TestSupport

/// Keys holding foreign values, a Redis out of memory, a server the engine cannot run on, and the smaller
/// paths of issue 15: cancel in O(1), idempotency keys that outlive their job's delay.
@Suite struct ServerFaultTests {
    @Test func aForeignValueAtAQueueKeyFailsTheFetchBeforeItPopsAnything() async throws {
        let queue = try makeQueue()
        let new = job()
        try await queue.enqueue(new)
        try await queue.redis.send("SET", queue.keys.leased("letters"), "not-a-sorted-set")
        await #expect(throws: QueueError.self) {
            try await queue.fetch(queue: "letters", limit: 1, lease: .seconds(30), worker: "w1")
        }
        // Before the type check, the id was popped and its hash marked leased, then ZADD failed: lost.
        #expect(try await queue.redis.send("LRANGE", queue.keys.ready("letters"), 0, -1).array?.compactMap(\.string) == [new.idString])
        #expect(try await queue.job(id: new.idString)?.state == .ready)
        try await queue.redis.send("DEL", queue.keys.leased("letters"))
        #expect(try await queue.fetch(queue: "letters", limit: 1, lease: .seconds(30), worker: "w1").map(\.envelope.id) == [new.id])
    }

    @Test func anEnqueueIntoABrokenQueueWritesNothing() async throws {
        let queue = try makeQueue()
        try await queue.redis.send("SET", queue.keys.ready("letters"), "not-a-list")
        let new = job(idempotencyKey: "k1")
        await #expect(throws: QueueError.self) { try await queue.enqueue(new) }
        #expect(try await queue.redis.send("EXISTS", queue.keys.job(new.idString, in: "letters"), queue.keys.idempotency("k1", in: "letters")).int == 0)
        try await queue.redis.send("DEL", queue.keys.ready("letters"))
        #expect(try await queue.enqueue(new).created)
    }

    @Test func aLeasedOrDelayedJobWhoseKeyWasOverwrittenGoesDeadInsteadOfVanishing() async throws {
        let queue = try makeQueue()
        // A delay and a lease far longer than the test, made due by moving their scores to 1970: with a delay
        // of one second, a run slowed by a loaded machine enqueued the job after it was due (straight to ready).
        let leased = job(maxAttempts: 3), delayed = job(delay: .seconds(3600))
        try await queue.enqueue([leased, delayed])
        #expect(try await queue.fetch(queue: "letters", limit: 1, lease: .seconds(3600), worker: "crashed").map(\.envelope.id) == [leased.id])
        #expect(try await queue.redis.send("ZADD", queue.keys.leased("letters"), "XX", "CH", 0, leased.idString) == .integer(1))
        try await makeDue(delayed, in: queue)
        try await queue.redis.send("SET", queue.keys.job(leased.idString, in: "letters"), "garbage")
        try await queue.redis.send("SET", queue.keys.job(delayed.idString, in: "letters"), "garbage")
        // Before, reap and promote removed the id, then failed on the foreign value: the job was in no set.
        #expect(try await queue.reapExpiredLeases(queue: "letters") == (0, 1))
        #expect(try await queue.promoteDueJobs(queue: "letters") == 0)
        let dead = try await queue.deadJobs(queue: "letters")
        #expect(Set(dead.map(\.id)) == [leased.idString, delayed.idString])
        #expect(dead.allSatisfy { $0.error.contains("job key held a string") })
        #expect(try await queue.redis.send("GET", queue.keys.job(leased.idString, in: "letters") + ":corrupt").string == "garbage")
    }

    @Test func aFullRedisStillKeepsLeasesAliveAndFinishesJobsButRefusesNewOnes() async throws {
        let server = try await RedisServerProcess()
        let queue = JobQueue(redis: RedisClient(configuration: try RedisConfiguration(url: server.url)), keys: QueueKeys(prefix: "phx"))
        defer { queue.redis.shutdown() }
        try await queue.enqueue([job(maxAttempts: 1), job(maxAttempts: 1), job()])
        let fetched = try await queue.fetch(queue: "letters", limit: 2, lease: .seconds(30), worker: "w1")
        // Out of memory at once: any maxmemory below what the server uses, with noeviction.
        try await queue.redis.send("CONFIG", "SET", "maxmemory-policy", "noeviction")
        try await queue.redis.send("CONFIG", "SET", "maxmemory", "1")
        #expect(try await queue.extendLeases(fetched.map(\.lease), by: .seconds(60)) == [.extended, .extended])
        try await queue.heartbeat(WorkerInfo(id: "w1", type: "letters", queues: ["letters"], host: "h", pid: 1, version: "t", concurrency: 1, startedAt: Date()), staleAfter: .seconds(30))
        #expect(try await queue.ack([fetched[0].lease]) == [true])
        #expect(try await queue.fail([FailedAttempt(lease: fetched[1].lease, error: "boom", retryAfter: nil)]) == [.dead])
        #expect(try await queue.reapExpiredLeases(queue: "letters") == (0, 0))
        #expect(try await queue.stats(queue: "letters").completed == 1)
        let refusal = await #expect(throws: QueueError.self) { try await queue.enqueue(job()) }
        #expect(refusal.map { "\($0)" }?.contains("Redis error OOM") == true)
    }

    /// A batch whose calls cannot go out at all (here the client was shut down) fails as a whole, rather than
    /// answering for none of its jobs.
    @Test func aBatchThatCannotBeSentThrows() async throws {
        let queue = try makeQueue()
        try await queue.enqueue(job())
        queue.redis.shutdown()
        let jobs = (0..<(JobQueue.enqueueCallSize + 50)).map { _ in job() }
        await #expect(throws: QueueError.self) { try await queue.enqueue(jobs) }
    }

    /// A batch's calls are all sent before the first answers: one refused (a foreign value at an idempotency
    /// key) fails the batch, and the calls before and after it store their jobs, in order.
    @Test func aCallRefusedInABatchLeavesTheOtherCallsJobsStored() async throws {
        let queue = try makeQueue()
        try await queue.redis.send("RPUSH", queue.keys.idempotency("taken", in: "letters"), "foreign")
        let count = 3 * JobQueue.enqueueCallSize
        // The job with the foreign key is in the third of the batch's calls.
        let calls = Array(0..<count).chunked(growingFrom: JobQueue.firstEnqueueCallSize, to: JobQueue.enqueueCallSize)
        let refused = calls[2]
        let jobs = (0..<count).map { index in job(idempotencyKey: index == refused.first ? "taken" : nil) }
        let refusal = await #expect(throws: QueueError.self) { try await queue.enqueue(jobs) }
        #expect(refusal.map { "\($0)" }?.contains("WRONGTYPE") == true)
        let stored = Array(jobs[..<refused.startIndex] + jobs[refused.endIndex...])
        #expect(try await queue.stats(queue: "letters").enqueued == stored.count)
        let fetched = try await queue.fetch(queue: "letters", limit: 500, lease: .seconds(30), worker: "w1")
        #expect(fetched.map(\.envelope.id) == stored.map(\.id))
    }

    @Test func theServerCheckRefusesAnEvictingRedisNamingTheSetting() async throws {
        #expect(try await RedisServerCheck.verify(try TestRedis.client()).maxmemoryPolicy == "noeviction")
        let server = try await RedisServerProcess()
        let redis = RedisClient(configuration: try RedisConfiguration(url: server.url))
        defer { redis.shutdown() }
        try await redis.send("CONFIG", "SET", "maxmemory-policy", "allkeys-lru")
        await #expect(throws: RedisServerRequirementError.evictionPolicy("allkeys-lru")) { try await RedisServerCheck.verify(redis) }
        #expect(RedisServerRequirementError.evictionPolicy("allkeys-lru").description.contains("maxmemory-policy to noeviction"))
        #expect(throws: RedisServerRequirementError.versionTooOld("6.2.14")) {
            try RedisServerCheck.check(.init(version: "6.2.14", maxmemoryPolicy: "noeviction"))
        }
        try RedisServerCheck.check(.init(version: "7.0.15", maxmemoryPolicy: "noeviction"))
        try RedisServerCheck.check(.init(version: "8.0.2", maxmemoryPolicy: "noeviction"))
    }

    @Test func cancelLeavesTheListAloneAndTheFetchDropsTheCancelledId() async throws {
        let queue = try makeQueue(retention: .seconds(60))
        let jobs = (0..<3).map { _ in job() }
        try await queue.enqueue(jobs)
        #expect(try await queue.cancel(id: jobs[0].idString) == .cancelled)
        #expect(try await queue.cancel(id: jobs[0].idString) == .notCancellable(.cancelled))
        // O(1): the id is still in the list (LREM scanned it), and the ready count leaves it out.
        #expect(try await queue.redis.send("LLEN", queue.keys.ready("letters")).int == 3)
        #expect(try await queue.stats(queue: "letters").ready == 2)
        let fetched = try await queue.fetch(queue: "letters", limit: 3, lease: .seconds(30), worker: "w1")
        #expect(Set(fetched.map(\.envelope.id)) == [jobs[1].id, jobs[2].id])
        let stats = try await queue.stats(queue: "letters")
        #expect((stats.ready, stats.leased, stats.cancelled) == (0, 2, 1))
        #expect(try await queue.job(id: jobs[0].idString)?.state == .cancelled)
        let ttl = try #require(try await queue.redis.send("PTTL", queue.keys.job(jobs[0].idString, in: "letters")).int)
        #expect(ttl > 0 && ttl <= 60_000)
    }

    @Test func anIdempotencyKeyOutlivesItsJobsDelayAndStripesRetries() async throws {
        let queue = try makeQueue()
        try await queue.enqueue([job(idempotencyKey: "now"), job(delay: .seconds(2 * 24 * 3600), idempotencyKey: "later")])
        let week = 7 * 24 * 3600
        let now = try #require(try await queue.redis.send("TTL", queue.keys.idempotency("now", in: "letters")).int)
        let later = try #require(try await queue.redis.send("TTL", queue.keys.idempotency("later", in: "letters")).int)
        // Stripe retries a webhook for up to three days; a key now lasts a week past the job's due time.
        #expect(now > week - 60 && now <= week)
        #expect(later > week + 2 * 24 * 3600 - 60 && later <= week + 2 * 24 * 3600 + 1)
    }
}
