/// A job type whose handler takes many jobs at once (for example to write them in one transaction), while
/// each job is still acknowledged or failed on its own.
///
/// The worker hands a batch the jobs of this type that one fetch brought, up to ``maxBatchSize``.
public protocol BatchJobType: JobType {
    /// Most jobs passed to one ``runBatch(_:)`` call.
    static var maxBatchSize: Int { get }

    /// Runs the jobs; returns, in the same order, `nil` for each job that succeeded or the error it failed with
    /// (``PermanentFailure`` sends it to the dead set).
    func runBatch(_ jobs: [BatchItem<Payload>]) async -> [(any Error)?]
}

/// One job of a batch: its decoded payload and its context.
public struct BatchItem<Payload: Sendable>: Sendable {
    public let payload: Payload
    public let context: JobContext

    /// One job of a batch.
    public init(payload: Payload, context: JobContext) {
        self.payload = payload
        self.context = context
    }
}

extension BatchJobType {
    public static var maxBatchSize: Int { 500 }

    /// A single job is a batch of one.
    public func run(_ payload: Payload, context: JobContext) async throws {
        if let error = await runBatch([BatchItem(payload: payload, context: context)]).first ?? nil {
            throw error
        }
    }
}
