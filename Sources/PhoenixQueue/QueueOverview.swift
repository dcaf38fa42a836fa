import Foundation

/// Every queue's numbers and the live workers at one instant: what `phoenix stats --json` prints and
/// `GET /v1/queues` answers.
public struct QueueOverview: Sendable, Encodable {
    /// One queue's row.
    public struct Row: Sendable, Encodable {
        public let queue: String
        public let ready, delayed, leased, dead: Int
        public let paused: Bool
        /// How long the next job to be fetched has waited, in seconds.
        public let oldestReadySeconds: Double?
        public let enqueued, completed, failed, buried, cancelled: Int
        public let completedLastMinute, failedLastMinute: Int
        /// Whether the queue's users take turns.
        public let fairShare: Bool
        /// Most jobs of one user, and of the queue, running at once; `nil` for no limit.
        public let keyConcurrency, concurrency: Int?
        /// Most jobs of the queue started per minute, and provider tokens spent per minute; `nil` for no limit.
        public let requestsPerMinute, tokensPerMinute: Int?
        /// Users with jobs waiting for their turn, and those waiting because they run as many as their limit.
        public let keysInTurn, keysAtLimit: Int
        /// Jobs started (counted while a rate limit is set) and tokens reported over the last 60 s.
        public let startedLastMinute, tokensLastMinute: Int
        /// How long a provider's hold still keeps the queue's jobs from starting, in seconds; `nil` when none.
        public let heldSeconds: Double?

        /// The queue's flow control and its use, as ``FlowSettings/summary(keysInTurn:keysAtLimit:rates:)`` shows them.
        public var flowSummary: String {
            FlowSettings(fairShare: fairShare, keyConcurrency: keyConcurrency, concurrency: concurrency, requestsPerMinute: requestsPerMinute, tokensPerMinute: tokensPerMinute)
                .summary(keysInTurn: keysInTurn, keysAtLimit: keysAtLimit, rates: FlowRates(
                    startedLastMinute: startedLastMinute, tokensLastMinute: tokensLastMinute, heldFor: heldSeconds.map { .milliseconds(Int($0 * 1000)) }
                ))
        }
    }

    public let queues: [Row]
    public let workers: [WorkerInfo]
}

extension JobQueue {
    /// The overview of every known queue plus `alwaysListed` (those the worker types serve, even when empty),
    /// and the workers whose heartbeat is newer than `staleAfter`.
    public func overview(alwaysListed: [String], staleAfter: Duration) async throws(QueueError) -> QueueOverview {
        let names = Set(try await queues()).union(alwaysListed).sorted()
        var rows: [QueueOverview.Row] = []
        for name in names {
            let stats = try await stats(queue: name, minutes: 1)
            rows.append(.init(
                queue: name, ready: stats.ready, delayed: stats.delayed, leased: stats.leased, dead: stats.dead, paused: stats.paused,
                oldestReadySeconds: stats.oldestReadyAge.map(\.seconds),
                enqueued: stats.enqueued, completed: stats.completed, failed: stats.failed, buried: stats.buried, cancelled: stats.cancelled,
                completedLastMinute: stats.completedPerMinute.last ?? 0, failedLastMinute: stats.failedPerMinute.last ?? 0,
                fairShare: stats.flow.fairShare, keyConcurrency: stats.flow.keyConcurrency, concurrency: stats.flow.concurrency,
                requestsPerMinute: stats.flow.requestsPerMinute, tokensPerMinute: stats.flow.tokensPerMinute,
                keysInTurn: stats.keysInTurn, keysAtLimit: stats.keysAtLimit,
                startedLastMinute: stats.rates.startedLastMinute, tokensLastMinute: stats.rates.tokensLastMinute,
                heldSeconds: stats.rates.heldFor.map(\.seconds)
            ))
        }
        return QueueOverview(queues: rows, workers: try await liveWorkers(staleAfter: staleAfter))
    }
}

extension Duration {
    /// The duration in seconds, with its fraction.
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
