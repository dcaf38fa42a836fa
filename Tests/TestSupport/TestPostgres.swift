public import Foundation
import Logging
public import PostgresNIO
import PhoenixSupabase

/// The private PostgreSQL server that `make test` starts, and fresh databases on it.
public enum TestPostgres {
    /// What went wrong setting up the test server.
    public struct MissingServer: Error, CustomStringConvertible {
        public var description: String {
            "PHOENIX_TEST_DATABASE_URL is not set: run the tests with `make test`, which starts a private PostgreSQL"
        }
    }

    /// The URL of the server's `phoenix` database, from `PHOENIX_TEST_DATABASE_URL`.
    public static func url() throws -> String {
        guard let url = ProcessInfo.processInfo.environment["PHOENIX_TEST_DATABASE_URL"] else { throw MissingServer() }
        return url
    }

    /// The repository's migrations folder.
    public static var migrations: URL {
        RepositoryFiles.url("Deploy/supabase/migrations")
    }

    /// Creates an empty database of its own for one test and returns its URL.
    public static func freshDatabase() async throws -> String {
        let name = "t_\(UUID().uuidString.prefix(12).lowercased().replacingOccurrences(of: "-", with: ""))"
        _ = try await withClient(try url()) { client in
            try await client.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(name)"))
        }
        return try url().replacingOccurrences(of: "/phoenix?", with: "/\(name)?")
    }

    /// Runs `body` with a running client of `url`, then shuts the client down.
    public static func withClient<T: Sendable>(_ url: String, _ body: (PostgresClient) async throws -> T) async throws -> T {
        let client = PostgresClient(configuration: try PostgresURL.configuration(url), backgroundLogger: Logger(label: "test.postgres"))
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            defer { group.cancelAll() }
            return try await body(client)
        }
    }

    /// A fresh database with every migration applied; runs `body` with a running client of it.
    public static func withMigratedDatabase<T: Sendable>(_ body: (PostgresClient) async throws -> T) async throws -> T {
        let url = try await freshDatabase()
        return try await withClient(url) { client in
            try await Migrator(directory: migrations).apply(client, logger: Logger(label: "test.migrations"))
            return try await body(client)
        }
    }
}
