import Logging
import PostgresNIO

extension PostgresClient {
    /// Runs `body` in a transaction like `withTransaction`, but throws the body's own error (not postgres-nio's
    /// `PostgresTransactionError` wrapper), so callers can tell a handler's failure from a database failure.
    func inTransaction<Result>(logger: Logger, _ body: (PostgresConnection) async throws -> sending Result) async throws -> sending Result {
        do {
            return try await withTransaction(logger: logger, body)
        } catch let error as PostgresTransactionError {
            throw error.closureError ?? error.beginError ?? error.commitError ?? error
        }
    }
}
