import Foundation
import PhoenixRedis
import Testing
import TestSupport

/// ``RedisClient/sendBlockingUntilFirstAnswer(_:timeout:)``: blocking commands raced on connections of their
/// own, the first answer ending the others on the server.
@Suite struct FirstAnswerTests {
    @Test func theFirstAnswerEndsTheOtherWaitsBeforeItReturns() async throws {
        let server = try await RedisServerProcess()
        let redis = RedisClient(configuration: try RedisConfiguration(url: server.url), poolSize: 1)
        for round in 0..<30 {
            let race = Task { await redis.sendBlockingUntilFirstAnswer(["a", "b", "c"].map { RedisCommand("BLPOP", $0, 30) }, timeout: .seconds(30)) }
            #expect(try await blockedClients(of: redis, becomes: 3))
            try await redis.send("LPUSH", "b", "token \(round)")
            let replies = await race.value
            #expect(try replies[1].get() == .array([.bulk(Array("b".utf8)), .bulk(Array("token \(round)".utf8))]))
            #expect(try replies[0].get() == .null && replies[2].get() == .null)
            // Ended on the server, not only given up here: nothing blocks any more, and a push stays where it is.
            #expect(try await redis.send("INFO", "clients").string?.contains("blocked_clients:0\r") == true, "round \(round)")
            try await redis.send("LPUSH", "a", "later")
            #expect(try await redis.send("LPOP", "a") == .bulk(Array("later".utf8)))
        }
    }

    @Test func whatTheOthersTookBeforeTheyWereEndedIsReturnedToo() async throws {
        let server = try await RedisServerProcess()
        let redis = RedisClient(configuration: try RedisConfiguration(url: server.url), poolSize: 1)
        for _ in 0..<20 {
            let race = Task { await redis.sendBlockingUntilFirstAnswer(["a", "b"].map { RedisCommand("BLPOP", $0, 30) }, timeout: .seconds(30)) }
            #expect(try await blockedClients(of: redis, becomes: 2))
            // Both served in one transaction: each BLPOP takes its token before either reply is read.
            _ = try await redis.pipeline([RedisCommand("MULTI"), RedisCommand("LPUSH", "a", "1"), RedisCommand("LPUSH", "b", "2"), RedisCommand("EXEC")])
            let taken = try await race.value.filter { try $0.get() != .null }.count
            let left = try await redis.send("LLEN", "a").int! + redis.send("LLEN", "b").int!
            #expect(taken == 2 && left == 0)
        }
    }

    /// A server whose ACL refuses `CLIENT` (so no `CLIENT ID` and no `CLIENT UNBLOCK`): the others are ended by
    /// closing their connections.
    @Test func withoutClientCommandsTheOthersAreEndedByClosingTheirConnections() async throws {
        let server = try await RedisServerProcess()
        let admin = RedisClient(configuration: try RedisConfiguration(url: server.url), poolSize: 1)
        try await admin.send("ACL", "SETUSER", "no-client", "on", ">secret", "~*", "&*", "+@all", "-client")
        let redis = RedisClient(configuration: try RedisConfiguration(url: "redis://no-client:secret@127.0.0.1:\(server.port)/0"), poolSize: 1)
        await #expect(throws: RedisError.self) { try await redis.send("CLIENT", "ID") }
        let race = Task { await redis.sendBlockingUntilFirstAnswer(["a", "b"].map { RedisCommand("BLPOP", $0, 30) }, timeout: .seconds(30)) }
        #expect(try await blockedClients(of: admin, becomes: 2))
        try await admin.send("LPUSH", "a", "token")
        let replies = await race.value
        #expect(try replies[0].get() != .null && replies[1].get() == .null)
        #expect(try await blockedClients(of: admin, becomes: 0))
    }

    /// Whether the server's `blocked_clients` reaches `count` within 30 s.
    private func blockedClients(of redis: RedisClient, becomes count: Int) async throws -> Bool {
        for _ in 0..<600 {
            if try await redis.send("INFO", "clients").string?.contains("blocked_clients:\(count)\r") == true { return true }
            try await Task.sleep(for: .milliseconds(50))
        }
        return false
    }
}
