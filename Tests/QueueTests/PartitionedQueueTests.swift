import Foundation
import PhoenixJobsCore
import PhoenixQueue
import PhoenixRedis
import Testing
import TestSupport

/// Issue 18 (4): a hot queue split into partitions, one hash tag each.
@Suite struct PartitionedQueueTests {
    private func makePartitionedQueue(_ count: Int = 3) throws -> JobQueue {
        JobQueue(redis: try TestRedis.client(), keys: QueueKeys(prefix: TestRedis.uniquePrefix("phx"), partitions: ["letters": count]))
    }

    @Test func partitionTagsFallInSuccessiveShares() {
        for count in [2, 3, 5] {
            let keys = QueueKeys(partitions: ["letters": count])
            let slots = (0..<count).map { RedisClusterSlot.of(keys.base("letters", partition: $0)) }
            // Partition 0 keeps the queue's own tag, so a queue split later keeps its jobs where they are.
            #expect(keys.base("letters", partition: 0) == QueueKeys().base("letters"))
            let shares = slots.map { $0 * count / RedisClusterSlot.count }
            #expect(Set(shares).count == count, "\(count) partitions: slots \(slots)")
        }
        #expect(QueueKeys(partitions: ["letters": 1]).partitionCount("letters") == 1)
    }

    @Test func enqueueSpreadsJobsAndFetchesDrainEveryPartition() async throws {
        let queue = try makePartitionedQueue()
        let jobs = (0..<300).map { _ in job() }
        try await queue.enqueue(jobs)
        var lengths: [Int] = []
        for partition in 0..<3 { lengths.append(try await queue.redis.send("LLEN", queue.keys.ready("letters", partition: partition)).int ?? 0) }
        #expect(lengths.reduce(0, +) == 300)
        #expect(lengths.allSatisfy { (60...140).contains($0) }, "ready per partition: \(lengths)")
        let stats = try await queue.stats(queue: "letters")
        #expect((stats.ready, stats.enqueued) == (300, 300))

        var fetched: [LeasedJob] = []
        while true {
            let batch = try await queue.fetch(queue: "letters", limit: 50, lease: .seconds(30), worker: "w")
            if batch.isEmpty { break }
            fetched += batch
        }
        #expect(Set(fetched.map(\.envelope.id)) == Set(jobs.map(\.id)))
        #expect(Set(fetched.map(\.lease.partition)) == [0, 1, 2])
        #expect(try await queue.ack(fetched.map(\.lease)).allSatisfy { $0 })
        let done = try await queue.stats(queue: "letters")
        #expect((done.ready, done.leased, done.completed) == (0, 0, 300))
    }

    @Test func anIdempotencyKeyFindsItsFirstJobWhateverTheNewId() async throws {
        let queue = try makePartitionedQueue()
        for number in 0..<20 {
            let first = job(idempotencyKey: "key-\(number)"), second = job(idempotencyKey: "key-\(number)")
            #expect(try await queue.enqueue(first).created)
            let again = try await queue.enqueue(second)
            #expect(again.id == first.id && !again.created)
        }
        #expect(try await queue.stats(queue: "letters").enqueued == 20)
    }

    @Test func jobsAreFoundCancelledPausedAndRetriedInWhicheverPartitionTheyAre() async throws {
        let queue = try makePartitionedQueue()
        let jobs = (0..<12).map { _ in job(maxAttempts: 1) }
        try await queue.enqueue(jobs)
        for job in jobs { #expect(try await queue.job(id: job.idString)?.state == .ready) }
        #expect(try await queue.cancel(id: jobs[0].idString) == .cancelled)

        try await queue.pause(queue: "letters")
        #expect(try await queue.fetch(queue: "letters", limit: 50, lease: .seconds(30), worker: "w").isEmpty)
        #expect(try await queue.stats(queue: "letters").paused)
        #expect(try await queue.resume(queue: "letters"))

        var fetched: [LeasedJob] = []
        while true {
            let batch = try await queue.fetch(queue: "letters", limit: 50, lease: .seconds(30), worker: "w")
            if batch.isEmpty { break }
            fetched += batch
        }
        #expect(fetched.count == 11)
        _ = try await queue.fail(fetched.map { FailedAttempt(lease: $0.lease, error: "boom", retryAfter: nil) })
        let dead = try await queue.deadJobs(queue: "letters", limit: 100)
        #expect(Set(dead.map(\.id)) == Set(fetched.map(\.lease.id)))
        #expect(try await queue.deadJobs(queue: "letters", offset: 5, limit: 3).map(\.id) == Array(dead.map(\.id)[5..<8]))
        let ids = dead.map(\.id)
        #expect(try await queue.retryDead(queue: "letters", ids: Array(ids.prefix(6)) + ["not-a-job"]) == Array(repeating: true, count: 6) + [false])
        #expect(try await queue.discardDead(queue: "letters", ids: Array(ids.dropFirst(6))) == Array(repeating: true, count: 5))
        let stats = try await queue.stats(queue: "letters")
        #expect((stats.ready, stats.dead, stats.cancelled) == (6, 0, 1))
    }

    /// On a cluster a wait blocks on each partition's signal, one `BLPOP` per slot, and the first to be
    /// signalled ends the others. Every round is woken by its job.
    @Test func anIdleWorkerIsWokenByAJobInAnyPartition() async throws {
        let queue = try makePartitionedQueue()
        for round in 0..<6 {
            let waiting = Task { try await queue.waitForJobs(queues: ["letters"], timeout: .seconds(10)) }
            try await Task.sleep(for: .milliseconds(50))
            try await queue.enqueue(job())
            #expect(try await waiting.value == "letters", "round \(round) was not woken")
            #expect(try await queue.fetch(queue: "letters", limit: 10, lease: .seconds(30), worker: "w").count == 1)
        }
    }

    /// A wait that is over leaves no `BLPOP` behind on any partition to take the next signal. They were ended by
    /// closing their connections, and the server could still hand a token to one before it saw the close: a
    /// wake-up then went missing (one round in six to twelve of the test above, under a full parallel run).
    @Test func aWaitThatIsOverLeavesNothingToTakeTheNextSignal() async throws {
        let queue = try makePartitionedQueue()
        let signals = (0..<3).map { queue.keys.signal("letters", partition: $0) }
        for round in 0..<50 {
            let waiting = Task { try await queue.waitForJobs(queues: ["letters"], timeout: .seconds(10)) }
            try await Task.sleep(for: .milliseconds(10))
            try await queue.enqueue(job())
            #expect(try await waiting.value == "letters")
            // The one token was taken by the wait, and none was made up.
            for key in signals { #expect(try await queue.redis.send("LLEN", key) == .integer(0), "round \(round): \(key) holds a token") }
            for key in signals {
                try await queue.redis.send("LPUSH", key, "1")
                #expect(try await queue.redis.send("LLEN", key) == .integer(1), "round \(round): a BLPOP of the wait took \(key)'s token")
                try await queue.redis.send("DEL", key)
            }
            _ = try await queue.fetch(queue: "letters", limit: 10, lease: .seconds(30), worker: "w")
        }
    }

    @Test func processesSplittingAQueueOtherwiseThanTheRecordAreRefused() async throws {
        let prefix = TestRedis.uniquePrefix("phx")
        let three = JobQueue(redis: try TestRedis.client(), keys: QueueKeys(prefix: prefix, partitions: ["letters": 3]))
        #expect(try await KeyLayoutCheck.verify(three) == QueueKeys.version)
        let unsplit = JobQueue(redis: three.redis, keys: QueueKeys(prefix: prefix))
        await #expect(throws: KeyLayoutError.otherPartitions(queue: "letters", recorded: 3, configured: 1, prefix: prefix)) {
            try await KeyLayoutCheck.verify(unsplit)
        }
        let two = JobQueue(redis: three.redis, keys: QueueKeys(prefix: prefix, partitions: ["letters": 2]))
        await #expect(throws: KeyLayoutError.otherPartitions(queue: "letters", recorded: 3, configured: 2, prefix: prefix)) {
            try await KeyLayoutCheck.verify(two)
        }
        #expect(try await KeyLayoutCheck.verify(three) == QueueKeys.version)
    }
}
