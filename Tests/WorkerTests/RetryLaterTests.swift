import Foundation
import PhoenixJobsCore
import PhoenixQueue
import PhoenixRedis
import Testing
import TestSupport
import PhoenixWorker

/// A handler told to wait by an outside service (``RetryLater``): the job goes back without spending an
/// attempt and its queue is held for everyone, up to a bound of deliveries.
@Suite struct RetryLaterTests {
    /// A queue engine, a worker that knows ``ThrottledJob`` and the log of its runs, and a throttled job of one
    /// attempt only (had a wait spent it, the job would be dead), enqueued after `prepare` saw it.
    func start(prepare: (JobQueue, JobEnvelope) async throws -> Void = { _, _ in }) async throws -> (JobQueue, RunningWorker, RunLog, JobEnvelope) {
        let queue = try makeTestQueue()
        let log = RunLog()
        var registry = registryWithDiagnostics()
        registry.register(ThrottledJob(log: log))
        let throttled = JobEnvelope(type: ThrottledJob.name, queue: "diagnostics", payload: .object([:]), maxAttempts: 1)
        try await queue.enqueue(throttled)
        try await prepare(queue, throttled)
        return (queue, RunningWorker.start(queue, registry: registry, configuration: testConfiguration()), log, throttled)
    }

    @Test func aJobToldToWaitRunsAgainWithoutSpendingAnAttemptAndHoldsItsQueue() async throws {
        let (queue, running, log, throttled) = try await start()
        // Handed back to wait: its queue's hold and its due time are set, and stay once it ran again (a loaded
        // machine may not look while the job is delayed).
        let jobKey = queue.keys.job(throttled.idString, in: "diagnostics")
        try await eventually("the job was handed back to wait") {
            let held = try await queue.redis.send("HEXISTS", queue.keys.flow("diagnostics"), "heldUntil").int == 1
            let due = try await queue.redis.send("HEXISTS", jobKey, "runAt").int == 1
            return held && due
        }
        // The whole queue is held as long as the job waits: the hold and the hand-back are recorded in one flush,
        // the hold first, both two seconds from their call, and both after the job was enqueued (all times are the
        // Redis server's clock and stay put once the job ran again, so a slow machine cannot make these reads
        // miss them). A job enqueued now waits too, unless the hold is over by then.
        let heldUntil = try #require(try await queue.redis.send("HGET", queue.keys.flow("diagnostics"), "heldUntil").string.flatMap { Double($0) })
        let runAt = try #require(try await queue.redis.send("HGET", jobKey, "runAt").string.flatMap { Double($0) })
        // When it was enqueued, by the Redis clock: the id of its `queued` event's stream entry.
        let queued = try await queue.events(in: JobEventStream(queue: "diagnostics"), after: .start).first { $0.jobID == throttled.idString && $0.kind == .queued }
        let enqueuedAt = Double(try #require(queued).position.entry.milliseconds)
        #expect(enqueuedAt + 2000 <= heldUntil && heldUntil <= runAt, "enqueued at \(enqueuedAt), held until \(heldUntil), the job waits until \(runAt)")
        let other = JobEnvelope(type: DiagnosticJobs.Noop.name, queue: "diagnostics")
        try await queue.enqueue(other)
        try await eventually("both jobs completed", timeout: .seconds(20)) {
            let states = [try await queue.job(id: throttled.idString)?.state, try await queue.job(id: other.idString)?.state]
            return states == [.completed, .completed]
        }
        try await running.stop()
        #expect(log.runs[throttled.id.uuidString] == 2)
        let record = try #require(try await queue.job(id: throttled.idString))
        #expect(record.attempt == 1)
        let stats = try await queue.stats(queue: "diagnostics")
        #expect(stats.failed == 0 && stats.dead == 0)
        // The other job started only once the hold was over (both times are the Redis server's clock).
        let otherStarted = try #require(try await queue.job(id: other.idString)?.startedAt)
        #expect(otherStarted.timeIntervalSince1970 * 1000 >= heldUntil)
    }

    @Test func aJobToldToWaitOverAndOverSpendsItsAttemptAtLast() async throws {
        let (queue, running, log, throttled) = try await start { queue, throttled in
            // As if it had been handed back as often as a job may be without spending an attempt.
            try await queue.redis.send("HSET", queue.keys.job(throttled.idString, in: "diagnostics"), "deliveries", RetryLater.maxDeliveriesWithoutAttempt)
        }
        try await eventually("the job is dead") { try await queue.job(id: throttled.idString)?.state == .dead }
        try await running.stop()
        let dead = try #require(try await queue.deadJobs(queue: "diagnostics").first)
        #expect(dead.error.contains("429"))
        #expect(log.runs[throttled.id.uuidString] == 1)
    }
}
