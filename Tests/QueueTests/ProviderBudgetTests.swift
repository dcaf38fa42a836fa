import Foundation
import PhoenixJobsCore
import PhoenixQueue
import PhoenixRedis
import Testing
import TestSupport

/// A provider's hold and the token budget (``FlowSettings/tokensPerMinute``) against the real server: what a
/// fetch starts, what it answers instead, and what stats show of them.
@Suite struct ProviderBudgetTests {
    func fetch(_ queue: JobQueue, limit: Int = 10) async throws -> FetchedJobs {
        try await queue.fetchJobs(queue: "letters", limit: limit, lease: .seconds(60), worker: "w")
    }

    @Test func aProvidersHoldKeepsEveryJobOfTheQueueFromStartingUntilItEnds() async throws {
        let queue = try makeQueue()
        try await queue.enqueue([job(), job()])
        let held = try await queue.holdBack(queue: "letters", for: .seconds(30))
        #expect(held > .seconds(29) && held <= .seconds(30))
        // A shorter hold asked later does not end the longer one early.
        #expect(try await queue.holdBack(queue: "letters", for: .seconds(1)) > .seconds(10))

        // (Well above the 1 s asked last, with room for a slow machine between the calls.)
        let limited = try await fetch(queue)
        #expect(limited.jobs.isEmpty)
        let wait = try #require(limited.rateLimitedFor)
        #expect(wait > .seconds(10) && wait <= .seconds(30))
        let stats = try await queue.stats(queue: "letters")
        #expect(stats.ready == 2)
        #expect(try #require(stats.rates.heldFor) > .seconds(10))
        #expect(stats.flow.summary(keysInTurn: 0, keysAtLimit: 0, rates: stats.rates).hasPrefix("held "))

        // As if the 30 s had passed: both start, and stats show no hold.
        try await queue.redis.send("HSET", queue.keys.flow("letters"), "heldUntil", 0)
        #expect(try await fetch(queue).jobs.count == 2)
        #expect(try await queue.stats(queue: "letters").rates.heldFor == nil)
    }

    @Test func reportedTokensHoldTheQueueUntilTheyArePaidOffAndCountOnce() async throws {
        let queue = try makeQueue()
        // 6,000 a minute: 100 tokens a second.
        let settings = try await queue.configureFlow(queue: "letters", tokensPerMinute: .atMost(6000))
        #expect(settings.tokensPerMinute == 6000)
        try await queue.enqueue((0..<3).map { _ in job() })
        // Nothing reported yet: a call's tokens are known only once it answered, so nothing holds the start.
        let first = try await fetch(queue, limit: 1)
        #expect(first.jobs.count == 1)
        let lease = first.jobs[0].lease

        // 3,000 tokens are 30 s of the budget; a second's worth of debt is allowed, so the rest wait about 29 s.
        let report = JobQueue.newToken()
        try await queue.spendTokens(3000, lease: lease, report: report)
        // The same report sent again (a replay) counts once.
        try await queue.spendTokens(3000, lease: lease, report: report)
        let limited = try await fetch(queue)
        #expect(limited.jobs.isEmpty)
        let wait = try #require(limited.rateLimitedFor)
        #expect(wait > .seconds(10) && wait <= .seconds(29))
        #expect(try await queue.redis.send("HGET", queue.keys.job(lease.id, in: "letters"), "tokens").string == "3000")
        let stats = try await queue.stats(queue: "letters")
        #expect((2900...3000).contains(stats.rates.tokensLastMinute))
        #expect(stats.flow.tokensPerMinute == 6000)

        // Another report adds to the job's total.
        try await queue.spendTokens(500, lease: lease)
        #expect(try await queue.redis.send("HGET", queue.keys.job(lease.id, in: "letters"), "tokens").string == "3500")

        // Removing the budget forgets the debt: the rest start at once.
        try await queue.configureFlow(queue: "letters", tokensPerMinute: .unlimited)
        #expect(try await queue.redis.send("HEXISTS", queue.keys.flow("letters"), "tokensAt").int == 0)
        #expect(try await fetch(queue).jobs.count == 2)
    }

    @Test func jobsStartedAreCountedAgainstTheRateLimit() async throws {
        let queue = try makeQueue()
        try await queue.enqueue((0..<20).map { _ in job() })
        // Without a rate limit nothing counts the starts (no cost per fetch).
        #expect(try await fetch(queue, limit: 5).jobs.count == 5)
        #expect(try await queue.stats(queue: "letters").rates.startedLastMinute == 0)
        // 600 a minute: ten at once at most.
        try await queue.configureFlow(queue: "letters", requestsPerMinute: .atMost(600))
        #expect(try await fetch(queue, limit: 20).jobs.count == 10)
        let stats = try await queue.stats(queue: "letters")
        #expect((9...10).contains(stats.rates.startedLastMinute))
        #expect(stats.flow.summary(keysInTurn: 0, keysAtLimit: 0, rates: stats.rates) == "\(stats.rates.startedLastMinute)/600 per min")
    }

    @Test func aForeignValueAtTheFlowHashFailsAHoldBeforeItWrites() async throws {
        let queue = try makeQueue()
        try await queue.redis.send("SET", queue.keys.flow("letters"), "not a hash")
        await #expect(throws: QueueError.self) { try await queue.holdBack(queue: "letters", for: .seconds(1)) }
        #expect(try await queue.redis.send("GET", queue.keys.flow("letters")).string == "not a hash")
    }

    @Test func retryAfterIsReadAsSecondsOrAnHTTPDate() throws {
        let now = Date(timeIntervalSince1970: 1_700_000_000)
        #expect(RetryLater.wait(retryAfter: "12", now: now) == .seconds(12))
        #expect(RetryLater.wait(retryAfter: "Tue, 14 Nov 2023 22:13:40 GMT", now: now) == .seconds(20))
        #expect(RetryLater.wait(retryAfter: "Tue, 14 Nov 2023 22:00:00 GMT", now: now) == .zero)
        #expect(RetryLater.wait(retryAfter: "soon", now: now) == nil)
        #expect(RetryLater(status: 429, retryAfter: nil, from: "p")?.after == RetryLater.defaultWait)
        #expect(RetryLater(status: 429, retryAfter: "99999999", from: "p")?.after == RetryLater.maxWait)
        #expect(RetryLater(status: 503, retryAfter: "3", from: "p")?.after == .seconds(3))
        // A 503 without Retry-After, or any other failure, is an ordinary failed attempt.
        #expect(RetryLater(status: 503, retryAfter: nil, from: "p") == nil)
        #expect(RetryLater(status: 500, retryAfter: "3", from: "p") == nil)
    }
}
