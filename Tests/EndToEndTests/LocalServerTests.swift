import Foundation
@testable import LocalServers
import Testing
import TestSupport

/// The private servers of `phoenix dev` when the port chosen for them is taken before they bind it, as another
/// process's server or connection can do between the choice and the bind.
@Suite struct LocalServerTests {
    /// Hands out a port something already listens on, then free ones.
    final class PortsStartingWithATakenOne: @unchecked Sendable {
        let taken: (descriptor: Int32, port: Int)
        /// Ports handed out; only the calling start touches it.
        private(set) var handedOut: [Int] = []

        init() throws { taken = try #require(LoopbackPort.silentListener()) }
        deinit { close(taken.descriptor) }

        func next() -> Int {
            handedOut.append(handedOut.isEmpty ? taken.port : LoopbackPort.free())
            return handedOut.last!
        }
    }

    @Test func redisWhosePortWasTakenStartsOnAnotherAndNeverReportsTheTakenOne() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("phoenix-local-redis-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        let ports = try PortsStartingWithATakenOne()
        let redis = try await LocalRedis.start(directory: folder, executable: "/usr/bin/redis-server", choosingPortsWith: ports.next)
        #expect(ports.handedOut.count == 2)
        #expect(redis.url == "redis://127.0.0.1:\(ports.handedOut[1])/0")
        let log = try String(contentsOf: folder.appendingPathComponent("redis.log"), encoding: .utf8)
        #expect(PortRetry.lostPort(log), "redis-server's own words for a taken port changed:\n\(log)")
        await redis.stop()
    }

    @Test func postgresWhosePortWasTakenStartsOnAnother() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("phoenix-local-postgres-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        let ports = try PortsStartingWithATakenOne()
        let postgres = try await LocalPostgres.start(
            directory: folder, database: "ports", port: nil, binaries: "/usr/lib/postgresql/15/bin", choosingPortsWith: ports.next
        )
        #expect(ports.handedOut.count == 2)
        #expect(postgres.url.hasPrefix("postgres://postgres@127.0.0.1:\(ports.handedOut[1])/ports"))
        #expect(LoopbackPort.accepts(ports.handedOut[1]))
        await postgres.stop()
    }
}
