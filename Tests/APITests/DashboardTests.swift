import PhoenixAPI
import Foundation
import NIOHTTP1
import PostgresNIO
import PhoenixJobsCore
import PhoenixQueue
import Testing
import TestSupport

/// The dashboard: sign-in, what it shows, escaping, and its forms' protection.
@Suite struct DashboardTests {
    static func cookie(_ reply: Reply) -> String? {
        reply.headers.first(name: "Set-Cookie")?.split(separator: ";").first.map(String.init)
    }

    static func html(_ reply: Reply) -> String {
        if case .string(let text) = reply.json { return text }
        return ""
    }

    @Test func signInShowsQueuesWorkersDeadJobsAndTheFormsNeedTheSessionToken() async throws {
        try await LiveAPI.run { api in
            let service = try await api.minter.service()
            _ = try await api.call(.POST, "/v1/jobs", token: service, body: #"{"type": "diagnostic.noop"}"#)
            let failing = try await api.call(.POST, "/v1/jobs", token: service, body: #"{"type": "diagnostic.fail", "payload": {"message": "<b>boom</b>", "permanent": true}}"#)
            guard case .string(let deadID)? = failing["id"] else { Issue.record("no id"); return }
            try await eventually("one completed, one dead") {
                let stats = try await api.queue.stats(queue: "diagnostics")
                return stats.completed == 1 && stats.dead == 1
            }

            // Three jobs asked for in committed transactions, which no relay takes here.
            try await api.client.query("SELECT public.phoenix_enqueue_job('diagnostic.noop', '{}'::jsonb) FROM generate_series(1, 3)")

            let anonymous = try await api.call(.GET, "/dashboard")
            #expect(anonymous.status == 401 && Self.html(anonymous).contains("name=\"credential\""))
            let wrong = try await api.call(.POST, "/dashboard/login", body: "credential=nope", headers: [("Content-Type", "application/x-www-form-urlencoded")])
            #expect(wrong.status == 401 && Self.html(wrong).contains("Wrong password"))
            let signedIn = try await api.call(.POST, "/dashboard/login", body: "credential=dashboard-test-password", headers: [("Content-Type", "application/x-www-form-urlencoded")])
            #expect(signedIn.status == 303 && signedIn.headers.first(name: "Location") == "/dashboard")
            let setCookie = signedIn.headers.first(name: "Set-Cookie") ?? ""
            #expect(setCookie.contains("HttpOnly") && setCookie.contains("SameSite=Lax"))
            let cookie = try #require(Self.cookie(signedIn))

            let page = try await api.call(.GET, "/dashboard", headers: [("Cookie", cookie)])
            let html = Self.html(page)
            #expect(page.status == 200)
            for queue in ["events", "profiles", "letters", "cv", "diagnostics"] { #expect(html.contains(#"<tr data-queue="\#(queue)">"#)) }
            #expect(html.contains(#"<td class="num completed">1</td>"#))
            #expect(html.contains("&lt;b&gt;boom&lt;/b&gt;") && !html.contains("<b>boom</b>"))
            #expect(html.contains("<svg class=\"chart\""))
            #expect(html.contains("<meta http-equiv=\"refresh\""))
            #expect(html.contains(deadID))
            #expect(html.contains(#"Outbox of transactional enqueue: <span class="num">3</span> waiting, oldest "#))

            // A form post without the session's token, or from another site, changes nothing.
            let form = [("Content-Type", "application/x-www-form-urlencoded"), ("Cookie", cookie)]
            let forged = try await api.call(.POST, "/dashboard/dead/retry", body: "queue=diagnostics&id=\(deadID)&csrf=0000", headers: form)
            #expect(forged.status == 403)
            let csrf = try #require(html.firstMatch(of: /name="csrf" value="([0-9a-f]+)"/)?.1).description
            let crossSite = try await api.call(.POST, "/dashboard/dead/retry", body: "queue=diagnostics&id=\(deadID)&csrf=\(csrf)", headers: form + [("Origin", "https://evil.test")])
            #expect(crossSite.status == 403)
            let noSession = try await api.call(.POST, "/dashboard/dead/retry", body: "queue=diagnostics&id=\(deadID)&csrf=\(csrf)", headers: [("Content-Type", "application/x-www-form-urlencoded")])
            #expect(noSession.status == 401)
            #expect(try await api.queue.stats(queue: "diagnostics").dead == 1)

            let discarded = try await api.call(.POST, "/dashboard/dead/discard", body: "queue=diagnostics&id=\(deadID)&csrf=\(csrf)", headers: form)
            #expect(discarded.status == 303)
            #expect(try await api.queue.stats(queue: "diagnostics").dead == 0)

            // Running jobs are listed with a Cancel button; DELETE /v1/jobs/{id} does the same for a service.
            var sleeping: [String] = []
            for _ in 0..<2 {
                let reply = try await api.call(.POST, "/v1/jobs", token: service, body: #"{"type": "diagnostic.sleep", "payload": {"ms": 60000}}"#)
                guard case .string(let id)? = reply["id"] else { Issue.record("no id"); return }
                sleeping.append(id)
            }
            try await eventually("both sleep") { try await api.queue.stats(queue: "diagnostics").leased == 2 }
            let running = Self.html(try await api.call(.GET, "/dashboard", headers: [("Cookie", cookie)]))
            for id in sleeping { #expect(running.contains(#"<input type="hidden" name="id" value="\#(id)"><button>Cancel</button>"#)) }
            let viaForm = try await api.call(.POST, "/dashboard/jobs/cancel", body: "id=\(sleeping[0])&csrf=\(csrf)", headers: form)
            #expect(viaForm.status == 303)
            let viaAPI = try await api.call(.DELETE, "/v1/jobs/\(sleeping[1])", token: service)
            #expect(viaAPI.status == 202 && viaAPI["state"] == .string("leased") && viaAPI["cancelling"] == .bool(true))
            let status = try await api.call(.GET, "/v1/jobs/\(sleeping[1])", token: service)
            #expect(status["cancelling"] == .bool(true) || status["state"] == .string("cancelled"))
            try await eventually("both are cancelled") {
                let states = [try await api.queue.job(id: sleeping[0])?.state, try await api.queue.job(id: sleeping[1])?.state]
                return states == [.cancelled, .cancelled]
            }
            let done = try await api.call(.DELETE, "/v1/jobs/\(sleeping[1])", token: service)
            #expect(done.status == 409 && done.errorCode == "not_cancellable")
        }
    }

    /// Signs in with the dashboard password: the session cookie and the form token of its pages.
    static func signIn(_ api: LiveAPI) async throws -> (cookie: String, csrf: String) {
        let signedIn = try await api.call(.POST, "/dashboard/login", body: "credential=dashboard-test-password", headers: [("Content-Type", "application/x-www-form-urlencoded")])
        let cookie = try #require(Self.cookie(signedIn))
        let page = Self.html(try await api.call(.GET, "/dashboard", headers: [("Cookie", cookie)]))
        let csrf = try #require(page.firstMatch(of: /name="csrf" value="([0-9a-f]+)"/)?.1).description
        return (cookie, csrf)
    }

    /// Submits a job as the service; its id.
    static func submit(_ api: LiveAPI, _ body: String) async throws -> String {
        let reply = try await api.call(.POST, "/v1/jobs", token: try await api.minter.service(), body: body)
        let id: String? = if case .string(let id)? = reply["id"] { id } else { nil }
        return try #require(id, "no id in \(reply.status) \(reply.json)")
    }

    @Test func aJobsPageShowsItsHistoryAttemptsResultAndItsPayloadWithPersonalFieldsMasked() async throws {
        try await LiveAPI.run { api in
            let (cookie, _) = try await Self.signIn(api)
            let user = UUID().uuidString.lowercased()
            let id = try await Self.submit(api, #"{"type": "diagnostic.fail", "payload": {"message": "no luck", "user_id": "\#(user)", "email": "jane.doe@example.com", "candidate": {"name": "Jane Doe", "phone": 33612345678}, "language": "fr"}}"#)
            try await eventually("the job is dead after its attempts") { try await api.queue.job(id: id)?.state == .dead }
            let reply = try await api.call(.GET, "/dashboard/jobs/\(id)", headers: [("Cookie", cookie)])
            #expect(reply.status == 200)
            #expect(reply.headers.first(name: "Content-Security-Policy")?.contains("script-src 'self'") == true)
            let page = Self.html(reply)
            #expect(page.contains(#"id="job-state" class="state dead">dead"#))
            // State history, newest first: the last attempt's death above its first start.
            let events = page.matches(of: /<tr data-event="([a-z]+)">/).map { String($0.1) }
            #expect(events.first == "dead" && events.last == "queued" && events.contains("started") && events.contains("failed"), "\(events)")
            #expect(page.contains("<td class=\"error\">no luck</td>"))
            // A queued event has no attempt: its cell is empty, not the job's own attempt.
            #expect(page.contains(/<tr data-event="queued"><td>[^<]*<\/td><td class="state queued">queued<\/td><td class="num"><\/td>/), "\(page)")
            // Personal fields masked, the rest shown.
            let payload = try #require(page.firstMatch(of: /<pre id="payload">(.*?)<\/pre>/.dotMatchesNewlines())?.1).description
            #expect(!payload.contains("jane.doe") && !payload.contains("Jane Doe") && !payload.contains("33612345678") && !payload.contains("no luck"))
            #expect(payload.contains("‹masked: 20 characters›") && payload.contains("‹masked number›"))
            #expect(payload.contains(user) && payload.contains("&quot;fr&quot;"))
            // Dead: Retry and Discard, no Cancel.
            #expect(page.contains(#"<button name="action" value="retry">Retry</button>"#) && !page.contains(#"value="cancel">Cancel</button>"#))

            // A job the queue forgot: its run row alone, with its result.
            let archived = UUID()
            try await api.client.query("""
                INSERT INTO public.phoenix_job_runs (job_id, type, queue, status, attempt, user_id, finished_at, duration_ms, result)
                VALUES (\(archived), 'letter.generate', 'letters', 'completed', 1, \(UUID(uuidString: user)!), now(), 1234, '{"letter_id": 7}'::jsonb)
                """)
            let old = Self.html(try await api.call(.GET, "/dashboard/jobs/\(archived.uuidString)", headers: [("Cookie", cookie)]))
            #expect(old.contains("completed (archived") && old.contains("1234 ms") && old.contains("&quot;letter_id&quot; : 7"))
            #expect(old.contains("Not kept: the queue forgets"))

            let unknown = try await api.call(.GET, "/dashboard/jobs/\(UUID().uuidString)", headers: [("Cookie", cookie)])
            #expect(unknown.status == 404 && unknown.errorCode == "not_found")
            let malformed = try await api.call(.GET, "/dashboard/jobs/nope", headers: [("Cookie", cookie)])
            #expect(malformed.status == 400)
            let anonymous = try await api.call(.GET, "/dashboard/jobs/\(id)")
            #expect(anonymous.status == 401 && !Self.html(anonymous).contains("jane"))
        }
    }

    @Test func theSearchFindsJobsByUserTypeAndStateAndItsResultsTakeBulkActions() async throws {
        try await LiveAPI.run { api in
            let (cookie, csrf) = try await Self.signIn(api)
            let (alice, bob) = (UUID().uuidString.lowercased(), UUID().uuidString.lowercased())
            var aliceJobs: [String] = []
            for _ in 0..<3 { aliceJobs.append(try await Self.submit(api, #"{"type": "diagnostic.noop", "payload": {"user_id": "\#(alice)"}}"#)) }
            let bobJob = try await Self.submit(api, #"{"type": "diagnostic.noop", "payload": {"user_id": "\#(bob)"}}"#)
            var dead: [String] = []
            for index in 0..<2 { dead.append(try await Self.submit(api, #"{"type": "diagnostic.fail", "payload": {"message": "boom \#(index)", "permanent": true}}"#)) }
            let waiting = try await Self.submit(api, #"{"type": "diagnostic.noop", "delaySeconds": 3600, "payload": {"user_id": "\#(alice)"}}"#)
            try await eventually("all ran") {
                let stats = try await api.queue.stats(queue: "diagnostics")
                return stats.completed == 4 && stats.dead == 2
            }
            // A job only phoenix_job_runs remembers, of alice.
            let archived = UUID()
            try await api.client.query("""
                INSERT INTO public.phoenix_job_runs (job_id, type, queue, status, attempt, user_id, finished_at, error)
                VALUES (\(archived), 'letter.generate', 'letters', 'failed', 3, \(UUID(uuidString: alice)!), now(), 'provider down')
                """)
            func search(_ query: String) async throws -> [String] {
                let reply = try await api.call(.GET, "/dashboard/search?\(query)", headers: [("Cookie", cookie)])
                #expect(reply.status == 200, "\(query): \(reply.status) \(reply.json)")
                return Self.html(reply).matches(of: /<tr data-job="([0-9a-f-]+)">/).map { String($0.1) }
            }
            #expect(Set(try await search("user=\(alice)")) == Set(aliceJobs + [waiting, archived.uuidString.lowercased()]))
            #expect(Set(try await search("user=\(alice)&state=completed")) == Set(aliceJobs))
            #expect(try await search("user=\(alice)&state=delayed") == [waiting])
            #expect(try await search("user=\(alice)&state=dead") == [archived.uuidString.lowercased()])
            #expect(try await search("user=\(bob)") == [bobJob])
            #expect(Set(try await search("type=diagnostic.fail&state=dead")) == Set(dead))
            #expect(try await search("type=letter.generate") == [archived.uuidString.lowercased()])
            // A job id opens its page.
            let byID = try await api.call(.GET, "/dashboard/search?id=\(bobJob.uppercased())", headers: [("Cookie", cookie)])
            #expect(byID.status == 303 && byID.headers.first(name: "Location") == "/dashboard/jobs/\(bobJob)")
            for (query, code) in [("user=someone", "invalid_user"), ("state=lost", "invalid_state"), ("type=DROP%20TABLE", "invalid_type"), ("id=1", "invalid_id")] {
                let refused = try await api.call(.GET, "/dashboard/search?\(query)", headers: [("Cookie", cookie)])
                #expect(refused.status == 400 && refused.errorCode == code, "\(query)")
            }

            // Bulk actions: every id ticked, back to the page it came from with what was done.
            let form = [("Content-Type", "application/x-www-form-urlencoded"), ("Cookie", cookie)]
            let back = "%2Fdashboard%2Fsearch%3Ftype%3Ddiagnostic.fail"
            let retried = try await api.call(.POST, "/dashboard/jobs/bulk", body: "csrf=\(csrf)&action=retry&back=\(back)&id=\(dead[0])&id=\(dead[1])&id=\(bobJob)", headers: form)
            #expect(retried.status == 303 && retried.headers.first(name: "Location") == "/dashboard/search?type=diagnostic.fail&done=retry&ok=2&of=3")
            let notice = Self.html(try await api.call(.GET, "/dashboard/search?type=diagnostic.fail&done=retry&ok=2&of=3", headers: [("Cookie", cookie)]))
            #expect(notice.contains("Retried 2 of 3 jobs."))
            // The next action on that page goes back to the search alone, not to the notice.
            #expect(notice.contains(#"name="back" value="/dashboard/search?type=diagnostic.fail""#), "\(notice)")
            try await eventually("the retried jobs died again") {
                let records = [try await api.queue.job(id: dead[0]), try await api.queue.job(id: dead[1])]
                let deadCount = try await api.queue.stats(queue: "diagnostics").dead
                return records.allSatisfy { $0?.state == .dead && $0?.attempt == 1 } && deadCount == 2
            }
            let cancelled = try await api.call(.POST, "/dashboard/jobs/bulk", body: "csrf=\(csrf)&action=cancel&id=\(waiting)&id=\(bobJob)", headers: form)
            #expect(cancelled.headers.first(name: "Location") == "/dashboard?done=cancel&ok=1&of=2")
            #expect(try await api.queue.job(id: waiting)?.state == .cancelled)
            let discarded = try await api.call(.POST, "/dashboard/jobs/bulk", body: "csrf=\(csrf)&action=discard&back=https%3A%2F%2Fevil.test&id=\(dead[0])&id=\(dead[1])", headers: form)
            #expect(discarded.headers.first(name: "Location") == "/dashboard?done=discard&ok=2&of=2")
            #expect(try await api.queue.stats(queue: "diagnostics").dead == 0)
            // Refusals change nothing.
            for (body, status) in [
                ("csrf=\(csrf)&action=retry", 400), ("csrf=\(csrf)&action=explode&id=\(bobJob)", 400), ("csrf=\(csrf)&action=cancel&id=nope", 400),
                ("csrf=0000&action=cancel&id=\(bobJob)", 403),
            ] {
                let refused = try await api.call(.POST, "/dashboard/jobs/bulk", body: body, headers: form)
                #expect(refused.status == status, "\(body)")
            }
            let tooMany = (0..<1001).map { _ in "id=\(UUID().uuidString)" }.joined(separator: "&")
            let refusedMany = try await api.call(.POST, "/dashboard/jobs/bulk", body: "csrf=\(csrf)&action=cancel&\(tooMany)", headers: form)
            #expect(refusedMany.status == 400 && refusedMany.errorCode == "too_many_jobs")
            let events = try await api.call(.GET, "/dashboard/events")
            #expect(events.status == 401)
        }
    }

    @Test func aServiceTokenOpensTheDashboardAndAUserTokenDoesNot() async throws {
        try await LiveAPI.run { api in
            let service = try await api.call(.GET, "/dashboard", token: try await api.minter.service())
            #expect(service.status == 200 && Self.cookie(service)?.hasPrefix("phoenix_dashboard=") == true)
            let user = try await api.call(.GET, "/dashboard", token: try await api.minter.token())
            #expect(user.status == 401)
            let userLogin = try await api.call(.POST, "/dashboard/login", body: "credential=\(try await api.minter.token())", headers: [("Content-Type", "application/x-www-form-urlencoded")])
            #expect(userLogin.status == 401)
        }
    }
}
