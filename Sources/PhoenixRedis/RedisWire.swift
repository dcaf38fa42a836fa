import CPhoenixHiredis
import NIOCore

/// Reads RESP2 replies from a connection's bytes with hiredis's reply reader, which takes bytes as they come
/// and hands out whole replies: each reply read is passed on as a ``RedisValue`` or, for an error reply, a
/// ``RedisError/server(code:message:)``.
final class RedisReplyReader: ByteToMessageDecoder {
    typealias InboundOut = Result<RedisValue, RedisError>

    /// The hiredis reader: its buffer holds the bytes of a reply not yet complete.
    private let reader: UnsafeMutablePointer<redisReader>

    init() {
        guard let reader = redisReaderCreate() else { fatalError("out of memory creating a hiredis reply reader") }
        self.reader = reader
    }

    deinit { redisReaderFree(reader) }

    /// Feeds every readable byte to the reader and passes on every reply it completes (a ByteToMessageHandler
    /// does not call again on an empty buffer, so replies are drained here).
    func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        let fed = buffer.withUnsafeReadableBytes { bytes in
            redisReaderFeed(reader, bytes.baseAddress?.assumingMemoryBound(to: CChar.self), bytes.count)
        }
        buffer.moveReaderIndex(forwardBy: buffer.readableBytes)
        guard fed == REDIS_OK else { throw protocolError() }
        while true {
            var raw: UnsafeMutableRawPointer?
            guard redisReaderGetReply(reader, &raw) == REDIS_OK else { throw protocolError() }
            guard let raw else { return .needMoreData }
            let reply = RedisReplyDecoder.decode(raw.assumingMemoryBound(to: redisReply.self))
            freeReplyObject(raw)
            context.fireChannelRead(wrapInboundOut(reply))
        }
    }

    func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        try decode(context: context, buffer: &buffer)
    }

    private func protocolError() -> RedisError {
        let text = withUnsafeBytes(of: reader.pointee.errstr) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        return .unexpectedReply("not RESP: \(text)")
    }
}

extension ByteBuffer {
    /// Writes `command` as a RESP array of bulk strings, the form Redis reads every command in.
    mutating func writeRedisCommand(_ command: RedisCommand) {
        writeInteger(UInt8(ascii: "*"))
        writeDecimal(command.arguments.count)
        for argument in command.arguments {
            writeInteger(UInt8(ascii: "$"))
            writeDecimal(argument.count)
            writeBytes(argument)
            writeStaticString("\r\n")
        }
    }

    /// Writes `value` in decimal followed by CRLF.
    private mutating func writeDecimal(_ value: Int) {
        writeString(String(value))
        writeStaticString("\r\n")
    }
}
