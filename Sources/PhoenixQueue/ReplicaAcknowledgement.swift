/// A durability requirement: a write answers only once `replicas` replicas have acknowledged it (Redis
/// `WAIT`), waiting at most `timeout`. With Sentinel or a managed Redis with failover, a job whose enqueue
/// was answered then survives the loss of the master.
public struct ReplicaAcknowledgement: Sendable, Equatable {
    /// Replicas that must have the write.
    public var replicas: Int
    /// How long to wait for them before the write is reported as not replicated.
    public var timeout: Duration

    public init(replicas: Int, timeout: Duration = .seconds(1)) {
        self.replicas = replicas
        self.timeout = timeout
    }
}
