public import Foundation
public import PostgresNIO
public import PhoenixSupabase
import PhoenixJobsCore

/// Monthly quotas (`check_usage_limit`) for jobs that produce a document: look before the slow work, count
/// inside the run's transaction, so a failed or repeated run never uses up a user's quota.
public enum Quota {
    /// Throws a ``PermanentFailure`` naming the limit when `userID` has no use of `feature` left this month;
    /// counts nothing.
    public static func ensureAvailable(_ feature: UsageRepository.Feature, userID: UUID, store: PhoenixStore) async throws {
        let usage = try await store.client.withConnection { connection in
            try await UsageRepository.check(userID: userID, feature: feature, increment: 0, on: connection)
        }
        if usage.remaining == 0 { throw exceeded(feature, usage) }
    }

    /// Counts one use of `feature` in the caller's transaction; throws a ``PermanentFailure`` naming the limit
    /// (which rolls the transaction back) when another job used the last one meanwhile.
    public static func consume(_ feature: UsageRepository.Feature, userID: UUID, on connection: PostgresConnection) async throws {
        let usage = try await UsageRepository.check(userID: userID, feature: feature, on: connection)
        guard usage.canUse else { throw exceeded(feature, usage) }
    }

    private static func exceeded(_ feature: UsageRepository.Feature, _ usage: UsageCheck) -> PermanentFailure {
        PermanentFailure("monthly quota exceeded: \(feature.rawValue) limit is \(usage.usageLimit) and \(usage.currentUsage) are used this month")
    }
}
