import Foundation
import Logging
import PostgresNIO
import PhoenixSupabase
import Testing
import TestSupport

@Suite struct MigrationTests {
    let logger = Logger(label: "test.migrations")

    @Test func migrationsApplyOnAnEmptyDatabaseAndASecondRunIsANoOp() async throws {
        let url = try await TestPostgres.freshDatabase()
        let migrator = try Migrator(directory: TestPostgres.migrations)
        #expect(migrator.migrations.count == 12)
        try await TestPostgres.withClient(url) { client in
            #expect(try await migrator.appliedVersions(client).isEmpty)
            let first = try await migrator.apply(client, logger: logger)
            #expect(first.map(\.version) == migrator.migrations.map(\.version))
            let second = try await migrator.apply(client, logger: logger)
            #expect(second.isEmpty)
            #expect(try await migrator.appliedVersions(client) == Set(migrator.migrations.map(\.version)))
            let recorded = try await client.query("SELECT name, cardinality(statements) FROM supabase_migrations.schema_migrations ORDER BY version")
            var rows: [(String, Int)] = []
            for try await row in recorded.decode((String, Int).self) { rows.append(row) }
            #expect(rows.map(\.0) == ["auth_shim", "event_store", "users_subscriptions", "documents_activity", "phoenix_job_runs", "user_exports", "cv_outputs", "erasure_and_retention", "explicit_grants", "cancelled_job_runs", "job_run_search", "job_outbox"])
            #expect(rows.allSatisfy { $0.1 > 0 })
        }
    }

    @Test func migrationsApplyForARoleThatMayNotCreateAnythingInAuth() async throws {
        let url = try await TestPostgres.freshDatabase()
        let database = try #require(url.split(separator: "/").last?.split(separator: "?").first.map(String.init))
        let role = "migrator_\(UUID().uuidString.prefix(8).lowercased())"
        let migrator = try Migrator(directory: TestPostgres.migrations)
        // As the superuser: the auth objects a Supabase project already has, and a role like Supabase's
        // `postgres`, which may use but not create anything in auth.
        try await TestPostgres.withClient(url) { client in
            for statement in try #require(migrator.migrations.first).statements {
                try await client.query(PostgresQuery(unsafeSQL: statement))
            }
            for grant in [
                "CREATE ROLE \(role) LOGIN",
                "GRANT CREATE ON DATABASE \(database) TO \(role)",
                "GRANT USAGE, CREATE ON SCHEMA public TO \(role)",
                "GRANT USAGE ON SCHEMA auth TO \(role)",
                "GRANT SELECT, REFERENCES, TRIGGER ON auth.users TO \(role)",
                "GRANT anon, authenticated, service_role TO \(role)",
            ] {
                try await client.query(PostgresQuery(unsafeSQL: grant))
            }
            let canCreate = try await client.query("SELECT has_schema_privilege(\(role), 'auth', 'CREATE')")
            for try await allowed in canCreate.decode(Bool.self) { #expect(!allowed) }
        }
        let restrictedURL = url.replacingOccurrences(of: "postgres@", with: "\(role)@")
        try await TestPostgres.withClient(restrictedURL) { client in
            let applied = try await migrator.apply(client, logger: logger)
            #expect(applied.count == 12)
            #expect(try await migrator.apply(client, logger: logger).isEmpty)
        }
    }

    @Test func statementsSplitOutsideStringsCommentsAndDollarQuotes() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("split-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try """
        -- a comment; with a semicolon
        CREATE TABLE t (a text DEFAULT 'x;y''z');
        /* block; comment */
        CREATE FUNCTION f() RETURNS int LANGUAGE sql AS $$ SELECT 1; $$;
        DO $body$ BEGIN PERFORM 1; END $body$;
        SELECT "odd;name" FROM t
        """.write(to: directory.appendingPathComponent("20260101000000_split.sql"), atomically: true, encoding: .utf8)
        let migration = try #require(try Migrator(directory: directory).migrations.first)
        #expect(migration.statements.count == 4)
        #expect(migration.statements[0].hasSuffix("DEFAULT 'x;y''z');"))
        #expect(migration.statements[1].hasSuffix("AS $$ SELECT 1; $$;"))
        #expect(migration.statements[2] == "DO $body$ BEGIN PERFORM 1; END $body$;")
        #expect(migration.statements[3] == #"SELECT "odd;name" FROM t"#)
    }

    @Test func badMigrationNamesAreRefused() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("names-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try "SELECT 1;".write(to: directory.appendingPathComponent("2026_bad.sql"), atomically: true, encoding: .utf8)
        #expect {
            try Migrator(directory: directory)
        } throws: { error in
            "\(error)".contains("2026_bad.sql") && "\(error)".contains("<YYYYMMDDHHMMSS>_<name>.sql")
        }
    }
}
