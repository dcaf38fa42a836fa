public import Foundation
public import PhoenixJobsCore

/// The payload of `event.publish`: one event of the Phoenix ecosystem, as the apps send it.
public struct EventPayload: Codable, Sendable, Equatable {
    /// The user whose stream the event belongs to.
    public var streamID: UUID
    /// `domain.action`, e.g. `user.registered`.
    public var eventType: String
    /// The app that produced it: cv, letters, rise, website, billing or system.
    public var appSource: String
    /// The event's data: a JSON object of at most 64 KiB.
    public var payload: JSONValue
    /// The event id; when absent the job id is used, so a redelivered job writes the same event.
    public var eventID: UUID?
    public var correlationID: UUID?
    public var sessionID: String?
    public var userAgent: String?
    public var metadata: JSONValue?
    /// When it happened (ISO 8601); the time it is written when absent.
    public var timestamp: Date?

    enum CodingKeys: String, CodingKey {
        case streamID = "stream_id", eventType = "event_type", appSource = "app_source", payload
        case eventID = "event_id", correlationID = "correlation_id", sessionID = "session_id"
        case userAgent = "user_agent", metadata, timestamp
    }

    public init(streamID: UUID, eventType: String, appSource: String, payload: JSONValue = .object([:]), eventID: UUID? = nil, correlationID: UUID? = nil, sessionID: String? = nil, userAgent: String? = nil, metadata: JSONValue? = nil, timestamp: Date? = nil) {
        self.streamID = streamID
        self.eventType = eventType
        self.appSource = appSource
        self.payload = payload
        self.eventID = eventID
        self.correlationID = correlationID
        self.sessionID = sessionID
        self.userAgent = userAgent
        self.metadata = metadata
        self.timestamp = timestamp
    }

    /// The apps an event may come from.
    public static let appSources: Set<String> = ["cv", "letters", "rise", "website", "billing", "system"]
    /// Largest payload accepted, in bytes of JSON.
    public static let maxPayloadBytes = 64 * 1024

    /// Checks the event against what PostgreSQL will store: the error names what is wrong. Lengths are
    /// counted as the columns count them (Unicode code points, not the grapheme clusters of `String.count`),
    /// and no text may hold a NUL character, which neither `text` nor `jsonb` accepts.
    public func validate() throws(EventValidationError) {
        guard Self.isDomainAction(eventType) else {
            throw EventValidationError("event_type '\(eventType.prefix(100))' must be domain.action: lowercase letters, digits and '_' on both sides of one dot, at most 100 characters")
        }
        guard Self.appSources.contains(appSource) else {
            throw EventValidationError("app_source '\(appSource.prefix(50))' must be one of \(Self.appSources.sorted().joined(separator: ", "))")
        }
        guard payload.objectValue != nil else { throw EventValidationError("payload must be a JSON object") }
        let size = payload.serialized.count
        guard size <= Self.maxPayloadBytes else {
            throw EventValidationError("payload is \(size) bytes of JSON; at most \(Self.maxPayloadBytes) are accepted")
        }
        if let metadata, metadata.objectValue == nil { throw EventValidationError("metadata must be a JSON object") }
        if let sessionID, sessionID.unicodeScalars.count > 100 {
            throw EventValidationError("session_id must be at most 100 characters (Unicode code points), got \(sessionID.unicodeScalars.count)")
        }
        for (field, text) in [("session_id", sessionID), ("user_agent", userAgent)] where text?.utf8.contains(0) == true {
            throw EventValidationError("\(field) contains a NUL character (\\u0000), which PostgreSQL does not store")
        }
        for (field, value) in [("payload", payload), ("metadata", metadata)] where value?.containsNUL == true {
            throw EventValidationError("\(field) contains a NUL character (\\u0000) in a key or a string, which PostgreSQL's jsonb does not store")
        }
    }

    private static func isDomainAction(_ text: String) -> Bool {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        return text.count <= 100 && parts.count == 2 && parts.allSatisfy { part in
            guard let first = part.unicodeScalars.first, ("a"..."z").contains(first) else { return false }
            return part.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "_" }
        }
    }
}

extension EventPayload: JSONValueDecodable {
    /// Reads the payload straight from the job's JSON (the event bridge's hot path).
    public init(jsonValue: JSONValue) throws {
        let fields = try JSONFields(jsonValue)
        self.init(
            streamID: try fields.uuid("stream_id"), eventType: try fields.string("event_type"), appSource: try fields.string("app_source"),
            payload: fields.optional("payload") ?? .object([:]), eventID: try fields.optionalUUID("event_id"),
            correlationID: try fields.optionalUUID("correlation_id"), sessionID: try fields.optionalString("session_id"),
            userAgent: try fields.optionalString("user_agent"), metadata: fields.optional("metadata"), timestamp: try fields.optionalDate("timestamp")
        )
    }
}

/// An event that cannot be stored as it is.
public struct EventValidationError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
