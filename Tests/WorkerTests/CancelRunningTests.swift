import Foundation
import PhoenixJobsCore
import PhoenixQueue
import Testing
import TestSupport
import PhoenixWorker

/// Cancelling a job while a worker runs it: the worker hears of it at its next heartbeat and cancels the
/// handler; the job ends cancelled, without a retry.
@Suite struct CancelRunningTests {
    @Test func aRunningJobIsCancelledByItsWorkerAtTheNextHeartbeat() async throws {
        let queue = try makeTestQueue()
        let log = RunLog()
        var registry = registryWithDiagnostics()
        registry.register(CancellableJob(log: log))
        let job = JobEnvelope(type: CancellableJob.name, queue: "diagnostics", payload: .object([:]), maxAttempts: 3)
        let other = JobEnvelope(type: CancellableJob.name, queue: "diagnostics", payload: .object([:]), maxAttempts: 3)
        try await queue.enqueue([job, other])
        let running = RunningWorker.start(queue, registry: registry, configuration: testConfiguration())
        try await eventually("both jobs run") { log.runs.count == 2 }
        #expect(try await queue.cancel(id: job.idString) == .cancelling)
        try await eventually("the job is cancelled") { try await queue.job(id: job.idString)?.state == .cancelled }
        #expect(log.cancellations == 1)
        // The other job runs on, and the cancelled one is not run again.
        #expect(try await queue.job(id: other.idString)?.state == .leased)
        #expect(log.runs[job.id.uuidString] == 1)
        let stats = try await queue.stats(queue: "diagnostics")
        #expect((stats.cancelled, stats.failed, stats.dead, stats.ready, stats.delayed) == (1, 0, 0, 0, 0))
        try await running.stop()
    }
}
