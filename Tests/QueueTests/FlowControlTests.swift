import Foundation
import PhoenixJobsCore
import PhoenixQueue
import PhoenixRedis
import Testing
import TestSupport

/// Fair share and concurrency limits (``FlowSettings``) against the real server: who gets fetched, who waits,
/// and the fair queue's structures after every kind of transition.
@Suite struct FlowControlTests {
    /// A queue engine whose `test.user` jobs take turns by their payload's `user_id`.
    func makeFairQueue() throws -> JobQueue {
        JobQueue(redis: try TestRedis.client(), keys: QueueKeys(prefix: TestRedis.uniquePrefix("phx")), retention: .seconds(3600),
                 fairnessFields: ["test.user": "user_id"])
    }

    func userJob(_ user: String, queue: String = "letters", priority: Int = 0, maxAttempts: Int = 3, delay: Duration? = nil) -> JobEnvelope {
        job(queue, type: "test.user", maxAttempts: maxAttempts, delay: delay, priority: priority, payload: ["user_id": .string(user)])
    }

    func users(_ jobs: [LeasedJob]) -> [String] {
        jobs.map { job in
            if case .string(let user)? = job.envelope.payload.objectValue?["user_id"] { user } else { "-" }
        }
    }

    func checkFairStructures(_ queue: JobQueue, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        #expect(try await fairStructureProblems(queue, "letters") == [], sourceLocation: sourceLocation)
    }

    @Test func keysTakeTurnsInAFairQueue() async throws {
        let queue = try makeFairQueue()
        try await queue.configureFlow(queue: "letters", fairShare: true)
        try await queue.enqueue((0..<100).map { _ in userJob("a") })
        try await queue.enqueue(userJob("b"))
        try await queue.enqueue([userJob("c"), userJob("c")])
        try await checkFairStructures(queue)
        #expect(try await queue.redis.send("LLEN", queue.keys.ready("letters")).int == 103)

        // One job of each user, in the order their first job came, though A's hundred came first.
        let token = JobQueue.newToken()
        let first = try await queue.fetch(queue: "letters", limit: 3, lease: .seconds(60), worker: "w", token: token)
        #expect(users(first) == ["a", "b", "c"])
        #expect(try await queue.redis.send("LLEN", queue.keys.ready("letters")).int == 100)
        try await checkFairStructures(queue)
        // A replay of the call returns the same jobs and takes no other.
        let replay = try await queue.fetch(queue: "letters", limit: 3, lease: .seconds(60), worker: "w", token: token)
        #expect(replay.map(\.envelope.id) == first.map(\.envelope.id))
        #expect(try await queue.redis.send("LLEN", queue.keys.ready("letters")).int == 100)

        // Two users left: each gets half of what is asked, then the keys visited fill the rest.
        let second = try await queue.fetch(queue: "letters", limit: 4, lease: .seconds(60), worker: "w")
        #expect(users(second).sorted() == ["a", "a", "a", "c"])
        let third = try await queue.fetch(queue: "letters", limit: 50, lease: .seconds(60), worker: "w")
        #expect(users(third) == Array(repeating: "a", count: 50))
        try await checkFairStructures(queue)
        let stats = try await queue.stats(queue: "letters")
        #expect(stats.ready == 46)
        #expect(stats.leased == 57)
    }

    @Test func aNewKeyIsServedBeforeAnEarlierBacklogEnds() async throws {
        let queue = try makeFairQueue()
        try await queue.configureFlow(queue: "letters", fairShare: true)
        try await queue.enqueue((0..<1000).map { _ in userJob("a") })
        let busy = try await queue.fetch(queue: "letters", limit: 10, lease: .seconds(60), worker: "w")
        #expect(users(busy) == Array(repeating: "a", count: 10))
        try await queue.enqueue(userJob("b"))
        // Each finished job frees one slot; B's job is among the next two fetched, not after A's 990.
        var started: [String] = []
        for leased in busy.prefix(2) {
            try await queue.ack([leased.lease])
            started += users(try await queue.fetch(queue: "letters", limit: 1, lease: .seconds(60), worker: "w"))
        }
        #expect(started.contains("b"), "fetched \(started)")
        try await checkFairStructures(queue)
    }

    @Test func priorityOrdersTheJobsOfOneKey() async throws {
        let queue = try makeFairQueue()
        try await queue.configureFlow(queue: "letters", fairShare: true)
        let plain = userJob("a")
        let urgent = userJob("a", priority: 1)
        try await queue.enqueue([plain, urgent])
        let fetched = try await queue.fetch(queue: "letters", limit: 1, lease: .seconds(60), worker: "w")
        #expect(fetched.map(\.envelope.id) == [urgent.id])
    }

    @Test func aKeyAtItsConcurrencyLimitWaitsParkedUntilOneOfItsJobsEnds() async throws {
        let queue = try makeFairQueue()
        let settings = try await queue.configureFlow(queue: "letters", fairShare: true, keyConcurrency: .atMost(1))
        #expect(settings == FlowSettings(fairShare: true, keyConcurrency: 1))
        try await queue.enqueue([userJob("a"), userJob("a"), userJob("a"), userJob("b")])

        let first = try await queue.fetch(queue: "letters", limit: 10, lease: .seconds(60), worker: "w")
        #expect(users(first).sorted() == ["a", "b"])
        // A's two other jobs wait without being fetched: no attempt, no worker slot.
        #expect(try await queue.fetch(queue: "letters", limit: 10, lease: .seconds(60), worker: "w").isEmpty)
        #expect(try await queue.redis.send("SMEMBERS", queue.keys.parked("letters")).array?.compactMap(\.string) == ["a"])
        try await checkFairStructures(queue)
        try await queue.redis.send("DEL", queue.keys.signal("letters"))

        // A's job ends: A gets its turn back, and idle workers are woken.
        let a = try #require(first.first { users([$0]) == ["a"] })
        try await queue.ack([a.lease])
        #expect(try await queue.redis.send("LLEN", queue.keys.signal("letters")).int == 1)
        let next = try await queue.fetch(queue: "letters", limit: 10, lease: .seconds(60), worker: "w")
        #expect(users(next) == ["a"])
        #expect(next.first?.envelope.attempt == 1)
        try await checkFairStructures(queue)

        // Every way out of `leased` gives the turn back: a failure, a hand-back, an expired lease.
        let retry = RetryPolicy(baseDelay: .zero, maxDelay: .zero)
        try await queue.fail([FailedAttempt(job: try #require(next.first), error: "boom", policy: retry)])
        let afterFail = try #require(try await queue.fetch(queue: "letters", limit: 10, lease: .seconds(60), worker: "w").first)
        #expect(users([afterFail]) == ["a"])
        try await checkFairStructures(queue)
        #expect(try await queue.release([afterFail.lease]) == 1)
        let afterRelease = try #require(try await queue.fetch(queue: "letters", limit: 10, lease: .seconds(60), worker: "w").first)
        #expect(afterRelease.envelope.id == afterFail.envelope.id)
        try await expire(afterRelease.lease, in: queue)
        #expect(try await queue.reapExpiredLeases(queue: "letters").requeued == 1)
        try await checkFairStructures(queue)
        let afterReap = try await queue.fetch(queue: "letters", limit: 10, lease: .seconds(60), worker: "w")
        #expect(afterReap.map(\.envelope.id) == [afterFail.envelope.id])
        try await checkFairStructures(queue)
    }

    @Test func raisingAKeyLimitFreesParkedKeysAtOnce() async throws {
        let queue = try makeFairQueue()
        try await queue.configureFlow(queue: "letters", fairShare: true, keyConcurrency: .atMost(1))
        try await queue.enqueue([userJob("a"), userJob("a"), userJob("a")])
        #expect(try await queue.fetch(queue: "letters", limit: 10, lease: .seconds(60), worker: "w").count == 1)
        #expect(try await queue.fetch(queue: "letters", limit: 10, lease: .seconds(60), worker: "w").isEmpty)
        try await queue.configureFlow(queue: "letters", keyConcurrency: .atMost(2))
        #expect(try await queue.fetch(queue: "letters", limit: 10, lease: .seconds(60), worker: "w").count == 1)
        try await queue.configureFlow(queue: "letters", keyConcurrency: .unlimited)
        #expect(try await queue.fetch(queue: "letters", limit: 10, lease: .seconds(60), worker: "w").count == 1)
        #expect(try await queue.flowSettings(queue: "letters") == FlowSettings(fairShare: true))
        try await checkFairStructures(queue)
    }

    @Test func theQueueConcurrencyLimitCapsLeasedJobsAcrossFetches() async throws {
        let queue = try makeQueue()
        try await queue.configureFlow(queue: "letters", concurrency: .atMost(2))
        try await queue.enqueue((0..<5).map { _ in job() })
        let first = try await queue.fetch(queue: "letters", limit: 10, lease: .seconds(60), worker: "w1")
        #expect(first.count == 2)
        #expect(try await queue.fetch(queue: "letters", limit: 10, lease: .seconds(60), worker: "w2").isEmpty)
        try await queue.redis.send("DEL", queue.keys.signal("letters"))
        try await queue.ack([first[0].lease])
        // The finished job makes room: waiting workers are woken and one more job is leased.
        #expect(try await queue.redis.send("LLEN", queue.keys.signal("letters")).int == 1)
        #expect(try await queue.fetch(queue: "letters", limit: 10, lease: .seconds(60), worker: "w2").count == 1)
        #expect(try await queue.stats(queue: "letters").leased == 2)
    }

    @Test func fairShareSwitchesOnlyWhileNoJobWaits() async throws {
        let queue = try makeFairQueue()
        try await queue.enqueue(userJob("a"))
        await #expect(throws: QueueError.self) { try await queue.configureFlow(queue: "letters", fairShare: true) }
        #expect(try await queue.flowSettings(queue: "letters") == FlowSettings())
        let leased = try await queue.fetch(queue: "letters", limit: 1, lease: .seconds(60), worker: "w")
        #expect(try await queue.configureFlow(queue: "letters", fairShare: true).fairShare)
        // The job leased before the switch was not counted against its key; its end changes no count.
        try await queue.ack(leased.map(\.lease))
        try await checkFairStructures(queue)
        await #expect(throws: QueueError.self) { try await queue.configureFlow(queue: "letters", keyConcurrency: .atMost(0)) }
    }

    @Test func delayedRetriedCancelledAndPurgedJobsKeepTheFairQueueConsistent() async throws {
        let queue = try makeFairQueue()
        try await queue.configureFlow(queue: "letters", fairShare: true, keyConcurrency: .atMost(2))
        let delayed = userJob("a", delay: .seconds(3600))
        let cancelled = userJob("b")
        let erased = userJob("erased-user")
        let doomed = userJob("c", maxAttempts: 1)
        try await queue.enqueue([delayed, cancelled, erased, doomed, userJob("c")])
        try await checkFairStructures(queue)

        #expect(try await queue.cancel(id: cancelled.idString) == .cancelled)
        #expect(try await queue.purgeJobs(mentioning: "erased-user") == 1)
        try await checkFairStructures(queue)
        try await makeDue(delayed, in: queue)
        #expect(try await queue.promoteDueJobs(queue: "letters") == 1)
        try await checkFairStructures(queue)

        let fetched = try await queue.fetch(queue: "letters", limit: 10, lease: .seconds(60), worker: "w")
        // B's cancelled job is dropped, the erased user's is gone; A's promoted job and C's two are leased.
        #expect(Set(fetched.map(\.envelope.id)).isSuperset(of: [delayed.id, doomed.id]))
        #expect(users(fetched).sorted() == ["a", "c", "c"])
        #expect(!fetched.contains { $0.envelope.id == cancelled.id || $0.envelope.id == erased.id })
        try await checkFairStructures(queue)

        let lastTry = try #require(fetched.first { $0.envelope.id == doomed.id })
        try await queue.fail([FailedAttempt(job: lastTry, error: "boom")])
        #expect(try await queue.job(id: doomed.idString)?.state == .dead)
        try await checkFairStructures(queue)
        #expect(try await queue.retryDead(queue: "letters", ids: [doomed.idString]) == [true])
        try await checkFairStructures(queue)
        let again = try await queue.fetch(queue: "letters", limit: 10, lease: .seconds(60), worker: "w")
        #expect(again.map(\.envelope.id) == [doomed.id])
        try await queue.ack((fetched + again).map(\.lease))
        try await checkFairStructures(queue)
        let stats = try await queue.stats(queue: "letters")
        #expect((stats.ready, stats.leased, stats.completed) == (0, 0, 3))
        #expect(try await queue.redis.send("EXISTS", queue.keys.running("letters"), queue.keys.parked("letters")).int == 0)
    }

    @Test func aLongFairnessKeyIsReplacedByItsDigest() throws {
        let queue = try makeFairQueue()
        #expect(queue.fairnessKey(of: userJob("u-1")) == "u-1")
        #expect(queue.fairnessKey(of: job(type: "test.user", payload: ["user_id": .number(42)])) == "42")
        #expect(queue.fairnessKey(of: job(type: "test.user", payload: [:])) == nil)
        #expect(queue.fairnessKey(of: job(type: "test.other", payload: ["user_id": .string("u")])) == nil)
        let long = queue.fairnessKey(of: userJob(String(repeating: "x", count: 500)))
        #expect(long?.hasPrefix("#") == true && (long?.utf8.count ?? 0) <= 17)
        #expect(long == queue.fairnessKey(of: userJob(String(repeating: "x", count: 500))))
    }
}

extension FlowControlTests {
    @Test func aWeightedKeyGetsItsWeightsShareInBatchesAndOneJobAtATime() async throws {
        let queue = try makeFairQueue()
        try await queue.configureFlow(queue: "letters", fairShare: true)
        try await queue.setFairShareWeight(3, forKey: "premium", queue: "letters")
        try await queue.enqueue((0..<40).map { _ in userJob("premium") } + (0..<40).map { _ in userJob("free") })

        // In one call of 8: three parts for the weight-3 key, one for the other.
        let batch = try await queue.fetch(queue: "letters", limit: 8, lease: .seconds(60), worker: "w")
        #expect(users(batch).filter { $0 == "premium" }.count == 6)
        #expect(users(batch).filter { $0 == "free" }.count == 2)

        // One job per call: three turns' worth of jobs in a row for the weight-3 key, then one for the other.
        var order: [String] = []
        for _ in 0..<12 { order += users(try await queue.fetch(queue: "letters", limit: 1, lease: .seconds(60), worker: "w")) }
        #expect(order.filter { $0 == "premium" }.count == 9, "fetched \(order)")
        #expect(order.filter { $0 == "free" }.count == 3, "fetched \(order)")
        #expect(try await fairStructureProblems(queue, "letters") == [])

        // Back to weight 1: the keys alternate.
        try await queue.setFairShareWeight(1, forKey: "premium", queue: "letters")
        var even: [String] = []
        for _ in 0..<6 { even += users(try await queue.fetch(queue: "letters", limit: 1, lease: .seconds(60), worker: "w")) }
        #expect(even.filter { $0 == "premium" }.count == 3, "fetched \(even)")
        await #expect(throws: QueueError.self) { try await queue.setFairShareWeight(0, forKey: "premium", queue: "letters") }
    }
}

extension FlowControlTests {
    @Test func aForeignValueAtAFairQueueKeyFailsCallsBeforeTheyWrite() async throws {
        let queue = try makeFairQueue()
        try await queue.configureFlow(queue: "letters", fairShare: true)
        try await queue.enqueue(userJob("a"))
        let leased = try await queue.fetch(queue: "letters", limit: 1, lease: .seconds(60), worker: "w")
        try await queue.redis.send("SET", queue.keys.turns("letters"), "not a list")

        await #expect(throws: QueueError.self) { try await queue.enqueue(userJob("b")) }
        #expect(try await queue.redis.send("LLEN", queue.keys.ready("letters")).int == 0)
        #expect(try await queue.redis.send("EXISTS", queue.keys.keyList("b", in: "letters")).int == 0)
        await #expect(throws: QueueError.self) { try await queue.ack(leased.map(\.lease)) }
        #expect(try await queue.job(id: leased[0].envelope.idString)?.state == .leased)
        #expect(try await queue.redis.send("HGET", queue.keys.counters("letters"), "completed") == .null)
    }
}

extension FlowControlTests {
    @Test func theRateLimitStartsASecondsWorthAtOnceThenSaysWhenToComeBack() async throws {
        let queue = try makeQueue()
        let settings = try await queue.configureFlow(queue: "letters", requestsPerMinute: .atMost(120))
        #expect(settings.requestsPerMinute == 120)
        try await queue.enqueue((0..<10).map { _ in job() })
        // 120 a minute: two a second, and a second's worth may start at once.
        let burst = try await queue.fetchJobs(queue: "letters", limit: 10, lease: .seconds(60), worker: "w")
        #expect(burst.jobs.count == 2 && burst.rateLimitedFor == nil)

        // One a minute: the next start is a minute away, and the fetch says so instead of leasing.
        try await queue.configureFlow(queue: "letters", requestsPerMinute: .atMost(1))
        try await queue.redis.send("HDEL", queue.keys.flow("letters"), "rateAt")
        let token = JobQueue.newToken()
        let one = try await queue.fetchJobs(queue: "letters", limit: 10, lease: .seconds(60), worker: "w", token: token)
        #expect(one.jobs.count == 1)
        // A replay of the call returns its job and spends nothing more of the rate.
        let rateAt = try await queue.redis.send("HGET", queue.keys.flow("letters"), "rateAt")
        #expect(try await queue.fetchJobs(queue: "letters", limit: 10, lease: .seconds(60), worker: "w", token: token).jobs == one.jobs)
        #expect(try await queue.redis.send("HGET", queue.keys.flow("letters"), "rateAt") == rateAt)
        let limited = try await queue.fetchJobs(queue: "letters", limit: 10, lease: .seconds(60), worker: "w")
        #expect(limited.jobs.isEmpty)
        let wait = try #require(limited.rateLimitedFor)
        #expect(wait > .seconds(30) && wait <= .seconds(60))

        // As if the minute had passed: the next job starts.
        try await queue.redis.send("HSET", queue.keys.flow("letters"), "rateAt", 0)
        #expect(try await queue.fetchJobs(queue: "letters", limit: 10, lease: .seconds(60), worker: "w").jobs.count == 1)
        // Without a limit the rest start at once.
        try await queue.configureFlow(queue: "letters", requestsPerMinute: .unlimited)
        #expect(try await queue.fetch(queue: "letters", limit: 10, lease: .seconds(60), worker: "w").count == 6)
        #expect(try await queue.redis.send("HEXISTS", queue.keys.flow("letters"), "rateAt").int == 0)
    }
}

extension FlowControlTests {
    @Test func theDefaultSwitchesFairShareOnOnlyWhereNoChoiceIsRecordedAndNoJobWaits() async throws {
        let queue = try makeFairQueue()
        #expect(try await queue.switchOnFairShareByDefault(queue: "letters"))
        #expect(try await queue.flowSettings(queue: "letters").fairShare)
        // An operator's choice outlasts the default, off as well as on.
        try await queue.configureFlow(queue: "letters", fairShare: false)
        #expect(try await queue.switchOnFairShareByDefault(queue: "letters"))
        #expect(try await !queue.flowSettings(queue: "letters").fairShare)
        // A queue with jobs waiting and no choice recorded cannot switch yet: nothing changes.
        try await queue.enqueue(userJob("a", queue: "cv"))
        #expect(try await !queue.switchOnFairShareByDefault(queue: "cv"))
        #expect(try await !queue.flowSettings(queue: "cv").fairShare)
        #expect(try await queue.fetch(queue: "cv", limit: 1, lease: .seconds(60), worker: "w").count == 1)
    }
}
