import Foundation
import PhoenixRedis
import Testing
import TestSupport

@Suite struct RedisClientTests {
    @Test func setGetDeleteRoundTrip() async throws {
        let redis = try TestRedis.client()
        let key = TestRedis.uniquePrefix() + ":greeting"
        #expect(try await redis.send("SET", key, "bonjour") == .status("OK"))
        #expect(try await redis.send("GET", key).string == "bonjour")
        #expect(try await redis.send("DEL", key) == .integer(1))
        #expect(try await redis.send("GET", key) == .null)
    }

    @Test func valuesAreBinarySafe() async throws {
        let redis = try TestRedis.client()
        let key = TestRedis.uniquePrefix() + ":bytes"
        let bytes: [UInt8] = [0, 1, 2, 255, 13, 10, 0, 42]
        try await redis.send("SET", key, bytes)
        #expect(try await redis.send("GET", key) == .bulk(bytes))
        try await redis.send("SET", key, "")
        #expect(try await redis.send("GET", key) == .bulk([]))
    }

    @Test func repliesMapToValues() async throws {
        let redis = try TestRedis.client()
        let key = TestRedis.uniquePrefix() + ":list"
        #expect(try await redis.send("RPUSH", key, "a", "b", "c") == .integer(3))
        #expect(try await redis.send("LRANGE", key, 0, -1) == .array([.bulk(Array("a".utf8)), .bulk(Array("b".utf8)), .bulk(Array("c".utf8))]))
        #expect(try await redis.send("PING") == .status("PONG"))
    }

    @Test func errorRepliesAreTypedErrors() async throws {
        let redis = try TestRedis.client()
        let key = TestRedis.uniquePrefix() + ":string"
        try await redis.send("SET", key, "x")
        await #expect(throws: RedisError.server(code: "WRONGTYPE", message: "Operation against a key holding the wrong kind of value")) {
            try await redis.send("LPUSH", key, "y")
        }
        // The connection stays usable after an error reply.
        #expect(try await redis.send("GET", key).string == "x")
    }

    @Test func pipelineReturnsOneResultPerCommandInOrder() async throws {
        let redis = try TestRedis.client()
        let prefix = TestRedis.uniquePrefix()
        var commands = (1...500).map { _ in RedisCommand("INCR", "\(prefix):counter") }
        commands.insert(RedisCommand("HSET", "\(prefix):counter", "f", "v"), at: 250)
        let replies = try await redis.pipeline(commands)
        #expect(replies.count == 501)
        #expect(try replies[0].get() == .integer(1))
        #expect(try replies[249].get() == .integer(250))
        guard case .failure(.server(code: "WRONGTYPE", _)) = replies[250] else {
            Issue.record("expected WRONGTYPE in the middle of the pipeline, got \(replies[250])")
            return
        }
        #expect(try replies[500].get() == .integer(500))
    }

    @Test func scriptsRunBySha1AndReloadAfterFlush() async throws {
        let redis = try TestRedis.client(poolSize: 1)
        let key = TestRedis.uniquePrefix() + ":scripted"
        let source = "redis.call('SET', KEYS[1], ARGV[1]) return redis.call('STRLEN', KEYS[1]) + \(Int.random(in: 0...1_000_000)) * 0"
        let script = RedisScript(name: "test", source: source)
        #expect(try await redis.send("SCRIPT", "LOAD", source).string == script.sha1)
        #expect(try await redis.run(script, keys: [key], arguments: ["hello"]) == .integer(5))
        try await redis.send("SCRIPT", "FLUSH")
        #expect(try await redis.run(script, keys: [key], arguments: ["hi"]) == .integer(2))
        #expect(try await redis.send("GET", key).string == "hi")
    }

    @Test func nextCallSucceedsAfterClientKill() async throws {
        let redis = try TestRedis.client(poolSize: 1)
        let admin = try TestRedis.client(poolSize: 1)
        let firstID = try #require(try await redis.send("CLIENT", "ID").int)
        #expect(try await admin.send("CLIENT", "KILL", "ID", firstID) == .integer(1))
        #expect(try await redis.send("PING") == .status("PONG"))
        let secondID = try #require(try await redis.send("CLIENT", "ID").int)
        #expect(secondID != firstID)
    }

    @Test func blockingCommandsDoNotStarveOtherCallers() async throws {
        let redis = try TestRedis.client(poolSize: 1)
        let key = TestRedis.uniquePrefix() + ":wakeup"
        let finishedPings = Counter()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<4 {
                group.addTask {
                    let popped = try await redis.sendBlocking(RedisCommand("BLPOP", key, 30), timeout: .seconds(30))
                    // Every blocked pop may only be released after all pings went through.
                    #expect(await finishedPings.value == 100)
                    #expect(popped.array?.count == 2)
                }
            }
            for _ in 0..<100 {
                #expect(try await redis.send("PING") == .status("PONG"))
                await finishedPings.increment()
            }
            try await redis.send("RPUSH", key, 1, 2, 3, 4)
            try await group.waitForAll()
        }
    }

    @Test func commandTimeoutDiscardsTheConnection() async throws {
        var configuration = try TestRedis.configuration()
        configuration.commandTimeout = .milliseconds(200)
        let redis = RedisClient(configuration: configuration, poolSize: 1)
        let key = TestRedis.uniquePrefix() + ":never"
        await #expect {
            try await redis.send("BLPOP", key, 30)
        } throws: { error in
            guard case RedisError.timeout = error else { return false }
            return true
        }
        // Had the connection been kept, every later call would wait behind the 30 s BLPOP and time out too. A
        // loaded machine may also miss 200 ms for a new connection and its PING, hence a few tries.
        try await eventually("a call on a new connection answers", timeout: .seconds(20)) {
            (try? await redis.send("PING")) == .status("PONG")
        }
    }

    @Test func authenticatesAclUserAndSelectsDatabase() async throws {
        let admin = try TestRedis.client()
        let base = try TestRedis.configuration()
        let user = "phoenix-\(UUID().uuidString.prefix(8))"
        try await admin.send("ACL", "SETUSER", user, "on", ">pa:ss word", "~*", "+@all")
        defer { Task { try? await admin.send("ACL", "DELUSER", user) } }
        let url = "redis://\(user):pa%3Ass%20word@\(base.host):\(base.port)/3"
        let redis = RedisClient(configuration: try RedisConfiguration(url: url))
        #expect(try await redis.send("ACL", "WHOAMI").string == user)
        let key = TestRedis.uniquePrefix() + ":db3"
        try await redis.send("SET", key, "in three")
        #expect(try await admin.send("GET", key) == .null)
        let reply = try await admin.pipeline([RedisCommand("SELECT", 3), RedisCommand("GET", key), RedisCommand("SELECT", 0)])
        #expect(try reply[1].get().string == "in three")
    }

    @Test func wrongPasswordFailsWithoutLeakingIt() async throws {
        let base = try TestRedis.configuration()
        let redis = RedisClient(configuration: try RedisConfiguration(url: "redis://nobody:wrong-secret@\(base.host):\(base.port)/0"))
        await #expect {
            try await redis.send("PING")
        } throws: { error in
            guard case RedisError.connectionFailed(let reason) = error else { return false }
            return reason.contains("AUTH refused") && !reason.contains("wrong-secret")
        }
    }

    @Test func unreachableServerFailsAfterTheReconnectTimeout() async throws {
        var configuration = RedisConfiguration(host: "127.0.0.1", port: 1)
        configuration.reconnectTimeout = .milliseconds(300)
        let redis = RedisClient(configuration: configuration)
        await #expect {
            try await redis.send("PING")
        } throws: { error in
            guard case RedisError.connectionFailed = error else { return false }
            return true
        }
    }

    @Test func shutdownWakesBlockedCallers() async throws {
        let redis = try TestRedis.client()
        let key = TestRedis.uniquePrefix() + ":forever"
        try await redis.send("PING")
        let blocked = Task { try await redis.sendBlocking(RedisCommand("BLPOP", key, 60), timeout: .seconds(60)) }
        try await Task.sleep(for: .milliseconds(200))
        redis.shutdown()
        await #expect(throws: RedisError.self) { try await blocked.value }
        await #expect(throws: RedisError.shutdown) { try await redis.send("PING") }
    }
}

/// What a client leaves on the server: connections and blocked commands, seen through `INFO clients` of a
/// server of the test's own.
@Suite struct RedisConnectionUseTests {
    @Test func concurrentCallersArePipelinedOnOneConnection() async throws {
        let server = try await RedisServerProcess()
        let redis = RedisClient(configuration: try RedisConfiguration(url: server.url), poolSize: 1)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<500 { group.addTask { try await redis.send("INCR", "calls") } }
            try await group.waitForAll()
        }
        #expect(try await redis.send("GET", "calls").string == "500")
        // Connections that never sent a command (cmd=NULL) are the start-up probe's, which a loaded server may
        // not have seen close yet.
        let clients = (try await redis.send("CLIENT", "LIST").string ?? "").split(separator: "\n").filter { !$0.contains("cmd=NULL") }
        #expect(clients.count == 1, "500 concurrent calls should share the pool's one connection: \(clients)")
    }

    @Test func aCancelledBlockingCallStopsBlockingOnTheServer() async throws {
        let server = try await RedisServerProcess()
        let redis = RedisClient(configuration: try RedisConfiguration(url: server.url), poolSize: 1)
        let blocked = Task { try await redis.sendBlocking(RedisCommand("BLPOP", "never", 300), timeout: .seconds(300)) }
        #expect(try await blockedClients(of: redis, becomes: 1))
        blocked.cancel()
        await #expect(throws: RedisError.cancelled) { try await blocked.value }
        // The server learns of it only when the connection closes: its BLPOP would otherwise hold a
        // connection (a thread, before) for its whole 300 s.
        #expect(try await blockedClients(of: redis, becomes: 0), "the cancelled BLPOP should no longer block on the server")
        #expect(try await redis.send("PING") == .status("PONG"))
    }

    /// A blocking call cancelled just as its connection is handed to it must not go out: a cancellation that
    /// looked for the connection before it was attached, and closed nothing, left the BLPOP blocking on the
    /// server, where it took the next signal token meant for a live waiter (the cluster wake-up flake).
    @Test func blockingCallsCancelledWhileTheyStartLeaveNothingBlocked() async throws {
        let server = try await RedisServerProcess()
        let redis = RedisClient(configuration: try RedisConfiguration(url: server.url), poolSize: 1)
        var generator = SystemRandomNumberGenerator()
        for round in 0..<1_500 {
            let blocked = Task { try await redis.sendBlocking(RedisCommand("BLPOP", "never", 300), timeout: .seconds(300)) }
            // Cancelled at once, after a yield, or a little later: across the moment the connection is attached.
            switch round % 3 {
            case 0: break
            case 1: await Task.yield()
            default: try await Task.sleep(for: .microseconds(Int.random(in: 0...1_500, using: &generator)))
            }
            blocked.cancel()
            _ = try? await blocked.value
        }
        #expect(try await blockedClients(of: redis, becomes: 0), "a cancelled BLPOP still blocks on the server")
    }

    /// Whether the server's `blocked_clients` reaches `count` within 30 s (a full parallel run on 2 cores once
    /// took longer than 10 s to show it).
    private func blockedClients(of redis: RedisClient, becomes count: Int) async throws -> Bool {
        for _ in 0..<600 {
            let info = try await redis.send("INFO", "clients").string ?? ""
            if info.contains("blocked_clients:\(count)\r") { return true }
            try await Task.sleep(for: .milliseconds(50))
        }
        return false
    }
}

/// A counter shared between tasks of a test.
actor Counter {
    private(set) var value = 0
    func increment() { value += 1 }
}

@Suite struct RedisReconnectTests {
    @Test func reconnectsWithBackoffWhileTheServerRestarts() async throws {
        let server = try await RedisServerProcess()
        let redis = RedisClient(configuration: try RedisConfiguration(url: server.url), poolSize: 1)
        try await redis.send("SET", "kept", "across restarts")
        await server.stop()
        // The call waits, retrying with backoff, until the server is back.
        let restart = Task {
            try await Task.sleep(for: .milliseconds(500))
            try await server.start()
        }
        #expect(try await redis.send("GET", "kept").string == "across restarts")
        try await restart.value
        // An idle connection the restarted server never knew is replaced without the caller noticing.
        await server.stop()
        try await server.start()
        #expect(try await redis.send("PING") == .status("PONG"))
    }

    @Test func waitsWhileARestartedServerIsStillLoadingItsDataset() async throws {
        let server = try await RedisServerProcess()
        let redis = RedisClient(configuration: try RedisConfiguration(url: server.url), poolSize: 1)
        let keys = (0..<400).map { "key:\($0)" }
        let value = String(repeating: "v", count: 500)
        _ = try await redis.pipeline(keys.map { RedisCommand("SET", $0, value) })
        try await redis.send("SAVE")
        await server.stop()
        // 15 ms per key, and clients served every kilobyte loaded: the server answers LOADING for about six
        // seconds after it accepts connections (two were not enough on a loaded machine: loading was over
        // before the probe's first call).
        try await server.start(options: ["--appendonly", "no", "--key-load-delay", "15000", "--loading-process-events-interval-bytes", "1024"])
        let probe = RedisClient(configuration: try RedisConfiguration(url: server.url), poolSize: 1)
        let info = try await probe.send("INFO", "persistence").string ?? ""
        #expect(info.contains("loading:1"), "the server should still be loading when the test calls it")
        let replies = try await redis.pipeline([RedisCommand("GET", "key:399"), RedisCommand("DBSIZE")])
        #expect(try replies[0].get().string == value)
        #expect(try replies[1].get() == .integer(400))
    }
}

/// A test's own server never turns out to be another listener on the same port.
@Suite struct RedisServerProcessTests {
    @Test func aServerWhosePortIsTakenFailsToStartInsteadOfLendingTheOtherListener() async throws {
        // A proxy in front of the shared test server holds a port; a server started there exits at once.
        let proxy = try RedisFaultProxy(upstreamPort: try TestRedis.configuration().port)
        defer { proxy.stop() }
        await #expect(throws: RedisServerProcess.ServerDidNotStart.self) {
            _ = try await RedisServerProcess(port: try proxy.configuration().port)
        }
    }
}
