import PhoenixJobsCore
import PhoenixQueue

/// The body of `PUT /v1/queues/{queue}/flow`: the settings to change, each optional (left as they are when
/// absent). A limit is a whole number from 1 to 100,000 (100,000,000 for tokens per minute), or `null` for none.
struct FlowChange {
    static let fields = ["fairShare", "keyConcurrency", "concurrency", "requestsPerMinute", "tokensPerMinute"]
    var fairShare: Bool?
    var keyConcurrency: FlowLimit?
    var concurrency: FlowLimit?
    var requestsPerMinute: FlowLimit?
    var tokensPerMinute: FlowLimit?

    /// Reads `body`, refusing anything else than the settings with a 400 naming the field.
    init(_ body: JSONValue) throws(APIError) {
        let known = Self.fields.joined(separator: ", ")
        guard let members = body.objectValue else { throw .badRequest("invalid_request", "expected a JSON object of \(known)") }
        for name in members.keys where !Self.fields.contains(name) {
            throw .badRequest("invalid_request", "unknown field '\(name.prefix(64))'; the settings are \(known)")
        }
        switch members["fairShare"] {
        case nil: fairShare = nil
        case .bool(let on)?: fairShare = on
        default: throw .badRequest("invalid_request", "fairShare must be true or false")
        }
        keyConcurrency = try Self.limit(members, "keyConcurrency")
        concurrency = try Self.limit(members, "concurrency")
        requestsPerMinute = try Self.limit(members, "requestsPerMinute")
        tokensPerMinute = try Self.limit(members, "tokensPerMinute", upTo: 100_000_000)
    }

    private static func limit(_ members: [String: JSONValue], _ name: String, upTo most: Double = 100_000) throws(APIError) -> FlowLimit? {
        switch members[name] {
        case nil: return nil
        case .null?: return .unlimited
        case .number(let n)? where n == n.rounded() && (1...most).contains(n): return .atMost(Int(n))
        default: throw .badRequest("invalid_request", "\(name) must be a whole number from 1 to \(Int(most)), or null for no limit")
        }
    }
}
