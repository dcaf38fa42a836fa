import PostgresNIO

/// A PostgreSQL failure told so that an operator can act on it: the SQLSTATE, the server's message and the
/// schema object it names (table, column, constraint, type), or the client-side kind of failure (connection
/// closed, pool closed…). Never the statement's bind values, the server's `detail` (which quotes row
/// values) or anything of a job's payload.
///
/// postgres-nio's own `PSQLError` description hides all of it ("Generic description to prevent accidental
/// leakage of sensitive data"), which left job errors such as a failed foreign key unreadable.
public struct DatabaseError: Error, CustomStringConvertible, Sendable {
    /// The five-character SQLSTATE (`23503`), when the server answered.
    public let sqlState: String?
    /// The server's primary message, or the client's kind of failure.
    public let message: String
    /// The table, column, constraint and type the server named, as `name: value` pairs.
    public let objects: [(String, String)]

    /// The readable form of `error` when it is a PostgreSQL error; `nil` otherwise.
    public init?(_ error: any Error) {
        guard let error = error as? PSQLError else { return nil }
        guard let info = error.serverInfo else {
            sqlState = nil
            message = "PostgreSQL client error: \(error.code.description)"
            objects = []
            return
        }
        sqlState = info[.sqlState]
        message = info[.message] ?? "no message"
        let named: [(String, PSQLError.ServerInfo.Field)] = [
            ("schema", .schemaName), ("table", .tableName), ("column", .columnName), ("constraint", .constraintName), ("type", .dataTypeName),
        ]
        objects = named.compactMap { label, field in info[field].map { (label, $0) } }
    }

    /// Whether the server refused the data itself (SQLSTATE class 22, data exception, or 23, integrity
    /// constraint violation): sending the same data again cannot help.
    public var isDataError: Bool { sqlState.map { $0.hasPrefix("22") || $0.hasPrefix("23") } ?? false }

    public var description: String {
        var text = "PostgreSQL error"
        if let sqlState { text += " \(sqlState)" }
        text += ": \(message)"
        if !objects.isEmpty { text += " (" + objects.map { "\($0.0) \($0.1)" }.joined(separator: ", ") + ")" }
        return text
    }

    /// `error` as a ``DatabaseError`` when it is a PostgreSQL error, unchanged otherwise.
    public static func readable(_ error: any Error) -> any Error {
        DatabaseError(error) ?? error
    }
}
