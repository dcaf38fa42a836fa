import ArgumentParser
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import PhoenixJobsCore
import Synchronization

/// `phoenix bench-sse`: live job events under load, against a running `phoenix serve` (Benchmarks/bench-sse.sh
/// starts one, with Redis, PostgreSQL and a diagnostics worker).
///
/// `--subscribers` clients each loop: submit a `diagnostic.noop` job due `--delay-ms` later (`POST /v1/jobs`,
/// paced so that all of them together submit at most `--rate` jobs per second), open its event stream
/// (`GET /v1/jobs/{id}/events`) at once, and read it until the job's `completed` event. So about `--subscribers`
/// streams are open at any moment while up to `--rate` jobs complete per second. The latency of an event is
/// from its `at` (the Redis server's clock when the ack ran, to the millisecond) to its arrival here (the
/// same machine's clock). With `--server-pid` it reads the server's peak resident memory (VmHWM) at the end.
struct SSEBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-sse",
        abstract: "Measure how fast job events reach many server-sent-event subscribers of a running phoenix serve."
    )

    @Option(name: .long, help: "The API's base URL.")
    var base: String = "http://127.0.0.1:8080"

    @Option(name: .long, help: "Concurrent subscribers.")
    var subscribers: Int = 1000

    @Option(name: .long, help: "Most jobs submitted per second, all subscribers together.")
    var rate: Int = 500

    @Option(name: .long, help: "How long to run, in seconds.")
    var seconds: Int = 30

    @Option(name: .long, help: "Each job's delay (ms): how long its stream stays open before it runs.")
    var delayMs: Int = 800

    @Option(name: .long, help: "The phoenix serve process, whose peak memory is reported.")
    var serverPid: Int?

    @Option(name: .long, help: "A service_role token for the API (Benchmarks/bench-sse.sh signs one for the run).")
    var token: String

    func validate() throws {
        try Bench.check([("--subscribers", subscribers, 1...20_000), ("--rate", rate, 1...100_000), ("--seconds", seconds, 1...3600), ("--delay-ms", delayMs, 0...600_000)])
        guard URL(string: base)?.host != nil else { throw ValidationError("--base must be a URL such as http://127.0.0.1:8080") }
        guard !token.isEmpty else { throw ValidationError("--token must be a service_role token for the API") }
    }

    func run() async throws {
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = subscribers * 2 + 16
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        let results = Results()
        let end = ContinuousClock.now + .seconds(seconds)
        let pacer = Pacer(perSecond: rate, until: end)
        let started = ContinuousClock.now
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<subscribers {
                group.addTask {
                    while ContinuousClock.now < end {
                        guard await pacer.permit() else { return }
                        do {
                            try await follow(client: client, token: token, results: results)
                        } catch {
                            results.failed("\(error)")
                        }
                    }
                }
            }
        }
        let elapsed = ContinuousClock.now - started
        try await client.shutdown()
        print(results.report(subscribers: subscribers, elapsed: elapsed, serverMemory: serverPid.flatMap(Self.peakMemory)))
    }

    /// One job: submitted, then followed on its stream until completed.
    private func follow(client: HTTPClient, token: String, results: Results) async throws {
        var submit = HTTPClientRequest(url: base + "/v1/jobs")
        submit.method = .POST
        submit.headers.add(name: "Authorization", value: "Bearer \(token)")
        submit.headers.add(name: "Content-Type", value: "application/json")
        submit.body = .bytes(ByteBuffer(string: #"{"type": "diagnostic.noop", "delaySeconds": \#(Double(delayMs) / 1000)}"#))
        let accepted = try await client.execute(submit, timeout: .seconds(30))
        let body = try await accepted.body.collect(upTo: 1 << 16)
        guard accepted.status == .accepted, case .string(let id)? = try JSONValue.parse(body.readableBytesView).objectValue?["id"] else {
            throw BenchFailure("POST /v1/jobs answered \(accepted.status.code): \(String(buffer: body))")
        }
        var stream = HTTPClientRequest(url: base + "/v1/jobs/\(id)/events")
        stream.headers.add(name: "Authorization", value: "Bearer \(token)")
        let response = try await client.execute(stream, timeout: .seconds(Int64(delayMs / 1000 + 60)))
        guard response.status == .ok else { throw BenchFailure("GET /v1/jobs/\(id)/events answered \(response.status.code)") }
        var pending = ""
        for try await chunk in response.body {
            let arrived = Date()
            pending += String(buffer: chunk)
            while let end = pending.range(of: "\n\n") {
                let block = pending[..<end.lowerBound]
                pending = String(pending[end.upperBound...])
                guard block.contains("event: completed\n"), let line = block.split(separator: "\n").first(where: { $0.hasPrefix("data: ") }),
                      case .string(let at)? = try JSONValue.parse(Array(line.dropFirst(6).utf8)).objectValue?["at"],
                      let completed = try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(at) else { continue }
                results.completed(latency: arrived.timeIntervalSince(completed))
                return
            }
        }
        throw BenchFailure("the stream of job \(id) ended before its completed event")
    }

    /// The peak resident memory of process `pid` (VmHWM), in bytes.
    static func peakMemory(_ pid: Int) -> Int? {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
              let kilobytes = line.split(separator: " ").dropFirst().first.flatMap({ Int($0) }) else { return nil }
        return kilobytes * 1024
    }

    struct BenchFailure: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }

    /// Spaces the submissions of every subscriber together: one per `1 / perSecond` s, until `end`.
    actor Pacer {
        let interval: Duration
        let end: ContinuousClock.Instant
        private var next = ContinuousClock.now

        init(perSecond: Int, until end: ContinuousClock.Instant) {
            interval = .seconds(1) / perSecond
            self.end = end
        }

        /// Waits for the caller's turn; false once the run is over.
        nonisolated func permit() async -> Bool {
            guard let slot = await reserve() else { return false }
            try? await Task.sleep(until: slot)
            return true
        }

        private func reserve() -> ContinuousClock.Instant? {
            let slot = max(next, .now)
            guard slot < end else { return nil }
            next = slot + interval
            return slot
        }
    }

    /// The latencies measured and the failures seen, from every subscriber.
    final class Results: Sendable {
        /// Latencies (s) of the completed events, and the failures' descriptions (the first 5 kept).
        private let state = Mutex<(latencies: [Double], failures: Int, examples: [String])>(([], 0, []))

        func completed(latency: Double) {
            state.withLock { $0.latencies.append(latency) }
        }

        func failed(_ description: String) {
            state.withLock { state in
                state.failures += 1
                if state.examples.count < 5 { state.examples.append(description) }
            }
        }

        func report(subscribers: Int, elapsed: Duration, serverMemory: Int?) -> String {
            let (latencies, failures, examples) = state.withLock { ($0.latencies.sorted(), $0.failures, $0.examples) }
            func percentile(_ p: Double) -> String {
                guard !latencies.isEmpty else { return "-" }
                return String(format: "%.1f ms", latencies[min(latencies.count - 1, Int(Double(latencies.count) * p))] * 1000)
            }
            var lines = [
                "subscribers: \(subscribers)",
                String(format: "jobs completed and their event received: %d in %.1f s (%.0f/s)", latencies.count, Double(elapsed.milliseconds) / 1000, Double(latencies.count) * 1000 / Double(max(1, elapsed.milliseconds))),
                "completion to event received: p50 \(percentile(0.5)), p99 \(percentile(0.99)), max \(percentile(1))",
                "failures: \(failures)",
            ]
            lines += examples.map { "  \($0)" }
            if let serverMemory { lines.append(String(format: "server peak RSS (VmHWM): %.1f MB", Double(serverMemory) / 1_048_576)) }
            return lines.joined(separator: "\n")
        }
    }
}
