import Foundation

/// A kind of job: its name, queue, payload, policy and handler, declared in one small type.
///
/// ```swift
/// struct SendDigest: JobType {
///     struct Payload: Codable, Sendable { var userID: String }
///     static let name = "digest.send"
///     static let queue = "profiles"
///     func run(_ payload: Payload, context: JobContext) async throws { … }
/// }
/// ```
/// A worker runs it once an instance, which carries the handler's dependencies, is registered in its `JobRegistry`;
/// enqueuers describe the type in a ``JobCatalog``.
public protocol JobType: Sendable {
    /// The job's input, decoded from the envelope's `payload`.
    associatedtype Payload: Codable & Sendable

    /// The job type's name, `domain.action` style (`letter.generate`).
    static var name: String { get }
    /// The queue jobs of this type go to unless the enqueuer names another.
    static var queue: String { get }
    /// Attempts before a job goes to the dead set.
    static var maxAttempts: Int { get }
    /// The delay between attempts.
    static var retryPolicy: RetryPolicy { get }
    /// How long one attempt may run before it is cancelled and counted as failed.
    static var timeout: Duration { get }

    /// Does the work. Throw ``PermanentFailure`` when retrying cannot help; any other error is retried.
    func run(_ payload: Payload, context: JobContext) async throws
}

extension JobType {
    public static var maxAttempts: Int { 5 }
    public static var retryPolicy: RetryPolicy { RetryPolicy() }
    public static var timeout: Duration { .seconds(60) }
}

extension JobType {
    /// Reads a payload of this type from JSON; a payload that does not fit is a ``PermanentFailure`` naming
    /// the field (retrying cannot fix it).
    public static func decodePayload(_ payload: JSONValue) throws(PermanentFailure) -> Payload {
        do {
            if let fast = Payload.self as? any JSONValueDecodable.Type {
                // Payloads that read themselves from a JSON value skip a serialise-and-decode round trip.
                guard let decoded = try fast.init(jsonValue: payload) as? Payload else { preconditionFailure("decoded a different type") }
                return decoded
            }
            return try JSONDecoder().decode(Payload.self, from: Data(payload.serialized))
        } catch let error as DecodingError {
            throw PermanentFailure("invalid payload for \(name): \(error.fieldDescription)")
        } catch {
            throw PermanentFailure("invalid payload for \(name): \(error)")
        }
    }
}
