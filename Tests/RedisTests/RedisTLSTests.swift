import PhoenixRedis
import Testing
import TestSupport

/// `rediss://` against redis-servers that take only TLS, with the certificates `make test` makes.
@Suite struct RedisTLSTests {
    /// A client of `server` over TLS, trusting `caFile` (nil: the system's trust store).
    private func client(of server: RedisServerProcess, host: String = "127.0.0.1", tls: RedisTLS) throws -> RedisClient {
        var configuration = try RedisConfiguration(url: "rediss://\(host):\(server.port)/0")
        configuration.tls = tls
        configuration.reconnectTimeout = .seconds(2)
        return RedisClient(configuration: configuration, poolSize: 2)
    }

    @Test(arguments: ["127.0.0.1", "localhost"])
    func talksToAServerWhoseCertificateTheCAFileSigned(host: String) async throws {
        let server = try await RedisServerProcess(tls: .init())
        let redis = try client(of: server, host: host, tls: RedisTLS(caFile: try TestTLS.file("ca.pem")))
        #expect(try await redis.send("SET", "greeting", "over tls") == .status("OK"))
        let replies = try await redis.pipeline([RedisCommand("GET", "greeting"), RedisCommand("RPUSH", "list", 1)])
        #expect(try replies[0].get().string == "over tls")
        #expect(try await redis.sendBlocking(RedisCommand("BLPOP", "list", 5), timeout: .seconds(5)).array?.count == 2)
    }

    @Test func aServerCertificateNoTrustedCASignedIsRefusedWithoutRetrying() async throws {
        let server = try await RedisServerProcess(tls: .init())
        for tls in [RedisTLS(), RedisTLS(caFile: try TestTLS.file("other-ca.pem"))] {
            var configuration = try RedisConfiguration(url: server.url)
            configuration.tls = tls
            // A certificate that does not verify is not worth the reconnect loop: the first try says so.
            configuration.reconnectTimeout = .seconds(600)
            let redis = RedisClient(configuration: configuration)
            await #expect {
                try await redis.send("PING")
            } throws: { error in
                guard case RedisError.connectionFailed(let reason) = error else { return false }
                return reason.contains("TLS handshake") && reason.contains("CERTIFICATE_VERIFY_FAILED")
            }
        }
    }

    @Test func aServerCertificateForAnotherNameIsRefused() async throws {
        let server = try await RedisServerProcess(tls: .init(certificate: "elsewhere"))
        for host in ["127.0.0.1", "localhost"] {
            let redis = try client(of: server, host: host, tls: RedisTLS(caFile: try TestTLS.file("ca.pem")))
            await #expect {
                try await redis.send("PING")
            } throws: { error in
                guard case RedisError.connectionFailed(let reason) = error else { return false }
                return reason.contains("TLS handshake")
            }
        }
    }

    @Test func aServerThatChecksClientsTakesTheClientCertificate() async throws {
        let server = try await RedisServerProcess(tls: .init(requiresClientCertificates: true))
        let ca = try TestTLS.file("ca.pem")
        let anonymous = try client(of: server, tls: RedisTLS(caFile: ca))
        await #expect(throws: RedisError.self) { try await anonymous.send("PING") }
        let identified = try client(of: server, tls: RedisTLS(caFile: ca, certificateFile: try TestTLS.file("client.pem"), keyFile: try TestTLS.file("client-key.pem")))
        #expect(try await identified.send("PING") == .status("PONG"))
    }

    @Test func unusableTLSFilesAreNamedBeforeAnyConnection() throws {
        let missing = "/nonexistent/ca.pem"
        #expect(throws: RedisConfigurationError.self) { try RedisTLS(caFile: missing).check() }
        #expect { try RedisTLS(caFile: missing).check() } throws: { "\($0)".contains(missing) }
        #expect { try RedisTLS(caFile: try TestTLS.file("client-key.pem")).check() } throws: { "\($0)".contains("client-key.pem") }
        #expect { try RedisTLS(certificateFile: try TestTLS.file("client.pem")).check() } throws: { "\($0)".contains("private key") }
        try RedisTLS(caFile: try TestTLS.file("ca.pem"), certificateFile: try TestTLS.file("client.pem"), keyFile: try TestTLS.file("client-key.pem")).check()
    }

    @Test func aClientWithUnusableTLSFilesFailsEveryCallNamingTheFile() async throws {
        var configuration = try RedisConfiguration(url: "rediss://127.0.0.1:1/0")
        configuration.tls = RedisTLS(caFile: "/nonexistent/ca.pem")
        let redis = RedisClient(configuration: configuration)
        await #expect {
            try await redis.send("PING")
        } throws: { error in
            guard case RedisError.connectionFailed(let reason) = error else { return false }
            return reason.contains("/nonexistent/ca.pem")
        }
    }
}
