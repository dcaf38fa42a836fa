public import Logging
import NIOCore
import NIOPosix
import Synchronization

/// An async Redis client on SwiftNIO, safe to share between tasks.
///
/// Its connections run on NIO's event loops: ordinary commands share `poolSize` connections, pipelined
/// (callers' requests are written as they come and replies matched in order); blocking commands (`BLPOP`,
/// `BLMOVE`, …) each take a connection of their own, so a caller waiting on a list never holds up anyone
/// else. No thread ever waits on a socket.
///
/// A connection that broke is replaced by the next call that needs it (with exponential backoff, up to
/// `reconnectTimeout`); a call whose connection broke before any of its replies came is sent once more on a
/// new one. Callers only see ``RedisError/connectionLost(_:)`` when a reply was cut off half-way or the retry
/// failed too, and ``RedisError/connectionFailed(_:)`` when the server stayed unreachable. Calls honour task
/// cancellation: the caller gets ``RedisError/cancelled`` at once (the server may still run what was sent;
/// a blocking command's connection is closed, which stops it).
public final class RedisClient: Sendable {
    /// The server this client talks to.
    public let configuration: RedisConfiguration
    /// Where requests go: one server's pools, or a cluster's nodes.
    let route: Route
    let shutDownFlag: ShutDownFlag

    /// A client for one server. With ``RedisConfiguration/tls`` set it reads the TLS files here (a few small
    /// files, once); settings that cannot be used fail every call with ``RedisError/connectionFailed(_:)``
    /// naming the file (``RedisTLS/check()`` finds that out before).
    /// - Parameters:
    ///   - poolSize: connections shared by ordinary commands.
    ///   - maxBlockingConnections: idle connections kept for blocking commands (more are opened while more
    ///     blocking calls run at once).
    public init(
        configuration: RedisConfiguration,
        poolSize: Int = 4,
        maxBlockingConnections: Int = 32,
        logger: Logger = Logger(label: "phoenix.redis")
    ) {
        self.configuration = configuration
        let flag = ShutDownFlag()
        shutDownFlag = flag
        // The TLS files are read here, once; settings that cannot be used fail every call with the reason.
        let tls = configuration.tls.map { settings in Result { () throws(RedisConfigurationError) in try settings.makeContext() } }
        let connector = { @Sendable (configuration: RedisConfiguration) in
            RedisConnector(configuration: configuration, group: MultiThreadedEventLoopGroup.singleton, tls: tls, logger: logger, isShutDown: { flag.isSet })
        }
        if let cluster = configuration.cluster {
            route = .cluster(ClusterConnections(seeds: cluster.nodes, poolSize: poolSize, maxBlockingConnections: maxBlockingConnections) { address in
                // A node that does not answer is not waited for: the cluster may have failed it over, which
                // learning the slot map again finds out (``RedisClient/executeInCluster``).
                var node = configuration
                node.cluster = nil
                node.host = address.host
                node.port = address.port
                node.reconnectTimeout = .zero
                return connector(node)
            })
        } else {
            let single = connector(configuration)
            let shared = SharedConnections(count: poolSize, connector: single)
            route = .single(shared: shared, exclusive: ExclusiveConnections(maxIdle: maxBlockingConnections, connector: single, companion: shared))
        }
    }

    deinit { shutdown() }

    /// Whether the client talks to a Redis Cluster, where a multi-key command must keep to one slot.
    public var isCluster: Bool { configuration.cluster != nil }

    /// Sends one command and returns its reply; an error reply throws ``RedisError/server(code:message:)``.
    @discardableResult
    public func send(_ command: RedisCommand) async throws(RedisError) -> RedisValue {
        try await execute([command], blocking: false, timeout: configuration.commandTimeout)[0].get()
    }

    /// Sends one command given by name and arguments, e.g. `send("LPUSH", key, value)`.
    @discardableResult
    public func send(_ name: String, _ arguments: any RedisArgumentConvertible...) async throws(RedisError) -> RedisValue {
        try await send(RedisCommand(name, arguments: arguments))
    }

    /// Sends many commands in one round trip and returns one result per command, error replies included.
    public func pipeline(_ commands: [RedisCommand]) async throws(RedisError) -> [Result<RedisValue, RedisError>] {
        guard !commands.isEmpty else { return [] }
        guard case .cluster = route else { return try await execute(commands, blocking: false, timeout: configuration.commandTimeout) }
        return try await pipelineInCluster(commands)
    }

    /// Runs a Lua script by its SHA-1, loading it first when the server does not know it.
    @discardableResult
    public func run(_ script: RedisScript, keys: [String] = [], arguments: [any RedisArgumentConvertible] = []) async throws(RedisError) -> RedisValue {
        try await run(script.call(keys: keys, arguments: arguments))
    }

    /// Runs a script call prepared beforehand (``RedisScript/call(keys:arguments:)``), loading the script first
    /// when the server does not know it.
    @discardableResult
    public func run(_ call: RedisScriptCall) async throws(RedisError) -> RedisValue {
        try await run(call, then: [], timeout: configuration.commandTimeout)[0].get()
    }

    /// Runs a Lua script, then waits until `replicas` replicas have acknowledged every write made before on
    /// its connection, the script's included (`WAIT`), or `timeout` has passed; returns the script's reply
    /// and how many replicas acknowledged. A write acknowledged by a replica survives the master's loss when
    /// that replica is promoted.
    public func runAcknowledged(
        _ script: RedisScript, keys: [String] = [], arguments: [any RedisArgumentConvertible] = [], replicas: Int, timeout: Duration
    ) async throws(RedisError) -> (reply: RedisValue, acknowledgedBy: Int) {
        try await runAcknowledged(script.call(keys: keys, arguments: arguments), replicas: replicas, timeout: timeout)
    }

    /// ``runAcknowledged(_:keys:arguments:replicas:timeout:)`` for a script call prepared beforehand.
    public func runAcknowledged(_ call: RedisScriptCall, replicas: Int, timeout: Duration) async throws(RedisError) -> (reply: RedisValue, acknowledgedBy: Int) {
        let wait = RedisCommand("WAIT", replicas, timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000)
        let replies = try await run(call, then: [wait], timeout: configuration.commandTimeout + timeout)
        let reply = try replies[0].get()
        guard let acknowledged = try replies[1].get().int else {
            throw .unexpectedReply("WAIT answered \(replies[1]) instead of a number of replicas")
        }
        return (reply, acknowledged)
    }

    /// Sends the script's `EVALSHA` and `extra` as one request (`SCRIPT LOAD` first when the server does not
    /// know the script); the replies of the call and of `extra`. Refused for now (`LOADING`, `READONLY`),
    /// the request is sent again as a whole, so `extra` always follows the call on its connection.
    private func run(_ prepared: RedisScriptCall, then extra: [RedisCommand], timeout: Duration) async throws(RedisError) -> [Result<RedisValue, RedisError>] {
        let call = prepared.command
        let replies = try await execute([call] + extra, blocking: false, timeout: timeout, resendingAsOne: !extra.isEmpty)
        guard case .failure(.server(code: "NOSCRIPT", _)) = replies[0] else { return replies }
        // One request, so the load and the call go on one connection in that order.
        let loaded = try await execute([RedisCommand("SCRIPT", "LOAD", prepared.script.source), call] + extra, blocking: false, timeout: timeout, resendingAsOne: true)
        _ = try loaded[0].get()
        return Array(loaded.dropFirst())
    }

    /// Sends a command that may block on the server for up to `timeout` (`BLPOP keys… timeout` and the
    /// like), on a connection of its own so that it never delays other callers.
    @discardableResult
    public func sendBlocking(_ command: RedisCommand, timeout: Duration) async throws(RedisError) -> RedisValue {
        try await execute([command], blocking: true, timeout: configuration.commandTimeout + timeout)[0].get()
    }

    /// Closes every connection; calls in flight (blocking ones included) and later calls fail with
    /// ``RedisError/shutdown`` or a lost connection.
    public func shutdown() {
        shutDownFlag.set()
        switch route {
        case .single(let shared, let exclusive):
            shared.shutDown()
            exclusive.shutDown()
        case .cluster(let cluster):
            cluster.shutDown()
        }
    }

    /// Where a client's requests go.
    enum Route: Sendable {
        /// One server (or the master the sentinels name): its shared and exclusive connections.
        case single(shared: SharedConnections, exclusive: ExclusiveConnections)
        /// A cluster: each request to the master of its keys' slot.
        case cluster(ClusterConnections)
    }

    /// Sends `commands` as one request, on an exclusive connection when `blocking`, to the server or, in a
    /// cluster, to the master of the slot of the first command that names a key. A blocking request with an
    /// `unblockable` handle can be ended early by ``unblock(_:)``.
    func execute(
        _ commands: [RedisCommand], blocking: Bool, timeout: Duration, resendingAsOne: Bool = false, unblockable: UnblockableCall? = nil
    ) async throws(RedisError) -> [Result<RedisValue, RedisError>] {
        switch route {
        case .single(let shared, let exclusive):
            if blocking { return try await execute(commands, on: exclusive, timeout: timeout, resendingAsOne: resendingAsOne, unblockable: unblockable) }
            return try await execute(commands, on: shared, timeout: timeout, resendingAsOne: resendingAsOne)
        case .cluster(let cluster):
            return try await executeInCluster(commands, cluster, blocking: blocking, timeout: timeout, resendingAsOne: resendingAsOne, unblockable: unblockable)
        }
    }

    /// Sends `commands` as one request and waits for their replies. A server still loading its dataset after
    /// a restart answers `LOADING`, and a master demoted to replica by a failover answers `READONLY` to a
    /// write, both without running the command; such commands are sent again with backoff (on a new
    /// connection after `READONLY`, to the master found again) until they run or `reconnectTimeout` has
    /// passed: only those commands, or with `resendingAsOne` the whole request.
    func execute(
        _ commands: [RedisCommand], on source: some RedisConnectionSource, timeout: Duration, resendingAsOne: Bool = false,
        unblockable: UnblockableCall? = nil
    ) async throws(RedisError) -> [Result<RedisValue, RedisError>] {
        var replies = try await request(commands, on: source, timeout: timeout, unblockable: unblockable)
        var backoff = Backoff(limit: configuration.reconnectTimeout)
        while true {
            let refused = replies.indices.filter { Self.isRefusedForNow(replies[$0]) }
            guard !refused.isEmpty else { return replies }
            let resent = resendingAsOne ? Array(replies.indices) : refused
            guard try await backoff.wait() else { return replies }
            let retried = try await request(resent.map { commands[$0] }, on: source, timeout: timeout, unblockable: unblockable)
            for (index, reply) in zip(resent, retried) { replies[index] = reply }
        }
    }

    /// Whether the server refused the command for a reason that passes: loading its dataset, or no longer
    /// the master.
    static func isRefusedForNow(_ reply: Result<RedisValue, RedisError>) -> Bool {
        if case .failure(.server(let code, _)) = reply { code == "LOADING" || code == "READONLY" } else { false }
    }

    static func isReadOnly(_ reply: Result<RedisValue, RedisError>) -> Bool {
        if case .failure(.server(code: "READONLY", _)) = reply { true } else { false }
    }

    /// One request on a connection of `source`, resumed at once with ``RedisError/cancelled`` when the calling
    /// task is cancelled first.
    private func request(
        _ commands: [RedisCommand], on source: some RedisConnectionSource, timeout: Duration, unblockable: UnblockableCall?
    ) async throws(RedisError) -> [Result<RedisValue, RedisError>] {
        if shutDownFlag.isSet { throw .shutdown }
        let call = PendingCall<[Result<RedisValue, RedisError>]>(closesConnectionOnCancel: source is ExclusiveConnections)
        let result = await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                guard call.start(continuation) else { return }
                attempt(commands, on: source, timeout: timeout, call: call, unblockable: unblockable, triedAgain: false)
            }
        } onCancel: {
            call.cancel()
        }
        return try result.get()
    }

    /// Sends the request on a connection of `source`; sends it once more on a new connection when the first
    /// broke before any reply came (the server closed it, or, rarely, ran the commands and died before
    /// answering, which is why the queue's scripts are safe to replay). An `unblockable` request first asks
    /// for its connection's client id (`CLIENT ID`), by which ``unblock(_:)`` ends it on the server.
    private func attempt(
        _ commands: [RedisCommand], on source: some RedisConnectionSource, timeout: Duration, call: PendingCall<[Result<RedisValue, RedisError>]>,
        unblockable: UnblockableCall?, triedAgain: Bool
    ) {
        source.connection().whenComplete { connection in
            let channel: any Channel
            switch connection {
            case .failure(let error):
                call.finish(.failure(error as? RedisError ?? .connectionFailed("\(error)")))
                return
            case .success(let open): channel = open
            }
            // A cancelled caller's blocking command is stopped by closing its connection.
            // A caller cancelled meanwhile sends nothing; the connection is as good as it was.
            guard call.attach(channel) else {
                source.release(channel, healthy: true)
                return
            }
            guard let unblockable, let exclusive = source as? ExclusiveConnections else {
                self.send(commands, on: channel, of: source, timeout: timeout, call: call, unblockable: nil, triedAgain: triedAgain)
                return
            }
            channel.sendRedisRequest([RedisCommand("CLIENT", "ID")], timeout: timeout).whenComplete { identified in
                // Without an id (a server that refuses CLIENT ID), ``unblock(_:)`` closes the connection instead.
                let id = (try? identified.get().first?.get())?.int
                guard unblockable.willBlock(clientID: id, channel: channel, companion: exclusive.companion) else {
                    source.release(channel, healthy: true)
                    call.finish(.success(commands.map { _ in .success(.null) }))
                    return
                }
                self.send(commands, on: channel, of: source, timeout: timeout, call: call, unblockable: unblockable, triedAgain: triedAgain)
            }
        }
    }

    /// Sends the request on `channel`, taken from `source`, and decides `call` with its replies (see ``attempt``).
    private func send(
        _ commands: [RedisCommand], on channel: any Channel, of source: some RedisConnectionSource, timeout: Duration,
        call: PendingCall<[Result<RedisValue, RedisError>]>, unblockable: UnblockableCall?, triedAgain: Bool
    ) {
        channel.sendRedisRequest(commands, timeout: timeout).whenComplete { outcome in
            unblockable?.answered()
            switch outcome {
            case .success(let replies):
                // A replica answering READONLY was the master once: the next request opens a connection to
                // the master as it is now.
                source.release(channel, healthy: !replies.contains(where: Self.isReadOnly))
                call.finish(.success(replies))
            case .failure(let error):
                source.release(channel, healthy: false)
                let failure = error as? RedisRequestFailure ?? .afterReply(.connectionLost("\(error)"))
                if case .beforeReply(.connectionLost) = failure, !triedAgain, !self.shutDownFlag.isSet, call.isWaiting {
                    self.attempt(commands, on: source, timeout: timeout, call: call, unblockable: unblockable, triedAgain: true)
                } else {
                    call.finish(.failure(self.shutDownFlag.isSet ? .shutdown : failure.redisError))
                }
            }
        }
    }
}

/// Whether a client was shut down, shared with its connector.
final class ShutDownFlag: Sendable {
    private let value = Atomic(false)
    var isSet: Bool { value.load(ordering: .relaxed) }
    func set() { value.store(true, ordering: .relaxed) }
}

/// One call's waiting caller, resumed exactly once: by the result, by shutdown, or by cancellation.
private final class PendingCall<T: Sendable>: Sendable {
    private struct State {
        var continuation: CheckedContinuation<Result<T, RedisError>, Never>?
        /// Set once the call is decided; a decision before the continuation arrives waits here.
        var outcome: Result<T, RedisError>?
        /// The connection the call's request went out on, closed when the caller gives up.
        var channel: (any Channel)?
    }

    /// Guards the continuation, the outcome and the connection.
    private let state = Mutex(State())
    /// Whether the request has its connection to itself, so that closing it stops only this call.
    private let closesConnectionOnCancel: Bool

    init(closesConnectionOnCancel: Bool) {
        self.closesConnectionOnCancel = closesConnectionOnCancel
    }

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

    /// Whether nothing has decided the call yet.
    var isWaiting: Bool { state.withLock { $0.outcome == nil } }

    /// Records the connection the request goes out on; `false` when the call was already decided.
    func attach(_ channel: any Channel) -> Bool {
        state.withLock { state in
            guard state.outcome == nil else { return false }
            state.channel = channel
            return true
        }
    }

    /// Decides the call with ``RedisError/cancelled``; a request still on an exclusive connection is stopped
    /// by closing it (a shared connection's later replies are matched and dropped). The call is decided and
    /// its connection taken in one step: a connection attached between the two would carry its request out
    /// with nothing to stop it (a `BLPOP` left blocking on the server, taking a later signal).
    func cancel() {
        guard let (continuation, channel) = decide(.failure(.cancelled)) else { return }
        continuation?.resume(returning: .failure(.cancelled))
        if closesConnectionOnCancel { channel?.close(promise: nil) }
    }

    /// Decides the call; later decisions are ignored.
    func finish(_ outcome: Result<T, RedisError>) {
        guard let (continuation, _) = decide(outcome) else { return }
        continuation?.resume(returning: outcome)
    }

    /// Records `outcome` unless the call was decided already; the waiting continuation and the attached
    /// connection, both let go, or `nil` when it was decided before.
    private func decide(_ outcome: Result<T, RedisError>) -> (CheckedContinuation<Result<T, RedisError>, Never>?, (any Channel)?)? {
        state.withLock { state in
            guard state.outcome == nil else { return nil }
            state.outcome = outcome
            defer { state.continuation = nil; state.channel = nil }
            return (state.continuation, state.channel)
        }
    }
}
