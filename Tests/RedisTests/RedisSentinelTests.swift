import PhoenixRedis
import Testing
import TestSupport

/// Finding the master through Redis Sentinel, and following it when it moves.
@Suite struct RedisSentinelTests {
    @Test func sentinelListsParseAndBadOnesAreNamed() throws {
        let parsed = try RedisSentinel(list: " 10.0.0.1:26380, sentinel-b ,[::1]:26381", masterName: "phoenix")
        #expect(parsed.sentinels == [.init(host: "10.0.0.1", port: 26380), .init(host: "sentinel-b", port: 26379), .init(host: "::1", port: 26381)])
        for (list, named) in [("a:0", "'a:0'"), ("a:x", "'a:x'"), ("a,,b", "a,,b"), (":26379", "':26379'"), ("[::1", "'[::1'")] {
            #expect { try RedisSentinel(list: list, masterName: "phoenix") } throws: { "\($0)".contains(named) }
        }
        #expect(throws: RedisConfigurationError.self) { try RedisSentinel(list: "a", masterName: "two words") }
        var configuration = try RedisConfiguration(url: "redis://:secret@ignored:1/2")
        configuration.sentinel = parsed
        #expect(configuration.description == "redis://:****@phoenix via sentinels 10.0.0.1:26380,sentinel-b:26379,[::1]:26381/2")
    }

    /// A demoted master answers READONLY; the write is sent again (on a new connection, which with sentinels
    /// goes to the master found again) until a master takes it, instead of failing the caller.
    @Test func aWriteAnsweredReadOnlyIsSentAgainUntilAMasterTakesIt() async throws {
        let server = try await RedisServerProcess(), other = try await RedisServerProcess()
        var configuration = try RedisConfiguration(url: server.url)
        configuration.reconnectTimeout = .seconds(30)
        let redis = RedisClient(configuration: configuration, poolSize: 1)
        let admin = RedisClient(configuration: try RedisConfiguration(url: server.url), poolSize: 1)
        defer { redis.shutdown(); admin.shutdown() }
        #expect(try await redis.send("SET", "k", "before") == .status("OK"))
        try await admin.send("REPLICAOF", "127.0.0.1", other.port)
        let write = Task { try await redis.send("SET", "k", "after") }
        try await eventually("the server answered READONLY") {
            try await admin.send("INFO", "errorstats").string?.contains("errorstat_READONLY") == true
        }
        try await admin.send("REPLICAOF", "NO", "ONE")
        #expect(try await write.value == .status("OK"))
        #expect(try await admin.send("GET", "k").string == "after")
    }

    @Test func theClientFindsTheMasterAndFollowsAFailover() async throws {
        let group = try await SentinelGroup()
        var configuration = try group.configuration()
        // A sentinel that does not answer is passed over for the next.
        configuration.sentinel?.sentinels.insert(.init(host: "127.0.0.1", port: 1), at: 0)
        let redis = RedisClient(configuration: configuration, poolSize: 1)
        defer { redis.shutdown() }
        #expect(try await redis.send("SET", "counter", 1) == .status("OK"))
        #expect(try await redis.send("CONFIG", "GET", "port").array?.last?.string == "\(group.master.port)")
        // Replication is asynchronous: the replica holds the write before it is promoted, or a loaded machine
        // could promote it without (the failover itself is what this test follows).
        #expect(try await redis.send("WAIT", 1, 10_000) == .integer(1))

        // A failover the sentinels are asked for: the replica is promoted and the old master demoted, after
        // which it answers READONLY to writes on the client's open connection.
        let sentinel = RedisClient(configuration: try RedisConfiguration(url: "redis://127.0.0.1:\(group.sentinelPorts[0])/0"), poolSize: 1)
        let oldMaster = RedisClient(configuration: try RedisConfiguration(url: group.master.url), poolSize: 1)
        defer { sentinel.shutdown(); oldMaster.shutdown() }
        #expect(try await sentinel.send("SENTINEL", "FAILOVER", group.masterName) == .status("OK"))
        try await eventually("the old master is a replica", timeout: .seconds(30)) {
            try await oldMaster.send("ROLE").array?.first?.string == "slave"
        }
        let counter = try await redis.send("INCR", "counter")
        #expect(counter == .integer(2), "INCR answered \(counter)")
        #expect(try await redis.send("CONFIG", "GET", "port").array?.last?.string == "\(group.replicas[0].port)")
    }
}
