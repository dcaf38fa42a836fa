public import Foundation
public import Logging
public import PostgresNIO

/// The job being run, as `phoenix_job_runs` records it.
public struct JobRun: Sendable, Equatable {
    public var jobID: UUID
    public var type: String
    public var queue: String
    public var attempt: Int
    public var worker: String
    /// The user the job is about, when there is one.
    public var userID: UUID?

    public init(jobID: UUID, type: String, queue: String, attempt: Int, worker: String, userID: UUID? = nil) {
        self.jobID = jobID
        self.type = type
        self.queue = queue
        self.attempt = attempt
        self.worker = worker
        self.userID = userID
    }
}

/// What ``PhoenixStore/runOnce(_:_:)`` did.
public enum RunOnceOutcome<Value: Sendable>: Sendable {
    /// The body ran and its writes committed with the job's run row.
    case ran(Value)
    /// An earlier delivery of the job already committed; the body did not run.
    case alreadyCompleted
}

/// PostgreSQL access for workers: a `PostgresClient` (run it as a service) and effectively-once job runs.
public struct PhoenixStore: Sendable {
    /// The connection pool; it must be running (`client.run()` or a `ServiceGroup`).
    public let client: PostgresClient
    private let logger: Logger

    /// A logger that drops everything, for repository queries whose errors are thrown to the caller anyway.
    static let quiet = Logger(label: "phoenix.store.query", factory: { _ in SwiftLogNoOpLogHandler() })

    /// A store over `client`.
    public init(client: PostgresClient, logger: Logger = Logger(label: "phoenix.store")) {
        self.client = client
        self.logger = logger
    }

    /// Runs `body` in a transaction together with the job's `phoenix_job_runs` row, once per job id.
    ///
    /// The row is claimed first (`INSERT … ON CONFLICT (job_id) DO UPDATE … WHERE status <> 'completed'`): a
    /// concurrent delivery of the same job waits on that row until this transaction ends, then finds it
    /// completed and returns ``RunOnceOutcome/alreadyCompleted`` without running its body. If `body` throws,
    /// everything rolls back, the body's writes included, and the job may run again.
    /// - Parameter body: the handler's writes, on the transaction's connection; returns a value and an optional
    ///   JSON summary stored as the run's `result`.
    public func runOnce<Value: Sendable>(
        _ run: JobRun,
        _ body: (PostgresConnection) async throws -> (value: Value, result: String?)
    ) async throws -> RunOnceOutcome<Value> {
        let started = ContinuousClock.now
        return try await client.inTransaction(logger: logger) { connection -> RunOnceOutcome<Value> in
            let claim = try await connection.query("""
                INSERT INTO public.phoenix_job_runs (job_id, type, queue, status, attempt, worker, user_id, started_at)
                VALUES (\(run.jobID), \(run.type), \(run.queue), 'completed', \(run.attempt), \(run.worker), \(run.userID), now())
                ON CONFLICT (job_id) DO UPDATE
                  SET status = 'completed', attempt = EXCLUDED.attempt, worker = EXCLUDED.worker, user_id = EXCLUDED.user_id,
                      started_at = now(), finished_at = NULL, error = NULL
                  WHERE public.phoenix_job_runs.status <> 'completed'
                RETURNING job_id
                """, logger: logger)
            var claimed = false
            for try await _ in claim { claimed = true }
            guard claimed else { return .alreadyCompleted }
            let (value, result) = try await body(connection)
            let elapsed = ContinuousClock.now - started
            let milliseconds = Int(elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000)
            try await connection.query("""
                UPDATE public.phoenix_job_runs SET finished_at = now(), duration_ms = \(milliseconds), result = \(result)::jsonb
                WHERE job_id = \(run.jobID)
                """, logger: logger)
            return .ran(value)
        }
    }

    /// Records a failed attempt of a job that has not completed (a completed run is never overwritten).
    public func recordFailure(_ run: JobRun, error: String) async throws {
        try await client.query("""
            INSERT INTO public.phoenix_job_runs (job_id, type, queue, status, attempt, worker, user_id, started_at, finished_at, error)
            VALUES (\(run.jobID), \(run.type), \(run.queue), 'failed', \(run.attempt), \(run.worker), \(run.userID), now(), now(), \(error))
            ON CONFLICT (job_id) DO UPDATE
              SET status = 'failed', attempt = EXCLUDED.attempt, worker = EXCLUDED.worker, finished_at = now(), error = EXCLUDED.error
              WHERE public.phoenix_job_runs.status <> 'completed'
            """, logger: logger)
    }
}
