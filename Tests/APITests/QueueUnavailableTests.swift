import Foundation
import LocalServers
import NIOHTTP1
import PhoenixJobsCore
import PhoenixQueue
import PhoenixRedis
import Testing
import TestSupport

/// A Redis that refuses new work answers the caller with a 503 to retry, never a 500, and stores nothing.
@Suite struct QueueUnavailableTests {
    @Test func aSubmissionToAFullRedisIsA503SayingSoAndEnqueuesNothing() async throws {
        let server = try await RedisServerProcess()
        try await LiveAPI.run(redis: try RedisConfiguration(url: server.url)) { api in
            let token = try await api.minter.service()
            try await api.queue.redis.send("CONFIG", "SET", "maxmemory", "1")
            let reply = try await api.call(.POST, "/v1/jobs", token: token, body: #"{"type": "diagnostic.noop", "payload": {}}"#)
            // Before, the refused script surfaced as a 500 internal_error.
            #expect(reply.status == 503)
            #expect(reply.errorCode == "queue_full")
            #expect(reply.headers.first(name: "Retry-After") == "30")
            try await api.queue.redis.send("CONFIG", "SET", "maxmemory", "0")
            #expect(try await api.queue.stats(queue: "diagnostics").enqueued == 0)
        }
    }

    @Test func requestsWhileRedisCannotBeReachedAreA503ToRetry() async throws {
        var unreachable = try RedisConfiguration(url: "redis://127.0.0.1:\(LoopbackPort.free())/0")
        unreachable.reconnectTimeout = .milliseconds(300)
        try await LiveAPI.run(redis: unreachable) { api in
            let reply = try await api.call(.POST, "/v1/jobs", token: try await api.minter.service(), body: #"{"type": "diagnostic.noop", "payload": {}}"#)
            #expect(reply.status == 503)
            #expect(reply.errorCode == "queue_unavailable")
            #expect(reply.headers.first(name: "Retry-After") == "5")
            // A signed-in user's request first counts against their rate limit, in Redis too; that failure was
            // a 500 internal_error before.
            let user = try await api.call(.GET, "/v1/jobs/\(UUID())", token: try await api.minter.token())
            #expect(user.status == 503)
            #expect(user.errorCode == "queue_unavailable")
        }
    }
}
