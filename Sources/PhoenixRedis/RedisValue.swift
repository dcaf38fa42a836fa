/// One reply from Redis (RESP2). Error replies are not values: they surface as ``RedisError/server(code:message:)``.
public enum RedisValue: Sendable, Equatable {
    /// A status reply such as `OK` or `PONG`.
    case status(String)
    /// A bulk string, binary-safe.
    case bulk([UInt8])
    /// An integer reply.
    case integer(Int64)
    /// A multi-bulk reply.
    case array([RedisValue])
    /// The null bulk string or null array.
    case null

    /// The value as text: bulk strings (as UTF-8), statuses and integers; `nil` otherwise.
    public var string: String? {
        switch self {
        case .bulk(let bytes): String(decoding: bytes, as: UTF8.self)
        case .status(let text): text
        case .integer(let number): String(number)
        case .array, .null: nil
        }
    }

    /// The value as an integer: integer replies and bulk strings holding a number.
    public var int: Int? {
        switch self {
        case .integer(let number): Int(number)
        case .bulk, .status: string.flatMap { Int($0) }
        case .array, .null: nil
        }
    }

    /// The elements of an array reply, `[]` for null, `nil` for anything else.
    public var array: [RedisValue]? {
        switch self {
        case .array(let elements): elements
        case .null: []
        default: nil
        }
    }

    /// Whether this is the null reply.
    public var isNull: Bool { self == .null }
}
