import Logging
import NIOCore
import NIOPosix

/// Opens connections to the configured server: TCP on an event loop, then `AUTH` and `SELECT`. A server
/// that cannot be reached is tried again with exponential backoff until `reconnectTimeout` has passed; a
/// server that refuses the handshake (a wrong password) is not. Everything runs on the event loop, none of
/// it on Swift's cooperative pool, so connecting never waits for a busy pool.
struct RedisConnector: Sendable {
    let configuration: RedisConfiguration
    let group: any EventLoopGroup
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
        return ClientBootstrap(group: loop)
            .connectTimeout(TimeAmount(configuration.connectTimeout))
            .channelOption(.socketOption(.so_keepalive), value: 1)
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(RedisReplyReader()))
                    try channel.pipeline.syncOperations.addHandler(RedisRequestHandler())
                }
            }
            .connect(host: configuration.host, port: configuration.port)
            .flatMapErrorThrowing { error in throw ConnectFailure.unreachable(.connectionFailed("\(server): \(error)")) }
            .flatMap { channel in handshake(on: channel) }
    }

    /// Authenticates and selects the database, closing the connection when either fails.
    private func handshake(on channel: any Channel) -> EventLoopFuture<any Channel> {
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
