import PhoenixAPI
import Foundation
import NIOHTTP1
import PhoenixJobsCore
import PhoenixQueue
import PhoenixRedis
import PostgresNIO
import Testing
import TestSupport

/// The jobs API through a live server, a real worker, Redis and PostgreSQL.
@Suite struct JobsAPITests {
    @Test func aSubmittedJobRunsAndItsStatusBecomesCompleted() async throws {
        try await LiveAPI.run { api in
            let user = UUID()
            let token = try await api.minter.token(user: user)
            let submitted = try await api.call(.POST, "/v1/jobs", token: token, body: #"{"type": "diagnostic.sleep", "payload": {"ms": 50, "user_id": "\#(user)"}}"#)
            #expect(submitted.status == 202)
            guard case .string(let id)? = submitted["id"] else { Issue.record("no id: \(submitted.json)"); return }
            #expect(submitted["status_url"] == .string("/v1/jobs/\(id)"))
            #expect(submitted.headers.first(name: "Location") == "/v1/jobs/\(id)")
            try await eventually("the job completed") {
                try await api.call(.GET, "/v1/jobs/\(id)", token: token)["state"] == .string("completed")
            }
            let status = try await api.call(.GET, "/v1/jobs/\(id)", token: token)
            #expect(status["type"] == .string("diagnostic.sleep"))
            #expect(status["attempt"] == .number(1))
            #expect(status["progress"] == .number(0.5))  // diagnostic.sleep reports half-way
        }
    }

    @Test func batchesEventsAndCancellation() async throws {
        try await LiveAPI.run { api in
            let service = try await api.minter.service()
            let batch = try await api.call(.POST, "/v1/jobs/batch", token: service, body: #"{"jobs": [{"type": "diagnostic.noop"}, {"type": "diagnostic.noop", "idempotencyKey": "once"}, {"type": "diagnostic.noop", "idempotencyKey": "once"}]}"#)
            #expect(batch.status == 202)
            guard case .array(let jobs)? = batch["jobs"] else { Issue.record("no jobs: \(batch.json)"); return }
            #expect(jobs.map { $0.objectValue?["created"] } == [.bool(true), .bool(true), .bool(false)])
            #expect(jobs[1].objectValue?["id"] == jobs[2].objectValue?["id"])

            let invalid = try await api.call(.POST, "/v1/jobs/batch", token: service, body: #"{"jobs": [{"type": "diagnostic.noop"}, {"type": "diagnostic.sleep", "payload": {"ms": "soon"}}]}"#)
            #expect(invalid.status == 422)
            #expect(AuthTests.message(invalid).hasPrefix("jobs[1]: "))
            #expect(AuthTests.message(invalid).contains("ms"))

            let delayed = try await api.call(.POST, "/v1/jobs", token: service, body: #"{"type": "diagnostic.noop", "delaySeconds": 3600}"#)
            guard case .string(let id)? = delayed["id"] else { Issue.record("no id"); return }
            let cancelled = try await api.call(.DELETE, "/v1/jobs/\(id)", token: service)
            #expect(cancelled.status == 200 && cancelled["state"] == .string("cancelled"))
            let again = try await api.call(.DELETE, "/v1/jobs/\(id)", token: service)
            #expect(again.status == 409 && again.errorCode == "not_cancellable")

            // POST /v1/events is event.publish with the event as the body; a user publishes to their own stream only.
            let user = UUID()
            let token = try await api.minter.token(user: user)
            let event = try await api.call(.POST, "/v1/events", token: token, body: #"{"stream_id": "\#(user)", "event_type": "cv.generated", "app_source": "cv"}"#)
            #expect(event.status == 202)
            guard case .string(let eventJob)? = event["id"] else { Issue.record("no id: \(event.json)"); return }
            #expect(try await api.queue.job(id: eventJob)?.envelope?.type == "event.publish")
            let foreign = try await api.call(.POST, "/v1/events", token: token, body: #"{"stream_id": "\#(UUID())", "event_type": "cv.generated", "app_source": "cv"}"#)
            #expect(foreign.status == 403)
            let badEvent = try await api.call(.POST, "/v1/events", token: service, body: #"{"stream_id": "nope", "event_type": "cv.generated", "app_source": "cv"}"#)
            #expect(badEvent.status == 422 && AuthTests.message(badEvent).contains("stream_id"))
        }
    }

    @Test func badInputGetsA4xxWithAJSONErrorAndNothingIsEnqueued() async throws {
        try await LiveAPI.run { api in
            let service = try await api.minter.service()
            let cases: [(String, String, Int, String)] = [
                ("/v1/jobs", "{not json", 400, "invalid_json"),
                ("/v1/jobs", "", 400, "invalid_json"),
                ("/v1/jobs", "[1, 2]", 400, "invalid_request"),
                ("/v1/jobs", #"{"payload": {}}"#, 400, "invalid_request"),
                ("/v1/jobs", #"{"type": 42}"#, 400, "invalid_request"),
                ("/v1/jobs", #"{"type": "nope.nothing"}"#, 422, "invalid_job"),
                ("/v1/jobs", #"{"type": "diagnostic.sleep", "payload": {}}"#, 422, "invalid_job"),
                ("/v1/jobs", #"{"type": "diagnostic.noop", "priority": 1.5}"#, 400, "invalid_request"),
                ("/v1/jobs", #"{"type": "diagnostic.noop", "queue": "Bad Queue"}"#, 422, "invalid_job"),
                ("/v1/jobs", #"{"type": "diagnostic.noop", "payload": "text"}"#, 422, "invalid_job"),
                ("/v1/jobs/batch", #"{"jobs": []}"#, 400, "invalid_request"),
                ("/v1/jobs", #"{"type": "diagnostic.noop", "payload": {"pad": "\#(String(repeating: "x", count: 70_000))"}}"#, 413, "payload_too_large"),
            ]
            for (path, body, status, code) in cases {
                let reply = try await api.call(.POST, path, token: service, body: body)
                #expect(reply.status == status && reply.errorCode == code, "\(body.prefix(60)) → \(reply.status) \(reply.json)")
            }
            #expect(try await api.queue.stats(queue: "diagnostics").enqueued == 0)

            let badID = try await api.call(.GET, "/v1/jobs/not-a-uuid", token: service)
            #expect(badID.status == 400 && badID.errorCode == "invalid_id")
            let unknown = try await api.call(.GET, "/v1/jobs/\(UUID())", token: service)
            #expect(unknown.status == 404 && unknown.errorCode == "not_found")
            let noRoute = try await api.call(.GET, "/v2/anything", token: service)
            #expect(noRoute.status == 404 && noRoute.errorCode == "not_found")
            let badQuery = try await api.call(.GET, "/v1/queues/diagnostics/dead?limit=100000", token: service)
            #expect(badQuery.status == 400 && badQuery.errorCode == "invalid_query")
        }
    }

    @Test func flowControlIsReadAndChangedByServiceCallersOnly() async throws {
        try await LiveAPI.run { api in
            let service = try await api.minter.service()
            let initial = try await api.call(.GET, "/v1/queues/diagnostics/flow", token: service)
            #expect(initial.status == 200)
            #expect(initial.json == .object(["queue": .string("diagnostics"), "fairShare": .bool(false), "keyConcurrency": .null, "concurrency": .null, "requestsPerMinute": .null, "tokensPerMinute": .null]))

            let changed = try await api.call(.PUT, "/v1/queues/diagnostics/flow", token: service, body: #"{"fairShare": true, "keyConcurrency": 2, "concurrency": 20}"#)
            #expect(changed.status == 200)
            #expect(changed.json == .object(["queue": .string("diagnostics"), "fairShare": .bool(true), "keyConcurrency": .number(2), "concurrency": .number(20), "requestsPerMinute": .null, "tokensPerMinute": .null]))
            #expect(try await api.queue.flowSettings(queue: "diagnostics") == FlowSettings(fairShare: true, keyConcurrency: 2, concurrency: 20))
            let rated = try await api.call(.PUT, "/v1/queues/diagnostics/flow", token: service, body: #"{"requestsPerMinute": 600}"#)
            #expect(rated["requestsPerMinute"] == .number(600))
            #expect(try await api.call(.PUT, "/v1/queues/diagnostics/flow", token: service, body: #"{"requestsPerMinute": null}"#)["requestsPerMinute"] == .null)
            // A token budget may be far larger than a request rate.
            let tokens = try await api.call(.PUT, "/v1/queues/diagnostics/flow", token: service, body: #"{"tokensPerMinute": 2000000}"#)
            #expect(tokens.status == 200 && tokens["tokensPerMinute"] == .number(2_000_000))
            #expect(try await api.call(.PUT, "/v1/queues/diagnostics/flow", token: service, body: #"{"tokensPerMinute": null}"#)["tokensPerMinute"] == .null)
            // Absent fields stay; null removes a limit.
            let lifted = try await api.call(.PUT, "/v1/queues/diagnostics/flow", token: service, body: #"{"concurrency": null}"#)
            #expect(lifted["keyConcurrency"] == .number(2) && lifted["concurrency"] == .null && lifted["fairShare"] == .bool(true))

            for (body, code) in [
                (#"{"fairShare": "yes"}"#, "invalid_request"), (#"{"keyConcurrency": 0}"#, "invalid_request"),
                (#"{"concurrency": 1.5}"#, "invalid_request"), (#"{"requestsPerMinute": -5}"#, "invalid_request"), (#"{"requestsPerMinute": 2000000}"#, "invalid_request"),
                (#"{"tokensPerMinute": 0}"#, "invalid_request"), (#"{"tokensPerMinute": 200000000}"#, "invalid_request"), (#"{"limit": 3}"#, "invalid_request"), ("[]", "invalid_request"),
                ("{", "invalid_json"),
            ] {
                let reply = try await api.call(.PUT, "/v1/queues/diagnostics/flow", token: service, body: body)
                #expect(reply.status == 400 && reply.errorCode == code, "\(body) → \(reply.status) \(reply.json)")
            }
            let unknown = try await api.call(.PUT, "/v1/queues/no-such-queue/flow", token: service, body: #"{"fairShare": true}"#)
            #expect(unknown.status == 404 && unknown.errorCode == "unknown_queue")
            #expect(try await api.queue.redis.send("EXISTS", api.queue.keys.flow("no-such-queue")).int == 0)
            #expect(try await api.queue.flowSettings(queue: "diagnostics") == FlowSettings(fairShare: true, keyConcurrency: 2))

            // Fair share does not switch while a job waits; nothing changes then.
            try await api.queue.pause(queue: "diagnostics")
            let waiting = try await api.call(.POST, "/v1/jobs", token: service, body: #"{"type": "diagnostic.noop", "payload": {}}"#)
            #expect(waiting.status == 202)
            let busy = try await api.call(.PUT, "/v1/queues/diagnostics/flow", token: service, body: #"{"fairShare": false}"#)
            #expect(busy.status == 409 && busy.errorCode == "queue_not_empty")
            #expect(try await api.queue.flowSettings(queue: "diagnostics").fairShare)
            _ = try await api.queue.resume(queue: "diagnostics")
        }
    }

    @Test func healthReadinessAndAdministration() async throws {
        try await LiveAPI.run { api in
            let health = try await api.call(.GET, "/health")
            #expect(health.status == 200 && health["status"] == .string("healthy"))
            guard case .string(let stamp)? = health["timestamp"] else { Issue.record("no timestamp"); return }
            #expect((try? Date(stamp, strategy: .iso8601)) != nil)
            let ready = try await api.call(.GET, "/ready")
            #expect(ready.status == 200 && ready["redis"] == .string("ok") && ready["postgres"] == .string("ok"))

            let service = try await api.minter.service()
            #expect(try await api.call(.POST, "/v1/queues/diagnostics/pause", token: service)["paused"] == .bool(true))
            #expect(try await api.queue.stats(queue: "diagnostics").paused)
            #expect(try await api.call(.POST, "/v1/queues/diagnostics/resume", token: service)["paused"] == .bool(false))

            let failing = try await api.call(.POST, "/v1/jobs", token: service, body: #"{"type": "diagnostic.fail", "payload": {"message": "boom", "permanent": true}}"#)
            guard case .string(let id)? = failing["id"] else { Issue.record("no id: \(failing.json)"); return }
            try await eventually("the job is dead") { try await api.queue.stats(queue: "diagnostics").dead == 1 }
            let dead = try await api.call(.GET, "/v1/queues/diagnostics/dead", token: service)
            guard case .array(let rows)? = Optional(dead.json) else { Issue.record("not a list: \(dead.json)"); return }
            #expect(rows.first?.objectValue?["id"] == .string(id))
            let discarded = try await api.call(.POST, "/v1/queues/diagnostics/dead/discard", token: service, body: #"{"ids": ["\#(id)"]}"#)
            #expect(discarded["jobs"] == .array([.object(["id": .string(id), "found": .bool(true)])]))
            #expect(try await api.queue.stats(queue: "diagnostics").dead == 0)

            let queues = try await api.call(.GET, "/v1/queues", token: service)
            guard case .array(let list) = queues.json else { Issue.record("not a list"); return }
            #expect(list.contains { $0.objectValue?["queue"] == .string("diagnostics") })
            try await eventually("the worker is listed") {
                guard case .array(let workers) = try await api.call(.GET, "/v1/workers", token: service).json else { return false }
                return !workers.isEmpty
            }
        }
    }

    @Test func metricsReportWorkersJobsAndQueueDepthInThePrometheusFormat() async throws {
        try await LiveAPI.run { api in
            let service = try await api.minter.service()
            for _ in 0..<3 { _ = try await api.call(.POST, "/v1/jobs", token: service, body: #"{"type": "diagnostic.noop"}"#) }
            _ = try await api.call(.POST, "/v1/jobs", token: service, body: #"{"type": "diagnostic.noop", "delaySeconds": 600}"#)
            try await eventually("three jobs completed") { try await api.queue.stats(queue: "diagnostics").completed == 3 }
            // The outbox: two rows waiting (no relay runs here) and one the relay refused.
            try await api.client.query("SELECT public.phoenix_enqueue_job('diagnostic.noop', '{}'::jsonb) FROM generate_series(1, 2)")
            try await api.client.query("""
                INSERT INTO public.phoenix_job_outbox (job_type, enqueued_by, created_at, error, failed_at)
                VALUES ('no.such_type', 'service', now() - interval '1 hour', 'unknown job type', now())
                """)
            let metrics = try await api.call(.GET, "/metrics")
            #expect(metrics.status == 200)
            #expect(metrics.headers.first(name: "Content-Type")?.hasPrefix("text/plain") == true)
            guard case .string(let text) = metrics.json else { Issue.record("not text"); return }
            let lines = text.split(separator: "\n").map(String.init)
            for expected in [
                #"phoenix_jobs_completed_total{queue="diagnostics",outcome="completed"} 3"#,
                #"phoenix_jobs_enqueued_total{queue="diagnostics"} 4"#,
                #"phoenix_queue_depth{queue="diagnostics",state="delayed"} 1.0"#,
                #"phoenix_queue_depth{queue="diagnostics",state="ready"} 0.0"#,
                #"phoenix_jobs_in_progress{queue="diagnostics"} 0.0"#,
                #"phoenix_job_duration_seconds_count{queue="diagnostics",type="diagnostic.noop"} 3"#,
                #"phoenix_job_wait_seconds_count{queue="diagnostics"} 3"#,
            ] {
                let present = lines.contains(expected)
                #expect(present, "missing \(expected)")
            }
            #expect(lines.contains { $0.hasPrefix(#"phoenix_worker_last_heartbeat_timestamp_seconds{worker_type="diagnostics"} "#) })
            #expect(lines.contains { $0.hasPrefix(#"phoenix_queue_oldest_ready_timestamp_seconds{queue="events"} "#) })
            #expect(lines.contains(#"phoenix_outbox_rows{state="waiting"} 2.0"#))
            #expect(lines.contains(#"phoenix_outbox_rows{state="refused"} 1.0"#))
            // The waiting rows' age, not the refused row's hour.
            let age = lines.first { $0.hasPrefix("phoenix_outbox_oldest_waiting_age_seconds ") }.flatMap { Double($0.split(separator: " ")[1]) }
            #expect(age.map { $0 >= 0 && $0 < 600 } == true, "\(String(describing: age))")
        }
    }

    @Test func eachCallerHasARateLimit() async throws {
        let configuration = APIConfiguration(host: "127.0.0.1", port: 0, bodyLimit: 65_536, rateLimitPerMinute: 3)
        try await LiveAPI.run(configuration: configuration) { api in
            // Four requests within one clock minute (the limiter's window): the fourth is refused. Requests that
            // straddle a minute's end are sent again, with a fresh user, in the next minute.
            var replies: [Reply] = []
            for _ in 0..<2 {
                let user = try await api.minter.token(user: UUID())
                let minute = Int(Date().timeIntervalSince1970) / 60
                replies = []
                for _ in 0..<4 { replies.append(try await api.call(.GET, "/v1/jobs/\(UUID())", token: user)) }
                if Int(Date().timeIntervalSince1970) / 60 == minute { break }
            }
            #expect(replies.map(\.status) == [404, 404, 404, 429], "error codes: \(replies.map { $0.errorCode ?? "-" })")
            let limited = try #require(replies.last)
            #expect(limited.errorCode == "rate_limited")
            #expect(Int(limited.headers.first(name: "Retry-After") ?? "") ?? 0 > 0)
            // Another user has their own count, and services are not limited.
            #expect(try await api.call(.GET, "/v1/jobs/\(UUID())", token: try await api.minter.token(user: UUID())).status == 404)
            let service = try await api.minter.service()
            for _ in 0..<5 { #expect(try await api.call(.GET, "/v1/jobs/\(UUID())", token: service).status == 404) }
        }
    }

    /// Once Redis's retention has passed, a job's status comes from its run row, with the same owners.
    @Test func aJobsRunRecordAnswersOnceTheQueueForgotTheJob() async throws {
        try await LiveAPI.run { api in
            let owner = UUID(), other = UUID(), job = UUID(), anonymous = UUID()
            try await api.client.query("""
                INSERT INTO public.phoenix_job_runs (job_id, type, queue, status, attempt, worker, user_id, started_at, finished_at, duration_ms, result)
                VALUES (\(job), 'letter.generate', 'letters', 'completed', 2, 'w', \(owner), now() - interval '3 days', now() - interval '3 days', 812, '{"letter_id": "l-1"}'::jsonb),
                       (\(anonymous), 'maintenance.cleanup', 'profiles', 'failed', 1, 'w', NULL, now(), now(), NULL, NULL)
                """)
            let mine = try await api.call(.GET, "/v1/jobs/\(job)", token: try await api.minter.token(user: owner))
            #expect(mine.status == 200, "\(mine.json)")
            #expect(mine["state"] == .string("completed") && mine["archived"] == .bool(true) && mine["type"] == .string("letter.generate"))
            #expect(mine["attempt"] == .number(2) && mine["max_attempts"] == .null && mine["duration_ms"] == .number(812))
            #expect(mine["result"] == .object(["letter_id": .string("l-1")]))
            // Another user, and a user asking for a job about no user, are told there is no such job.
            #expect(try await api.call(.GET, "/v1/jobs/\(job)", token: try await api.minter.token(user: other)).status == 404)
            #expect(try await api.call(.GET, "/v1/jobs/\(anonymous)", token: try await api.minter.token(user: owner)).status == 404)
            // The service reads both; a failed run that never completed ended dead.
            let service = try await api.minter.service()
            #expect(try await api.call(.GET, "/v1/jobs/\(job)", token: service)["state"] == .string("completed"))
            #expect(try await api.call(.GET, "/v1/jobs/\(anonymous)", token: service)["state"] == .string("dead"))
        }
    }
}
