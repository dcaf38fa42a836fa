import ArgumentParser
import Foundation
import LocalServers
import PhoenixJobsCore
import PhoenixPlatform
import PhoenixQueue
import PhoenixRedis
import PhoenixWorker

/// `phoenix bench-fairness`: how long one user's job waits behind another user's backlog, with fair share
/// off and on, with a real `phoenix work` process.
///
/// For each mode, under a key prefix of its own: user A's backlog of `diagnostic.sleep` jobs is enqueued while
/// the queue is paused, one worker process starts and the queue resumes; once the worker has been busy for a
/// second, user B enqueues one job of the same kind, and the command reads (Redis time) how long it waited
/// before a worker took it. Without fair share B's job waits behind every job of A's still queued, so its wait
/// is bounded by `--give-up` and reported as at least that.
struct FairnessBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-fairness",
        abstract: "Measure how long one user's job waits behind another user's backlog, with fair share off and on."
    )

    @Option(name: .long, help: "Jobs of user A enqueued first.")
    var backlog: Int = 10_000

    @Option(name: .long, help: "How long each job's handler runs (diagnostic.sleep), in ms.")
    var handlerMs: Int = 100

    @Option(name: .long, help: "Concurrency of the worker process.")
    var concurrency: Int = 10

    @Option(name: .long, help: "Seconds to wait for user B's job to start before giving up on it.")
    var giveUp: Int = 30

    func validate() throws {
        try Bench.check([("--backlog", backlog, 1...1_000_000), ("--handler-ms", handlerMs, 0...60_000), ("--concurrency", concurrency, 1...10_000), ("--give-up", giveUp, 1...3600)])
    }

    func run() async throws {
        var rows = ["fair share  user B's job waited            user A's jobs done by then"]
        for fair in [false, true] {
            try await Bench.withEnvironment(quiet: true) { environment, logs in
                let (wait, done) = try await measure(fairShare: fair, environment: environment, logs: logs)
                let waited = wait.map { String(format: "%.3f s", $0) } ?? "over \(giveUp) s (still waiting)"
                rows.append("\((fair ? "on" : "off").padding(toLength: 12, withPad: " ", startingAt: 0))\(waited.padding(toLength: 32, withPad: " ", startingAt: 0))\(done) of \(backlog)")
                return "fair share \(fair ? "on" : "off"): measured"
            }
        }
        say("\(backlog) jobs of user A, then 1 of user B; handlers of \(handlerMs) ms; 1 worker × \(concurrency)")
        say(rows.joined(separator: "\n"))
    }

    /// User B's wait in seconds (`nil` when it had not started within `--give-up`), and how many of A's jobs
    /// had completed when B's started (or when the run gave up).
    private func measure(fairShare: Bool, environment: [String: String], logs: URL) async throws -> (Double?, Int) {
        let settings = Settings(environment: environment)
        let queue = try makeQueue(settings, fairnessFields: [DiagnosticJobs.Sleep.name: "user_id"])
        defer { queue.redis.shutdown() }
        let name = WorkerType.diagnostics.queue
        let sleep = { (user: String) in
            JobEnvelope(type: DiagnosticJobs.Sleep.name, queue: name, payload: .object(["ms": .number(Double(handlerMs)), "user_id": .string(user)]))
        }
        try await queue.configureFlow(queue: name, fairShare: fairShare)
        try await queue.pause(queue: name)
        for start in stride(from: 0, to: backlog, by: 1000) {
            _ = try await queue.enqueue((start..<min(start + 1000, backlog)).map { _ in sleep("user-a") })
        }
        let workers = try await Bench.startWorkers(1, concurrency: concurrency, environment: environment, logs: logs, queue: queue)
        defer { workers.forEach { $0.send(SIGKILL) } }
        _ = try await queue.resume(queue: name)
        try await Task.sleep(for: .seconds(1))

        let late = sleep("user-b")
        try await queue.enqueue(late)
        let deadline = ContinuousClock.now + .seconds(giveUp)
        var wait: Double?
        while ContinuousClock.now < deadline {
            if let record = try await queue.job(id: late.idString), let started = record.startedAt, let envelope = record.envelope {
                wait = max(0, started.timeIntervalSince(envelope.enqueuedAt))
                break
            }
            try await Task.sleep(for: .milliseconds(10))
        }
        let done = try await queue.stats(queue: name).completed
        for worker in workers {
            worker.send(SIGTERM)
            _ = await worker.exited()
        }
        try await Bench.deleteKeys(prefix: queue.keys.prefix, redis: queue.redis)
        return (wait, done)
    }
}
