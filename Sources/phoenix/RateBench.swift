import ArgumentParser
import Foundation
import LocalServers
import PhoenixJobsCore
import PhoenixPlatform
import PhoenixQueue
import PhoenixRedis
import PhoenixWorker

/// `phoenix bench-rate`: how closely a queue's rate limit holds across several real `phoenix work` processes.
///
/// Under a key prefix of its own it sets the `diagnostics` queue's rate limit, enqueues twice the jobs the
/// limit allows in the window while the queue is paused, starts the workers, resumes the queue, and after
/// `--seconds` counts the jobs that started (completed or running): the observed rate against the limit.
struct RateBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-rate",
        abstract: "Measure the jobs started per minute under a queue's rate limit, with several worker processes."
    )

    @Option(name: .long, help: "The queue's rate limit, in jobs started per minute.")
    var rpm: Int = 600

    @Option(name: .long, help: "Worker processes.")
    var workers: Int = 4

    @Option(name: .long, help: "Concurrency of each worker process.")
    var concurrency: Int = 10

    @Option(name: .long, help: "How long to count, in seconds.")
    var seconds: Int = 120

    func validate() throws {
        try Bench.check([("--rpm", rpm, 1...100_000), ("--workers", workers, 1...64), ("--concurrency", concurrency, 1...10_000), ("--seconds", seconds, 1...3600)])
    }

    func run() async throws {
        try await Bench.withEnvironment(quiet: true) { environment, logs in
            let started = try await measure(environment: environment, logs: logs)
            let burst = max(1, rpm / 60)
            let allowed = Double(rpm) * Double(seconds) / 60 + Double(burst)
            let observed = Double(started) / Double(seconds) * 60
            return """
            rate limit \(rpm)/min, \(workers) workers × \(concurrency), \(seconds) s
            jobs started: \(started) (the limit allows \(Int(allowed)): \(seconds) s at \(rpm)/min plus a burst of \(burst))
            observed rate: \(String(format: "%.1f", observed))/min, \(String(format: "%.3f", Double(started) / allowed)) of what the limit allows
            """
        }
    }

    /// How many jobs started within `--seconds` of resuming the queue.
    private func measure(environment: [String: String], logs: URL) async throws -> Int {
        let settings = Settings(environment: environment)
        let queue = try makeQueue(settings)
        defer { queue.redis.shutdown() }
        let name = WorkerType.diagnostics.queue
        try await queue.configureFlow(queue: name, requestsPerMinute: .atMost(rpm))
        try await queue.pause(queue: name)
        let jobs = max(100, rpm * seconds / 30)
        for start in stride(from: 0, to: jobs, by: 1000) {
            _ = try await queue.enqueue((start..<min(start + 1000, jobs)).map { _ in JobEnvelope(type: DiagnosticJobs.Noop.name, queue: name) })
        }
        let processes = try await Bench.startWorkers(workers, concurrency: concurrency, environment: environment, logs: logs, queue: queue)
        defer {
            for process in processes { process.send(SIGKILL) }
        }
        _ = try await queue.resume(queue: name)
        try await Task.sleep(for: .seconds(seconds))
        try await queue.pause(queue: name)
        let stats = try await queue.stats(queue: name)
        for process in processes { process.send(SIGTERM) }
        for process in processes { _ = await process.exited() }
        try await Bench.deleteKeys(prefix: queue.keys.prefix, redis: queue.redis)
        return stats.completed + stats.leased
    }
}
