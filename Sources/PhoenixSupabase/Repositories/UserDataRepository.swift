public import Foundation
public import PostgresNIO

/// A user's data as a whole: GDPR export and erasure, and the walk over every profile.
public enum UserDataRepository {
    /// Builds the export document of `userID` (every row about the user, table by table) and stores it as
    /// export `exportID` (kept seven days). Returns the document's size in bytes.
    @discardableResult
    public static func export(userID: UUID, exportID: UUID, on connection: PostgresConnection) async throws -> Int {
        let rows = try await connection.query("""
            WITH document AS (
              SELECT jsonb_build_object(
                'user_id', \(userID)::uuid,
                'exported_at', now(),
                'account', (SELECT jsonb_build_object('email', u.email, 'created_at', u.created_at, 'metadata', u.raw_user_meta_data) FROM auth.users u WHERE u.id = \(userID)),
                'profile', (SELECT to_jsonb(p) FROM public.profiles p WHERE p.id = \(userID)),
                'subscriptions', (SELECT coalesce(jsonb_agg(to_jsonb(s)), '[]'::jsonb) FROM public.user_subscriptions s WHERE s.user_id = \(userID)),
                'usage_limits', (SELECT coalesce(jsonb_agg(to_jsonb(l)), '[]'::jsonb) FROM public.user_usage_limits l WHERE l.user_id = \(userID)),
                'payments', (SELECT coalesce(jsonb_agg(to_jsonb(h)), '[]'::jsonb) FROM public.payment_history h WHERE h.user_id = \(userID)),
                'letters', (SELECT coalesce(jsonb_agg(to_jsonb(g)), '[]'::jsonb) FROM public.letter_generations g WHERE g.user_id = \(userID)),
                'cvs', (SELECT coalesce(jsonb_agg(to_jsonb(c)), '[]'::jsonb) FROM public.cv_generations c WHERE c.user_id = \(userID)),
                'activity', (SELECT coalesce(jsonb_agg(to_jsonb(a)), '[]'::jsonb) FROM public.user_activity_metrics a WHERE a.user_id = \(userID)),
                'events', (SELECT coalesce(jsonb_agg(to_jsonb(e) ORDER BY e."timestamp"), '[]'::jsonb) FROM public.phoenix_events e WHERE e.stream_id = \(userID)),
                'nudges', (SELECT coalesce(jsonb_agg(to_jsonb(n)), '[]'::jsonb) FROM public.phoenix_nudges_sent n WHERE n.user_id = \(userID)),
                'job_runs', (SELECT coalesce(jsonb_agg(to_jsonb(r) ORDER BY r.started_at), '[]'::jsonb) FROM public.phoenix_job_runs r WHERE r.user_id = \(userID)),
                'exports', (SELECT coalesce(jsonb_agg(jsonb_build_object('export_id', x.export_id, 'created_at', x.created_at, 'expires_at', x.expires_at)), '[]'::jsonb)
                            FROM public.phoenix_user_exports x WHERE x.user_id = \(userID))
              ) AS body
            )
            INSERT INTO public.phoenix_user_exports (export_id, user_id, document)
            SELECT \(exportID), \(userID), body FROM document
            ON CONFLICT (export_id) DO UPDATE SET document = EXCLUDED.document
            RETURNING octet_length(document::text)
            """, logger: PhoenixStore.quiet)
        for try await size in rows.decode(Int.self) { return size }
        return 0
    }

    /// The stored export document, as JSON text; `nil` when missing or expired.
    public static func exportDocument(exportID: UUID, on connection: PostgresConnection) async throws -> String? {
        let rows = try await connection.query(
            "SELECT document::text FROM public.phoenix_user_exports WHERE export_id = \(exportID) AND expires_at > now()",
            logger: PhoenixStore.quiet
        )
        for try await document in rows.decode(String.self) { return document }
        return nil
    }

    /// Erases a user (right to be forgotten). Deleted: the auth.users row and, through it, the profile,
    /// subscriptions, usage, letters, CVs and activity; the user's event stream, nudges and exports.
    /// Kept, without the user id: payment rows (amounts, dates, Stripe ids: accounting law; their link to
    /// the deleted subscription cleared) and job runs (type, status, timings; result and error cleared).
    /// The user is remembered only as a hash of their id in `phoenix_erased_users`, so that later events
    /// and job runs record nothing about them. Returns whether the user existed.
    public static func erase(userID: UUID, on connection: PostgresConnection) async throws -> Bool {
        try await connection.query("""
            INSERT INTO public.phoenix_erased_users (user_hash) VALUES (public.phoenix_user_hash(\(userID))) ON CONFLICT (user_hash) DO NOTHING
            """, logger: PhoenixStore.quiet)
        try await connection.query("""
            UPDATE public.payment_history SET user_id = NULL, subscription_id = NULL, description = NULL, stripe_metadata = '{}'::jsonb
            WHERE user_id = \(userID) OR subscription_id IN (SELECT subscription_id FROM public.user_subscriptions WHERE user_id = \(userID))
            """, logger: PhoenixStore.quiet)
        try await connection.query("DELETE FROM public.phoenix_events WHERE stream_id = \(userID)", logger: PhoenixStore.quiet)
        try await connection.query("DELETE FROM public.phoenix_nudges_sent WHERE user_id = \(userID)", logger: PhoenixStore.quiet)
        try await connection.query("DELETE FROM public.phoenix_user_exports WHERE user_id = \(userID)", logger: PhoenixStore.quiet)
        // Jobs asked for through the outbox that no relay took yet, or that it refused: the user's own, and those
        // a service asked for about them (the user job types name the user in user_id or stream_id).
        try await connection.query("""
            DELETE FROM public.phoenix_job_outbox WHERE enqueued_by = 'user:' || \(userID)::text
              OR lower(payload ->> 'user_id') = \(userID)::text OR lower(payload ->> 'stream_id') = \(userID)::text
            """, logger: PhoenixStore.quiet)
        try await connection.query("DELETE FROM public.phoenix_outbox_rate WHERE subject = 'user:' || \(userID)::text", logger: PhoenixStore.quiet)
        try await connection.query("""
            UPDATE public.phoenix_job_runs SET user_id = NULL, result = NULL, error = NULL WHERE user_id = \(userID)
            """, logger: PhoenixStore.quiet)
        try await connection.query("DELETE FROM public.profiles WHERE id = \(userID)", logger: PhoenixStore.quiet)
        var existed = false
        for try await _ in try await connection.query("DELETE FROM auth.users WHERE id = \(userID) RETURNING id", logger: PhoenixStore.quiet) {
            existed = true
        }
        return existed
    }

    /// Synchronises the next `limit` profiles after `afterID` (in id order) from auth.users and recounts
    /// their totals; returns the last id done (`nil` when there were none) and how many were done.
    public static func syncProfiles(after afterID: UUID?, limit: Int, on connection: PostgresConnection) async throws -> (last: UUID?, count: Int) {
        let start = afterID ?? UUID(uuid: (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0))
        let rows = try await connection.query("""
            WITH batch AS (
              SELECT id, email, coalesce(raw_user_meta_data ->> 'full_name', '') AS full_name FROM auth.users
              WHERE id > \(start) ORDER BY id LIMIT \(limit)
            ), synced AS (
              INSERT INTO public.profiles (id, email, full_name)
              SELECT id, email, full_name FROM batch
              ON CONFLICT (id) DO UPDATE SET email = EXCLUDED.email,
                full_name = CASE WHEN EXCLUDED.full_name = '' THEN public.profiles.full_name ELSE EXCLUDED.full_name END,
                total_letters_generated = (SELECT count(*) FROM public.letter_generations l WHERE l.user_id = EXCLUDED.id),
                total_cv_generated = (SELECT count(*) FROM public.cv_generations c WHERE c.user_id = EXCLUDED.id)
              RETURNING id
            )
            SELECT max(id::text), count(*)::int FROM synced
            """, logger: PhoenixStore.quiet)
        for try await (last, count) in rows.decode((String?, Int).self) { return (last.flatMap(UUID.init(uuidString:)), count) }
        return (nil, 0)
    }

    /// How many users auth.users holds.
    public static func userCount(on connection: PostgresConnection) async throws -> Int {
        for try await total in try await connection.query("SELECT count(*)::int FROM auth.users", logger: PhoenixStore.quiet).decode(Int.self) {
            return total
        }
        return 0
    }
}
