import Foundation
public import Hummingbird
import Logging
import PhoenixQueue
import PhoenixRedis

/// Turns every error into a JSON error body: ``APIError``s as they are, Hummingbird's own errors (unknown
/// route, wrong method, body too large) with a code of their status, a Redis that refused or could not be
/// reached into a 503 the caller may retry (nothing was enqueued: a refused script writes nothing), an enqueue
/// that too few replicas acknowledged into a 503 saying to send it again with its idempotency key, and
/// anything else into a 500 whose detail goes to the log, not to the client.
public struct ErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    public init() {}

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as APIError {
            throw error
        } catch let error as HTTPError {
            throw APIError(error.status, Self.code(for: error.status), error.body ?? Self.message(for: error.status, request: request), headers: error.headers)
        } catch let error as any HTTPResponseError {
            throw APIError(error.status, Self.code(for: error.status), "\(error)")
        } catch QueueError.notReplicated(let acknowledged, let required) {
            context.logger.warning("Enqueue not acknowledged by enough replicas", metadata: ["acknowledged": "\(acknowledged)", "required": "\(required)", "path": "\(request.uri.path)"])
            throw APIError(
                .serviceUnavailable, "queue_not_replicated",
                "the job was stored, but fewer replicas than required acknowledged it in time, so it could be lost in a failover; send it again with the same idempotencyKey (without one, it may run twice)",
                headers: [.retryAfter: "5"]
            )
        } catch QueueError.redis(let error) {
            throw Self.unavailable(error, request: request, context: context)
        } catch let error as RedisError {
            // Calls outside the queue (the rate limiter's counter) fail the same way.
            throw Self.unavailable(error, request: request, context: context)
        } catch {
            context.logger.error("Request failed", metadata: ["error": "\(error)", "path": "\(request.uri.path)"])
            throw APIError(.internalServerError, "internal_error", "the server failed to handle the request; it has been logged")
        }
    }

    /// The 503 for a Redis that refused a request or could not be reached; the error goes to the log.
    static func unavailable(_ error: RedisError, request: Request, context: Context) -> APIError {
        context.logger.error("Redis refused a request", metadata: ["error": "\(error)", "path": "\(request.uri.path)"])
        if case .server(code: "OOM", message: _) = error {
            return APIError(.serviceUnavailable, "queue_full", "the job queue's Redis is out of memory; nothing was enqueued; try again later", headers: [.retryAfter: "30"])
        }
        return APIError(.serviceUnavailable, "queue_unavailable", "the job queue's Redis cannot be reached; try again later", headers: [.retryAfter: "5"])
    }

    static func code(for status: HTTPResponse.Status) -> String {
        switch status.code {
        case 404: "not_found"
        case 405: "method_not_allowed"
        case 413: "payload_too_large"
        case 415: "unsupported_media_type"
        case 429: "rate_limited"
        case 400..<500: "bad_request"
        default: "internal_error"
        }
    }

    static func message(for status: HTTPResponse.Status, request: Request) -> String {
        switch status.code {
        case 404: "no route for \(request.method) \(request.uri.path)"
        case 405: "\(request.method) is not allowed on \(request.uri.path)"
        case 413: "the request body is larger than the server accepts"
        default: status.reasonPhrase
        }
    }
}
