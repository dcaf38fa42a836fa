public import Hummingbird

/// CORS for the origins of `ALLOWED_ORIGINS`: their requests (errors included) get
/// `Access-Control-Allow-Origin`, and their preflights a 204 listing the methods and headers the API
/// takes. A preflight from another origin is refused (403); its plain requests get no CORS headers, so a
/// browser does not hand them to the page.
public struct PhoenixCORSMiddleware<Context: RequestContext>: RouterMiddleware {
    let allowed: Set<String>

    public init(allowedOrigins: [String]) {
        allowed = Set(allowedOrigins.map { $0.hasSuffix("/") ? String($0.dropLast()) : $0 })
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let origin = request.headers[.origin] else { return try await next(request, context) }
        let isAllowed = allowed.contains(origin)
        if request.method == .options, request.headers[.accessControlRequestMethod] != nil {
            guard isAllowed else { throw APIError.forbidden("origin \(origin) is not in ALLOWED_ORIGINS") }
            var headers = corsHeaders(origin)
            headers[.accessControlAllowMethods] = "GET, POST, DELETE, OPTIONS"
            headers[.accessControlAllowHeaders] = "Authorization, Content-Type"
            headers[.accessControlMaxAge] = "600"
            return Response(status: .noContent, headers: headers)
        }
        guard isAllowed else { return try await next(request, context) }
        do {
            var response = try await next(request, context)
            for field in corsHeaders(origin) { response.headers[field.name] = field.value }
            return response
        } catch var error as APIError {
            for field in corsHeaders(origin) { error.headers[field.name] = field.value }
            throw error
        }
    }

    private func corsHeaders(_ origin: String) -> HTTPFields {
        [.accessControlAllowOrigin: origin, .vary: "Origin", .accessControlExposeHeaders: "Location, Retry-After"]
    }
}
