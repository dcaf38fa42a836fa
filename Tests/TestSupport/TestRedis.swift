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

    /// The configuration of the test server, from `PHOENIX_TEST_REDIS_URL`; a cluster's when
    /// `PHOENIX_TEST_REDIS_CLUSTER_NODES` lists its nodes (the pass of `make test` that runs the queue and
    /// worker suites against a cluster).
    public static func configuration() throws -> RedisConfiguration {
        let environment = ProcessInfo.processInfo.environment
        guard let url = environment["PHOENIX_TEST_REDIS_URL"] else { throw MissingServer() }
        var configuration = try RedisConfiguration(url: url)
        if let nodes = environment["PHOENIX_TEST_REDIS_CLUSTER_NODES"] {
            configuration.cluster = try RedisCluster(list: nodes)
        }
        return configuration
    }

    /// Whether the tests run against a cluster (`PHOENIX_TEST_REDIS_CLUSTER_NODES`).
    public static var isCluster: Bool { ProcessInfo.processInfo.environment["PHOENIX_TEST_REDIS_CLUSTER_NODES"] != nil }

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
