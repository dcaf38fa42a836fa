import Foundation
import Hummingbird
import PhoenixJobsCore
import PhoenixQueue
import PhoenixSupabase

/// The dashboard's job search: by user, type and state (a job id opens its page instead).
///
/// Two sources, since neither holds every job: the queues' event streams index the recent jobs (the last ~10,000
/// events of each queue, every job that changed lately, waiting ones included), whose current state is read from
/// their Redis records; `phoenix_job_runs` holds every job that ran, for as long as retention keeps it. A job found
/// in both shows its Redis state. At most ``limit`` jobs, newest first.
struct DashboardSearch: Sendable {
    /// Most jobs one search lists.
    static let limit = 100

    var id: UUID?
    var user: UUID?
    var type: String?
    var state: JobState?

    /// The search a request's query asks for (`id`, `user`, `type`, `state`; empty fields are ignored).
    /// - Throws: ``APIError`` 400 naming a field that is not what it should be.
    init(_ request: Request) throws(APIError) {
        func field(_ name: String) throws(APIError) -> String? {
            guard let value = try request.queryParameter(name)?.trimmingCharacters(in: .whitespaces), !value.isEmpty else { return nil }
            return value
        }
        if let text = try field("id") {
            guard let id = UUID(uuidString: text) else { throw .badRequest("invalid_id", "id must be a job id (a UUID)") }
            self.id = id
        }
        if let text = try field("user") {
            guard let user = UUID(uuidString: text) else { throw .badRequest("invalid_user", "user must be a user id (a UUID)") }
            self.user = user
        }
        if let text = try field("type") {
            guard JobEnvelope.isTypeName(text) else { throw .badRequest("invalid_type", "type must be a job type name such as letter.generate") }
            type = text
        }
        if let text = try field("state") {
            guard let state = JobState(rawValue: text) else {
                throw .badRequest("invalid_state", "state must be one of ready, delayed, leased, completed, dead, cancelled")
            }
            self.state = state
        }
    }

    /// The search page's path with this search's fields (all of them URL-safe: a UUID, a type name, a state).
    var path: String {
        let fields = [("user", user?.lowercasedString), ("type", type), ("state", state?.rawValue)].compactMap { name, value in value.map { "\(name)=\($0)" } }
        return "/dashboard/search" + (fields.isEmpty ? "" : "?" + fields.joined(separator: "&"))
    }

    /// Whether the search names anything to look for.
    var isEmpty: Bool { id == nil && user == nil && type == nil && state == nil }

    /// A job the search found.
    struct Found {
        var id: String
        var queue: String
        var type: String
        var state: String
        var attempt: Int
        var user: String?
        var at: Date
        var error: String?
    }

    /// The jobs of `queues` that match, newest first.
    func results(queue: JobQueue, store: PhoenixStore, queues: [String]) async throws -> [Found] {
        var found: [String: Found] = [:]
        let userText = user?.lowercasedString
        for stream in queues.flatMap(queue.eventStreams(ofQueue:)) {
            let latest = try await queue.latestEvents(in: stream, user: userText, limit: 1000)
            let users = Dictionary(latest.map { ($0.jobID, $0.user) }, uniquingKeysWith: { first, _ in first })
            for record in try await queue.records(ids: latest.map(\.jobID), in: stream) where matches(record) {
                let at = record.finishedAt ?? record.startedAt ?? record.envelope?.enqueuedAt ?? .distantPast
                found[record.id] = Found(
                    id: record.id, queue: stream.queue, type: record.envelope?.type ?? "?", state: record.state.rawValue,
                    attempt: record.attempt, user: users[record.id] ?? nil, at: at, error: record.lastError
                )
            }
        }
        // Only ended jobs have a run row worth listing: a waiting or running job's is still to come or out of date.
        let runStatus: String?? = switch state {
        case nil: .some(nil)
        case .completed: "completed"
        case .dead: "failed"
        case .cancelled: "cancelled"
        case .ready, .delayed, .leased: nil
        }
        if let runStatus {
            for run in try await store.findRuns(user: user, type: type, status: runStatus, limit: Self.limit) where found[run.jobID.lowercasedString] == nil {
                let id = run.jobID.lowercasedString
                found[id] = Found(
                    id: id, queue: run.queue, type: run.type, state: run.status == "failed" ? "dead" : run.status, attempt: run.attempt,
                    user: run.userID?.lowercasedString, at: run.startedAt, error: run.error
                )
            }
        }
        return Array(found.values.sorted { ($0.at, $0.id) > ($1.at, $1.id) }.prefix(Self.limit))
    }

    private func matches(_ record: JobRecord) -> Bool {
        (type == nil || record.envelope?.type == type) && (state == nil || record.state == state)
    }
}
