import Synchronization

/// How a piece of work run against a deadline ended.
enum TimedResult<Value: Sendable>: Sendable {
    case finished(Value)
    case timedOut
    case cancelled
}

/// Runs `work` against `timeout` and returns as soon as one of them ends, or the caller is cancelled.
///
/// The work runs in a task of its own, which is cancelled when it loses, but not waited for: a handler that
/// ignores cancellation (a database call whose connection died under it, say) cannot hold the job's slot or
/// the worker's shutdown. Whatever such work still does later is harmless to the queue (its lease is gone)
/// and to the results (runs are recorded effectively once, `PhoenixStore.runOnce`).
func race<Value: Sendable>(_ timeout: Duration, _ work: @escaping @Sendable () async -> Value) async -> TimedResult<Value> {
    let race = Race<Value>()
    return await withTaskCancellationHandler {
        await withCheckedContinuation { continuation in
            race.start(continuation, timeout: timeout, work: work)
        }
    } onCancel: {
        race.finish(.cancelled)
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

    func start(_ continuation: CheckedContinuation<TimedResult<Value>, Never>, timeout: Duration, work: @escaping @Sendable () async -> Value) {
        let alreadyOver: TimedResult<Value>? = state.withLock { state in
            if let outcome = state.outcome { return outcome }  // cancelled before it started
            state.continuation = continuation
            return nil
        }
        if let alreadyOver {
            continuation.resume(returning: alreadyOver)
            return
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
