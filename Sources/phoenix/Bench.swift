import ArgumentParser
import EnvironmentVariables
import Foundation
import LocalServers
import PhoenixPlatform
import PhoenixWorker
import PhoenixRedis
import PhoenixJobsCore
import PhoenixQueue

/// `phoenix bench`: the queue's speed on this machine, end to end, with real `phoenix work` processes.
///
/// Under a key prefix of its own (so it never touches real queues) it enqueues no-op jobs one by one and in
/// batches while the queue is paused, starts the workers, resumes the queue and times until every job is
/// done; then, with the workers idle, enqueues jobs at a steady rate and reads how long each waited before a
/// worker took it. Without `REDIS_URL` it starts a private redis-server (append-only, as `phoenix dev` does).
struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure enqueue and processing rates, latency and worker memory with real worker processes."
    )

    @Option(name: .long, help: "No-op jobs enqueued in batches, then processed.")
    var jobs: Int = 100_000

    @Option(name: .long, help: "No-op jobs enqueued one by one (one round trip each), also processed.")
    var single: Int = 10_000

    @Option(name: .long, help: "Jobs per batch.")
    var batch: Int = 1_000

    @Option(name: .long, help: "Worker processes.")
    var workers: Int = 2

    @Option(name: .long, help: "Concurrency of each worker process.")
    var concurrency: Int = 50

    @Option(name: .long, help: "Jobs enqueued one at a time at --rate for the latency figures.")
    var latencyJobs: Int = 2_000

    @Option(name: .long, help: "Jobs per second during the latency run.")
    var rate: Int = 500

    @Option(name: .long, help: "Users the jobs' payloads name in turn (user_id), the key of fair share; 0 for none.")
    var users: Int = 0

    @Flag(name: .long, help: "Make the queue fair: each user's jobs take turns with the others'.")
    var fairShare = false

    @Flag(name: .long, help: "Print JSON instead of a table.")
    var json = false

    func validate() throws {
        try Self.check([
            ("--jobs", jobs, 1...10_000_000), ("--single", single, 0...1_000_000), ("--batch", batch, 1...100_000),
            ("--workers", workers, 1...64), ("--concurrency", concurrency, 1...10_000), ("--latency-jobs", latencyJobs, 0...1_000_000),
            ("--rate", rate, 1...100_000), ("--users", users, 0...10_000_000),
        ])
    }

    /// Refuses the first option whose value is out of its range, naming it.
    static func check(_ options: [(name: String, value: Int, range: ClosedRange<Int>)]) throws {
        for (name, value, range) in options where !range.contains(value) {
            throw ValidationError("\(name) must be between \(range.lowerBound) and \(range.upperBound), got \(value)")
        }
    }

    /// Starts `count` `phoenix work` processes serving the diagnostics queue with `concurrency` each (their logs
    /// in `logs`), and waits until all have registered.
    static func startWorkers(_ count: Int, concurrency: Int, environment: [String: String], logs: URL, queue: JobQueue) async throws -> [ChildProcess] {
        let processes = try (0..<count).map { index in
            try ChildProcess(
                try executable(), ["work", "--type", WorkerType.diagnostics.rawValue, "--concurrency", "\(concurrency)"],
                environment: environment, outputPath: logs.appendingPathComponent("worker-\(index).log").path
            )
        }
        do {
            try await waitUntil("\(count) workers registered", timeout: .seconds(60)) {
                try await queue.liveWorkers(staleAfter: .seconds(30)).count == count
            }
        } catch {
            for process in processes { process.send(SIGKILL) }
            throw error
        }
        return processes
    }

    func run() async throws {
        try await Self.withEnvironment(quiet: json) { environment, logs in
            let report = try await measure(environment: environment, logs: logs)
            return json ? try report.json() : report.table()
        }
    }

    /// Runs `body` with the environment of a benchmark (a private redis-server unless `REDIS_URL` is set, a
    /// key prefix of its own, warnings only in the workers' logs) and a scratch folder for the workers' logs,
    /// then prints what it returns. The folder is removed after a run that succeeded.
    static func withEnvironment(quiet: Bool, _ body: ([String: String], URL) async throws -> String) async throws {
        var environment = ProcessInfo.processInfo.environment
        var redisServer: LocalServer?
        // The workers' logs, and the private Redis's data when there is one.
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("phoenix-bench-\(getpid())")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        if environment.nonEmpty(.redisURL) == nil {
            let server = try await LocalRedis.start(directory: scratch.appendingPathComponent("redis"))
            redisServer = server
            environment[.redisURL] = server.url
            if !quiet { say("started \(server.summary)") }
        }
        environment[.keyPrefix] = "bench-\(UUID().uuidString.prefix(8).lowercased())"
        environment[.logLevel] = "warning"
        do {
            say(try await body(environment, scratch))
        } catch {
            await redisServer?.stop()
            throw InputError("\(error) (worker logs in \(scratch.path))")
        }
        await redisServer?.stop()
        try? FileManager.default.removeItem(at: scratch)
    }

    private func measure(environment: [String: String], logs: URL) async throws -> BenchReport {
        let settings = Settings(environment: environment)
        let queue = try makeQueue(settings, poolSize: 8, fairnessFields: [DiagnosticJobs.Noop.name: "user_id"])
        defer { queue.redis.shutdown() }
        let name = WorkerType.diagnostics.queue
        var made = 0
        let users = users
        let noop = {
            made += 1
            return JobEnvelope(type: DiagnosticJobs.Noop.name, queue: name, payload: .object(users > 0 ? ["user_id": .string("user-\(made % users)")] : [:]))
        }
        var report = BenchReport(
            redis: try await Self.redisVersion(queue.redis), jobs: jobs, single: single, batch: batch, workers: workers, concurrency: concurrency,
            latencyJobs: latencyJobs, rate: rate, users: users, fairShare: fairShare
        )
        try await queue.configureFlow(queue: name, fairShare: fairShare)

        // Enqueue while paused, so that the processing run starts with every job ready.
        try await queue.pause(queue: name)
        var clock = ContinuousClock.now
        for _ in 0..<single { _ = try await queue.enqueue(noop()) }
        report.singleEnqueueRate = Self.rate(single, since: clock)
        clock = .now
        for start in stride(from: 0, to: jobs, by: batch) {
            _ = try await queue.enqueue((start..<min(start + batch, jobs)).map { _ in noop() })
        }
        report.batchEnqueueRate = Self.rate(jobs, since: clock)

        let processes = try await Self.startWorkers(workers, concurrency: concurrency, environment: environment, logs: logs, queue: queue)
        defer {
            for process in processes { process.send(SIGKILL) }
        }

        let total = single + jobs
        clock = .now
        _ = try await queue.resume(queue: name)
        // Polled with one minute of history: the default hour reads 120 per-minute counters a call, and the
        // polling would take a share of the Redis it measures.
        try await Self.waitUntil("\(total) jobs completed", timeout: .seconds(3600)) {
            try await queue.stats(queue: name, minutes: 1).completed >= total
        }
        report.processingRate = Self.rate(total, since: clock)

        // Latency: one job at a time at a steady rate, picked up by idle workers.
        var ids: [String] = []
        let start = ContinuousClock.now
        for index in 0..<latencyJobs {
            try await ContinuousClock().sleep(until: start + .seconds(Double(index) / Double(rate)))
            let job = noop()
            _ = try await queue.enqueue(job)
            ids.append(job.idString)
        }
        try await Self.waitUntil("the latency jobs completed", timeout: .seconds(600)) {
            try await queue.stats(queue: name, minutes: 1).completed >= total + latencyJobs
        }
        var waits: [Double] = []
        for id in ids {
            guard let record = try await queue.job(id: id), let envelope = record.envelope, let started = record.startedAt else { continue }
            waits.append(max(0, started.timeIntervalSince(envelope.enqueuedAt)) * 1000)
        }
        report.latency = BenchReport.Latency(waits)

        report.workerPeakRSSMegabytes = processes.compactMap { Self.peakRSSMegabytes(of: $0.pid) }
        for process in processes { process.send(SIGTERM) }
        for process in processes { _ = await process.exited() }
        try await Self.deleteKeys(prefix: queue.keys.prefix, redis: queue.redis)
        return report
    }

    static func rate(_ count: Int, since start: ContinuousClock.Instant) -> Double {
        let elapsed = ContinuousClock.now - start
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        return seconds > 0 ? Double(count) / seconds : 0
    }

    /// Polls `condition` every 10 ms.
    static func waitUntil(_ what: String, timeout: Duration, _ condition: () async throws -> Bool) async throws {
        let deadline = ContinuousClock.now + timeout
        while try await !condition() {
            guard ContinuousClock.now < deadline else { throw InputError("bench: gave up waiting for \(what) after \(timeout)") }
            try await Task.sleep(for: .milliseconds(10))
        }
    }

    /// This process's own executable, which the workers run.
    static func executable() throws -> String {
        try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
    }

    /// The largest resident set the process has had (`VmHWM` in /proc), in MB.
    private static func peakRSSMegabytes(of pid: pid_t) -> Double? {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
              let kilobytes = Double(line.split(separator: " ").dropFirst().first ?? "") else { return nil }
        return kilobytes / 1024
    }

    static func redisVersion(_ redis: RedisClient) async throws -> String {
        let info = try await redis.send("INFO", "server").string ?? ""
        let line = info.split(whereSeparator: \.isNewline).first { $0.hasPrefix("redis_version:") }
        return line.map { String($0.dropFirst("redis_version:".count)) } ?? "unknown"
    }

    /// Removes every key the run made (job hashes, lists, counters, the worker registry).
    static func deleteKeys(prefix: String, redis: RedisClient) async throws {
        var cursor = "0"
        repeat {
            let reply = try await redis.send("SCAN", cursor, "MATCH", "\(prefix):*", "COUNT", "1000").array ?? []
            cursor = reply.first?.string ?? "0"
            let keys = reply.dropFirst().first?.array?.compactMap(\.string) ?? []
            if !keys.isEmpty { _ = try await redis.send(RedisCommand("UNLINK", arguments: keys)) }
        } while cursor != "0"
    }
}
