import Foundation
import Logging
import PostgresNIO
public import PhoenixJobsCore
public import PhoenixSupabase
import JobSupport
import UserProfileSync

/// `event.publish`: appends events to `phoenix_events` (idempotent on `event_id`), records
/// `user_activity_metrics`, and routes follow-up jobs. Jobs come in batches, written in one transaction with
/// their `phoenix_job_runs` rows; each job is still acknowledged or failed on its own.
public struct EventPublishJob: BatchJobType {
    public typealias Payload = EventPayload
    public static let name = "event.publish"
    public static let queue = "events"
    public static var maxBatchSize: Int { 500 }
    let store: PhoenixStore

    public init(store: PhoenixStore) {
        self.store = store
    }

    public func runBatch(_ jobs: [BatchItem<EventPayload>]) async -> [(any Error)?] {
        var errors = [(any Error)?](repeating: nil, count: jobs.count)
        var valid: [Int] = []
        for (index, job) in jobs.enumerated() {
            do {
                try job.payload.validate()
                valid.append(index)
            } catch {
                errors[index] = PermanentFailure("invalid event: \(error)")
            }
        }
        // Events PostgreSQL refuses (whatever validation missed) are split off, so the others commit now.
        let written = await DataErrorIsolation.write(valid) { part in
            let batch = part.map { jobs[$0] }
            _ = try await store.runBatchOnce(batch.map { JobRun($0.context, userID: $0.payload.streamID) }) { connection, claimed in
                try await Self.write(batch.filter { claimed.contains($0.context.jobID) }, on: connection)
            }
        }
        for (index, error) in zip(valid, written) { errors[index] = error }
        valid = valid.filter { errors[$0] == nil }
        guard !valid.isEmpty else { return errors }
        let batch = valid.map { jobs[$0] }
        // Follow-ups go out after the commit, in one round trip, for new and already-written events alike:
        // their idempotency keys make a second routing of the same event add nothing, and a crash before
        // routing is repaired by the redelivery.
        var followUps: [JobEnvelope] = []
        var routed: [Int] = []
        for index in valid {
            do {
                if let job = try Self.followUp(for: jobs[index]) {
                    followUps.append(jobs[index].context.followUp(job))
                    routed.append(index)
                }
            } catch {
                errors[index] = error
            }
        }
        if let first = batch.first, !followUps.isEmpty {
            do {
                try await first.context.enqueue(followUps)
            } catch {
                for index in routed { errors[index] = error }
            }
        }
        return errors
    }

    /// Writes the events and their activity rows with one statement per table.
    static func write(_ items: [BatchItem<EventPayload>], on connection: PostgresConnection) async throws {
        guard !items.isEmpty else { return }
        let json = { (value: JSONValue?) -> String in value?.jsonString ?? "{}" }
        let metadata = items.map { item in json(Self.recordedMetadata(item)) }
        let timestamps = items.map { $0.payload.timestamp.map { $0.formatted(.iso8601) } ?? "" }
        try await connection.query("""
            WITH inserted AS (
              INSERT INTO public.phoenix_events (event_id, stream_id, event_type, "timestamp", app_source, payload, correlation_id, user_agent, session_id, metadata)
              SELECT e.event_id, e.stream_id, e.event_type, coalesce(nullif(e.ts, '')::timestamptz, now()), e.app_source, e.payload::jsonb,
                     nullif(e.correlation_id, '')::uuid, nullif(e.user_agent, ''), nullif(e.session_id, ''), e.metadata::jsonb
              FROM unnest(\(items.map { $0.payload.eventID ?? $0.context.jobID }), \(items.map(\.payload.streamID)),
                          \(items.map(\.payload.eventType)), \(timestamps), \(items.map(\.payload.appSource)),
                          \(items.map { json($0.payload.payload) }), \(items.map { $0.payload.correlationID?.uuidString ?? "" }),
                          \(items.map { $0.payload.userAgent ?? "" }), \(items.map { $0.payload.sessionID ?? "" }),
                          \(metadata))
                AS e(event_id, stream_id, event_type, ts, app_source, payload, correlation_id, user_agent, session_id, metadata)
              ON CONFLICT (event_id) DO NOTHING
              RETURNING stream_id, app_source, event_type, session_id, metadata, "timestamp"
            )
            INSERT INTO public.user_activity_metrics (user_id, app_source, action_type, session_id, metadata, "timestamp")
            SELECT i.stream_id, i.app_source, i.event_type, i.session_id, i.metadata, i."timestamp"
            FROM inserted i
            WHERE EXISTS (SELECT 1 FROM public.profiles p WHERE p.id = i.stream_id)
            """, logger: Logger(label: "phoenix.event_bridge"))
    }

    /// The event's metadata as stored: a user's own event also records who submitted it (`submitted_by`).
    static func recordedMetadata(_ item: BatchItem<EventPayload>) -> JSONValue? {
        guard Enqueuer.isUser(item.context.enqueuedBy), let submitter = item.context.enqueuedBy else { return item.payload.metadata }
        var fields = item.payload.metadata?.objectValue ?? [:]
        fields["submitted_by"] = .string(submitter)
        return .object(fields)
    }

    /// The follow-up job an event calls for, if any; its idempotency key is `route:<stream>:<event id>:<job
    /// type>` and its id derived from that key, so routing the same event again, however late, adds nothing.
    static func followUp(for item: BatchItem<EventPayload>) throws -> JobEnvelope? {
        guard var job = try followUpJob(for: item) else { return nil }
        if let key = job.idempotencyKey { job.id = JobEnvelope.derivedID(key) }
        return job
    }

    private static func followUpJob(for item: BatchItem<EventPayload>) throws -> JobEnvelope? {
        let event = item.payload
        // Scoped by the stream: a user may name any event id, and a follow-up's id, derived from this key,
        // must not be one another user's event could claim.
        let eventID = "\(event.streamID.uuidString.lowercased()):\((event.eventID ?? item.context.jobID).uuidString.lowercased())"
        let user = UserPayload(userID: event.streamID)
        switch (event.appSource, event.eventType) {
        case (_, "user.registered"):
            return try JobEnvelope(ProfileSyncJob.self, user, idempotencyKey: "route:\(eventID):profile.sync")
        case (_, "letter.generated"), (_, "cv.generated"):
            return try JobEnvelope(ProfileRefreshStatsJob.self, user, idempotencyKey: "route:\(eventID):profile.refresh_stats")
        case ("billing", let type) where type.hasPrefix("subscription."):
            // Billing owns tiers: only events from the Stripe webhook or a service change them, whatever the
            // event says of itself (the HTTP front refuses such events from users; this holds for any path).
            guard !Enqueuer.isUser(item.context.enqueuedBy) else {
                item.context.logger.warning("Billing event submitted by a user; recorded, no subscription change routed")
                return nil
            }
            guard case .string(let app)? = event.payload.objectValue?["app_name"], case .string(let tier)? = event.payload.objectValue?["tier"] else {
                item.context.logger.warning("Billing event without app_name and tier; no subscription change routed")
                return nil
            }
            var status: String?
            if case .string(let value)? = event.payload.objectValue?["status"] { status = value }
            let change = SubscriptionApplyJob.Payload(userID: event.streamID, appName: app, tier: tier, status: status)
            return try JobEnvelope(SubscriptionApplyJob.self, change, idempotencyKey: "route:\(eventID):subscription.apply")
        default:
            return nil
        }
    }
}
