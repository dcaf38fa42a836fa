import Foundation
import PhoenixJobsCore
import PhoenixQueue
import PhoenixSupabase
import Testing
import TestSupport

@Suite struct MigrateCommandTests {
    @Test func migrateAppliesOnceAndStatusListsWhatIsApplied() async throws {
        let url = try await TestPostgres.freshDatabase()
        let cli = try PhoenixCLI()
        let environment = ["DATABASE_URL": url, "PHOENIX_MIGRATIONS_DIR": TestPostgres.migrations.path]
        let files = try Migrator(directory: TestPostgres.migrations).migrations.count
        #expect(files >= 9)
        let before = try await cli.run(["migrate", "--status"], extraEnvironment: environment)
        #expect(before.status == 0)
        #expect(before.output.components(separatedBy: "pending  ").count - 1 == files)

        let first = try await cli.run(["migrate"], extraEnvironment: environment)
        #expect(first.status == 0)
        #expect(first.output.contains("applied \(files) migration(s)"))
        let second = try await cli.run(["migrate"], extraEnvironment: environment)
        #expect(second.output.contains("nothing to apply: \(files) migration(s) already applied"))

        let after = try await cli.run(["migrate", "--status"], extraEnvironment: environment)
        #expect(after.output.contains("applied  20261125000000_auth_shim.sql"))
        #expect(!after.output.contains("pending"))
    }

    @Test func missingDatabaseURLIsNamed() async throws {
        let cli = try PhoenixCLI()
        let result = try await cli.run(["migrate"], extraEnvironment: ["DATABASE_URL": "", "SUPABASE_DB_URL": ""])
        #expect(result.status == 1)
        #expect(result.output.contains("DATABASE_URL: not set (nor SUPABASE_DB_URL)"))
    }
}

@Suite struct DeadSetCommandTests {
    @Test func deadJobsAreListedRetriedAndDiscardedFromTheCLI() async throws {
        let cli = try PhoenixCLI()
        let jobs = (0..<2).map { _ in JobEnvelope(type: "diagnostic.noop", queue: "diagnostics", payload: .object([:]), maxAttempts: 1) }
        try await cli.queue.enqueue(jobs)
        let leased = try await cli.queue.fetch(queue: "diagnostics", limit: 2, lease: .seconds(30), worker: "test")
        try await cli.queue.fail(leased.map { FailedAttempt(job: $0, error: "provider down") })

        let list = try await cli.run(["dead", "list", "--queue", "diagnostics"])
        #expect(list.status == 0)
        #expect(jobs.allSatisfy { list.output.contains($0.idString) })
        #expect(list.output.contains("provider down"))

        let bad = try await cli.run(["dead", "retry", "--queue", "diagnostics"])
        #expect(bad.status != 0)
        #expect(bad.output.contains("give job ids or --all"))

        let discard = try await cli.run(["dead", "discard", "--queue", "diagnostics", jobs[0].idString, "no-such-id"])
        #expect(discard.output.contains("discarded 1 job(s)"))
        #expect(discard.output.contains("not in the dead set: no-such-id"))
        let retry = try await cli.run(["dead", "retry", "--queue", "diagnostics", "--all"])
        #expect(retry.output.contains("retried 1 job(s)"))
        let stats = try await cli.queue.stats(queue: "diagnostics")
        #expect((stats.ready, stats.dead) == (1, 0))
    }
}
