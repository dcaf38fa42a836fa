import PhoenixJobsCore
import PhoenixQueue

/// A running job's ``JobActions`` on the queue engine: its progress is reported under the lease this worker holds,
/// so a delivery that lost its lease cannot overwrite the progress of the one that took over; the tokens it
/// spends are charged to its queue whatever became of the lease (they were spent).
struct LeasedJobActions: JobActions {
    let queue: JobQueue
    let lease: JobLease

    func enqueue(_ jobs: [JobEnvelope]) async throws -> [EnqueueResult] {
        try await queue.enqueue(jobs)
    }

    func purgeJobs(mentioning value: String) async throws -> Int {
        try await queue.purgeJobs(mentioning: value)
    }

    func reportProgress(_ fraction: Double, message: String) async throws {
        try await queue.reportProgress(lease, fraction: fraction, message: message)
    }

    func spendTokens(_ tokens: Int) async throws {
        try await queue.spendTokens(tokens, lease: lease)
    }
}
