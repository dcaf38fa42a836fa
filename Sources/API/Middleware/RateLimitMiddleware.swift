import Foundation
public import Hummingbird
public import Redis

/// A per-user limit of requests per minute, counted in Redis so that every API process shares it: one
/// counter per user and clock minute (`<prefix>:ratelimit:user:<id>:<minute>`, expiring after it). Over the
/// limit: 429 with `Retry-After` (seconds to the next minute). `service_role` callers (the Phoenix back-end
/// services, which submit on behalf of every user) are not limited.
public struct RateLimitMiddleware: RouterMiddleware {
    public typealias Context = APIContext
    let redis: RedisClient
    let prefix: String
    /// Requests a subject may make per minute.
    let limit: Int

    public init(redis: RedisClient, prefix: String, limit: Int) {
        self.redis = redis
        self.prefix = prefix
        self.limit = limit
    }

    public func handle(_ request: Request, context: APIContext, next: (Request, APIContext) async throws -> Response) async throws -> Response {
        let caller = try context.caller()
        guard caller.role == .authenticated else { return try await next(request, context) }
        let subject = caller.subject
        let now = Int(Date().timeIntervalSince1970)
        let key = "\(prefix):ratelimit:\(subject):\(now / 60)"
        let replies = try await redis.pipeline([RedisCommand("INCR", key), RedisCommand("EXPIRE", key, 120)])
        guard case .integer(let count) = try replies[0].get() else { return try await next(request, context) }
        if count > limit {
            let retryAfter = 60 - now % 60
            throw APIError(.tooManyRequests, "rate_limited", "more than \(limit) requests this minute for this caller; retry in \(retryAfter) s",
                           headers: [.retryAfter: "\(retryAfter)"])
        }
        return try await next(request, context)
    }
}
