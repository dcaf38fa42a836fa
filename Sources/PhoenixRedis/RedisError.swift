/// Why a Redis call failed.
public enum RedisError: Error, Equatable, CustomStringConvertible {
    /// The server answered with an error reply, such as `WRONGTYPE …` or `NOSCRIPT …`.
    case server(code: String, message: String)
    /// No connection could be (re-)established within the reconnect timeout.
    case connectionFailed(String)
    /// The connection broke while a call was in flight; the server may or may not have run it.
    case connectionLost(String)
    /// No reply came within the command timeout; the connection was discarded.
    case timeout(String)
    /// The reply did not have the shape the caller expected.
    case unexpectedReply(String)
    /// The client was shut down.
    case shutdown
    /// The calling task was cancelled before the reply came; the server may or may not have run the call.
    case cancelled

    /// Splits an error reply (`"ERR unknown command"`) into its code and message.
    init(errorReply text: String) {
        if let space = text.firstIndex(of: " ") {
            let code = String(text[..<space])
            if code.allSatisfy({ $0.isUppercase || $0 == "_" }) {
                self = .server(code: code, message: String(text[text.index(after: space)...]))
                return
            }
        }
        self = .server(code: "ERR", message: text)
    }

    public var description: String {
        switch self {
        case .server(let code, let message): "Redis error \(code): \(message)"
        case .connectionFailed(let reason): "cannot connect to Redis: \(reason)"
        case .connectionLost(let reason): "Redis connection lost: \(reason)"
        case .timeout(let reason): "Redis command timed out: \(reason)"
        case .unexpectedReply(let reason): "unexpected Redis reply: \(reason)"
        case .shutdown: "the Redis client has been shut down"
        case .cancelled: "the Redis call was cancelled before its reply came (the server may have run it)"
        }
    }
}
