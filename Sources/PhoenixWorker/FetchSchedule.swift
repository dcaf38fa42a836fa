import PhoenixQueue

/// Decides which of a worker's queues to fetch from, in which order and with which token; it does no I/O, so
/// its decisions are tested without Redis or sleeps.
///
/// - Fairness: each round starts with the next queue.
/// - Replay: a fetch that failed keeps its token; the next fetch of that queue sends it again, which returns
///   the jobs the lost call may have leased instead of leaving them leased to nobody.
/// - Backoff: a queue whose fetch keeps failing (a key of the wrong type, say) is skipped for a delay that
///   doubles from `baseDelay` up to `maxDelay`, while the other queues go on.
/// - Rate limits: a queue whose rate limit lets no job start yet is skipped until the fetch said one may.
struct FetchSchedule<Instant: InstantProtocol> where Instant.Duration == Duration {
    /// What the schedule knows of one queue.
    struct QueueState: Equatable {
        /// The token of the next fetch; kept after a failure, replaced after a success.
        var token: String
        /// Fetches that failed in a row.
        var failures = 0
        /// Not fetched before this instant.
        var retryAt: Instant?
    }

    /// The queues, in the worker's order.
    let queues: [String]
    let baseDelay: Duration
    let maxDelay: Duration
    private(set) var states: [String: QueueState]
    private var nextStart = 0
    private let makeToken: () -> String

    init(queues: [String], baseDelay: Duration = .seconds(1), maxDelay: Duration = .seconds(30), makeToken: @escaping () -> String = JobQueue.newToken) {
        self.queues = queues
        self.baseDelay = baseDelay
        self.maxDelay = maxDelay
        self.makeToken = makeToken
        states = Dictionary(uniqueKeysWithValues: queues.map { ($0, QueueState(token: makeToken())) })
    }

    /// The queues to fetch from now, each with its token: every queue not backing off, starting with a
    /// different one each round.
    mutating func round(at now: Instant) -> [(queue: String, token: String)] {
        guard !queues.isEmpty else { return [] }
        let start = nextStart
        nextStart = (nextStart + 1) % queues.count
        return queues.indices.compactMap { offset in
            let name = queues[(start + offset) % queues.count]
            guard let state = states[name] else { return nil }
            if let retryAt = state.retryAt, now < retryAt { return nil }
            return (name, state.token)
        }
    }

    /// A fetch of `queue` answered: its token is spent, and any backoff ends.
    mutating func succeeded(_ queue: String) {
        states[queue] = QueueState(token: makeToken())
    }

    /// A fetch of `queue` answered that its rate limit lets no job start for `wait`: it is skipped until then
    /// (its token is spent: the call leased nothing).
    mutating func postpone(_ queue: String, by wait: Duration, at now: Instant) {
        var state = QueueState(token: makeToken())
        state.retryAt = now.advanced(by: wait)
        states[queue] = state
    }

    /// A fetch of `queue` failed: the token is kept for the replay; returns how many failed in a row and how
    /// long the queue is now skipped.
    mutating func failed(_ queue: String, at now: Instant) -> (failures: Int, backoff: Duration) {
        var state = states[queue] ?? QueueState(token: makeToken())
        state.failures += 1
        let backoff = min(maxDelay, baseDelay * (1 << min(state.failures - 1, 20)))
        state.retryAt = now.advanced(by: backoff)
        states[queue] = state
        return (state.failures, backoff)
    }

    /// The queues not backing off at `now`, in the worker's order (those an idle worker waits on).
    func available(at now: Instant) -> [String] {
        queues.filter { name in states[name]?.retryAt.map { now >= $0 } ?? true }
    }

    /// The earliest instant a backing-off queue may be fetched again, if any queue is backing off.
    func nextRetry(after now: Instant) -> Instant? {
        states.values.compactMap(\.retryAt).filter { $0 > now }.min()
    }
}
