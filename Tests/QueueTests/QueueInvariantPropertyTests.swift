import Foundation
import PropertyBased
import PhoenixJobsCore
@testable import PhoenixQueue
import PhoenixRedis
import Testing
import TestSupport

/// Random interleavings of every transition, and of replays of each (the same call sent again), against the
/// real Redis; after every step the queue's invariants are checked:
/// - every job is in exactly one state, and in the one structure that state names (a cancelled job's id may
///   wait in the ready list until a fetch drops it);
/// - only the current delivery acts: a call naming any other delivery leaves the job as it was;
/// - attempts and deliveries never go down (an operator's retry of a dead job resets attempts only);
/// - the counters equal the transitions made;
/// - in a fair queue with a concurrency limit per key, its own structures agree (``fairStructureProblems``).
@Suite struct QueueInvariantPropertyTests {
    /// Sized for CI: 200 sequences of 10 to 60 steps over 4 jobs (seconds).
    @Test func everyInterleavingKeepsTheInvariants() async {
        await propertyCheck(count: 200, input: Gen.int(in: 0...999).array(of: 10...60)) { steps in
            let harness = try InvariantHarness(jobCount: 4)
            defer { harness.queue.redis.shutdown() }
            for (number, code) in steps.enumerated() {
                try await harness.step(Operation(code: code), number: number)
            }
        }
    }

    /// The same over a fair queue whose two keys may run one job each at once, one of them of weight 2: 100
    /// sequences.
    @Test func everyInterleavingKeepsTheInvariantsOfAFairQueue() async {
        await propertyCheck(count: 100, input: Gen.int(in: 0...999).array(of: 10...60)) { steps in
            let harness = try InvariantHarness(jobCount: 4, fair: true)
            defer { harness.queue.redis.shutdown() }
            try await harness.queue.configureFlow(queue: "q", fairShare: true, keyConcurrency: .atMost(1))
            try await harness.queue.setFairShareWeight(2, forKey: "u0", queue: "q")
            for (number, code) in steps.enumerated() {
                try await harness.step(Operation(code: code), number: number)
            }
        }
    }
}

/// One step of a sequence, decoded from a generated number (so the generator's shrinking shrinks steps).
enum Operation: Sendable, CustomStringConvertible {
    case enqueue(job: Int)
    case fetch(limit: Int)
    case ack(delivery: Int)
    case fail(delivery: Int, outcome: Int)
    case release(delivery: Int)
    case extend(delivery: Int)
    case expireAndReap(job: Int)
    case dueAndPromote(job: Int)
    case cancel(job: Int)
    case retryDead(job: Int)
    case replay(step: Int)

    init(code: Int) {
        let argument = code / 11
        switch code % 11 {
        case 0: self = .enqueue(job: argument)
        case 1: self = .fetch(limit: 1 + argument % 3)
        case 2: self = .ack(delivery: argument)
        case 3: self = .fail(delivery: argument, outcome: argument % 3)
        case 4: self = .release(delivery: argument)
        case 5: self = .extend(delivery: argument)
        case 6: self = .expireAndReap(job: argument)
        case 7: self = .dueAndPromote(job: argument)
        case 8: self = .cancel(job: argument)
        case 9: self = .retryDead(job: argument)
        default: self = .replay(step: argument)
        }
    }

    var description: String {
        switch self {
        case .enqueue(let job): "enqueue(job \(job))"
        case .fetch(let limit): "fetch(\(limit))"
        case .ack(let delivery): "ack(delivery \(delivery))"
        case .fail(let delivery, let outcome): "fail(delivery \(delivery), \(["ready", "delayed", "dead"][outcome]))"
        case .release(let delivery): "release(delivery \(delivery))"
        case .extend(let delivery): "extend(delivery \(delivery))"
        case .expireAndReap(let job): "expireAndReap(job \(job))"
        case .dueAndPromote(let job): "dueAndPromote(job \(job))"
        case .cancel(let job): "cancel(job \(job))"
        case .retryDead(let job): "retryDead(job \(job))"
        case .replay(let step): "replay(step \(step))"
        }
    }
}

/// The queue under test, what was done to it, and what that implies.
final class InvariantHarness {
    /// A job as the invariants read it off Redis.
    struct Snapshot: Equatable {
        var state: String?
        var attempt: Int
        var deliveries: Int
        var lease: String?
        /// Where the id is: ready (count of entries), delayed, leased, dead.
        var readyEntries: Int
        var inDelayed: Bool
        var inLeased: Bool
        var inDead: Bool
    }

    /// A call as it was sent, so that it can be sent again unchanged.
    enum Call {
        case enqueue(JobEnvelope)
        case fetch(limit: Int, token: String)
        case ack(JobLease)
        case fail(FailedAttempt)
        case release(JobLease)
        case extend(JobLease)
        case reap
        case promote
        case cancel(String)
        case retryDead(String)
    }

    let queue: JobQueue
    private let jobs: [JobEnvelope]
    private var deliveries: [JobLease] = []
    private var calls: [Call] = []
    private var expected: [String: Int] = [:]
    private var before: [String: Snapshot] = [:]

    private let fair: Bool

    /// A harness over `jobCount` jobs; in a `fair` queue they belong to two users, taking turns.
    init(jobCount: Int, fair: Bool = false) throws {
        queue = JobQueue(redis: try TestRedis.client(poolSize: 1), keys: QueueKeys(prefix: TestRedis.uniquePrefix("prop")),
                         fairnessFields: ["test.user": "user_id"])
        jobs = (0..<jobCount).map { index in
            JobEnvelope(type: "test.user", queue: "q", payload: .object(fair ? ["user_id": .string("u\(index % 2)")] : [:]), maxAttempts: 3)
        }
        self.fair = fair
    }

    func step(_ operation: Operation, number: Int) async throws {
        let call: Call?
        switch operation {
        case .enqueue(let job): call = .enqueue(jobs[job % jobs.count])
        case .fetch(let limit): call = .fetch(limit: limit, token: JobQueue.newToken())
        case .ack(let delivery): call = lease(delivery).map(Call.ack)
        case .fail(let delivery, let outcome):
            call = lease(delivery).map { Call.fail(FailedAttempt(lease: $0, error: "failed", retryAfter: [Duration.zero, .seconds(3600), nil][outcome])) }
        case .release(let delivery): call = lease(delivery).map(Call.release)
        case .extend(let delivery): call = lease(delivery).map(Call.extend)
        case .expireAndReap(let job):
            try await queue.redis.send("ZADD", queue.keys.leased("q"), "XX", 0, jobs[job % jobs.count].idString)
            call = .reap
        case .dueAndPromote(let job):
            try await queue.redis.send("ZADD", queue.keys.delayed("q"), "XX", 0, jobs[job % jobs.count].idString)
            call = .promote
        case .cancel(let job): call = .cancel(jobs[job % jobs.count].idString)
        case .retryDead(let job): call = .retryDead(jobs[job % jobs.count].idString)
        case .replay(let step): call = calls.isEmpty ? nil : calls[step % calls.count]
        }
        guard let call else { return }
        before = try await snapshots()
        let acting = try await send(call)
        calls.append(call)
        let after = try await snapshots()
        try await check(after, after: call, acting: acting, step: "step \(number): \(operation)")
        before = after
    }

    private func lease(_ delivery: Int) -> JobLease? {
        deliveries.isEmpty ? nil : deliveries[delivery % deliveries.count]
    }

    /// Sends the call; returns the lease it named, if any (the delivery that acted).
    private func send(_ call: Call) async throws -> JobLease? {
        switch call {
        case .enqueue(let job):
            try await queue.enqueue(job)
            return nil
        case .fetch(let limit, let token):
            let fetched = try await queue.fetch(queue: "q", limit: limit, lease: .seconds(3600), worker: "w", token: token)
            for job in fetched where !deliveries.contains(job.lease) { deliveries.append(job.lease) }
            return nil
        case .ack(let lease):
            try await queue.ack([lease])
            return lease
        case .fail(let attempt):
            try await queue.fail([attempt])
            return attempt.lease
        case .release(let lease):
            try await queue.release([lease])
            return lease
        case .extend(let lease):
            try await queue.extendLeases([lease], by: .seconds(3600))
            return lease
        case .reap:
            try await queue.reapExpiredLeases(queue: "q")
            return nil
        case .promote:
            try await queue.promoteDueJobs(queue: "q")
            return nil
        case .cancel(let id):
            _ = try await queue.cancel(id: id)
            return nil
        case .retryDead(let id):
            try await queue.retryDead(queue: "q", ids: [id])
            return nil
        }
    }

    private func snapshots() async throws -> [String: Snapshot] {
        var commands = jobs.map { RedisCommand("HMGET", arguments: [queue.keys.job($0.idString, in: "q"), "state", "attempt", "deliveries", "lease"]) }
        commands += [
            RedisCommand("LRANGE", queue.keys.ready("q"), 0, -1), RedisCommand("ZRANGE", queue.keys.delayed("q"), 0, -1),
            RedisCommand("ZRANGE", queue.keys.leased("q"), 0, -1), RedisCommand("ZRANGE", queue.keys.dead("q"), 0, -1),
        ]
        // A fair queue's ready ids wait in its keys' lists.
        if fair { commands += ["u0", "u1"].map { RedisCommand("LRANGE", queue.keys.keyList($0, in: "q"), 0, -1) } }
        let replies = try await queue.redis.pipeline(commands).map { try $0.get() }
        var lists = replies[jobs.count...].map { $0.array?.compactMap(\.string) ?? [] }
        if fair { lists[0] = lists[4] + lists[5] }
        var result: [String: Snapshot] = [:]
        for (index, job) in jobs.enumerated() {
            let fields = replies[index].array ?? []
            let id = job.idString
            result[id] = Snapshot(
                state: fields[0].string, attempt: fields[1].int ?? 0, deliveries: fields[2].int ?? 0, lease: fields[3].string,
                readyEntries: lists[0].filter { $0 == id }.count, inDelayed: lists[1].contains(id), inLeased: lists[2].contains(id), inDead: lists[3].contains(id)
            )
        }
        return result
    }

    private func check(_ after: [String: Snapshot], after call: Call, acting: JobLease?, step: String) async throws {
        for (id, job) in after {
            let old = before[id]
            // One state, one structure.
            switch job.state {
            case nil: #expect(job.readyEntries == 0 && !job.inDelayed && !job.inLeased && !job.inDead, "\(step): job without a hash is somewhere")
            case "ready": #expect(job.readyEntries == 1 && !job.inDelayed && !job.inLeased && !job.inDead, "\(step): ready job misplaced: \(job)")
            case "delayed": #expect(job.readyEntries == 0 && job.inDelayed && !job.inLeased && !job.inDead, "\(step): delayed job misplaced: \(job)")
            case "leased": #expect(job.readyEntries == 0 && !job.inDelayed && job.inLeased && !job.inDead, "\(step): leased job misplaced: \(job)")
            case "dead": #expect(job.readyEntries == 0 && !job.inDelayed && !job.inLeased && job.inDead, "\(step): dead job misplaced: \(job)")
            case "completed": #expect(job.readyEntries == 0 && !job.inDelayed && !job.inLeased && !job.inDead, "\(step): completed job misplaced: \(job)")
            case "cancelled": #expect(job.readyEntries <= 1 && !job.inDelayed && !job.inLeased && !job.inDead, "\(step): cancelled job misplaced: \(job)")
            default: Issue.record("\(step): unknown state \(job.state ?? "")")
            }
            // Only the current delivery acts.
            if let acting, acting.id == id, old?.state != "leased" || old?.lease != acting.token {
                #expect(job == old, "\(step): a call of delivery \(acting.token) that is not current changed the job: \(String(describing: old)) → \(job)")
            }
            // Attempts and deliveries never go down; an operator's retry resets attempts only.
            if let old {
                if case .retryDead(let retried) = call, retried == id, old.state == "dead" {
                    #expect(job.attempt == 0, "\(step): a retried dead job starts again at attempt 0")
                } else {
                    #expect(job.attempt >= old.attempt, "\(step): attempt went down \(old.attempt) → \(job.attempt)")
                }
                #expect(job.deliveries >= old.deliveries, "\(step): deliveries went down")
            }
            account(from: old, to: job, by: call)
        }
        if fair {
            for problem in try await fairStructureProblems(queue, "q") { Issue.record("\(step): \(problem)") }
        }
        try await requireCounters(step: step)
    }

    /// Adds the counters the transition of one job implies.
    private func account(from old: Snapshot?, to job: Snapshot, by call: Call) {
        let was = old?.state
        guard was != job.state || old?.attempt != job.attempt || old?.deliveries != job.deliveries else { return }
        if was == nil && job.state != nil { expected["enqueued", default: 0] += 1 }
        if job.state == "completed" && was == "leased" { expected["completed", default: 0] += 1 }
        if job.state == "cancelled" && was != "cancelled" { expected["cancelled", default: 0] += 1 }
        if job.state == "dead" && was != "dead" { expected["dead", default: 0] += 1 }
        let failedAttempt: Bool = {
            switch call {
            // A running job whose cancellation was asked ends cancelled instead: no failed attempt.
            case .fail, .reap: was == "leased" && job.state != "leased" && job.state != "cancelled"
            default: false
            }
        }()
        if failedAttempt {
            expected["failed", default: 0] += 1
            if job.state != "dead" { expected["retried", default: 0] += 1 }
        }
    }

    private func requireCounters(step: String) async throws {
        let pairs = try await queue.redis.send("HGETALL", queue.keys.counters("q")).array ?? []
        var counters: [String: Int] = [:]
        for index in stride(from: 0, to: pairs.count - 1, by: 2) {
            if let name = pairs[index].string { counters[name] = pairs[index + 1].int ?? 0 }
        }
        for name in ["enqueued", "completed", "failed", "retried", "dead", "cancelled"] {
            #expect(counters[name, default: 0] == expected[name, default: 0], "\(step): counter \(name) is \(counters[name, default: 0]), transitions made \(expected[name, default: 0])")
        }
    }
}
