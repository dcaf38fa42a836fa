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
            let milliseconds = Self.milliseconds(since: started)
            try await connection.query("""
                UPDATE public.phoenix_job_runs SET finished_at = now(), duration_ms = \(milliseconds), result = \(result)::jsonb
                WHERE job_id = \(run.jobID)
                """, logger: logger)
            return .ran(value)
        }
    }

    /// ``runOnce(_:_:)`` for many jobs in one transaction: claims every run row at once, hands `body` the
    /// ids it claimed (jobs whose run already committed are left out), and returns those ids. If `body`
    /// throws, nothing of the batch commits.
    public func runBatchOnce(_ runs: [JobRun], _ body: (PostgresConnection, Set<UUID>) async throws -> Void) async throws -> Set<UUID> {
        guard !runs.isEmpty else { return [] }
        let started = ContinuousClock.now
        return try await client.inTransaction(logger: logger) { connection -> Set<UUID> in
            let claim = try await connection.query("""
                INSERT INTO public.phoenix_job_runs (job_id, type, queue, status, attempt, worker, user_id, started_at)
                SELECT job_id, type, queue, 'completed', attempt, worker, nullif(user_id, '')::uuid, now()
                FROM unnest(\(runs.map(\.jobID)), \(runs.map(\.type)), \(runs.map(\.queue)), \(runs.map(\.attempt)), \(runs.map(\.worker)),
                            \(runs.map { $0.userID?.uuidString ?? "" })) AS r(job_id, type, queue, attempt, worker, user_id)
                ON CONFLICT (job_id) DO UPDATE
                  SET status = 'completed', attempt = EXCLUDED.attempt, worker = EXCLUDED.worker, user_id = EXCLUDED.user_id,
                      started_at = now(), finished_at = NULL, error = NULL
                  WHERE public.phoenix_job_runs.status <> 'completed'
                RETURNING job_id
                """, logger: logger)
            var claimed = Set<UUID>()
            for try await id in claim.decode(UUID.self) { claimed.insert(id) }
            guard !claimed.isEmpty else { return [] }
            try await body(connection, claimed)
            let milliseconds = Self.milliseconds(since: started)
            try await connection.query("""
                UPDATE public.phoenix_job_runs SET finished_at = now(), duration_ms = \(milliseconds) WHERE job_id = ANY(\(Array(claimed)))
                """, logger: logger)
            return claimed
        }
    }

    private static func milliseconds(since start: ContinuousClock.Instant) -> Int {
        let elapsed = ContinuousClock.now - start
        return Int(elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000)
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
