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

/// The certificates `make test` makes for the TLS tests (scripts/lib/services.sh, `make_test_certificates`):
/// `ca.pem`, `server.pem` and `server-key.pem` (for 127.0.0.1 and localhost), `client.pem` and
/// `client-key.pem`, `elsewhere.pem` and `elsewhere-key.pem` (a server certificate for another name only), and
/// `other-ca.pem`, a CA that signed none of them.
public enum TestTLS {
    /// The folder holding them, from `PHOENIX_TEST_TLS_DIR`.
    public static func directory() throws -> String {
        guard let path = ProcessInfo.processInfo.environment["PHOENIX_TEST_TLS_DIR"] else { throw MissingCertificates() }
        return path
    }

    /// The path of one of them, e.g. `file("ca.pem")`.
    public static func file(_ name: String) throws -> String {
        try directory() + "/" + name
    }

    /// The tests run without the certificates of `make test`.
    public struct MissingCertificates: Error, CustomStringConvertible {
        public var description: String {
            "PHOENIX_TEST_TLS_DIR is not set: run the tests with `make test`, which makes the test certificates"
        }
    }
}
