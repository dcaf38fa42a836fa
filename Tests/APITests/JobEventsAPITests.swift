import Foundation
import NIOHTTP1
import PhoenixJobsCore
import PostgresNIO
import PhoenixRedis
import Testing
import TestSupport

/// Live job events: a job's server-sent events, the caller's stream, resuming, stream tokens, long polling.
/// One test at a time: each starts a server over a database of its own, and six at once loaded the machine
/// enough to make other suites' timing-bound tests miss their margins.
@Suite(.serialized) struct JobEventsAPITests {
    static func noop(for user: UUID) -> String { #"{"type": "diagnostic.noop", "payload": {"user_id": "\#(user)"}}"# }

    /// Submits a job for `user` while the diagnostics queue is paused, so that it waits until `resume`.
    static func submitWaiting(_ api: LiveAPI, for user: UUID, service: String) async throws -> String {
        #expect(try await api.call(.POST, "/v1/queues/diagnostics/pause", token: service).status == 200)
        let submitted = try await api.call(.POST, "/v1/jobs", token: try await api.minter.token(user: user), body: noop(for: user))
        guard case .string(let id)? = submitted["id"] else { throw Failure("the job was not accepted: \(submitted.json)") }
        return id
    }

    static func resume(_ api: LiveAPI, service: String) async throws {
        #expect(try await api.call(.POST, "/v1/queues/diagnostics/resume", token: service).status == 200)
    }

    @Test func aJobsStreamOpensWithItsStatusFollowsItToItsEndAndResumesFromAnEvent() async throws {
        try await LiveAPI.run { api in
            let user = UUID(), service = try await api.minter.service()
            let id = try await Self.submitWaiting(api, for: user, service: service)
            let token = try await api.minter.token(user: user)
            var stream = try await EventStreamReader.open(api, "/v1/jobs/\(id)/events", token: token)
            #expect(stream.status == 200 && stream.headers["Content-Type"] == ["text/event-stream"])
            let status = try #require(try await stream.next())
            #expect(status.name == "status" && status["state"] == .string("ready") && status["id"] == .string(id))
            try await Self.resume(api, service: service)
            let events = try await stream.events(through: "completed")
            #expect(events.map(\.name) == ["started", "completed"])
            #expect(events[0]["attempt"] == .number(1) && events.allSatisfy { $0["id"] == .string(id) && $0["queue"] == .string("diagnostics") })
            // The job ended: so does its stream.
            #expect(try await stream.next() == nil)

            // Resuming from the status event sends what followed it, from the stream.
            var resumed = try await EventStreamReader.open(api, "/v1/jobs/\(id)/events", token: token, lastEventID: status.id)
            let again = try await resumed.events(through: "completed")
            #expect(again.map(\.name) == ["started", "completed"])
            #expect(try await resumed.next() == nil)
            // Reconnecting after the end, as EventSource does whenever a stream ends: a 204, which stops it.
            let afterTheEnd = try await api.call(.GET, "/v1/jobs/\(id)/events", token: token, headers: [("Last-Event-ID", try #require(again.last?.id))])
            #expect(afterTheEnd.status == 204)
            // Opened once the job ended: its status, and the end.
            var late = try await EventStreamReader.open(api, "/v1/jobs/\(id)/events", token: token)
            #expect(try await late.next()?["state"] == .string("completed"))
            #expect(try await late.next() == nil)
            // Browsers of an allowed origin may read it, as any other answer.
            let fromApp = try await api.call(.GET, "/v1/jobs/\(id)/events", token: token, headers: [("Origin", "https://app.phoenix.test")])
            #expect(fromApp.status == 200 && fromApp.headers["Access-Control-Allow-Origin"] == ["https://app.phoenix.test"])
        }
    }

    @Test func aCompletedEventCarriesTheJobsResultLiveAndWhenResumed() async throws {
        try await LiveAPI.run { api in
            let user = UUID(), service = try await api.minter.service()
            let id = try await Self.submitWaiting(api, for: user, service: service)
            let job = try #require(UUID(uuidString: id))
            // As a job that records its result does (diagnostic jobs record none).
            try await api.client.query("""
                INSERT INTO public.phoenix_job_runs (job_id, type, queue, status, attempt, worker, user_id, started_at, finished_at, duration_ms, result)
                VALUES (\(job), 'diagnostic.noop', 'diagnostics', 'completed', 1, 'w', \(user), now(), now(), 3, '{"letter_id": "l-9"}'::jsonb)
                """)
            var stream = try await EventStreamReader.open(api, "/v1/jobs/\(id)/events", token: service)
            let status = try #require(try await stream.next())
            try await Self.resume(api, service: service)
            let live = try #require(try await stream.events(through: "completed").last)
            #expect(live["result"] == .object(["letter_id": .string("l-9")]))
            var resumed = try await EventStreamReader.open(api, "/v1/jobs/\(id)/events", token: service, lastEventID: status.id)
            #expect(try await resumed.events(through: "completed").last?["result"] == .object(["letter_id": .string("l-9")]))
        }
    }

    @Test func aUsersStreamCarriesTheirJobsOnlyAndOpensWithAStreamToken() async throws {
        try await LiveAPI.run { api in
            let alice = UUID(), bob = UUID(), service = try await api.minter.service()
            let aliceToken = try await api.minter.token(user: alice)
            let issued = try await api.call(.POST, "/v1/events/token", token: aliceToken)
            guard case .string(let streamToken)? = issued["token"] else { throw Failure("no stream token: \(issued.json)") }
            #expect(issued["expires_at"] != nil)
            // As a browser's EventSource opens it: no header, the token in the query.
            var stream = try await EventStreamReader.open(api, "/v1/events/stream?access_token=\(streamToken)")
            let ready = try #require(try await stream.next())
            #expect(ready.name == "ready" && { if case .array(let queues)? = ready["queues"] { queues.contains(.string("diagnostics")) } else { false } }())
            // Bob's job first: had it reached Alice's stream, it would come before her own job's events.
            let bobs = try await api.call(.POST, "/v1/jobs", token: service, body: Self.noop(for: bob))
            let alices = try await api.call(.POST, "/v1/jobs", token: aliceToken, body: Self.noop(for: alice))
            let events = try await stream.events(through: "completed")
            #expect(events.map(\.name) == ["queued", "started", "completed"])
            #expect(events.allSatisfy { $0["id"] == alices["id"] }, "\(events.map(\.data)) (Bob's job: \(bobs.json))")
            #expect(events[0]["type"] == .string("diagnostic.noop"))
            // A service follows a whole queue, here resuming from where Alice's stream began: Bob's job too.
            var queueStream = try await EventStreamReader.open(api, "/v1/events/stream?queue=diagnostics", token: service, lastEventID: ready.id)
            var seen: [JSONValue: [String]] = [:]
            while seen[bobs["id"] ?? .null]?.last != "completed" || seen[alices["id"] ?? .null]?.last != "completed" {
                let event = try #require(try await queueStream.next())
                seen[event["id"] ?? .null, default: []].append(event.name)
            }
            #expect(seen.count == 2 && seen.values.allSatisfy { $0 == ["queued", "started", "completed"] }, "\(seen)")
        }
    }

    /// Jobs submitted together share stream entries; a client that stopped inside one (its last event id marks
    /// the event: `<stream>=<entry>.<k>`) gets the rest of the entry when it resumes, and nothing twice.
    @Test func aStreamResumedInsideAnEntryOfJobsQueuedTogetherSendsTheRestOnce() async throws {
        try await LiveAPI.run { api in
            let service = try await api.minter.service()
            #expect(try await api.call(.POST, "/v1/queues/diagnostics/pause", token: service).status == 200)
            var stream = try await EventStreamReader.open(api, "/v1/events/stream?queue=diagnostics", token: service)
            #expect(try await stream.next()?.name == "ready")
            let batch = try await api.call(.POST, "/v1/jobs/batch", token: service, body: #"{"jobs": [\#(Array(repeating: #"{"type": "diagnostic.noop"}"#, count: 20).joined(separator: ","))]}"#)
            #expect(batch.status == 202, "\(batch.json)")
            var first: [ReceivedEvent] = []
            for _ in 0..<5 { first.append(try #require(try await stream.next())) }
            #expect(first.allSatisfy { $0.name == "queued" })
            let stop = try #require(first.last?.id)
            #expect(stop.hasSuffix(".4"), "\(stop)")
            var resumed = try await EventStreamReader.open(api, "/v1/events/stream?queue=diagnostics", token: service, lastEventID: stop)
            var rest: [ReceivedEvent] = []
            for _ in 0..<15 { rest.append(try #require(try await resumed.next())) }
            #expect(rest.allSatisfy { $0.name == "queued" })
            let ids = (first + rest).compactMap { event -> String? in if case .string(let id)? = event["id"] { id } else { nil } }
            #expect(Set(ids).count == 20)
            // Nothing else waits in the stream: the next event is the first job's start, once resumed.
            try await Self.resume(api, service: service)
            #expect(try await resumed.next()?.name == "started")
        }
    }

    @Test func anOpenStreamCarriesOnAcrossARedisRestart() async throws {
        let server = try await RedisServerProcess()
        try await LiveAPI.run(redis: try RedisConfiguration(url: server.url)) { api in
            let service = try await api.minter.service()
            var stream = try await EventStreamReader.open(api, "/v1/events/stream?queue=diagnostics", token: service)
            #expect(try await stream.next()?.name == "ready")
            let first = try await api.call(.POST, "/v1/jobs", token: service, body: #"{"type": "diagnostic.noop"}"#)
            #expect(try await stream.events(through: "completed").allSatisfy { $0["id"] == first["id"] })
            // Redis goes away (the hub's read fails, and is tried again) and comes back with its data.
            await server.stop()
            try await server.start()
            let second = try await api.call(.POST, "/v1/jobs", token: service, body: #"{"type": "diagnostic.noop"}"#)
            #expect(second.status == 202, "\(second.json)")
            let events = try await stream.events(through: "completed")
            #expect(events.map(\.name) == ["queued", "started", "completed"] && events.allSatisfy { $0["id"] == second["id"] }, "\(events.map(\.data))")
        }
    }

    @Test func aLongPollAnswersWhenTheJobEndsOrWhenTheWaitIsOver() async throws {
        try await LiveAPI.run { api in
            let user = UUID(), service = try await api.minter.service()
            let id = try await Self.submitWaiting(api, for: user, service: service)
            let token = try await api.minter.token(user: user)
            // The wait is over first: the state then.
            let early = try await api.call(.GET, "/v1/jobs/\(id)?wait=1", token: token)
            #expect(early.status == 200 && early["state"] == .string("ready"))
            // The job ends during the wait: the answer comes then, completed.
            async let answer = api.call(.GET, "/v1/jobs/\(id)?wait=60", token: token)
            try await Self.resume(api, service: service)
            let ended = try await answer
            #expect(ended.status == 200 && ended["state"] == .string("completed"), "\(ended.json)")
            #expect(try await api.call(.GET, "/v1/jobs/\(id)?wait=61", token: token).errorCode == "invalid_query")
        }
    }

    @Test func streamsRefuseWhatTheyDidNotIssue() async throws {
        try await LiveAPI.run { api in
            let alice = UUID(), bob = UUID(), service = try await api.minter.service()
            let id = try await Self.submitWaiting(api, for: alice, service: service)
            // Another user's job is no job.
            let bobs = try await EventStreamReader.open(api, "/v1/jobs/\(id)/events", token: try await api.minter.token(user: bob))
            #expect(bobs.status == 404 && bobs.error?.errorCode == "not_found")
            // A Last-Event-ID this server did not write.
            let token = try await api.minter.token(user: alice)
            for garbage in ["12", "letters=1-x", "diagnostics=1-0,diagnostics=2-0", "Nope=1-0", String(repeating: "a", count: 5000)] {
                let refused = try await EventStreamReader.open(api, "/v1/jobs/\(id)/events", token: token, lastEventID: garbage)
                #expect(refused.status == 400 && refused.error?.errorCode == "invalid_last_event_id", "\(garbage.prefix(20))")
            }
            // Stream tokens: forged, expired-looking or on another route.
            let issued = try await api.call(.POST, "/v1/events/token", token: token)
            guard case .string(let streamToken)? = issued["token"] else { throw Failure("no stream token: \(issued.json)") }
            let parts = streamToken.split(separator: ".")
            let forged = "service_role.-.\(parts[2]).\(parts[3])"
            let expired = "\(parts[0]).\(parts[1]).1.\(parts[3])"
            for bad in [forged, expired, "nonsense", String(streamToken.dropLast())] {
                let refused = try await EventStreamReader.open(api, "/v1/events/stream?access_token=\(bad)")
                #expect(refused.status == 401 && refused.error?.errorCode == "unauthorized", "\(bad)")
            }
            #expect(try await api.call(.GET, "/v1/jobs/\(id)?access_token=\(streamToken)").status == 401)
            #expect(try await EventStreamReader.open(api, "/v1/jobs/\(id)/events?access_token=\(streamToken)").status == 200)
            // A user may follow only the queues of the jobs users submit.
            let events = try await EventStreamReader.open(api, "/v1/events/stream?queue=profiles_x", token: token)
            #expect(events.status == 404)
            #expect(try await EventStreamReader.open(api, "/v1/events/stream?queue=Bad!", token: token).status == 400)
        }
    }
}

/// A test's own failure, with what it saw.
struct Failure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
