import Foundation
import Hummingbird
import PhoenixJobsCore

/// A dashboard form as posted (`application/x-www-form-urlencoded`): its fields in order, a name repeated
/// for each ticked checkbox.
struct DashboardForm: Sendable {
    /// Most job ids one bulk action takes.
    static let maxJobs = 1000

    let fields: [(name: String, value: String)]

    /// Reads the body of `request`, up to `limit` bytes.
    init(_ request: inout Request, limit: Int) async throws {
        let body = String(buffer: try await request.body.collect(upTo: limit))
        fields = body.split(separator: "&").map { pair in
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map { String($0).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? "" }
            return (parts[0], parts.count > 1 ? parts[1] : "")
        }
    }

    /// The first value of `name`.
    subscript(_ name: String) -> String? { fields.first { $0.name == name }?.value }

    /// The queue the form names.
    func queueName() throws(APIError) -> String {
        guard let name = self["queue"], JobEnvelope.isQueueName(name) else { throw .badRequest("invalid_queue", "the form names no queue") }
        return name
    }

    /// The one job id the form names (`id`).
    func jobID() throws(APIError) -> String {
        guard let text = self["id"], let id = UUID(uuidString: text) else { throw .badRequest("invalid_id", "the form names no job id") }
        return id.lowercasedString
    }

    /// Every job id the form names (`id`, repeated), each once, in order: at least one, at most ``maxJobs``.
    func jobIDs() throws(APIError) -> [String] {
        var ids: [String] = []
        for field in fields where field.name == "id" {
            guard let id = UUID(uuidString: field.value) else { throw .badRequest("invalid_id", "'\(field.value.prefix(40))' is not a job id") }
            if !ids.contains(id.lowercasedString) { ids.append(id.lowercasedString) }
        }
        guard !ids.isEmpty else { throw .badRequest("no_jobs_selected", "tick at least one job") }
        guard ids.count <= Self.maxJobs else { throw .badRequest("too_many_jobs", "one action takes at most \(Self.maxJobs) jobs, got \(ids.count)") }
        return ids
    }

    /// The dashboard page to go back to (`back`): a path under `/dashboard`, `/dashboard` itself by default.
    func returnPath() -> String {
        guard let back = self["back"], back.count <= 2000, back == "/dashboard" || back.hasPrefix("/dashboard/") || back.hasPrefix("/dashboard?"),
              !back.contains("//"), !back.contains("\\"), !back.contains(where: \.isNewline) else { return "/dashboard" }
        return back
    }

    /// Refuses a post whose `Origin` is another site (browsers send it on cross-origin form posts).
    static func checkOrigin(_ request: Request) throws(APIError) {
        guard let origin = request.headers[.origin], origin != "null" else { return }
        let host = request.head.authority ?? ""
        guard let url = URL(string: origin), let originHost = url.host else { throw .forbidden("cross-site form post refused") }
        let originAuthority = url.port.map { "\(originHost):\($0)" } ?? originHost
        guard originAuthority == host else { throw .forbidden("cross-site form post refused (Origin \(origin))") }
    }
}
