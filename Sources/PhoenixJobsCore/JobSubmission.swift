import Foundation

/// A job as a client submits it, in JSON (`phoenix enqueue --file` lines, `POST /v1/jobs` bodies):
/// `{"type": …, "payload": {…}, "queue": …, "delaySeconds": …, "priority": …, "idempotencyKey": …,
/// "correlationId": …}`; only `type` is required.
public struct JobSubmission: Sendable, Equatable {
    public var type: String
    public var payload: JSONValue
    public var queue: String?
    public var delaySeconds: Double?
    public var priority: Int
    public var idempotencyKey: String?
    public var correlationId: String?

    public init(type: String, payload: JSONValue = .object([:]), queue: String? = nil, delaySeconds: Double? = nil, priority: Int = 0, idempotencyKey: String? = nil, correlationId: String? = nil) {
        self.type = type
        self.payload = payload
        self.queue = queue
        self.delaySeconds = delaySeconds
        self.priority = priority
        self.idempotencyKey = idempotencyKey
        self.correlationId = correlationId
    }

    /// Reads a submission from a JSON object.
    /// - Throws: ``JobSubmissionError`` naming the field that is missing or of the wrong kind.
    public init(json: JSONValue) throws(JobSubmissionError) {
        guard case .object(let fields) = json else { throw JobSubmissionError("expected a JSON object") }
        func string(_ key: String) throws(JobSubmissionError) -> String? {
            switch fields[key] {
            case nil, .null?: return nil
            case .string(let value)?: return value
            default: throw JobSubmissionError("field '\(key)' must be a string")
            }
        }
        func number(_ key: String) throws(JobSubmissionError) -> Double? {
            switch fields[key] {
            case nil, .null?: return nil
            case .number(let value)?: return value
            default: throw JobSubmissionError("field '\(key)' must be a number")
            }
        }
        guard let type = try string("type") else { throw JobSubmissionError("missing string field 'type'") }
        self.type = type
        payload = fields["payload"] ?? .object([:])
        queue = try string("queue")
        delaySeconds = try number("delaySeconds")
        if let delay = delaySeconds, !(0...31_536_000).contains(delay) { throw JobSubmissionError("field 'delaySeconds' must be between 0 and 31536000 (a year)") }
        let priority = try number("priority") ?? 0
        guard priority.rounded() == priority, (-1000...1000).contains(priority) else { throw JobSubmissionError("field 'priority' must be a whole number between -1000 and 1000") }
        self.priority = Int(priority)
        idempotencyKey = try string("idempotencyKey")
        correlationId = try string("correlationId")
    }

    /// The job to enqueue: the payload checked against its type in `catalog`, the envelope validated.
    /// - Throws: ``JobSubmissionError`` saying what is wrong (unknown type, the payload's field, a bad queue…).
    public func envelope(catalog: JobCatalog, enqueuedBy: String) throws(JobSubmissionError) -> JobEnvelope {
        do {
            var job = try catalog.makeJob(type: type, payload: payload, queue: queue)
            if let delaySeconds { job.runAt = job.enqueuedAt.addingTimeInterval(delaySeconds) }
            job.priority = priority
            job.idempotencyKey = idempotencyKey
            job.correlationId = correlationId
            job.enqueuedBy = enqueuedBy
            try job.validate()
            return job
        } catch {
            throw JobSubmissionError("\(error)")
        }
    }
}

/// A submitted job that cannot be enqueued, and why.
public struct JobSubmissionError: Error, CustomStringConvertible, Equatable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
