import PhoenixAPI
import Foundation
import NIOHTTP1
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
