import Foundation
import HTTPTypes
public import PhoenixRedis

/// A per-user budget of requests and jobs per clock minute, counted in Redis so that every API process
/// shares it: one counter per user and minute (`<prefix>:ratelimit:user:<id>:<minute>`, expiring after it).
/// A request costs one; a batch of N jobs costs N in all. `service_role` callers (the Phoenix back-end
/// services, which submit on behalf of every user) are not limited.
public struct RateLimiter: Sendable {
    let redis: RedisClient
    let prefix: String
    /// Units (requests, jobs) a user may spend per minute.
    let limit: Int

    public init(redis: RedisClient, prefix: String, limit: Int) {
        self.redis = redis
        self.prefix = prefix
        self.limit = limit
    }

    /// Spends `units` of `caller`'s budget for this minute.
    /// - Throws: a 429 ``APIError`` with `Retry-After` (seconds to the next minute) once the budget is spent.
    func charge(_ caller: Identity, units: Int) async throws {
        guard caller.role == .authenticated else { return }
        try await charge(subject: caller.subject, units: units)
    }

    /// Spends `units` of the budget counted under `subject` (`user:<id>`, `signin:<address>`) for this minute.
    func charge(subject: String, units: Int) async throws {
        guard units > 0 else { return }
        let now = Int(Date().timeIntervalSince1970)
        let key = "\(prefix):ratelimit:\(subject):\(now / 60)"
        let replies = try await redis.pipeline([RedisCommand("INCRBY", key, units), RedisCommand("EXPIRE", key, 120)])
        guard case .integer(let count) = try replies[0].get(), count > limit else { return }
        let retryAfter = 60 - now % 60
        throw APIError(.tooManyRequests, "rate_limited", "more than \(limit) requests or jobs this minute for this caller; retry in \(retryAfter) s",
                       headers: [.retryAfter: "\(retryAfter)"])
    }
}
