import Foundation
public import Hummingbird
import PhoenixJobsCore
import PhoenixSupabase
import PhoenixQueue

/// `/v1/jobs` and `/v1/events`: submit jobs (one or a batch), read a job's status, cancel a waiting job.
public struct JobRoutes: Sendable {
    let queue: JobQueue
    let submitter: JobSubmitter
    let catalog: JobCatalog
    let store: PhoenixStore
    let rules: UserJobRules
    let statuses: JobStatuses
    /// Charges a batch's jobs beyond the first (the request itself was charged by the middleware).
    let limiter: RateLimiter
    /// Largest request body, in bytes.
    let bodyLimit: Int
    /// `ENABLE_EVENT_PROCESSING`: when false, events (`POST /v1/events`, jobs of the event type's queue) are
    /// refused with a 503, since no event bridge takes them.
    let eventProcessing: Bool
    /// Most jobs in one batch.
    static let maxBatch = 1000
    /// Longest long poll (`GET /v1/jobs/{id}?wait=`), in seconds.
    static let maxWait = 60

    init(submitter: JobSubmitter, catalog: JobCatalog, store: PhoenixStore, rules: UserJobRules, events: JobEventHub, limiter: RateLimiter, bodyLimit: Int, eventProcessing: Bool = true) {
        self.queue = submitter.queue
        statuses = JobStatuses(queue: submitter.queue, store: store, rules: rules, events: events)
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
        group.get("jobs/{id}") { request, context in try await status(request, context) }
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

    /// `GET /v1/jobs/{id}`, and with `?wait=N` (1-60 s) a long poll: the answer comes once the job ends, or
    /// after the wait with its state then.
    private func status(_ request: Request, _ context: APIContext) async throws -> Response {
        let caller = try context.caller()
        let id = try Self.jobID(context)
        let wait = try request.integerParameter("wait", in: 0...Self.maxWait)
        var status = try await statuses.status(of: id, for: caller)
        if let wait, wait > 0, !status.state.isFinal {
            status = try await statuses.waitForEnd(of: id, for: caller, upTo: .seconds(wait))
        }
        return .json(status.body)
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

    static func jobID(_ context: APIContext) throws(APIError) -> UUID {
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
