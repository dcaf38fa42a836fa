public import Hummingbird
public import Prometheus

/// Records how long each request took, by route, method and status:
/// `phoenix_http_request_duration_seconds{route, method, status}` (a histogram whose buckets reach past the
/// 10 s response-time alert). The route is the matched pattern (`/v1/jobs/{id}`), `NotFound` (the router's
/// name for a path no route matches) or `unmatched` (answered before routing), and a method the API does not
/// serve is `other`, so a caller cannot create series with made-up paths or methods. Added first, it sees the status the error middleware
/// gives a thrown error. Hummingbird's `MetricsMiddleware` would do the same through the process-wide
/// metrics system; this one writes to the registry the router was given.
public struct RequestMetricsMiddleware<Context: RequestContext>: RouterMiddleware {
    let registry: PrometheusCollectorRegistry

    /// The duration buckets, in seconds.
    static var buckets: [Duration] {
        [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60].map { .milliseconds(Int64($0 * 1000)) }
    }

    static var descriptor: MetricNameDescriptor {
        MetricNameDescriptor(
            namespace: "phoenix", metricName: "http_request_duration", unitName: "seconds",
            helpText: "Time from a request's arrival to its response, by route pattern, method and status."
        )
    }

    /// The method as a label: HTTP lets a client send any token as its method, so those the API does not
    /// serve are all `other`, or each would add series for good.
    static func methodLabel(_ method: HTTPRequest.Method) -> String {
        [.get, .head, .post, .put, .patch, .delete, .options].contains(method) ? method.rawValue : "other"
    }

    public init(registry: PrometheusCollectorRegistry) {
        self.registry = registry
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = ContinuousClock.now
        do {
            let response = try await next(request, context)
            record(request, context, status: response.status, since: start)
            return response
        } catch {
            record(request, context, status: (error as? any HTTPResponseError)?.status ?? .internalServerError, since: start)
            throw error
        }
    }

    private func record(_ request: Request, _ context: Context, status: HTTPResponse.Status, since start: ContinuousClock.Instant) {
        let labels = [("route", context.endpointPath ?? "unmatched"), ("method", Self.methodLabel(request.method)), ("status", String(status.code))]
        registry.makeDurationHistogram(descriptor: Self.descriptor, labels: labels, buckets: Self.buckets).record(ContinuousClock.now - start)
    }
}
