public import Foundation
public import Logging
public import Queue

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
    var metadata: Logger.Metadata {
        ["job.id": "\(jobID.uuidString.lowercased())", "job.type": "\(type)", "job.queue": "\(queue)", "job.attempt": "\(attempt)"]
    }
    private let baseLogger: Logger
    private let lease: JobLease
    private let engine: JobQueue

    init(job: LeasedJob, queue: JobQueue, workerID: String, logger: Logger) {
        self.jobID = job.envelope.id
        self.type = job.envelope.type
        self.queue = job.envelope.queue
        self.workerID = workerID
        self.attempt = job.envelope.attempt
        self.correlationId = job.envelope.correlationId
        self.enqueuedBy = job.envelope.enqueuedBy
        self.lease = job.lease
        self.engine = queue
        self.baseLogger = logger
    }

    /// Enqueues a follow-up job; it inherits this job's correlation id (or this job's id) and names this job
    /// as its enqueuer.
    @discardableResult
    public func enqueue(_ job: JobEnvelope) async throws -> EnqueueResult {
        try await engine.enqueue(followUp(job))
    }

    /// Enqueues many jobs in one round trip, as they are (make them with ``followUp(_:)``).
    @discardableResult
    public func enqueue(_ jobs: [JobEnvelope]) async throws -> [EnqueueResult] {
        try await engine.enqueue(jobs)
    }

    /// `job` as a follow-up of this job: this job's correlation id (or id), and this job as its enqueuer.
    public func followUp(_ job: JobEnvelope) -> JobEnvelope {
        var job = job
        job.correlationId = job.correlationId ?? correlationId ?? jobID.uuidString.lowercased()
        job.enqueuedBy = job.enqueuedBy ?? Enqueuer.job(jobID)
        return job
    }

    /// Enqueues a follow-up job of a registered type with a typed payload.
    @discardableResult
    public func enqueue<T: JobType>(_ type: T.Type, _ payload: T.Payload, idempotencyKey: String? = nil) async throws -> EnqueueResult {
        try await enqueue(try JobEnvelope(type, payload, idempotencyKey: idempotencyKey))
    }

    /// Removes the waiting and dead jobs of every queue whose envelope mentions `value` (a user's id, when
    /// erasing them); returns how many. See ``JobQueue/purgeJobs(mentioning:)``.
    public func purgeJobs(mentioning value: String) async throws -> Int {
        try await engine.purgeJobs(mentioning: value)
    }

    /// Records how far the job got (0–1), readable through the job's status.
    public func reportProgress(_ fraction: Double, _ message: String = "") async throws {
        try await engine.reportProgress(lease, fraction: fraction, message: message)
    }
}

extension JobEnvelope {
    /// A new job of a registered type: its name, default queue and attempts, with `payload` encoded.
    public init<T: JobType>(_ type: T.Type, _ payload: T.Payload, queue: String? = nil, delay: Duration? = nil, idempotencyKey: String? = nil) throws {
        let json = try JSONValue.parse(try JSONEncoder().encode(payload))
        self.init(type: T.name, queue: queue ?? T.queue, payload: json, maxAttempts: T.maxAttempts, delay: delay, idempotencyKey: idempotencyKey)
    }
}
