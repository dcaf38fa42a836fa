import Foundation
import LocalServers
import Logging
import PhoenixJobsCore
import PhoenixQueue
import PhoenixRedis
import PhoenixSupabase
import PostgresNIO
import Testing
import TestSupport

/// Issue 22: the outbox relays of real `phoenix serve` processes, one of them killed with SIGKILL every second.
@Suite(.serialized) struct OutboxRelayProcessTests {
    @Test func tenThousandRowsRelayedWhileARelayIsKilledEverySecondBecomeOneJobEach() async throws {
        let cli = try PhoenixCLI()
        let url = try await TestPostgres.freshDatabase()
        let logger = Logger(label: "test.outbox")
        try await TestPostgres.withClient(url) { client in
            try await Migrator(directory: TestPostgres.migrations).apply(client, logger: logger)
            let environment = ["JWT_SECRET_KEY": String(repeating: "s", count: 32), "DATABASE_URL": url]
            let serve = ["serve", "--host", "127.0.0.1", "--port", "0"]
            var names = (0..<2).map { "relay-\($0)" }
            var relays = try names.map { try cli.start(serve, name: $0, extraEnvironment: environment) }
            // Rows keep coming, 100 per committed transaction, while the relays run and die.
            let asking = Task {
                var ids: [UUID] = []
                for _ in 0..<100 {
                    try await client.withTransaction(logger: logger) { connection in
                        let rows = try await connection.query(
                            "SELECT public.phoenix_enqueue_job('diagnostic.noop', '{}'::jsonb) FROM generate_series(1, 100)", logger: logger)
                        for try await id in rows.decode(UUID.self) { ids.append(id) }
                    }
                    try await Task.sleep(for: .milliseconds(30))
                }
                return ids
            }
            var kills = 0
            let started = ContinuousClock.now
            // At least eight kills, and on until every row asked for so far went through.
            while ContinuousClock.now - started < .seconds(180) {
                if kills >= 8, try await waiting(client) == 0 { break }
                try await Task.sleep(for: .seconds(1))
                let victim = kills % relays.count
                relays[victim].send(SIGKILL)
                _ = await relays[victim].exited()
                names[victim] = "relay-\(relays.count + kills)"
                relays[victim] = try cli.start(serve, name: names[victim], extraEnvironment: environment)
                kills += 1
            }
            let ids = try await asking.value
            try await eventually("the outbox is empty", timeout: .seconds(60)) { try await waiting(client) == 0 }
            // Stopped once they are up (a process stopped while it starts has no handler for SIGTERM yet).
            for name in names {
                try await eventually("\(name) is up") { cli.output(of: name).contains("Phoenix Jobs API listening") }
            }
            for relay in relays { relay.send(SIGTERM) }
            for (name, relay) in zip(names, relays) {
                #expect(ChildProcess.exitCode(ofStatus: await relay.exited()) == 0, "\(name): \(cli.output(of: name).suffix(2_000))")
            }

            #expect(ids.count == 10_000)
            #expect(kills >= 3, "relays were killed \(kills) times")
            // Each row became exactly one job: its id is a job, and the queue created 10,000 jobs in all.
            let stats = try await cli.queue.stats(queue: "diagnostics")
            #expect(stats.enqueued == 10_000)
            #expect(stats.ready == 10_000)
            var missing = 0
            for chunk in stride(from: 0, to: ids.count, by: 1_000).map({ ids[$0..<min($0 + 1_000, ids.count)] }) {
                let replies = try await cli.queue.redis.pipeline(chunk.map { RedisCommand("EXISTS", cli.queue.keys.job($0.lowercasedString, in: "diagnostics")) })
                missing += try replies.filter { try $0.get() != .integer(1) }.count
            }
            #expect(missing == 0)
            let refused = try await client.query("SELECT count(*)::int FROM public.phoenix_job_outbox")
            for try await count in refused.decode(Int.self) { #expect(count == 0) }
        }
    }

    /// `phoenix stats` shows the outbox when a database is configured, and says so when it cannot read it.
    @Test func statsShowTheOutboxWithADatabase() async throws {
        let cli = try PhoenixCLI()
        let url = try await TestPostgres.freshDatabase()
        try await TestPostgres.withClient(url) { client in
            try await Migrator(directory: TestPostgres.migrations).apply(client, logger: Logger(label: "test.outbox"))
            try await client.query("SELECT public.phoenix_enqueue_job('diagnostic.noop', '{}'::jsonb) FROM generate_series(1, 2)")
            let (status, output) = try await cli.run(["stats", "--json"], extraEnvironment: ["DATABASE_URL": url])
            #expect(status == 0, "\(output)")
            let json = try JSONValue.parse(Array(output.split(separator: "\n").last(where: { $0.hasPrefix("{") }).map { Array($0.utf8) } ?? []))
            #expect(json.objectValue?["outbox"]?.objectValue?["waiting"] == .number(2), "\(output)")
            #expect(json.objectValue?["queues"] != nil)
            let (_, table) = try await cli.run(["stats"], extraEnvironment: ["DATABASE_URL": url])
            #expect(table.contains("outbox: 2 waiting (oldest "), "\(table)")
            let (_, without) = try await cli.run(["stats", "--json"])
            #expect(!without.contains("outbox"), "\(without)")
            let (_, down) = try await cli.run(["stats"], extraEnvironment: ["DATABASE_URL": "postgres://nobody@127.0.0.1:1/none"])
            #expect(down.contains("outbox: unavailable ("), "\(down)")
        }
    }

    private func waiting(_ client: PostgresClient) async throws -> Int {
        for try await count in try await client.query("SELECT count(*)::int FROM public.phoenix_job_outbox").decode(Int.self) { return count }
        return 0
    }
}
