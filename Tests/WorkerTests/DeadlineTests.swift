import Synchronization
import Testing
@testable import PhoenixWorker

/// Every race's deadline is watched by one sleeper (``DeadlineWatch``): a race ended by its work leaves no
/// deadline behind, and a deadline added after a later one still fires first.
@Suite struct DeadlineTests {
    @Test func racesEndedByTheirWorkLeaveNoDeadlineAndTimeoutsFireInDeadlineOrder() async throws {
        let before = DeadlineWatch.shared.pending
        for _ in 0..<200 {
            guard case .finished(7) = await race(.seconds(60), { 7 }) else { Issue.record("a finished race did not say so"); return }
        }
        // Other suites race too, so only this suite's share is counted: none of its 200 is left.
        #expect(DeadlineWatch.shared.pending <= before)

        let longEnded = Mutex(false)
        let long = Task {
            let result = await race(.seconds(2)) { try? await Task.sleep(for: .seconds(30)) }
            longEnded.withLock { $0 = true }
            return result
        }
        try await Task.sleep(for: .milliseconds(50))
        // Added after the 2 s deadline but due sooner: the sleeper must wake for it, not at the 2 s one.
        let short = await race(.milliseconds(100)) { try? await Task.sleep(for: .seconds(30)) }
        guard case .timedOut = short else { Issue.record("the short race did not time out"); return }
        #expect(!longEnded.withLock { $0 }, "the short deadline fired only with the long one")
        guard case .timedOut = await long.value else { Issue.record("the long race did not time out"); return }
    }
}
