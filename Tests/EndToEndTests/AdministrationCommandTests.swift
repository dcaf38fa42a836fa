import Foundation
import PhoenixJobsCore
import PhoenixQueue
import Testing
import TestSupport

/// Operators' commands run as the real executable against the test Redis.
@Suite struct AdministrationCommandTests {
    /// `phoenix cancel`: a waiting job at once, a running one marked for its worker, and an exit status that
    /// says when an id was not cancelled; `phoenix queue flow --tpm` sets the token budget.
    @Test func cancelAndTheTokenBudgetFromTheCommandLine() async throws {
        let cli = try PhoenixCLI()
        let waiting = JobEnvelope(type: "diagnostic.noop", queue: "diagnostics", delay: .seconds(3600))
        let running = JobEnvelope(type: "diagnostic.noop", queue: "diagnostics")
        try await cli.queue.enqueue([waiting, running])
        #expect(try await cli.queue.fetch(queue: "diagnostics", limit: 1, lease: .seconds(60), worker: "w").map(\.envelope.id) == [running.id])

        let cancelled = try await cli.run(["cancel", waiting.idString, running.idString.uppercased()])
        #expect(cancelled.status == 0, "\(cancelled.output)")
        #expect(cancelled.output.contains("\(waiting.idString): cancelled"))
        #expect(cancelled.output.contains("\(running.idString): running; its worker cancels it at its next heartbeat"))
        #expect(try await cli.queue.job(id: waiting.idString)?.state == .cancelled)

        let again = try await cli.run(["cancel", waiting.idString])
        #expect(again.status == 1 && again.output.contains("cancelled, nothing to cancel"))
        let malformed = try await cli.run(["cancel", "not-a-job"])
        #expect(malformed.status == 64 && malformed.output.contains("'not-a-job' is not a job id"))

        let flow = try await cli.run(["queue", "flow", "diagnostics", "--tpm", "90000"])
        #expect(flow.status == 0 && flow.output.contains("at most 90000 tokens per minute"), "\(flow.output)")
        #expect(try await cli.queue.flowSettings(queue: "diagnostics").tokensPerMinute == 90_000)
        let refused = try await cli.run(["queue", "flow", "diagnostics", "--tpm", "0"])
        #expect(refused.status == 64)
    }
}
