import Synchronization
import Testing
@testable import PhoenixWorker

/// Every race's deadline is watched by one sleeper (``DeadlineWatch``): a deadline removed in time never
/// fires and leaves nothing behind, and a deadline added after a later one still fires first. (The later one
/// is a minute away, so that a loaded machine cannot make the two fire together.)
@Suite struct DeadlineTests {
    @Test func removedDeadlinesLeaveNothingAndDeadlinesFireInTheirOrder() async throws {
        let watch = DeadlineWatch()
        let fired = Mutex<[String]>([])
        let tickets = (0..<200).map { _ in watch.add(at: .now + .seconds(60)) { fired.withLock { $0.append("removed") } } }
        tickets.forEach(watch.remove)
        #expect(watch.pending == 0)

        let (ends, end) = AsyncStream<Void>.makeStream()
        let long = watch.add(at: .now + .seconds(60)) { fired.withLock { $0.append("long") }; end.yield() }
        // Added after the 60 s deadline but due sooner: the sleeper must wake for it, not at the 60 s one.
        _ = watch.add(at: .now + .milliseconds(100)) { fired.withLock { $0.append("short") }; end.yield() }
        var iterator = ends.makeAsyncIterator()
        await iterator.next()
        #expect(fired.withLock { $0 } == ["short"], "the short deadline fired only with the long one")
        #expect(watch.pending == 1)
        watch.remove(long)
        // The sleeper, waiting for the removed deadline, still wakes for one added after.
        _ = watch.add(at: .now + .milliseconds(50)) { fired.withLock { $0.append("next") }; end.yield() }
        await iterator.next()
        #expect(fired.withLock { $0 } == ["short", "next"])
        #expect(watch.pending == 0)
    }

    @Test func aRaceEndsWithItsWorkOrItsTimeout() async {
        guard case .finished(7) = await race(.seconds(60), { 7 }) else { Issue.record("a finished race did not say so"); return }
        guard case .timedOut = await race(.milliseconds(50), { try? await Task.sleep(for: .seconds(30)) }) else {
            Issue.record("a race outlived its timeout")
            return
        }
    }
}
