import NIOCore

/// Reads RESP2 replies from a connection's bytes (``RedisReplyParser``) and passes each on as a
/// ``RedisValue`` or, for an error reply, a ``RedisError/server(code:message:)``.
final class RedisReplyReader: ByteToMessageDecoder {
    typealias InboundOut = Result<RedisValue, RedisError>

    private let parser = RedisReplyParser()

    /// Feeds every readable byte to the parser and passes on every reply it completes (a ByteToMessageHandler
    /// does not call again on an empty buffer, so replies are drained here).
    func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        try buffer.withUnsafeReadableBytes { bytes throws(RedisError) in try parser.feed(bytes) }
        buffer.moveReaderIndex(forwardBy: buffer.readableBytes)
        while let reply = try parser.next() { context.fireChannelRead(wrapInboundOut(reply)) }
        return .needMoreData
    }

    func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        try decode(context: context, buffer: &buffer)
    }
}

extension ByteBuffer {
    /// Writes `command` as a RESP array of bulk strings, the form Redis reads every command in.
    mutating func writeRedisCommand(_ command: RedisCommand) {
        writeBytes(command.wire)
    }
}
