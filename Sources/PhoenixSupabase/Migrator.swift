public import Foundation
public import Logging
public import PostgresNIO

/// One migration file: `<YYYYMMDDHHMMSS>_<name>.sql`, the Supabase CLI's naming.
public struct Migration: Sendable, Equatable {
    /// The timestamp prefix, the key in `supabase_migrations.schema_migrations`.
    public let version: String
    /// The name after the timestamp.
    public let name: String
    /// The file's statements, in order.
    public let statements: [String]
}

/// Applies the SQL files of `Deploy/supabase/migrations` in order, each in one transaction, and records them
/// in `supabase_migrations.schema_migrations(version, statements, name)` as `supabase db push` does, so either
/// tool may run them. Running it again applies nothing. Concurrent runs serialise on a transaction-scoped
/// advisory lock (safe behind Supabase's transaction pooler).
public struct Migrator: Sendable {
    /// The migrations found, sorted by version.
    public let migrations: [Migration]

    /// Loads every `.sql` file of `directory`.
    /// - Throws: ``StoreError/migration(file:reason:)`` for an unreadable file or a name not in the Supabase format.
    public init(directory: URL) throws(StoreError) {
        let files: [String]
        do {
            files = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".sql") }.sorted()
        } catch {
            throw .migration(file: directory.path, reason: "cannot list the folder: \(error.localizedDescription)")
        }
        var migrations: [Migration] = []
        for file in files {
            let stem = file.dropLast(4)
            let parts = stem.split(separator: "_", maxSplits: 1)
            guard parts.count == 2, parts[0].count == 14, parts[0].allSatisfy(\.isNumber) else {
                throw .migration(file: file, reason: "the name must be <YYYYMMDDHHMMSS>_<name>.sql")
            }
            guard let sql = try? String(contentsOf: directory.appendingPathComponent(file), encoding: .utf8) else {
                throw .migration(file: file, reason: "cannot read it as UTF-8")
            }
            migrations.append(Migration(version: String(parts[0]), name: String(parts[1]), statements: SQLScript.statements(sql)))
        }
        self.migrations = migrations
    }

    /// The versions already recorded in the database (none when the history table does not exist yet).
    public func appliedVersions(_ client: PostgresClient) async throws -> Set<String> {
        let exists = try await client.query("SELECT to_regclass('supabase_migrations.schema_migrations') IS NOT NULL")
        for try await present in exists.decode(Bool.self) where !present { return [] }
        var versions = Set<String>()
        for try await version in try await client.query("SELECT version FROM supabase_migrations.schema_migrations").decode(String.self) {
            versions.insert(version)
        }
        return versions
    }

    /// Applies every pending migration; returns those it applied.
    @discardableResult
    public func apply(_ client: PostgresClient, logger: Logger) async throws -> [Migration] {
        try await ensureHistoryTable(client, logger: logger)
        var applied: [Migration] = []
        for migration in migrations {
            let ran = try await client.inTransaction(logger: logger) { connection -> Bool in
                try await connection.query("SELECT pg_advisory_xact_lock(hashtext('phoenix.migrations'))", logger: logger)
                let already = try await connection.query("SELECT 1 FROM supabase_migrations.schema_migrations WHERE version = \(migration.version)", logger: logger)
                for try await _ in already { return false }
                for statement in migration.statements {
                    do {
                        try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                    } catch let error as PSQLError {
                        throw StoreError.migration(file: "\(migration.version)_\(migration.name).sql", reason: "\(error.serverInfo?[.message] ?? "\(error)") in: \(statement.prefix(120))")
                    }
                }
                try await connection.query(
                    "INSERT INTO supabase_migrations.schema_migrations (version, statements, name) VALUES (\(migration.version), \(migration.statements), \(migration.name))",
                    logger: logger
                )
                return true
            }
            if ran {
                logger.info("Applied migration", metadata: ["version": "\(migration.version)", "name": "\(migration.name)"])
                applied.append(migration)
            }
        }
        return applied
    }

    /// Creates the Supabase CLI's history table when missing (looked up first: on Supabase it exists).
    private func ensureHistoryTable(_ client: PostgresClient, logger: Logger) async throws {
        for try await present in try await client.query("SELECT to_regclass('supabase_migrations.schema_migrations') IS NOT NULL").decode(Bool.self) where present {
            return
        }
        try await client.inTransaction(logger: logger) { connection in
            try await connection.query("SELECT pg_advisory_xact_lock(hashtext('phoenix.migrations'))", logger: logger)
            try await connection.query("CREATE SCHEMA IF NOT EXISTS supabase_migrations", logger: logger)
            try await connection.query("CREATE TABLE IF NOT EXISTS supabase_migrations.schema_migrations (version text PRIMARY KEY, statements text[], name text)", logger: logger)
        }
    }
}
