import Foundation
import PhoenixJobsCore
import PhoenixQueue
import PhoenixRedis
import Testing
import TestSupport

@Suite struct JobLifecycleTests {
    @Test func enqueueFetchAckCompletesAJob() async throws {
        let queue = try makeQueue()
        let new = job()
        let result = try await queue.enqueue(new)
        #expect(result == EnqueueResult(id: new.id, created: true))
        #expect(try await queue.job(id: new.idString)?.state == .ready)

        let fetched = try await queue.fetch(queue: "letters", limit: 10, lease: .seconds(30), worker: "w1")
        #expect(fetched.count == 1)
        let leased = try #require(fetched.first)
        #expect(leased.envelope.id == new.id)
        #expect(leased.envelope.attempt == 1)
        #expect(leased.envelope.payload == new.payload)
        let record = try #require(try await queue.job(id: new.idString))
        #expect(record.state == .leased)
        #expect(record.worker == "w1")

        #expect(try await queue.ack([leased.lease]) == [true])
        let completed = try #require(try await queue.job(id: new.idString))
        #expect(completed.state == .completed)
        #expect(completed.worker == "w1")
        #expect(completed.attempt == 1)
        #expect(try await queue.redis.send("ZCARD", queue.keys.leased("letters")).int == 0)
        let stats = try await queue.stats(queue: "letters")
        #expect((stats.ready, stats.delayed, stats.leased, stats.dead) == (0, 0, 0, 0))
        #expect(stats.enqueued == 1)
        #expect(stats.completed == 1)
        #expect(stats.completedPerMinute.reduce(0, +) == 1)
        // A second ack of the same lease (a replay) answers the same and changes nothing.
        #expect(try await queue.ack([leased.lease]) == [true])
        #expect(try await queue.stats(queue: "letters").completed == 1)
    }

    @Test func completedJobsExpireAfterTheRetention() async throws {
        let queue = try makeQueue(retention: .seconds(60))
        let new = job()
        try await queue.enqueue(new)
        #expect(try await queue.redis.send("PTTL", queue.keys.job(new.idString, in: "letters")).int == -1)
        let leased = try await queue.fetch(queue: "letters", limit: 1, lease: .seconds(30), worker: "w1")
        try await queue.ack(leased.map(\.lease))
        // Checked in milliseconds and as a range: a loaded machine may spend seconds between the ack and here.
        let ttl = try #require(try await queue.redis.send("PTTL", queue.keys.job(new.idString, in: "letters")).int)
        #expect(ttl > 0 && ttl <= 60_000)
    }

    @Test func expiredLeaseReturnsToReadyOnceAndIsFetchedWithTheNextAttempt() async throws {
        let queue = try makeQueue()
        let new = job(maxAttempts: 3)
        try await queue.enqueue(new)
        let first = try #require(try await queue.fetch(queue: "letters", limit: 1, lease: .seconds(60), worker: "crashed").first)
        #expect(first.envelope.attempt == 1)
        // Not expired yet: nothing to reap. (A 3 s lease here was reaped early on a loaded CI machine, which spent
        // more than that between the fetch and the reap.)
        #expect(try await queue.reapExpiredLeases(queue: "letters") == (0, 0))
        try await expire(first.lease, in: queue)
        #expect(try await queue.reapExpiredLeases(queue: "letters") == (1, 0))
        #expect(try await queue.reapExpiredLeases(queue: "letters") == (0, 0))
        let stats = try await queue.stats(queue: "letters")
        #expect((stats.ready, stats.leased, stats.failed) == (1, 0, 1))

        let second = try #require(try await queue.fetch(queue: "letters", limit: 10, lease: .seconds(30), worker: "healthy").first)
        #expect(second.envelope.id == new.id)
        #expect(second.envelope.attempt == 2)
        #expect(try await queue.job(id: new.idString)?.lastError?.contains("lease expired on attempt 1") == true)
        // The crashed worker's late ack does not complete the job the healthy worker now holds.
        #expect(try await queue.ack([first.lease]) == [false])
        #expect(try await queue.ack([second.lease]) == [true])
    }

    @Test func expiredLeaseOnTheLastAttemptBuriesTheJob() async throws {
        let queue = try makeQueue()
        let new = job(maxAttempts: 1)
        try await queue.enqueue(new)
        _ = try await queue.fetch(queue: "letters", limit: 1, lease: .milliseconds(50), worker: "crashed")
        try await Task.sleep(for: .milliseconds(150))
        #expect(try await queue.reapExpiredLeases(queue: "letters") == (0, 1))
        let dead = try await queue.deadJobs(queue: "letters")
        #expect(dead.map(\.id) == [new.idString])
        #expect(dead.first?.error.contains("lease expired") == true)
    }

    @Test func extendedLeasesAreNotReaped() async throws {
        let queue = try makeQueue()
        try await queue.enqueue(job())
        let leased = try await queue.fetch(queue: "letters", limit: 1, lease: .seconds(60), worker: "w1")
        // The lease's deadline has passed (moved to 1970, not slept through) when the extension comes, before
        // the reaper: the extension wins.
        try await expire(try #require(leased.first).lease, in: queue)
        #expect(try await queue.extendLeases(leased.map(\.lease), by: .seconds(30)) == [.extended])
        #expect(try await queue.reapExpiredLeases(queue: "letters") == (0, 0))
        #expect(try await queue.stats(queue: "letters").leased == 1)
    }

    @Test func jobFailingMaxAttemptsTimesEndsDeadWithItsLastError() async throws {
        let queue = try makeQueue()
        let new = job(maxAttempts: 3)
        try await queue.enqueue(new)
        var outcomes: [FailureOutcome] = []
        for round in 1...3 {
            let leased = try #require(try await queue.fetch(queue: "letters", limit: 1, lease: .seconds(30), worker: "w1").first)
            #expect(leased.envelope.attempt == round)
            outcomes += try await queue.fail([FailedAttempt(job: leased, error: "boom \(round)", policy: retryAtOnce)])
        }
        #expect(outcomes == [.retrying, .retrying, .dead])
        #expect(try await queue.fetch(queue: "letters", limit: 1, lease: .seconds(30), worker: "w1").isEmpty)
        let dead = try await queue.deadJobs(queue: "letters")
        #expect(dead.count == 1)
        #expect(dead.first?.id == new.idString)
        #expect(dead.first?.error == "boom 3")
        #expect(dead.first?.attempts == 3)
        #expect(dead.first?.type == "test.noop")
        let stats = try await queue.stats(queue: "letters")
        #expect((stats.ready, stats.delayed, stats.leased, stats.dead) == (0, 0, 0, 1))
        #expect(stats.failed == 3)
        #expect(stats.buried == 1)
        #expect(stats.failedPerMinute.reduce(0, +) == 3)
    }

    @Test func permanentFailureGoesStraightToDead() async throws {
        let queue = try makeQueue()
        try await queue.enqueue(job(maxAttempts: 5))
        let leased = try #require(try await queue.fetch(queue: "letters", limit: 1, lease: .seconds(30), worker: "w1").first)
        #expect(try await queue.fail([FailedAttempt(job: leased, error: "payload field 'user_id' missing", permanent: true)]) == [.dead])
        #expect(try await queue.deadJobs(queue: "letters").first?.error == "payload field 'user_id' missing")
    }

    @Test func failedJobWaitsForItsBackoffBeforeTheNextAttempt() async throws {
        let queue = try makeQueue()
        let new = job()
        try await queue.enqueue(new)
        let leased = try #require(try await queue.fetch(queue: "letters", limit: 1, lease: .seconds(30), worker: "w1").first)
        #expect(try await queue.fail([FailedAttempt(lease: leased.lease, error: "timeout", retryAfter: .seconds(3600))]) == [.retrying])
        #expect(try await queue.job(id: new.idString)?.state == .delayed)
        #expect(try await queue.promoteDueJobs(queue: "letters") == 0)
        #expect(try await queue.fetch(queue: "letters", limit: 1, lease: .seconds(30), worker: "w1").isEmpty)
        try await makeDue(new, in: queue)
        #expect(try await queue.promoteDueJobs(queue: "letters") == 1)
        let again = try #require(try await queue.fetch(queue: "letters", limit: 1, lease: .seconds(30), worker: "w1").first)
        #expect(again.envelope.attempt == 2)
        // A failure reported on a lease that is no longer held changes nothing.
        #expect(try await queue.fail([FailedAttempt(lease: leased.lease, error: "late", retryAfter: nil)]) == [.stale])
    }

    @Test func delayedJobIsNotFetchableBeforeItIsDueAndIsAfter() async throws {
        let queue = try makeQueue()
        // Due in an hour, then made due: with a delay of seconds, a loaded machine (CI, 2 cores) ran the checks
        // after the job was due (1 s and 3 s both failed there).
        let later = job(delay: .seconds(3600))
        try await queue.enqueue(later)
        #expect(try await queue.job(id: later.idString)?.state == .delayed)
        #expect(try await queue.promoteDueJobs(queue: "letters") == 0)
        #expect(try await queue.fetch(queue: "letters", limit: 10, lease: .seconds(30), worker: "w1").isEmpty)
        #expect(try await queue.stats(queue: "letters").delayed == 1)
        try await makeDue(later, in: queue)
        #expect(try await queue.promoteDueJobs(queue: "letters") == 1)
        let fetched = try await queue.fetch(queue: "letters", limit: 10, lease: .seconds(30), worker: "w1")
        #expect(fetched.map(\.envelope.id) == [later.id])
    }

    /// An ack batch checks every lease in one read and completes each job once: the same delivery named twice
    /// counts once, a stale delivery is refused, and the events and counters say so.
    @Test func anAckBatchCompletesEachCurrentDeliveryOnce() async throws {
        let queue = try makeQueue()
        try await queue.enqueue((0..<3).map { _ in job() })
        let leased = try await queue.fetch(queue: "letters", limit: 3, lease: .seconds(30), worker: "w1")
        #expect(leased.count == 3)
        let stale = JobLease(id: leased[2].lease.id, queue: "letters", token: "an-earlier-delivery")
        let answers = try await queue.ack([leased[0].lease, leased[1].lease, leased[0].lease, stale])
        #expect(answers == [true, true, true, false])
        let stats = try await queue.stats(queue: "letters")
        #expect((stats.completed, stats.leased, stats.completedPerMinute.reduce(0, +)) == (2, 1, 2))
        let events = try await queue.events(in: JobEventStream(queue: "letters"), after: .start)
        #expect(events.filter { $0.kind == .completed }.map(\.jobID).sorted() == [leased[0].lease.id, leased[1].lease.id].sorted())
        #expect(try await queue.job(id: leased[2].lease.id)?.state == .leased)
    }

    /// A batch of several script calls (over 500 jobs) keeps its order in line, plain and priority jobs mixed.
    @Test func aLargeBatchLinesUpInInputOrderWithItsPriorityJobsFirst() async throws {
        let queue = try makeQueue()
        let jobs = (0..<1_234).map { index in job(priority: index % 100 == 7 ? 1 : 0) }
        let results = try await queue.enqueue(jobs)
        #expect(results.map(\.id) == jobs.map(\.id))
        #expect(results.allSatisfy { $0.created })
        var fetched: [UUID] = []
        while case let page = try await queue.fetch(queue: "letters", limit: 500, lease: .seconds(30), worker: "w1"), !page.isEmpty {
            fetched += page.map(\.envelope.id)
        }
        let urgent = jobs.filter { $0.priority > 0 }.map(\.id), plain = jobs.filter { $0.priority == 0 }.map(\.id)
        // Priority jobs go to the front as they come, so the last one sent is fetched first.
        #expect(fetched == urgent.reversed() + plain)
        #expect(try await queue.stats(queue: "letters").enqueued == 1_234)
    }

    /// One call carrying plain jobs (whose options are left out of the call) between jobs with a delay, a
    /// priority or an idempotency key stores each as asked, and answers a repeated id or key with the first job.
    @Test func aCallMixingPlainJobsAndJobsWithOptionsStoresEachAsAsked() async throws {
        let queue = try makeQueue()
        let plain = job(), delayed = job(delay: .seconds(60)), urgent = job(priority: 5), keyed = job(idempotencyKey: "k")
        let later = job(), sameKey = job(idempotencyKey: "k")
        let results = try await queue.enqueue([plain, delayed, urgent, keyed, later, sameKey, plain])
        #expect(results.map(\.id) == [plain.id, delayed.id, urgent.id, keyed.id, later.id, keyed.id, plain.id])
        #expect(results.map(\.created) == [true, true, true, true, true, false, false])
        let stats = try await queue.stats(queue: "letters")
        #expect((stats.ready, stats.delayed, stats.enqueued) == (4, 1, 5))
        let fetched = try await queue.fetch(queue: "letters", limit: 10, lease: .seconds(30), worker: "w1")
        #expect(fetched.map(\.envelope.id) == [urgent.id, plain.id, keyed.id, later.id])
        #expect(fetched.map(\.envelope.priority) == [5, 0, 0, 0])
        #expect(fetched.map(\.envelope.idempotencyKey) == [nil, nil, "k", nil])
        #expect(try await queue.job(id: delayed.idString)?.state == .delayed)
    }

    /// Plain jobs in a row share their type and maxAttempts in the call (one group header); a job of another
    /// type or maxAttempts starts a new group, and each job's record keeps its own.
    @Test func plainJobsOfSeveralTypesInOneCallKeepEachTheirTypeAndAttempts() async throws {
        let queue = try makeQueue()
        let jobs = [job(type: "a"), job(type: "a"), job(type: "b"), job(type: "a", maxAttempts: 5), job(type: "a", maxAttempts: 5),
                    job(type: "a", priority: 2), job(type: "a"), job(type: "c", maxAttempts: 1)]
        let results = try await queue.enqueue(jobs)
        #expect(results.map(\.id) == jobs.map(\.id))
        #expect(results.allSatisfy { $0.created })
        for job in jobs {
            let stored = try await queue.redis.send("HMGET", queue.keys.job(job.idString, in: "letters"), "type", "maxAttempts", "state")
            #expect(stored.array?.map(\.string) == [job.type, String(job.maxAttempts), "ready"], "job of type \(job.type)")
        }
        let fetched = try await queue.fetch(queue: "letters", limit: 10, lease: .seconds(30), worker: "w1")
        #expect(fetched.map(\.envelope.id) == [jobs[5].id] + jobs.enumerated().filter { $0.offset != 5 }.map(\.element.id))
        #expect(fetched.map(\.envelope.type) == ["a", "a", "a", "b", "a", "a", "a", "c"])
    }

    @Test func priorityJobsAreFetchedFirstAndOthersInOrder() async throws {
        let queue = try makeQueue()
        let a = job(), b = job(), urgent = job(priority: 10)
        try await queue.enqueue([a, b])
        try await queue.enqueue(urgent)
        let fetched = try await queue.fetch(queue: "letters", limit: 10, lease: .seconds(30), worker: "w1")
        #expect(fetched.map(\.envelope.id) == [urgent.id, a.id, b.id])
    }

    @Test func releasedJobsGoBackToTheFrontWithTheirAttemptGivenBack() async throws {
        let queue = try makeQueue()
        let jobs = (0..<3).map { _ in job() }
        try await queue.enqueue(jobs)
        let fetched = try await queue.fetch(queue: "letters", limit: 3, lease: .seconds(30), worker: "w1")
        #expect(try await queue.release(Array(fetched.dropFirst()).map(\.lease)) == 2)
        let stats = try await queue.stats(queue: "letters")
        #expect((stats.ready, stats.leased) == (2, 1))
        let again = try await queue.fetch(queue: "letters", limit: 3, lease: .seconds(30), worker: "w2")
        #expect(Set(again.map(\.envelope.id)) == Set(jobs.dropFirst().map(\.id)))
        #expect(again.allSatisfy { $0.envelope.attempt == 1 })
    }
}
