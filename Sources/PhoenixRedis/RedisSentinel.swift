import Foundation

/// Where to learn which server is the master: Redis Sentinel. With it, a client asks the sentinels for the
/// master of `masterName` before each connection it opens, checks that the server it reached says it is the
/// master (`ROLE`), and asks again when it was not (a failover in progress) or when a server answers
/// `READONLY` (a master demoted to replica after a failover).
public struct RedisSentinel: Sendable, Equatable {
    /// One sentinel's address.
    public struct Address: Sendable, Equatable, CustomStringConvertible {
        public var host: String
        public var port: Int

        public init(host: String, port: Int) {
            self.host = host
            self.port = port
        }

        public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
    }

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
        let entries = list.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        guard !entries.isEmpty, entries.allSatisfy({ !$0.isEmpty }) else {
            throw .invalidSentinel("expected host:port[,host:port…], got '\(list)'")
        }
        guard !masterName.isEmpty, !masterName.contains(where: \.isWhitespace) else {
            throw .invalidSentinel("the master's name must be one word, got '\(masterName)'")
        }
        self.init(sentinels: try entries.map(Self.address), masterName: masterName, password: password)
    }

    private static func address(_ entry: String) throws(RedisConfigurationError) -> Address {
        var host = entry, portText: Substring?
        if entry.hasPrefix("[") {
            guard let close = entry.firstIndex(of: "]") else { throw .invalidSentinel("'\(entry)' has no closing ]") }
            host = String(entry[entry.index(after: entry.startIndex)..<close])
            let rest = entry[entry.index(after: close)...]
            if !rest.isEmpty {
                guard rest.hasPrefix(":") else { throw .invalidSentinel("'\(entry)': expected :port after ]") }
                portText = rest.dropFirst()
            }
        } else if let colon = entry.lastIndex(of: ":") {
            host = String(entry[..<colon])
            portText = entry[entry.index(after: colon)...]
        }
        guard !host.isEmpty else { throw .invalidSentinel("'\(entry)' has no host") }
        guard let portText else { return Address(host: host, port: 26379) }
        guard let port = Int(portText), (1...65535).contains(port) else {
            throw .invalidSentinel("'\(entry)': the port must be a number from 1 to 65535")
        }
        return Address(host: host, port: port)
    }
}
