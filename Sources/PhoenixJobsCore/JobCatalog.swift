/// What an enqueuer knows of the job types of a platform, without their handlers: each type's name, queue,
/// attempts, payload check and the payload field naming the user it is about; and the queues some worker
/// serves. Only the workers of a type's queue have its handler, so its jobs go to that queue and no other.
///
/// The HTTP front and the CLI check submissions against a catalogue; workers run a `JobRegistry`.
public struct JobCatalog: Sendable {
    /// A described job type.
    public struct Entry: Sendable {
        /// The job type's name.
        public let name: String
        /// Its default queue.
        public let queue: String
        /// Attempts before a job goes to the dead set.
        public let maxAttempts: Int
        /// The payload field holding the id of the user a job is about, for user job types.
        public let userField: String?
        let validate: @Sendable (JSONValue) throws(PermanentFailure) -> Void
    }

    /// The queues some worker serves, in the platform's order.
    public let servedQueues: [String]
    private var entries: [String: Entry] = [:]

    /// An empty catalogue of a platform whose workers serve `servedQueues`.
    public init(servedQueues: [String]) {
        self.servedQueues = servedQueues
    }

    /// Adds a job type; `userField` names the payload field holding its user, for job types users submit
    /// for themselves. Describing a name twice keeps the last one.
    public mutating func describe<T: JobType>(_ type: T.Type, userField: String? = nil) {
        entries[T.name] = Entry(
            name: T.name, queue: T.queue, maxAttempts: T.maxAttempts, userField: userField,
            validate: { payload throws(PermanentFailure) in _ = try T.decodePayload(payload) }
        )
    }

    /// The described job type called `name`.
    public func entry(_ name: String) -> Entry? { entries[name] }

    /// The names of every described job type, sorted.
    public var names: [String] { entries.keys.sorted() }

    /// Every described job type, by name.
    public var allEntries: [Entry] { names.compactMap { entries[$0] } }

    /// A new job of a described type, its payload checked against the type's. `queue`, when given, must be
    /// the type's queue: a job elsewhere would wait for a handler no worker there has.
    /// - Throws: ``JobCatalogError`` for an unknown type or another queue, ``PermanentFailure`` naming the
    ///   payload's offending field.
    public func makeJob(type name: String, payload: JSONValue, queue: String? = nil) throws -> JobEnvelope {
        guard let entry = entries[name] else { throw JobCatalogError.unknownType(name, known: names) }
        if let queue, queue != entry.queue { throw JobCatalogError.otherQueue(queue, type: name, typeQueue: entry.queue) }
        try entry.validate(payload)
        return JobEnvelope(type: name, queue: entry.queue, payload: payload, maxAttempts: entry.maxAttempts)
    }
}

/// A submission the catalogue refuses before looking at its payload.
public enum JobCatalogError: Error, CustomStringConvertible, Equatable {
    /// No job type of this name is described.
    case unknownType(String, known: [String])
    /// The submission names a queue other than its type's, where no worker has the type's handler.
    case otherQueue(String, type: String, typeQueue: String)

    public var description: String {
        switch self {
        case .unknownType(let name, let known): "unknown job type '\(name.prefix(100))'; known types: \(known.joined(separator: ", "))"
        case .otherQueue(let queue, let type, let typeQueue):
            "job type '\(type)' runs in queue '\(typeQueue)' only (its workers have its handler), not in '\(queue.prefix(64))'; leave 'queue' out"
        }
    }
}
