import Foundation
public import Hummingbird
import NIOCore
import PhoenixJobsCore
import Mustache
public import PhoenixQueue
public import PhoenixSupabase

/// `/dashboard`: the operator's pages, updated live from the queues' event streams: the overview (queues,
/// throughput chart, workers, running jobs with cancel, dead set with retry and discard, recent jobs, a feed of
/// job events), a page per job, and a search by job id, user, type and state whose results take bulk actions.
///
/// Signing in takes `DASHBOARD_PASSWORD` or a `service_role` token (in the sign-in form, or as a Bearer
/// header); it sets an HMAC-signed, `HttpOnly`, `SameSite=Lax` session cookie. Every form carries the
/// session's token and cross-origin posts are refused, so another site cannot act through a signed-in browser.
/// Pages run one script, served from `/dashboard/live.js` (the content security policy allows no other).
public struct DashboardRoutes: Sendable {
    let queue: JobQueue
    let store: PhoenixStore
    let hub: JobEventHub
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
    private let script: ByteBuffer

    /// Sign-in attempts a client address may make per minute: enough for a person, too few to guess a password.
    public static let signInAttemptsPerMinute = 10

    /// Pages load nothing but their own script and styles, and post forms only to this server.
    static let contentSecurityPolicy =
        "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'unsafe-inline'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

    public init(queue: JobQueue, store: PhoenixStore, hub: JobEventHub, verifier: TokenVerifier, password: String?, sessionSecret: String?, knownQueues: [String], bodyLimit: Int, secureCookie: Bool = false) throws {
        self.queue = queue
        self.store = store
        self.hub = hub
        self.verifier = verifier
        self.password = password
        self.session = DashboardSession(secret: password ?? sessionSecret)
        self.knownQueues = knownQueues
        self.bodyLimit = bodyLimit
        self.signInLimiter = RateLimiter(redis: queue.redis, prefix: queue.keys.prefix, limit: Self.signInAttemptsPerMinute)
        self.secureCookie = secureCookie
        var library = MustacheLibrary()
        for name in ["dashboard", "job", "search", "login", "layout-style", "layout-header"] {
            try library.register(String(decoding: try Self.resource(name, withExtension: "mustache"), as: UTF8.self), named: name)
        }
        templates = library
        script = ByteBuffer(bytes: try Self.resource("live", withExtension: "js"))
    }

    private static func resource(_ name: String, withExtension ext: String) throws -> Data {
        guard let url = Bundle.module.url(forResource: name, withExtension: ext, subdirectory: "Dashboard") else {
            throw APIError(.internalServerError, "internal_error", "the dashboard file \(name).\(ext) is missing from this build")
        }
        return try Data(contentsOf: url)
    }

    public func add(to router: Router<APIContext>) {
        router.get("dashboard") { request, _ in
            try await page(request) { csrf in
                var view = try await DashboardView.make(queue: queue, store: store, knownQueues: knownQueues, csrf: csrf)
                view["notice"] = Self.notice(request)
                return templates.render(view, withTemplate: "dashboard") ?? ""
            }
        }
        router.get("dashboard/jobs/{id}") { request, context in
            let id = try JobRoutes.jobID(context)
            return try await page(request) { csrf in
                guard var view = try await DashboardJobView.make(id: id, queue: queue, store: store, csrf: csrf) else {
                    throw APIError.notFound("no job \(id.lowercasedString) in the queues or in phoenix_job_runs")
                }
                view["notice"] = Self.notice(request)
                return templates.render(view, withTemplate: "job") ?? ""
            }
        }
        router.get("dashboard/search") { request, _ in try await search(request) }
        router.get("dashboard/events") { request, _ in try await events(request) }
        router.get("dashboard/live.js") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/javascript; charset=utf-8", .cacheControl: "no-cache"], body: .init(byteBuffer: script))
        }
        router.post("dashboard/login") { request, context in try await signIn(request, from: context.remoteAddress) }
        router.post("dashboard/logout") { request, _ in try await form(request) { _ in nil } .withCookie(Self.expired) }
        router.post("dashboard/dead/retry") { request, _ in
            try await form(request) { fields in _ = try await queue.retryDead(queue: try fields.queueName(), ids: [try fields.jobID()]); return nil }
        }
        router.post("dashboard/dead/discard") { request, _ in
            try await form(request) { fields in _ = try await queue.discardDead(queue: try fields.queueName(), ids: [try fields.jobID()]); return nil }
        }
        router.post("dashboard/jobs/cancel") { request, _ in
            try await form(request) { fields in _ = try await queue.cancel(id: try fields.jobID()); return nil }
        }
        router.post("dashboard/jobs/bulk") { request, _ in
            try await form(request) { fields in try await bulk(fields) }
        }
    }

    /// An HTML page for a signed-in operator (or a `service_role` Bearer header, which signs in), made by `render`
    /// with the session's form token; the sign-in form otherwise.
    private func page(_ request: Request, _ render: (_ csrf: String) async throws -> String) async throws -> Response {
        var cookie = session.validate(request.cookies[DashboardSession.cookieName]?.value)
        var newCookie: String?
        if cookie == nil, let header = request.headers[.authorization], (try? await verifier.identity(authorization: header))?.role == .serviceRole {
            newCookie = session.issue()
            cookie = newCookie
        }
        guard let cookie else { return html(login(message: nil), status: .unauthorized) }
        var response = html(try await render(session.csrfToken(for: cookie)), status: .ok)
        if let newCookie { response = response.withCookie(sessionCookie(newCookie)) }
        return response
    }

    /// `GET /dashboard/search`: a job id opens the job's page; otherwise the jobs matching user, type and state.
    private func search(_ request: Request) async throws -> Response {
        let search = try DashboardSearch(request)
        if let id = search.id { return Self.redirect(to: "/dashboard/jobs/\(id.lowercasedString)") }
        return try await page(request) { csrf in
            let found = search.isEmpty ? [] : try await search.results(queue: queue, store: store, queues: Set(try await queue.queues()).union(knownQueues).sorted())
            let now = Date()
            var view: [String: Any] = [
                "csrf": csrf, "generated": now.formatted(.iso8601),
                "user": search.user?.lowercasedString ?? "", "type": search.type ?? "", "searched": !search.isEmpty,
                "states": ([nil] + [JobState.ready, .delayed, .leased, .completed, .dead, .cancelled]).map { state in
                    ["value": state?.rawValue ?? "", "label": state?.rawValue ?? "any state", "selected": state == search.state]
                },
                "back": search.path,
                "jobs": found.map { job in
                    [
                        "id": job.id, "queue": job.queue, "type": job.type, "state": job.state, "attempt": job.attempt, "user": job.user ?? "–",
                        "at": DashboardView.age(now.timeIntervalSince(job.at)) + " ago", "error": job.error ?? "",
                    ] as [String: Any]
                },
                "hasJobs": !found.isEmpty, "count": found.count, "limit": DashboardSearch.limit, "full": found.count == DashboardSearch.limit,
            ]
            view["notice"] = Self.notice(request)
            return templates.render(view, withTemplate: "search") ?? ""
        }
    }

    /// `POST /dashboard/jobs/bulk`: `action` (retry or discard for dead jobs, cancel for waiting and running ones)
    /// on every `id` ticked; answers where to go back to with how many it acted on.
    private func bulk(_ fields: DashboardForm) async throws -> String {
        let ids = try fields.jobIDs()
        let action = fields["action"] ?? ""
        var done = 0
        switch action {
        case "retry", "discard":
            var byQueue: [String: [String]] = [:]
            for id in ids {
                if let name = try await queue.queue(ofJob: id) { byQueue[name, default: []].append(id) }
            }
            for (name, ids) in byQueue {
                let outcomes = action == "retry" ? try await queue.retryDead(queue: name, ids: ids) : try await queue.discardDead(queue: name, ids: ids)
                done += outcomes.filter { $0 }.count
            }
        case "cancel":
            for id in ids {
                switch try await queue.cancel(id: id) {
                case .cancelled, .cancelling: done += 1
                case .notFound, .notCancellable: break
                }
            }
        default:
            throw APIError.badRequest("invalid_action", "action must be retry, discard or cancel")
        }
        let back = fields.returnPath()
        return back + (back.contains("?") ? "&" : "?") + "done=\(action)&ok=\(done)&of=\(ids.count)"
    }

    /// What a bulk action did, from the numbers it redirected with (`done`, `ok`, `of`): `Retried 3 of 4 jobs.`
    private static func notice(_ request: Request) -> String? {
        let query = request.uri.queryParameters
        guard let action = query["done"].flatMap({ ["retry": "Retried", "discard": "Discarded", "cancel": "Cancelled"][String($0)] }),
              let done = query["ok"].flatMap({ Int($0) }), let asked = query["of"].flatMap({ Int($0) }) else { return nil }
        return "\(action) \(done) of \(asked) job\(asked == 1 ? "" : "s")."
    }

    /// `GET /dashboard/events`: the job events of every queue (`?job=`: one job's, ending with it) as server-sent
    /// events for the pages' script. Events carry no result and no progress message (a letter's text while it is
    /// written); the pages read those from the job page.
    private func events(_ request: Request) async throws -> Response {
        guard session.validate(request.cookies[DashboardSession.cookieName]?.value) != nil else {
            throw APIError.unauthorized("sign in to the dashboard first")
        }
        let streams: [JobEventStream]
        let filter: JobEventFilter
        if let text = try request.queryParameter("job") {
            guard let id = UUID(uuidString: text) else { throw APIError.badRequest("invalid_id", "job must be a job id (a UUID)") }
            // An ended job has nothing more to tell: 204 stops EventSource from reconnecting.
            guard let located = try await queue.locateJob(id: id.lowercasedString), !located.record.state.isFinal else { return Response(status: .noContent) }
            streams = [located.stream]
            filter = .job(id.lowercasedString)
        } else {
            streams = Set(try await queue.queues()).union(knownQueues).sorted().flatMap(queue.eventStreams(ofQueue:))
            filter = .all
        }
        let subscription = try await hub.subscribe(to: streams, following: filter)
        guard !subscription.positions.isEmpty else {
            throw APIError(.serviceUnavailable, "shutting_down", "this server is shutting down; reconnect to another", headers: [.retryAfter: "1"])
        }
        let opening = ServerSentEvent(id: nil, name: "ready", data: .object(["queues": .array(Set(streams.map(\.queue)).sorted().map(JSONValue.string))]))
        return ServerSentEvent.response(opening: [opening], cursor: EventCursor(subscription.positions), following: subscription, endsWith: { filter != .all && $0.kind.isFinal }) { event, cursor in
            cursor.advance(past: event)
            guard case .object(var body) = event.json() else { return ServerSentEvent(id: nil, name: event.kind.rawValue, data: event.json()) }
            body["message"] = nil
            if let user = event.user { body["user"] = .string(user) }
            return ServerSentEvent(id: nil, name: event.kind.rawValue, data: .object(body))
        }
    }

    private func signIn(_ request: Request, from address: SocketAddress?) async throws -> Response {
        try DashboardForm.checkOrigin(request)
        try await signInLimiter.charge(subject: "signin:\(address?.ipAddress ?? "unknown")", units: 1)
        var request = request
        let fields = try await DashboardForm(&request, limit: bodyLimit)
        let credential = fields["credential"] ?? ""
        var accepted = false
        if let password, !credential.isEmpty, ConstantTime.equal(credential, password) { accepted = true }
        if !accepted, credential.split(separator: ".").count == 3 {
            accepted = (try? await verifier.identity(authorization: "Bearer \(credential)"))?.role == .serviceRole
        }
        guard accepted else { return html(login(message: "Wrong password or not a service_role token."), status: .unauthorized) }
        return Self.redirect().withCookie(sessionCookie(session.issue()))
    }

    /// Runs a dashboard form's action after checking the session, its form token and the origin, then sends the
    /// browser where the action says (the overview when it says nothing).
    private func form(_ request: Request, _ action: (DashboardForm) async throws -> String?) async throws -> Response {
        try DashboardForm.checkOrigin(request)
        guard let cookie = session.validate(request.cookies[DashboardSession.cookieName]?.value) else {
            throw APIError.unauthorized("sign in to the dashboard first")
        }
        var request = request
        let fields = try await DashboardForm(&request, limit: bodyLimit)
        guard session.checkCSRF(fields["csrf"], session: cookie) else {
            throw APIError.forbidden("the form's token does not match this session; reload the dashboard and try again")
        }
        return Self.redirect(to: try await action(fields) ?? "/dashboard")
    }

    private func login(message: String?) -> String {
        templates.render(message.map { ["message": $0] } ?? [String: String](), withTemplate: "login") ?? ""
    }

    private func sessionCookie(_ value: String) -> Cookie {
        Cookie(name: DashboardSession.cookieName, value: value, maxAge: Int(DashboardSession.lifetime), path: "/dashboard", secure: secureCookie, httpOnly: true, sameSite: .lax)
    }

    private static let expired = Cookie(name: DashboardSession.cookieName, value: "", maxAge: 0, path: "/dashboard", httpOnly: true, sameSite: .lax)

    private func html(_ body: String, status: HTTPResponse.Status) -> Response {
        Response(
            status: status,
            headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store", .contentSecurityPolicy: Self.contentSecurityPolicy],
            body: .init(byteBuffer: ByteBuffer(string: body))
        )
    }

    private static func redirect(to path: String = "/dashboard") -> Response {
        Response(status: .seeOther, headers: [.location: path])
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
