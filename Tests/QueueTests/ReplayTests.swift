import Foundation
import Synchronization
import PhoenixJobsCore
@testable import PhoenixQueue
import PhoenixRedis
import Testing
import TestSupport

/// Script calls sent twice (the client resends a call whose reply was lost; the outcome batcher resends a
/// batch) never act on another delivery, never lease other jobs, never count twice.
// The fault proxy fronts one server: a cluster client learns the nodes' own addresses and goes around it.
@Suite(.disabled(if: TestRedis.isCluster, "the fault proxy fronts a single server"))
struct ReplayTests {
    /// A queue engine whose client goes through a fault proxy in front of the test server. Its scripts are
    /// loaded first, so that a fault hits the script's run, not a `NOSCRIPT` answer.
    static let commandTimeout = Duration.seconds(5)

    private func proxiedQueue() async throws -> (JobQueue, RedisFaultProxy) {
        let proxy = try RedisFaultProxy(upstreamPort: try TestRedis.configuration().port)
        // A 5 s command timeout: with 2 s, the first calls of a test (connect, load the scripts) timed out on a
        // loaded machine before any fault was armed.
        let queue = JobQueue(redis: RedisClient(configuration: try proxy.configuration(commandTimeout: Self.commandTimeout)), keys: QueueKeys(prefix: TestRedis.uniquePrefix("phx")))
        _ = try await queue.fetch(queue: "warm-up", limit: 1, lease: .seconds(1), worker: "w")
        _ = try await queue.ack([JobLease(id: "none", queue: "warm-up", token: "none")])
        return (queue, proxy)
    }

    @Test func aFetchWhoseReplyWasLostIsResentAndLeasesTheSameJobsOnly() async throws {
        let (queue, proxy) = try await proxiedQueue()
        defer { proxy.stop() }
        try await queue.enqueue((0..<10).map { _ in job() })
        // The fetch runs on Redis, its reply is lost, and the client sends the same call on a new connection.
        proxy.inject(.dropReply, onScript: QueueScripts.fetch)
        let fetched = try await queue.fetch(queue: "letters", limit: 3, lease: .seconds(30), worker: "w1")
        #expect(proxy.injected == 1)
        #expect(fetched.count == 3)
        let stats = try await queue.stats(queue: "letters")
        // Before the fetch record, the resend popped three more: six leased, three of them to nobody.
        #expect((stats.ready, stats.leased) == (7, 3))
        #expect(try await queue.ack(fetched.map(\.lease)) == [true, true, true])
        #expect(try await queue.stats(queue: "letters").leased == 0)
    }

    /// A batch's calls go out together on one connection; when it breaks after the second call ran (its reply
    /// lost), that call and the ones after it go again in order: every job stored once, in input order.
    @Test func aBatchWhoseConnectionBreaksMidwayIsSentAgainInOrderAndStoredOnce() async throws {
        let (queue, proxy) = try await proxiedQueue()
        defer { proxy.stop() }
        let sha = QueueScripts.enqueue.sha1
        let seen = Mutex(0)
        proxy.inject(.dropReply) { command in
            guard command.count > 1, command[0].uppercased() == "EVALSHA", command[1] == sha else { return false }
            return seen.withLock { count in
                count += 1
                return count == 2
            }
        }
        let jobs = (0..<(3 * JobQueue.enqueueCallSize + 50)).map { _ in job() }
        let results = try await queue.enqueue(jobs)
        #expect(proxy.injected == 1)
        #expect(results.map(\.id) == jobs.map(\.id))
        // The second call ran and lost its reply (and so may the calls around it that Redis had read before the
        // connection closed): sent again, it finds its jobs and answers that they existed.
        let second = Array(jobs.indices).chunked(growingFrom: JobQueue.firstEnqueueCallSize, to: JobQueue.enqueueCallSize)[1]
        #expect(results[second.startIndex..<second.endIndex].filter(\.created).isEmpty)
        #expect(try await queue.stats(queue: "letters").enqueued == jobs.count)
        var fetched: [UUID] = []
        while case let page = try await queue.fetch(queue: "letters", limit: 500, lease: .seconds(30), worker: "w1"), !page.isEmpty {
            fetched += page.map(\.envelope.id)
        }
        #expect(fetched == jobs.map(\.id))
    }

    @Test func aFetchRepeatedWithItsTokenReturnsWhatItStillHolds() async throws {
        let queue = try makeQueue()
        try await queue.enqueue((0..<4).map { _ in job() })
        let token = JobQueue.newToken()
        let first = try await queue.fetch(queue: "letters", limit: 2, lease: .seconds(30), worker: "w1", token: token)
        let again = try await queue.fetch(queue: "letters", limit: 2, lease: .seconds(30), worker: "w1", token: token)
        #expect(again.map(\.lease) == first.map(\.lease))
        #expect(again.map(\.delivery) == [1, 1])
        // Once one of them is acknowledged, a replay leaves it out.
        try await queue.ack([first[0].lease])
        let third = try await queue.fetch(queue: "letters", limit: 2, lease: .seconds(30), worker: "w1", token: token)
        #expect(third.map(\.lease) == [first[1].lease])
        #expect(try await queue.stats(queue: "letters").ready == 2)
    }

    @Test func aReplayedReleaseNeverTakesTheJobFromItsNextDelivery() async throws {
        let queue = try makeQueue()
        let new = job()
        try await queue.enqueue(new)
        let first = try #require(try await queue.fetch(queue: "letters", limit: 1, lease: .seconds(30), worker: "w1").first)
        #expect(try await queue.release([first.lease]) == 1)
        let second = try #require(try await queue.fetch(queue: "letters", limit: 1, lease: .seconds(30), worker: "w2").first)
        #expect(second.envelope.id == new.id)
        #expect(second.envelope.attempt == 1)
        // The release sent again (a batch resent by the outcome batcher, or by the client): before lease
        // tokens it matched the attempt number and handed w2's running job back to the queue.
        #expect(try await queue.release([first.lease]) == 0)
        #expect(try await queue.job(id: new.idString)?.state == .leased)
        #expect(try await queue.extendLeases([first.lease], by: .seconds(30)) == [.lost])
        #expect(try await queue.fail([FailedAttempt(lease: first.lease, error: "late", retryAfter: .zero)]) == [.stale])
        #expect(try await queue.ack([first.lease]) == [false])
        #expect(try await queue.ack([second.lease]) == [true])
    }

    @Test func anAckWhoseReplyWasLostCompletesOnceAndCountsOnce() async throws {
        let (queue, proxy) = try await proxiedQueue()
        defer { proxy.stop() }
        try await queue.enqueue([job(), job()])
        let fetched = try await queue.fetch(queue: "letters", limit: 2, lease: .seconds(30), worker: "w1")
        proxy.inject(.dropReply, onScript: QueueScripts.ack)
        // The replay finds the jobs completed by the same deliveries: it answers as the first call did and
        // changes nothing.
        #expect(try await queue.ack(fetched.map(\.lease)) == [true, true])
        #expect(proxy.injected == 1)
        let stats = try await queue.stats(queue: "letters")
        #expect((stats.completed, stats.leased, stats.completedPerMinute.reduce(0, +)) == (2, 0, 2))
        #expect(try await queue.job(id: fetched[0].lease.id)?.state == .completed)
    }

    @Test func aFetchCutBeforeItReachedRedisLeasesNothingExtra() async throws {
        let (queue, proxy) = try await proxiedQueue()
        defer { proxy.stop() }
        try await queue.enqueue((0..<4).map { _ in job() })
        proxy.inject(.cutBeforeForwarding, onScript: QueueScripts.fetch)
        let fetched = try await queue.fetch(queue: "letters", limit: 2, lease: .seconds(30), worker: "w1")
        #expect(proxy.injected == 1)
        #expect(fetched.count == 2)
        #expect(try await queue.stats(queue: "letters").leased == 2)
    }

    @Test func aStalledFetchTimesOutAndItsTokenBringsItsJobsBack() async throws {
        let (queue, proxy) = try await proxiedQueue()
        defer { proxy.stop() }
        try await queue.enqueue((0..<4).map { _ in job() })
        let token = JobQueue.newToken()
        // The reply comes after the client's timeout: the call fails, though Redis leased the jobs.
        proxy.inject(.stall(Self.commandTimeout + .seconds(1)), onScript: QueueScripts.fetch)
        await #expect(throws: QueueError.self) {
            try await queue.fetch(queue: "letters", limit: 2, lease: .seconds(30), worker: "w1", token: token)
        }
        #expect(try await queue.stats(queue: "letters").leased == 2)
        // The worker tries again with the same token: it gets those two, and no others are leased.
        let again = try await queue.fetch(queue: "letters", limit: 2, lease: .seconds(30), worker: "w1", token: token)
        #expect(again.count == 2)
        let stats = try await queue.stats(queue: "letters")
        #expect((stats.ready, stats.leased) == (2, 2))
    }
}
