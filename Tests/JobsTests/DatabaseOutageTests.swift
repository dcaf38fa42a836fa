import Foundation
import LocalServers
import Logging
import PostgresNIO
import PhoenixJobsCore
import PhoenixQueue
import PhoenixSupabase
import Testing
import TestSupport
import PhoenixWorker

/// Writes one row through the store, effectively once; a short timeout so that an outage fits in a test.
private struct OutageProbeJob: JobType {
    struct Payload: Codable, Sendable { var n: Int }
    static let name = "test.outage_probe"
    static let queue = "diagnostics"
    static var timeout: Duration { .seconds(2) }
    static var retryPolicy: RetryPolicy { RetryPolicy(baseDelay: .milliseconds(500), maxDelay: .seconds(5)) }
    let store: PhoenixStore

    func run(_ payload: Payload, context: JobContext) async throws {
        _ = try await store.runOnce(JobRun(jobID: context.jobID, type: context.type, queue: context.queue, attempt: context.attempt, worker: context.workerID)) { connection in
            try await connection.query("INSERT INTO outage_probe (n) VALUES (\(payload.n))", logger: Logger(label: "test.outage"))
            return ((), nil)
        }
    }
}

/// The chaos suite's PostgreSQL scenario (Benchmarks/chaos.sh postgres), small enough for CI: the database
/// stops mid-run and comes back on the same port; jobs caught by it fail or time out, retry with backoff, and
/// all complete once it is back, each exactly once, none dead.
@Suite struct DatabaseOutageTests {
    @Test func jobsCaughtByADatabaseOutageRetryAndAllCompleteOnceItIsBack() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("phoenix-outage-\(UUID().uuidString.prefix(8))")
        defer { try? FileManager.default.removeItem(at: folder) }
        var server = try await LocalPostgres.start(directory: folder, database: "outage")
        let port = try #require(URLComponents(string: server.url)?.port)
        let logger = { var logger = Logger(label: "test.outage"); logger.logLevel = .critical; return logger }()
        let client = PostgresClient(configuration: try PostgresURL.configuration(server.url), backgroundLogger: logger)
        let queue = JobQueue(redis: try TestRedis.client(), keys: QueueKeys(prefix: TestRedis.uniquePrefix("outage")))
        var registry = JobRegistry()
        registry.register(OutageProbeJob(store: PhoenixStore(client: client)))
        let worker = Worker(
            queue: queue, registry: registry,
            configuration: WorkerConfiguration(name: "outage", queues: [OutageProbeJob.queue], concurrency: 10, lease: .seconds(5), heartbeatInterval: .milliseconds(500), idleWait: .milliseconds(200)),
            logger: logger
        )
        let total = 300
        do {
            try await withServices([client, worker], logger: logger) {
                try await Migrator(directory: TestPostgres.migrations).apply(client, logger: logger)
                try await client.query("CREATE TABLE outage_probe (n int NOT NULL)", logger: logger)
                try await queue.enqueue(try (0..<total).map { try JobEnvelope(OutageProbeJob.self, .init(n: $0)) })
                try await eventually("a third done before the outage") { try await queue.stats(queue: "diagnostics").completed >= total / 3 }
                await server.stop()
                try await Task.sleep(for: .seconds(5))
                server = try await LocalPostgres.start(directory: folder, database: "outage", port: port)
                try await eventually("every job completed", timeout: .seconds(90)) { try await queue.stats(queue: "diagnostics").completed == total }
                let stats = try await queue.stats(queue: "diagnostics")
                #expect(stats.dead == 0)
                #expect(stats.failed > 0, "no attempt met the outage: the test proved nothing")
                let rows = try await client.query("SELECT count(*)::int, count(DISTINCT n)::int FROM outage_probe", logger: logger)
                for try await (count, distinct) in rows.decode((Int, Int).self) {
                    #expect(count == total && distinct == total, "\(count) rows, \(distinct) distinct, for \(total) jobs")
                }
            }
        } catch {
            await server.stop()
            throw error
        }
        await server.stop()
    }
}
