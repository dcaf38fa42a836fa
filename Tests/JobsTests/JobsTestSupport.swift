import EventBridge
import Foundation
import Logging
import PostgresNIO
import PhoenixJobsCore
import PhoenixPlatform
import PhoenixQueue
import PhoenixRedis
import PhoenixSupabase
import TestSupport
import PhoenixWorker

/// A fresh migrated database, a queue engine under its own prefix, and a worker running in this process
/// against both, for the duration of `body`: event_bridge and user_profile, plus the `types` whose jobs
/// `register` adds.
func withPlatform(
    types: [WorkerType] = [],
    register: (inout JobRegistry, PhoenixStore) async throws -> Void = { _, _ in },
    _ body: (JobQueue, PostgresClient) async throws -> Void
) async throws {
    try await TestPostgres.withMigratedDatabase { client in
        let queue = JobQueue(redis: try TestRedis.client(), keys: QueueKeys(prefix: TestRedis.uniquePrefix("jobs")))
        let store = PhoenixStore(client: client)
        let platformTypes: [WorkerType] = [.eventBridge, .userProfile]
        var registry = try await PhoenixJobs.registry(servedBy: platformTypes.map(\.queue), dependencies: HandlerDependencies(store: store, environment: [:], queue: queue))
        try await register(&registry, store)
        var logger = Logger(label: "test.jobs")
        logger.logLevel = .error
        let worker = Worker(
            queue: queue, registry: registry,
            configuration: WorkerConfiguration(name: WorkerType.name(of: platformTypes + types), queues: (platformTypes + types).map(\.queue), concurrency: 50, lease: .seconds(10), heartbeatInterval: .milliseconds(500), idleWait: .milliseconds(200)),
            runLedger: store, logger: logger
        )
        try await withServices([worker], logger: logger) { try await body(queue, client) }
    }
}

/// Adds a user to auth.users; the sign-up trigger creates the profile.
func signUp(_ client: PostgresClient, name: String) async throws -> (id: UUID, email: String) {
    let id = UUID()
    let email = "\(name.lowercased())-\(id.uuidString.prefix(6).lowercased())@example.org"
    try await client.query("INSERT INTO auth.users (id, email, raw_user_meta_data) VALUES (\(id), \(email), \(#"{"full_name": "\#(name)"}"#)::jsonb)")
    return (id, email)
}

/// The single integer a query returns.
func scalar(_ client: PostgresClient, _ query: PostgresQuery) async throws -> Int {
    for try await value in try await client.query(query).decode(Int.self) { return value }
    return 0
}

/// The single text a query returns.
func text(_ client: PostgresClient, _ query: PostgresQuery) async throws -> String? {
    for try await value in try await client.query(query).decode(String?.self) { return value }
    return nil
}

/// Puts a job back as a worker that died after its results committed, before its ack, leaves it: leased,
/// with a lease deadline already past, so the reaper hands it to the next delivery.
func leaveLeasedAsIfItsWorkerDied(_ queue: JobQueue, _ job: JobEnvelope) async throws {
    try await queue.redis.send("HSET", queue.keys.job(job.idString, in: job.queue), "state", "leased", "lease", "dead-worker")
    try await queue.redis.send("PERSIST", queue.keys.job(job.idString, in: job.queue))
    try await queue.redis.send("ZADD", queue.keys.leased(job.queue), 0, job.idString)
}

/// An `event.publish` job.
func eventJob(_ event: EventPayload) throws -> JobEnvelope {
    try JobEnvelope(EventPublishJob.self, event)
}

/// Waits until every queue the platform uses has nothing ready, delayed or leased.
func settled(_ queue: JobQueue) async throws -> Bool {
    for name in ["events", "profiles", "letters", "cv"] {
        let stats = try await queue.stats(queue: name)
        if stats.ready + stats.delayed + stats.leased > 0 { return false }
    }
    return true
}
