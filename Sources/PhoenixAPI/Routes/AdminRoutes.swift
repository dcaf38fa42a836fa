import Foundation
public import Hummingbird
public import PhoenixQueue
import PhoenixJobsCore

/// Queue administration, for `service_role` only: queues and workers, the dead set (list, retry,
/// discard), pause and resume, flow control.
public struct AdminRoutes: Sendable {
    let queue: JobQueue
    /// Queues listed even when Redis has never seen them (those the worker types serve).
    let knownQueues: [String]
    let staleAfter: Duration
    let bodyLimit: Int

    public init(queue: JobQueue, knownQueues: [String], staleAfter: Duration = .seconds(30), bodyLimit: Int) {
        self.queue = queue
        self.knownQueues = knownQueues
        self.staleAfter = staleAfter
        self.bodyLimit = bodyLimit
    }

    /// Adds the routes to `group` (already behind authentication).
    public func add(to group: RouterGroup<APIContext>) {
        group.get("queues") { _, context in
            _ = try context.service()
            return try Response.json(encoding: try await queue.overview(alwaysListed: knownQueues, staleAfter: staleAfter).queues)
        }
        group.get("workers") { _, context in
            _ = try context.service()
            return try Response.json(encoding: try await queue.liveWorkers(staleAfter: staleAfter))
        }
        group.get("queues/{queue}/dead") { request, context in
            _ = try context.service()
            let name = try Self.queueName(context)
            let offset = try request.integerParameter("offset", in: 0...1_000_000) ?? 0
            let limit = try request.integerParameter("limit", in: 1...500) ?? 50
            return try Response.json(encoding: try await queue.deadJobs(queue: name, offset: offset, limit: limit))
        }
        group.post("queues/{queue}/dead/retry") { request, context in
            try await onDeadJobs(request, context) { name, ids in try await queue.retryDead(queue: name, ids: ids) }
        }
        group.post("queues/{queue}/dead/discard") { request, context in
            try await onDeadJobs(request, context) { name, ids in try await queue.discardDead(queue: name, ids: ids) }
        }
        group.post("queues/{queue}/pause") { _, context in
            _ = try context.service()
            let name = try Self.queueName(context)
            try await queue.pause(queue: name)
            return Response.json(.object(["queue": .string(name), "paused": .bool(true)]))
        }
        group.get("queues/{queue}/flow") { _, context in
            _ = try context.service()
            let name = try await knownQueueName(context)
            return Response.json(Self.flowJSON(name, try await queue.flowSettings(queue: name)))
        }
        group.put("queues/{queue}/flow") { request, context in
            _ = try context.service()
            let name = try await knownQueueName(context)
            var request = request
            let change = try FlowChange(try await request.json(limit: bodyLimit))
            do {
                let settings = try await queue.configureFlow(
                    queue: name, fairShare: change.fairShare, keyConcurrency: change.keyConcurrency, concurrency: change.concurrency,
                    requestsPerMinute: change.requestsPerMinute, tokensPerMinute: change.tokensPerMinute
                )
                return Response.json(Self.flowJSON(name, settings))
            } catch QueueError.queueNotEmpty(_, let depth) {
                throw APIError(.conflict, "queue_not_empty", "fair share can only be switched while no job waits in queue '\(name)' (\(depth) waiting); let its workers drain it, then try again")
            } catch QueueError.invalidSetting(let reason) {
                throw APIError.badRequest("invalid_request", reason)
            }
        }
        group.post("queues/{queue}/resume") { _, context in
            _ = try context.service()
            let name = try Self.queueName(context)
            _ = try await queue.resume(queue: name)
            return Response.json(.object(["queue": .string(name), "paused": .bool(false)]))
        }
    }

    /// Retries or discards the dead jobs named in the body (`{"ids": […]}`); answers which were found.
    private func onDeadJobs(_ request: Request, _ context: APIContext, _ action: (String, [String]) async throws -> [Bool]) async throws -> Response {
        _ = try context.service()
        let name = try Self.queueName(context)
        var request = request
        guard case .array(let values)? = try await request.json(limit: bodyLimit).objectValue?["ids"], !values.isEmpty, values.count <= 1000 else {
            throw APIError.badRequest("invalid_request", "expected {\"ids\": [\"<job id>\", …]} with 1 to 1000 ids")
        }
        var ids: [String] = []
        for value in values {
            guard case .string(let text) = value, let id = UUID(uuidString: text) else {
                throw APIError.badRequest("invalid_id", "every id must be a job UUID")
            }
            ids.append(id.lowercasedString)
        }
        let found = try await action(name, ids)
        let body = zip(ids, found).map { JSONValue.object(["id": .string($0), "found": .bool($1)]) }
        return Response.json(.object(["queue": .string(name), "jobs": .array(body)]))
    }

    /// The queue named in the path, which must be one a worker type serves or one that received jobs: flow
    /// settings for a made-up name would only fill Redis.
    private func knownQueueName(_ context: APIContext) async throws -> String {
        let name = try Self.queueName(context)
        let received = knownQueues.contains(name) ? [] : try await queue.queues()
        guard knownQueues.contains(name) || received.contains(name) else {
            throw APIError(.notFound, "unknown_queue", "no queue '\(name)': no worker type serves it and it never received a job")
        }
        return name
    }

    /// A queue's flow control as the API shows it (a missing limit is `null`).
    static func flowJSON(_ name: String, _ settings: FlowSettings) -> JSONValue {
        .object([
            "queue": .string(name), "fairShare": .bool(settings.fairShare),
            "keyConcurrency": settings.keyConcurrency.map { .number(Double($0)) } ?? .null,
            "concurrency": settings.concurrency.map { .number(Double($0)) } ?? .null,
            "requestsPerMinute": settings.requestsPerMinute.map { .number(Double($0)) } ?? .null,
            "tokensPerMinute": settings.tokensPerMinute.map { .number(Double($0)) } ?? .null,
        ])
    }

    private static func queueName(_ context: APIContext) throws(APIError) -> String {
        guard let name = context.parameters.get("queue"), JobEnvelope.isQueueName(name) else {
            throw .badRequest("invalid_queue", "a queue name is 1-64 characters of a-z, 0-9, '_', '-'")
        }
        return name
    }
}
