import Foundation
import PhoenixJobsCore
import PhoenixQueue
import PhoenixRedis
import Testing
import TestSupport
import PhoenixWorker

/// The run the failover suites share: 20,000 jobs enqueued in batches of 100, each enqueue acknowledged by one
/// replica (`WAIT`), a worker running them; `fault` is called before the 101st batch. The enqueue under way
/// when a master dies waits for the failover (within the clients' 60 s reconnect timeout); a batch refused
/// anyway (no replica acknowledged it in time) is sent again as it is, for up to 60 s: the same ids add
/// nothing twice. Checks that every job ran.
func runTwentyThousandAcknowledgedJobs(_ configuration: RedisConfiguration, keys: QueueKeys, fault: () async throws -> Void) async throws {
    var configuration = configuration
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
        if number == 100 { try await fault() }
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
    try await eventually("every acknowledged job ran", timeout: .seconds(240)) { log.runs.count == 20_000 }
    try await running.stop()
    #expect(Set(log.runs.keys) == Set(jobs.map(\.id.uuidString)))
}
