import Foundation
public import Queue

/// The job types a worker can run, looked up by name.
public struct JobRegistry: Sendable {
    /// A registered job type, with its payload type erased.
    struct Entry: Sendable {
        let name: String
        let queue: String
        let retryPolicy: RetryPolicy
        let timeout: Duration
        let maxAttempts: Int
        let validate: @Sendable (JSONValue) throws -> Void
        let run: @Sendable (JSONValue, JobContext) async throws -> Void
        /// Set for batch job types: runs many jobs, one optional error per job.
        var runBatch: (@Sendable ([(JSONValue, JobContext)]) async -> [(any Error)?])?
        var maxBatchSize = 1
    }

    private(set) var entries: [String: Entry] = [:]

    /// An empty registry.
    public init() {}

    /// Adds a job type; registering a name twice keeps the last one.
    public mutating func register<T: JobType>(_ job: T) {
        add(job)
    }

    private mutating func add<T: JobType>(_ job: T) {
        let decode = Self.decoder(for: T.self)
        entries[T.name] = Entry(
            name: T.name, queue: T.queue, retryPolicy: T.retryPolicy, timeout: T.timeout, maxAttempts: T.maxAttempts,
            validate: { _ = try decode($0) },
            run: { payload, context in try await job.run(try decode(payload), context: context) }
        )
    }

    /// Adds what an enqueuer needs to know of a job type (name, queue, attempts, payload check) without a
    /// handler: for processes that submit jobs of types other processes run. Running one fails permanently.
    public mutating func describe<T: JobType>(_ type: T.Type) {
        let decode = Self.decoder(for: T.self)
        entries[T.name] = Entry(
            name: T.name, queue: T.queue, retryPolicy: T.retryPolicy, timeout: T.timeout, maxAttempts: T.maxAttempts,
            validate: { _ = try decode($0) },
            run: { _, _ in throw PermanentFailure("job type \(T.name) has no handler in this process") }
        )
    }

    /// Adds a batch job type: the worker hands it the jobs of one fetch together.
    public mutating func register<T: BatchJobType>(_ job: T) {
        add(job)
        let decode = Self.decoder(for: T.self)
        entries[T.name]?.maxBatchSize = T.maxBatchSize
        entries[T.name]?.runBatch = { jobs in
            var errors = [(any Error)?](repeating: nil, count: jobs.count)
            var items: [BatchItem<T.Payload>] = []
            var positions: [Int] = []
            for (index, (payload, context)) in jobs.enumerated() {
                do {
                    items.append(BatchItem(payload: try decode(payload), context: context))
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

    /// A new job of a registered type, its payload checked against the type's payload.
    /// - Throws: ``JobRegistryError`` for an unknown type, ``PermanentFailure`` naming the offending field.
    public func makeJob(type name: String, payload: JSONValue, queue: String? = nil) throws -> JobEnvelope {
        guard let entry = entries[name] else { throw JobRegistryError.unknownType(name, known: names) }
        try entry.validate(payload)
        return JobEnvelope(type: name, queue: queue ?? entry.queue, payload: payload, maxAttempts: entry.maxAttempts)
    }

    /// Decodes a payload of `T`; a payload that does not fit is a permanent failure naming the field.
    private static func decoder<T: JobType>(for type: T.Type) -> @Sendable (JSONValue) throws -> T.Payload {
        { payload in
            do {
                if let fast = T.Payload.self as? any JSONValueDecodable.Type {
                    // Payloads that read themselves from a JSON value skip a serialise-and-decode round trip.
                    guard let decoded = try fast.init(jsonValue: payload) as? T.Payload else { preconditionFailure("decoded a different type") }
                    return decoded
                }
                return try JSONDecoder().decode(T.Payload.self, from: Data(payload.serialized))
            } catch let error as DecodingError {
                throw PermanentFailure("invalid payload for \(T.name): \(error.fieldDescription)")
            } catch let error as JSONFieldError {
                throw PermanentFailure("invalid payload for \(T.name): \(error)")
            }
        }
    }

    /// The names of every registered job type, sorted.
    public var names: [String] { entries.keys.sorted() }

    /// The default queue of a registered job type.
    public func queue(of name: String) -> String? { entries[name]?.queue }

    func entry(_ name: String) -> Entry? { entries[name] }
}

/// A job type this registry does not know.
public enum JobRegistryError: Error, CustomStringConvertible {
    case unknownType(String, known: [String])

    public var description: String {
        switch self {
        case .unknownType(let name, let known): "unknown job type '\(name)'; known types: \(known.joined(separator: ", "))"
        }
    }
}
