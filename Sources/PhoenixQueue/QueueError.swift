public import Foundation
public import PhoenixRedis

/// Why a queue operation failed.
public enum QueueError: Error, CustomStringConvertible {
    /// The job was refused before reaching Redis; the reason names the field.
    case invalidJob(id: UUID, reason: String)
    /// Redis could not be reached or refused a command.
    case redis(RedisError)
    /// A script answered in a shape the engine does not expect (a version mismatch, or a foreign key).
    case unexpectedReply(script: String, detail: String)

    public var description: String {
        switch self {
        case .invalidJob(let id, let reason): "invalid job \(id): \(reason)"
        case .redis(let error): "\(error)"
        case .unexpectedReply(let script, let detail): "unexpected reply from queue script '\(script)': \(detail)"
        }
    }
}
