public import PhoenixJobsCore
/// A worker's hold on one delivery of a job: which job, in which queue, under which token.
///
/// Every fetch of a job is a delivery with a token of its own (the fetch call's token, unique per call).
/// Ack, fail, extend, release and progress act only while that delivery is current: once its lease expired,
/// or it was handed back and the job fetched again, the old holder's calls (late, or replayed by the client)
/// change nothing, whatever the attempt numbers.
public struct JobLease: Sendable, Hashable {
    /// The job id as stored in Redis (a UUID string for every well-formed job).
    public var id: String
    /// The queue the job was fetched from.
    public var queue: String
    /// The delivery's token.
    public var token: String
    /// The partition of the queue the job is stored in (0 for a queue of one partition).
    public var partition: Int

    /// A lease on job `id` of `queue` (in its partition `partition`) held by delivery `token`.
    public init(id: String, queue: String, token: String, partition: Int = 0) {
        self.id = id
        self.queue = queue
        self.token = token
        self.partition = partition
    }
}

/// A job fetched by a worker: its envelope (with the current attempt), its lease and its delivery number.
public struct LeasedJob: Sendable, Equatable {
    /// The job, `attempt` set to this delivery's attempt.
    public var envelope: JobEnvelope
    /// The lease to ack, fail, extend or release the job with.
    public var lease: JobLease
    /// How many times the job has been fetched, this time included (never goes down). Above 1, an earlier
    /// delivery may have run the handler, and even committed its results.
    public var delivery: Int

    /// A fetched envelope and the lease it came with.
    public init(envelope: JobEnvelope, lease: JobLease, delivery: Int = 1) {
        self.envelope = envelope
        self.lease = lease
        self.delivery = delivery
    }

    /// Whether an earlier delivery of the job may have run (and completed) it.
    public var isRedelivery: Bool { delivery > 1 }
}

/// What one fetch call got: the jobs it leased, or why none.
public struct FetchedJobs: Sendable, Equatable {
    /// The jobs leased (none when the queue is empty, paused or rate-limited).
    public var jobs: [LeasedJob]
    /// When the queue's rate limit let no job start: how long until one may.
    public var rateLimitedFor: Duration?

    /// What a fetch got.
    public init(jobs: [LeasedJob], rateLimitedFor: Duration? = nil) {
        self.jobs = jobs
        self.rateLimitedFor = rateLimitedFor
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

/// What a lease extension found.
public enum LeaseRenewal: Sendable, Equatable {
    /// The lease is held and runs on.
    case extended
    /// The lease is held and runs on, but the job's cancellation was asked: the worker should cancel its handler.
    case cancelRequested
    /// The delivery no longer holds the lease (it expired and was reaped, or was handed on).
    case lost
}

/// What became of a reported failure.
public enum FailureOutcome: String, Sendable {
    /// The job will run again (after its delay).
    case retrying = "retry"
    /// The job is in the dead set.
    case dead
    /// Its cancellation was asked while it ran: it ended cancelled, with no retry.
    case cancelled
    /// The lease was no longer held: nothing changed.
    case stale
}
