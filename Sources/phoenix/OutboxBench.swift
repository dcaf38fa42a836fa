import ArgumentParser
import Foundation
import LocalServers
import Logging
import PhoenixJobsCore
import PhoenixOutbox
import PhoenixPlatform
import PhoenixQueue
import PhoenixRedis
import PhoenixSupabase
import PhoenixWorker
import PostgresNIO
import ServiceLifecycle

/// `phoenix bench-outbox`: what the transactional-enqueue relay moves, on a private PostgreSQL it starts and
/// migrates (never a configured database, whose own relays would take the rows) and on `REDIS_URL` under a key
/// prefix of its own (a private Redis when none is set).
///
/// Throughput: `--rows` rows committed in transactions of 1,000 while no relay runs, then `--relays` relays taking
/// them at once (each its own connection pool, as separate `phoenix serve` processes would be) until none is
/// left. Latency: relays running as services (woken by `LISTEN`), one row committed at a time at `--rate`, and
/// for each the time from its commit returning to its job's `queued` event in Redis (both clocks of this machine).
struct OutboxBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-outbox",
        abstract: "Measure the outbox relay: rows relayed per second, and commit-to-ready latency with LISTEN."
    )

    @Option(name: .long, help: "Rows for the throughput run.")
    var rows: Int = 50_000

    @Option(name: .long, help: "Relays running at once.")
    var relays: Int = 2

    @Option(name: .long, help: "Rows committed one at a time for the latency run.")
    var latencyRows: Int = 1_000

    @Option(name: .long, help: "Rows per second during the latency run.")
    var rate: Int = 200

    func validate() throws {
        guard rows > 0, relays > 0, latencyRows > 0, rate > 0 else { throw ValidationError("--rows, --relays, --latency-rows and --rate must be positive") }
    }

    func run() async throws {
        try await Bench.withEnvironment(quiet: false) { environment, scratch in
            let postgres = try await LocalPostgres.start(directory: scratch.appendingPathComponent("postgres"), database: "outbox")
            do {
                let report = try await measure(environment, database: postgres.url)
                await postgres.stop()
                return report
            } catch {
                await postgres.stop()
                throw error
            }
        }
    }

    /// Both runs, on the private database at `url`; returns the lines to print.
    private func measure(_ environment: [String: String], database url: String) async throws -> String {
        let settings = Settings(environment: environment)
        let queue = try makeQueue(settings)
        defer { queue.redis.shutdown() }
        let configuration = try PostgresURL.configuration(url)
        // One pool for the bench's own writes, and one per relay.
        let pools = (0...relays).map { _ in PostgresClient(configuration: configuration) }
        let logger = Logger(label: "phoenix.bench-outbox")
        return try await withThrowingTaskGroup(of: Void.self) { group in
            for pool in pools { group.addTask { await pool.run() } }
            defer { group.cancelAll() }
            let migrator = try Migrator(directory: URL(fileURLWithPath: Migrate.folder(settings)))
            _ = try await migrator.apply(pools[0], logger: logger)
            let relayers = pools.dropFirst().map {
                OutboxRelay(database: $0, queue: queue, catalog: PhoenixJobs.catalog(), pollInterval: .seconds(1), logger: logger)
            }
            let throughput = try await measureThroughput(pools[0], Array(relayers))
            let latency = try await measureLatency(pools[0], Array(relayers), queue: queue)
            try await Bench.deleteKeys(prefix: queue.keys.prefix, redis: queue.redis)
            return """
                phoenix bench-outbox (private PostgreSQL 15, Redis \(try await Bench.redisVersion(queue.redis)))
                relayed \(rows) rows with \(relays) relays: \(Int(throughput.rounded())) rows/s
                commit → ready, \(latencyRows) rows at \(rate)/s: p50 \(ms(latency.p50))  p90 \(ms(latency.p90))  p99 \(ms(latency.p99))  max \(ms(latency.max))
                """
        }
    }

    /// Rows per second: every row committed first, then the relays take them at once until none is left.
    private func measureThroughput(_ database: PostgresClient, _ relayers: [OutboxRelay]) async throws -> Double {
        for start in stride(from: 0, to: rows, by: 1_000) {
            try await database.query("SELECT public.phoenix_enqueue_job('diagnostic.noop', '{}'::jsonb) FROM generate_series(1, \(min(1_000, rows - start)))")
        }
        let started = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            for relay in relayers { group.addTask { while try await relay.relayOnce() > 0 {} } }
            try await group.waitForAll()
        }
        let status = try await OutboxStatus.read(database)
        guard status.waiting == 0, status.refused == 0 else { throw InputError("the outbox still holds \(status.waiting) rows and \(status.refused) refused ones") }
        return Bench.rate(rows, since: started)
    }

    /// Commit → `queued` event latencies, with the relays running as services.
    private func measureLatency(_ database: PostgresClient, _ relayers: [OutboxRelay], queue: JobQueue) async throws -> BenchReport.Latency {
        let stream = JobEventStream(queue: DiagnosticJobs.Noop.queue)
        // The throughput run's events come first: the latency run reads from the stream's newest entry on.
        let before = try await queue.lastEventEntry(in: stream)
        var committed: [String: Date] = [:]
        var seen: [String: Date] = [:]
        let group = ServiceGroup(configuration: .init(services: relayers, logger: Logger(label: "phoenix.bench-outbox")))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            try await Task.sleep(for: .milliseconds(500))  // The relays listen.
            let interval = Duration.seconds(1) / rate
            var next = ContinuousClock.now
            for _ in 0..<latencyRows {
                try await Task.sleep(until: next)
                next += interval
                for try await id in try await database.query("SELECT public.phoenix_enqueue_job('diagnostic.noop', '{}'::jsonb)").decode(UUID.self) {
                    committed[id.lowercasedString] = Date()
                }
            }
            var after = before
            let deadline = ContinuousClock.now + .seconds(30)
            while seen.count < committed.count, ContinuousClock.now < deadline {
                let page = try await queue.events(in: stream, after: after, limit: 1_000)
                for event in page where event.kind == .queued { seen[event.jobID] = event.at }
                if let last = page.last?.position.entry { after = last } else { try await Task.sleep(for: .milliseconds(50)) }
            }
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
        let waits = committed.compactMap { id, at in
            seen[id].map { max(0, $0.timeIntervalSince(at) * 1000) }
        }
        guard waits.count == committed.count else { throw InputError("\(committed.count - waits.count) of \(committed.count) rows did not reach Redis within 30 s") }
        return BenchReport.Latency(waits)
    }

    private func ms(_ value: Double) -> String { String(format: "%.1f ms", value) }
}
