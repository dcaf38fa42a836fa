public import PhoenixJobsCore
public import PhoenixWorker

/// One Phoenix job type as the platform declares it: the type itself (its name, queue, payload and policy),
/// the payload field naming its user when users may submit it for themselves, whether its handler writes to
/// the database, how that handler is built from the worker's dependencies, and its periodic schedule if any.
public struct JobDeclaration: Sendable {
    /// The job type's name.
    public let name: String
    /// The queue its jobs go to, whose workers run its handler.
    public let queue: String
    /// The payload field holding the id of the user a job is about, for job types users submit themselves.
    public let userField: String?
    /// Whether the handler needs the Phoenix database (`DATABASE_URL`).
    public let usesDatabase: Bool
    let describe: @Sendable (inout JobCatalog) -> Void
    let register: @Sendable (inout JobRegistry, HandlerDependencies) async throws -> Void
    let periodic: (@Sendable ([String: String]) throws -> PeriodicJob)?

    /// Declares `type`, whose handler `handler` builds.
    public init<T: JobType>(
        _ type: T.Type, userField: String? = nil, usesDatabase: Bool = true,
        periodic: (@Sendable ([String: String]) throws -> PeriodicJob)? = nil,
        handler: @escaping @Sendable (HandlerDependencies) async throws -> T
    ) {
        self.init(type, userField: userField, usesDatabase: usesDatabase, periodic: periodic) { registry, dependencies in
            registry.register(try await handler(dependencies))
        }
    }

    /// Declares the batch job type `type`, whose handler `handler` builds.
    public init<T: BatchJobType>(
        _ type: T.Type, userField: String? = nil, usesDatabase: Bool = true,
        periodic: (@Sendable ([String: String]) throws -> PeriodicJob)? = nil,
        handler: @escaping @Sendable (HandlerDependencies) async throws -> T
    ) {
        self.init(type, userField: userField, usesDatabase: usesDatabase, periodic: periodic) { registry, dependencies in
            registry.register(try await handler(dependencies))
        }
    }

    private init<T: JobType>(
        _ type: T.Type, userField: String?, usesDatabase: Bool,
        periodic: (@Sendable ([String: String]) throws -> PeriodicJob)?,
        register: @escaping @Sendable (inout JobRegistry, HandlerDependencies) async throws -> Void
    ) {
        name = T.name
        queue = T.queue
        self.userField = userField
        self.usesDatabase = usesDatabase
        describe = { $0.describe(T.self, userField: userField) }
        self.register = register
        self.periodic = periodic
    }
}
