import Foundation
import LocalServers
public import PhoenixRedis

/// A Redis Cluster of a test's own on loopback: three masters with a replica each (`redis-cli --cluster
/// create`, a third of the slots per master), a node called failed after 2 s without an answer
/// (`cluster-node-timeout`), so that its replica takes over.
public final class RedisClusterGroup: @unchecked Sendable {
    /// Every node, masters and replicas.
    public let nodes: [RedisServerProcess]
    /// The options every node runs with, which a restart repeats.
    public static let nodeOptions = ["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "2000"]

    /// Starts six nodes, forms the cluster and waits until every node says it is ok.
    public init() async throws {
        var nodes: [RedisServerProcess] = []
        for _ in 0..<6 { nodes.append(try await RedisServerProcess(options: Self.nodeOptions, port: Self.freePort())) }
        self.nodes = nodes
        let addresses = nodes.map { "127.0.0.1:\($0.port)" }
        let created = try await ChildProcess.run("/usr/bin/redis-cli", ["--cluster", "create"] + addresses + ["--cluster-replicas", "1", "--cluster-yes"])
        guard created.status == 0 else { throw ClusterDidNotForm(reason: created.output) }
        try await waitUntilOK(nodes)
    }

    /// `REDIS_CLUSTER_NODES`' form of the nodes' addresses.
    public var nodeList: String { nodes.map { "127.0.0.1:\($0.port)" }.joined(separator: ",") }

    /// A client configuration for the cluster.
    public func configuration() throws -> RedisConfiguration {
        var configuration = try RedisConfiguration(url: "redis://127.0.0.1:\(nodes[0].port)/0")
        configuration.cluster = try RedisCluster(list: nodeList)
        return configuration
    }

    /// The node that is master of `slot` now, as a live node's slot map says.
    public func master(of slot: Int) async throws -> RedisServerProcess? {
        for node in nodes {
            let client = RedisClient(configuration: try RedisConfiguration(url: node.url), poolSize: 1)
            defer { client.shutdown() }
            guard let ranges = try? await client.send("CLUSTER", "SLOTS").array else { continue }
            for range in ranges {
                guard let fields = range.array, let first = fields[0].int, let last = fields[1].int, (first...last).contains(slot),
                      let port = fields[2].array?[1].int
                else { continue }
                return nodes.first { $0.port == port }
            }
        }
        return nil
    }

    /// Starts a node again after ``RedisServerProcess/kill()`` (it rejoins the cluster, as a replica once its
    /// slots were taken over).
    public func restart(_ node: RedisServerProcess) async throws {
        try await node.start(options: Self.nodeOptions)
    }

    /// Waits until every node of `nodes` says `cluster_state:ok`.
    public func waitUntilOK(_ nodes: [RedisServerProcess]) async throws {
        let deadline = ContinuousClock.now + .seconds(30)
        for node in nodes {
            let client = RedisClient(configuration: try RedisConfiguration(url: node.url), poolSize: 1)
            defer { client.shutdown() }
            while (try? await client.send("CLUSTER", "INFO"))?.string?.contains("cluster_state:ok") != true {
                guard ContinuousClock.now < deadline else { throw ClusterDidNotForm(reason: "node \(node.port) is not ok after 30 s") }
                try await Task.sleep(for: .milliseconds(100))
            }
        }
    }

    /// A free port whose cluster bus port (10000 above) is free too, both below the kernel's range for
    /// ephemeral ports (32768 and up here), from which ``LoopbackPort/free()`` draws the ports of the other
    /// tests' servers: a bus port in that range could be handed to one of them before the node binds it.
    private static func freePort() -> Int {
        while true {
            let port = Int.random(in: 10_000...22_000)
            if !LoopbackPort.accepts(port), !LoopbackPort.accepts(port + 10_000) { return port }
        }
    }

    /// The cluster did not form.
    public struct ClusterDidNotForm: Error, CustomStringConvertible {
        public let reason: String
        public var description: String { "the test cluster did not form: \(reason)" }
    }
}
