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
/// - **Tokens**: at most this many tokens of a provider spent per minute, as the running jobs report them
///   (``JobQueue/spendTokens(_:lease:report:)``); no job starts while the tokens reported are paid off more
///   than a second ahead.
/// - **Hold** (not a setting): a provider that answered "too many requests" holds the whole queue back until
///   the time it named (``JobQueue/holdBack(queue:for:)``).
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
    /// Most provider tokens the queue's jobs spend per minute; `nil` for no limit.
    public var tokensPerMinute: Int?

    /// Settings with the given values; the defaults are no flow control at all.
    public init(fairShare: Bool = false, keyConcurrency: Int? = nil, concurrency: Int? = nil, requestsPerMinute: Int? = nil, tokensPerMinute: Int? = nil) {
        self.fairShare = fairShare
        self.keyConcurrency = keyConcurrency
        self.concurrency = concurrency
        self.requestsPerMinute = requestsPerMinute
        self.tokensPerMinute = tokensPerMinute
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
            tokensPerMinute.map { "at most \($0) tokens per minute" } ?? "no token budget",
        ].joined(separator: ", ")
    }

    /// The settings, who waits on them and the rates against their budgets, short enough for a table cell:
    /// `fair 12 users (3 at limit 1), max 20, 588/600 per min`, or `-` when the queue has no flow control.
    public func summary(keysInTurn: Int, keysAtLimit: Int, rates: FlowRates = FlowRates()) -> String {
        var parts: [String] = []
        if fairShare {
            parts.append("fair \(keysInTurn + keysAtLimit) users" + (keyConcurrency.map { " (\(keysAtLimit) at limit \($0))" } ?? ""))
        } else if let keyConcurrency {
            parts.append("\(keyConcurrency)/user (fair share off)")
        }
        if let concurrency { parts.append("max \(concurrency)") }
        if let requestsPerMinute { parts.append("\(rates.startedLastMinute)/\(requestsPerMinute) per min") }
        if let tokensPerMinute { parts.append("\(rates.tokensLastMinute)/\(tokensPerMinute) tokens per min") }
        if let held = rates.heldFor { parts.append("held \(max(1, Int((held / .seconds(1)).rounded(.up)))) s") }
        return parts.isEmpty ? "-" : parts.joined(separator: ", ")
    }
}

/// A queue's use of its budgets now: what its rate limit and token budget count against.
public struct FlowRates: Sendable, Equatable {
    /// Jobs started over the last 60 s (counted while a rate limit is set; the minute before this one
    /// weighed by the part of it still within the 60 s).
    public var startedLastMinute: Int
    /// Tokens the queue's jobs reported over the last 60 s (weighed the same way).
    public var tokensLastMinute: Int
    /// How long a provider's hold keeps the queue's jobs from starting; `nil` when none is in force.
    public var heldFor: Duration?

    /// Rates with the given values; the defaults are none.
    public init(startedLastMinute: Int = 0, tokensLastMinute: Int = 0, heldFor: Duration? = nil) {
        self.startedLastMinute = startedLastMinute
        self.tokensLastMinute = tokensLastMinute
        self.heldFor = heldFor
    }

    /// A count over the 60 s up to `now` (ms since 1970) from two per-minute counters: the previous
    /// minute's, weighed by the part of it within the 60 s, plus this minute's so far.
    static func lastSixtySeconds(previous: Int, current: Int, now: Int) -> Int {
        let intoMinute = Double(now % 60_000) / 60_000
        return current + Int((Double(previous) * (1 - intoMinute)).rounded())
    }
}

/// A change to one concurrency limit of ``FlowSettings``.
public enum FlowLimit: Sendable, Equatable {
    /// No limit.
    case unlimited
    /// At most this many (1 or more).
    case atMost(Int)
}
