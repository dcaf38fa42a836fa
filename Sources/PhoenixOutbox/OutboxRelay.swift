import Foundation
public import Logging
public import PhoenixJobsCore
public import PhoenixQueue
import PhoenixSupabase
public import PostgresNIO
public import ServiceLifecycle

/// Moves the jobs that committed transactions asked for (`public.phoenix_job_outbox`, written by
/// `phoenix_enqueue_job`) into Redis, and deletes their rows.
///
/// Each pass takes the oldest waiting rows with `FOR UPDATE SKIP LOCKED` in one transaction, enqueues them with
/// the row's id as the job's id, deletes them and commits. Relays running at once take different rows. A relay
/// that dies after its enqueue and before its commit leaves the rows to the next pass, whose enqueue of the same
/// ids creates nothing: every row becomes exactly one job. A row the catalogue refuses (unknown type, a payload
/// its type refuses) keeps its error in the row and is not tried again.
///
/// Passes run back to back while they find full batches; then the relay waits for a notification on
/// `phoenix_job_outbox` (sent at commit by the outbox's trigger) or `pollInterval`, whichever comes first.
public struct OutboxRelay: Service {
    /// The database holding the outbox.
    public let database: PostgresClient
    /// The queues the jobs go to.
    public let queue: JobQueue
    /// The job types rows are checked against.
    public let catalog: JobCatalog
    /// Rows per pass.
    public let batchSize: Int
    /// How long the relay waits for a notification before it looks anyway.
    public let pollInterval: Duration
    /// Whether the relay listens for notifications; without (a transaction pooler cannot `LISTEN`) it polls.
    public let listens: Bool
    let logger: Logger

    /// The notification channel the outbox's trigger notifies.
    public static let channel = "phoenix_job_outbox"

    /// A relay of `database`'s outbox into `queue`.
    public init(
        database: PostgresClient, queue: JobQueue, catalog: JobCatalog, batchSize: Int = 500, pollInterval: Duration = .seconds(1),
        listens: Bool = true, logger: Logger = Logger(label: "phoenix.outbox")
    ) {
        self.database = database
        self.queue = queue
        self.catalog = catalog
        self.batchSize = batchSize
        self.pollInterval = pollInterval
        self.listens = listens
        self.logger = logger
    }

    /// Relays until cancelled or until graceful shutdown, waking on notifications.
    public func run() async throws {
        let bell = RelayBell()
        await withTaskGroup(of: Void.self) { group in
            if listens {
                group.addTask { await listen(ringing: bell) }
            } else {
                logger.notice("outbox relay polls every \(pollInterval) without LISTEN (the connection goes through a transaction pooler)")
            }
            group.addTask { await relayLoop(bell) }
            // The loop ends on graceful shutdown or cancellation; the listener then has nothing to wake.
            await group.next()
            group.cancelAll()
        }
    }

    /// Passes until graceful shutdown or cancellation, either of which ends a pass under way: its transaction
    /// rolls back, and rows it had enqueued already are enqueued again by the next pass, which creates nothing.
    /// (Waiting for the pass instead would hold shutdown for as long as an unreachable database keeps it.)
    private func relayLoop(_ bell: RelayBell) async {
        await cancelWhenGracefulShutdown {
            // One line when passes start failing (a database down, an outbox not migrated yet), one when they work
            // again: not one a second.
            var failing = false
            while !Task.isCancelled {
                do {
                    while try await relayOnce() == batchSize, !Task.isCancelled {}
                    if failing { logger.notice("outbox relay works again") }
                    failing = false
                } catch where !Task.isCancelled {
                    if !failing {
                        logger.warning("outbox relay pass failed; trying again every \(pollInterval)", metadata: ["error": "\(DatabaseError.readable(error))"])
                    }
                    failing = true
                } catch {}
                await bell.wait(upTo: pollInterval)
            }
        } ?? ()
    }

    /// Holds a connection that listens on ``channel`` and rings `bell` on each notification; on a lost
    /// connection it listens again after a second (the relay polls meanwhile), and says so once per outage.
    private func listen(ringing bell: RelayBell) async {
        var listening = true
        while !Task.isCancelled {
            do {
                try await database.withConnection { connection in
                    try await connection.listen(on: Self.channel) { notifications in
                        if !listening { logger.notice("outbox relay listens again") }
                        listening = true
                        bell.ring()  // Rows committed before the LISTEN took effect.
                        for try await _ in notifications { bell.ring() }
                    }
                }
            } catch where !Task.isCancelled {
                if listening {
                    logger.warning("outbox relay lost its LISTEN connection; polling until it is back", metadata: ["error": "\(DatabaseError.readable(error))"])
                }
                listening = false
            } catch {
                return
            }
            try? await Task.sleep(for: .seconds(1))
        }
    }

    /// One pass: relays up to ``batchSize`` waiting rows; returns how many rows it took (relayed or refused).
    /// - Throws: a database or queue error; the pass's transaction is rolled back and its rows wait for the next.
    @discardableResult
    public func relayOnce() async throws -> Int {
        try await database.withTransaction(logger: logger) { connection in
            let rows = try await connection.query("""
                SELECT id, job_type, payload::text, queue, priority, run_at, idempotency_key, correlation_id, enqueued_by
                FROM public.phoenix_job_outbox WHERE error IS NULL ORDER BY created_at LIMIT \(batchSize) FOR UPDATE SKIP LOCKED
                """, logger: logger)
            var jobs: [JobEnvelope] = [], refused: [(UUID, String)] = []
            for try await columns in rows.decode(OutboxRow.Columns.self) {
                let row = OutboxRow(columns)
                do { jobs.append(try row.job(catalog: catalog)) } catch { refused.append((row.id, "\(error)")) }
            }
            if !jobs.isEmpty {
                _ = try await queue.enqueue(jobs)
                let ids = jobs.map(\.id)
                try await connection.query("DELETE FROM public.phoenix_job_outbox WHERE id = ANY(\(ids))", logger: logger)
            }
            for (id, error) in refused {
                logger.warning("outbox row refused; it stays in the outbox with its error", metadata: ["row": "\(id)", "error": "\(error.prefix(300))"])
                try await connection.query(
                    "UPDATE public.phoenix_job_outbox SET error = \(error), failed_at = now() WHERE id = \(id)", logger: logger)
            }
            return jobs.count + refused.count
        }
    }
}
