public import Foundation
public import Logging

/// What a running job may do to the queues, as the runtime holding its lease provides it: enqueue jobs,
/// purge jobs that mention a value, report progress of this delivery and the tokens it spent.
public protocol JobActions: Sendable {
    /// Enqueues jobs as they are; results are in input order.
    func enqueue(_ jobs: [JobEnvelope]) async throws -> [EnqueueResult]
    /// Removes the waiting and dead jobs of every queue whose envelope mentions `value`; returns how many.
    func purgeJobs(mentioning value: String) async throws -> Int
    /// Records how far this delivery of the job got (0–1), readable through the job's status.
    func reportProgress(_ fraction: Double, message: String) async throws
    /// Charges `tokens` an outside service's call spent to the job's queue (its token budget, if it has one).
    func spendTokens(_ tokens: Int) async throws
}

/// What a handler gets besides its payload: who the job is, a logger, and ways to act on the queue.
public struct JobContext: Sendable {
    /// The job's id.
    public let jobID: UUID
    /// The job type's name.
    public let type: String
    /// The queue the job came from.
    public let queue: String
    /// The id of the worker running it.
    public let workerID: String
    /// This delivery's attempt (1 for the first).
    public let attempt: Int
    /// The correlation id the job carries, passed on to follow-up jobs.
    public let correlationId: String?
    /// Who enqueued the job (``Enqueuer``): a handler acts on billing-owned state only for jobs no user submitted.
    public let enqueuedBy: String?
    /// A logger whose metadata carries the job id, type, queue and attempt (never payload contents). Built on
    /// access: most jobs never log, and setting metadata on a log handler is not free (the stream handler
    /// re-renders all of it on each change, so it is set in one change).
    public var logger: Logger {
        var logger = baseLogger
        logger.handler.metadata.merge(metadata) { _, job in job }
        return logger
    }

    /// The job's log metadata: id, type, queue and attempt.
    public var metadata: Logger.Metadata {
        ["job.id": "\(jobID.lowercasedString)", "job.type": "\(type)", "job.queue": "\(queue)", "job.attempt": "\(attempt)"]
    }
    private let baseLogger: Logger
    private let actions: any JobActions

    /// The context of one delivery of `envelope` by worker `workerID`, acting on the queues through `actions`.
    public init(envelope: JobEnvelope, workerID: String, logger: Logger, actions: any JobActions) {
        self.jobID = envelope.id
        self.type = envelope.type
        self.queue = envelope.queue
        self.workerID = workerID
        self.attempt = envelope.attempt
        self.correlationId = envelope.correlationId
        self.enqueuedBy = envelope.enqueuedBy
        self.actions = actions
        self.baseLogger = logger
    }

    /// Enqueues a follow-up job; it inherits this job's correlation id (or this job's id) and names this job
    /// as its enqueuer.
    @discardableResult
    public func enqueue(_ job: JobEnvelope) async throws -> EnqueueResult {
        try await actions.enqueue([followUp(job)])[0]
    }

    /// Enqueues many jobs in one round trip, as they are (make them with ``followUp(_:)``).
    @discardableResult
    public func enqueue(_ jobs: [JobEnvelope]) async throws -> [EnqueueResult] {
        try await actions.enqueue(jobs)
    }

    /// `job` as a follow-up of this job: this job's correlation id (or id), and this job as its enqueuer.
    public func followUp(_ job: JobEnvelope) -> JobEnvelope {
        var job = job
        job.correlationId = job.correlationId ?? correlationId ?? jobID.lowercasedString
        job.enqueuedBy = job.enqueuedBy ?? Enqueuer.job(jobID)
        return job
    }

    /// Enqueues a follow-up job of a registered type with a typed payload.
    @discardableResult
    public func enqueue<T: JobType>(_ type: T.Type, _ payload: T.Payload, idempotencyKey: String? = nil) async throws -> EnqueueResult {
        try await enqueue(try JobEnvelope(type, payload, idempotencyKey: idempotencyKey))
    }

    /// Removes the waiting and dead jobs of every queue whose envelope mentions `value` (a user's id, when
    /// erasing them); returns how many.
    public func purgeJobs(mentioning value: String) async throws -> Int {
        try await actions.purgeJobs(mentioning: value)
    }

    /// Charges the tokens one call of a paid AI provider spent (from the provider's usage figures) to the job's
    /// queue: its token budget holds the queue's next jobs back while it is spent (``RetryLater`` is for a
    /// provider that refuses a call). Call it once per call, after it answered.
    public func spendTokens(_ tokens: Int) async throws {
        try await actions.spendTokens(tokens)
    }

    /// Records how far the job got (0–1), readable through the job's status.
    public func reportProgress(_ fraction: Double, _ message: String = "") async throws {
        try await actions.reportProgress(fraction, message: message)
    }
}

extension JobEnvelope {
    /// A new job of a registered type: its name, default queue and attempts, with `payload` encoded.
    public init<T: JobType>(_ type: T.Type, _ payload: T.Payload, queue: String? = nil, delay: Duration? = nil, idempotencyKey: String? = nil) throws {
        let json = try JSONValue.parse(try JSONEncoder().encode(payload))
        self.init(type: T.name, queue: queue ?? T.queue, payload: json, maxAttempts: T.maxAttempts, delay: delay, idempotencyKey: idempotencyKey)
    }
}
