import Foundation
import PhoenixJobsCore
import PhoenixQueue
import PhoenixRedis
import Testing
import TestSupport
import PhoenixWorker

/// Issue 18 (5): on a 3-master cluster, the master holding the queue is killed in the middle of a 20,000-job
/// run and its replica promoted; with enqueues acknowledged by a replica (`WAIT`), no job whose enqueue was
/// answered is lost.
@Suite struct ClusterFailoverTests {
    @Test func aMasterKilledMidRunLosesNoJobWhoseEnqueueWasAcknowledged() async throws {
        let cluster = try await RedisClusterGroup()
        let keys = QueueKeys(prefix: TestRedis.uniquePrefix("phx"))
        var configuration = try cluster.configuration()
        configuration.reconnectTimeout = .seconds(60)
        let enqueuer = JobQueue(redis: RedisClient(configuration: configuration), keys: keys, enqueueAcknowledgement: ReplicaAcknowledgement(replicas: 1, timeout: .seconds(2)))
        let workerQueue = JobQueue(redis: RedisClient(configuration: configuration), keys: keys)
        defer { enqueuer.redis.shutdown(); workerQueue.redis.shutdown() }
        let log = RunLog()
        var registry = registryWithDiagnostics()
        registry.register(RecordedJob(log: log))
        let running = RunningWorker.start(workerQueue, registry: registry, configuration: testConfiguration(concurrency: 16, lease: .seconds(10)))
        let slot = RedisClusterSlot.of(keys.base(RecordedJob.queue))
        let master = try #require(try await cluster.master(of: slot))

        let jobs = try (0..<20_000).map { _ in try JobEnvelope(RecordedJob.self, .init()) }
        var acknowledged = 0
        var comeback: Task<Void, any Error>?
        for (number, batch) in stride(from: 0, to: jobs.count, by: 100).map({ jobs[$0..<min($0 + 100, jobs.count)] }).enumerated() {
            if number == 100 {
                await master.kill()
                // Back after the failover, as the new master's replica: enqueues can be acknowledged again.
                comeback = Task {
                    try await Task.sleep(for: .seconds(5))
                    try await cluster.restart(master)
                }
            }
            // The enqueue under way when the master dies waits for the promotion (the client learns the slot
            // map again until the reconnect timeout); a batch refused anyway (no replica acknowledged it in
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
        try await comeback?.value
        #expect(acknowledged == 20_000)
        // Half-way through, the master was killed and its replica took its slots over.
        #expect(try await cluster.master(of: slot)?.port != master.port)
        try await eventually("every acknowledged job ran", timeout: .seconds(240)) { log.runs.count == 20_000 }
        try await running.stop()
        #expect(Set(log.runs.keys) == Set(jobs.map(\.id.uuidString)))
    }
}
