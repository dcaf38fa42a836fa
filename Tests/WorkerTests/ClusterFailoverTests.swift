import PhoenixQueue
import PhoenixRedis
import Testing
import TestSupport

/// Issue 18 (5): on a 3-master cluster, the master holding the queue is killed in the middle of a 20,000-job
/// run and its replica promoted; with enqueues acknowledged by a replica (`WAIT`), no job whose enqueue was
/// answered is lost.
@Suite struct ClusterFailoverTests {
    @Test func aMasterKilledMidRunLosesNoJobWhoseEnqueueWasAcknowledged() async throws {
        let cluster = try await RedisClusterGroup()
        let keys = QueueKeys(prefix: TestRedis.uniquePrefix("phx"))
        let slot = RedisClusterSlot.of(keys.base(RecordedJob.queue))
        let master = try #require(try await cluster.master(of: slot))
        var comeback: Task<Void, any Error>?
        try await runTwentyThousandAcknowledgedJobs(try cluster.configuration(), keys: keys) {
            await master.kill()
            // Back after the failover, as the new master's replica: enqueues can be acknowledged again.
            comeback = Task {
                try await Task.sleep(for: .seconds(5))
                try await cluster.restart(master)
            }
        }
        try await comeback?.value
        // Half-way through, the master was killed and its replica took its slots over.
        #expect(try await cluster.master(of: slot)?.port != master.port)
    }
}
