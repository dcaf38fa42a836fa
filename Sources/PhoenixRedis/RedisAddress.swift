import Foundation

/// A Redis server's address: a sentinel, a cluster node, a master named by either.
public struct RedisAddress: Sendable, Hashable, CustomStringConvertible {
    /// Host name or IP address.
    public var host: String
    /// TCP port.
    public var port: Int

    /// An address from its parts.
    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// `host:port`, with an IPv6 address in brackets.
    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    /// Addresses from a comma-separated list of `host:port` (`defaultPort` where the port is left out;
    /// `[::1]:6379` for IPv6).
    /// - Throws: the reason, naming the entry at fault.
    static func list(_ text: String, defaultPort: Int) throws(AddressListError) -> [RedisAddress] {
        let entries = text.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        guard !entries.isEmpty, entries.allSatisfy({ !$0.isEmpty }) else {
            throw AddressListError("expected host:port[,host:port…], got '\(text)'")
        }
        return try entries.map { entry throws(AddressListError) in try address(entry, defaultPort: defaultPort) }
    }

    /// One `host:port` entry (or `[v6]:port`, or a host alone).
    static func address(_ entry: String, defaultPort: Int) throws(AddressListError) -> RedisAddress {
        var host = entry, portText: Substring?
        if entry.hasPrefix("[") {
            guard let close = entry.firstIndex(of: "]") else { throw AddressListError("'\(entry)' has no closing ]") }
            host = String(entry[entry.index(after: entry.startIndex)..<close])
            let rest = entry[entry.index(after: close)...]
            if !rest.isEmpty {
                guard rest.hasPrefix(":") else { throw AddressListError("'\(entry)': expected :port after ]") }
                portText = rest.dropFirst()
            }
        } else if let colon = entry.lastIndex(of: ":") {
            host = String(entry[..<colon])
            portText = entry[entry.index(after: colon)...]
        }
        guard !host.isEmpty else { throw AddressListError("'\(entry)' has no host") }
        guard let portText else { return RedisAddress(host: host, port: defaultPort) }
        guard let port = Int(portText), (1...65535).contains(port) else {
            throw AddressListError("'\(entry)': the port must be a number from 1 to 65535")
        }
        return RedisAddress(host: host, port: port)
    }
}

/// Why a list of addresses cannot be read; the settings that take one wrap it in their own error.
struct AddressListError: Error {
    let reason: String
    init(_ reason: String) { self.reason = reason }
}
