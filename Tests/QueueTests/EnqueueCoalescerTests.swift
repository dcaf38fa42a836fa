import Foundation
import PhoenixJobsCore
@testable import PhoenixQueue
import PhoenixRedis
import Testing
import TestSupport

/// Jobs submitted one at a time while a call is out go together in the next call, and each caller still gets
/// its own job's outcome. Each test pauses a private Redis's writes (`CLIENT PAUSE`) to hold the first call
/// while the others arrive.
@Suite struct EnqueueCoalescerTests {
    /// A queue on a private server, a second client to pause and resume it, and the coalescer under test.
    private func withPausedFirstCall(
        setUp: (JobQueue) async throws -> Void = { _ in },
        _ body: (_ queue: JobQueue, _ coalescer: EnqueueCoalescer, _ first: Task<EnqueueResult, any Error>, _ resume: @Sendable () async throws -> Void) async throws -> Void
    ) async throws {
        let server = try await RedisServerProcess()
        let configuration = try RedisConfiguration(url: server.url)
        let queue = JobQueue(redis: RedisClient(configuration: configuration), keys: QueueKeys(prefix: "phx"))
        let control = RedisClient(configuration: configuration)
        defer { queue.redis.shutdown(); control.shutdown() }
        // Writes are paused on this server only: it must be the test's own, not a shared one on the same port.
        let info = try await control.send("INFO", "server").string ?? ""
        try #require(info.contains("process_id:\(try #require(server.pid))\r\n"))
        // The script is loaded and the queue registered first, so that the calls counted below are the batches.
        try await queue.enqueue(job())
        try await setUp(queue)
        try await control.send("CONFIG", "RESETSTAT")
        // Long enough for the slowest full run; each test resumes the server well before.
        try await control.send("CLIENT", "PAUSE", 120_000, "WRITE")
        let coalescer = EnqueueCoalescer(queue: queue)
        let first = Task { try await coalescer.enqueue(job()) }
        // The first call is out (the server holds it) before anyone else comes: a caller that came while the
        // first one was being handed its turn would go in its batch.
        try #require(try await eventually { try await control.send("INFO", "clients").string?.contains("blocked_clients:1\r\n") == true })
        try await body(queue, coalescer, first) { _ = try await control.send("CLIENT", "UNPAUSE") }
    }

    /// Waits until `count` callers wait for the next call of the letters queue.
    private func waitForWaiting(_ count: Int, _ coalescer: EnqueueCoalescer) async throws {
        #expect(try await eventually { coalescer.waiting(in: "letters") == count }, "\(coalescer.waiting(in: "letters")) waiting")
    }

    /// Whether `condition` holds within 60 s, asked every 10 ms: at the start of a full run, with every suite
    /// starting at once on 2 cores, a task may wait seconds for its turn.
    private func eventually(_ condition: () async throws -> Bool) async throws -> Bool {
        for _ in 0..<6000 {
            if try await condition() { return true }
            try await Task.sleep(for: .milliseconds(10))
        }
        return false
    }

    private func scriptCalls(_ queue: JobQueue) async throws -> Int {
        let info = try await queue.redis.send("INFO", "commandstats").string ?? ""
        return info.split(whereSeparator: \.isNewline).filter { $0.hasPrefix("cmdstat_evalsha:") || $0.hasPrefix("cmdstat_eval:") }.reduce(0) { total, line in
            total + (line.split(separator: ",").first?.split(separator: "=").last.flatMap { Int($0) } ?? 0)
        }
    }

    @Test func jobsArrivingWhileACallIsOutGoInOneCallAndEachCallerGetsItsOwnResult() async throws {
        try await withPausedFirstCall { queue, coalescer, first, resume in
            let jobs = (0..<50).map { _ in job() } + [job(idempotencyKey: "same"), job(idempotencyKey: "same")]
            let results = Task {
                try await withThrowingTaskGroup(of: (UUID, EnqueueResult).self) { group in
                    for job in jobs { group.addTask { (job.id, try await coalescer.enqueue(job)) } }
                    return try await group.reduce(into: [UUID: EnqueueResult]()) { $0[$1.0] = $1.1 }
                }
            }
            try await waitForWaiting(jobs.count, coalescer)
            try await resume()
            #expect(try await first.value.created)
            let byJob = try await results.value
            for job in jobs.prefix(50) { #expect(byJob[job.id] == EnqueueResult(id: job.id, created: true)) }
            // Two jobs with one idempotency key in one batch: the first is created, the second gets its id.
            let keyed = jobs.suffix(2).map { byJob[$0.id] }
            #expect(keyed.filter { $0?.created == true }.count == 1)
            #expect(Set(keyed.map { $0?.id }).count == 1)
            // The paused call, then the 52 waiting jobs in one (the job before the pause was not counted).
            #expect(try await scriptCalls(queue) == 2)
            #expect(try await queue.stats(queue: "letters").ready == 53)
        }
    }

    @Test func aBatchRedisRefusesIsSentAgainJobByJobSoOnlyTheBadJobFails() async throws {
        // Another program overwrote one idempotency key with a list: the enqueue script refuses its batch.
        try await withPausedFirstCall(setUp: { try await $0.redis.send("RPUSH", $0.keys.idempotency("overwritten", in: "letters"), "x") }) { queue, coalescer, first, resume in
            let good = (0..<5).map { _ in job() }
            let bad = job(idempotencyKey: "overwritten")
            let goodResults = Task {
                try await withThrowingTaskGroup(of: EnqueueResult.self) { group in
                    for job in good { group.addTask { try await coalescer.enqueue(job) } }
                    return try await group.reduce(into: []) { $0.append($1) }
                }
            }
            let badResult = Task { try await coalescer.enqueue(bad) }
            try await waitForWaiting(good.count + 1, coalescer)
            try await resume()
            _ = try await first.value
            #expect(Set(try await goodResults.value.map(\.id)) == Set(good.map(\.id)))
            let refusal = await #expect(throws: QueueError.self) { try await badResult.value }
            #expect(refusal.map { "\($0)" }?.contains("WRONGTYPE") == true)
            #expect(try await queue.stats(queue: "letters").ready == 1 + 1 + good.count)
        }
    }

    @Test func aCallerCancelledBeforeItsTurnSendsNothingAndPassesTheTurnOn() async throws {
        try await withPausedFirstCall { queue, coalescer, first, resume in
            let cancelled = Task { try await coalescer.enqueue(job()) }
            try await waitForWaiting(1, coalescer)
            let others = (0..<2).map { _ in job() }
            let results = Task {
                try await withThrowingTaskGroup(of: EnqueueResult.self) { group in
                    for job in others { group.addTask { try await coalescer.enqueue(job) } }
                    return try await group.reduce(into: []) { $0.append($1) }
                }
            }
            try await waitForWaiting(3, coalescer)
            // The first waiter gets the next turn; cancelled, it must not fail the jobs of the others with it.
            cancelled.cancel()
            try await resume()
            _ = try await first.value
            await #expect(throws: QueueError.self) { try await cancelled.value }
            #expect(Set(try await results.value.map(\.id)) == Set(others.map(\.id)))
            #expect(try await queue.stats(queue: "letters").ready == 1 + 1 + others.count)
        }
    }
}
