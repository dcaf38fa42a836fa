import Synchronization
import Testing
@testable import PhoenixWorker

/// A busy worker fetches in batches: the fetch loop waits for half its slots, or for the linger to pass.
@Suite struct JobSlotsTests {
    @Test func aBusyWorkerWaitsForABatchOfFreeSlotsOrTheLingerAndAnIdleOneDoesNot() async throws {
        let slots = JobSlots(capacity: 4)
        // Idle: at once, whatever the linger.
        await slots.waitForFreeSlots(batch: 2, linger: .seconds(3600))
        #expect(slots.take(upTo: 4) == 4)

        let returned = Mutex(false)
        let waiting = Task {
            await slots.waitForFreeSlots(batch: 2, linger: .seconds(3600))
            returned.withLock { $0 = true }
        }
        slots.put()
        try await Task.sleep(for: .milliseconds(100))
        #expect(!returned.withLock { $0 }, "returned with one slot free of the two it waits for")
        slots.put()
        await waiting.value
        #expect(slots.take(upTo: 4) == 2)

        // One slot free and a short linger: it goes with the one.
        slots.put()
        await slots.waitForFreeSlots(batch: 2, linger: .milliseconds(20))
        #expect(slots.take(upTo: 4) == 1)
    }

    /// A linger that ends before the wait for the batch has begun still ends the wait: the fetch loop must
    /// not wait for the batch with one slot free and every other job running for minutes.
    @Test func aLingerOverBeforeTheWaitBeganStillEndsIt() async {
        let slots = JobSlots(capacity: 4)
        for _ in 0..<2_000 {
            #expect(slots.take(upTo: 4) == 4)
            slots.put()
            guard case .finished = await race(.seconds(10), { await slots.waitForFreeSlots(batch: 4, linger: .zero) }) else {
                Issue.record("waited for the batch after the linger was over")
                return
            }
            #expect(slots.take(upTo: 4) == 1)
            slots.put(4)
        }
    }
}
