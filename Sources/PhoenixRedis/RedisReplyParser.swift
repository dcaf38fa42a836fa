import CPhoenixHiredis

/// Reads RESP2 replies from bytes as they arrive, with hiredis's reply reader (a C state machine that takes
/// partial input): after ``feed(_:)``, ``next()`` hands out each reply the bytes so far complete, a
/// ``RedisValue`` or, for an error reply, a ``RedisError/server(code:message:)``. One parser per connection;
/// not for concurrent use.
public final class RedisReplyParser {
    /// The hiredis reader: its buffer holds the bytes of a reply not yet complete.
    private let reader: UnsafeMutablePointer<redisReader>

    /// A parser with nothing buffered.
    public init() {
        guard let reader = redisReaderCreate() else { fatalError("out of memory creating a hiredis reply reader") }
        self.reader = reader
    }

    deinit { redisReaderFree(reader) }

    /// Takes `bytes` (copied into the reader's buffer); ``next()`` then hands out the replies they complete.
    /// - Throws: ``RedisError/unexpectedReply(_:)`` when the reader is in error.
    public func feed(_ bytes: UnsafeRawBufferPointer) throws(RedisError) {
        guard redisReaderFeed(reader, bytes.baseAddress?.assumingMemoryBound(to: CChar.self), bytes.count) == REDIS_OK else {
            throw protocolError()
        }
    }

    /// The next complete reply, `nil` when the bytes fed so far hold no further one.
    /// - Throws: ``RedisError/unexpectedReply(_:)`` when the bytes are not RESP.
    public func next() throws(RedisError) -> Result<RedisValue, RedisError>? {
        var raw: UnsafeMutableRawPointer?
        guard redisReaderGetReply(reader, &raw) == REDIS_OK else { throw protocolError() }
        guard let raw else { return nil }
        defer { freeReplyObject(raw) }
        return RedisReplyDecoder.decode(raw.assumingMemoryBound(to: redisReply.self))
    }

    private func protocolError() -> RedisError {
        let text = withUnsafeBytes(of: reader.pointee.errstr) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        return .unexpectedReply("not RESP: \(text)")
    }
}
