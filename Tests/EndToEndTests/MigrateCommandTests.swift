import Foundation
import Testing
import TestSupport

@Suite struct MigrateCommandTests {
    @Test func migrateAppliesOnceAndStatusListsWhatIsApplied() async throws {
        let url = try await TestPostgres.freshDatabase()
        let cli = try PhoenixCLI()
        let environment = ["DATABASE_URL": url, "PHOENIX_MIGRATIONS_DIR": TestPostgres.migrations.path]
        let before = try cli.run(["migrate", "--status"], extraEnvironment: environment)
        #expect(before.status == 0)
        #expect(before.output.components(separatedBy: "pending  ").count - 1 == 6)

        let first = try cli.run(["migrate"], extraEnvironment: environment)
        #expect(first.status == 0)
        #expect(first.output.contains("applied 6 migration(s)"))
        let second = try cli.run(["migrate"], extraEnvironment: environment)
        #expect(second.output.contains("nothing to apply: 6 migration(s) already applied"))

        let after = try cli.run(["migrate", "--status"], extraEnvironment: environment)
        #expect(after.output.contains("applied  20261125000000_auth_shim.sql"))
        #expect(!after.output.contains("pending"))
    }

    @Test func missingDatabaseURLIsNamed() throws {
        let cli = try PhoenixCLI()
        let result = try cli.run(["migrate"], extraEnvironment: ["DATABASE_URL": "", "SUPABASE_DB_URL": ""])
        #expect(result.status == 1)
        #expect(result.output.contains("DATABASE_URL: not set (nor SUPABASE_DB_URL)"))
    }
}
