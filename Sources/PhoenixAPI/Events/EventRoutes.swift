import Foundation
import HTTPTypes
import Hummingbird
import PhoenixJobsCore
import PhoenixQueue
import PhoenixSupabase

/// The live job events, as server-sent events fed from the queues' event streams (``JobEventHub``):
/// `GET /v1/jobs/{id}/events` (one job's, ending with the job), `GET /v1/events/stream` (every job of the
/// calling user, or of a service's queues), and `POST /v1/events/token` (a short-lived token for browsers'
/// `EventSource`, which cannot send an Authorization header).
struct EventRoutes: Sendable {
    let queue: JobQueue
    let hub: JobEventHub
    let statuses: JobStatuses
    let store: PhoenixStore
    let catalog: JobCatalog
    let rules: UserJobRules
    let tokens: StreamTokens
    /// Most events one backlog read sends (the streams keep about 10,000 each).
    static let backlogLimit = 10_000

    func add(to group: RouterGroup<APIContext>) {
        group.get("jobs/{id}/events") { request, context in try await jobEvents(request, context) }
        group.get("events/stream") { request, context in try await callerEvents(request, context) }
        group.post("events/token") { _, context in try await token(context) }
    }

    /// One job's events. Without `Last-Event-ID`: first a `status` event (what `GET /v1/jobs/{id}` answers),
    /// then each event as it happens; with it, the events after that one. The stream ends after the job's
    /// final event (completed, dead, cancelled), or at once when the job had ended already (with a `status`
    /// event when what was sent did not say so). A client resuming after the job's end, with nothing left to
    /// send, gets a 204: browsers' `EventSource` reconnects whenever a stream ends, and stops only at a 204.
    private func jobEvents(_ request: Request, _ context: APIContext) async throws -> Response {
        let caller = try context.caller()
        let id = try JobRoutes.jobID(context)
        let resumeFrom = try Self.lastEventID(request)
        let text = id.lowercasedString
        guard let stream = try await queue.eventStream(ofJob: text) else {
            // The queue forgot the job: its run row says how it ended (or there is no such job: a 404).
            let archived = try await statuses.status(of: id, for: caller)
            return respond(opening: [ServerSentEvent(id: nil, name: "status", data: archived.body)], cursor: EventCursor([JobEventStream: StreamEventMark]()), following: nil) { _ in true }
        }
        // Subscribed before the job is read (and the caller's right to it checked), so that nothing between the
        // two is missed.
        let subscription = try await subscribe(to: [stream], following: .job(text))
        let status: JobStatuses.Status
        do {
            status = try await statuses.status(of: id, for: caller, in: stream)
        } catch {
            subscription.cancel()
            throw error
        }
        var cursor = EventCursor(subscription.positions)
        var opening: [ServerSentEvent] = []
        var ended: Bool
        if let from = resumeFrom?.entries[stream] {
            let backlog = try await self.backlog(of: stream, after: from, upTo: subscription.positions[stream], following: .job(text))
            guard !(backlog.isEmpty && status.state.isFinal) else {
                subscription.cancel()
                return Response(status: .noContent)
            }
            for event in backlog {
                opening.append(try await sse(event, cursor: &cursor, lookUp: true))
            }
            ended = backlog.contains { $0.kind.isFinal }
            if status.state.isFinal && !ended {
                // It ended after the subscription began (its final event may be on its way): say so now.
                opening.append(ServerSentEvent(id: cursor.text, name: "status", data: status.body))
                ended = true
            }
        } else {
            // Read after the subscription began: an event may repeat what it shows.
            opening.append(ServerSentEvent(id: cursor.text, name: "status", data: status.body))
            ended = status.state.isFinal
        }
        if ended { subscription.cancel() }
        return respond(opening: opening, cursor: cursor, following: ended ? nil : subscription) { $0.kind.isFinal }
    }

    /// Every job of the calling user (the job types users submit, about themselves), or, for a service, every
    /// job of `?queue=` (default: every served queue). Without `Last-Event-ID` it opens with a `ready` event
    /// whose id marks where it began; it does not end on its own.
    private func callerEvents(_ request: Request, _ context: APIContext) async throws -> Response {
        let caller = try context.caller()
        let resumeFrom = try Self.lastEventID(request)
        let asked = try request.queryParameter("queue")
        if let asked, !JobEnvelope.isQueueName(asked) {
            throw APIError.badRequest("invalid_queue", "a queue name is 1-64 characters of a-z, 0-9, '_', '-'")
        }
        var queues: [String]
        let filter: JobEventFilter
        if caller.role == .serviceRole {
            queues = asked.map { [$0] } ?? catalog.servedQueues
            filter = .all
        } else {
            guard let user = caller.userID?.lowercasedString else { throw APIError.unauthorized("a user token needs a sub") }
            queues = Set(rules.userField.keys.compactMap { catalog.entry($0)?.queue }).sorted()
            if let asked {
                guard queues.contains(asked) else { throw APIError.notFound("no queue '\(asked)' holds jobs users submit") }
                queues = [asked]
            }
            filter = .user(user)
        }
        let streams = Set(queues).sorted().flatMap(queue.eventStreams(ofQueue:))
        let subscription = try await subscribe(to: streams, following: filter)
        var cursor = EventCursor(subscription.positions)
        var opening: [ServerSentEvent] = []
        if let resumeFrom {
            var backlog: [JobEvent] = []
            for stream in streams {
                guard let from = resumeFrom.entries[stream] else { continue }
                backlog += try await self.backlog(of: stream, after: from, upTo: subscription.positions[stream], following: filter)
            }
            for event in backlog.sorted(by: { ($0.position.entry, $0.position.index, $0.position.stream) < ($1.position.entry, $1.position.index, $1.position.stream) }) {
                opening.append(try await sse(event, cursor: &cursor, lookUp: true))
            }
        } else {
            opening.append(ServerSentEvent(id: cursor.text, name: "ready", data: .object(["queues": .array(queues.map(JSONValue.string))])))
        }
        return respond(opening: opening, cursor: cursor, following: subscription) { _ in false }
    }

    /// `POST /v1/events/token`: a token for `?access_token=` on the stream routes, for the caller, valid for
    /// ``StreamTokens/lifetime``.
    private func token(_ context: APIContext) async throws -> Response {
        let (token, expires) = try await tokens.issue(for: try context.caller())
        return .json(.object(["token": .string(token), "expires_at": .string(expires.formatted(.iso8601))]))
    }

    private func subscribe(to streams: [JobEventStream], following filter: JobEventFilter) async throws -> JobEventSubscription {
        let subscription = try await hub.subscribe(to: streams, following: filter)
        guard !subscription.positions.isEmpty else {
            throw APIError(.serviceUnavailable, "shutting_down", "this server is shutting down; reconnect to another", headers: [.retryAfter: "1"])
        }
        return subscription
    }

    /// The events of `stream` past `mark` up to the entry `last` that `filter` takes, oldest first.
    private func backlog(of stream: JobEventStream, after mark: StreamEventMark, upTo last: StreamEntryID?, following filter: JobEventFilter) async throws -> [JobEvent] {
        guard let last else { return [] }
        return try await queue.events(in: stream, after: mark, upTo: last, matching: filter.takes, scanning: Self.backlogLimit)
    }

    /// `event` as sent, its id the cursor moved past it. A completed job's event carries its result: the one the
    /// hub attached to a live event, or, for an event read from the stream (`lookUp`), the one read here.
    private func sse(_ event: JobEvent, cursor: inout EventCursor, lookUp: Bool = false) async throws -> ServerSentEvent {
        cursor.advance(past: event)
        var result = event.result
        if lookUp, event.kind == .completed, let id = UUID(uuidString: event.jobID) {
            result = try await store.run(jobID: id)?.result
        }
        return ServerSentEvent(id: cursor.text, name: event.kind.rawValue, data: event.json(result: result.flatMap { try? JSONValue.parse(Array($0.utf8)) }))
    }

    /// A `text/event-stream` response: `opening`, then the events of `subscription` as ``sse(_:cursor:lookUp:)``
    /// writes them, until one `ends` it.
    private func respond(opening: [ServerSentEvent], cursor: EventCursor, following subscription: JobEventSubscription?, endsWith ends: @escaping @Sendable (JobEvent) -> Bool) -> Response {
        ServerSentEvent.response(opening: opening, cursor: cursor, following: subscription, endsWith: ends) { event, cursor in
            try await sse(event, cursor: &cursor)
        }
    }

    /// The `Last-Event-ID` header, or the `last_event_id` query parameter (for clients that cannot set headers).
    private static func lastEventID(_ request: Request) throws(APIError) -> EventCursor? {
        var text = request.headers[HTTPField.Name("Last-Event-ID")!]
        if text == nil { text = try request.queryParameter("last_event_id") }
        guard let text else { return nil }
        return try EventCursor(lastEventID: text)
    }
}
