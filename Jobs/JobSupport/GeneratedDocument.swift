public import Foundation
public import PostgresNIO
public import PhoenixJobsCore
import PhoenixSupabase

/// What every job that produces a document writes next to it, in the same transaction: the profile's
/// totals, a `<kind>.generated` event (its id is the job's id, so a repeated run cannot add a second one),
/// and the user's activity row.
public enum GeneratedDocument {
    /// Records that the job of `context` produced a `kind` document (`letter`, `cv`) for `userID`.
    /// - Parameters:
    ///   - appSource: the app the document belongs to (`letters`, `cv`).
    ///   - details: the event's payload (ids, template, provider…); never the document's text.
    public static func record(kind: String, appSource: String, userID: UUID, details: [String: JSONValue], context: JobContext, on connection: PostgresConnection) async throws {
        try await DocumentRepository.refreshProfileTotals(userID: userID, on: connection)
        let payload = JSONValue.object(details).jsonString
        let metadata = JSONValue.object(["created_via": .string(context.type)]).jsonString
        let eventType = "\(kind).generated"
        try await EventRepository.append([NewEvent(
            eventID: context.jobID, streamID: userID, eventType: eventType, appSource: appSource, payload: payload,
            correlationID: context.correlationId.flatMap(UUID.init(uuidString:)), metadata: metadata
        )], on: connection)
        try await EventRepository.recordActivity(userID: userID, appSource: appSource, actionType: eventType, sessionID: nil, metadata: payload, at: nil, on: connection)
    }
}
