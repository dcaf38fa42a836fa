public import Foundation
public import PhoenixJobsCore

/// Where the worker learns, before it runs a redelivered job, whether an earlier delivery already completed
/// it: the results were committed but the ack never reached Redis (the worker died, the reply was lost, the
/// job was handed back after its handler committed). Such a job is acknowledged without running again, so
/// no handler repeats its checks, AI calls or renders. `PhoenixStore` answers from `phoenix_job_runs`.
///
/// It also records a run cancelled while it ran (`DELETE /v1/jobs/{id}` on a running job), so that the run's
/// record says so.
public protocol RunLedger: Sendable {
    /// The ids among `ids` whose run is recorded as completed.
    func completedRuns(among ids: [UUID]) async throws -> Set<UUID>
    /// Records that delivery `attempt` of `job`, run by `worker` for user `userID` (if any), was cancelled
    /// while it ran; a run recorded as completed stays completed.
    func recordCancelled(_ job: JobEnvelope, attempt: Int, worker: String, userID: UUID?) async throws
}
