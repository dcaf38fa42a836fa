import Foundation
import PhoenixJobsCore
import PhoenixQueue
import PhoenixSupabase

/// A job's status as `GET /v1/jobs/{id}` answers it: from the queue's record, with the run row's result, or
/// from the run row alone once the queue forgot the job. The same answer opens a job's event stream.
struct JobStatuses: Sendable {
    let queue: JobQueue
    let store: PhoenixStore
    let rules: UserJobRules
    let events: JobEventHub

    /// A job's status: its state and the JSON body.
    struct Status: Sendable {
        var state: JobState
        var body: JSONValue
        /// The stream the job's events go to; `nil` once the queue forgot the job.
        var stream: JobEventStream?
    }

    /// Job `id`'s status, or a 404 when there is no such job or it is not `caller`'s. `stream`, when the caller
    /// found it already, saves looking for the job's queue (a job never moves to another).
    func status(of id: UUID, for caller: Identity, in stream: JobEventStream? = nil) async throws -> Status {
        let text = id.lowercasedString
        let located = if let stream {
            try await queue.records(ids: [text], in: stream).first.map { (record: $0, stream: stream) }
        } else {
            try await queue.locateJob(id: text)
        }
        guard let (record, stream) = located else {
            // The queue keeps a finished job for its retention period; its run row stays after that.
            guard let run = try await store.run(jobID: id), rules.allowsRun(caller, type: run.type, owner: run.userID) else {
                throw APIError.notFound("no job \(text) (or not yours)")
            }
            let archived = Self.archivedStatus(id, run)
            return Status(state: archived.state, body: archived.body, stream: nil)
        }
        guard let envelope = record.envelope, rules.allows(caller, type: envelope.type, payload: envelope.payload) else {
            throw APIError.notFound("no job \(text) (or not yours)")
        }
        // A job waiting for its turn has no result yet: its run row is read once it has run.
        let run = [.ready, .delayed].contains(record.state) ? nil : try await store.run(jobID: id)
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
        return Status(state: record.state, body: .object(body), stream: stream)
    }

    /// Job `id`'s status once it ended, or after `wait` with its state then (a long poll). Waits on the job's
    /// event stream (no polling): the subscription begins before the state is read again, so an end that
    /// comes in between is not missed.
    func waitForEnd(of id: UUID, for caller: Identity, upTo wait: Duration) async throws -> Status {
        let text = id.lowercasedString
        guard let stream = try await queue.eventStream(ofJob: text) else { return try await status(of: id, for: caller) }
        let subscription = try await events.subscribe(to: [stream], following: .job(text))
        defer { subscription.cancel() }
        let status = try await status(of: id, for: caller, in: stream)
        guard !status.state.isFinal else { return status }
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                for await case let event? in subscription.events where event.kind.isFinal { return }
            }
            group.addTask { try? await Task.sleep(for: wait) }
            await group.next()
            group.cancelAll()
            subscription.cancel()
        }
        return try await self.status(of: id, for: caller, in: stream)
    }

    /// A job's status from its run row alone, once the queue's record expired: a failed run that never
    /// completed ended dead (or was discarded); the attempts allowed are no longer known.
    static func archivedStatus(_ id: UUID, _ run: JobRunSummary) -> (state: JobState, body: JSONValue) {
        let state: JobState = switch run.status {
        case "completed": .completed
        case "cancelled": .cancelled
        default: .dead
        }
        return (state, .object([
            "id": .string(id.lowercasedString), "type": .string(run.type), "queue": .string(run.queue), "state": .string(state.rawValue),
            "attempt": .number(Double(run.attempt)), "max_attempts": .null,
            "last_error": run.error.map(JSONValue.string) ?? .null,
            "started_at": .string(run.startedAt.formatted(.iso8601)),
            "finished_at": run.finishedAt.map { .string($0.formatted(.iso8601)) } ?? .null,
            "progress": .null, "progress_message": .null, "cancelling": .bool(false),
            "result": run.result.flatMap { try? JSONValue.parse(Array($0.utf8)) } ?? .null,
            "duration_ms": run.durationMilliseconds.map { .number(Double($0)) } ?? .null,
            "archived": .bool(true),
        ]))
    }
}
