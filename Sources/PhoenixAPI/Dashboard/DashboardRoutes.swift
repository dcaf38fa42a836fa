import Foundation
public import Hummingbird
import NIOCore
import PhoenixJobsCore
import Mustache
public import PhoenixQueue
public import PhoenixSupabase

/// `/dashboard`: the operator's page (queues, throughput chart, workers, running jobs with cancel, dead set
/// with retry and discard, recent jobs), refreshing itself every 5 seconds.
///
/// Signing in takes `DASHBOARD_PASSWORD` or a `service_role` token (in the sign-in form, or as a Bearer
/// header); it sets an HMAC-signed, `HttpOnly`, `SameSite=Lax` session cookie. Every form carries the
/// session's token and cross-origin posts are refused, so another site cannot act through a signed-in browser.
public struct DashboardRoutes: Sendable {
    let queue: JobQueue
    let store: PhoenixStore
    let verifier: TokenVerifier
    let password: String?
    let session: DashboardSession
    let knownQueues: [String]
    let bodyLimit: Int
    /// Sign-in attempts per client address and minute (``signInAttemptsPerMinute``).
    let signInLimiter: RateLimiter
    /// Production: the session cookie is only sent over HTTPS.
    let secureCookie: Bool
    private let templates: MustacheLibrary

    /// Sign-in attempts a client address may make per minute: enough for a person, too few to guess a password.
    public static let signInAttemptsPerMinute = 10

    public init(queue: JobQueue, store: PhoenixStore, verifier: TokenVerifier, password: String?, sessionSecret: String?, knownQueues: [String], bodyLimit: Int, secureCookie: Bool = false) throws {
        self.queue = queue
        self.store = store
        self.verifier = verifier
        self.password = password
        self.session = DashboardSession(secret: password ?? sessionSecret)
        self.knownQueues = knownQueues
        self.bodyLimit = bodyLimit
        self.signInLimiter = RateLimiter(redis: queue.redis, prefix: queue.keys.prefix, limit: Self.signInAttemptsPerMinute)
        self.secureCookie = secureCookie
        var library = MustacheLibrary()
        for name in ["dashboard", "login", "layout-style"] {
            guard let url = Bundle.module.url(forResource: name, withExtension: "mustache", subdirectory: "Dashboard") else {
                throw APIError(.internalServerError, "internal_error", "the dashboard template \(name).mustache is missing from this build")
            }
            try library.register(String(decoding: try Data(contentsOf: url), as: UTF8.self), named: name)
        }
        templates = library
    }

    public func add(to router: Router<APIContext>) {
        router.get("dashboard") { request, _ in try await page(request) }
        router.post("dashboard/login") { request, context in try await signIn(request, from: context.remoteAddress) }
        router.post("dashboard/logout") { request, _ in try await form(request) { _ in } .withCookie(Self.expired) }
        router.post("dashboard/dead/retry") { request, _ in
            try await form(request) { fields in _ = try await queue.retryDead(queue: try Self.queueName(fields), ids: [try Self.jobID(fields)]) }
        }
        router.post("dashboard/dead/discard") { request, _ in
            try await form(request) { fields in _ = try await queue.discardDead(queue: try Self.queueName(fields), ids: [try Self.jobID(fields)]) }
        }
        router.post("dashboard/jobs/cancel") { request, _ in
            try await form(request) { fields in _ = try await queue.cancel(id: try Self.jobID(fields)) }
        }
    }

    private func page(_ request: Request) async throws -> Response {
        var cookie = session.validate(request.cookies[DashboardSession.cookieName]?.value)
        var newCookie: String?
        if cookie == nil, let header = request.headers[.authorization], (try? await verifier.identity(authorization: header))?.role == .serviceRole {
            newCookie = session.issue()
            cookie = newCookie
        }
        guard let cookie else { return html(login(message: nil), status: .unauthorized) }
        let view = try await DashboardView.make(queue: queue, store: store, knownQueues: knownQueues, csrf: session.csrfToken(for: cookie))
        var response = html(templates.render(view, withTemplate: "dashboard") ?? "", status: .ok)
        if let newCookie { response = response.withCookie(sessionCookie(newCookie)) }
        return response
    }

    private func signIn(_ request: Request, from address: SocketAddress?) async throws -> Response {
        try Self.checkOrigin(request)
        try await signInLimiter.charge(subject: "signin:\(address?.ipAddress ?? "unknown")", units: 1)
        var request = request
        let fields = try await Self.formFields(&request, limit: bodyLimit)
        let credential = fields["credential"] ?? ""
        var accepted = false
        if let password, !credential.isEmpty, ConstantTime.equal(credential, password) { accepted = true }
        if !accepted, credential.split(separator: ".").count == 3 {
            accepted = (try? await verifier.identity(authorization: "Bearer \(credential)"))?.role == .serviceRole
        }
        guard accepted else { return html(login(message: "Wrong password or not a service_role token."), status: .unauthorized) }
        return Self.redirect().withCookie(sessionCookie(session.issue()))
    }

    /// Runs a dashboard form's action after checking the session, its form token and the origin.
    private func form(_ request: Request, _ action: ([String: String]) async throws -> Void) async throws -> Response {
        try Self.checkOrigin(request)
        guard let cookie = session.validate(request.cookies[DashboardSession.cookieName]?.value) else {
            throw APIError.unauthorized("sign in to the dashboard first")
        }
        var request = request
        let fields = try await Self.formFields(&request, limit: bodyLimit)
        guard session.checkCSRF(fields["csrf"], session: cookie) else {
            throw APIError.forbidden("the form's token does not match this session; reload the dashboard and try again")
        }
        try await action(fields)
        return Self.redirect()
    }

    private func login(message: String?) -> String {
        templates.render(message.map { ["message": $0] } ?? [String: String](), withTemplate: "login") ?? ""
    }

    private func sessionCookie(_ value: String) -> Cookie {
        Cookie(name: DashboardSession.cookieName, value: value, maxAge: Int(DashboardSession.lifetime), path: "/dashboard", secure: secureCookie, httpOnly: true, sameSite: .lax)
    }

    private static let expired = Cookie(name: DashboardSession.cookieName, value: "", maxAge: 0, path: "/dashboard", httpOnly: true, sameSite: .lax)

    private func html(_ body: String, status: HTTPResponse.Status) -> Response {
        Response(status: status, headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store"], body: .init(byteBuffer: ByteBuffer(string: body)))
    }

    private static func redirect() -> Response {
        Response(status: .seeOther, headers: [.location: "/dashboard"])
    }

    /// Refuses a post whose `Origin` is another site (browsers send it on cross-origin form posts).
    private static func checkOrigin(_ request: Request) throws(APIError) {
        guard let origin = request.headers[.origin], origin != "null" else { return }
        let host = request.head.authority ?? ""
        guard let url = URL(string: origin), let originHost = url.host else { throw .forbidden("cross-site form post refused") }
        let originAuthority = url.port.map { "\(originHost):\($0)" } ?? originHost
        guard originAuthority == host else { throw .forbidden("cross-site form post refused (Origin \(origin))") }
    }

    private static func formFields(_ request: inout Request, limit: Int) async throws -> [String: String] {
        let body = String(buffer: try await request.body.collect(upTo: limit))
        var fields: [String: String] = [:]
        for pair in body.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1).map { String($0).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? "" }
            if let name = parts.first { fields[name] = parts.count > 1 ? parts[1] : "" }
        }
        return fields
    }

    private static func queueName(_ fields: [String: String]) throws(APIError) -> String {
        guard let name = fields["queue"], !name.isEmpty, name.count <= 64 else { throw .badRequest("invalid_queue", "the form names no queue") }
        return name
    }

    private static func jobID(_ fields: [String: String]) throws(APIError) -> String {
        guard let text = fields["id"], let id = UUID(uuidString: text) else { throw .badRequest("invalid_id", "the form names no job id") }
        return id.lowercasedString
    }
}

extension Response {
    /// The response with `cookie` set.
    func withCookie(_ cookie: Cookie) -> Response {
        var response = self
        response.setCookie(cookie)
        return response
    }
}
