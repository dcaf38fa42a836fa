/// A queue's flow control, stored in Redis (``QueueKeys/flow(_:partition:)``) so that every worker and API
/// process applies the same, and read by the queue's scripts in the same step as the jobs they move.
///
/// - **Fair share**: the ready jobs of a fair queue wait in one list per fairness key (the user, for user job
///   types: ``JobQueue/fairnessFields``), and the keys with jobs waiting take turns, so one user's backlog
///   does not delay another's first job. Switched on or off only while no job waits in line.
/// - **Concurrency per key** (fair queues): at most this many jobs of one key are leased at once; a key at its
///   limit waits, parked, without its jobs being fetched (no attempt spent, no worker slot held).
/// - **Concurrency**: at most this many jobs of the queue are leased at once, across every worker.
/// - **Rate**: at most this many jobs of the queue start per minute, across every worker (up to a second's
///   worth at once); a worker that finds none may start yet is told when to come back.
///
/// On a queue of several partitions each partition holds the settings; the queue's concurrency is shared out
/// among them (``JobQueue/configureFlow(queue:fairShare:keyConcurrency:concurrency:)``), and a key's jobs all
/// live in one partition, so its own limit holds as set.
public struct FlowSettings: Sendable, Equatable {
    /// Whether the queue's keys take turns.
    public var fairShare: Bool
    /// Most jobs of one fairness key leased at once; `nil` for no limit.
    public var keyConcurrency: Int?
    /// Most jobs of the queue leased at once; `nil` for no limit.
    public var concurrency: Int?
    /// Most jobs of the queue started per minute; `nil` for no limit.
    public var requestsPerMinute: Int?

    /// Settings with the given values; the defaults are no flow control at all.
    public init(fairShare: Bool = false, keyConcurrency: Int? = nil, concurrency: Int? = nil, requestsPerMinute: Int? = nil) {
        self.fairShare = fairShare
        self.keyConcurrency = keyConcurrency
        self.concurrency = concurrency
        self.requestsPerMinute = requestsPerMinute
    }
}

extension FlowSettings: CustomStringConvertible {
    /// The settings in a line: `fair share on, at most 1 running per key, no limit for the queue`.
    public var description: String {
        [
            "fair share \(fairShare ? "on" : "off")",
            keyConcurrency.map { "at most \($0) running per key" } ?? "no limit per key",
            concurrency.map { "at most \($0) running in the queue" } ?? "no limit for the queue",
            requestsPerMinute.map { "at most \($0) started per minute" } ?? "no rate limit",
        ].joined(separator: ", ")
    }

    /// The settings and who waits on them, short enough for a table cell: `fair 12 users (3 at limit 1),
    /// max 20`, or `-` when the queue has no flow control.
    public func summary(keysInTurn: Int, keysAtLimit: Int) -> String {
        var parts: [String] = []
        if fairShare {
            parts.append("fair \(keysInTurn + keysAtLimit) users" + (keyConcurrency.map { " (\(keysAtLimit) at limit \($0))" } ?? ""))
        } else if let keyConcurrency {
            parts.append("\(keyConcurrency)/user (fair share off)")
        }
        if let concurrency { parts.append("max \(concurrency)") }
        if let requestsPerMinute { parts.append("\(requestsPerMinute)/min") }
        return parts.isEmpty ? "-" : parts.joined(separator: ", ")
    }
}

/// A change to one concurrency limit of ``FlowSettings``.
public enum FlowLimit: Sendable, Equatable {
    /// No limit.
    case unlimited
    /// At most this many (1 or more).
    case atMost(Int)
}
