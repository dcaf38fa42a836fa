import PhoenixQueue
import Testing
import TestSupport

/// Issue 18 (3): a master killed in the middle of a 20,000-job run; with enqueues acknowledged by a replica
/// (`WAIT`), no job whose enqueue was answered is lost.
@Suite struct SentinelFailoverTests {
    @Test func aMasterKilledMidRunLosesNoJobWhoseEnqueueWasAcknowledged() async throws {
        // Two replicas: after one is promoted, the other acknowledges the enqueues that follow.
        let group = try await SentinelGroup(replicas: 2)
        try await runTwentyThousandAcknowledgedJobs(try group.configuration(), keys: QueueKeys(prefix: TestRedis.uniquePrefix("phx"))) {
            await group.master.kill()
        }
        // Half-way through, the master was killed and a replica took over.
        #expect(try await group.currentMasterPort() != group.master.port)
    }
}
