import CPhoenixHiredis

/// Turns hiredis reply objects into ``RedisValue``s.
enum RedisReplyDecoder {
    /// Decodes a reply; an error reply, at the top or nested in an array, becomes a failure.
    static func decode(_ reply: UnsafePointer<redisReply>) -> Result<RedisValue, RedisError> {
        let r = reply.pointee
        switch r.type {
        case REDIS_REPLY_STRING:
            return .success(.bulk(bytes(r)))
        case REDIS_REPLY_STATUS:
            return .success(.status(String(decoding: bytes(r), as: UTF8.self)))
        case REDIS_REPLY_INTEGER:
            return .success(.integer(r.integer))
        case REDIS_REPLY_NIL:
            return .success(.null)
        case REDIS_REPLY_ERROR:
            return .failure(RedisError(errorReply: String(decoding: bytes(r), as: UTF8.self)))
        case REDIS_REPLY_ARRAY:
            var elements: [RedisValue] = []
            elements.reserveCapacity(r.elements)
            for index in 0..<r.elements {
                guard let element = r.element[index] else { elements.append(.null); continue }
                switch decode(element) {
                case .success(let value): elements.append(value)
                case .failure(let error): return .failure(error)
                }
            }
            return .success(.array(elements))
        default:
            return .failure(.unexpectedReply("hiredis reply type \(r.type)"))
        }
    }

    private static func bytes(_ reply: redisReply) -> [UInt8] {
        guard let text = reply.str, reply.len > 0 else { return [] }
        return text.withMemoryRebound(to: UInt8.self, capacity: reply.len) { Array(UnsafeBufferPointer(start: $0, count: reply.len)) }
    }
}
