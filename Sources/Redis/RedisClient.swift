public import Logging

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

    private func onConnection<T: Sendable>(
        _ pool: ConnectionThreadPool,
        _ body: @escaping @Sendable (RedisConnection) throws(RedisError) -> T
    ) async throws(RedisError) -> T {
        let result: Result<T, RedisError> = await withCheckedContinuation { continuation in
            let item = ConnectionThreadPool.WorkItem(
                run: { connection in
                    continuation.resume(returning: Result { () throws(RedisError) -> T in try body(connection) })
                },
                abandon: { continuation.resume(returning: .failure(.shutdown)) }
            )
            if !pool.submit(item) { continuation.resume(returning: .failure(.shutdown)) }
        }
        return try result.get()
    }
}
