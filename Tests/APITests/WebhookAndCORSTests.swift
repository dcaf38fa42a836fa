import PhoenixAPI
import Crypto
import Foundation
import NIOHTTP1
import PhoenixJobsCore
import PhoenixQueue
import Testing
import TestSupport

/// The Stripe webhook (signature, tolerance, idempotence, mapping) and CORS, against a live server.
@Suite struct WebhookAndCORSTests {
    static let secret = "whsec_phoenix_test"

    static func signed(_ body: String, at time: Date = Date(), secret: String = secret) -> String {
        let timestamp = Int(time.timeIntervalSince1970)
        var message = Array("\(timestamp).".utf8)
        message.append(contentsOf: Array(body.utf8))
        let code = HMAC<SHA256>.authenticationCode(for: message, using: SymmetricKey(data: Array(secret.utf8)))
        return "t=\(timestamp),v1=\(code.map { String(format: "%02x", $0) }.joined())"
    }

    static func subscriptionEvent(id: String, user: UUID) -> String {
        #"{"id": "\#(id)", "type": "customer.subscription.updated", "data": {"object": {"id": "sub_123", "status": "active", "metadata": {"user_id": "\#(user)", "app_name": "letters", "tier": "premium"}}}}"#
    }

    @Test func aSignedSubscriptionEventBecomesOneBillingEventJob() async throws {
        try await LiveAPI.run { api in
            let user = UUID()
            let body = Self.subscriptionEvent(id: "evt_1", user: user)
            let first = try await api.call(.POST, "/webhooks/stripe", body: body, headers: [("Stripe-Signature", Self.signed(body))])
            #expect(first.status == 200 && first["created"] == .bool(true))
            guard case .string(let jobID)? = first["job_id"] else { Issue.record("no job id: \(first.json)"); return }
            // Stripe retries: the same event adds nothing.
            let again = try await api.call(.POST, "/webhooks/stripe", body: body, headers: [("Stripe-Signature", Self.signed(body))])
            #expect(again["job_id"] == .string(jobID) && again["created"] == .bool(false))

            let envelope = try #require(try await api.queue.job(id: jobID)?.envelope)
            #expect(envelope.type == "event.publish")
            let payload = try #require(envelope.payload.objectValue)
            #expect(payload["stream_id"] == .string(user.uuidString.lowercased()))
            #expect(payload["event_type"] == .string("subscription.updated"))
            #expect(payload["app_source"] == .string("billing"))
            #expect(payload["payload"]?.objectValue?["tier"] == .string("premium"))
            #expect(payload["payload"]?.objectValue?["app_name"] == .string("letters"))
            #expect(payload["payload"]?.objectValue?["status"] == .string("active"))
        }
    }

    @Test func badSignaturesAreRefusedAndNothingIsEnqueued() async throws {
        try await LiveAPI.run { api in
            let body = Self.subscriptionEvent(id: "evt_2", user: UUID())
            let cases: [([(String, String)], String)] = [
                ([], "missing Stripe-Signature header"),
                ([("Stripe-Signature", "garbage")], "must hold t=<timestamp>"),
                ([("Stripe-Signature", Self.signed(body, secret: "whsec_other"))], "no v1 signature matches"),
                ([("Stripe-Signature", Self.signed(body, at: Date().addingTimeInterval(-600)))], "tolerance 300 s"),
                ([("Stripe-Signature", Self.signed(body + " "))], "no v1 signature matches"),
            ]
            for (headers, message) in cases {
                let reply = try await api.call(.POST, "/webhooks/stripe", body: body, headers: headers)
                #expect(reply.status == 400 && reply.errorCode == "invalid_signature")
                #expect(AuthTests.message(reply).contains(message), "\(AuthTests.message(reply))")
            }
            let unrelated = #"{"id": "evt_3", "type": "customer.created", "data": {"object": {}}}"#
            let ignored = try await api.call(.POST, "/webhooks/stripe", body: unrelated, headers: [("Stripe-Signature", Self.signed(unrelated))])
            #expect(ignored.status == 200 && ignored["received"] == .bool(true) && ignored["ignored"] != nil)
            #expect(try await api.queue.stats(queue: "events").enqueued == 0)
        }
    }

    @Test func allowedOriginsGetCORSHeadersAndOthersDoNot() async throws {
        try await LiveAPI.run { api in
            let preflight = try await api.call(.OPTIONS, "/v1/jobs", headers: [("Origin", "https://app.phoenix.test"), ("Access-Control-Request-Method", "POST")])
            #expect(preflight.status == 204)
            #expect(preflight.headers.first(name: "Access-Control-Allow-Origin") == "https://app.phoenix.test")
            #expect(preflight.headers.first(name: "Access-Control-Allow-Headers")?.contains("Authorization") == true)

            let foreign = try await api.call(.OPTIONS, "/v1/jobs", headers: [("Origin", "https://evil.test"), ("Access-Control-Request-Method", "POST")])
            #expect(foreign.status == 403 && foreign.headers.first(name: "Access-Control-Allow-Origin") == nil)

            // An error answered to an allowed origin still carries the header, so the page can read it.
            let unauthorized = try await api.call(.GET, "/v1/queues", headers: [("Origin", "https://app.phoenix.test")])
            #expect(unauthorized.status == 401 && unauthorized.headers.first(name: "Access-Control-Allow-Origin") == "https://app.phoenix.test")
            let plain = try await api.call(.GET, "/health", headers: [("Origin", "https://evil.test")])
            #expect(plain.status == 200 && plain.headers.first(name: "Access-Control-Allow-Origin") == nil)
        }
    }
}
