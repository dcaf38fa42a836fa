public import Foundation
public import PostgresNIO

/// An event to append to `phoenix_events`.
public struct NewEvent: Sendable, Equatable {
    public var eventID: UUID
    public var streamID: UUID
    public var eventType: String
    public var appSource: String
    /// The payload as JSON text (an object).
    public var payload: String
    public var timestamp: Date?
    public var correlationID: UUID?
    public var sessionID: String?
    public var userAgent: String?
    /// Metadata as JSON text (an object).
    public var metadata: String

    public init(eventID: UUID = UUID(), streamID: UUID, eventType: String, appSource: String, payload: String = "{}", timestamp: Date? = nil, correlationID: UUID? = nil, sessionID: String? = nil, userAgent: String? = nil, metadata: String = "{}") {
        self.eventID = eventID
        self.streamID = streamID
        self.eventType = eventType
        self.appSource = appSource
        self.payload = payload
        self.timestamp = timestamp
        self.correlationID = correlationID
        self.sessionID = sessionID
        self.userAgent = userAgent
        self.metadata = metadata
    }
}

/// Appends to the event store, idempotent on `event_id`.
public enum EventRepository {
    /// Appends `events`; returns the ids that were new (an id already stored is skipped).
    @discardableResult
    public static func append(_ events: [NewEvent], on connection: PostgresConnection) async throws -> [UUID] {
        var inserted: [UUID] = []
        for event in events {
            let rows = try await connection.query("""
                INSERT INTO public.phoenix_events (event_id, stream_id, event_type, "timestamp", app_source, payload, correlation_id, user_agent, session_id, metadata)
                VALUES (\(event.eventID), \(event.streamID), \(event.eventType), coalesce(\(event.timestamp), now()), \(event.appSource),
                        \(event.payload)::jsonb, \(event.correlationID), \(event.userAgent), \(event.sessionID), \(event.metadata)::jsonb)
                ON CONFLICT (event_id) DO NOTHING
                RETURNING event_id
                """, logger: PhoenixStore.quiet)
            for try await id in rows.decode(UUID.self) { inserted.append(id) }
        }
        return inserted
    }

    /// Records one user action in `user_activity_metrics`.
    public static func recordActivity(userID: UUID, appSource: String, actionType: String, sessionID: String?, metadata: String, at timestamp: Date?, on connection: PostgresConnection) async throws {
        try await connection.query("""
            INSERT INTO public.user_activity_metrics (user_id, app_source, action_type, session_id, metadata, "timestamp")
            VALUES (\(userID), \(appSource), \(actionType), \(sessionID), \(metadata)::jsonb, coalesce(\(timestamp), now()))
            """, logger: PhoenixStore.quiet)
    }
}
