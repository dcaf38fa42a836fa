public import Hummingbird

/// Charges every `/v1` request of a signed-in user one unit of their ``RateLimiter`` budget (a batch's
/// further jobs are charged by the batch route).
public struct RateLimitMiddleware: RouterMiddleware {
    public typealias Context = APIContext
    let limiter: RateLimiter

    public init(limiter: RateLimiter) {
        self.limiter = limiter
    }

    public func handle(_ request: Request, context: APIContext, next: (Request, APIContext) async throws -> Response) async throws -> Response {
        try await limiter.charge(try context.caller(), units: 1)
        return try await next(request, context)
    }
}
