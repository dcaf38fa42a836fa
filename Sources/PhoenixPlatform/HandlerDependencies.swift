public import AsyncHTTPClient
import CVRendering
import EnvironmentVariables
import Foundation
import LetterGeneration
public import PhoenixQueue
public import PhoenixSupabase
import UserProfileSync

/// What the handlers of a worker's job types are built from: the Phoenix database when one of them writes to
/// it, the process environment where each job type reads its own settings, and an HTTP client. A setting is
/// read only when a handler that uses it is built, so a worker needs only the settings of the types it runs.
public struct HandlerDependencies: Sendable {
    /// The Phoenix database, present when some type the worker runs ``JobDeclaration/usesDatabase``.
    public var store: PhoenixStore?
    /// The process environment.
    public var environment: [String: String]
    /// For outside services (the letter providers).
    public var http: HTTPClient
    /// The queue engine the worker runs on, for handlers that act on queues (a subscription's fair share).
    public var queue: JobQueue?

    /// Dependencies from a store (if any), the environment, an HTTP client and the worker's queue engine.
    public init(store: PhoenixStore?, environment: [String: String], http: HTTPClient = .shared, queue: JobQueue? = nil) {
        self.store = store
        self.environment = environment
        self.http = http
        self.queue = queue
    }

    /// Sets a subscriber's fair share (``SubscriptionShare``) through the worker's queue engine; `nil` without one.
    func subscriptionShare() -> SubscriptionApplyJob.ShareSetter? {
        guard let queue else { return nil }
        return { user, app, tier, status in try await SubscriptionShare.apply(userID: user, app: app, tier: tier, status: status, queue: queue) }
    }

    /// The Phoenix database.
    /// - Throws: ``SettingError`` for `DATABASE_URL` when the worker was started without one.
    func database() throws(SettingError) -> PhoenixStore {
        guard let store else { throw SettingError(variable: "DATABASE_URL", problem: "not set (nor SUPABASE_DB_URL); this worker's job types write to PostgreSQL") }
        return store
    }

    /// The letter writer over the providers `OPENAI_API_KEY`, `GOOGLE_API_KEY`, `MAX_RESPONSE_TIME`,
    /// `ENABLE_CLOUD_FALLBACK`, … configure.
    func letterWriter() throws(SettingError) -> LetterWriter {
        do {
            return LetterWriter(settings: try LetterProviderSettings(environment: environment), http: http)
        } catch {
            throw SettingError(variable: error.variable, problem: error.problem)
        }
    }

    /// The CV templates: `PHOENIX_TEMPLATES_DIR` when set (a designer's working copy), else those shipped.
    /// - Throws: ``SettingError`` for `PHOENIX_TEMPLATES_DIR`; `CVTemplateError` when the shipped ones are missing.
    func cvTemplates() async throws -> CVTemplates {
        guard let folder = environment.nonEmpty(.templatesDirectory) else { return try await CVTemplates.bundled() }
        do {
            return try await CVTemplates(folder: URL(fileURLWithPath: folder))
        } catch {
            throw SettingError(variable: "PHOENIX_TEMPLATES_DIR", problem: error.description)
        }
    }

    /// `JOB_RUNS_RETENTION_DAYS` (default 90): days the daily retention pass keeps finished job runs.
    static func jobRunsRetentionDays(_ environment: [String: String]) throws(SettingError) -> Int {
        guard let text = environment.nonEmpty(.jobRunsRetentionDays) else { return MaintenanceCleanupJob.defaultJobRunsRetentionDays }
        let range = MaintenanceCleanupJob.retentionRange
        guard let days = Int(text), range.contains(days) else {
            throw SettingError(variable: "JOB_RUNS_RETENTION_DAYS", problem: "must be a whole number of days between \(range.lowerBound) and \(range.upperBound), got '\(text)'")
        }
        return days
    }
}
