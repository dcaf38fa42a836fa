public import Foundation
public import PostgresNIO
public import PhoenixSupabase
public import PhoenixJobsCore
public import PhoenixWorker

extension JobRun {
    /// The run record of the job a handler is running.
    public init(_ context: JobContext, userID: UUID?) {
        self.init(jobID: context.jobID, type: context.type, queue: context.queue, attempt: context.attempt, worker: context.workerID, userID: userID)
    }
}

extension PhoenixStore {
    /// Runs a handler's writes once per job, in one transaction with its `phoenix_job_runs` row (see
    /// ``PhoenixStore/runOnce(_:_:)``); `body` returns the run's JSON result summary, if any. Returns
    /// `false` when an earlier delivery had already committed (the body did not run).
    @discardableResult
    public func runOnce(_ context: JobContext, userID: UUID?, _ body: (PostgresConnection) async throws -> String?) async throws -> Bool {
        let outcome = try await runOnce(JobRun(context, userID: userID)) { connection in
            ((), try await body(connection))
        }
        guard case .ran = outcome else {
            context.logger.info("Job already completed by an earlier delivery; not run again")
            return false
        }
        return true
    }
}

/// Workers look redelivered jobs up in `phoenix_job_runs` before running them, and record runs cancelled while
/// they ran there (see ``RunLedger``).
extension PhoenixStore: RunLedger {
    public func recordCancelled(_ job: JobEnvelope, attempt: Int, worker: String, userID: UUID?) async throws {
        try await recordCancellation(JobRun(jobID: job.id, type: job.type, queue: job.queue, attempt: max(1, attempt), worker: worker, userID: userID))
    }
}
