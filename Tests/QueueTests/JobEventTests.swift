import Foundation
import PhoenixJobsCore
import PhoenixQueue
import PhoenixRedis
import Testing
import TestSupport

/// The event stream the queue scripts append to: one event per change of a job, none for a replay.
@Suite struct JobEventTests {
    let stream = JobEventStream(queue: "letters")

    /// The events of `queue`'s stream of job `id`, as kinds.
    func kinds(_ queue: JobQueue, of id: String) async throws -> [JobEvent.Kind] {
        try await queue.events(in: stream, after: .start).filter { $0.jobID == id }.map(\.kind)
    }

    @Test func everyTransitionAppendsOneEventAndAReplayNone() async throws {
        let queue = JobQueue(redis: try TestRedis.client(), keys: QueueKeys(prefix: TestRedis.uniquePrefix("phx")), fairnessFields: ["test.noop": "user_id"])
        let user = UUID().lowercasedString
        let first = job(maxAttempts: 2, payload: ["user_id": .string(user)])
        try await queue.enqueue(first)
        let leased = try #require(try await queue.fetch(queue: "letters", limit: 1, lease: .seconds(30), worker: "w1").first)
        #expect(try await queue.reportProgress(leased.lease, fraction: 0.5, message: "half"))
        #expect(try await queue.fail([FailedAttempt(lease: leased.lease, error: "boom", retryAfter: .zero)]) == [.retrying])
        #expect(try await queue.fail([FailedAttempt(lease: leased.lease, error: "boom", retryAfter: .zero)]) == [.stale])
        let again = try #require(try await queue.fetch(queue: "letters", limit: 1, lease: .seconds(30), worker: "w1").first)
        #expect(try await queue.ack([again.lease]) == [true])
        #expect(try await queue.ack([again.lease]) == [true])
        try await queue.enqueue(first)
        #expect(try await kinds(queue, of: first.idString) == [.queued, .started, .progress, .failed, .started, .completed])

        let events = try await queue.events(in: stream, after: .start)
        #expect(events.allSatisfy { $0.user == user && $0.position.stream == stream })
        #expect(zip(events, events.dropFirst()).allSatisfy { $0.position.entry < $1.position.entry })
        #expect(events[0].type == "test.noop" && events[1].attempt == 1 && events[4].attempt == 2)
        #expect(events[2].progress == 0.5 && events[2].message == "half")
        #expect(events[3].error == "boom" && events[3].attempt == 1 && events[3].runAt != nil)
        // Where the stream ends, and what comes after it.
        #expect(try await queue.lastEventEntry(in: stream) == events.last?.position.entry)
        #expect(try await queue.events(in: stream, after: events[3].position.entry).map(\.kind) == [.started, .completed])
        #expect(try await queue.events(in: stream, after: events[1].position.entry, upTo: events[3].position.entry).map(\.kind) == [.progress, .failed])
    }

    @Test func deathCancellationHandBacksAndRetriesAreEventsToo() async throws {
        let queue = try makeQueue()
        let doomed = job(maxAttempts: 1), waiting = job(delay: .seconds(3600)), running = job(), expiring = job(maxAttempts: 1)
        try await queue.enqueue([doomed, running, expiring])
        try await queue.enqueue(waiting)
        let fetched = try await queue.fetch(queue: "letters", limit: 3, lease: .seconds(30), worker: "w1")
        let lease = { (job: JobEnvelope) in try #require(fetched.first { $0.envelope.id == job.id }?.lease) }
        #expect(try await queue.fail([FailedAttempt(lease: try lease(doomed), error: "bad input", retryAfter: nil)]) == [.dead])
        #expect(try await queue.cancel(id: waiting.idString) == .cancelled)
        #expect(try await queue.cancel(id: running.idString) == .cancelling)
        #expect(try await queue.release([try lease(running)]) == 1)
        try await expire(try lease(expiring), in: queue)
        #expect(try await queue.reapExpiredLeases(queue: "letters") == (0, 1))
        #expect(try await queue.retryDead(queue: "letters", ids: [doomed.idString]) == [true])

        #expect(try await kinds(queue, of: doomed.idString) == [.queued, .started, .dead, .queued])
        #expect(try await kinds(queue, of: waiting.idString) == [.queued, .cancelled])
        #expect(try await kinds(queue, of: running.idString) == [.queued, .started, .cancelled])
        #expect(try await kinds(queue, of: expiring.idString) == [.queued, .started, .dead])
        let events = try await queue.events(in: stream, after: .start)
        let death = try #require(events.first { $0.jobID == doomed.idString && $0.kind == .dead })
        #expect(death.error == "bad input" && death.attempt == 1 && death.user == nil)
        #expect(events.first { $0.jobID == waiting.idString }?.runAt != nil)
        #expect(events.first { $0.jobID == expiring.idString && $0.kind == .dead }?.error?.contains("lease expired") == true)
    }

    @Test func theStreamKeepsAboutTheLastTenThousandEntries() async throws {
        let queue = try makeQueue()
        for _ in 0..<11 {
            // A type of its own for each job: an entry each (jobs queued together with one type share entries).
            try await queue.enqueue((0..<1000).map { index in job(type: "test.t\(index)") })
        }
        let length = try #require(try await queue.redis.send("XLEN", queue.keys.events("letters")).int)
        // Trimmed by whole nodes of the stream (100 entries each by default): never below the bound.
        #expect((10_000..<10_200).contains(length), "\(length) entries kept")
    }

    /// Jobs that change together in one call the same way share entries of up to 16; each still reads as an
    /// event of its own, in order, and a reader can stop inside an entry and go on from there.
    @Test func jobsChangedTogetherShareEntriesAndReadAsOneEventEach() async throws {
        let queue = try makeQueue()
        let stream = JobEventStream(queue: "letters")
        let plain = (0..<40).map { _ in job() }, other = job(type: "test.other")
        try await queue.enqueue(plain + [other])
        let events = try await queue.events(in: stream, after: .start)
        #expect(events.map(\.jobID) == (plain + [other]).map(\.idString))
        #expect(events.allSatisfy { $0.kind == .queued })
        #expect(events.map(\.type) == Array(repeating: "test.noop", count: 40) + ["test.other"])
        // 40 jobs of one type in entries of 16, 16 and 8; the other type's job in an entry of its own.
        let entries = Dictionary(grouping: events, by: \.position.entry).values.map(\.count).sorted()
        #expect(entries == [1, 8, 16, 16])
        #expect(try await queue.redis.send("XLEN", queue.keys.events("letters")).int == 4)
        #expect(events.filter(\.position.endsEntry).count == 4)
        // Read through the fifth event of the first entry: the rest comes next, once.
        let mark = events[4].position.mark
        #expect(mark.description == "\(events[4].position.entry).4")
        #expect(StreamEventMark(Substring(mark.description)) == mark)
        let rest = try await queue.events(in: stream, after: mark, matching: { _ in true })
        #expect(rest.map(\.jobID) == events.dropFirst(5).map(\.jobID))
        // A mark at an entry's last event is the whole entry.
        #expect(events[15].position.mark == StreamEventMark(entry: events[15].position.entry))
        // Fetch and ack gather their `started` and `completed` events the same way.
        let leased = try await queue.fetch(queue: "letters", limit: 41, lease: .seconds(30), worker: "w1")
        try await queue.ack(leased.map(\.lease))
        let later = try await queue.events(in: stream, after: events.last!.position.mark, matching: { _ in true })
        #expect(later.filter { $0.kind == .started }.map(\.jobID).sorted() == leased.map(\.lease.id).sorted())
        #expect(later.filter { $0.kind == .completed }.count == 41)
        #expect(later.filter { $0.kind == .started }.allSatisfy { $0.attempt == 1 })
    }

    /// Jobs of a call that change in different ways, interleaved, still go each to its own group: a job
    /// filed like the one before joins that group at once, any other finds its group by its key.
    @Test func interleavedGroupsKeepEachJobInItsOwnGroup() async throws {
        let queue = try makeQueue()
        let stream = JobEventStream(queue: "letters")
        let jobs = (0..<12).map { index in job(type: ["test.noop", "test.other", "test.noop", "test.third"][index % 4]) }
        try await queue.enqueue(jobs)
        let events = try await queue.events(in: stream, after: .start)
        // One entry per type, in the order the types first came, each listing its jobs in input order.
        let expected = ["test.noop", "test.other", "test.third"].flatMap { type in jobs.filter { $0.type == type } }
        #expect(events.map(\.jobID) == expected.map(\.idString))
        #expect(events.map(\.type) == expected.map(\.type))
        #expect(try await queue.redis.send("XLEN", queue.keys.events("letters")).int == 3)
    }

    @Test func aForeignValueAtTheStreamFailsEveryScriptBeforeItWrites() async throws {
        let queue = try makeQueue()
        let waiting = job()
        try await queue.enqueue(waiting)
        try await queue.redis.send("DEL", queue.keys.events("letters"))
        try await queue.redis.send("SET", queue.keys.events("letters"), "foreign")
        await #expect(throws: QueueError.self) { try await queue.enqueue(job()) }
        await #expect(throws: QueueError.self) { try await queue.fetch(queue: "letters", limit: 1, lease: .seconds(30), worker: "w1") }
        await #expect(throws: QueueError.self) { try await queue.cancel(id: waiting.idString) }
        // Nothing was changed: the job waits as it did, and runs once the key is the queue's again.
        #expect(try await queue.job(id: waiting.idString)?.state == .ready)
        #expect(try await queue.stats(queue: "letters").ready == 1)
        try await queue.redis.send("DEL", queue.keys.events("letters"))
        #expect(try await queue.fetch(queue: "letters", limit: 1, lease: .seconds(30), worker: "w1").map(\.envelope.id) == [waiting.id])
    }
}

extension JobEventTests {
    @Test func erasingAUserDeletesTheEventsThatMentionThem() async throws {
        let queue = JobQueue(redis: try TestRedis.client(), keys: QueueKeys(prefix: TestRedis.uniquePrefix("phx")), fairnessFields: ["test.noop": "user_id"])
        let erased = UUID().lowercasedString, kept = UUID().lowercasedString
        // More than a page of events of each user.
        for _ in 0..<3 {
            try await queue.enqueue((0..<400).map { _ in job(payload: ["user_id": .string(erased)]) } + (0..<400).map { _ in job(payload: ["user_id": .string(kept)]) })
        }
        // The first two jobs in line are the erased user's; they die with errors that name them.
        let leased = try await queue.fetch(queue: "letters", limit: 2, lease: .seconds(30), worker: "w1")
        #expect(leased.allSatisfy { $0.envelope.payload.objectValue?["user_id"] == .string(erased) })
        #expect(try await queue.fail(leased.map { FailedAttempt(lease: $0.lease, error: "no profile for \(erased)", retryAfter: nil) }) == [.dead, .dead])
        #expect(try await queue.purgeJobs(mentioning: erased.uppercased()) == 1200)
        var users: [String?: Int] = [:]
        var from = StreamEntryID.start
        while case let page = try await queue.events(in: stream, after: from), let last = page.last {
            for event in page { users[event.user, default: 0] += 1 }
            #expect(page.allSatisfy { !($0.error ?? "").contains(erased) })
            from = last.position.entry
        }
        // Only the kept user's events are left: their jobs' 1,200 queued events.
        #expect(users == [kept: 1200], "\(users)")
    }
}
