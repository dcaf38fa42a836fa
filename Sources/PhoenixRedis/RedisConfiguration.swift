import Foundation

/// Where and how to reach a Redis server, read from a `redis://[[user]:password@]host[:port][/db]` URL
/// (`rediss://` for TLS).
public struct RedisConfiguration: Sendable, Equatable, CustomStringConvertible {
    /// Host name or address of the server.
    public var host: String
    /// TCP port of the server.
    public var port: Int
    /// ACL user name (Redis 6+), sent with `AUTH user password`; `nil` for the default user.
    public var username: String?
    /// Password sent with `AUTH` after connecting; `nil` when the server needs none.
    public var password: String?
    /// Logical database selected with `SELECT` after connecting.
    public var database: Int
    /// How long establishing a TCP connection may take.
    public var connectTimeout: Duration
    /// How long one command (or one pipeline) may wait for its reply, on top of a blocking command's own timeout.
    public var commandTimeout: Duration
    /// How long a lost connection keeps being re-established, with backoff, before a call fails.
    public var reconnectTimeout: Duration
    /// TLS settings, `nil` for a plain TCP connection (`redis://`). With sentinels, they secure the
    /// connections to the sentinels too.
    public var tls: RedisTLS?
    /// The sentinels that name the master; `nil` to connect to ``host`` and ``port``, which the sentinels
    /// then replace.
    public var sentinel: RedisSentinel?
    /// The cluster's seed nodes; `nil` for a single server (or one behind sentinels). With a cluster,
    /// ``host`` and ``port`` are not used.
    public var cluster: RedisCluster?

    /// A configuration with explicit fields; timeouts default to values fit for a server on the same network.
    public init(
        host: String = "127.0.0.1",
        port: Int = 6379,
        username: String? = nil,
        password: String? = nil,
        database: Int = 0,
        connectTimeout: Duration = .seconds(5),
        commandTimeout: Duration = .seconds(10),
        reconnectTimeout: Duration = .seconds(30),
        tls: RedisTLS? = nil,
        sentinel: RedisSentinel? = nil,
        cluster: RedisCluster? = nil
    ) {
        self.host = host
        self.port = port
        self.username = username
        self.password = password
        self.database = database
        self.connectTimeout = connectTimeout
        self.commandTimeout = commandTimeout
        self.reconnectTimeout = reconnectTimeout
        self.tls = tls
        self.sentinel = sentinel
        self.cluster = cluster
    }

    /// Parses a `redis://` URL such as `redis://:secret@127.0.0.1:6380/2`, or a `rediss://` one (TLS, the
    /// server's certificate checked against the system's trusted CAs; ``tls`` takes other settings).
    ///
    /// - Throws: ``RedisConfigurationError`` naming what is wrong with the URL (never echoing the password).
    public init(url: String) throws(RedisConfigurationError) {
        guard let components = URLComponents(string: url), let scheme = components.scheme else {
            throw .invalidURL("not a URL; expected redis://[[user]:password@]host[:port][/db]")
        }
        let tls: RedisTLS?
        switch scheme.lowercased() {
        case "redis": tls = nil
        case "rediss": tls = RedisTLS()
        default: throw .invalidURL("scheme '\(scheme)' is not redis:// or rediss://")
        }
        guard let host = components.host, !host.isEmpty else {
            throw .invalidURL("no host; expected redis://[[user]:password@]host[:port][/db]")
        }
        var database = 0
        let path = components.path.trimmingCharacters(in: CharacterSet(charactersIn: "/"))
        if !path.isEmpty {
            guard let number = Int(path), number >= 0 else {
                throw .invalidURL("database '\(path)' is not a non-negative number")
            }
            database = number
        }
        let port = components.port ?? 6379
        guard (1...65535).contains(port) else { throw .invalidURL("port \(port) is out of range") }
        let user = components.user.flatMap { $0.isEmpty ? nil : $0 }
        self.init(
            host: host,
            port: port,
            username: user,
            password: components.password.flatMap { $0.isEmpty ? nil : $0 },
            database: database,
            tls: tls
        )
    }

    /// The URL with the password masked, safe to log.
    public var description: String {
        var auth = ""
        if username != nil || password != nil {
            auth = "\(username ?? ""):\(password == nil ? "" : "****")@"
        }
        let server = if let sentinel {
            "\(sentinel.masterName) via sentinels \(sentinel.sentinels.map(\.description).joined(separator: ","))"
        } else if let cluster {
            "cluster of \(cluster.nodes.map(\.description).joined(separator: ","))"
        } else {
            "\(host):\(port)"
        }
        return "\(tls == nil ? "redis" : "rediss")://\(auth)\(server)/\(database)"
    }
}

/// A Redis URL or setting that cannot be used.
public enum RedisConfigurationError: Error, Equatable, CustomStringConvertible {
    /// The URL is malformed; the text says which part.
    case invalidURL(String)
    /// A TLS setting cannot be used (a file missing or not PEM, a certificate without its key); the text
    /// names the file.
    case invalidTLS(String)
    /// The sentinel settings are malformed; the text says which entry.
    case invalidSentinel(String)
    /// The cluster settings are malformed; the text says which entry.
    case invalidCluster(String)

    public var description: String {
        switch self {
        case .invalidURL(let reason): "invalid Redis URL: \(reason)"
        case .invalidTLS(let reason): "invalid Redis TLS setting: \(reason)"
        case .invalidSentinel(let reason): "invalid Redis Sentinel setting: \(reason)"
        case .invalidCluster(let reason): "invalid Redis Cluster setting: \(reason)"
        }
    }
}
