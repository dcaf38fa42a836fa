public import Queue

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
/// Register an instance with ``JobRegistry/register(_:)``; the instance carries the handler's dependencies.
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
