import Crypto
import Foundation
public import Hummingbird
public import PhoenixJobsCore
import HTTPTypes

/// `POST /webhooks/stripe`: verifies the `Stripe-Signature` with `STRIPE_WEBHOOK_SECRET` (5-minute
/// tolerance), then turns a subscription or checkout event into a `billing` event for the event bridge
/// (`event.publish`), which routes tier changes to `subscription.apply`.
///
/// The Phoenix checkout puts `user_id`, `app_name` and `tier` in the Stripe object's `metadata` (or the
/// user in `client_reference_id`). The event's id is derived from Stripe's event id, and the job carries the
/// idempotency key `stripe:<event id>`, so Stripe's retries enqueue nothing twice. Events that name no user
/// are acknowledged (200) and ignored, since Stripe would otherwise retry them for days.
public struct StripeWebhookRoute: Sendable {
    let submitter: JobSubmitter
    let catalog: JobCatalog
    /// The job type whose payload is a Phoenix event.
    let eventType: String
    /// `STRIPE_WEBHOOK_SECRET`; without it the route answers 503.
    let secret: String?
    let bodyLimit: Int

    public init(submitter: JobSubmitter, catalog: JobCatalog, eventType: String, secret: String?, bodyLimit: Int) {
        self.submitter = submitter
        self.catalog = catalog
        self.eventType = eventType
        self.secret = secret
        self.bodyLimit = bodyLimit
    }

    public func add(to router: Router<APIContext>) {
        router.post("webhooks/stripe") { request, context in try await receive(request, context) }
    }

    private func receive(_ request: Request, _ context: APIContext) async throws -> Response {
        guard let secret else {
            throw APIError(.serviceUnavailable, "not_configured", "Stripe webhooks are not configured here (STRIPE_WEBHOOK_SECRET is not set)")
        }
        let body: [UInt8]
        do {
            body = Array(try await request.body.collect(upTo: bodyLimit).readableBytesView)
        } catch let error as HTTPError where error.status == .contentTooLarge {
            throw APIError(.contentTooLarge, "payload_too_large", "the request body is larger than \(bodyLimit) bytes")
        }
        guard let header = request.headers[HTTPField.Name("Stripe-Signature")!] else {
            throw APIError.badRequest("invalid_signature", "missing Stripe-Signature header")
        }
        do {
            try StripeSignature(secret: secret, tolerance: 300).verify(header: header, body: body)
        } catch {
            throw APIError.badRequest("invalid_signature", "\(error)")
        }
        let event: JSONValue
        do {
            event = try JSONValue.parse(body)
        } catch {
            throw APIError.badRequest("invalid_json", "the Stripe event is not valid JSON: \(error)")
        }
        guard let fields = event.objectValue, case .string(let eventID)? = fields["id"], case .string(let type)? = fields["type"] else {
            throw APIError.badRequest("invalid_request", "a Stripe event has a string id and type")
        }
        guard let billing = Self.billingEvent(type: type, object: fields["data"]?.objectValue?["object"]?.objectValue ?? [:], stripeEventID: eventID) else {
            return .json(.object(["received": .bool(true), "ignored": .string("event \(type) names no Phoenix user or is not a billing change")]))
        }
        var job: JobEnvelope
        do {
            job = try JobSubmission(type: eventType, payload: billing, idempotencyKey: "stripe:\(eventID)").envelope(catalog: catalog, enqueuedBy: Enqueuer.stripe)
        } catch {
            throw APIError(.unprocessableContent, "invalid_job", error.description)
        }
        job.correlationId = eventID
        // The id, too, comes from Stripe's event id: a retry after the idempotency key expired is the same job.
        job.id = JobEnvelope.derivedID("stripe:\(eventID)")
        let result = try await submitter.enqueue(job)
        return .json(.object(["received": .bool(true), "job_id": .string(result.id.lowercasedString), "created": .bool(result.created)]))
    }

    /// The `event.publish` payload for a Stripe event, or nil when it is not about a Phoenix user's billing.
    static func billingEvent(type: String, object: [String: JSONValue], stripeEventID: String) -> JSONValue? {
        let eventType: String
        switch type {
        case "customer.subscription.created": eventType = "subscription.created"
        case "customer.subscription.updated": eventType = "subscription.updated"
        case "customer.subscription.deleted": eventType = "subscription.cancelled"
        case "checkout.session.completed": eventType = "subscription.checkout_completed"
        case "invoice.paid": eventType = "payment.succeeded"
        case "invoice.payment_failed": eventType = "payment.failed"
        default: return nil
        }
        let metadata = object["metadata"]?.objectValue ?? [:]
        var userText: String?
        if case .string(let id)? = metadata["user_id"] { userText = id } else if case .string(let id)? = object["client_reference_id"] { userText = id }
        guard let userText, let user = UUID(uuidString: userText) else { return nil }
        var payload: [String: JSONValue] = ["stripe_event_id": .string(stripeEventID), "stripe_type": .string(type)]
        for key in ["app_name", "tier"] { if let value = metadata[key] { payload[key] = value } }
        if type == "customer.subscription.deleted" {
            payload["status"] = .string("cancelled")
        } else if case .string(let status)? = object["status"], let known = schemaStatus(stripe: status) {
            payload["status"] = .string(known)
        }
        if case .string(let id)? = object["id"] { payload["stripe_object_id"] = .string(id) }
        return .object([
            "event_id": .string(derivedUUID(stripeEventID).lowercasedString), "stream_id": .string(user.lowercasedString),
            "event_type": .string(eventType), "app_source": .string("billing"), "payload": .object(payload),
            "metadata": .object(["created_via": .string("stripe_webhook")]),
        ])
    }

    /// A Stripe subscription status as `user_subscriptions.subscription_status` spells it, if it has one.
    static func schemaStatus(stripe status: String) -> String? {
        switch status {
        case "active", "trialing", "past_due", "incomplete": status
        case "canceled", "incomplete_expired": "cancelled"
        case "unpaid", "paused": "past_due"
        default: nil
        }
    }

    /// A UUID fixed by Stripe's event id (SHA-256, version 5 layout), so a redelivery maps to the same event.
    static func derivedUUID(_ text: String) -> UUID {
        var bytes = Array(SHA256.hash(data: Array("stripe-event:\(text)".utf8)).prefix(16))
        bytes[6] = (bytes[6] & 0x0F) | 0x50
        bytes[8] = (bytes[8] & 0x3F) | 0x80
        return UUID(uuid: (bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7], bytes[8], bytes[9], bytes[10], bytes[11], bytes[12], bytes[13], bytes[14], bytes[15]))
    }
}
