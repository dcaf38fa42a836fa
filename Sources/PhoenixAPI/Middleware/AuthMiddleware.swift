public import Hummingbird

/// Verifies the Bearer token of every request it guards and stores the caller in the context.
public struct AuthMiddleware: RouterMiddleware {
    public typealias Context = APIContext
    let verifier: TokenVerifier

    public init(verifier: TokenVerifier) {
        self.verifier = verifier
    }

    public func handle(_ request: Request, context: APIContext, next: (Request, APIContext) async throws -> Response) async throws -> Response {
        var context = context
        context.identity = try await verifier.identity(authorization: request.headers[.authorization])
        return try await next(request, context)
    }
}
