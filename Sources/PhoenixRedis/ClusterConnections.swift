import NIOCore
import Synchronization

/// The connections of a cluster client: which node serves each slot (the slot map), and per node the pools a
/// single-server client has (shared connections for ordinary commands, exclusive ones for blocking commands),
/// opened when a request first goes to that node.
final class ClusterConnections: Sendable {
    /// One node's connections.
    struct Node: Sendable {
        let shared: SharedConnections
        let exclusive: ExclusiveConnections
    }

    private struct State {
        /// The master of each slot, as last learnt; `nil` where the map says nothing.
        var slots: [RedisAddress?] = Array(repeating: nil, count: RedisClusterSlot.count)
        var nodes: [RedisAddress: Node] = [:]
        /// When the map was last learnt from a node.
        var learntAt: ContinuousClock.Instant?
        var isShutDown = false
    }

    /// The nodes asked for the slot map when no known node answers.
    let seeds: [RedisAddress]
    private let poolSize: Int
    private let maxBlockingConnections: Int
    /// A connector for one node.
    private let connector: @Sendable (RedisAddress) -> RedisConnector
    /// Guards the slot map, the nodes' pools and the shut-down flag.
    private let state = Mutex(State())

    init(seeds: [RedisAddress], poolSize: Int, maxBlockingConnections: Int, connector: @escaping @Sendable (RedisAddress) -> RedisConnector) {
        self.seeds = seeds
        self.poolSize = poolSize
        self.maxBlockingConnections = maxBlockingConnections
        self.connector = connector
    }

    /// Whether the slot map has been learnt at all.
    var hasMap: Bool { state.withLock { $0.learntAt != nil } }

    /// When the slot map was last learnt.
    var learntAt: ContinuousClock.Instant? { state.withLock { $0.learntAt } }

    /// The master of `slot`, or `nil` when the map does not say.
    func master(of slot: Int) -> RedisAddress? {
        state.withLock { $0.slots[slot] }
    }

    /// A node to send a command that names no key to: the master of the first mapped slot, else a seed.
    func anyNode() -> RedisAddress {
        state.withLock { state in state.slots.lazy.compactMap { $0 }.first } ?? seeds[0]
    }

    /// The nodes to ask for the slot map: the masters known, then the seeds.
    func nodesToAsk() -> [RedisAddress] {
        let known = state.withLock { state in Set(state.slots.compactMap { $0 }) }
        return known.sorted { $0.description < $1.description } + seeds.filter { !known.contains($0) }
    }

    /// The connections to `address`, made on first use (failing with ``RedisError/shutdown`` once shut down).
    func node(at address: RedisAddress) throws(RedisError) -> Node {
        try state.withLock { state throws(RedisError) -> Node in
            guard !state.isShutDown else { throw .shutdown }
            if let node = state.nodes[address] { return node }
            let nodeConnector = connector(address)
            let shared = SharedConnections(count: poolSize, connector: nodeConnector)
            let node = Node(shared: shared, exclusive: ExclusiveConnections(maxIdle: maxBlockingConnections, connector: nodeConnector, companion: shared))
            state.nodes[address] = node
            return node
        }
    }

    /// Records that `slot` is now served by `address` (a `MOVED` answer), until the map is learnt again.
    func moved(_ slot: Int, to address: RedisAddress) {
        state.withLock { $0.slots[slot] = address }
    }

    /// Replaces the slot map with a `CLUSTER SLOTS` answer from the node at `source`. Returns `false`, changing
    /// nothing, when the answer does not have that shape.
    @discardableResult
    func learn(_ reply: RedisValue, from source: RedisAddress) -> Bool {
        guard let ranges = reply.array else { return false }
        var slots = [RedisAddress?](repeating: nil, count: RedisClusterSlot.count)
        for range in ranges {
            guard let fields = range.array, fields.count >= 3, let first = fields[0].int, let last = fields[1].int,
                  let master = fields[2].array, master.count >= 2, let port = master[1].int,
                  (0..<RedisClusterSlot.count).contains(first), (first..<RedisClusterSlot.count).contains(last)
            else { return false }
            // An empty host means the node the question went to.
            let host = master[0].string.flatMap { $0.isEmpty || $0 == "?" ? nil : $0 } ?? source.host
            let address = RedisAddress(host: host, port: port)
            for slot in first...last { slots[slot] = address }
        }
        // Pools of nodes that serve no slot any more (a failed master) stay: they open nothing until a request
        // goes to them, and a request in flight on one is not cut off.
        state.withLock { state in
            state.slots = slots
            state.learntAt = .now
        }
        return true
    }

    /// Closes every node's connections; no new one is opened.
    func shutDown() {
        let nodes = state.withLock { state -> [Node] in
            state.isShutDown = true
            defer { state.nodes = [:] }
            return Array(state.nodes.values)
        }
        for node in nodes {
            node.shared.shutDown()
            node.exclusive.shutDown()
        }
    }
}
