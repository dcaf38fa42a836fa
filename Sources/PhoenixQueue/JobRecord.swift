public import Foundation
public import PhoenixJobsCore

/// Where a job is in its lifecycle (docs/ARCHITECTURE.md has the state diagram).
public enum JobState: String, Sendable, Codable {
    case ready, delayed, leased, completed, dead, cancelled

    /// Whether the job has ended (only an operator's retry brings a dead job back).
    public var isFinal: Bool { self == .completed || self == .dead || self == .cancelled }
}

/// A job as stored in Redis: its envelope and lifecycle fields, for status pages and the API.
public struct JobRecord: Sendable, Equatable {
    /// The job id.
    public var id: String
    /// The envelope, `nil` when the stored one does not decode (the job is then dead).
    public var envelope: JobEnvelope?
    /// Current state.
    public var state: JobState
    /// Attempts started so far.
    public var attempt: Int
    /// Attempts allowed.
    public var maxAttempts: Int
    /// The last failure's error text.
    public var lastError: String?
    /// The worker holding the lease while leased; once completed, the worker that completed it.
    public var worker: String?
    /// When the last attempt started.
    public var startedAt: Date?
    /// When the job completed, was cancelled, or (`diedAt`) went to the dead set.
    public var finishedAt: Date?
    /// The last progress its handler reported (0–1).
    public var progress: Double?
    /// The message that came with the last progress report.
    public var progressMessage: String?
    /// When its cancellation was asked while it ran; `nil` when it never was.
    public var cancelRequestedAt: Date?
}

/// A job in the dead set.
public struct DeadJob: Sendable, Equatable, Encodable {
    /// The job id.
    public var id: String
    /// The job type, when known.
    public var type: String?
    /// Attempts made.
    public var attempts: Int
    /// Why it died.
    public var error: String
    /// When it died.
    public var diedAt: Date
}

/// A job leased to a worker now.
public struct RunningJob: Sendable, Equatable {
    /// The job id.
    public var id: String
    /// The job type, when known.
    public var type: String?
    /// The worker holding its lease.
    public var worker: String?
    /// When this delivery started.
    public var startedAt: Date?
    /// Whether its cancellation was asked (its worker cancels it at its next heartbeat).
    public var cancelling: Bool
}

/// One queue's numbers at one instant.
public struct QueueStats: Sendable, Equatable {
    /// The queue.
    public var queue: String
    /// Jobs waiting in the ready list (its length).
    public var ready: Int
    /// Jobs waiting for their time or their next attempt.
    public var delayed: Int
    /// Jobs leased to workers.
    public var leased: Int
    /// Jobs in the dead set.
    public var dead: Int
    /// Whether fetching is paused.
    public var paused: Bool
    /// How long the next job to be fetched has been ready; `nil` when none is.
    public var oldestReadyAge: Duration?
    /// Jobs enqueued, ever.
    public var enqueued: Int
    /// Jobs completed, ever.
    public var completed: Int
    /// Attempts that failed, ever.
    public var failed: Int
    /// Jobs that went to the dead set, ever.
    public var buried: Int
    /// Jobs cancelled, ever.
    public var cancelled: Int
    /// Jobs completed in each of the last minutes, oldest first (the current minute last).
    public var completedPerMinute: [Int]
    /// Attempts failed in each of the last minutes, oldest first.
    public var failedPerMinute: [Int]
    /// The flow control in force (the queue's concurrency summed over its partitions).
    public var flow: FlowSettings
    /// In a fair queue, the keys (users) with jobs waiting for their turn.
    public var keysInTurn: Int
    /// In a fair queue, the keys with jobs waiting because they run as many jobs as their limit allows.
    public var keysAtLimit: Int
    /// The queue's use of its rate limit and token budget, and a provider's hold.
    public var rates: FlowRates
}

extension QueueStats {
    /// These figures plus another partition's of the same queue: counts and totals summed, paused if either
    /// is, the older of the two oldest ready jobs, the concurrency and rate limits and the rates of both
    /// summed, the longer hold (fair share and the per-key limit are this partition's).
    func adding(_ other: QueueStats) -> QueueStats {
        let sum = { (a: [Int], b: [Int]) in zip(a, b).map { $0 + $1 } }
        return QueueStats(
            queue: queue, ready: ready + other.ready, delayed: delayed + other.delayed, leased: leased + other.leased,
            dead: dead + other.dead, paused: paused || other.paused,
            oldestReadyAge: [oldestReadyAge, other.oldestReadyAge].compactMap { $0 }.max(),
            enqueued: enqueued + other.enqueued, completed: completed + other.completed, failed: failed + other.failed,
            buried: buried + other.buried, cancelled: cancelled + other.cancelled,
            completedPerMinute: sum(completedPerMinute, other.completedPerMinute), failedPerMinute: sum(failedPerMinute, other.failedPerMinute),
            flow: FlowSettings(
                fairShare: flow.fairShare, keyConcurrency: flow.keyConcurrency,
                concurrency: flow.concurrency.map { $0 + (other.flow.concurrency ?? 0) } ?? other.flow.concurrency,
                requestsPerMinute: flow.requestsPerMinute.map { $0 + (other.flow.requestsPerMinute ?? 0) } ?? other.flow.requestsPerMinute,
                tokensPerMinute: flow.tokensPerMinute.map { $0 + (other.flow.tokensPerMinute ?? 0) } ?? other.flow.tokensPerMinute
            ),
            keysInTurn: keysInTurn + other.keysInTurn, keysAtLimit: keysAtLimit + other.keysAtLimit,
            rates: FlowRates(
                startedLastMinute: rates.startedLastMinute + other.rates.startedLastMinute,
                tokensLastMinute: rates.tokensLastMinute + other.rates.tokensLastMinute,
                heldFor: [rates.heldFor, other.rates.heldFor].compactMap { $0 }.max()
            )
        )
    }
}
