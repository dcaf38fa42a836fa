public import Foundation

/// Who enqueued a job, as ``JobEnvelope/enqueuedBy`` spells it. Jobs act on what their payload says only as
/// far as their enqueuer may: a job a signed-in user submitted (`user:<id>`) never changes what billing owns.
public enum Enqueuer {
    /// A signed-in user, through the HTTP front.
    public static func user(_ id: UUID) -> String { "user:\(id.lowercasedString)" }
    /// A `service_role` caller of the HTTP front (the Phoenix back-end services).
    public static let service = "service"
    /// The Stripe webhook, after its signature was verified.
    public static let stripe = "stripe"
    /// A worker's periodic-job scheduler.
    public static let scheduler = "scheduler"
    /// A follow-up of job `id`.
    public static func job(_ id: UUID) -> String { "job:\(id.lowercasedString)" }

    /// Whether `enqueuedBy` names a signed-in user: such jobs are the user's word, not the platform's.
    public static func isUser(_ enqueuedBy: String?) -> Bool { enqueuedBy?.hasPrefix("user:") ?? false }
}
