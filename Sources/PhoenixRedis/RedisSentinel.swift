import Foundation

/// Where to learn which server is the master: Redis Sentinel. With it, a client asks the sentinels for the
/// master of `masterName` before each connection it opens, checks that the server it reached says it is the
/// master (`ROLE`), and asks again when it was not (a failover in progress) or when a server answers
/// `READONLY` (a master demoted to replica after a failover).
public struct RedisSentinel: Sendable, Equatable {
    /// One sentinel's address.
    public typealias Address = RedisAddress

    /// The sentinels, asked in this order; the first that names the master is believed.
    public var sentinels: [Address]
    /// The name the sentinels monitor the master under (`sentinel monitor <name> …`).
    public var masterName: String
    /// The sentinels' own password (`requirepass` in their configuration), when they have one.
    public var password: String?

    /// Sentinel settings with explicit addresses.
    public init(sentinels: [Address], masterName: String, password: String? = nil) {
        self.sentinels = sentinels
        self.masterName = masterName
        self.password = password
    }

    /// Sentinel settings from a comma-separated list of `host:port` (port 26379 when left out; `[::1]:26379`
    /// for IPv6).
    /// - Throws: ``RedisConfigurationError/invalidSentinel(_:)`` naming the entry at fault.
    public init(list: String, masterName: String, password: String? = nil) throws(RedisConfigurationError) {
        let sentinels: [Address]
        do { sentinels = try RedisAddress.list(list, defaultPort: 26379) } catch { throw .invalidSentinel(error.reason) }
        guard !masterName.isEmpty, !masterName.contains(where: \.isWhitespace) else {
            throw .invalidSentinel("the master's name must be one word, got '\(masterName)'")
        }
        self.init(sentinels: sentinels, masterName: masterName, password: password)
    }
}
