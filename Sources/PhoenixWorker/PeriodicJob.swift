import Foundation
public import PhoenixJobsCore

/// A job enqueued once per period across every worker process, declared in code.
///
/// Each process that serves the job's queue tries to enqueue it once per period with the idempotency key
/// `periodic:<name>:<period number>`, so whichever process comes first adds it and the others add nothing.
public struct PeriodicJob: Sendable {
    /// A stable name, part of the idempotency key.
    public var name: String
    /// The period; periods are aligned on multiples of it since 1970 (UTC).
    public var every: Duration
    /// Builds the job to enqueue for a period.
    public var makeJob: @Sendable () throws -> JobEnvelope

    /// A periodic job.
    public init(name: String, every: Duration, makeJob: @escaping @Sendable () throws -> JobEnvelope) {
        self.name = name
        self.every = every
        self.makeJob = makeJob
    }

    /// The number of the period containing `date`.
    func period(at date: Date) -> Int64 {
        let milliseconds = max(1, every.milliseconds)
        return Int64(date.timeIntervalSince1970 * 1000) / milliseconds
    }
}
