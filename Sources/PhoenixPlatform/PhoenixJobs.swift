import CVRendering
import EventBridge
import LetterGeneration
public import PhoenixJobsCore
public import PhoenixWorker
import UserProfileSync

/// The manifest of Phoenix Jobs: every job type of the platform, declared once. The CLI's and the HTTP
/// front's catalogue, the API's user rules, each worker's handlers and periodic jobs all come from it.
public enum PhoenixJobs {
    /// Every Phoenix job type.
    public static let declarations: [JobDeclaration] = [
        JobDeclaration(DiagnosticJobs.Noop.self, usesDatabase: false) { _ in DiagnosticJobs.Noop() },
        JobDeclaration(DiagnosticJobs.Sleep.self, usesDatabase: false) { _ in DiagnosticJobs.Sleep() },
        JobDeclaration(DiagnosticJobs.Fail.self, usesDatabase: false) { _ in DiagnosticJobs.Fail() },
        JobDeclaration(LetterProviderCheckJob.self, usesDatabase: false) { LetterProviderCheckJob(environment: $0.environment, http: $0.http) },
        JobDeclaration(EventPublishJob.self, userField: "stream_id") { EventPublishJob(store: try $0.database()) },
        JobDeclaration(ProfileSyncJob.self, userField: "user_id") { ProfileSyncJob(store: try $0.database()) },
        JobDeclaration(ProfileRefreshStatsJob.self) { ProfileRefreshStatsJob(store: try $0.database()) },
        JobDeclaration(ProfileSyncAllJob.self, periodic: { _ in ProfileSyncAllJob.periodic() }) { ProfileSyncAllJob(store: try $0.database()) },
        JobDeclaration(SubscriptionApplyJob.self) { SubscriptionApplyJob(store: try $0.database(), setShare: $0.subscriptionShare()) },
        JobDeclaration(UserExportJob.self, userField: "user_id") { UserExportJob(store: try $0.database()) },
        JobDeclaration(UserEraseJob.self, userField: "user_id") { UserEraseJob(store: try $0.database()) },
        JobDeclaration(MaintenanceCleanupJob.self, periodic: { environment in
            MaintenanceCleanupJob.periodic(jobRunsRetentionDays: try HandlerDependencies.jobRunsRetentionDays(environment))
        }) { MaintenanceCleanupJob(store: try $0.database()) },
        JobDeclaration(LetterGenerateJob.self, userField: "user_id") { LetterGenerateJob(store: try $0.database(), writer: try $0.letterWriter()) },
        JobDeclaration(CVRenderJob.self, userField: "user_id") {
            CVRenderJob(store: try $0.database(), templates: try await $0.cvTemplates(), pdf: PDFRenderer(environment: $0.environment))
        },
    ]

    /// The payload field each job type's jobs take turns by in a fair queue: the field naming its user, for
    /// the job types users submit for themselves (``JobDeclaration/userField``).
    public static var fairnessFields: [String: String] {
        Dictionary(uniqueKeysWithValues: declarations.compactMap { declaration in declaration.userField.map { (declaration.name, $0) } })
    }

    /// The job type `POST /v1/events` and the Stripe webhook submit: its payload is a Phoenix event.
    public static let eventType = EventPublishJob.name

    /// Every job type described for enqueueing (payload checks, defaults, user fields), without handlers,
    /// with the queues the worker types serve.
    public static func catalog() -> JobCatalog {
        var catalog = JobCatalog(servedQueues: WorkerType.servedQueues)
        for declaration in declarations { declaration.describe(&catalog) }
        return catalog
    }

    /// The declarations of the job types whose queue is among `queues`: those a worker serving them runs.
    public static func declarations(servedBy queues: [String]) -> [JobDeclaration] {
        declarations.filter { queues.contains($0.queue) }
    }

    /// The handlers of the job types whose queue is among `queues`, and only those: each reads its own
    /// settings from `dependencies` as it is built.
    /// - Throws: the first setting a handler needs that is missing or malformed (``SettingError`` for most).
    public static func registry(servedBy queues: [String], dependencies: HandlerDependencies) async throws -> JobRegistry {
        var registry = JobRegistry()
        for declaration in declarations(servedBy: queues) { try await declaration.register(&registry, dependencies) }
        return registry
    }

    /// The periodic jobs of the job types whose queue is among `queues`, with their settings read from `environment`.
    public static func periodicJobs(servedBy queues: [String], environment: [String: String]) throws -> [PeriodicJob] {
        try declarations(servedBy: queues).compactMap { try $0.periodic?(environment) }
    }
}
