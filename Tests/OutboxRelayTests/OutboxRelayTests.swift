import Foundation
import Logging
import PhoenixJobsCore
import PhoenixOutbox
import PhoenixPlatform
import PhoenixQueue
import PhoenixRedis
import PostgresNIO
import Testing
import TestSupport

/// Issue 22 (2): the relay moves the jobs committed transactions asked for into Redis, each exactly once.
@Suite struct OutboxRelayTests {
    let logger = Logger(label: "test.outbox")

    /// A migrated database, a queue under a prefix of its own, and a relay of the one into the other.
    func withRelay(pollInterval: Duration = .seconds(60), _ body: (OutboxRelay, PostgresClient, JobQueue) async throws -> Void) async throws {
        try await TestPostgres.withMigratedDatabase { client in
            let queue = JobQueue(redis: try TestRedis.client(), keys: QueueKeys(prefix: TestRedis.uniquePrefix("outbox")))
            defer { queue.redis.shutdown() }
            let relay = OutboxRelay(database: client, queue: queue, catalog: PhoenixJobs.catalog(), batchSize: 100, pollInterval: pollInterval, logger: logger)
            try await body(relay, client, queue)
        }
    }

    /// Asks for `count` no-op jobs in one committed transaction, as a service; returns their ids.
    func ask(_ client: PostgresClient, count: Int, type: String = "diagnostic.noop") async throws -> [UUID] {
        try await client.withTransaction(logger: logger) { connection in
            let rows = try await connection.query(
                "SELECT public.phoenix_enqueue_job(\(type), '{}'::jsonb) FROM generate_series(1, \(count))", logger: logger)
            var ids: [UUID] = []
            for try await id in rows.decode(UUID.self) { ids.append(id) }
            return ids
        }
    }

    func waitingRows(_ client: PostgresClient) async throws -> Int {
        for try await count in try await client.query("SELECT count(*)::int FROM public.phoenix_job_outbox WHERE error IS NULL").decode(Int.self) {
            return count
        }
        return 0
    }

    /// A commit wakes the relay through LISTEN (its poll interval is a minute), and the job is in Redis with the
    /// row's id; the job a rolled-back transaction asked for never is.
    @Test func aCommittedRequestReachesRedisOnItsNotificationAndARolledBackOneNever() async throws {
        struct RolledBack: Error { var id: UUID? }
        try await withRelay { relay, client, queue in
            try await withServices([relay], logger: logger) {
                var rolledBack: UUID?
                do {
                    try await client.withTransaction(logger: logger) { connection in
                        let rows = try await connection.query("SELECT public.phoenix_enqueue_job('diagnostic.noop', '{}'::jsonb)", logger: logger)
                        var asked: UUID?
                        for try await id in rows.decode(UUID.self) { asked = id }
                        throw RolledBack(id: asked)
                    }
                } catch let error as PostgresTransactionError {
                    rolledBack = (error.closureError as? RolledBack)?.id
                }
                // Once a first row went through, the relay's first pass and its listener's first ring are over
                // (the listener rings once it listens): what wakes it next is a notification, or a minute.
                let first = try #require(try await ask(client, count: 1).first)
                while try await queue.job(id: first.lowercasedString) == nil { try await Task.sleep(for: .milliseconds(10)) }
                try await Task.sleep(for: .milliseconds(200))
                let asked = Date()
                let committed = try #require(try await ask(client, count: 1).first)
                var record: JobRecord?
                while record == nil, Date().timeIntervalSince(asked) < 30 {
                    record = try await queue.job(id: committed.lowercasedString)
                    if record == nil { try await Task.sleep(for: .milliseconds(10)) }
                }
                let waited = Date().timeIntervalSince(asked)
                #expect(record?.envelope?.id == committed, "not in Redis after \(waited) s")
                #expect(record?.envelope?.enqueuedBy == "service")
                #expect(waited < 30, "the relay should have heard the commit, not waited for its poll")
                // The row goes when the pass commits, just after its enqueue.
                var waiting = try await waitingRows(client)
                while waiting > 0, Date().timeIntervalSince(asked) < 30 {
                    try await Task.sleep(for: .milliseconds(10))
                    waiting = try await waitingRows(client)
                }
                #expect(waiting == 0)
                let id = try #require(rolledBack)
                #expect(try await queue.job(id: id.lowercasedString) == nil)
            }
        }
    }

    /// A relay that died after its enqueue and before its commit left its rows: the next pass enqueues the same
    /// ids, which creates nothing, and deletes the rows.
    @Test func rowsWhoseJobsAreAlreadyInRedisBecomeNoSecondJob() async throws {
        try await withRelay { relay, client, queue in
            let ids = try await ask(client, count: 30)
            let catalog = PhoenixJobs.catalog()
            var earlier: [JobEnvelope] = []
            for id in ids.prefix(20) {
                var job = try catalog.makeJob(type: "diagnostic.noop", payload: .object([:]))
                job.id = id
                earlier.append(job)
            }
            _ = try await queue.enqueue(earlier)
            #expect(try await relay.relayOnce() == 30)
            #expect(try await waitingRows(client) == 0)
            let stats = try await queue.stats(queue: "diagnostics")
            #expect(stats.enqueued == 30)
            #expect(stats.ready == 30)
        }
    }

    @Test func aRowTheCatalogueRefusesKeepsItsErrorAndIsNotTriedAgain() async throws {
        try await withRelay { relay, client, queue in
            _ = try await ask(client, count: 1, type: "no.such_type")
            _ = try await ask(client, count: 2)
            #expect(try await relay.relayOnce() == 3)
            #expect(try await relay.relayOnce() == 0)
            let errors = try await client.query("SELECT error FROM public.phoenix_job_outbox WHERE failed_at IS NOT NULL")
            var found: [String] = []
            for try await error in errors.decode(String.self) { found.append(error) }
            #expect(found.count == 1)
            #expect(found.first?.contains("unknown job type 'no.such_type'") == true, "\(found)")
            #expect(try await queue.stats(queue: "diagnostics").enqueued == 2)
        }
    }

    /// Relays running at once take different rows (`SKIP LOCKED`): every row becomes one job.
    @Test func relaysRunningAtOnceMakeEachRowOneJob() async throws {
        try await withRelay { relay, client, queue in
            let ids = try await ask(client, count: 1_000)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<3 {
                    group.addTask { while try await relay.relayOnce() > 0 {} }
                }
                try await group.waitForAll()
            }
            #expect(try await waitingRows(client) == 0)
            let stats = try await queue.stats(queue: "diagnostics")
            #expect(stats.enqueued == ids.count)
            #expect(stats.ready == ids.count)
        }
    }
}
