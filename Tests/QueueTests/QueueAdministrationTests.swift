import Foundation
import PhoenixJobsCore
import PhoenixQueue
import PhoenixRedis
import Testing
import TestSupport

@Suite struct QueueAdministrationTests {
    @Test func secondEnqueueWithTheSameIdempotencyKeyReturnsTheFirstIdAndAddsNothing() async throws {
        let queue = try makeQueue()
        let first = job(idempotencyKey: "letter-42")
        let second = job(idempotencyKey: "letter-42")
        #expect(try await queue.enqueue(first) == EnqueueResult(id: first.id, created: true))
        #expect(try await queue.enqueue(second) == EnqueueResult(id: first.id, created: false))
        // Within one batch too.
        let batch = try await queue.enqueue([job(idempotencyKey: "k2"), job(idempotencyKey: "k2")])
        #expect(batch[0].created && !batch[1].created && batch[0].id == batch[1].id)
        let stats = try await queue.stats(queue: "letters")
        #expect(stats.ready == 2)
        #expect(stats.enqueued == 2)
        #expect(try await queue.job(id: second.idString) == nil)
    }

    @Test func enqueueingTheSameJobIdTwiceAddsItOnce() async throws {
        let queue = try makeQueue()
        let new = job()
        try await queue.enqueue(new)
        #expect(try await queue.enqueue(new) == EnqueueResult(id: new.id, created: false))
        #expect(try await queue.stats(queue: "letters").ready == 1)
    }

    @Test func tenThousandJobsInBatchesLeaveEveryCountAtZero() async throws {
        let queue = try makeQueue()
        let jobs = (0..<10_000).map { index in job(payload: ["index": .number(Double(index))]) }
        for batch in stride(from: 0, to: jobs.count, by: 1000) {
            let results = try await queue.enqueue(Array(jobs[batch..<(batch + 1000)]))
            #expect(results.allSatisfy { $0.created })
        }
        #expect(try await queue.stats(queue: "letters").ready == 10_000)
        var seen = Set<UUID>()
        while true {
            let fetched = try await queue.fetch(queue: "letters", limit: 500, lease: .seconds(60), worker: "bulk")
            if fetched.isEmpty { break }
            seen.formUnion(fetched.map(\.envelope.id))
            #expect(try await queue.ack(fetched.map(\.lease)).allSatisfy { $0 })
        }
        #expect(seen == Set(jobs.map(\.id)))
        let stats = try await queue.stats(queue: "letters")
        #expect((stats.ready, stats.delayed, stats.leased, stats.dead) == (0, 0, 0, 0))
        #expect(stats.completed == 10_000)
        #expect(stats.enqueued == 10_000)
        #expect(stats.completedPerMinute.reduce(0, +) == 10_000)
    }

    @Test func pausedQueueYieldsNothingUntilResumed() async throws {
        let queue = try makeQueue()
        try await queue.pause(queue: "letters")
        try await queue.enqueue(job())
        #expect(try await queue.fetch(queue: "letters", limit: 10, lease: .seconds(30), worker: "w1").isEmpty)
        #expect(try await queue.stats(queue: "letters").paused)
        #expect(try await queue.resume(queue: "letters"))
        #expect(try await queue.fetch(queue: "letters", limit: 10, lease: .seconds(30), worker: "w1").count == 1)
        #expect(try await queue.resume(queue: "letters") == false)
    }

    @Test func cancelRemovesWaitingJobsAndMarksRunningOnes() async throws {
        let queue = try makeQueue()
        let ready = job(), delayed = job(delay: .seconds(60)), running = job()
        try await queue.enqueue([ready, delayed])
        #expect(try await queue.cancel(id: ready.idString) == .cancelled)
        #expect(try await queue.cancel(id: delayed.idString) == .cancelled)
        let again = try await queue.cancel(id: ready.idString)
        #expect(again == .notCancellable(.cancelled))
        #expect(try await queue.cancel(id: UUID().uuidString.lowercased()) == .notFound)
        try await queue.enqueue(running)
        let leased = try await queue.fetch(queue: "letters", limit: 10, lease: .seconds(30), worker: "w1")
        #expect(leased.map(\.envelope.id) == [running.id])
        // A running job is only marked: it stays leased until its worker is told and ends it.
        #expect(try await queue.cancel(id: running.idString) == .cancelling)
        #expect(try await queue.cancel(id: running.idString) == .cancelling)
        let stats = try await queue.stats(queue: "letters")
        #expect((stats.ready, stats.delayed, stats.leased, stats.cancelled) == (0, 0, 1, 2))
        #expect(try await queue.runningJobs(queue: "letters").map(\.cancelling) == [true])
    }

    /// Each way a marked running job's delivery can end: its worker fails it (the cancelled handler), hands it
    /// back, acks it (the handler completed first) or dies (its lease expires).
    @Test func aRunningJobWhoseCancellationWasAskedEndsCancelledUnlessItCompleted() async throws {
        let queue = try makeQueue()
        let jobs = (0..<4).map { _ in job(maxAttempts: 3) }
        try await queue.enqueue(jobs)
        let leased = try await queue.fetch(queue: "letters", limit: 4, lease: .seconds(30), worker: "w1")
        #expect(leased.count == 4)
        let byID = Dictionary(uniqueKeysWithValues: leased.map { ($0.envelope.id, $0.lease) })
        let (failed, handedBack, acked, expired) = (byID[jobs[0].id]!, byID[jobs[1].id]!, byID[jobs[2].id]!, byID[jobs[3].id]!)
        for job in jobs { #expect(try await queue.cancel(id: job.idString) == .cancelling) }
        // The heartbeat tells the worker; the lease runs on meanwhile.
        #expect(try await queue.extendLeases([failed, handedBack], by: .seconds(30)) == [.cancelRequested, .cancelRequested])

        // Failed with a retry left: it ends cancelled, not retried, and no failed attempt is counted.
        #expect(try await queue.fail([FailedAttempt(lease: failed, error: "cancelled while running", retryAfter: .zero)]) == [.cancelled])
        #expect(try await queue.release([handedBack]) == 1)
        #expect(try await queue.ack([acked]) == [true])
        try await expire(expired, in: queue)
        // The reaper neither requeues nor buries it.
        #expect(try await queue.reapExpiredLeases(queue: "letters") == (0, 0))

        #expect(try await queue.job(id: jobs[0].idString)?.state == .cancelled)
        #expect(try await queue.job(id: jobs[1].idString)?.state == .cancelled)
        #expect(try await queue.job(id: jobs[2].idString)?.state == .completed)
        #expect(try await queue.job(id: jobs[3].idString)?.state == .cancelled)
        let stats = try await queue.stats(queue: "letters")
        #expect((stats.ready, stats.delayed, stats.leased, stats.dead) == (0, 0, 0, 0))
        #expect((stats.cancelled, stats.completed, stats.failed) == (3, 1, 0))
        // A cancelled job's hash expires with the retention period, as a waiting one's does.
        #expect(try await queue.redis.send("TTL", queue.keys.job(jobs[0].idString, in: "letters")).int ?? 0 > 0)
        // Nothing is left to cancel.
        #expect(try await queue.cancel(id: jobs[0].idString) == .notCancellable(.cancelled))
        #expect(try await queue.cancel(id: jobs[2].idString) == .notCancellable(.completed))
    }

    @Test func deadJobsCanBeRetriedOrDiscarded() async throws {
        let queue = try makeQueue()
        let jobs = [job(maxAttempts: 1), job(maxAttempts: 1)]
        try await queue.enqueue(jobs)
        let fetched = try await queue.fetch(queue: "letters", limit: 2, lease: .seconds(30), worker: "w1")
        try await queue.fail(fetched.map { FailedAttempt(job: $0, error: "provider down") })
        #expect(try await queue.stats(queue: "letters").dead == 2)

        #expect(try await queue.retryDead(queue: "letters", ids: [jobs[0].idString, "not-dead"]) == [true, false])
        let retried = try #require(try await queue.fetch(queue: "letters", limit: 2, lease: .seconds(30), worker: "w1").first)
        #expect(retried.envelope.id == jobs[0].id)
        #expect(retried.envelope.attempt == 1)

        #expect(try await queue.discardDead(queue: "letters", ids: [jobs[1].idString]) == [true])
        #expect(try await queue.job(id: jobs[1].idString) == nil)
        #expect(try await queue.deadJobs(queue: "letters").isEmpty)
    }

    @Test func malformedJobsFoundInRedisAreMovedToTheDeadSet() async throws {
        let queue = try makeQueue()
        let redis = queue.redis, keys = queue.keys
        let good = job()
        try await queue.enqueue(good)
        // Hand-written garbage: bad JSON, a valid JSON that is not an envelope, an id without data, a string key.
        try await redis.send("HSET", keys.job("garbage-json", in: "letters"), "envelope", "{not json", "attempt", 0, "maxAttempts", 3)
        try await redis.send("HSET", keys.job("wrong-shape", in: "letters"), "envelope", #"{"id":"x","type":1}"#, "attempt", 0)
        try await redis.send("SET", keys.job("a-string", in: "letters"), "hello")
        try await redis.send("LPUSH", keys.ready("letters"), "garbage-json", "wrong-shape", "no-data", "a-string")

        let fetched = try await queue.fetch(queue: "letters", limit: 10, lease: .seconds(30), worker: "w1")
        #expect(fetched.map(\.envelope.id) == [good.id])
        let dead = Dictionary(uniqueKeysWithValues: try await queue.deadJobs(queue: "letters").map { ($0.id, $0.error) })
        #expect(dead.count == 4)
        #expect(dead["garbage-json"]?.hasPrefix("malformed envelope: ") == true)
        #expect(dead["wrong-shape"]?.contains("field 'id'") == true)
        #expect(dead["no-data"]?.contains("job data is missing") == true)
        #expect(dead["a-string"]?.contains("held a string") == true)
        // The foreign value is kept aside, not destroyed.
        #expect(try await redis.send("GET", keys.job("a-string", in: "letters") + ":corrupt").string == "hello")
        let stats = try await queue.stats(queue: "letters")
        #expect((stats.ready, stats.leased, stats.dead) == (0, 1, 4))
    }

    @Test func statsReportTheAgeOfTheNextReadyJob() async throws {
        let queue = try makeQueue()
        #expect(try await queue.stats(queue: "letters").oldestReadyAge == nil)
        try await queue.enqueue(job())
        try await Task.sleep(for: .milliseconds(200))
        let age = try #require(try await queue.stats(queue: "letters").oldestReadyAge)
        #expect(age >= .milliseconds(200))
        #expect(try await queue.queues() == ["letters"])
    }

    @Test func idleWorkersAreWokenByEnqueueAndTimeOutOtherwise() async throws {
        let queue = try makeQueue()
        #expect(try await queue.waitForJobs(queues: ["letters", "cv"], timeout: .milliseconds(100)) == nil)
        let waiter = Task { try await queue.waitForJobs(queues: ["letters", "cv"], timeout: .seconds(10)) }
        try await Task.sleep(for: .milliseconds(100))
        try await queue.enqueue(job("cv"))
        #expect(try await waiter.value == "cv")
        // The token is consumed; a fetch that leaves jobs behind raises it again for the next idle worker.
        try await queue.enqueue([job("cv"), job("cv")])
        #expect(try await queue.waitForJobs(queues: ["cv"], timeout: .milliseconds(100)) == "cv")
        _ = try await queue.fetch(queue: "cv", limit: 1, lease: .seconds(30), worker: "w1")
        #expect(try await queue.waitForJobs(queues: ["cv"], timeout: .milliseconds(100)) == "cv")
    }

    @Test func invalidJobsAreRefusedBeforeAnythingIsStored() async throws {
        let queue = try makeQueue()
        let bad = JobEnvelope(type: "test.noop", queue: "Bad Queue!", payload: .object([:]))
        await #expect {
            try await queue.enqueue([job(), bad])
        } throws: { error in
            "\(error)".contains("queue 'Bad Queue!' must be")
        }
        let notObject = JobEnvelope(type: "test.noop", queue: "letters", payload: .array([]))
        await #expect {
            try await queue.enqueue(notObject)
        } throws: { error in
            "\(error)".contains("payload must be a JSON object")
        }
        #expect(try await queue.stats(queue: "letters").enqueued == 0)
    }
}
