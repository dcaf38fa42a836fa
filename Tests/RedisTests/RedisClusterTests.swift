import PhoenixRedis
import Testing
import TestSupport

/// Redis Cluster: slots, routing, and the redirections a slot migration causes.
@Suite struct RedisClusterTests {
    @Test func slotsFollowRedisHashTagRules() {
        // CRC16/XMODEM's check value, and slots Redis reports (CLUSTER KEYSLOT).
        #expect(RedisClusterSlot.of("123456789") == 0x31C3 & 16383)
        #expect(RedisClusterSlot.of("foo") == 12182)
        #expect(RedisClusterSlot.of("{user1000}.following") == RedisClusterSlot.of("{user1000}.followers"))
        #expect(RedisClusterSlot.of("phx:queue:{letters}:ready") == RedisClusterSlot.of("letters"))
        // An empty tag, or none closed, hashes the whole key; only the first tag counts.
        #expect(RedisClusterSlot.of("foo{}{bar}") != RedisClusterSlot.of("bar"))
        #expect(RedisClusterSlot.of("foo{{bar}}zap") == RedisClusterSlot.of("{bar"))
        #expect(RedisClusterSlot.of("foo{bar}{zap}") == RedisClusterSlot.of("bar"))
    }

    @Test func commandsAreRoutedByTheirFirstKey() {
        #expect(RedisCommand("GET", "{a}x").slot == RedisClusterSlot.of("a"))
        #expect(RedisCommand("EVALSHA", "abc", 2, "{q}:ready", "{q}:leased", "arg").firstKey == Array("{q}:ready".utf8))
        #expect(RedisCommand("EVALSHA", "abc", 0, "arg").firstKey == nil)
        #expect(RedisCommand("WAIT", 1, 100).slot == nil)
        #expect(RedisCommand("PING").slot == nil)
        #expect(RedisCommand("OBJECT", "ENCODING", "k").firstKey == Array("k".utf8))
    }

    @Test func clusterNodeListsParseAndBadOnesAreNamed() throws {
        #expect(try RedisCluster(list: "10.0.0.1:7000, node-b").nodes == [.init(host: "10.0.0.1", port: 7000), .init(host: "node-b", port: 6379)])
        #expect { try RedisCluster(list: "a:70000") } throws: { "\($0)".contains("invalid Redis Cluster setting: 'a:70000'") }
    }

    /// A slot moved by hand the way `redis-cli --cluster reshard` moves it: while it migrates, a key already
    /// moved is answered `ASK` (the client asks the importing node, after `ASKING`); once the slot belongs to
    /// the other node, the old one answers `MOVED` and the client learns the new map. The client's map is
    /// stale throughout: it learnt it before the migration began.
    @Test func theClientFollowsAskAndMovedWhileASlotMigrates() async throws {
        let cluster = try await RedisClusterGroup()
        let client = RedisClient(configuration: try cluster.configuration())
        defer { client.shutdown() }
        let slot = RedisClusterSlot.of("moving")
        try await client.send("SET", "{moving}:a", "1")
        let source = try #require(try await cluster.master(of: slot))
        var masters: [RedisServerProcess] = []
        for someSlot in [0, 8000, 16383] { masters += [try await cluster.master(of: someSlot)].compactMap { $0 } }
        let destination = try #require(masters.first { $0.port != source.port })
        let direct = { (node: RedisServerProcess) in RedisClient(configuration: try RedisConfiguration(url: node.url), poolSize: 1) }
        let from = try direct(source), to = try direct(destination)
        defer { from.shutdown(); to.shutdown() }
        let sourceID = try #require(try await from.send("CLUSTER", "MYID").string)
        let destinationID = try #require(try await to.send("CLUSTER", "MYID").string)
        try await to.send("CLUSTER", "SETSLOT", slot, "IMPORTING", sourceID)
        try await from.send("CLUSTER", "SETSLOT", slot, "MIGRATING", destinationID)

        // A key the source does not hold is asked of the destination.
        try await client.send("SET", "{moving}:b", "2")
        #expect(try await client.send("GET", "{moving}:b").string == "2")
        let onDestination = try await to.pipeline([RedisCommand("ASKING"), RedisCommand("GET", "{moving}:b")])
        #expect(try onDestination[1].get().string == "2")

        // The rest of the slot moves; then it belongs to the destination.
        try await from.send("MIGRATE", "127.0.0.1", destination.port, "", 0, 5000, "KEYS", "{moving}:a")
        for node in [to, from] { try await node.send("CLUSTER", "SETSLOT", slot, "NODE", destinationID) }
        #expect(try await client.send("GET", "{moving}:a").string == "1")
        #expect(try await client.send("INCR", "{moving}:c") == .integer(1))
        #expect(try await to.send("GET", "{moving}:c").string == "1")
    }
}
