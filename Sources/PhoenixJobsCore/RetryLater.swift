public import Foundation

/// An outside service asked to be called again later (HTTP 429, or 503 with Retry-After): the job goes back to
/// wait `after` without spending an attempt, and when `holdsQueue` is true no job of its queue starts on any
/// worker until then, since they would call the same service.
///
/// A job that keeps being told to wait is not held back for ever: after ``maxDeliveriesWithoutAttempt``
/// deliveries the worker counts the wait as a failed attempt.
public struct RetryLater: Error, CustomStringConvertible, Equatable {
    /// How long to wait before the job may run again.
    public var after: Duration
    /// Who asked and why, for the logs (never payload contents).
    public var reason: String
    /// Whether every job of the queue waits too.
    public var holdsQueue: Bool

    /// Longest wait honoured: a service naming a longer one is called again after this.
    public static let maxWait = Duration.seconds(3600)
    /// Wait when a 429 names none.
    public static let defaultWait = Duration.seconds(5)
    /// Deliveries of one job without an attempt spent, after which being told to wait counts as a failed attempt.
    public static let maxDeliveriesWithoutAttempt = 100

    /// A wait of `after` (at most ``maxWait``, at least 1 ms).
    public init(after: Duration, reason: String, holdsQueue: Bool = true) {
        self.after = min(max(after, .milliseconds(1)), Self.maxWait)
        self.reason = reason
        self.holdsQueue = holdsQueue
    }

    /// The wait an HTTP answer asks for: a 429 (Retry-After's wait, or ``defaultWait`` without one) or a 503
    /// with Retry-After; `nil` for any other answer. `retryAfter` is the header's value, seconds or an HTTP
    /// date; `now` is when the answer came.
    public init?(status: Int, retryAfter: String?, from service: String, now: Date = Date()) {
        let wait = retryAfter.flatMap { Self.wait(retryAfter: $0, now: now) }
        switch (status, wait) {
        case (429, let wait): self.init(after: wait ?? Self.defaultWait, reason: "\(service) answered HTTP 429 Too Many Requests")
        case (503, let wait?): self.init(after: wait, reason: "\(service) answered HTTP 503 Service Unavailable with Retry-After")
        default: return nil
        }
    }

    /// A Retry-After header's wait (RFC 9110 §10.2.3): whole seconds, or an HTTP date (a date in the past is
    /// no wait); `nil` when it is neither.
    public static func wait(retryAfter value: String, now: Date) -> Duration? {
        let text = value.trimmingCharacters(in: .whitespaces)
        if let seconds = Int(text), seconds >= 0 { return .seconds(min(seconds, Int(maxWait.components.seconds))) }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
        guard let date = formatter.date(from: text) else { return nil }
        return .milliseconds(max(0, Int((date.timeIntervalSince(now) * 1000).rounded(.up))))
    }

    public var description: String { "\(reason); retry in \(after)" }
}
