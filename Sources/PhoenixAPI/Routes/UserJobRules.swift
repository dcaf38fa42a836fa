import Foundation
import HTTPTypes
public import PhoenixJobsCore

/// What a signed-in user (`authenticated`) may submit: the user job types, each for the user named by one
/// payload field, which must be the caller's own id. Everything else needs `service_role`.
public struct UserJobRules: Sendable {
    /// Job type → the payload field holding the user it is about.
    public let userField: [String: String]
    /// The job type whose payload is an event (`POST /v1/events`, the Stripe webhook): users may not publish
    /// the events billing or the system own.
    public let eventType: String

    /// Rules with `userField` for each user job type.
    public init(userField: [String: String], eventType: String) {
        self.userField = userField
        self.eventType = eventType
    }

    /// The rules of the user job types `catalog` describes (those with a user field).
    public init(catalog: JobCatalog, eventType: String) {
        var fields: [String: String] = [:]
        for entry in catalog.allEntries { if let field = entry.userField { fields[entry.name] = field } }
        self.init(userField: fields, eventType: eventType)
    }

    /// Whether `identity` may submit or see a job of `type` with `payload`.
    func allows(_ identity: Identity, type: String, payload: JSONValue) -> Bool {
        if identity.role == .serviceRole { return true }
        guard let field = userField[type], let user = identity.userID,
              case .string(let owner)? = payload.objectValue?[field] else { return false }
        return owner.lowercased() == user.lowercasedString
    }

    /// Whether `identity` may read the recorded run of a job of `type` about user `owner` (once the queue's
    /// record of the job expired): `service_role` always; a user for a type users submit, about themselves.
    func allowsRun(_ identity: Identity, type: String, owner: UUID?) -> Bool {
        if identity.role == .serviceRole { return true }
        guard userField[type] != nil, let user = identity.userID, let owner else { return false }
        return owner == user
    }

    /// Event sources other parts act on: only the Stripe webhook and `service_role` callers publish them.
    public static let reservedEventSources: Set<String> = ["billing", "system"]
    /// Event type families other parts act on (`subscription.updated`, `payment.succeeded`, …).
    public static let reservedEventTypePrefixes = ["subscription.", "payment.", "billing."]
    /// Single event types other parts act on.
    public static let reservedEventTypes: Set<String> = ["user.tier_updated"]
    /// Idempotency-key prefixes the platform uses itself (periodic jobs, event routing, Stripe events).
    public static let reservedKeyPrefixes = ["periodic:", "route:", "stripe:"]

    /// Checks what only `service_role` may choose in a submission: the queue, the priority, and events that
    /// billing or the system own. A user's job runs in its type's queue at its type's priority.
    /// - Throws: a 403 ``APIError`` naming what the user may not set.
    func checkChoices(_ identity: Identity, _ submission: JobSubmission) throws(APIError) {
        guard identity.role == .authenticated else { return }
        if submission.queue != nil {
            throw APIError(.forbidden, "queue_not_allowed", "only service_role may choose a job's queue; leave 'queue' out and the job goes to its type's queue")
        }
        if submission.priority != 0 {
            throw APIError(.forbidden, "priority_not_allowed", "only service_role may set a job's priority; leave 'priority' out")
        }
        if submission.type == eventType, let event = submission.payload.objectValue {
            if case .string(let source)? = event["app_source"], Self.reservedEventSources.contains(source) {
                throw APIError(.forbidden, "reserved_event", "events from app_source '\(source)' come only from the Stripe webhook or a service_role caller")
            }
            if case .string(let type)? = event["event_type"],
               Self.reservedEventTypes.contains(type) || Self.reservedEventTypePrefixes.contains(where: type.hasPrefix) {
                throw APIError(.forbidden, "reserved_event", "events of type '\(type.prefix(100))' come only from the Stripe webhook or a service_role caller")
            }
        }
    }

    /// The idempotency key as stored: the caller's key in the caller's namespace and the job type's
    /// (`<subject>:<type>:<key>`), so one caller's key never finds another caller's job.
    /// - Throws: a 422 ``APIError`` for an empty, over-long or reserved key.
    static func namespacedKey(_ key: String, type: String, caller: Identity) throws(APIError) -> String {
        guard !key.isEmpty, key.utf8.count <= 200 else {
            throw APIError(.unprocessableContent, "invalid_job", "idempotencyKey must be 1-200 bytes")
        }
        if let reserved = reservedKeyPrefixes.first(where: key.hasPrefix) {
            throw APIError(.unprocessableContent, "invalid_job", "idempotency keys starting with '\(reserved)' are reserved for the platform")
        }
        return "\(caller.subject):\(type):\(key)"
    }

    /// Why `identity` may not submit a job of `type`.
    func refusal(_ identity: Identity, type: String) -> APIError {
        guard let field = userField[type] else {
            return .forbidden("job type '\(type)' needs a service_role token; users may submit \(userField.keys.sorted().joined(separator: ", "))")
        }
        return .forbidden("users may submit \(type) only for themselves: payload.\(field) must be your user id")
    }
}
