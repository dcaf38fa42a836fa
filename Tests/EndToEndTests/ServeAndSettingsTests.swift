import Foundation
import LocalServers
import PhoenixJobsCore
import PhoenixQueue
import Testing
import TestSupport

/// What the deploy files count on from `phoenix serve` and the worker variables (issue 16).
@Suite struct ServeAndSettingsTests {
    /// Settings `phoenix serve` needs to start; the database is only asked when a route needs it.
    static let serveEnvironment = ["JWT_SECRET_KEY": String(repeating: "s", count: 32), "DATABASE_URL": "postgres://nobody@127.0.0.1:1/none"]

    /// KEDA scales a worker type on its ready list alone: at zero replicas, nothing but `phoenix serve` is
    /// left to make its delayed and retrying jobs ready and to take back the leases of the workers that were
    /// stopped, which is what brings its replicas back.
    @Test func serveKeepsTheQueuesOfWorkerTypesWithNoWorkerMoving() async throws {
        let cli = try PhoenixCLI()
        // Two queues no process serves: letters (a worker type scaled to zero) and a queue of no worker type.
        let delayed = JobEnvelope(type: "letter.generate", queue: "letters", payload: .object([:]), delay: .seconds(1))
        let leased = JobEnvelope(type: "report.build", queue: "reports", payload: .object([:]))
        try await cli.queue.enqueue([delayed, leased])
        // A worker takes the report with a short lease and is gone before the lease ends.
        #expect(try await cli.queue.fetch(queue: "reports", limit: 1, lease: .milliseconds(500), worker: "scaled-down").count == 1)
        let serve = try cli.start(["serve", "--host", "127.0.0.1", "--port", "0"], name: "serve", extraEnvironment: Self.serveEnvironment)
        // A failed expectation below still stops it; a passing run also waits for it to exit.
        defer { serve.send(SIGTERM) }
        try await eventually("the due letter is ready and the report's expired lease is taken back", timeout: .seconds(20)) {
            let (letters, reports) = (try await cli.queue.stats(queue: "letters"), try await cli.queue.stats(queue: "reports"))
            return (letters.ready, letters.delayed, reports.ready, reports.leased) == (1, 0, 1, 0)
        }
        #expect(try await cli.queue.fetch(queue: "letters", limit: 1, lease: .seconds(30), worker: "back").first?.envelope.id == delayed.id)
        serve.send(SIGTERM)
        _ = await serve.exited()
    }

    /// Through Supabase's transaction pooler (port 6543) `LISTEN` hears nothing: the outbox relay says at start
    /// that it polls instead.
    @Test func serveThroughTheTransactionPoolerSaysItsRelayPolls() async throws {
        let cli = try PhoenixCLI()
        let serve = try cli.start(["serve", "--host", "127.0.0.1", "--port", "0"], name: "pooler",
                                  extraEnvironment: Self.serveEnvironment.merging(["DATABASE_URL": "postgres://nobody@127.0.0.1:6543/none"]) { $1 })
        defer { serve.send(SIGTERM) }
        try await eventually("serve is up") { cli.output(of: "pooler").contains("Phoenix Jobs API listening") }
        #expect(cli.output(of: "pooler").contains("outbox relay polls every 1.0 seconds without LISTEN"), "\(cli.output(of: "pooler").suffix(2_000))")
        serve.send(SIGTERM)
        #expect(ChildProcess.exitCode(ofStatus: await serve.exited()) == 0)
    }

    /// `ENABLE_EVENT_PROCESSING=false`: an event bridge keeps running (and beating) for its other queues and
    /// takes no events; a malformed value stops start-up with one line naming the variable.
    @Test func disabledEventProcessingKeepsEventsQueuedWhileTheOtherQueuesRun() async throws {
        let cli = try PhoenixCLI()
        let event = JobEnvelope(type: "event.publish", queue: "events", payload: .object(["stream_id": .string(UUID().uuidString.lowercased()), "event_type": .string("cv.viewed"), "app_source": .string("cv")]))
        let noop = JobEnvelope(type: "diagnostic.noop", queue: "diagnostics")
        try await cli.queue.enqueue([event, noop])
        let database = try TestPostgres.url()
        let worker = try cli.start(["work", "--type", "event_bridge,diagnostics"], name: "no-events", extraEnvironment: ["ENABLE_EVENT_PROCESSING": "false", "DATABASE_URL": database])
        try await eventually("the diagnostics job ran") { try await cli.queue.stats(queue: "diagnostics").completed == 1 }
        // Several fetch rounds later, the event still waits.
        try await Task.sleep(for: .seconds(1))
        let events = try await cli.queue.stats(queue: "events")
        #expect((events.ready, events.leased, events.completed) == (1, 0, 0))
        let registered = try await cli.queue.liveWorkers(staleAfter: .seconds(30))
        #expect(registered.map(\.queues) == [["diagnostics"]], "the worker is registered, serving diagnostics only")
        worker.send(SIGTERM)
        #expect(ChildProcess.exitCode(ofStatus: await worker.exited()) == 0)
        #expect(cli.output(of: "no-events").contains("Event processing is disabled (ENABLE_EVENT_PROCESSING=false)"))

        let (status, output) = try await cli.run(["work", "--type", "diagnostics"], extraEnvironment: ["ENABLE_EVENT_PROCESSING": "maybe"])
        #expect(status == 1)
        #expect(output.trimmingCharacters(in: .whitespacesAndNewlines) == "Error: ENABLE_EVENT_PROCESSING: must be true or false, got 'maybe'")
        let (serveStatus, serveOutput) = try await cli.run(["serve", "--port", "0"], extraEnvironment: Self.serveEnvironment.merging(["ENABLE_EVENT_PROCESSING": "off"]) { $1 })
        #expect(serveStatus == 1)
        #expect(serveOutput.trimmingCharacters(in: .whitespacesAndNewlines) == "Error: ENABLE_EVENT_PROCESSING: must be true or false, got 'off'")
    }
}
