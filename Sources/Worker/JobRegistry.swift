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
    }

    private(set) var entries: [String: Entry] = [:]

    /// An empty registry.
    public init() {}

    /// Adds a job type; registering a name twice keeps the last one.
    public mutating func register<T: JobType>(_ job: T) {
        let decode: @Sendable (JSONValue) throws -> T.Payload = { payload in
            do {
                return try JSONDecoder().decode(T.Payload.self, from: try JSONEncoder().encode(payload))
            } catch let error as DecodingError {
                throw PermanentFailure("invalid payload for \(T.name): \(error.fieldDescription)")
            }
        }
        entries[T.name] = Entry(
            name: T.name, queue: T.queue, retryPolicy: T.retryPolicy, timeout: T.timeout, maxAttempts: T.maxAttempts,
            validate: { _ = try decode($0) },
            run: { payload, context in try await job.run(try decode(payload), context: context) }
        )
    }

    /// A new job of a registered type, its payload checked against the type's payload.
    /// - Throws: ``JobRegistryError`` for an unknown type, ``PermanentFailure`` naming the offending field.
    public func makeJob(type name: String, payload: JSONValue, queue: String? = nil) throws -> JobEnvelope {
        guard let entry = entries[name] else { throw JobRegistryError.unknownType(name, known: names) }
        try entry.validate(payload)
        return JobEnvelope(type: name, queue: queue ?? entry.queue, payload: payload, maxAttempts: entry.maxAttempts)
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
