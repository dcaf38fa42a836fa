import CPhoenixHiredis
import Foundation
import Logging

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A blocking hiredis connection, owned and used by exactly one thread of a ``ConnectionThreadPool``.
///
/// It connects lazily, re-connects with exponential backoff after the connection was lost, and checks
/// before each use that the server has not closed the socket while it sat idle (as `CLIENT KILL` or a
/// server restart do), so that a dead idle connection never fails a call.
final class RedisConnection {
    private var context: UnsafeMutablePointer<redisContext>?
    private let configuration: RedisConfiguration
    private let registry: ConnectionRegistry
    private var logger: Logger
    private var readTimeout: Duration?

    init(configuration: RedisConfiguration, registry: ConnectionRegistry, logger: Logger) {
        self.configuration = configuration
        self.registry = registry
        self.logger = logger
    }

    deinit { disconnect() }

    /// Sends the commands as one pipeline and reads one reply per command.
    ///
    /// When the connection turns out to be broken before any reply was read, the pipeline is sent once more
    /// on a fresh connection: the server closed the socket before running it, or (rarely) ran it and died
    /// before answering, which is why the queue's scripts are safe to replay.
    /// - Parameter blockingFor: how long a blocking command in the pipeline may block on the server.
    ///
    /// A server still loading its dataset after a restart answers `LOADING` without running the command;
    /// such commands are sent again with backoff until the server is ready or `reconnectTimeout` passed.
    func execute(_ commands: [RedisCommand], blockingFor: Duration = .zero) throws(RedisError) -> [Result<RedisValue, RedisError>] {
        var replies = try executeOnce(commands, blockingFor: blockingFor)
        var deadline: ContinuousClock.Instant?
        var delay = Duration.milliseconds(50)
        while true {
            let loading = replies.indices.filter { Self.isLoading(replies[$0]) }
            guard !loading.isEmpty else { return replies }
            let now = ContinuousClock.now
            let giveUp = deadline ?? now + configuration.reconnectTimeout
            deadline = giveUp
            guard now + delay < giveUp else { return replies }
            if delay == .milliseconds(50) { logger.info("Redis is loading its dataset; waiting for it", metadata: ["server": "\(configuration)"]) }
            Thread.sleep(forTimeInterval: delay.seconds)
            delay = min(delay * 2, .seconds(1))
            let retried = try executeOnce(loading.map { commands[$0] }, blockingFor: blockingFor)
            for (index, reply) in zip(loading, retried) { replies[index] = reply }
        }
    }

    private static func isLoading(_ reply: Result<RedisValue, RedisError>) -> Bool {
        if case .failure(.server(code: "LOADING", _)) = reply { true } else { false }
    }

    private func executeOnce(_ commands: [RedisCommand], blockingFor: Duration) throws(RedisError) -> [Result<RedisValue, RedisError>] {
        var triedAgain = false
        while true {
            let context = try usableContext()
            setReadTimeout(configuration.commandTimeout + blockingFor, on: context)
            do {
                return try Self.roundTrip(commands, on: context)
            } catch let failure {
                disconnect()
                guard case .lostBeforeReply(let error) = failure else { throw failure.redisError }
                guard !triedAgain, case .connectionLost = error else { throw error }
                triedAgain = true
                logger.debug("Redis connection found broken; sending again on a new connection", metadata: ["reason": "\(error)"])
            }
        }
    }

    /// Closes the connection, if open.
    func disconnect() {
        guard let context else { return }
        registry.remove(fd: context.pointee.fd)
        redisFree(context)
        self.context = nil
        readTimeout = nil
    }

    // MARK: - Connecting

    /// An open context, after re-connecting (with backoff) if there was none or the server closed it.
    private func usableContext() throws(RedisError) -> UnsafeMutablePointer<redisContext> {
        if let context, Self.isIdleAndOpen(context) { return context }
        disconnect()
        let deadline = ContinuousClock.now + configuration.reconnectTimeout
        var delay = Duration.milliseconds(50)
        var attempt = 1
        while true {
            if registry.isShutDown { throw .shutdown }
            let retryable: RedisError
            do {
                let context = try connect()
                if attempt > 1 { logger.info("Reconnected to Redis", metadata: ["server": "\(configuration)", "attempts": "\(attempt)"]) }
                self.context = context
                return context
            } catch {
                switch error {
                case .handshakeRefused(let reason): throw .connectionFailed(reason)
                case .unreachable(let reason): retryable = reason
                }
            }
            guard ContinuousClock.now + delay < deadline else { throw retryable }
            if attempt == 1 { logger.warning("Redis unreachable, retrying with backoff", metadata: ["server": "\(configuration)", "error": "\(retryable)"]) }
            Thread.sleep(forTimeInterval: delay.seconds)
            delay = min(delay * 2, .seconds(2))
            attempt += 1
        }
    }

    /// Why opening a connection failed: worth retrying (`unreachable`) or not (`handshakeRefused`).
    private enum ConnectFailure: Error {
        case unreachable(RedisError)
        case handshakeRefused(String)
    }

    /// Opens a new context, authenticates and selects the database.
    private func connect() throws(ConnectFailure) -> UnsafeMutablePointer<redisContext> {
        guard let context = redisConnectWithTimeout(configuration.host, Int32(configuration.port), Self.timeval(configuration.connectTimeout)) else {
            throw .unreachable(.connectionFailed("out of memory allocating a hiredis context"))
        }
        if context.pointee.err != 0 {
            let reason = Self.errorText(context)
            redisFree(context)
            throw .unreachable(.connectionFailed("\(configuration.host):\(configuration.port): \(reason)"))
        }
        redisEnableKeepAlive(context)
        redisSetTimeout(context, Self.timeval(configuration.commandTimeout))
        var handshake: [RedisCommand] = []
        if let password = configuration.password {
            handshake.append(configuration.username.map { RedisCommand("AUTH", $0, password) } ?? RedisCommand("AUTH", password))
        }
        if configuration.database != 0 { handshake.append(RedisCommand("SELECT", configuration.database)) }
        let replies: [Result<RedisValue, RedisError>]
        do {
            replies = try Self.roundTrip(handshake, on: context)
        } catch {
            redisFree(context)
            throw .unreachable(error.redisError)
        }
        for (command, reply) in zip(handshake, replies) {
            if case .failure(let error) = reply {
                redisFree(context)
                throw .handshakeRefused("\(command) refused: \(error)")
            }
        }
        registry.add(fd: context.pointee.fd)
        readTimeout = configuration.commandTimeout
        return context
    }

    private func setReadTimeout(_ timeout: Duration, on context: UnsafeMutablePointer<redisContext>) {
        guard timeout != readTimeout else { return }
        redisSetTimeout(context, Self.timeval(timeout))
        readTimeout = timeout
    }

    // MARK: - Wire

    /// How a pipeline failed: before any reply (nothing consumed) or part-way.
    private enum PipelineFailure: Error {
        case lostBeforeReply(RedisError)
        case lostAfterReply(RedisError)

        var redisError: RedisError {
            switch self {
            case .lostBeforeReply(let error), .lostAfterReply(let error): error
            }
        }
    }

    private static func roundTrip(_ commands: [RedisCommand], on context: UnsafeMutablePointer<redisContext>) throws(PipelineFailure) -> [Result<RedisValue, RedisError>] {
        for command in commands where append(command, to: context) != REDIS_OK {
            throw .lostBeforeReply(ioError(context))
        }
        var replies: [Result<RedisValue, RedisError>] = []
        replies.reserveCapacity(commands.count)
        for _ in commands {
            var raw: UnsafeMutableRawPointer?
            guard redisGetReply(context, &raw) == REDIS_OK, let raw else {
                let error = ioError(context)
                throw replies.isEmpty ? .lostBeforeReply(error) : .lostAfterReply(error)
            }
            let reply = raw.assumingMemoryBound(to: redisReply.self)
            replies.append(RedisReplyDecoder.decode(reply))
            freeReplyObject(raw)
        }
        return replies
    }

    /// Queues one command in hiredis's output buffer through `redisAppendCommandArgv`.
    private static func append(_ command: RedisCommand, to context: UnsafeMutablePointer<redisContext>) -> Int32 {
        let arguments = command.arguments
        var lengths: [Int] = []
        var offsets: [Int] = []
        var flat: [CChar] = []
        lengths.reserveCapacity(arguments.count)
        offsets.reserveCapacity(arguments.count)
        flat.reserveCapacity(arguments.reduce(1) { $0 + $1.count })
        for argument in arguments {
            offsets.append(flat.count)
            lengths.append(argument.count)
            flat.append(contentsOf: argument.lazy.map { CChar(bitPattern: $0) })
        }
        flat.append(0)  // never empty, so the buffer always has a base address
        return flat.withUnsafeBufferPointer { buffer in
            var pointers: [UnsafePointer<CChar>?] = offsets.map { offset in buffer.baseAddress.map { $0 + offset } }
            return pointers.withUnsafeMutableBufferPointer { argv in
                lengths.withUnsafeBufferPointer { argvlen in
                    redisAppendCommandArgv(context, Int32(arguments.count), argv.baseAddress, argvlen.baseAddress)
                }
            }
        }
    }

    /// Whether an idle connection is still open: any readable data or hang-up while no reply is due means
    /// the server closed it (RESP2 sends nothing unsolicited outside pub/sub).
    private static func isIdleAndOpen(_ context: UnsafeMutablePointer<redisContext>) -> Bool {
        guard context.pointee.err == 0 else { return false }
        var descriptor = pollfd(fd: context.pointee.fd, events: Int16(POLLIN), revents: 0)
        return poll(&descriptor, 1, 0) == 0
    }

    private static func ioError(_ context: UnsafeMutablePointer<redisContext>) -> RedisError {
        let text = errorText(context)
        if context.pointee.err == REDIS_ERR_IO && (errno == EAGAIN || errno == EWOULDBLOCK) {
            return .timeout(text)
        }
        if context.pointee.err == REDIS_ERR_PROTOCOL { return .unexpectedReply(text) }
        return .connectionLost(text.isEmpty ? "connection closed" : text)
    }

    private static func errorText(_ context: UnsafeMutablePointer<redisContext>) -> String {
        withUnsafeBytes(of: context.pointee.errstr) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
    }

    private static func timeval(_ duration: Duration) -> timeval {
        let (seconds, attoseconds) = duration.components
        return Glibc.timeval(tv_sec: Int(seconds), tv_usec: Int(attoseconds / 1_000_000_000_000))
    }
}

extension Duration {
    /// The duration in seconds, as a `TimeInterval`.
    var seconds: TimeInterval {
        let (seconds, attoseconds) = components
        return TimeInterval(seconds) + TimeInterval(attoseconds) / 1e18
    }
}
