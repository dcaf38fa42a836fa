import Synchronization

/// The worker's concurrency limit: `capacity` slots, taken when a job starts and given back when it ends.
final class JobSlots: Sendable {
    private struct State {
        var free: Int
        var waiter: CheckedContinuation<Void, Never>?
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

    /// Gives `count` slots back, waking the waiter.
    func put(_ count: Int = 1) {
        let waiter = state.withLock { state in
            state.free += count
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume()
    }

    /// Returns once a slot is free or ``stop()`` was called. One waiter at a time (the fetch loop).
    func waitForFreeSlot() async {
        await withCheckedContinuation { continuation in
            let ready = state.withLock { state in
                if state.free > 0 || state.stopped { return true }
                state.waiter = continuation
                return false
            }
            if ready { continuation.resume() }
        }
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
