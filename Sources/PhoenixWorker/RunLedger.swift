public import Foundation

/// Where the worker learns, before it runs a redelivered job, whether an earlier delivery already completed
/// it: the results were committed but the ack never reached Redis (the worker died, the reply was lost, the
/// job was handed back after its handler committed). Such a job is acknowledged without running again, so
/// no handler repeats its checks, AI calls or renders. `PhoenixStore` answers from `phoenix_job_runs`.
public protocol RunLedger: Sendable {
    /// The ids among `ids` whose run is recorded as completed.
    func completedRuns(among ids: [UUID]) async throws -> Set<UUID>
}
