import PhoenixAPI
import Crypto
import Foundation
import NIOHTTP1
import PhoenixJobsCore
import PhoenixQueue
import PhoenixRedis
import Testing
import TestSupport

/// Issue 14: what a hostile signed-in user or an unauthenticated stranger tries, against a live server.
@Suite struct HostileCallerTests {
    /// Item 1: a user cannot publish events that billing or the system own, through either route.
    @Test func usersCannotPublishBillingOrSystemEvents() async throws {
        try await LiveAPI.run { api in
            let user = UUID()
            let token = try await api.minter.token(user: user)
            let events = [
                #"{"stream_id": "\#(user)", "event_type": "subscription.updated", "app_source": "billing", "payload": {"app_name": "cv", "tier": "pro"}}"#,
                #"{"stream_id": "\#(user)", "event_type": "subscription.created", "app_source": "billing", "payload": {"app_name": "letters", "tier": "premium"}}"#,
                #"{"stream_id": "\#(user)", "event_type": "subscription.updated", "app_source": "website", "payload": {"app_name": "cv", "tier": "pro"}}"#,
                #"{"stream_id": "\#(user)", "event_type": "payment.succeeded", "app_source": "cv"}"#,
                #"{"stream_id": "\#(user)", "event_type": "user.tier_updated", "app_source": "letters"}"#,
                #"{"stream_id": "\#(user)", "event_type": "cv.generated", "app_source": "system"}"#,
            ]
            for event in events {
                let direct = try await api.call(.POST, "/v1/events", token: token, body: event)
                #expect(direct.status == 403 && direct.errorCode == "reserved_event", "\(event): \(direct.json)")
                let asJob = try await api.call(.POST, "/v1/jobs", token: token, body: #"{"type": "event.publish", "payload": \#(event)}"#)
                #expect(asJob.status == 403 && asJob.errorCode == "reserved_event", "\(event): \(asJob.json)")
            }
            #expect(try await api.queue.stats(queue: "events").enqueued == 0)
            // The user's own ordinary events still go through, and a service may publish billing events.
            let own = try await api.call(.POST, "/v1/events", token: token, body: #"{"stream_id": "\#(user)", "event_type": "cv.template_selected", "app_source": "cv"}"#)
            #expect(own.status == 202)
            let service = try await api.call(.POST, "/v1/events", token: try await api.minter.service(), body: events[0])
            #expect(service.status == 202)
            guard case .string(let id)? = service["id"] else { Issue.record("no id: \(service.json)"); return }
            #expect(try await api.queue.job(id: id)?.envelope?.enqueuedBy == Enqueuer.service)
        }
    }

    /// Item 3: a user's job runs in its type's queue at its type's priority; a service names only served queues.
    @Test func usersChooseNeitherQueueNorPriority() async throws {
        try await LiveAPI.run { api in
            let user = UUID()
            let token = try await api.minter.token(user: user)
            let nowhere = try await api.call(.POST, "/v1/jobs", token: token, body: #"{"type": "diagnostic.noop", "queue": "nowhere", "payload": {"user_id": "\#(user)"}}"#)
            #expect(nowhere.status == 403 && nowhere.errorCode == "queue_not_allowed")
            let own = try await api.call(.POST, "/v1/jobs", token: token, body: #"{"type": "diagnostic.noop", "queue": "diagnostics", "payload": {"user_id": "\#(user)"}}"#)
            #expect(own.status == 403 && own.errorCode == "queue_not_allowed")
            let urgent = try await api.call(.POST, "/v1/jobs", token: token, body: #"{"type": "diagnostic.noop", "priority": 1000, "payload": {"user_id": "\#(user)"}}"#)
            #expect(urgent.status == 403 && urgent.errorCode == "priority_not_allowed")
            let batch = try await api.call(.POST, "/v1/jobs/batch", token: token, body: #"{"jobs": [{"type": "diagnostic.noop", "payload": {"user_id": "\#(user)"}}, {"type": "diagnostic.noop", "queue": "nowhere", "payload": {"user_id": "\#(user)"}}]}"#)
            #expect(batch.status == 403 && AuthTests.message(batch).hasPrefix("jobs[1]: "))

            let service = try await api.minter.service()
            let unserved = try await api.call(.POST, "/v1/jobs", token: service, body: #"{"type": "diagnostic.noop", "queue": "nowhere"}"#)
            #expect(unserved.status == 422 && AuthTests.message(unserved).contains("runs in queue 'diagnostics' only"))
            // A served queue whose workers lack the type's handler: the job would wait there until it went dead.
            let elsewhere = try await api.call(.POST, "/v1/jobs", token: service, body: #"{"type": "diagnostic.noop", "queue": "letters"}"#)
            #expect(elsewhere.status == 422 && AuthTests.message(elsewhere).contains("runs in queue 'diagnostics' only"))
            #expect(try await api.queue.stats(queue: "diagnostics").enqueued == 0)
            #expect(try await api.queue.stats(queue: "letters").enqueued == 0)
            #expect(try await api.queue.redis.send("SISMEMBER", api.queue.keys.queues, "nowhere") == .integer(0))
            let chosen = try await api.call(.POST, "/v1/jobs", token: service, body: #"{"type": "diagnostic.noop", "queue": "diagnostics", "priority": 5}"#)
            #expect(chosen.status == 202)
        }
    }

    /// Item 4: idempotency keys belong to their caller and job type; the platform's own prefixes are reserved.
    @Test func idempotencyKeysAreTheCallersOwn() async throws {
        try await LiveAPI.run { api in
            let alice = UUID(), bob = UUID()
            let submit = { (user: UUID, type: String, key: String) async throws -> Reply in
                try await api.call(.POST, "/v1/jobs", token: try await api.minter.token(user: user),
                                   body: #"{"type": "\#(type)", "idempotencyKey": "\#(key)", "payload": {"user_id": "\#(user)", "ms": 1}}"#)
            }
            let first = try await submit(alice, "diagnostic.noop", "order-1")
            let again = try await submit(alice, "diagnostic.noop", "order-1")
            let other = try await submit(bob, "diagnostic.noop", "order-1")
            let otherType = try await submit(alice, "diagnostic.sleep", "order-1")
            #expect(first["created"] == .bool(true) && again["created"] == .bool(false) && again["id"] == first["id"])
            #expect(other.status == 202 && other["created"] == .bool(true) && other["id"] != first["id"])
            #expect(otherType["created"] == .bool(true) && otherType["id"] != first["id"])
            for reserved in ["periodic:profile.sync_all:999999", "route:x:profile.sync", "stripe:evt_1"] {
                let claimed = try await submit(alice, "diagnostic.noop", reserved)
                #expect(claimed.status == 422 && AuthTests.message(claimed).contains("reserved"), "\(reserved)")
            }
            let service = try await api.minter.service()
            let serviceJob = try await api.call(.POST, "/v1/jobs", token: service, body: #"{"type": "diagnostic.noop", "idempotencyKey": "order-1"}"#)
            #expect(serviceJob["created"] == .bool(true))
            #expect(try await api.queue.redis.send("EXISTS", api.queue.keys.idempotency("periodic:profile.sync_all:999999", in: "profiles")) == .integer(0))
        }
    }

    /// Item 4: the per-user rate limit counts jobs, so a batch costs as many units as it holds jobs.
    @Test func theRateLimitCountsJobs() async throws {
        let configuration = APIConfiguration(host: "127.0.0.1", port: 0, bodyLimit: 65_536, rateLimitPerMinute: 50)
        try await LiveAPI.run(configuration: configuration) { api in
            let user = UUID()
            let token = try await api.minter.token(user: user)
            let job = #"{"type": "diagnostic.noop", "payload": {"user_id": "\#(user)"}}"#
            var batch = try await api.call(.POST, "/v1/jobs/batch", token: token, body: #"{"jobs": [\#(Array(repeating: job, count: 100).joined(separator: ","))]}"#)
            if batch.status != 429 {  // a new clock minute began between the two counts: once more
                batch = try await api.call(.POST, "/v1/jobs/batch", token: token, body: #"{"jobs": [\#(Array(repeating: job, count: 100).joined(separator: ","))]}"#)
            }
            #expect(batch.status == 429 && batch.errorCode == "rate_limited")
            #expect(try await api.queue.stats(queue: "diagnostics").enqueued == 0)
        }
    }

    /// Item 2: numbers read from headers and query parameters never trap; each hostile value is a 4xx with
    /// a JSON error, and the server keeps serving.
    @Test func hostileNumbersInHeadersAndQueriesAreClearErrors() async throws {
        try await LiveAPI.run { api in
            let body = WebhookAndCORSTests.subscriptionEvent(id: "evt_hostile", user: UUID())
            let signature = WebhookAndCORSTests.signed(body).split(separator: ",")[1]
            let stamps = ["-9223372036854775808", "9223372036854775807", "-9223372036854775807", "99999999999999999999", "", "1e309",
                          "NaN", "-0x10", "+", "1.5", " "]
            var headers = stamps.map { "t=\($0),\(signature)" }
            headers += ["t=1,t=2,\(signature)", "\(signature)", ",,,", "=", "t", "t==,v1==", String(repeating: "t=1,", count: 2000)]
            for header in headers {
                let reply = try await api.call(.POST, "/webhooks/stripe", body: body, headers: [("Stripe-Signature", header)])
                #expect(reply.status == 400 && reply.errorCode == "invalid_signature", "\(header.prefix(60)): \(reply.status) \(reply.json)")
            }

            let service = try await api.minter.service()
            let values = ["-9223372036854775808", "9223372036854775807", "99999999999999999999", "", "1e999", "NaN", "-1", "0x10", "%00"]
            for name in ["offset", "limit"] {
                for value in values {
                    let reply = try await api.call(.GET, "/v1/queues/diagnostics/dead?\(name)=\(value)", token: service)
                    #expect(reply.status == 400 && reply.errorCode == "invalid_query", "\(name)=\(value): \(reply.status)")
                }
                let repeated = try await api.call(.GET, "/v1/queues/diagnostics/dead?\(name)=1&\(name)=2", token: service)
                #expect(repeated.status == 400 && AuthTests.message(repeated).contains("once"), "\(name) twice: \(repeated.json)")
            }

            // Tokens correctly signed with the secret but holding hostile numbers.
            for claim in ["-9223372036854775808", "9223372036854775807", "1e308", "-1e308", "1e999", "\"soon\"", "null", "[]"] {
                for field in ["exp", "nbf", "iat"] {
                    let claims = #"{"sub": "\#(UUID().uuidString.lowercased())", "role": "authenticated", "aud": "authenticated", "exp": 4102444800, "\#(field)": \#(claim)}"#
                    let reply = try await api.call(.GET, "/v1/jobs/\(UUID())", token: Self.hs256(claims))
                    #expect((400..<500).contains(reply.status) && reply.errorCode != nil, "\(field)=\(claim): \(reply.status)")
                }
            }

            // The dashboard's cookie and the sign-in form's Origin.
            for cookie in ["99999999999999999999999999.x", "-9223372036854775808.x", "1e999.x", "nan.x", "inf.x", ".", ""] {
                let reply = try await api.call(.GET, "/dashboard", headers: [("Cookie", "phoenix_dashboard=\(cookie)")])
                #expect(reply.status == 401, "cookie \(cookie)")
            }
            for origin in ["http://127.0.0.1:99999999999999999999", "http://[", "http://127.0.0.1:-1", "http://:0"] {
                let reply = try await api.call(.POST, "/dashboard/login", body: "credential=x", headers: [("Origin", origin)])
                #expect((400..<500).contains(reply.status), "Origin \(origin): \(reply.status)")
            }
            #expect(try await api.call(.GET, "/health").status == 200)
        }
    }

    /// An HS256 token over `claims` (JSON text), signed with the test secret.
    static func hs256(_ claims: String) -> String {
        func encode(_ bytes: [UInt8]) -> String {
            Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
        }
        let signingInput = encode(Array(#"{"alg":"HS256","typ":"JWT"}"#.utf8)) + "." + encode(Array(claims.utf8))
        let code = HMAC<SHA256>.authenticationCode(for: Array(signingInput.utf8), using: SymmetricKey(data: Array(TokenMinter.secret.utf8)))
        return signingInput + "." + encode(Array(code))
    }
}
