import Logging
import NIOCore
import NIOPosix
import NIOSSL
import NIOTLS

/// Opens connections to the configured server: TCP on an event loop, the TLS handshake for `rediss://`, then
/// `AUTH` and `SELECT`. A server that cannot be reached is tried again with exponential backoff until
/// `reconnectTimeout` has passed; a server that refuses the handshake (a certificate that does not verify, a
/// wrong password) is not. Everything runs on the event loop, none of
/// it on Swift's cooperative pool, so connecting never waits for a busy pool.
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
    private enum ConnectFailure: Error {
        case unreachable(RedisError)
        case handshakeRefused(String)
    }

    private func connectOnce(on loop: any EventLoop) -> EventLoopFuture<any Channel> {
        let server = "\(configuration.host):\(configuration.port)"
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
                        let isAddress = (try? SocketAddress(ipAddress: configuration.host, port: 0)) != nil
                        try handlers.addHandler(NIOSSLClientHandler(context: tlsContext, serverHostname: isAddress ? nil : configuration.host))
                        try handlers.addHandler(TLSHandshakeWaiter(promise: handshake))
                    }
                    try handlers.addHandler(ByteToMessageHandler(RedisReplyReader()))
                    try handlers.addHandler(RedisRequestHandler())
                }
            }
            .connect(host: configuration.host, port: configuration.port)
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
            .flatMap { channel in authenticate(on: channel) }
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
