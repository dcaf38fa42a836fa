public import Foundation
public import PhoenixQueue

/// How a user's subscription weighs in the fair queues (``PhoenixQueue/FlowSettings``): an active or trialing
/// premium user's letters and CVs get twice the turns of a free user's, a pro user's four times, in line with
/// their quotas (free: a few documents a month; premium and pro: unlimited). `subscription.apply` sets it when
/// a tier changes.
public enum SubscriptionShare {
    /// The fair share weight of a subscription: 1 for free, cancelled, past-due or incomplete ones.
    public static func weight(tier: String, status: String) -> Int {
        guard ["active", "trialing"].contains(status) else { return 1 }
        switch tier {
        case "pro": return 4
        case "premium": return 2
        default: return 1
        }
    }

    /// The queues an app's subscription weighs in: its own documents' queue; all of them for `ecosystem`.
    public static func queues(app: String) -> [String] {
        switch app {
        case "letters": [WorkerType.letters.queue]
        case "cv": [WorkerType.cv.queue]
        case "ecosystem": [WorkerType.letters.queue, WorkerType.cv.queue]
        default: []
        }
    }

    /// Sets the weight of `user` in the queues of `app` for `tier` and `status`, through `queue`.
    public static func apply(userID: UUID, app: String, tier: String, status: String, queue: JobQueue) async throws {
        for name in queues(app: app) {
            try await queue.setFairShareWeight(weight(tier: tier, status: status), forKey: userID.uuidString.lowercased(), queue: name)
        }
    }
}
