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
    /// The jobs were stored on the master, but fewer replicas than required acknowledged them in time: if the
    /// master is lost before they replicate, so are they. Enqueueing the same jobs again (same ids or
    /// idempotency keys) adds nothing twice and waits again.
    case notReplicated(acknowledgedBy: Int, required: Int)
    /// Fair share cannot be switched while jobs wait in the queue's ready list; nothing was changed.
    case queueNotEmpty(queue: String, depth: Int)
    /// A flow-control setting is out of range; the text says which and why.
    case invalidSetting(String)

    public var description: String {
        switch self {
        case .invalidJob(let id, let reason): "invalid job \(id): \(reason)"
        case .redis(let error): "\(error)"
        case .unexpectedReply(let script, let detail): "unexpected reply from queue script '\(script)': \(detail)"
        case .notReplicated(let acknowledged, let required):
            "the jobs were stored, but \(acknowledged) of the \(required) replicas required acknowledged them in time; enqueue them again (same ids or idempotency keys) once replication catches up"
        case .queueNotEmpty(let queue, let depth):
            "fair share of queue '\(queue)' can only be switched while no job waits in it (\(depth) in its ready list, cancelled ones included until a fetch drops them); let its workers drain it (a partition already switched stays so), then try again"
        case .invalidSetting(let reason): reason
        }
    }
}
