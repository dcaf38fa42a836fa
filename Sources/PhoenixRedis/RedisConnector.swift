import Logging
import NIOCore
import NIOPosix
import NIOSSL
import NIOTLS

/// Opens connections to the configured server (with sentinels, to the master they name, checked with `ROLE`):
/// TCP on an event loop, the TLS handshake for `rediss://`, then `AUTH` and `SELECT`. A server that cannot be
/// reached is tried again with exponential backoff until `reconnectTimeout` has passed; a server that refuses
/// the handshake (a certificate that does not verify, a wrong password) is not. Everything runs on the event
/// loop, none of it on Swift's cooperative pool, so connecting never waits for a busy pool.
struct RedisConnector: Sendable {
    let configuration: RedisConfiguration
    let group: any EventLoopGroup
    /// The TLS context of `rediss://` connections, or why the TLS settings cannot be used; `nil` for `redis://`.
    let tls: Result<NIOSSLContext, RedisConfigurationError>?
    let logger: Logger
    /// Whether the client was shut down: no new connection is opened after it.
    let isShutDown: @Sendable () -> Bool

    /// A new open connection, on an event loop of the group.
    func connect() -> EventLoopFuture<any Channel> {
        let loop = group.next()
        return connect(on: loop, deadline: .now() + TimeAmount(configuration.reconnectTimeout), delay: .milliseconds(50), attempt: 1)
            .map { channel, attempts in
                if attempts > 1 { logger.info("Reconnected to Redis", metadata: ["server": "\(configuration)", "attempts": "\(attempts)"]) }
                return channel
            }
    }

    /// Tries to connect until `deadline`, waiting `delay` (doubling to 2 s) between tries; the connection and
    /// the number of tries it took.
    private func connect(on loop: any EventLoop, deadline: NIODeadline, delay: TimeAmount, attempt: Int) -> EventLoopFuture<(any Channel, Int)> {
        guard !isShutDown() else { return loop.makeFailedFuture(RedisError.shutdown) }
        return connectOnce(on: loop).map { ($0, attempt) }.flatMapError { error in
            let failure = error as? ConnectFailure ?? .unreachable(.connectionFailed("\(error)"))
            switch failure {
            case .handshakeRefused(let reason):
                return loop.makeFailedFuture(RedisError.connectionFailed(reason))
            case .unreachable(let reason):
                guard NIODeadline.now() + delay < deadline else { return loop.makeFailedFuture(reason) }
                if attempt == 1 { logger.warning("Redis unreachable, retrying with backoff", metadata: ["server": "\(configuration)", "error": "\(reason)"]) }
                return loop.scheduleTask(in: delay) {}.futureResult.flatMap {
                    connect(on: loop, deadline: deadline, delay: min(delay * 2, .seconds(2)), attempt: attempt + 1)
                }
            }
        }
    }

    /// Why opening a connection failed: worth retrying (`unreachable`) or not (`handshakeRefused`).
    private enum ConnectFailure: Error, CustomStringConvertible {
        case unreachable(RedisError)
        case handshakeRefused(String)

        var description: String {
            switch self {
            case .unreachable(let error): "\(error)"
            case .handshakeRefused(let reason): reason
            }
        }
    }

    /// One try: with sentinels, the master they name now; then the connection, `AUTH` and `SELECT`, and with
    /// sentinels the check that the server is the master.
    private func connectOnce(on loop: any EventLoop) -> EventLoopFuture<any Channel> {
        guard let sentinel = configuration.sentinel else {
            return open(host: configuration.host, port: configuration.port, on: loop).flatMap(authenticate)
        }
        return discoverMaster(sentinel, on: loop)
            .flatMap { master in open(host: master.host, port: master.port, on: loop) }
            .flatMap(authenticate)
            .flatMap(requireMaster)
    }

    /// A connection to `host:port` (TLS handshake done with `rediss://`) whose pipeline reads replies and
    /// matches them to requests.
    private func open(host: String, port: Int, on loop: any EventLoop) -> EventLoopFuture<any Channel> {
        let server = "\(host):\(port)"
        let tlsContext: NIOSSLContext?
        switch tls {
        case nil: tlsContext = nil
        case .success(let context): tlsContext = context
        case .failure(let error): return loop.makeFailedFuture(ConnectFailure.handshakeRefused("\(error)"))
        }
        // Completed by the TLS handshake of a `rediss://` connection.
        let handshake = tlsContext.map { _ in loop.makePromise(of: Void.self) }
        return ClientBootstrap(group: loop)
            .connectTimeout(TimeAmount(configuration.connectTimeout))
            .channelOption(.socketOption(.so_keepalive), value: 1)
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let handlers = channel.pipeline.syncOperations
                    if let tlsContext, let handshake {
                        // An IP address is checked against the certificate's addresses; SNI takes only names.
                        let isAddress = (try? SocketAddress(ipAddress: host, port: 0)) != nil
                        try handlers.addHandler(NIOSSLClientHandler(context: tlsContext, serverHostname: isAddress ? nil : host))
                        try handlers.addHandler(TLSHandshakeWaiter(promise: handshake))
                    }
                    try handlers.addHandler(ByteToMessageHandler(RedisReplyReader()))
                    try handlers.addHandler(RedisRequestHandler())
                }
            }
            .connect(host: host, port: port)
            .flatMapErrorThrowing { error in
                handshake?.fail(error)
                throw ConnectFailure.unreachable(.connectionFailed("\(server): \(error)"))
            }
            .flatMap { channel in
                guard let handshake else { return loop.makeSucceededFuture(channel) }
                return handshake.futureResult.map { channel }.flatMapErrorThrowing { error in
                    channel.close(promise: nil)
                    // A certificate that does not verify will not verify on the next try either.
                    if let error = error as? NIOSSLError, case .handshakeFailed = error {
                        throw ConnectFailure.handshakeRefused("TLS handshake with \(server) failed: \(error)")
                    }
                    if let error = error as? NIOSSLExtraError {
                        throw ConnectFailure.handshakeRefused("TLS handshake with \(server) failed: \(error)")
                    }
                    throw ConnectFailure.unreachable(.connectionFailed("TLS handshake with \(server) cut off: \(error)"))
                }
            }
    }

    /// Asks the sentinels in turn which server is the master of `sentinel.masterName`; the first answer
    /// wins. When none answers, the try fails as unreachable (so it is retried with backoff), with every
    /// sentinel's reason.
    private func discoverMaster(_ sentinel: RedisSentinel, on loop: any EventLoop) -> EventLoopFuture<RedisSentinel.Address> {
        let question = RedisCommand("SENTINEL", "get-master-addr-by-name", sentinel.masterName)
        let commands = (sentinel.password.map { [RedisCommand("AUTH", $0)] } ?? []) + [question]
        return ask(sentinel, from: 0, commands, reasons: [], on: loop)
    }

    /// Asks the sentinel at `index` and, when it does not answer, the ones after it.
    private func ask(_ sentinel: RedisSentinel, from index: Int, _ commands: [RedisCommand], reasons: [String], on loop: any EventLoop) -> EventLoopFuture<RedisSentinel.Address> {
        guard index < sentinel.sentinels.count else {
            let reason = "no sentinel named the master '\(sentinel.masterName)': " + reasons.joined(separator: "; ")
            return loop.makeFailedFuture(ConnectFailure.unreachable(.connectionFailed(reason)))
        }
        let address = sentinel.sentinels[index]
        return open(host: address.host, port: address.port, on: loop)
            .flatMap { channel in
                channel.sendRedisRequest(commands, timeout: configuration.commandTimeout).always { _ in channel.close(promise: nil) }
            }
            .flatMapThrowing { replies -> RedisSentinel.Address in
                let reply = try replies.last?.get()
                guard let fields = reply?.array, fields.count == 2, let host = fields[0].string, let port = fields[1].string.flatMap({ Int($0) }) else {
                    throw RedisError.unexpectedReply("it does not know the master '\(sentinel.masterName)' (\(reply.map { "\($0)" } ?? "no reply"))")
                }
                return RedisSentinel.Address(host: host, port: port)
            }
            .flatMapError { error in
                let reason = (error as? ConnectFailure)?.description ?? (error as? RedisRequestFailure)?.redisError.description ?? "\(error)"
                return ask(sentinel, from: index + 1, commands, reasons: reasons + ["\(address): \(reason)"], on: loop)
            }
    }

    /// Keeps the connection only if the server says it is the master: during a failover a sentinel may still
    /// name the old master, now a replica. Otherwise the try fails as unreachable and the sentinels are asked
    /// again after the backoff.
    private func requireMaster(_ channel: any Channel) -> EventLoopFuture<any Channel> {
        channel.sendRedisRequest([RedisCommand("ROLE")], timeout: configuration.commandTimeout)
            .flatMapThrowing { replies in
                let role = (try? replies.first?.get())?.array?.first?.string
                guard role == "master" else {
                    throw ConnectFailure.unreachable(.connectionFailed("the server the sentinels named is not the master (ROLE: \(role ?? "no answer")); asking them again"))
                }
                return channel
            }
            .flatMapErrorThrowing { error in
                channel.close(promise: nil)
                if let failure = error as? RedisRequestFailure { throw ConnectFailure.unreachable(failure.redisError) }
                throw error
            }
    }

    /// Authenticates and selects the database, closing the connection when either fails.
    private func authenticate(on channel: any Channel) -> EventLoopFuture<any Channel> {
        let authentication = configuration.password.map { password in
            configuration.username.map { RedisCommand("AUTH", $0, password) } ?? RedisCommand("AUTH", password)
        }
        let selection = configuration.database == 0 ? nil : RedisCommand("SELECT", configuration.database)
        let commands = [authentication, selection].compactMap { $0 }
        guard !commands.isEmpty else { return channel.eventLoop.makeSucceededFuture(channel) }
        return channel.sendRedisRequest(commands, timeout: configuration.commandTimeout)
            .flatMapErrorThrowing { error in
                throw ConnectFailure.unreachable((error as? RedisRequestFailure)?.redisError ?? .connectionLost("\(error)"))
            }
            .flatMapThrowing { replies in
                for (command, reply) in zip(commands, replies) {
                    if case .failure(let error) = reply { throw ConnectFailure.handshakeRefused("\(command) refused: \(error)") }
                }
                return channel
            }
            .flatMapErrorThrowing { error in
                channel.close(promise: nil)
                throw error
            }
    }
}

/// Completes its promise when the TLS handshake of its channel is done, or fails it with the error that ended
/// the handshake (a certificate that does not verify) or the connection closing first; then leaves the
/// pipeline.
private final class TLSHandshakeWaiter: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer

    private let promise: EventLoopPromise<Void>

    init(promise: EventLoopPromise<Void>) {
        self.promise = promise
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case TLSUserEvent.handshakeCompleted = event {
            promise.succeed()
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        promise.fail(error)
        context.fireErrorCaught(error)
    }

    func channelInactive(context: ChannelHandlerContext) {
        promise.fail(RedisError.connectionLost("closed during the TLS handshake"))
        context.fireChannelInactive()
    }
}
