public import Logging
import Synchronization

/// An async Redis client over hiredis, safe to share between tasks.
///
/// Every hiredis call runs on a thread of the client's own, never on Swift's cooperative pool: ordinary
/// commands on a fixed set of `poolSize` connections, blocking commands (`BLPOP`, `BLMOVE`, …) on a
/// separate set that grows on demand, so a caller waiting on a list never holds up anyone else.
///
/// A connection that broke while idle is re-established before the next call; one that breaks before a
/// call got any reply is re-established (with exponential backoff, up to `reconnectTimeout`) and the call
/// is sent once more. Callers only see ``RedisError/connectionLost(_:)`` when a reply was cut off half-way
/// or the retry failed too, and ``RedisError/connectionFailed(_:)`` when the server stayed unreachable.
/// Calls honour task cancellation (``RedisError/cancelled``), so a caller can give up on a server that does
/// not answer.
public final class RedisClient: Sendable {
    /// The server this client talks to.
    public let configuration: RedisConfiguration
    private let registry = ConnectionRegistry()
    private let commandPool: ConnectionThreadPool
    private let blockingPool: ConnectionThreadPool

    /// A client for one server.
    /// - Parameters:
    ///   - poolSize: connections (and threads) for ordinary commands.
    ///   - maxBlockingConnections: upper bound of connections held by concurrent blocking commands.
    public init(
        configuration: RedisConfiguration,
        poolSize: Int = 4,
        maxBlockingConnections: Int = 32,
        logger: Logger = Logger(label: "phoenix.redis")
    ) {
        self.configuration = configuration
        let registry = self.registry
        let makeConnection: @Sendable () -> RedisConnection = {
            RedisConnection(configuration: configuration, registry: registry, logger: logger)
        }
        commandPool = ConnectionThreadPool(name: "redis", maxThreads: poolSize, makeConnection: makeConnection)
        blockingPool = ConnectionThreadPool(name: "redis-blocking", maxThreads: maxBlockingConnections, makeConnection: makeConnection)
    }

    deinit { shutdown() }

    /// Sends one command and returns its reply; an error reply throws ``RedisError/server(code:message:)``.
    @discardableResult
    public func send(_ command: RedisCommand) async throws(RedisError) -> RedisValue {
        try await onConnection(commandPool) { connection throws(RedisError) in
            try connection.execute([command])[0].get()
        }
    }

    /// Sends one command given by name and arguments, e.g. `send("LPUSH", key, value)`.
    @discardableResult
    public func send(_ name: String, _ arguments: any RedisArgumentConvertible...) async throws(RedisError) -> RedisValue {
        try await send(RedisCommand(name, arguments: arguments))
    }

    /// Sends many commands in one round trip and returns one result per command, error replies included.
    public func pipeline(_ commands: [RedisCommand]) async throws(RedisError) -> [Result<RedisValue, RedisError>] {
        guard !commands.isEmpty else { return [] }
        return try await onConnection(commandPool) { connection throws(RedisError) in
            try connection.execute(commands)
        }
    }

    /// Runs a Lua script by its SHA-1, loading it first when the server does not know it.
    @discardableResult
    public func run(_ script: RedisScript, keys: [String] = [], arguments: [any RedisArgumentConvertible] = []) async throws(RedisError) -> RedisValue {
        let call = script.evalsha(keys: keys, arguments: arguments)
        return try await onConnection(commandPool) { connection throws(RedisError) in
            let reply = try connection.execute([call])[0]
            guard case .failure(.server(code: "NOSCRIPT", _)) = reply else { return try reply.get() }
            let loaded = try connection.execute([RedisCommand("SCRIPT", "LOAD", script.source), call])
            _ = try loaded[0].get()
            return try loaded[1].get()
        }
    }

    /// Sends a command that may block on the server for up to `timeout` (`BLPOP keys… timeout` and the
    /// like), on a connection of its own so that it never delays other callers.
    @discardableResult
    public func sendBlocking(_ command: RedisCommand, timeout: Duration) async throws(RedisError) -> RedisValue {
        try await onConnection(blockingPool) { connection throws(RedisError) in
            try connection.execute([command], blockingFor: timeout)[0].get()
        }
    }

    /// Closes every connection; calls in flight (blocking ones included) and later calls fail with
    /// ``RedisError/shutdown`` or a lost connection.
    public func shutdown() {
        registry.shutDown()
        commandPool.shutDown()
        blockingPool.shutDown()
    }

    /// Runs `body` on a thread of `pool` and returns its result. When the calling task is cancelled first,
    /// the call returns ``RedisError/cancelled`` at once: a call still waiting for a thread never runs, one
    /// already running finishes on its thread and its result is dropped (so the server may have run it).
    private func onConnection<T: Sendable>(
        _ pool: ConnectionThreadPool,
        _ body: @escaping @Sendable (RedisConnection) throws(RedisError) -> T
    ) async throws(RedisError) -> T {
        let call = PendingCall<T>()
        let result: Result<T, RedisError> = await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                guard call.start(continuation) else { return }
                let item = ConnectionThreadPool.WorkItem(
                    run: { connection in
                        guard call.isWaiting else { return }
                        call.finish(Result { () throws(RedisError) -> T in try body(connection) })
                    },
                    abandon: { call.finish(.failure(.shutdown)) }
                )
                if !pool.submit(item) { call.finish(.failure(.shutdown)) }
            }
        } onCancel: {
            call.finish(.failure(.cancelled))
        }
        return try result.get()
    }
}

/// One call's waiting caller, resumed exactly once: by the result, by shutdown, or by cancellation.
private final class PendingCall<T: Sendable>: Sendable {
    private struct State {
        var continuation: CheckedContinuation<Result<T, RedisError>, Never>?
        /// Set once the call is decided; a decision before the continuation arrives waits here.
        var outcome: Result<T, RedisError>?
    }

    /// Guards the continuation and the outcome.
    private let state = Mutex(State())

    /// Hands over the caller's continuation; `false` (after resuming it) when the call was already decided,
    /// cancelled before it started.
    func start(_ continuation: CheckedContinuation<Result<T, RedisError>, Never>) -> Bool {
        let decided = state.withLock { state -> Result<T, RedisError>? in
            if let outcome = state.outcome { return outcome }
            state.continuation = continuation
            return nil
        }
        guard let decided else { return true }
        continuation.resume(returning: decided)
        return false
    }

    /// Whether nothing has decided the call yet (a thread skips a call cancelled while it waited).
    var isWaiting: Bool { state.withLock { $0.outcome == nil } }

    /// Decides the call; later decisions are ignored.
    func finish(_ outcome: Result<T, RedisError>) {
        let continuation = state.withLock { state -> CheckedContinuation<Result<T, RedisError>, Never>? in
            guard state.outcome == nil else { return nil }
            state.outcome = outcome
            defer { state.continuation = nil }
            return state.continuation
        }
        continuation?.resume(returning: outcome)
    }
}
