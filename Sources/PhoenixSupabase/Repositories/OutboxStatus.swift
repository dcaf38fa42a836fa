import Foundation
public import PostgresNIO

/// How the transactional-enqueue outbox (`phoenix_job_outbox`) stands: what `/metrics`, `phoenix stats` and
/// the dashboard show of it.
public struct OutboxStatus: Sendable, Equatable, Codable {
    /// Rows waiting for a relay.
    public var waiting: Int
    /// Rows the relay could not turn into a job; they keep their error.
    public var refused: Int
    /// How long the oldest waiting row has waited, in seconds; 0 when none waits.
    public var oldestWaitingSeconds: Double

    /// A status of these figures.
    public init(waiting: Int, refused: Int, oldestWaitingSeconds: Double) {
        self.waiting = waiting
        self.refused = refused
        self.oldestWaitingSeconds = oldestWaitingSeconds
    }

    /// Reads the outbox: one query, answered from its partial index for the waiting rows.
    /// - Throws: ``DatabaseError`` (for instance 42P01 where the outbox's migration is not applied yet).
    public static func read(_ client: PostgresClient) async throws -> OutboxStatus {
        do {
            let rows = try await client.query("""
                SELECT count(*) FILTER (WHERE error IS NULL)::int, count(*) FILTER (WHERE error IS NOT NULL)::int,
                  coalesce(extract(epoch FROM now() - min(created_at) FILTER (WHERE error IS NULL)), 0)::float8
                FROM public.phoenix_job_outbox
                """, logger: PhoenixStore.quiet)
            for try await (waiting, refused, age) in rows.decode((Int, Int, Double).self) {
                return OutboxStatus(waiting: waiting, refused: refused, oldestWaitingSeconds: max(0, age))
            }
            return OutboxStatus(waiting: 0, refused: 0, oldestWaitingSeconds: 0)
        } catch {
            throw DatabaseError.readable(error)
        }
    }
}
