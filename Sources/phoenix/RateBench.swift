import ArgumentParser
import EnvironmentVariables
import Foundation
import LetterGeneration
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
///
/// With `--provider` the jobs are `diagnostic.letter_provider` checks, each calling a fake OpenAI-compatible
/// provider on loopback (``FakeProvider``) that enforces `--provider-rpm` itself and answers 429 with
/// Retry-After over it: the rate is then what the provider answered, and the attempts spent show whether a
/// 429 cost any.
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

    @Flag(name: .long, help: "Each job calls a fake letter provider on loopback, which enforces its own limit with 429s.")
    var provider = false

    @Option(name: .long, help: "With --provider: the provider's own limit, in calls per minute (default: --rpm).")
    var providerRpm: Int?

    func validate() throws {
        try Bench.check([
            ("--rpm", rpm, 1...100_000), ("--workers", workers, 1...64), ("--concurrency", concurrency, 1...10_000), ("--seconds", seconds, 1...3600),
            ("--provider-rpm", providerRpm ?? rpm, 1...100_000),
        ])
        if providerRpm != nil && !provider { throw ValidationError("--provider-rpm needs --provider") }
    }

    func run() async throws {
        try await Bench.withEnvironment(quiet: true) { environment, logs in
            let burst = max(1, rpm / 60)
            let allowed = Double(rpm) * Double(seconds) / 60 + Double(burst)
            guard provider else {
                let started = try await measure(environment: environment, logs: logs, job: DiagnosticJobs.Noop.name).started
                return """
                rate limit \(rpm)/min, \(workers) workers × \(concurrency), \(seconds) s
                jobs started: \(started) (the limit allows \(Int(allowed)): \(seconds) s at \(rpm)/min plus a burst of \(burst))
                \(Self.observed(started, allowed: allowed, seconds: seconds))
                """
            }
            let fake = FakeProvider(requestsPerMinute: providerRpm ?? rpm)
            return try await fake.run { base in
                var environment = environment
                environment[.openAIAPIKey] = "bench-key"
                environment[.openAIBaseURL] = base
                environment[.enableCloudFallback] = "false"
                let run = try await measure(environment: environment, logs: logs, job: LetterProviderCheckJob.name)
                let answered = fake.answered(from: run.start, to: run.end)
                return """
                rate limit \(rpm)/min, provider's own limit \(fake.requestsPerMinute)/min, \(workers) workers × \(concurrency), \(seconds) s
                provider calls answered: \(answered) (the queue's limit allows \(Int(allowed)): \(seconds) s at \(rpm)/min plus a burst of \(burst))
                \(Self.observed(answered, allowed: allowed, seconds: seconds))
                answered 429: \(fake.refused); attempts that failed: \(run.failedAttempts); jobs completed: \(run.completed), of them on a later attempt than the first: \(run.laterAttempts)
                """
            }
        }
    }

    private static func observed(_ count: Int, allowed: Double, seconds: Int) -> String {
        "observed rate: \(String(format: "%.1f", Double(count) / Double(seconds) * 60))/min, \(String(format: "%.3f", Double(count) / allowed)) of what the limit allows"
    }

    /// What one run saw: jobs started in the window (from its start to its end), attempts that failed, jobs
    /// completed and how many of them needed more than one attempt.
    private struct Run {
        var started: Int
        var start: ContinuousClock.Instant
        var end: ContinuousClock.Instant
        var failedAttempts: Int
        var completed: Int
        var laterAttempts: Int
    }

    /// Jobs of type `job` started within `--seconds` of resuming the queue.
    private func measure(environment: [String: String], logs: URL, job: String) async throws -> Run {
        let settings = Settings(environment: environment)
        let queue = try makeQueue(settings)
        defer { queue.redis.shutdown() }
        let name = WorkerType.diagnostics.queue
        try await queue.configureFlow(queue: name, requestsPerMinute: .atMost(rpm))
        try await queue.pause(queue: name)
        let jobs = max(100, rpm * seconds / 30)
        var ids: [String] = []
        for start in stride(from: 0, to: jobs, by: 1000) {
            let batch = (start..<min(start + 1000, jobs)).map { _ in JobEnvelope(type: job, queue: name) }
            ids += batch.map(\.idString)
            _ = try await queue.enqueue(batch)
        }
        let processes = try await Bench.startWorkers(workers, concurrency: concurrency, environment: environment, logs: logs, queue: queue)
        defer {
            for process in processes { process.send(SIGKILL) }
        }
        _ = try await queue.resume(queue: name)
        let start = ContinuousClock.now
        try await Task.sleep(for: .seconds(seconds))
        try await queue.pause(queue: name)
        let end = ContinuousClock.now
        let stats = try await queue.stats(queue: name)
        for process in processes { process.send(SIGTERM) }
        for process in processes { _ = await process.exited() }
        var laterAttempts = 0
        for id in ids where try await queue.job(id: id).map({ $0.state == .completed && $0.attempt > 1 }) == true { laterAttempts += 1 }
        try await Bench.deleteKeys(prefix: queue.keys.prefix, redis: queue.redis)
        return Run(started: stats.completed + stats.leased, start: start, end: end, failedAttempts: stats.failed, completed: stats.completed, laterAttempts: laterAttempts)
    }
}
