import Synchronization

/// How a piece of work run against a deadline ended.
enum TimedResult<Value: Sendable>: Sendable {
    case finished(Value)
    case timedOut
    case cancelled
}

/// Runs `work` against `timeout` and returns as soon as one of them ends, or the caller is cancelled, or
/// `cancellation` is.
///
/// The work runs in a task of its own, which is cancelled when it loses, but not waited for: a handler that
/// ignores cancellation (a database call whose connection died under it, say) cannot hold the job's slot or
/// the worker's shutdown. Whatever such work still does later is harmless to the queue (its lease is gone)
/// and to the results (runs are recorded effectively once, `PhoenixStore.runOnce`); one who must know when
/// it ended waits through ``RaceCancellation/workEnded(within:)``.
func race<Value: Sendable>(_ timeout: Duration, cancellation: RaceCancellation? = nil, _ work: @escaping @Sendable () async -> Value) async -> TimedResult<Value> {
    let race = Race<Value>()
    return await withTaskCancellationHandler {
        await withCheckedContinuation { continuation in
            if let task = race.start(continuation, timeout: timeout, work: work) {
                cancellation?.attach(task) { race.finish(.cancelled) }
            }
        }
    } onCancel: {
        race.finish(.cancelled)
    }
}

/// Lets another task than the caller end a ``race(_:cancellation:_:)`` as cancelled (a running job whose
/// cancellation was asked), and then wait for the work to stop.
final class RaceCancellation: Sendable {
    private struct State {
        var cancelled = false
        var work: Task<Void, Never>?
        var finish: (@Sendable () -> Void)?
    }
    /// Guards whether it was cancelled, and the race's work and its way to end the race.
    private let state = Mutex(State())

    /// Ends the race as cancelled (at once, or as soon as it starts).
    func cancel() {
        let finish = state.withLock { state -> (@Sendable () -> Void)? in
            state.cancelled = true
            return state.finish
        }
        finish?()
    }

    /// Whether ``cancel()`` was called.
    var isCancelled: Bool { state.withLock(\.cancelled) }

    /// Waits until the race's work ended, or `limit` passed; returns whether it ended.
    func workEnded(within limit: Duration) async -> Bool {
        guard let work = state.withLock(\.work) else { return true }
        if case .finished = await race(limit, { await work.value }) { return true }
        return false
    }

    fileprivate func attach(_ work: Task<Void, Never>, finish: @escaping @Sendable () -> Void) {
        let cancelled = state.withLock { state in
            state.work = work
            state.finish = finish
            return state.cancelled
        }
        if cancelled { finish() }
    }
}

/// The state of one ``race(_:_:)``: the waiting caller, the work's task, its deadline, and whether it is decided.
private final class Race<Value: Sendable>: Sendable {
    private struct State {
        var continuation: CheckedContinuation<TimedResult<Value>, Never>?
        var outcome: TimedResult<Value>?
        var work: Task<Void, Never>?
        var deadline: DeadlineWatch.Ticket?
    }

    /// Guards the caller, the outcome, the work's task and the deadline's ticket.
    private let state = Mutex(State())

    /// Starts the work and its deadline; returns the work's task (`nil` when the race was over before it began).
    @discardableResult
    func start(_ continuation: CheckedContinuation<TimedResult<Value>, Never>, timeout: Duration, work: @escaping @Sendable () async -> Value) -> Task<Void, Never>? {
        let alreadyOver: TimedResult<Value>? = state.withLock { state in
            if let outcome = state.outcome { return outcome }  // cancelled before it started
            state.continuation = continuation
            return nil
        }
        if let alreadyOver {
            continuation.resume(returning: alreadyOver)
            return nil
        }
        let worker = Task { self.finish(.finished(await work())) }
        let deadline = DeadlineWatch.shared.add(at: .now + timeout) { self.finish(.timedOut) }
        let decided = state.withLock { state in
            state.work = worker
            state.deadline = deadline
            return state.outcome != nil
        }
        if decided {
            worker.cancel()
            DeadlineWatch.shared.remove(deadline)
        }
        return worker
    }

    /// Decides the race once; later calls do nothing.
    func finish(_ outcome: TimedResult<Value>) {
        let (continuation, work, deadline) = state.withLock { state in
            guard state.outcome == nil else { return (CheckedContinuation<TimedResult<Value>, Never>?.none, Task<Void, Never>?.none, DeadlineWatch.Ticket?.none) }
            state.outcome = outcome
            defer {
                state.continuation = nil
                state.work = nil
                state.deadline = nil
            }
            return (state.continuation, state.work, state.deadline)
        }
        if case .finished = outcome {} else { work?.cancel() }
        if let deadline { DeadlineWatch.shared.remove(deadline) }
        continuation?.resume(returning: outcome)
    }
}

/// Every race's deadline, watched by one sleeping task: a timer task per race cost a busy worker a task, a
/// timer and their cancellation per job. The sleeper wakes at the earliest deadline it knows (or one added
/// later that comes sooner), fires the deadlines passed, and sleeps until the next one.
final class DeadlineWatch: Sendable {
    /// One deadline: removed when its race ends first.
    struct Ticket: Hashable, Sendable {
        fileprivate let number: UInt64
    }

    private struct Entry {
        let at: ContinuousClock.Instant
        let fire: @Sendable () -> Void
    }

    private struct State {
        var entries: [Ticket: Entry] = [:]
        var nextNumber: UInt64 = 0
        /// When the sleeper wakes, while one sleeps.
        var wakeAt: ContinuousClock.Instant?
        var sleeper: Task<Void, Never>?
    }

    /// The watch every race uses.
    static let shared = DeadlineWatch()

    /// Guards the deadlines and the sleeper.
    private let state = Mutex(State())

    /// Calls `fire` at `deadline` unless ``remove(_:)`` comes first.
    func add(at deadline: ContinuousClock.Instant, fire: @escaping @Sendable () -> Void) -> Ticket {
        state.withLock { state in
            let ticket = Ticket(number: state.nextNumber)
            state.nextNumber += 1
            state.entries[ticket] = Entry(at: deadline, fire: fire)
            if state.wakeAt.map({ deadline < $0 }) ?? true { sleep(until: deadline, &state) }
            return ticket
        }
    }

    /// Forgets a deadline that has not fired.
    func remove(_ ticket: Ticket) {
        _ = state.withLock { $0.entries.removeValue(forKey: ticket) }
    }

    /// Deadlines not yet fired nor removed.
    var pending: Int { state.withLock { $0.entries.count } }

    /// Replaces the sleeper by one that wakes at `instant`.
    private func sleep(until instant: ContinuousClock.Instant, _ state: inout State) {
        state.sleeper?.cancel()
        state.wakeAt = instant
        state.sleeper = Task {
            guard (try? await Task.sleep(until: instant, clock: .continuous)) != nil else { return }
            self.fireDue()
        }
    }

    /// Fires the deadlines passed, and sleeps until the earliest left.
    private func fireDue() {
        let now = ContinuousClock.now
        let due = state.withLock { state -> [@Sendable () -> Void] in
            let passed = state.entries.filter { $0.value.at <= now }
            for ticket in passed.keys { state.entries.removeValue(forKey: ticket) }
            state.wakeAt = nil
            state.sleeper = nil
            if let next = state.entries.values.map(\.at).min() { sleep(until: next, &state) }
            return passed.values.map(\.fire)
        }
        for fire in due { fire() }
    }
}
