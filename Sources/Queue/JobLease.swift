/// A worker's hold on one fetched job: which job, in which queue, for which attempt.
///
/// Ack, fail, extend and release only act while the lease is current: once it expired and the job was
/// handed to another worker (attempt + 1), the old holder's calls change nothing.
public struct JobLease: Sendable, Hashable {
    /// The job id as stored in Redis (a UUID string for every well-formed job).
    public var id: String
    /// The queue the job was fetched from.
    public var queue: String
    /// The attempt this lease was granted for.
    public var attempt: Int

    /// A lease on job `id` of `queue` for `attempt`.
    public init(id: String, queue: String, attempt: Int) {
        self.id = id
        self.queue = queue
        self.attempt = attempt
    }
}

/// A job fetched by a worker: its envelope (with the current attempt) and its lease.
public struct LeasedJob: Sendable, Equatable {
    /// The job, `attempt` set to this delivery's attempt.
    public var envelope: JobEnvelope
    /// The lease to ack, fail, extend or release the job with.
    public var lease: JobLease

    /// A fetched envelope and the lease it came with.
    public init(envelope: JobEnvelope, lease: JobLease) {
        self.envelope = envelope
        self.lease = lease
    }
}

/// One failed attempt to report, and what should follow it.
public struct FailedAttempt: Sendable, Equatable {
    /// The lease of the attempt that failed.
    public var lease: JobLease
    /// What went wrong, kept as the job's last error (never payload contents).
    public var error: String
    /// Wait this long before the next attempt; `nil` sends the job to the dead set.
    public var retryAfter: Duration?

    /// A failure with an explicit outcome.
    public init(lease: JobLease, error: String, retryAfter: Duration?) {
        self.lease = lease
        self.error = error
        self.retryAfter = retryAfter
    }

    /// A failure of `job` decided by its attempts and `policy`: dead when `permanent` or out of attempts,
    /// else retried after a jittered backoff.
    public init(job: LeasedJob, error: String, permanent: Bool = false, policy: RetryPolicy = RetryPolicy()) {
        let exhausted = job.envelope.attempt >= job.envelope.maxAttempts
        self.init(
            lease: job.lease,
            error: error,
            retryAfter: permanent || exhausted ? nil : policy.delay(afterAttempt: job.envelope.attempt)
        )
    }
}

/// What became of a reported failure.
public enum FailureOutcome: String, Sendable {
    /// The job will run again (after its delay).
    case retrying = "retry"
    /// The job is in the dead set.
    case dead
    /// The lease was no longer held: nothing changed.
    case stale
}
