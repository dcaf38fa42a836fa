public import Foundation
public import PostgresNIO

/// The answer of `check_usage_limit`.
public struct UsageCheck: Sendable, Equatable, Decodable {
    public var canUse: Bool
    public var currentUsage: Int
    public var usageLimit: Int
    /// Uses left this month; -1 when unlimited.
    public var remaining: Int

    enum CodingKeys: String, CodingKey {
        case canUse = "can_use", currentUsage = "current_usage", usageLimit = "usage_limit", remaining
    }
}

/// Monthly quotas through the schema's own functions.
public enum UsageRepository {
    /// The quota features `check_usage_limit` knows.
    public enum Feature: String, Sendable, CaseIterable {
        case cvGenerations = "cv_generations"
        case cvUploads = "cv_uploads"
        case lettersGenerated = "letters_generated"
        case mirrorMatch = "mirror_match"
        case coachingSessions = "coaching_sessions"
    }

    /// Checks one use of `feature` for `userID` this month and counts it when allowed.
    public static func check(userID: UUID, feature: Feature, increment: Int = 1, on connection: PostgresConnection) async throws -> UsageCheck {
        let rows = try await connection.query(
            "SELECT public.check_usage_limit(\(userID), \(feature.rawValue), \(increment)::int)::text", logger: PhoenixStore.quiet
        )
        for try await json in rows.decode(String.self) {
            return try JSONDecoder().decode(UsageCheck.self, from: Data(json.utf8))
        }
        throw StoreError.invalidValue("check_usage_limit returned no row")
    }

    /// The user's active tier for `app` (`free`, `premium`, `pro`), through `get_user_app_tier`.
    public static func tier(userID: UUID, app: String, on connection: PostgresConnection) async throws -> String {
        let rows = try await connection.query("SELECT public.get_user_app_tier(\(userID), \(app))::text", logger: PhoenixStore.quiet)
        for try await tier in rows.decode(String.self) { return tier }
        throw StoreError.invalidValue("get_user_app_tier returned no row")
    }

    /// Sets an app's subscription tier: `user_subscriptions`, this month's limits, and the profile's tier
    /// (the highest tier among the user's active subscriptions).
    public static func applyTier(userID: UUID, app: String, tier: String, status: String = "active", on connection: PostgresConnection) async throws {
        try await connection.query("""
            INSERT INTO public.user_subscriptions (user_id, app_name, subscription_tier, subscription_status)
            VALUES (\(userID), \(app), \(tier), \(status))
            ON CONFLICT (user_id, app_name) DO UPDATE
              SET subscription_tier = EXCLUDED.subscription_tier, subscription_status = EXCLUDED.subscription_status,
                  cancelled_at = CASE WHEN EXCLUDED.subscription_status = 'cancelled' THEN now() ELSE NULL END
            """, logger: PhoenixStore.quiet)
        try await connection.query("SELECT public.update_usage_limits_for_tier(\(userID), \(app), public.get_user_app_tier(\(userID), \(app)))", logger: PhoenixStore.quiet)
        try await connection.query("""
            UPDATE public.profiles SET subscription_tier = coalesce((
              SELECT CASE max(CASE subscription_tier WHEN 'pro' THEN 2 WHEN 'premium' THEN 1 ELSE 0 END) WHEN 2 THEN 'pro' WHEN 1 THEN 'premium' ELSE 'free' END
              FROM public.user_subscriptions
              WHERE user_id = \(userID) AND subscription_status IN ('active', 'trialing') AND (current_period_end IS NULL OR current_period_end > now())
            ), 'free')
            WHERE id = \(userID)
            """, logger: PhoenixStore.quiet)
    }
}
