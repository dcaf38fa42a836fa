import Foundation
import PhoenixJobsCore
import PhoenixQueue
import PhoenixRedis
import Testing
import TestSupport
import PhoenixWorker

/// Issue 18 (3): a master killed in the middle of a 20,000-job run; with enqueues acknowledged by a replica
/// (`WAIT`), no job whose enqueue was answered is lost.
@Suite struct SentinelFailoverTests {
    @Test func aMasterKilledMidRunLosesNoJobWhoseEnqueueWasAcknowledged() async throws {
        // Two replicas: after one is promoted, the other acknowledges the enqueues that follow.
        let group = try await SentinelGroup(replicas: 2)
        let keys = QueueKeys(prefix: TestRedis.uniquePrefix("phx"))
        var configuration = try group.configuration()
        configuration.reconnectTimeout = .seconds(60)
        let enqueuer = JobQueue(redis: RedisClient(configuration: configuration), keys: keys, enqueueAcknowledgement: ReplicaAcknowledgement(replicas: 1, timeout: .seconds(2)))
        let workerQueue = JobQueue(redis: RedisClient(configuration: configuration), keys: keys)
        defer { enqueuer.redis.shutdown(); workerQueue.redis.shutdown() }
        let log = RunLog()
        var registry = registryWithDiagnostics()
        registry.register(RecordedJob(log: log))
        let running = RunningWorker.start(workerQueue, registry: registry, configuration: testConfiguration(concurrency: 16, lease: .seconds(10)))

        let jobs = try (0..<20_000).map { _ in try JobEnvelope(RecordedJob.self, .init()) }
        var acknowledged = 0
        for (number, batch) in stride(from: 0, to: jobs.count, by: 100).map({ jobs[$0..<min($0 + 100, jobs.count)] }).enumerated() {
            if number == 100 { await group.master.kill() }
            // The enqueue under way when the master dies waits for the failover (the client asks the sentinels
            // again until the reconnect timeout); a batch refused anyway (too few replicas acknowledged it in
            // time) is sent again as it is: the same ids add nothing twice.
            let deadline = ContinuousClock.now + .seconds(60)
            while true {
                do {
                    try await enqueuer.enqueue(Array(batch))
                    acknowledged += batch.count
                    break
                } catch {
                    guard ContinuousClock.now < deadline else { throw error }
                    try await Task.sleep(for: .milliseconds(100))
                }
            }
        }
        #expect(acknowledged == 20_000)
        // Half-way through, the master was killed and a replica took over.
        #expect(try await group.currentMasterPort() != group.master.port)
        try await eventually("every acknowledged job ran", timeout: .seconds(240)) { log.runs.count == 20_000 }
        try await running.stop()
        #expect(Set(log.runs.keys) == Set(jobs.map(\.id.uuidString)))
    }
}
