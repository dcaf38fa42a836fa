import Foundation
import PhoenixJobsCore
import PhoenixQueue
import PhoenixRedis
import Testing
import TestSupport
import PhoenixWorker

/// Issue 18 (5): a queue of 3 partitions on a 3-master cluster spreads a 20,000-job run's commands evenly.
@Suite struct ClusterPartitionTests {
    @Test func threePartitionsSpreadTheCommandsWithinTwentyPercentAcrossTheMasters() async throws {
        let cluster = try await RedisClusterGroup()
        let keys = QueueKeys(prefix: TestRedis.uniquePrefix("phx"), partitions: [RecordedJob.queue: 3])
        let queue = JobQueue(redis: RedisClient(configuration: try cluster.configuration()), keys: keys)
        defer { queue.redis.shutdown() }
        var masters: [RedisServerProcess] = []
        for partition in 0..<3 {
            masters.append(try #require(try await cluster.master(of: RedisClusterSlot.of(keys.base(RecordedJob.queue, partition: partition)))))
        }
        #expect(Set(masters.map(\.port)).count == 3, "each partition on a master of its own")
        let clients = try masters.map { RedisClient(configuration: try RedisConfiguration(url: $0.url), poolSize: 1) }
        defer { clients.forEach { $0.shutdown() } }
        for client in clients { try await client.send("CONFIG", "RESETSTAT") }

        let log = RunLog()
        var registry = registryWithDiagnostics()
        registry.register(RecordedJob(log: log))
        let running = RunningWorker.start(queue, registry: registry, configuration: testConfiguration(concurrency: 16))
        let jobs = try (0..<20_000).map { _ in try JobEnvelope(RecordedJob.self, .init()) }
        for start in stride(from: 0, to: jobs.count, by: 500) { try await queue.enqueue(Array(jobs[start..<min(start + 500, jobs.count)])) }
        try await eventually("every job ran", timeout: .seconds(240)) { log.runs.count == 20_000 }
        try await running.stop()

        // Commands each master ran for the queue (the cluster's own bookkeeping left out).
        var counts: [Int] = []
        for client in clients {
            let text = try #require(try await client.send("INFO", "commandstats").string)
            let calls = text.split(whereSeparator: \.isNewline).compactMap { line -> Int? in
                guard line.hasPrefix("cmdstat_"), !["cmdstat_cluster", "cmdstat_info", "cmdstat_config", "cmdstat_ping"].contains(where: { line.hasPrefix($0 + ":") }),
                      let field = line.split(separator: ",").first(where: { $0.contains("calls=") })
                else { return nil }
                return Int(field.split(separator: "=").last ?? "")
            }
            counts.append(calls.reduce(0, +))
        }
        let mean = Double(counts.reduce(0, +)) / Double(counts.count)
        print("ClusterPartitionTests: commands per master \(counts)")
        #expect(counts.allSatisfy { abs(Double($0) - mean) <= 0.2 * mean }, "commands per master: \(counts)")
        #expect(Set(log.runs.keys) == Set(jobs.map(\.id.uuidString)))
    }
}
