import Foundation
import PhoenixJobsCore
import PhoenixQueue
import PhoenixRedis
import Testing
import TestSupport
@testable import PhoenixWorker

@Suite struct WorkerTests {
    @Test func runsEveryJobWithinItsConcurrency() async throws {
        let queue = try makeTestQueue()
        let overlap = Overlap()
        var registry = registryWithDiagnostics()
        registry.register(OverlapJob(overlap: overlap))
        let jobs = try (0..<40).map { _ in try JobEnvelope(OverlapJob.self, .init()) }
        try await queue.enqueue(jobs)
        let progress = try JobEnvelope(DiagnosticJobs.Sleep.self, .init(ms: 20))
        try await queue.enqueue(progress)
        let running = RunningWorker.start(queue, registry: registry, configuration: testConfiguration(concurrency: 4))
        try await eventually("41 jobs completed") { try await queue.stats(queue: "diagnostics").completed == 41 }
        try await running.stop()
        let stats = try await queue.stats(queue: "diagnostics")
        #expect((stats.ready, stats.leased, stats.dead, stats.failed) == (0, 0, 0, 0))
        #expect(overlap.peak == 4)
        #expect(try await queue.job(id: progress.idString)?.progress == 0.5)
        // A stopped worker unregisters itself.
        #expect(try await queue.liveWorkers(staleAfter: .seconds(60)).isEmpty)
    }

    @Test func heartbeatsRegisterTheWorkerWithItsDetails() async throws {
        let queue = try makeTestQueue()
        let running = RunningWorker.start(queue, registry: registryWithDiagnostics(), configuration: testConfiguration(concurrency: 3))
        // Registration is what is checked, not staleness: a loaded run can leave more than a few seconds
        // between two heartbeats (a full run once saw the worker listed, then gone within 2 s).
        try await eventually("the worker registered") { try await !queue.liveWorkers(staleAfter: .seconds(60)).isEmpty }
        let info = try #require(try await queue.liveWorkers(staleAfter: .seconds(60)).first)
        #expect(info.id == running.worker.id)
        #expect(info.type == "test", "the name its configuration gives")
        #expect(info.queues == ["diagnostics"])
        #expect(info.pid == Int(getpid()))
        #expect(info.concurrency == 3)
        #expect(info.version == PhoenixVersion.current)
        try await running.stop()
    }

    @Test func payloadThatDoesNotDecodeIsAPermanentFailureNamingTheField() async throws {
        let queue = try makeTestQueue()
        let bad = JobEnvelope(type: "diagnostic.sleep", queue: "diagnostics", payload: .object(["ms": .string("soon")]))
        let unknown = JobEnvelope(type: "test.unregistered", queue: "diagnostics", payload: .object([:]))
        try await queue.enqueue([bad, unknown])
        let running = RunningWorker.start(queue, registry: registryWithDiagnostics(), configuration: testConfiguration())
        try await eventually("both jobs dead") { try await queue.stats(queue: "diagnostics").dead == 2 }
        try await running.stop()
        let errors = Dictionary(uniqueKeysWithValues: try await queue.deadJobs(queue: "diagnostics").map { ($0.id, $0) })
        #expect(errors[bad.idString]?.error.contains("field 'ms'") == true)
        #expect(errors[bad.idString]?.attempts == 1)
        #expect(errors[unknown.idString]?.error.contains("no handler for job type 'test.unregistered'") == true)
    }

    @Test func permanentFailuresDieAtOnceAndOthersAfterMaxAttempts() async throws {
        let queue = try makeTestQueue()
        var registry = registryWithDiagnostics()
        registry.register(FlakyJob())
        let permanent = try JobEnvelope(DiagnosticJobs.Fail.self, .init(message: "quota exceeded", permanent: true))
        let flaky = try JobEnvelope(FlakyJob.self, .init())
        try await queue.enqueue([permanent, flaky])
        let running = RunningWorker.start(queue, registry: registry, configuration: testConfiguration())
        try await eventually("both jobs dead") { try await queue.stats(queue: "diagnostics").dead == 2 }
        try await running.stop()
        let dead = Dictionary(uniqueKeysWithValues: try await queue.deadJobs(queue: "diagnostics").map { ($0.id, $0) })
        #expect(dead[permanent.idString]?.attempts == 1)
        #expect(dead[permanent.idString]?.error == "quota exceeded")
        #expect(dead[flaky.idString]?.attempts == 3)
        #expect(dead[flaky.idString]?.error == "upstream said 503")
        #expect(try await queue.stats(queue: "diagnostics").failed == 4)
    }

    @Test func jobPastItsTimeoutIsCancelledAndCountsAsAFailedAttempt() async throws {
        let queue = try makeTestQueue()
        let log = RunLog()
        var registry = registryWithDiagnostics()
        registry.register(SlowJob(log: log))
        let slow = try JobEnvelope(SlowJob.self, .init())
        try await queue.enqueue(slow)
        let running = RunningWorker.start(queue, registry: registry, configuration: testConfiguration())
        try await eventually("the attempt failed") { try await queue.stats(queue: "diagnostics").failed == 1 }
        try await eventually("the handler saw its cancellation") { log.cancellations == 1 }
        try await running.stop()
        let record = try #require(try await queue.job(id: slow.idString))
        #expect(record.state == .delayed)
        #expect(record.lastError == "timed out after 0.2 seconds")
        #expect(record.attempt == 1)
    }

    @Test(.timeLimit(.minutes(1))) func aHandlerThatIgnoresCancellationStillTimesOutAndFreesItsSlot() async throws {
        let queue = try makeTestQueue()
        let gate = Gate()
        var registry = registryWithDiagnostics()
        registry.register(StuckJob(gate: gate))
        let stuck = try JobEnvelope(StuckJob.self, .init())
        let after = try JobEnvelope(DiagnosticJobs.Noop.self, .init())
        try await queue.enqueue([stuck, after])
        // One slot: the no-op can only run once the stuck job's slot is free again.
        let running = RunningWorker.start(queue, registry: registry, configuration: testConfiguration(concurrency: 1))
        try await eventually("the stuck attempt timed out") { try await queue.stats(queue: "diagnostics").failed == 1 }
        try await eventually("the next job ran in the freed slot") { try await queue.job(id: after.idString)?.state == .completed }
        #expect(try await queue.job(id: stuck.idString)?.lastError == "timed out after 1.0 seconds")
        try await running.stop()
        gate.open()
    }

    @Test(.timeLimit(.minutes(1))) func shutdownHandsBackAHandlerThatIgnoresCancellationWithoutWaitingForIt() async throws {
        let queue = try makeTestQueue()
        let gate = Gate()
        var registry = registryWithDiagnostics()
        registry.register(StuckJob(gate: gate))
        // A long timeout: only the grace period can end it.
        let stuck = try JobEnvelope(StuckJob.self, .init())
        try await queue.enqueue(stuck)
        let running = RunningWorker.start(queue, registry: registry, configuration: testConfiguration(concurrency: 1, grace: .milliseconds(200)))
        try await eventually("the job is leased") { try await queue.stats(queue: "diagnostics").leased == 1 }
        // Before the timeout (1 s) fires, shutdown must end at the grace period with the job handed back.
        try await running.stop()
        let stats = try await queue.stats(queue: "diagnostics")
        #expect((stats.ready + stats.delayed, stats.leased, stats.completed) == (1, 0, 0))
        gate.open()
    }

    @Test func handlersReportProgressAndEnqueueFollowUps() async throws {
        let queue = try makeTestQueue()
        var registry = registryWithDiagnostics()
        registry.register(ParentJob())
        var parent = try JobEnvelope(ParentJob.self, .init(label: "cv"))
        parent.correlationId = "req-7"
        try await queue.enqueue(parent)
        let running = RunningWorker.start(queue, registry: registry, configuration: testConfiguration())
        try await eventually("parent and child completed") { try await queue.stats(queue: "diagnostics").completed == 2 }
        try await running.stop()
        let record = try #require(try await queue.job(id: parent.idString))
        #expect(record.progress == 0.5)
        #expect(record.progressMessage == "half of cv")
        let childID = try #require(try await queue.redis.send("GET", queue.keys.idempotency("child-of-\(parent.id)", in: "diagnostics")).string)
        let child = try #require(try await queue.job(id: childID)?.envelope)
        #expect(child.type == "diagnostic.noop")
        #expect(child.correlationId == "req-7")
        #expect(child.enqueuedBy == "job:\(parent.idString)")
    }

    @Test func gracefulShutdownLetsRunningJobsFinish() async throws {
        let queue = try makeTestQueue()
        let jobs = try (0..<3).map { _ in try JobEnvelope(DiagnosticJobs.Sleep.self, .init(ms: 600)) }
        try await queue.enqueue(jobs)
        // A lease far longer than the test: on a loaded full run the 5 s default once lapsed between two
        // heartbeats, and the reaper counted each job as a failed attempt although it finished.
        let running = RunningWorker.start(queue, registry: registryWithDiagnostics(), configuration: testConfiguration(concurrency: 3, grace: .seconds(10), lease: .seconds(60)))
        // Running, not only fetched (a fetched job that has not started is handed back at once): the sleep job
        // reports progress half-way.
        try await eventually("jobs running") {
            for job in jobs where try await queue.job(id: job.idString)?.progress == nil { return false }
            return true
        }
        try await running.stop()
        let stats = try await queue.stats(queue: "diagnostics")
        #expect((stats.completed, stats.leased, stats.ready, stats.failed) == (3, 0, 0, 0))
    }

    @Test func jobsStillRunningAfterTheGracePeriodAreHandedBack() async throws {
        let queue = try makeTestQueue()
        let jobs = try (0..<2).map { _ in try JobEnvelope(DiagnosticJobs.Sleep.self, .init(ms: 30_000)) }
        try await queue.enqueue(jobs)
        let running = RunningWorker.start(queue, registry: registryWithDiagnostics(), configuration: testConfiguration(concurrency: 2, grace: .milliseconds(300)))
        try await eventually("jobs started") { try await queue.stats(queue: "diagnostics").leased == 2 }
        try await running.stop()
        let stats = try await queue.stats(queue: "diagnostics")
        #expect((stats.ready, stats.leased, stats.failed, stats.completed) == (2, 0, 0, 0))
        // Handed back without counting the attempt: the next delivery runs attempt 1 again (attempts never go
        // down; the hand-back is what keeps the number), and it is the job's second delivery.
        let next = try await queue.fetch(queue: "diagnostics", limit: 2, lease: .seconds(5), worker: "next")
        #expect(next.map(\.envelope.attempt) == [1, 1])
        #expect(next.map(\.delivery) == [2, 2])
    }

    @Test func periodicJobsFireOncePerPeriodAcrossWorkers() async throws {
        let queue = try makeTestQueue()
        let tick = PeriodicJob(name: "tick", every: .seconds(1)) { try JobEnvelope(DiagnosticJobs.Noop.self, .init()) }
        let started = Date()
        let workers = (0..<3).map { _ in
            RunningWorker.start(queue, registry: registryWithDiagnostics(), configuration: testConfiguration(), periodicJobs: [tick])
        }
        // Until two periods fired (a fixed 3.5 s was once too short for three workers to start on a loaded run).
        try await eventually("the tick fired in two periods", timeout: .seconds(30)) {
            try await queue.stats(queue: "diagnostics").enqueued >= 2
        }
        for worker in workers { try await worker.stop() }
        let elapsedPeriods = Int(Date().timeIntervalSince1970) - Int(started.timeIntervalSince1970) + 1
        let stats = try await queue.stats(queue: "diagnostics")
        // The idempotency key of every period the run spanned (KEYS would search one node of a cluster only).
        let periods = Set(stride(from: started.timeIntervalSince1970 - 1, through: Date().timeIntervalSince1970 + 1, by: 0.5).map {
            tick.period(at: Date(timeIntervalSince1970: $0))
        })
        let replies = try await queue.redis.pipeline(periods.map { RedisCommand("EXISTS", queue.keys.idempotency("periodic:tick:\($0)", in: "diagnostics")) })
        let keys = replies.filter { (try? $0.get().int) == 1 }
        // One job per period that some worker saw, never more, however many workers looked.
        #expect(stats.enqueued == keys.count)
        #expect(stats.enqueued <= elapsedPeriods)
    }
}

/// The worker's default timings are the ones docs/ARCHITECTURE.md gives (issue 17: the idle wait was 5 s in
/// the code and 2 s in the documentation; `phoenix work` passed 2 s, `phoenix dev` took 5).
@Suite struct WorkerDefaultsTests {
    @Test func theDefaultTimingsAreTheDocumentedOnes() throws {
        let configuration = WorkerConfiguration(name: "test", queues: ["diagnostics"])
        let documentation = try RepositoryFiles.text("docs/ARCHITECTURE.md")
        for (duration, phrase) in [
            (configuration.idleWait, "at most `idleWait`, 2 s"), (configuration.heartbeatInterval, "every `--heartbeat`, default 5 s"),
            (configuration.staleAfter, "`--stale-after`\n  (default 30 s)"), (configuration.lease, "`--lease` (default 30 s)"),
            (configuration.gracePeriod, "`--grace` (default 25 s)"),
        ] {
            let seconds = try #require(phrase.firstMatch(of: #/(\d+) s\b/#).flatMap { Int64($0.1) })
            #expect(duration == .seconds(seconds), "\(phrase)")
            #expect(documentation.contains(phrase), "docs/ARCHITECTURE.md no longer says \(phrase)")
        }
    }
}
