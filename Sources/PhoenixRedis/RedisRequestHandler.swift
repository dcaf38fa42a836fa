import NIOCore

/// Commands sent together on one connection, and the promise of their replies (one result per command, in
/// order, error replies included).
struct RedisRequest: Sendable {
    let commands: [RedisCommand]
    /// How long the replies may take once the request is written; past it the connection is closed.
    let timeout: Duration
    let promise: EventLoopPromise<[Result<RedisValue, RedisError>]>
}

/// Why a request got no complete answer: whether any of its replies had arrived tells the client whether
/// sending it again on a new connection is safe.
enum RedisRequestFailure: Error {
    /// The connection failed before any reply of this request came: the server may not have run it.
    case beforeReply(RedisError)
    /// Some replies came, then the connection failed.
    case afterReply(RedisError)

    var redisError: RedisError {
        switch self {
        case .beforeReply(let error), .afterReply(let error): error
        }
    }
}

/// Pipelines the requests of every caller of a connection: requests are written as they come (at once on an
/// idle connection; else flushed together once the event loop has taken the others already queued), and
/// replies, which Redis sends in the order of the commands, are handed to the requests in that order.
///
/// A request whose replies do not come within its timeout closes the connection, and every request waiting
/// on it fails (``RedisError/timeout(_:)`` for that one, a lost connection for the others); so does a
/// connection that closes or errs.
final class RedisRequestHandler: ChannelDuplexHandler {
    typealias InboundIn = Result<RedisValue, RedisError>
    typealias OutboundIn = RedisRequest
    typealias OutboundOut = ByteBuffer

    private struct Waiting {
        let expected: Int
        var replies: [Result<RedisValue, RedisError>]
        let promise: EventLoopPromise<[Result<RedisValue, RedisError>]>
        let timeout: Scheduled<Void>
    }

    /// Requests written and not fully answered, oldest first.
    private var waiting = CircularBuffer<Waiting>()
    /// Set once the connection failed: later requests fail at once with it.
    private var failure: RedisError?
    /// Whether a flush of the requests written so far is queued on the event loop.
    private var flushScheduled = false

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let request = unwrapOutboundIn(data)
        if let failure {
            request.promise.fail(RedisRequestFailure.beforeReply(failure))
            promise?.fail(failure)
            return
        }
        var buffer = context.channel.allocator.buffer(capacity: request.commands.reduce(0) { $0 + $1.wire.count })
        for command in request.commands { buffer.writeRedisCommand(command) }
        let loopBound = NIOLoopBound((handler: self, context: context), eventLoop: context.eventLoop)
        let timeout = context.eventLoop.scheduleTask(in: TimeAmount(request.timeout)) {
            let (handler, context) = loopBound.value
            handler.fail(.timeout("no reply within \(request.timeout)"), context: context)
        }
        let idle = waiting.isEmpty
        waiting.append(Waiting(expected: request.commands.count, replies: [], promise: request.promise, timeout: timeout))
        waiting[waiting.index(before: waiting.endIndex)].replies.reserveCapacity(request.commands.count)
        context.write(wrapOutboundOut(buffer), promise: promise)
        if idle, !flushScheduled {
            // Nothing else in flight: a caller waiting on each reply in turn gets it without a detour.
            context.flush()
        } else {
            scheduleFlush(context: context)
        }
    }

    /// Flushes after the tasks already queued on the event loop have run, so that the requests other callers
    /// wrote meanwhile go out in the same system call (and reach Redis in one read) instead of one each.
    private func scheduleFlush(context: ChannelHandlerContext) {
        guard !flushScheduled else { return }
        flushScheduled = true
        let loopBound = NIOLoopBound((handler: self, context: context), eventLoop: context.eventLoop)
        context.eventLoop.execute {
            let (handler, context) = loopBound.value
            handler.flushScheduled = false
            context.flush()
        }
    }

    /// A flush asked for by a writer is left to the one ``write(context:data:promise:)`` scheduled.
    func flush(context: ChannelHandlerContext) {}

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let reply = unwrapInboundIn(data)
        guard !waiting.isEmpty else {
            fail(.unexpectedReply("a reply came that no command asked for"), context: context)
            return
        }
        waiting[waiting.startIndex].replies.append(reply)
        guard waiting[waiting.startIndex].replies.count == waiting[waiting.startIndex].expected else { return }
        let done = waiting.removeFirst()
        done.timeout.cancel()
        done.promise.succeed(done.replies)
    }

    func channelInactive(context: ChannelHandlerContext) {
        fail(.connectionLost("connection closed"), context: context)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        fail(error as? RedisError ?? .connectionLost("\(error)"), context: context)
    }

    /// Fails every waiting request and closes the connection; the first failure is kept for later requests.
    private func fail(_ error: RedisError, context: ChannelHandlerContext) {
        if failure == nil { failure = error }
        let failed = waiting
        waiting.removeAll()
        for (index, request) in failed.enumerated() {
            request.timeout.cancel()
            // Only the request that timed out timed out; the others lost their connection because of it.
            let cause: RedisError = if case .timeout = error, index > 0 { .connectionLost("closed after an earlier request timed out") } else { error }
            request.promise.fail(request.replies.isEmpty ? RedisRequestFailure.beforeReply(cause) : RedisRequestFailure.afterReply(cause))
        }
        context.close(promise: nil)
    }
}

extension TimeAmount {
    /// A NIO time amount of `duration`, to the nanosecond.
    init(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        self = .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}

extension Channel {
    /// Sends `commands` as one request on this connection (its pipeline must hold a ``RedisRequestHandler``).
    func sendRedisRequest(_ commands: [RedisCommand], timeout: Duration) -> EventLoopFuture<[Result<RedisValue, RedisError>]> {
        let promise = eventLoop.makePromise(of: [Result<RedisValue, RedisError>].self)
        let written = eventLoop.makePromise(of: Void.self)
        // A closed channel fails the write before the handler sees it; the request then fails the same way.
        written.futureResult.whenFailure { error in
            promise.fail(RedisRequestFailure.beforeReply(error as? RedisError ?? .connectionLost("\(error)")))
        }
        write(RedisRequest(commands: commands, timeout: timeout, promise: promise), promise: written)
        return promise.futureResult
    }
}
