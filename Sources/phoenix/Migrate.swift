import ArgumentParser
import EnvironmentVariables
import Foundation
import Logging
import PostgresNIO
import PhoenixSupabase

/// `phoenix migrate`: applies pending migrations, or lists them with `--status`.
struct Migrate: AsyncParsableCommand {
    /// The migrations folder: `PHOENIX_MIGRATIONS_DIR`, else `Deploy/supabase/migrations`.
    static func folder(_ settings: Settings) -> String {
        settings.environment[.migrationsDirectory] ?? "Deploy/supabase/migrations"
    }

    /// Applies the pending migrations of `migrator` to `DATABASE_URL` with a client of its own; returns the line to print.
    static func applyPending(_ migrator: Migrator, settings: Settings, logger: Logger) async throws -> String {
        let client = PostgresClient(configuration: try settings.database(), backgroundLogger: logger)
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            defer { group.cancelAll() }
            return try await apply(migrator, client: client, logger: logger)
        }
    }

    /// Applies the pending migrations with a running `client`; returns the line to print.
    static func apply(_ migrator: Migrator, client: PostgresClient, logger: Logger) async throws -> String {
        let applied = try await migrator.apply(client, logger: logger)
        return applied.isEmpty ? "nothing to apply: \(migrator.migrations.count) migration(s) already applied" : "applied \(applied.count) migration(s)"
    }

    static let configuration = CommandConfiguration(abstract: "Apply pending SQL migrations to DATABASE_URL (or list them with --status).")

    @Flag(name: .long, help: "List applied and pending migrations; change nothing.")
    var status = false

    @Option(name: .long, help: "Folder of <YYYYMMDDHHMMSS>_<name>.sql files (default: PHOENIX_MIGRATIONS_DIR, else Deploy/supabase/migrations).")
    var directory: String?

    func run() async throws {
        let settings = Settings()
        try bootstrapLogging(settings)
        let folder = directory ?? Self.folder(settings)
        let migrator = try Migrator(directory: URL(fileURLWithPath: folder))
        let logger = Logger(label: "phoenix.migrate")
        let client = PostgresClient(configuration: try settings.database(), backgroundLogger: logger)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            defer { group.cancelAll() }
            if status {
                let applied = try await migrator.appliedVersions(client)
                for migration in migrator.migrations {
                    print("\(applied.contains(migration.version) ? "applied" : "pending")  \(migration.version)_\(migration.name).sql")
                }
            } else {
                print(try await Self.apply(migrator, client: client, logger: logger))
            }
        }
    }
}
