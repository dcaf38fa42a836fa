import Synchronization

/// The worker's concurrency limit: `capacity` slots, taken when a job starts and given back when it ends.
final class JobSlots: Sendable {
    private struct State {
        var free: Int
        var waiter: CheckedContinuation<Void, Never>?
        /// Free slots the waiter waits for (or the next one, until it comes).
        var wanted = 1
        var stopped = false
    }

    /// How many jobs may run at once.
    let capacity: Int
    private let state: Mutex<State>

    init(capacity: Int) {
        self.capacity = capacity
        self.state = Mutex(State(free: capacity))
    }

    /// Jobs running now.
    var busy: Int { capacity - state.withLock { $0.free } }

    /// Takes up to `count` free slots without waiting; returns how many it took.
    func take(upTo count: Int) -> Int {
        state.withLock { state in
            let taken = min(count, state.free)
            state.free -= taken
            return taken
        }
    }

    /// Gives `count` slots back, waking the waiter once as many are free as it waits for.
    func put(_ count: Int = 1) {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            state.free += count
            guard state.free >= state.wanted else { return nil }
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume()
    }

    /// Returns once a slot is free or ``stop()`` was called. One waiter at a time (the fetch loop).
    func waitForFreeSlot() async {
        await waitUntil(free: 1)
    }

    /// Returns once a slot is free, and then, while jobs run, once `batch` slots are free or `linger` has
    /// passed (or at ``stop()``): a worker whose jobs end one by one fetches them in batches rather than
    /// one job per fetch, each fetch costing Redis a script call, at the price of starting a job at most
    /// `linger` later while it is busy. An idle worker fetches at once.
    func waitForFreeSlots(batch: Int, linger: Duration) async {
        await waitForFreeSlot()
        // What the wait is for is set before its linger starts, so that a linger over before the wait
        // begins still ends it (``endLinger()`` lowers it).
        let lingering = state.withLock { state -> Bool in
            guard state.free < batch, state.free < capacity, !state.stopped else { return false }
            state.wanted = batch
            return true
        }
        guard lingering else { return }
        let deadline = DeadlineWatch.shared.add(at: .now + linger) { [self] in endLinger() }
        await waitUntilWanted()
        DeadlineWatch.shared.remove(deadline)
    }

    private func waitUntil(free wanted: Int) async {
        state.withLock { $0.wanted = wanted }
        await waitUntilWanted()
    }

    /// Returns once as many slots are free as the waiter wants, or at ``stop()``.
    private func waitUntilWanted() async {
        await withCheckedContinuation { continuation in
            let ready = state.withLock { state in
                if state.free >= state.wanted || state.stopped { return true }
                state.waiter = continuation
                return false
            }
            if ready { continuation.resume() }
        }
    }

    /// The linger is over: the waiter wants one free slot, which it has.
    private func endLinger() {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            state.wanted = 1
            guard state.free >= 1 else { return nil }
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume()
    }

    /// Wakes the waiter for good: the worker is stopping.
    func stop() {
        let waiter = state.withLock { state in
            state.stopped = true
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume()
    }
}
