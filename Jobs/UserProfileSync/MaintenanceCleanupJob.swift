import Foundation
public import PhoenixJobsCore
public import PhoenixSupabase
public import PhoenixWorker
import PostgresNIO

/// `maintenance.cleanup`: the daily retention pass (`phoenix_cleanup`): expired letters, CVs and exports,
/// activity older than two years, events older than a year, and job runs older than
/// `job_runs_retention_days` (`JOB_RUNS_RETENTION_DAYS`). Declared periodic: once a day across every
/// user_profile worker.
public struct MaintenanceCleanupJob: JobType {
    public struct Payload: Codable, Sendable, Equatable {
        /// Days a finished job run is kept.
        public var jobRunsRetentionDays: Int
        enum CodingKeys: String, CodingKey { case jobRunsRetentionDays = "job_runs_retention_days" }
        public init(jobRunsRetentionDays: Int = MaintenanceCleanupJob.defaultJobRunsRetentionDays) {
            self.jobRunsRetentionDays = jobRunsRetentionDays
        }
    }
    public static let name = "maintenance.cleanup"
    public static let queue = "profiles"
    public static var timeout: Duration { .seconds(600) }
    /// Job runs kept when `JOB_RUNS_RETENTION_DAYS` is unset.
    public static let defaultJobRunsRetentionDays = 90
    /// Accepted retentions, in days.
    public static let retentionRange = 1...3650
    let store: PhoenixStore
    public init(store: PhoenixStore) { self.store = store }

    /// The periodic declaration: once a day, keeping job runs `jobRunsRetentionDays` days.
    public static func periodic(jobRunsRetentionDays: Int = defaultJobRunsRetentionDays) -> PeriodicJob {
        PeriodicJob(name: name, every: .seconds(86_400)) {
            try JobEnvelope(MaintenanceCleanupJob.self, .init(jobRunsRetentionDays: jobRunsRetentionDays))
        }
    }

    public func run(_ payload: Payload, context: JobContext) async throws {
        guard Self.retentionRange.contains(payload.jobRunsRetentionDays) else {
            throw PermanentFailure("job_runs_retention_days must be between \(Self.retentionRange.lowerBound) and \(Self.retentionRange.upperBound), got \(payload.jobRunsRetentionDays)")
        }
        // No runOnce: the pass is idempotent, and a second one deletes what has expired since.
        let summary = try await store.cleanup(jobRunsRetentionDays: payload.jobRunsRetentionDays)
        context.logger.info("Retention pass done", metadata: ["deleted": "\(summary)"])
    }
}
