public import Hummingbird
public import Logging
public import Prometheus
public import PhoenixQueue
public import PhoenixSupabase
public import PhoenixJobsCore
import PhoenixRedis

/// The settings of `phoenix serve` beyond the dependencies.
public struct APIConfiguration: Sendable {
    public var host: String
    public var port: Int
    /// Largest request body, in bytes (413 above).
    public var bodyLimit: Int
    /// Requests per minute per caller (429 above).
    public var rateLimitPerMinute: Int
    /// `STRIPE_WEBHOOK_SECRET`, the signing secret of the Stripe webhook endpoint.
    public var stripeWebhookSecret: String?
    /// `ALLOWED_ORIGINS`: origins browsers may call the API from (CORS); empty: none.
    public var allowedOrigins: [String]
    /// `DASHBOARD_PASSWORD`: signs operators in to `/dashboard` (a service_role token always does).
    public var dashboardPassword: String?
    /// `ENVIRONMENT=production`: the dashboard cookie is `Secure` and `/ready` gives details to `service_role` only.
    public var production: Bool
    /// `ENABLE_EVENT_PROCESSING`: false refuses events with a 503 (`event_processing_disabled`).
    public var eventProcessing: Bool

    public init(host: String = "0.0.0.0", port: Int = 8080, bodyLimit: Int = 1 << 20, rateLimitPerMinute: Int = 600, stripeWebhookSecret: String? = nil, allowedOrigins: [String] = [], dashboardPassword: String? = nil, production: Bool = false, eventProcessing: Bool = true) {
        self.host = host
        self.port = port
        self.bodyLimit = bodyLimit
        self.rateLimitPerMinute = rateLimitPerMinute
        self.stripeWebhookSecret = stripeWebhookSecret
        self.allowedOrigins = allowedOrigins
        self.dashboardPassword = dashboardPassword
        self.production = production
        self.eventProcessing = eventProcessing
    }
}

/// The HTTP front: the router with every route and middleware, as a Hummingbird application.
public enum APIServer {
    /// The router: errors as JSON everywhere; `/health`, `/ready` and `/metrics` open; `/v1/*` behind a Bearer token
    /// and the per-caller rate limit. Submissions are checked against `catalog` (whose served queues are those
    /// listed everywhere) and `rules`; `/metrics` reports the workers of each of `workerTypes`. Job events come
    /// from `events`, which must run beside the application (after it in the `ServiceGroup`).
    public static func router(
        configuration: APIConfiguration, queue: JobQueue, catalog: JobCatalog, rules: UserJobRules, workerTypes: [String],
        store: PhoenixStore, verifier: TokenVerifier, metrics: PrometheusCollectorRegistry, events: JobEventHub, sessionSecret: String? = nil
    ) throws -> Router<APIContext> {
        let router = Router(context: APIContext.self)
        router.middlewares.add(RequestMetricsMiddleware<APIContext>(registry: metrics))
        router.middlewares.add(PhoenixCORSMiddleware<APIContext>(allowedOrigins: configuration.allowedOrigins))
        router.middlewares.add(ErrorMiddleware<APIContext>())
        HealthRoutes(redis: queue.redis.configuration, store: store, detailsOnlyForServicesVerifiedBy: configuration.production ? verifier : nil).add(to: router)
        OpenAPIRoute().add(to: router)
        try DashboardRoutes(
            queue: queue, store: store, hub: events, verifier: verifier, password: configuration.dashboardPassword, sessionSecret: sessionSecret,
            knownQueues: catalog.servedQueues, bodyLimit: configuration.bodyLimit, secureCookie: configuration.production
        ).add(to: router)
        MetricsRoute(queue: queue, registry: metrics, knownQueues: catalog.servedQueues, workerHeartbeats: WorkerHeartbeatMetrics(workerTypes: workerTypes),
                     outbox: store.client).add(to: router)
        let submitter = JobSubmitter(queue: queue, metricsFactory: PrometheusMetricsFactory(registry: metrics))
        StripeWebhookRoute(submitter: submitter, catalog: catalog, eventType: rules.eventType, secret: configuration.stripeWebhookSecret, bodyLimit: configuration.bodyLimit).add(to: router)
        let limiter = RateLimiter(redis: queue.redis, prefix: queue.keys.prefix, limit: configuration.rateLimitPerMinute)
        let streamTokens = StreamTokens(redis: queue.redis, prefix: queue.keys.prefix)
        let v1 = router.group("v1")
            .add(middleware: AuthMiddleware(verifier: verifier, streamTokens: streamTokens))
            .add(middleware: RateLimitMiddleware(limiter: limiter))
        let jobs = JobRoutes(
            submitter: submitter, catalog: catalog, store: store, rules: rules, events: events, limiter: limiter,
            bodyLimit: configuration.bodyLimit, eventProcessing: configuration.eventProcessing
        )
        jobs.add(to: v1)
        EventRoutes(queue: queue, hub: events, statuses: jobs.statuses, store: store, catalog: catalog, rules: rules, tokens: streamTokens).add(to: v1)
        AdminRoutes(queue: queue, knownQueues: catalog.servedQueues, bodyLimit: configuration.bodyLimit).add(to: v1)
        return router
    }

    /// The application serving `router` on the configured address (run it in a `ServiceGroup`).
    public static func application(
        router: Router<APIContext>, configuration: APIConfiguration, logger: Logger,
        onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        Application(
            router: router,
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "phoenix-jobs"),
            onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? configuration.port) },
            logger: logger
        )
    }
}
