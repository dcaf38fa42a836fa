import Foundation
import PhoenixJobsCore
import PhoenixQueue
import PhoenixRedis
import Testing
import TestSupport

/// A queue engine on the test server under a prefix of its own, so tests run in parallel.
func makeQueue(retention: Duration = .seconds(3600)) throws -> JobQueue {
    JobQueue(redis: try TestRedis.client(), keys: QueueKeys(prefix: TestRedis.uniquePrefix("phx")), retention: retention)
}

/// A small job for `queue`.
func job(
    _ queue: String = "letters",
    type: String = "test.noop",
    maxAttempts: Int = 3,
    delay: Duration? = nil,
    priority: Int = 0,
    idempotencyKey: String? = nil,
    payload: [String: JSONValue] = ["n": .number(1)]
) -> JobEnvelope {
    JobEnvelope(type: type, queue: queue, payload: .object(payload), maxAttempts: maxAttempts, delay: delay, priority: priority, idempotencyKey: idempotencyKey)
}

/// A retry policy without waiting, so that a failed job is ready again at once.
let retryAtOnce = RetryPolicy(baseDelay: .zero, maxDelay: .zero)

/// Makes a delayed job due now, as the passing of its delay would: its score in `delayed` goes back to 1970.
/// Tests do this instead of sleeping through a delay, which a loaded machine overruns.
/// Makes `lease`'s deadline pass at once by moving its score in `leased` to 1970, rather than sleeping past a
/// short lease, which a loaded machine may spend between two calls.
func expire(_ lease: JobLease, in queue: JobQueue) async throws {
    let changed = try await queue.redis.send("ZADD", queue.keys.leased(lease.queue, partition: lease.partition), "XX", "CH", 0, lease.id)
    #expect(changed == .integer(1), "job \(lease.id) is not leased")
}

func makeDue(_ job: JobEnvelope, in queue: JobQueue) async throws {
    let changed = try await queue.redis.send("ZADD", queue.keys.delayed(job.queue), "XX", "CH", 0, job.idString)
    #expect(changed == .integer(1), "job \(job.idString) is not delayed")
}
