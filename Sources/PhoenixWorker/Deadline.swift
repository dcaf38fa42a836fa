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

/// The state of one ``race(_:_:)``: the waiting caller, the two tasks, and whether it is decided.
private final class Race<Value: Sendable>: Sendable {
    private struct State {
        var continuation: CheckedContinuation<TimedResult<Value>, Never>?
        var outcome: TimedResult<Value>?
        var tasks: [Task<Void, Never>] = []
    }

    private let state = Mutex(State())

    /// Starts the work and the timer; returns the work's task (`nil` when the race was over before it began).
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
        let timer = Task {
            guard (try? await Task.sleep(for: timeout)) != nil else { return }
            self.finish(.timedOut)
        }
        let decided = state.withLock { state in
            state.tasks = [worker, timer]
            return state.outcome != nil
        }
        if decided {
            worker.cancel()
            timer.cancel()
        }
        return worker
    }

    /// Decides the race once; later calls do nothing.
    func finish(_ outcome: TimedResult<Value>) {
        let (continuation, tasks) = state.withLock { state -> (CheckedContinuation<TimedResult<Value>, Never>?, [Task<Void, Never>]) in
            guard state.outcome == nil else { return (nil, []) }
            state.outcome = outcome
            defer {
                state.continuation = nil
                state.tasks = []
            }
            return (state.continuation, state.tasks)
        }
        for task in tasks { task.cancel() }
        continuation?.resume(returning: outcome)
    }
}
