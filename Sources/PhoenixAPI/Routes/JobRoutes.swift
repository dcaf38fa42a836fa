import Foundation
public import Hummingbird
public import PhoenixJobsCore
public import PhoenixSupabase
import PhoenixQueue

/// `/v1/jobs` and `/v1/events`: submit jobs (one or a batch), read a job's status, cancel a waiting job.
public struct JobRoutes: Sendable {
    let queue: JobQueue
    let submitter: JobSubmitter
    let catalog: JobCatalog
    let store: PhoenixStore
    let rules: UserJobRules
    /// Charges a batch's jobs beyond the first (the request itself was charged by the middleware).
    let limiter: RateLimiter
    /// Largest request body, in bytes.
    let bodyLimit: Int
    /// `ENABLE_EVENT_PROCESSING`: when false, events (`POST /v1/events`, jobs of the event type's queue) are
    /// refused with a 503, since no event bridge takes them.
    let eventProcessing: Bool
    /// Most jobs in one batch.
    static let maxBatch = 1000

    public init(submitter: JobSubmitter, catalog: JobCatalog, store: PhoenixStore, rules: UserJobRules, limiter: RateLimiter, bodyLimit: Int, eventProcessing: Bool = true) {
        self.queue = submitter.queue
        self.submitter = submitter
        self.catalog = catalog
        self.store = store
        self.rules = rules
        self.limiter = limiter
        self.bodyLimit = bodyLimit
        self.eventProcessing = eventProcessing
    }

    /// Adds the routes to `group` (already behind authentication).
    public func add(to group: RouterGroup<APIContext>) {
        group.post("jobs") { request, context in try await submit(request, context) }
        group.post("jobs/batch") { request, context in try await submitBatch(request, context) }
        group.get("jobs/{id}") { request, context in try await status(context) }
        group.delete("jobs/{id}") { request, context in try await cancel(context) }
        group.post("events") { request, context in try await publishEvent(request, context) }
    }

    private func submit(_ request: Request, _ context: APIContext) async throws -> Response {
        var request = request
        let job = try envelope(try JobSubmission.parse(try await request.json(limit: bodyLimit)), for: try context.caller())
        let result = try await submitter.enqueue(job)
        return accepted(result)
    }

    private func publishEvent(_ request: Request, _ context: APIContext) async throws -> Response {
        try checkEventProcessing(queue: catalog.entry(rules.eventType)?.queue)
        var request = request
        let submission = JobSubmission(type: rules.eventType, payload: try await request.json(limit: bodyLimit))
        let result = try await submitter.enqueue(try envelope(submission, for: try context.caller()))
        return accepted(result)
    }

    private func submitBatch(_ request: Request, _ context: APIContext) async throws -> Response {
        var request = request
        let caller = try context.caller()
        guard case .array(let items)? = try await request.json(limit: bodyLimit).objectValue?["jobs"] else {
            throw APIError.badRequest("invalid_request", "expected {\"jobs\": [ {\"type\": …, \"payload\": {…}}, … ]}")
        }
        guard (1...Self.maxBatch).contains(items.count) else {
            throw APIError.badRequest("invalid_request", "a batch holds 1 to \(Self.maxBatch) jobs, got \(items.count)")
        }
        // The rate limit counts jobs: a batch of N costs N (its request already cost one).
        try await limiter.charge(caller, units: items.count - 1)
        // Every job is checked before any is enqueued: a batch goes in whole or not at all.
        var jobs: [JobEnvelope] = []
        for (index, item) in items.enumerated() {
            jobs.append(try entry(item, at: index, for: caller))
        }
        let results = try await submitter.enqueue(jobs)
        let body = JSONValue.object(["jobs": .array(results.map(Self.summary))])
        return .json(body, status: .accepted)
    }

    private func status(_ context: APIContext) async throws -> Response {
        let caller = try context.caller()
        let id = try Self.jobID(context)
        guard let record = try await queue.job(id: id.lowercasedString) else {
            // The queue keeps a finished job for its retention period; its run row stays after that.
            guard let run = try await store.run(jobID: id), rules.allowsRun(caller, type: run.type, owner: run.userID) else {
                throw APIError.notFound("no job \(id.lowercasedString) (or not yours)")
            }
            return .json(Self.archivedStatus(id, run))
        }
        guard let envelope = record.envelope, rules.allows(caller, type: envelope.type, payload: envelope.payload) else {
            throw APIError.notFound("no job \(id.lowercasedString) (or not yours)")
        }
        let run = try await store.run(jobID: id)
        var body: [String: JSONValue] = [
            "id": .string(record.id), "type": .string(envelope.type), "queue": .string(envelope.queue), "state": .string(record.state.rawValue),
            "attempt": .number(Double(record.attempt)), "max_attempts": .number(Double(record.maxAttempts)),
            "last_error": record.lastError.map(JSONValue.string) ?? .null,
            "enqueued_at": .string(envelope.enqueuedAt.formatted(.iso8601)),
            "started_at": record.startedAt.map { .string($0.formatted(.iso8601)) } ?? .null,
            "finished_at": record.finishedAt.map { .string($0.formatted(.iso8601)) } ?? .null,
            "progress": record.progress.map(JSONValue.number) ?? .null,
            "progress_message": record.progressMessage.map(JSONValue.string) ?? .null,
            // A running job whose cancellation was asked: its worker is stopping it.
            "cancelling": .bool(record.state == .leased && record.cancelRequestedAt != nil),
        ]
        body["result"] = run?.result.flatMap { try? JSONValue.parse(Array($0.utf8)) } ?? .null
        body["duration_ms"] = run?.durationMilliseconds.map { .number(Double($0)) } ?? .null
        return .json(.object(body))
    }

    /// A job's status from its run row alone, once the queue's record expired: a failed run that never
    /// completed ended dead (or was discarded); the attempts allowed are no longer known.
    static func archivedStatus(_ id: UUID, _ run: JobRunSummary) -> JSONValue {
        let state: JobState = switch run.status {
        case "completed": .completed
        case "cancelled": .cancelled
        default: .dead
        }
        return .object([
            "id": .string(id.lowercasedString), "type": .string(run.type), "queue": .string(run.queue), "state": .string(state.rawValue),
            "attempt": .number(Double(run.attempt)), "max_attempts": .null,
            "last_error": run.error.map(JSONValue.string) ?? .null,
            "started_at": .string(run.startedAt.formatted(.iso8601)),
            "finished_at": run.finishedAt.map { .string($0.formatted(.iso8601)) } ?? .null,
            "progress": .null, "progress_message": .null, "cancelling": .bool(false),
            "result": run.result.flatMap { try? JSONValue.parse(Array($0.utf8)) } ?? .null,
            "duration_ms": run.durationMilliseconds.map { .number(Double($0)) } ?? .null,
            "archived": .bool(true),
        ])
    }

    private func cancel(_ context: APIContext) async throws -> Response {
        let caller = try context.caller()
        let id = try Self.jobID(context).lowercasedString
        guard let record = try await queue.job(id: id), let envelope = record.envelope,
              rules.allows(caller, type: envelope.type, payload: envelope.payload) else {
            throw APIError.notFound("no job \(id) (or not yours)")
        }
        switch try await queue.cancel(id: id) {
        case .cancelled:
            return .json(.object(["id": .string(id), "state": .string(JobState.cancelled.rawValue)]))
        case .cancelling:
            // Running: its worker cancels the handler at its next heartbeat; GET shows the state it ends in.
            return .json(.object(["id": .string(id), "state": .string(JobState.leased.rawValue), "cancelling": .bool(true)]), status: .accepted)
        case .notFound:
            throw APIError.notFound("no job \(id)")
        case .notCancellable(let state):
            throw APIError(.conflict, "not_cancellable", "job \(id) is \(state.rawValue): it has finished, so there is nothing to cancel")
        }
    }

    /// The envelope of a batch's entry `index`; errors name the entry.
    private func entry(_ item: JSONValue, at index: Int, for caller: Identity) throws(APIError) -> JobEnvelope {
        do throws(APIError) {
            return try envelope(try JobSubmission.parse(item), for: caller)
        } catch {
            throw APIError(error.status, error.code, "jobs[\(index)]: \(error.message)")
        }
    }

    /// Refuses work for the events queue while event processing is disabled: no event bridge would take it.
    private func checkEventProcessing(queue: String?) throws(APIError) {
        guard !eventProcessing, queue == catalog.entry(rules.eventType)?.queue else { return }
        throw APIError(.serviceUnavailable, "event_processing_disabled", "event processing is disabled on this deployment (ENABLE_EVENT_PROCESSING=false): events are not accepted")
    }

    /// The envelope of a submission by `caller`, or why it is refused.
    private func envelope(_ submission: JobSubmission, for caller: Identity) throws(APIError) -> JobEnvelope {
        try rules.checkChoices(caller, submission)
        var submission = submission
        if let key = submission.idempotencyKey {
            submission.idempotencyKey = try UserJobRules.namespacedKey(key, type: submission.type, caller: caller)
        }
        let job: JobEnvelope
        do {
            job = try submission.envelope(catalog: catalog, enqueuedBy: caller.subject)
        } catch {
            throw APIError(.unprocessableContent, "invalid_job", error.description)
        }
        guard rules.allows(caller, type: job.type, payload: job.payload) else { throw rules.refusal(caller, type: job.type) }
        try checkEventProcessing(queue: job.queue)
        return job
    }

    private func accepted(_ result: EnqueueResult) -> Response {
        let id = result.id.lowercasedString
        return .json(Self.summary(result), status: .accepted, headers: [.location: "/v1/jobs/\(id)"])
    }

    private static func summary(_ result: EnqueueResult) -> JSONValue {
        let id = result.id.lowercasedString
        return .object(["id": .string(id), "created": .bool(result.created), "status_url": .string("/v1/jobs/\(id)")])
    }

    private static func jobID(_ context: APIContext) throws(APIError) -> UUID {
        guard let text = context.parameters.get("id"), let id = UUID(uuidString: text) else {
            throw .badRequest("invalid_id", "the job id must be a UUID")
        }
        return id
    }
}

extension JobSubmission {
    /// A submission from a request body, its format errors as 400s.
    static func parse(_ json: JSONValue) throws(APIError) -> JobSubmission {
        do {
            return try JobSubmission(json: json)
        } catch {
            throw .badRequest("invalid_request", error.description)
        }
    }
}
