/// How long a failed job waits before its next attempt: exponential backoff with full jitter, capped.
///
/// The delay before attempt n+1 is uniformly random in `0...min(maxDelay, baseDelay * 2^(n-1))`, which
/// spreads retries of jobs that failed together (AWS Architecture Blog, "Exponential Backoff And Jitter").
public struct RetryPolicy: Sendable, Equatable {
    /// Upper bound of the delay after the first failure.
    public var baseDelay: Duration
    /// Cap of the delay, however many attempts failed.
    public var maxDelay: Duration

    /// A policy; the default retries after up to 1 s, 2 s, 4 s, … capped at 5 minutes.
    public init(baseDelay: Duration = .seconds(1), maxDelay: Duration = .seconds(300)) {
        self.baseDelay = baseDelay
        self.maxDelay = maxDelay
    }

    /// The upper bound of the delay after `attempt` failed (attempt 1 is the first run).
    public func ceiling(afterAttempt attempt: Int) -> Duration {
        let doublings = max(0, min(attempt - 1, 40))
        let exponential = baseDelay * Double(1 << UInt64(doublings))
        return min(exponential, maxDelay)
    }

    /// A random delay before the next attempt, after `attempt` failed.
    public func delay<R: RandomNumberGenerator>(afterAttempt attempt: Int, using generator: inout R) -> Duration {
        let ceilingMs = Int64(ceiling(afterAttempt: attempt).milliseconds)
        guard ceilingMs > 0 else { return .zero }
        return .milliseconds(Int64.random(in: 0...ceilingMs, using: &generator))
    }

    /// A random delay before the next attempt, after `attempt` failed.
    public func delay(afterAttempt attempt: Int) -> Duration {
        var generator = SystemRandomNumberGenerator()
        return delay(afterAttempt: attempt, using: &generator)
    }
}

extension Duration {
    /// Whole milliseconds, rounded down.
    public var milliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }
}
