import Foundation
import Synchronization
public import Logging
public import PhoenixRedis
public import PhoenixJobsCore

/// The queue engine: every job state transition, each one Lua script run atomically by Redis.
///
/// Lifecycle: enqueue → ready (or delayed) → fetch leases it → ack completes it, or fail retries it
/// (delayed) or buries it (dead); an expired lease is reaped back to ready. Batch calls move many jobs per
/// round trip. docs/ARCHITECTURE.md has the state diagram and the key layout.
public final class JobQueue: Sendable {
    /// The Redis client the engine talks through.
    public let redis: RedisClient
    /// The key layout.
    public let keys: QueueKeys
    /// How long completed and cancelled jobs stay readable.
    public let retention: Duration
    /// How long an idempotency key keeps pointing at its first job, counted from its due time. Seven days by
    /// default: longer than Stripe's three days of webhook retries.
    public let idempotencyRetention: Duration
    /// How many replicas must acknowledge an enqueue before it answers; `nil` to answer once the master has
    /// the jobs.
    public let enqueueAcknowledgement: ReplicaAcknowledgement?
    /// The payload field holding each job type's fairness key (its user, for user job types): the key jobs
    /// take turns by in a fair queue (``FlowSettings``). A type not named, or a job without the field, has none.
    public let fairnessFields: [String: String]
    private let logger: Logger
    /// When this process last added each queue it enqueued to to the set of queues.
    private let registeredQueues = Mutex<[String: ContinuousClock.Instant]>([:])

    /// Most jobs moved by one script call: keeps each call short, since Redis runs scripts one at a time.
    static let scriptBatchSize = 500

    /// An engine over `redis` with keys under `keys.prefix`.
    public init(
        redis: RedisClient,
        keys: QueueKeys = QueueKeys(),
        retention: Duration = .seconds(24 * 3600),
        idempotencyRetention: Duration = .seconds(7 * 24 * 3600),
        enqueueAcknowledgement: ReplicaAcknowledgement? = nil,
        fairnessFields: [String: String] = [:],
        logger: Logger = Logger(label: "phoenix.queue")
    ) {
        self.redis = redis
        self.fairnessFields = fairnessFields
        self.enqueueAcknowledgement = enqueueAcknowledgement
        self.keys = keys
        self.retention = retention
        self.idempotencyRetention = idempotencyRetention
        self.logger = logger
    }

    // MARK: - Enqueue

    /// Enqueues one job; returns its id, or the first job's id for a repeated idempotency key.
    @discardableResult
    public func enqueue(_ job: JobEnvelope) async throws(QueueError) -> EnqueueResult {
        try await enqueue([job])[0]
    }

    /// Enqueues many jobs, a partition's jobs in one script call when they are at most ``enqueueCallSize``, else
    /// in calls that start at ``firstEnqueueCallSize`` and double up to ``enqueueCallSize``; results are in input
    /// order. Every job is validated before any is stored. A partition's calls go out in order on one connection,
    /// each written while Redis runs the ones before (``RedisClient/runInOrder(_:making:)``), so that the jobs of
    /// a queue line up in input order and Redis runs the calls back to back. A call that fails does not stop the
    /// calls sent after it: their jobs are stored, and the first failure is thrown once every call has answered
    /// (sending the same jobs again adds them once). With replica acknowledgement the calls go one at a time,
    /// each followed by its `WAIT`.
    @discardableResult
    public func enqueue(_ jobs: [JobEnvelope]) async throws(QueueError) -> [EnqueueResult] {
        for job in jobs {
            do { try job.validate() } catch { throw .invalidJob(id: error.id, reason: error.reason) }
        }
        let byPartition = Dictionary(grouping: jobs.indices) { partition(of: jobs[$0]) }
        for partition in byPartition.keys { try await register(queue: partition.queue) }
        if byPartition.count == 1, let (partition, indices) = byPartition.first, indices.count <= Self.enqueueCallSize {
            // One call (a single job, most often).
            let call = enqueueCall(partition, jobs: indices.map { jobs[$0] })
            return try Self.enqueued(call.ids, reply: try await runEnqueue(call.call))
        }
        var results = [EnqueueResult?](repeating: nil, count: jobs.count)
        var failure: QueueError?
        for (partition, indices) in byPartition {
            let chunks = indices.chunked(growingFrom: Self.firstEnqueueCallSize, to: Self.enqueueCallSize)
            // One reply per chunk, whether or not its call was ever made (a client that cannot send fails them all).
            let replies = await runEnqueueCalls(chunks.count) { index in
                enqueueCall(partition, jobs: chunks[index].map { jobs[$0] }).call
            }
            for (chunk, reply) in zip(chunks, replies) {
                do throws(QueueError) {
                    let answered = try Self.enqueued(chunk.map { jobs[$0].id }, reply: try reply.get())
                    for (index, result) in zip(chunk, answered) { results[index] = result }
                } catch {
                    failure = failure ?? error
                }
            }
        }
        if let failure { throw failure }
        return results.compactMap { $0 }
    }

    /// Most jobs one enqueue call carries: a coalesced batch stays within one call (``EnqueueCoalescer``), and
    /// a larger batch's calls grow to it from ``firstEnqueueCallSize``. Calls of 100 measured faster than calls
    /// of 250 and no slower than calls of 50 (docs/BENCHMARKS.md), and hold Redis's other clients up less.
    static let enqueueCallSize = 100

    /// Jobs in the first call of a batch of more than ``enqueueCallSize``: each next call doubles, up to
    /// ``enqueueCallSize``. Redis runs a job's enqueue in about twice the time the caller takes to write it,
    /// so each call is written while Redis runs the one before, and Redis waits only for the first, small one.
    static let firstEnqueueCallSize = 8

    /// One enqueue script call, written out ahead of sending, and the ids of the jobs it carries.
    private struct EnqueueCall: Sendable {
        var call: RedisScriptCall
        var ids: [UUID]
    }

    /// The enqueue script call of `jobs`, all of `partition`: plain jobs of one type and maxAttempts in a row
    /// share one group header, a job with options has one of its own (``QueueScripts/enqueue``).
    private func enqueueCall(_ partition: QueuePartition, jobs: [JobEnvelope]) -> EnqueueCall {
        let queue = partition.queue
        var arguments: [any RedisArgumentConvertible] = [keys.base(queue, partition: partition.index), queue, idempotencyRetention.wholeSeconds]
        arguments.reserveCapacity(3 + jobs.count * 2 + 4)
        var declared = declaredKeys(partition)
        declared.reserveCapacity(declared.count + jobs.count)
        // Where the open group's job count goes, and what its jobs share; nil while none is open.
        var group: (countIndex: Int, count: Int, type: String, maxAttempts: Int, plain: Bool)?
        for job in jobs {
            let id = job.idString
            declared.append(keys.job(id, in: queue, partition: partition.index))
            if let key = job.idempotencyKey { declared.append(keys.idempotency(key, in: queue, partition: partition.index)) }
            let fairKey = fairnessKey(of: job)
            let plain = job.runAt == nil && job.priority == 0 && job.idempotencyKey == nil && fairKey == nil
            if let open = group, plain, open.plain, open.type == job.type, open.maxAttempts == job.maxAttempts {
                group?.count += 1
            } else {
                if let open = group { arguments[open.countIndex] = open.count }
                group = (arguments.count, 1, job.type, job.maxAttempts, plain)
                // One append each: an array literal would be allocated per group.
                arguments.append(1)
                arguments.append(job.type)
                arguments.append(job.maxAttempts)
                if plain {
                    arguments.append("")
                } else {
                    arguments.append("+")
                    arguments.append(job.runAt.map { Int64($0.timeIntervalSince1970 * 1000) } ?? 0)
                    arguments.append(job.priority)
                    arguments.append(job.idempotencyKey ?? "")
                    arguments.append(fairKey ?? "")
                }
            }
            arguments.append(id)
            arguments.append(job.serializedJSON)
        }
        if let open = group { arguments[open.countIndex] = open.count }
        return EnqueueCall(call: QueueScripts.enqueue.call(keys: declared, arguments: arguments), ids: jobs.map(\.id))
    }

    /// Per job of an enqueue call (`ids`), from the call's reply: whether it was created and the id it has
    /// (the first job's, for a repeated idempotency key).
    private static func enqueued(_ ids: [UUID], reply: RedisValue) throws(QueueError) -> [EnqueueResult] {
        let answers = try elements(of: reply, script: "enqueue")
        guard answers.count == ids.count else {
            throw .unexpectedReply(script: "enqueue", detail: "\(answers.count) answers for \(ids.count) jobs")
        }
        return try zip(ids, answers).map { (id: UUID, answer: RedisValue) throws(QueueError) -> EnqueueResult in
            switch answer {
            case .integer(1): return EnqueueResult(id: id, created: true)
            case .integer(0): return EnqueueResult(id: id, created: false)
            default:
                guard let first = answer.string.flatMap(UUIDText.parse) else {
                    throw .unexpectedReply(script: "enqueue", detail: "answer \(answer) for job \(UUIDText.lowercase(id))")
                }
                return EnqueueResult(id: first, created: false)
            }
        }
    }

    // MARK: - Fetch and finish

    /// Leases up to `limit` (at most 500) ready jobs of `queue` to `worker` for `lease`; empty when the queue
    /// is empty or paused. A job whose stored envelope does not decode goes to the dead set with the reason.
    ///
    /// `token` names this call and becomes each delivery's lease token. A call that failed without an answer
    /// (the reply was lost, a timeout) may still have leased jobs: calling again with the same token returns
    /// those jobs (the ones the token still holds) and leases no others, for one lease period.
    ///
    /// A queue of several partitions is fetched from one partition at a time, starting at one the token picks
    /// (so that workers spread over the partitions, and a repeated call asks the same one first) and going on
    /// to the next while they are empty.
    public func fetch(queue: String, limit: Int, lease: Duration, worker: String, token: String = JobQueue.newToken()) async throws(QueueError) -> [LeasedJob] {
        try await fetchJobs(queue: queue, limit: limit, lease: lease, worker: worker, token: token).jobs
    }

    /// ``fetch(queue:limit:lease:worker:token:)``, telling also, when no job came because the queue's rate limit
    /// lets none start yet, how long until one may: a worker comes back then instead of waiting for a signal.
    public func fetchJobs(queue: String, limit: Int, lease: Duration, worker: String, token: String = JobQueue.newToken()) async throws(QueueError) -> FetchedJobs {
        let count = keys.partitionCount(queue)
        let first = count > 1 ? keys.partition(placedBy: token, in: queue) : 0
        var wait: Duration?
        for step in 0..<count {
            let partition = QueuePartition(queue, (first + step) % count)
            switch try await fetch(from: partition, limit: limit, lease: lease, worker: worker, token: token) {
            case .paused: return FetchedJobs(jobs: [])
            case .rateLimited(let retryAfter): wait = min(wait ?? retryAfter, retryAfter)
            case .leased(let jobs) where !jobs.isEmpty: return FetchedJobs(jobs: jobs)
            case .leased: continue
            }
        }
        return FetchedJobs(jobs: [], rateLimitedFor: wait)
    }

    /// What one fetch call got from one partition.
    private enum PartitionFetch {
        case paused
        case rateLimited(Duration)
        case leased([LeasedJob])
    }

    /// The jobs one fetch call leased from one partition, or why none.
    private func fetch(from partition: QueuePartition, limit: Int, lease: Duration, worker: String, token: String) async throws(QueueError) -> PartitionFetch {
        let queue = partition.queue
        let count = min(max(1, limit), Self.scriptBatchSize)
        let record = "\(keys.base(queue, partition: partition.index)):fetch:\(token)"
        let reply = try await run(QueueScripts.fetch, partition, extraKeys: [record], [count, lease.wholeMilliseconds, worker, token, retention.wholeSeconds])
        let values = try Self.elements(of: reply, script: "fetch")
        switch values.first?.string {
        case "ok": break
        case "limited": return .rateLimited(.milliseconds(values.dropFirst().first?.int ?? 1000))
        default: return .paused
        }
        var jobs: [LeasedJob] = []
        var malformed: [FailedAttempt] = []
        for start in stride(from: 1, to: values.count - 3, by: 4) {
            guard let id = values[start].string, let attempt = values[start + 2].int, let delivery = values[start + 3].int,
                  case .bulk(let bytes) = values[start + 1]
            else {
                throw .unexpectedReply(script: "fetch", detail: "job entry \(values[start...(start + 3)])")
            }
            let lease = JobLease(id: id, queue: queue, token: token, partition: partition.index)
            do {
                var envelope = try JobEnvelope(json: bytes)
                guard UUIDText.parse(id) == envelope.id else {
                    throw Malformed("envelope id \(envelope.idString) does not match its job key \(id)")
                }
                guard envelope.queue == queue else {
                    throw Malformed("envelope queue '\(envelope.queue)' does not match queue '\(queue)'")
                }
                envelope.attempt = attempt
                jobs.append(LeasedJob(envelope: envelope, lease: lease, delivery: delivery))
            } catch {
                let reason = "\(error)"
                logger.error("Malformed job moved to the dead set", metadata: ["job": "\(id)", "queue": "\(queue)", "reason": "\(reason)"])
                malformed.append(FailedAttempt(lease: lease, error: "malformed envelope: \(reason)", retryAfter: nil))
            }
        }
        if !malformed.isEmpty { _ = try await fail(malformed) }
        return .leased(jobs)
    }

    /// A new fetch token: 128 random bits as hex, unique to one fetch call.
    public static func newToken() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<2).map { _ in
            let hex = String(generator.next() as UInt64, radix: 16)
            return String(repeating: "0", count: 16 - hex.count) + hex
        }.joined()
    }

    /// Completes jobs; returns, per lease, whether it was still held (a lost lease changes nothing).
    @discardableResult
    public func ack(_ leases: [JobLease]) async throws(QueueError) -> [Bool] {
        try await perPartition(leases, by: \.self, script: QueueScripts.ack, leading: { [retention.wholeSeconds] }) {
            [$0.id, $0.token]
        }.map { $0.int == 1 }
    }

    /// Records failed attempts: each job is retried after its delay or buried in the dead set.
    @discardableResult
    public func fail(_ attempts: [FailedAttempt]) async throws(QueueError) -> [FailureOutcome] {
        try await perPartition(attempts, by: \.lease, script: QueueScripts.fail, leading: { [] }) { attempt in
            [attempt.lease.id, attempt.lease.token, attempt.retryAfter.map(\.wholeMilliseconds) ?? -1, attempt.error]
        }.map { FailureOutcome(rawValue: $0.string ?? "") ?? .stale }
    }

    /// Pushes the lease deadlines of running jobs `lease` into the future; says, per lease, whether it was
    /// still held, and whether the job's cancellation was asked meanwhile.
    @discardableResult
    public func extendLeases(_ leases: [JobLease], by lease: Duration) async throws(QueueError) -> [LeaseRenewal] {
        try await perPartition(leases, by: \.self, script: QueueScripts.extend, leading: { [lease.wholeMilliseconds] }) {
            [$0.id, $0.token]
        }.map { reply in
            switch reply.int {
            case 1: .extended
            case 2: .cancelRequested
            default: .lost
            }
        }
    }

    /// Hands leased jobs that will not run back, without counting the attempt: to the front of their ready
    /// list, or after `delay` (a job type this worker does not know, waiting for a newer worker). Returns how
    /// many were still held and went back.
    @discardableResult
    public func release(_ leases: [JobLease], after delay: Duration = .zero) async throws(QueueError) -> Int {
        var released = 0
        for (partition, group) in Dictionary(grouping: leases, by: QueuePartition.init(of:)) {
            for chunk in group.chunked(into: Self.scriptBatchSize) {
                let arguments: [any RedisArgumentConvertible] = [delay.wholeMilliseconds] + chunk.flatMap { [$0.id, $0.token] as [any RedisArgumentConvertible] }
                released += try await run(QueueScripts.release, partition, jobs: chunk.map(\.id), arguments).int ?? 0
            }
        }
        return released
    }

    // MARK: - Maintenance (run by every worker, safe in parallel)

    /// Moves due delayed jobs of `queue` (up to `limit` per partition) to ready; returns how many moved.
    @discardableResult
    public func promoteDueJobs(queue: String, limit: Int = 1000) async throws(QueueError) -> Int {
        var promoted = 0
        for partition in partitions(of: queue) { promoted += try await run(QueueScripts.promote, partition, [limit]).int ?? 0 }
        return promoted
    }

    /// Returns jobs of `queue` whose lease expired (up to `limit` per partition) to ready, or the dead set when
    /// out of attempts.
    @discardableResult
    public func reapExpiredLeases(queue: String, limit: Int = 1000) async throws(QueueError) -> (requeued: Int, buried: Int) {
        var requeued = 0, buried = 0
        for partition in partitions(of: queue) {
            let counts = try Self.elements(of: try await run(QueueScripts.reap, partition, [limit]), script: "reap")
            requeued += counts.first?.int ?? 0
            buried += counts.dropFirst().first?.int ?? 0
        }
        return (requeued, buried)
    }

    /// Blocks (on a connection of its own) until one of `queues` signals ready jobs or `timeout` passes;
    /// returns the queue that signalled. Idle workers call this instead of polling.
    public func waitForJobs(queues: [String], timeout: Duration) async throws(QueueError) -> String? {
        guard !queues.isEmpty else { return nil }
        let signals = queues.flatMap { queue in partitions(of: queue).map { (queue, keys.signal(queue, partition: $0.index)) } }
        return try await waitForSignal(on: signals, timeout: timeout)
    }

    /// Blocks on the signal keys `signals` (each with the queue it belongs to) until one is pushed or `timeout`
    /// passes. One BLPOP takes keys of one slot only on a cluster: keys in several slots are waited on at once,
    /// one BLPOP each (``waitForFirst(of:timeout:)``).
    private func waitForSignal(on signals: [(queue: String, key: String)], timeout: Duration) async throws(QueueError) -> String? {
        if redis.isCluster, Set(signals.map { RedisClusterSlot.of($0.key) }).count > 1 {
            return try await waitForFirst(of: signals, timeout: timeout)
        }
        let reply: RedisValue
        do { reply = try await redis.sendBlocking(Self.blpop(signals.map(\.key), timeout: timeout), timeout: timeout) } catch { throw .redis(error) }
        guard let key = reply.array?.first?.string else { return nil }
        return signals.first { $0.key == key }?.queue
    }

    /// One BLPOP per signal key; the first to take a token ends the others on the server, and a token one of
    /// them took as well is given back, so that no wake-up is lost to a wait that was over (one left blocking
    /// would take the next token, and a closed connection's BLPOP can still be served before the server sees
    /// it closed).
    private func waitForFirst(of signals: [(queue: String, key: String)], timeout: Duration) async throws(QueueError) -> String? {
        let replies = await redis.sendBlockingUntilFirstAnswer(signals.map { Self.blpop([$0.key], timeout: timeout) }, timeout: timeout)
        var woken: String?
        var failure: RedisError?
        for (signal, reply) in zip(signals, replies) {
            switch reply {
            case .success(let value) where !value.isNull:
                if woken == nil { woken = signal.queue } else { await raiseSignal(signal.key) }
            case .success: break
            case .failure(let error): failure = failure ?? error
            }
        }
        if let woken { return woken }
        if let failure { throw .redis(failure) }
        return nil
    }

    /// `BLPOP keys… timeout` (seconds, at least a millisecond).
    private static func blpop(_ keys: [String], timeout: Duration) -> RedisCommand {
        RedisCommand("BLPOP", arguments: keys + [String(format: "%.3f", max(0.001, Double(timeout.wholeMilliseconds) / 1000))])
    }

    /// Puts a signal token back (as the scripts' `signal()` does: at most one in the list). Best effort: a token
    /// that cannot be given back costs an idle worker at most its idle wait, after which it looks anyway.
    private func raiseSignal(_ key: String) async {
        _ = try? await redis.pipeline([RedisCommand("LPUSH", key, "1"), RedisCommand("LTRIM", key, 0, 0)])
    }

    // MARK: - Helpers

    /// Runs `count` enqueue calls of one partition, made by `make`, in order (``enqueue(_:)``); each call's reply
    /// or error.
    private func runEnqueueCalls(_ count: Int, making make: (Int) -> RedisScriptCall) async -> [Result<RedisValue, QueueError>] {
        guard enqueueAcknowledgement != nil else {
            do {
                return try await redis.runInOrder(count, making: make).map { $0.mapError { .redis($0) } }
            } catch {
                return Array(repeating: .failure(.redis(error)), count: count)
            }
        }
        var replies: [Result<RedisValue, QueueError>] = []
        for index in 0..<count {
            do throws(QueueError) { replies.append(.success(try await runEnqueue(make(index)))) } catch { replies.append(.failure(error)) }
        }
        return replies
    }

    /// The enqueue script, followed by `WAIT` on its connection when replicas must acknowledge it.
    private func runEnqueue(_ call: RedisScriptCall) async throws(QueueError) -> RedisValue {
        let outcome: (reply: RedisValue, acknowledgedBy: Int)
        guard let required = enqueueAcknowledgement else {
            do { return try await redis.run(call) } catch { throw .redis(error) }
        }
        do {
            outcome = try await redis.runAcknowledged(call, replicas: required.replicas, timeout: required.timeout)
        } catch {
            throw .redis(error)
        }
        guard outcome.acknowledgedBy >= required.replicas else {
            throw .notReplicated(acknowledgedBy: outcome.acknowledgedBy, required: required.replicas)
        }
        return outcome.reply
    }

    /// Adds `queue` to the set of queues (``QueueKeys/queues``), which lies outside every queue's slot and so
    /// outside the enqueue script. Once per queue and ``queueRegistrationPeriod`` per process, so that a set lost
    /// with a flushed or failed-over Redis fills up again.
    private func register(queue: String) async throws(QueueError) {
        let now = ContinuousClock.now
        let due = registeredQueues.withLock { registered in
            guard let last = registered[queue], now - last < Self.queueRegistrationPeriod else {
                registered[queue] = now
                return true
            }
            return false
        }
        guard due else { return }
        do {
            try await redis.send("SADD", keys.queues, queue)
        } catch {
            registeredQueues.withLock { _ = $0.removeValue(forKey: queue) }
            throw .redis(error)
        }
    }

    /// How often one process adds a queue it enqueues to to the set of queues again.
    static let queueRegistrationPeriod = Duration.seconds(60)

    /// The partition `job` is enqueued to: picked by its fairness key (so a key's jobs, and its concurrency
    /// limit, live in one partition), else its idempotency key, else its id.
    func partition(of job: JobEnvelope) -> QueuePartition {
        // A queue of one partition: no placement to work out.
        guard keys.partitionCount(job.queue) > 1 else { return QueuePartition(job.queue, 0) }
        return QueuePartition(job.queue, keys.partition(placedBy: fairnessKey(of: job) ?? job.idempotencyKey ?? job.idString, in: job.queue))
    }

    /// The partitions of `queue`.
    func partitions(of queue: String) -> [QueuePartition] {
        (0..<keys.partitionCount(queue)).map { QueuePartition(queue, $0) }
    }

    /// The keys a script of one partition declares in KEYS: the partition's own keys (every one a queue
    /// script may touch, see ``QueueKeys``), the hashes of the jobs `ids`, and `extra`. All carry the
    /// partition's hash tag.
    func declaredKeys(_ partition: QueuePartition, jobs ids: some Sequence<String> = [String](), extra: [String] = []) -> [String] {
        let (queue, index) = (partition.queue, partition.index)
        return [
            keys.ready(queue, partition: index), keys.delayed(queue, partition: index), keys.leased(queue, partition: index),
            keys.dead(queue, partition: index), keys.paused(queue, partition: index), keys.signal(queue, partition: index),
            keys.counters(queue, partition: index), keys.flow(queue, partition: index), keys.turns(queue, partition: index),
            keys.parked(queue, partition: index), keys.running(queue, partition: index), keys.weights(queue, partition: index),
            keys.served(queue, partition: index),
        ] + ids.map { keys.job($0, in: queue, partition: index) } + extra
    }

    /// Runs a script on one partition (ARGV: the partition's key base and the queue's name, then `arguments`),
    /// declaring the partition's keys, the hashes of the jobs `ids` and `extraKeys`.
    func run(
        _ script: RedisScript, _ partition: QueuePartition, jobs ids: some Sequence<String> = [String](), extraKeys: [String] = [],
        _ arguments: [any RedisArgumentConvertible]
    ) async throws(QueueError) -> RedisValue {
        let base = keys.base(partition.queue, partition: partition.index)
        return try await run(script, keys: declaredKeys(partition, jobs: ids, extra: extraKeys), [base, partition.queue] + arguments)
    }

    /// Runs a script with the keys it declares and its whole ARGV.
    func run(_ script: RedisScript, keys declared: [String], _ arguments: [any RedisArgumentConvertible]) async throws(QueueError) -> RedisValue {
        do { return try await redis.run(script, keys: declared, arguments: arguments) } catch { throw .redis(error) }
    }

    /// Runs `script` per partition and per batch over `items` (each with the lease it names), returning one reply
    /// element per item, in order.
    private func perPartition<Item>(
        _ items: [Item],
        by leaseOf: (Item) -> JobLease,
        script: RedisScript,
        leading: () -> [any RedisArgumentConvertible],
        arguments: (Item) -> [any RedisArgumentConvertible]
    ) async throws(QueueError) -> [RedisValue] {
        var results = [RedisValue](repeating: .null, count: items.count)
        for (partition, indices) in Dictionary(grouping: items.indices, by: { QueuePartition(of: leaseOf(items[$0])) }) {
            for chunk in indices.chunked(into: Self.scriptBatchSize) {
                let reply = try await run(script, partition, jobs: chunk.map { leaseOf(items[$0]).id }, leading() + chunk.flatMap { arguments(items[$0]) })
                let values = try Self.elements(of: reply, script: script.name)
                guard values.count == chunk.count else {
                    throw .unexpectedReply(script: script.name, detail: "\(values.count) results for \(chunk.count) jobs")
                }
                for (value, index) in zip(values, chunk) { results[index] = value }
            }
        }
        return results
    }

    static func elements(of reply: RedisValue, script: String) throws(QueueError) -> [RedisValue] {
        guard let values = reply.array else { throw .unexpectedReply(script: script, detail: "expected an array, got \(reply)") }
        return values
    }

    private struct Malformed: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }
}

extension Duration {
    var wholeMilliseconds: Int64 { max(0, milliseconds) }
    var wholeSeconds: Int64 { max(1, components.seconds) }
}

extension Array {
    /// Consecutive slices of at most `size` elements.
    func chunked(into size: Int) -> [ArraySlice<Element>] {
        stride(from: 0, to: count, by: size).map { self[$0..<Swift.min($0 + size, count)] }
    }

    /// Consecutive slices, the first of at most `first` elements and each next one twice the one before, up to
    /// `size`.
    func chunked(growingFrom first: Int, to size: Int) -> [ArraySlice<Element>] {
        var slices: [ArraySlice<Element>] = []
        var (start, length) = (0, Swift.max(1, Swift.min(first, size)))
        while start < count {
            slices.append(self[start..<Swift.min(start + length, count)])
            start += length
            length = Swift.min(length * 2, size)
        }
        return slices
    }
}

/// One partition of a queue: the unit a queue script acts on (a queue of one partition is its partition 0).
struct QueuePartition: Hashable, Sendable {
    let queue: String
    let index: Int

    init(_ queue: String, _ index: Int) {
        self.queue = queue
        self.index = index
    }

    /// The partition a lease's job is stored in.
    init(of lease: JobLease) {
        self.init(lease.queue, lease.partition)
    }
}
