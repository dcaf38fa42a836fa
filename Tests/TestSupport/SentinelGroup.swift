import Foundation
import LocalServers
public import PhoenixRedis

/// A master, its replicas and three sentinels on loopback, for failover tests: the sentinels watch the
/// master as `phoenix`, call it down after 1 s without an answer and promote a replica (quorum 2).
public final class SentinelGroup: @unchecked Sendable {
    /// The name the sentinels monitor the master under.
    public let masterName = "phoenix"
    /// The server that is master when the group starts.
    public let master: RedisServerProcess
    /// Its replicas; a failover promotes one, and the others follow the new master.
    public let replicas: [RedisServerProcess]
    /// The sentinels' ports.
    public let sentinelPorts: [Int]
    private let sentinels: [ChildProcess]
    private let directory: URL

    /// Starts the servers and waits until every replica is in sync and every sentinel knows the replicas and
    /// the two other sentinels (without that, no failover can be agreed).
    /// - Parameter replicas: how many replicas (two leave one to acknowledge writes after a failover).
    public init(replicas count: Int = 1) async throws {
        let master = try await RedisServerProcess()
        self.master = master
        var replicas: [RedisServerProcess] = []
        for _ in 0..<count { replicas.append(try await RedisServerProcess(options: ["--replicaof", "127.0.0.1", "\(master.port)"])) }
        self.replicas = replicas
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("phoenix-sentinels-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        var ports: [Int] = [], processes: [ChildProcess] = []
        for index in 0..<3 {
            let port = LoopbackPort.free()
            let file = directory.appendingPathComponent("sentinel-\(index).conf")
            // Sentinel rewrites its configuration file as it learns, so each has a writable one of its own.
            try """
            bind 127.0.0.1
            port \(port)
            dir \(directory.path)
            logfile \(directory.appendingPathComponent("sentinel-\(index).log").path)
            sentinel monitor \(masterName) 127.0.0.1 \(master.port) 2
            sentinel down-after-milliseconds \(masterName) 1000
            sentinel failover-timeout \(masterName) 10000
            sentinel parallel-syncs \(masterName) 1

            """.write(to: file, atomically: true, encoding: .utf8)
            processes.append(try ChildProcess("/usr/bin/redis-server", [file.path, "--sentinel"]))
            ports.append(port)
        }
        sentinels = processes
        sentinelPorts = ports
        try await waitUntilReady()
    }

    deinit {
        for sentinel in sentinels {
            sentinel.send(SIGTERM)
            sentinel.waitForExit()
        }
        try? FileManager.default.removeItem(at: directory)
    }

    /// `REDIS_SENTINELS`' form of the sentinels' addresses.
    public var sentinelList: String { sentinelPorts.map { "127.0.0.1:\($0)" }.joined(separator: ",") }

    /// A client configuration that finds the master through the sentinels.
    public func configuration() throws -> RedisConfiguration {
        var configuration = try RedisConfiguration(url: "redis://127.0.0.1:1/0")
        configuration.sentinel = try RedisSentinel(list: sentinelList, masterName: masterName)
        return configuration
    }

    /// The port of the server the sentinels call master now.
    public func currentMasterPort() async throws -> Int? {
        let sentinel = RedisClient(configuration: try RedisConfiguration(url: "redis://127.0.0.1:\(sentinelPorts[0])/0"), poolSize: 1)
        defer { sentinel.shutdown() }
        let reply = try await sentinel.send("SENTINEL", "get-master-addr-by-name", masterName)
        return reply.array?.last?.string.flatMap { Int($0) }
    }

    private func waitUntilReady() async throws {
        let replicaClients = try replicas.map { RedisClient(configuration: try RedisConfiguration(url: $0.url), poolSize: 1) }
        let clients = try sentinelPorts.map { RedisClient(configuration: try RedisConfiguration(url: "redis://127.0.0.1:\($0)/0"), poolSize: 1) }
        defer { (replicaClients + clients).forEach { $0.shutdown() } }
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            var ready = true
            for client in replicaClients where ready {
                ready = (try? await client.send("INFO", "replication"))?.string?.contains("master_link_status:up") == true
            }
            for client in clients where ready {
                let fields = (try? await client.send("SENTINEL", "master", masterName))?.array?.compactMap(\.string) ?? []
                let values = Dictionary(stride(from: 0, to: fields.count - 1, by: 2).map { (fields[$0], fields[$0 + 1]) }, uniquingKeysWith: { a, _ in a })
                ready = values["num-slaves"] == "\(replicas.count)" && values["num-other-sentinels"] == "2"
            }
            if ready { return }
            try await Task.sleep(for: .milliseconds(200))
        }
        throw GroupDidNotForm()
    }

    /// The sentinels did not all see the replica and each other within 30 s.
    public struct GroupDidNotForm: Error {}
}
