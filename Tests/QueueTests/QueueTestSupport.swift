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

/// What breaks the invariants of fair queue `name`, read from Redis (empty when they hold): the ready list
/// holds one ticket per id waiting in a key list; a key with ids waiting is in exactly one of `turns` and
/// `parked` (and in `turns` once); a key is parked only while it runs as many jobs as its limit allows;
/// `running` counts each key's leased jobs that a fetch counted.
func fairStructureProblems(_ queue: JobQueue, _ name: String) async throws -> [String] {
    let keys = queue.keys
    var problems: [String] = []
    let tickets = try await queue.redis.send("LLEN", keys.ready(name)).int ?? -1
    let turns = try await queue.redis.send("LRANGE", keys.turns(name), 0, -1).array?.compactMap(\.string) ?? []
    let parked = Set(try await queue.redis.send("SMEMBERS", keys.parked(name)).array?.compactMap(\.string) ?? [])
    // KEYS names no key, so a cluster client would send it to any master: a script declaring a key of the
    // queue runs it on the queue's node.
    let listKeys = try await queue.redis.send(
        "EVAL", "return redis.call('KEYS', ARGV[1])", 1, keys.ready(name), keys.keyList("*", in: name)
    ).array?.compactMap(\.string) ?? []
    var waiting = 0
    var keysWaiting = Set<String>()
    for list in listKeys {
        let length = try await queue.redis.send("LLEN", list).int ?? 0
        waiting += length
        if length > 0 { keysWaiting.insert(String(list.dropFirst(keys.keyList("", in: name).count))) }
    }
    if tickets != waiting { problems.append("ready tickets \(tickets) for \(waiting) ids waiting") }
    if Set(turns).count != turns.count { problems.append("a key twice in turns: \(turns)") }
    if !Set(turns).isDisjoint(with: parked) { problems.append("a key both in turns \(turns) and parked \(parked)") }
    let unplaced = keysWaiting.subtracting(turns).subtracting(parked)
    if !unplaced.isEmpty { problems.append("keys with jobs waiting but no turn: \(unplaced.sorted())") }
    var leasedPerKey: [String: Int] = [:]
    for id in try await queue.redis.send("ZRANGE", keys.leased(name), 0, -1).array?.compactMap(\.string) ?? [] {
        let fields = try await queue.redis.send("HMGET", keys.job(id, in: name), "counted", "fairKey").array ?? []
        if fields.first?.string != nil { leasedPerKey[fields.last?.string ?? "", default: 0] += 1 }
    }
    let running = try await queue.redis.send("HGETALL", keys.running(name)).array?.compactMap(\.string) ?? []
    var counted: [String: Int] = [:]
    for pair in stride(from: 0, to: running.count - 1, by: 2) { counted[running[pair]] = Int(running[pair + 1]) }
    if counted != leasedPerKey { problems.append("running counts \(counted) for leased jobs \(leasedPerKey)") }
    let limit = try await queue.flowSettings(queue: name).keyConcurrency
    for key in parked where limit == nil || counted[key, default: 0] < limit ?? 0 {
        problems.append("key \(key) parked with \(counted[key, default: 0]) running (limit \(limit.map(String.init) ?? "none"))")
    }
    return problems
}
