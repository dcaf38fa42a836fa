import PhoenixJobsCore
import PhoenixSupabase

/// Writes a batch so that items PostgreSQL refuses do not take the others down with them.
///
/// A batch is written in one transaction, so one refused row (a data exception, SQLSTATE class 22, or an
/// integrity constraint, class 23) rolls back every row. Sending the same batch again fails the same way,
/// until the refused job runs out of attempts. Instead, a batch refused for its data is split in halves,
/// each written on its own, and again, until each refused item stands alone: the others commit at their
/// first attempt, and a refused item fails permanently with PostgreSQL's reason (retrying cannot help).
/// Any other error (a lost connection, a timeout) is every item's error, to be retried as a whole.
public enum DataErrorIsolation {
    /// Runs `write` over `items` (in transactions of its own), splitting on data errors; returns, per item,
    /// `nil` when it was written or the error that stopped it.
    public static func write<Item: Sendable>(_ items: [Item], _ write: ([Item]) async throws -> Void) async -> [(any Error)?] {
        guard !items.isEmpty else { return [] }
        do {
            try await write(items)
            return Array(repeating: nil, count: items.count)
        } catch let error as DatabaseError where error.isDataError {
            guard items.count > 1 else { return [PermanentFailure("PostgreSQL refused this job's data: \(error)")] }
            let middle = items.count / 2
            let first = await self.write(Array(items[..<middle]), write)
            let second = await self.write(Array(items[middle...]), write)
            return first + second
        } catch {
            return Array(repeating: error, count: items.count)
        }
    }
}
