public import Hummingbird

/// Verifies the caller of every request it guards and stores it in the context: a Bearer token, or, on the
/// event stream routes only (`GET /v1/jobs/{id}/events`, `GET /v1/events/stream`), a stream token as
/// `?access_token=` (browsers' `EventSource` cannot send headers).
public struct AuthMiddleware: RouterMiddleware {
    public typealias Context = APIContext
    let verifier: TokenVerifier
    let streamTokens: StreamTokens

    init(verifier: TokenVerifier, streamTokens: StreamTokens) {
        self.verifier = verifier
        self.streamTokens = streamTokens
    }

    public func handle(_ request: Request, context: APIContext, next: (Request, APIContext) async throws -> Response) async throws -> Response {
        var context = context
        if request.headers[.authorization] == nil, request.method == .get, Self.isStreamPath(request.uri.path),
           let token = try request.queryParameter("access_token") {
            context.identity = try await streamTokens.identity(token)
        } else {
            context.identity = try await verifier.identity(authorization: request.headers[.authorization])
        }
        return try await next(request, context)
    }

    /// Whether `path` is an event stream's: `/v1/events/stream` or `/v1/jobs/<id>/events`.
    static func isStreamPath(_ path: String) -> Bool {
        let parts = path.split(separator: "/", omittingEmptySubsequences: false)
        return path == "/v1/events/stream" || (parts.count == 5 && parts[1] == "v1" && parts[2] == "jobs" && parts[4] == "events")
    }
}
