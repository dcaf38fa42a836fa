public import Foundation
public import PhoenixJobsCore
public import PhoenixSupabase
public import PhoenixWorker
import JobSupport
import PostgresNIO

/// The payload of jobs about one user.
public struct UserPayload: Codable, Sendable, Equatable {
    public var userID: UUID
    enum CodingKeys: String, CodingKey { case userID = "user_id" }
    public init(userID: UUID) { self.userID = userID }
}

/// `profile.sync`: creates or updates a profile from its `auth.users` row.
public struct ProfileSyncJob: JobType {
    public typealias Payload = UserPayload
    public static let name = "profile.sync"
    public static let queue = "profiles"
    let store: PhoenixStore
    public init(store: PhoenixStore) { self.store = store }

    public func run(_ payload: Payload, context: JobContext) async throws {
        try await store.runOnce(context, userID: payload.userID) { connection in
            guard try await DocumentRepository.syncProfile(userID: payload.userID, on: connection) else {
                throw PermanentFailure("no auth.users row for user \(payload.userID.uuidString.lowercased())")
            }
            return nil
        }
    }
}

/// `profile.refresh_stats`: recounts a profile's letters and CVs.
public struct ProfileRefreshStatsJob: JobType {
    public typealias Payload = UserPayload
    public static let name = "profile.refresh_stats"
    public static let queue = "profiles"
    let store: PhoenixStore
    public init(store: PhoenixStore) { self.store = store }

    public func run(_ payload: Payload, context: JobContext) async throws {
        try await store.runOnce(context, userID: payload.userID) { connection in
            try await DocumentRepository.refreshProfileTotals(userID: payload.userID, on: connection)
            return nil
        }
    }
}

/// `profile.sync_all`: walks every user in batches, synchronising profiles and their totals, reporting
/// progress. Each batch commits on its own, so a retry after a crash redoes at most one batch's work (which
/// is idempotent).
public struct ProfileSyncAllJob: JobType {
    public struct Payload: Codable, Sendable {
        public var batchSize: Int?
        enum CodingKeys: String, CodingKey { case batchSize = "batch_size" }
        public init(batchSize: Int? = nil) { self.batchSize = batchSize }
    }
    public static let name = "profile.sync_all"
    public static let queue = "profiles"
    public static var timeout: Duration { .seconds(3600) }
    let store: PhoenixStore
    public init(store: PhoenixStore) { self.store = store }

    /// The periodic declaration: once an hour across every user_profile worker.
    public static func periodic() -> PeriodicJob {
        PeriodicJob(name: name, every: .seconds(3600)) { try JobEnvelope(ProfileSyncAllJob.self, .init()) }
    }

    public func run(_ payload: Payload, context: JobContext) async throws {
        let batchSize = payload.batchSize ?? 500
        guard (1...10_000).contains(batchSize) else { throw PermanentFailure("batch_size must be between 1 and 10000, got \(batchSize)") }
        let total = try await store.client.withConnection { try await UserDataRepository.userCount(on: $0) }
        var done = 0
        var cursor: UUID?
        while true {
            try Task.checkCancellation()
            let (last, count) = try await store.client.withConnection { connection in
                try await UserDataRepository.syncProfiles(after: cursor, limit: batchSize, on: connection)
            }
            guard let last else { break }
            cursor = last
            done += count
            try await context.reportProgress(total == 0 ? 1 : min(1, Double(done) / Double(total)), "\(done) of \(total) profiles")
        }
        try await context.reportProgress(1, "\(total) profiles synchronised")
    }
}

/// `subscription.apply`: sets the tier of a user's app subscription, this month's limits and the profile's
/// tier, and appends a `user.tier_updated` event, in one transaction.
public struct SubscriptionApplyJob: JobType {
    public struct Payload: Codable, Sendable, Equatable {
        public var userID: UUID
        public var appName: String
        public var tier: String
        public var status: String?
        enum CodingKeys: String, CodingKey { case userID = "user_id", appName = "app_name", tier, status }
        public init(userID: UUID, appName: String, tier: String, status: String? = nil) {
            self.userID = userID
            self.appName = appName
            self.tier = tier
            self.status = status
        }
    }
    public static let name = "subscription.apply"
    public static let queue = "profiles"
    /// Gives the user the share of the fair queues their subscription buys: user, app, tier, status.
    public typealias ShareSetter = @Sendable (UUID, String, String, String) async throws -> Void
    let store: PhoenixStore
    let setShare: ShareSetter?
    /// A handler over `store`; `setShare`, when given, runs before the change commits (a redelivery runs it
    /// again, which sets the same share).
    public init(store: PhoenixStore, setShare: ShareSetter? = nil) {
        self.store = store
        self.setShare = setShare
    }

    public func run(_ payload: Payload, context: JobContext) async throws {
        let apps: Set<String> = ["cv", "letters", "rise", "ecosystem"]
        let tiers: Set<String> = ["free", "premium", "pro"]
        let statuses: Set<String> = ["active", "cancelled", "past_due", "trialing", "incomplete"]
        let status = payload.status ?? "active"
        guard apps.contains(payload.appName) else { throw PermanentFailure("app_name '\(payload.appName)' must be one of \(apps.sorted().joined(separator: ", "))") }
        guard tiers.contains(payload.tier) else { throw PermanentFailure("tier '\(payload.tier)' must be one of \(tiers.sorted().joined(separator: ", "))") }
        guard statuses.contains(status) else { throw PermanentFailure("status '\(status)' must be one of \(statuses.sorted().joined(separator: ", "))") }
        // Before the commit: a redelivered job whose run committed is acknowledged without running again.
        try await setShare?(payload.userID, payload.appName, payload.tier, status)
        try await store.runOnce(context, userID: payload.userID) { connection in
            guard try await DocumentRepository.profileExists(userID: payload.userID, on: connection) else {
                throw PermanentFailure("no profile for user \(payload.userID.uuidString.lowercased())")
            }
            try await UsageRepository.applyTier(userID: payload.userID, app: payload.appName, tier: payload.tier, status: status, on: connection)
            let data = JSONValue.object(["app_name": .string(payload.appName), "tier": .string(payload.tier), "status": .string(status)]).jsonString
            try await EventRepository.append([NewEvent(
                eventID: context.jobID, streamID: payload.userID, eventType: "user.tier_updated", appSource: "system", payload: data,
                correlationID: context.correlationId.flatMap(UUID.init(uuidString:)), metadata: #"{"created_via": "subscription.apply"}"#
            )], on: connection)
            return nil
        }
    }
}

/// `user.export`: GDPR data portability; the document lands in `phoenix_user_exports` under the job's id.
public struct UserExportJob: JobType {
    public typealias Payload = UserPayload
    public static let name = "user.export"
    public static let queue = "profiles"
    let store: PhoenixStore
    public init(store: PhoenixStore) { self.store = store }

    public func run(_ payload: Payload, context: JobContext) async throws {
        try await store.runOnce(context, userID: payload.userID) { connection in
            guard try await DocumentRepository.profileExists(userID: payload.userID, on: connection) else {
                throw PermanentFailure("no profile for user \(payload.userID.uuidString.lowercased())")
            }
            let bytes = try await UserDataRepository.export(userID: payload.userID, exportID: context.jobID, on: connection)
            return #"{"export_id": "\#(context.jobID.uuidString.lowercased())", "bytes": \#(bytes)}"#
        }
    }
}

/// `user.erase`: the right to be forgotten (docs/ARCHITECTURE.md lists what is deleted and what remains).
public struct UserEraseJob: JobType {
    public typealias Payload = UserPayload
    public static let name = "user.erase"
    public static let queue = "profiles"
    let store: PhoenixStore
    public init(store: PhoenixStore) { self.store = store }

    public func run(_ payload: Payload, context: JobContext) async throws {
        // The run row keeps no user id: it would identify the erased user.
        var erased = false
        let ran = try await store.runOnce(context, userID: nil) { connection in
            erased = try await UserDataRepository.erase(userID: payload.userID, on: connection)
            return #"{"user_existed": \#(erased)}"#
        }
        // Then the user's waiting and dead jobs, whose payloads hold CVs and letters: when this run erased the
        // user, or on a redelivery after the commit (the purge may not have run; it removes nothing twice).
        // Not for a user who was already gone: the walk reads every queue, and a flood of erase jobs for an
        // erased id (a user's token outlives the user) must not make each one walk them again.
        guard erased || !ran else {
            context.logger.info("No such user; nothing erased")
            return
        }
        let purged = try await context.purgeJobs(mentioning: payload.userID.uuidString)
        context.logger.info("User erased", metadata: ["purged_jobs": "\(purged)"])
    }
}
