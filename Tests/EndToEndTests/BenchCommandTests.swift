import Foundation
import PhoenixQueue
import PhoenixRedis
import Testing
import TestSupport

/// `phoenix bench` end to end, on a small scale: it runs its phases with real worker processes, reports
/// every figure, and leaves nothing behind in Redis. (Its figures are for docs/BENCHMARKS.md, not asserted.)
/// Serialized: each bench checks that no `bench-*` key is left, which another bench running meanwhile would have.
@Suite(.serialized) struct BenchCommandTests {
    struct Report: Decodable {
        struct Latency: Decodable { var samples: Int; var p50: Double; var p99: Double }
        var jobs: Int
        var single: Int
        var singleEnqueueRate: Double
        var batchEnqueueRate: Double
        var processingRate: Double
        var latency: Latency
        var workerPeakRSSMegabytes: [Double]
    }

    @Test func benchReportsEveryPhaseAndCleansUp() async throws {
        let cli = try PhoenixCLI()
        let (status, output) = try await cli.run([
            "bench", "--jobs", "600", "--single", "50", "--batch", "100", "--workers", "2", "--concurrency", "10",
            "--latency-jobs", "30", "--rate", "300", "--json",
        ])
        #expect(status == 0, "\(output)")
        let report = try JSONDecoder().decode(Report.self, from: Data(output.utf8))
        #expect((report.jobs, report.single) == (600, 50))
        #expect(report.singleEnqueueRate > 0 && report.batchEnqueueRate > 0 && report.processingRate > 0)
        #expect(report.latency.samples == 30)
        #expect(report.latency.p50 <= report.latency.p99)
        #expect(report.workerPeakRSSMegabytes.count == 2 && report.workerPeakRSSMegabytes.allSatisfy { $0 > 1 })
        let left = try await cli.queue.redis.send("KEYS", "bench-*").array ?? []
        #expect(left.isEmpty, "bench left \(left.count) keys")
    }

    /// `phoenix bench-outbox` on a small scale: its own PostgreSQL, both figures, nothing left in Redis.
    @Test func outboxBenchReportsThroughputAndLatencyAndCleansUp() async throws {
        let cli = try PhoenixCLI()
        let (status, output) = try await cli.run(["bench-outbox", "--rows", "300", "--relays", "2", "--latency-rows", "20", "--rate", "100"])
        #expect(status == 0, "\(output)")
        #expect(output.contains("relayed 300 rows with 2 relays: "), "\(output)")
        #expect(output.contains("commit → ready, 20 rows at 100/s: p50 "), "\(output)")
        let left = try await cli.queue.redis.send("KEYS", "bench-*").array ?? []
        #expect(left.isEmpty, "bench-outbox left \(left.count) keys")
    }

    @Test func badArgumentsNameTheOption() async throws {
        let (status, output) = try await PhoenixCLI().run(["bench", "--workers", "0"])
        #expect(status != 0)
        #expect(output.contains("--workers must be between 1 and 64, got 0"))
    }
}
