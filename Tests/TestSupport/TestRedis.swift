import Foundation
public import PhoenixRedis

/// The private Redis server that `make test` starts for the tests.
public enum TestRedis {
    /// What went wrong setting up the test server.
    public struct MissingServer: Error, CustomStringConvertible {
        public var description: String {
            "PHOENIX_TEST_REDIS_URL is not set: run the tests with `make test`, which starts a private redis-server"
        }
    }

    /// The configuration of the test server, from `PHOENIX_TEST_REDIS_URL`.
    public static func configuration() throws -> RedisConfiguration {
        guard let url = ProcessInfo.processInfo.environment["PHOENIX_TEST_REDIS_URL"] else { throw MissingServer() }
        return try RedisConfiguration(url: url)
    }

    /// A new client of the test server.
    public static func client(poolSize: Int = 4) throws -> RedisClient {
        RedisClient(configuration: try configuration(), poolSize: poolSize)
    }

    /// A key prefix no other test uses, so tests can share one server and run in parallel.
    public static func uniquePrefix(_ label: String = "test") -> String {
        "\(label):\(UUID().uuidString.prefix(8))"
    }
}
