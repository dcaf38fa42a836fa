public import PhoenixRedis

/// What the queue engine needs of its Redis server, checked when a worker or the HTTP front starts: Redis 7.0
/// or newer (scripts carry Redis 7 flags, so that those keeping leases alive run when memory is full; `RPOP`
/// with a count needs 6.2), and `maxmemory-policy noeviction` (an evicting Redis silently drops job hashes,
/// leases and idempotency keys).
public enum RedisServerCheck {
    /// The oldest Redis version the scripts run on.
    public static let minimumVersion = (major: 7, minor: 0)

    /// What the check read off the server.
    public struct ServerInfo: Sendable, Equatable {
        /// `redis_version` (Valkey reports the Redis version it is compatible with).
        public var version: String
        /// `maxmemory_policy`.
        public var maxmemoryPolicy: String
    }

    /// Reads `INFO server` and `INFO memory` and checks them.
    /// - Throws: ``RedisServerRequirementError`` naming the setting to change, or ``QueueError`` when Redis
    ///   cannot be read.
    @discardableResult
    public static func verify(_ redis: RedisClient) async throws -> ServerInfo {
        let replies: [Result<RedisValue, RedisError>]
        do {
            replies = try await redis.pipeline([RedisCommand("INFO", "server"), RedisCommand("INFO", "memory")])
        } catch {
            throw QueueError.redis(error)
        }
        var fields: [String: String] = [:]
        for reply in replies {
            let text: String
            do { text = try reply.get().string ?? "" } catch { throw QueueError.redis(error) }
            fields.merge(parse(info: text)) { $1 }
        }
        let info = ServerInfo(version: fields["redis_version"] ?? "unknown", maxmemoryPolicy: fields["maxmemory_policy"] ?? "unknown")
        try check(info)
        return info
    }

    /// Checks what a server reported; separate from the reading so that every answer can be tested.
    public static func check(_ info: ServerInfo) throws(RedisServerRequirementError) {
        let parts = info.version.split(separator: ".").map { Int($0) ?? 0 }
        let major = parts.first ?? 0, minor = parts.dropFirst().first ?? 0
        guard (major, minor) >= minimumVersion else { throw .versionTooOld(info.version) }
        guard info.maxmemoryPolicy == "noeviction" else { throw .evictionPolicy(info.maxmemoryPolicy) }
    }

    /// The `field:value` lines of an `INFO` answer.
    static func parse(info text: String) -> [String: String] {
        var fields: [String: String] = [:]
        for line in text.split(whereSeparator: \.isNewline) where !line.hasPrefix("#") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            fields[String(line[..<colon])] = String(line[line.index(after: colon)...])
        }
        return fields
    }
}

/// A Redis server the queue engine cannot run on, and what to change.
public enum RedisServerRequirementError: Error, Equatable, CustomStringConvertible {
    /// The server is older than ``RedisServerCheck/minimumVersion``.
    case versionTooOld(String)
    /// The server may evict keys.
    case evictionPolicy(String)

    public var description: String {
        switch self {
        case .versionTooOld(let version):
            "REDIS_URL: Redis \(version) is too old; Phoenix Jobs needs Redis \(RedisServerCheck.minimumVersion.major).\(RedisServerCheck.minimumVersion.minor) or newer (script flags)"
        case .evictionPolicy(let policy):
            "REDIS_URL: the server's maxmemory-policy is '\(policy)'; set maxmemory-policy to noeviction (an evicting Redis drops jobs, leases and idempotency keys)"
        }
    }
}
