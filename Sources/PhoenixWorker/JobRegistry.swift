public import PhoenixJobsCore

/// The job types a worker runs, with their handlers, looked up by name.
public struct JobRegistry: Sendable {
    /// A registered job type, with its payload type erased.
    struct Entry: Sendable {
        let name: String
        let retryPolicy: RetryPolicy
        let timeout: Duration
        let run: @Sendable (JSONValue, JobContext) async throws -> Void
        /// Set for batch job types: runs many jobs, one optional error per job.
        var runBatch: (@Sendable ([(JSONValue, JobContext)]) async -> [(any Error)?])?
        var maxBatchSize = 1
    }

    private var entries: [String: Entry] = [:]

    /// An empty registry.
    public init() {}

    /// Adds a job type with `job` as its handler; registering a name twice keeps the last one.
    public mutating func register<T: JobType>(_ job: T) {
        add(job)
    }

    private mutating func add<T: JobType>(_ job: T) {
        entries[T.name] = Entry(
            name: T.name, retryPolicy: T.retryPolicy, timeout: T.timeout,
            run: { payload, context in try await job.run(try T.decodePayload(payload), context: context) }
        )
    }

    /// Adds a batch job type: the worker hands it the jobs of one fetch together.
    public mutating func register<T: BatchJobType>(_ job: T) {
        add(job)
        entries[T.name]?.maxBatchSize = T.maxBatchSize
        entries[T.name]?.runBatch = { jobs in
            var errors = [(any Error)?](repeating: nil, count: jobs.count)
            var items: [BatchItem<T.Payload>] = []
            var positions: [Int] = []
            for (index, (payload, context)) in jobs.enumerated() {
                do {
                    items.append(BatchItem(payload: try T.decodePayload(payload), context: context))
                    positions.append(index)
                } catch {
                    errors[index] = error
                }
            }
            if !items.isEmpty {
                for (position, error) in zip(positions, await job.runBatch(items)) { errors[position] = error }
            }
            return errors
        }
    }

    /// The names of every registered job type, sorted.
    public var names: [String] { entries.keys.sorted() }

    func entry(_ name: String) -> Entry? { entries[name] }
}
