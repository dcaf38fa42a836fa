/// Where to find a Redis Cluster: a few of its nodes. The client asks them for the slot map
/// (`CLUSTER SLOTS`), sends each command to the master of its key's slot, follows `MOVED` (the slot map
/// changed: learnt again) and `ASK` (a slot being migrated), and learns the map again when a node stops
/// answering, so a failover's promoted replica takes over its slots.
public struct RedisCluster: Sendable, Equatable {
    /// Nodes asked for the slot map, in this order, until one answers; any node of the cluster will do.
    public var nodes: [RedisAddress]

    /// Cluster settings with explicit seed nodes.
    public init(nodes: [RedisAddress]) {
        self.nodes = nodes
    }

    /// Cluster settings from a comma-separated list of `host:port` (port 6379 when left out).
    /// - Throws: ``RedisConfigurationError/invalidCluster(_:)`` naming the entry at fault.
    public init(list: String) throws(RedisConfigurationError) {
        do { nodes = try RedisAddress.list(list, defaultPort: 6379) } catch { throw .invalidCluster(error.reason) }
    }
}
