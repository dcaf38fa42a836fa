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
    /// A run already recorded as completed returns ``RunOnceOutcome/alreadyCompleted`` without running
    /// `body`. Errors from PostgreSQL come out as ``DatabaseError`` (SQLSTATE, message, the object named).
    /// Otherwise `body` runs and the completed row is written last, in the same transaction
    /// (`INSERT … ON CONFLICT (job_id) DO UPDATE … WHERE status <> 'completed'`), so each row is written
    /// once. A concurrent delivery of the same job waits on that row until the other transaction ends; if
    /// the other one committed, this one rolls back, its body's writes included, and reports
    /// ``RunOnceOutcome/alreadyCompleted``. If `body` throws, everything rolls back, the row records the
    /// attempt as failed with the error's text (``recordFailure(_:error:)``, never over a completed run), and
    /// the job may run again.
    /// - Parameter body: the handler's writes, on the transaction's connection; returns a value and an optional
    ///   JSON summary stored as the run's `result`.
    public func runOnce<Value: Sendable>(
        _ run: JobRun,
        _ body: (PostgresConnection) async throws -> (value: Value, result: String?)
    ) async throws -> RunOnceOutcome<Value> {
        let started = ContinuousClock.now
        do {
            return try await client.inTransaction(logger: logger) { connection -> RunOnceOutcome<Value> in
                guard try await completed(among: [run.jobID], on: connection).isEmpty else { return .alreadyCompleted }
                let (value, result) = try await body(connection)
                try await record([run], result: result, since: started, on: connection)
                return .ran(value)
            }
        } catch is CompletedConcurrently {
            return .alreadyCompleted
        } catch {
            let failure = DatabaseError.readable(error)
            // After the rollback, so that the row says why this attempt failed; a database that is gone
            // cannot take it, and the attempt's own error is what the caller needs.
            do {
                try await recordFailure(run, error: "\(failure)")
            } catch {
                logger.warning("Could not record the failed attempt", metadata: ["job.id": "\(run.jobID)", "error": "\(DatabaseError.readable(error))"])
            }
            throw failure
        }
    }

    /// ``runOnce(_:_:)`` for many jobs in one transaction: hands `body` the ids of the runs not completed yet,
    /// records them all as completed, and returns those ids. If `body` throws, nothing of the batch commits.
    /// When a concurrent delivery committed one of the runs meanwhile, the whole batch rolls back and goes
    /// again without it; every such pass leaves out at least one more run, so there are at most `runs.count`.
    public func runBatchOnce(_ runs: [JobRun], _ body: (PostgresConnection, Set<UUID>) async throws -> Void) async throws -> Set<UUID> {
        guard !runs.isEmpty else { return [] }
        let started = ContinuousClock.now
        while true {
            do {
                return try await client.inTransaction(logger: logger) { connection -> Set<UUID> in
                    let done = try await completed(among: runs.map(\.jobID), on: connection)
                    let pending = runs.filter { !done.contains($0.jobID) }
                    guard !pending.isEmpty else { return [] }
                    let ids = Set(pending.map(\.jobID))
                    try await body(connection, ids)
                    try await record(pending, result: nil, since: started, on: connection)
                    return ids
                }
            } catch is CompletedConcurrently {
                logger.debug("A job of the batch was completed by a concurrent delivery; running the batch again without it")
            } catch {
                throw DatabaseError.readable(error)
            }
        }
    }

    /// The ids among `ids` whose run is recorded as completed (outside any transaction): what a worker asks
    /// before it runs a redelivered job.
    public func completedRuns(among ids: [UUID]) async throws -> Set<UUID> {
        guard !ids.isEmpty else { return [] }
        do {
            return try await client.withConnection { connection in try await completed(among: ids, on: connection) }
        } catch {
            throw DatabaseError.readable(error)
        }
    }

    /// Thrown inside a run's transaction to roll it back: another delivery committed one of its runs first.
    private struct CompletedConcurrently: Error {}

    /// The ids among `ids` whose run is recorded as completed.
    private func completed(among ids: [UUID], on connection: PostgresConnection) async throws -> Set<UUID> {
        let rows = try await connection.query("""
            SELECT job_id FROM public.phoenix_job_runs WHERE job_id = ANY(\(ids)) AND status = 'completed'
            """, logger: logger)
        var done = Set<UUID>()
        for try await id in rows.decode(UUID.self) { done.insert(id) }
        return done
    }

    /// Writes the runs' rows as completed (over earlier failed attempts); throws ``CompletedConcurrently``
    /// when some row was completed by another transaction that committed meanwhile.
    private func record(_ runs: [JobRun], result: String?, since started: ContinuousClock.Instant, on connection: PostgresConnection) async throws {
        let milliseconds = Self.milliseconds(since: started)
        let rows = try await connection.query("""
            INSERT INTO public.phoenix_job_runs (job_id, type, queue, status, attempt, worker, user_id, started_at, finished_at, duration_ms, result)
            SELECT job_id, type, queue, 'completed', attempt, worker, nullif(user_id, '')::uuid, now(), clock_timestamp(), \(milliseconds)::int, \(result)::jsonb
            FROM unnest(\(runs.map(\.jobID)), \(runs.map(\.type)), \(runs.map(\.queue)), \(runs.map(\.attempt)), \(runs.map(\.worker)),
                        \(runs.map { $0.userID?.uuidString ?? "" })) AS r(job_id, type, queue, attempt, worker, user_id)
            ON CONFLICT (job_id) DO UPDATE
              SET status = 'completed', attempt = EXCLUDED.attempt, worker = EXCLUDED.worker, user_id = EXCLUDED.user_id,
                  started_at = EXCLUDED.started_at, finished_at = EXCLUDED.finished_at, duration_ms = EXCLUDED.duration_ms,
                  error = NULL, result = EXCLUDED.result
              WHERE public.phoenix_job_runs.status <> 'completed'
            RETURNING job_id
            """, logger: logger)
        var recorded = 0
        for try await _ in rows { recorded += 1 }
        guard recorded == runs.count else { throw CompletedConcurrently() }
    }

    private static func milliseconds(since start: ContinuousClock.Instant) -> Int {
        let elapsed = ContinuousClock.now - start
        return Int(elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000)
    }

    /// Records a failed attempt of a job that has not completed (a completed run is never overwritten).
    public func recordFailure(_ run: JobRun, error: String) async throws {
        try await recordEnd(run, status: "failed", error: error)
    }

    /// Records that a job's run was cancelled while it ran (a completed run is never overwritten).
    public func recordCancellation(_ run: JobRun) async throws {
        do {
            try await recordEnd(run, status: "cancelled", error: "cancelled while running")
        } catch {
            throw DatabaseError.readable(error)
        }
    }

    /// Writes the row of a run that ended without completing, as `status`, unless it is completed.
    private func recordEnd(_ run: JobRun, status: String, error: String) async throws {
        try await client.query("""
            INSERT INTO public.phoenix_job_runs (job_id, type, queue, status, attempt, worker, user_id, started_at, finished_at, error)
            VALUES (\(run.jobID), \(run.type), \(run.queue), \(status), \(run.attempt), \(run.worker), \(run.userID), now(), now(), \(error))
            ON CONFLICT (job_id) DO UPDATE
              SET status = EXCLUDED.status, attempt = EXCLUDED.attempt, worker = EXCLUDED.worker, finished_at = now(), error = EXCLUDED.error
              WHERE public.phoenix_job_runs.status <> 'completed'
            """, logger: logger)
    }
}

extension PhoenixStore {
    /// The retention pass (`phoenix_cleanup`); returns what each step deleted, as JSON text.
    public func cleanup(jobRunsRetentionDays: Int) async throws -> String {
        do {
            let rows = try await client.query("SELECT public.phoenix_cleanup(\(jobRunsRetentionDays)::int)::text", logger: logger)
            for try await summary in rows.decode(String.self) { return summary }
            return "{}"
        } catch {
            throw DatabaseError.readable(error)
        }
    }
}

/// A job's row in `phoenix_job_runs`, for status pages.
public struct JobRunSummary: Sendable, Equatable {
    /// `completed`, `failed` or `cancelled`.
    public var status: String
    /// The job type.
    public var type: String
    /// The queue it ran in.
    public var queue: String
    /// The attempt the row records.
    public var attempt: Int
    /// The user the job was about, when its handler recorded one (erasure clears it).
    public var userID: UUID?
    /// When the recorded attempt started and ended.
    public var startedAt: Date
    public var finishedAt: Date?
    public var durationMilliseconds: Int?
    /// The handler's JSON result summary, as text.
    public var result: String?
    public var error: String?
}

extension PhoenixStore {
    /// The recorded run of job `jobID`, if it has run.
    public func run(jobID: UUID) async throws -> JobRunSummary? {
        let rows = try await client.query("""
            SELECT status, type, queue, attempt, user_id, started_at, finished_at, duration_ms, result::text, error
            FROM public.phoenix_job_runs WHERE job_id = \(jobID)
            """, logger: PhoenixStore.quiet)
        for try await (status, type, queue, attempt, user, started, finished, duration, result, error)
            in rows.decode((String, String, String, Int32, UUID?, Date, Date?, Int32?, String?, String?).self) {
            return JobRunSummary(
                status: status, type: type, queue: queue, attempt: Int(attempt), userID: user, startedAt: started, finishedAt: finished,
                durationMilliseconds: duration.map(Int.init), result: result, error: error
            )
        }
        return nil
    }

    /// The result summaries (JSON text) of those of `jobIDs` whose run completed with one, in one query.
    public func results(jobIDs: [UUID]) async throws -> [UUID: String] {
        guard !jobIDs.isEmpty else { return [:] }
        let rows = try await client.query("""
            SELECT job_id, result::text FROM public.phoenix_job_runs
            WHERE job_id = ANY(\(jobIDs)) AND status = 'completed' AND result IS NOT NULL
            """, logger: PhoenixStore.quiet)
        var results: [UUID: String] = [:]
        for try await (id, result) in rows.decode((UUID, String).self) { results[id] = result }
        return results
    }
}

/// A run as the dashboard lists it.
public struct RecentRun: Sendable, Equatable {
    public var jobID: UUID
    public var type: String
    public var queue: String
    /// `completed`, `failed` (the job died) or `cancelled`.
    public var status: String
    public var attempt: Int
    /// The user the job was for, for the job types users submit.
    public var userID: UUID?
    public var startedAt: Date
    public var durationMilliseconds: Int?
    public var error: String?
}

extension PhoenixStore {
    /// The latest runs recorded in `phoenix_job_runs`, newest first.
    public func recentRuns(limit: Int) async throws -> [RecentRun] {
        try await findRuns(limit: limit)
    }

    /// The latest runs of `user`, of `type` and ending `status` (each only when given), newest first.
    public func findRuns(user: UUID? = nil, type: String? = nil, status: String? = nil, limit: Int) async throws -> [RecentRun] {
        let rows = try await client.query("""
            SELECT job_id, type, queue, status, attempt, user_id, started_at, duration_ms, error
            FROM public.phoenix_job_runs
            WHERE (\(user)::uuid IS NULL OR user_id = \(user)) AND (\(type)::text IS NULL OR type = \(type))
              AND (\(status)::text IS NULL OR status = \(status))
            ORDER BY started_at DESC LIMIT \(limit)
            """, logger: PhoenixStore.quiet)
        var runs: [RecentRun] = []
        for try await (id, type, queue, status, attempt, user, started, duration, error)
            in rows.decode((UUID, String, String, String, Int32, UUID?, Date, Int32?, String?).self) {
            runs.append(RecentRun(
                jobID: id, type: type, queue: queue, status: status, attempt: Int(attempt), userID: user, startedAt: started,
                durationMilliseconds: duration.map(Int.init), error: error
            ))
        }
        return runs
    }
}
