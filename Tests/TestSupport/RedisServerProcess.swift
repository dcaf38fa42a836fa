import Foundation
import LocalServers

/// A redis-server of a test's own on a free loopback port, for tests that stop and restart the server.
public final class RedisServerProcess: @unchecked Sendable {
    /// The port it listens on.
    public let port: Int
    private let directory: URL
    private let tls: TLS?
    private var process: ChildProcess?

    /// How a server takes TLS connections: on its only port, with the certificates of `make test`.
    public struct TLS: Sendable {
        /// Whether clients must show a certificate the test CA signed.
        public var requiresClientCertificates: Bool
        /// The server's certificate: `server` (for 127.0.0.1 and localhost) or `elsewhere` (for another name).
        public var certificate: String

        public init(requiresClientCertificates: Bool = false, certificate: String = "server") {
            self.requiresClientCertificates = requiresClientCertificates
            self.certificate = certificate
        }
    }

    /// Starts a server (append-only on, so data survives a restart) and waits until it answers.
    /// - Parameters:
    ///   - tls: takes only TLS connections (``TestTLS``'s server certificate) when set.
    ///   - options: further `--name value` options, which override the defaults.
    ///   - port: the port to listen on; a free one when `nil`.
    public init(tls: TLS? = nil, options: [String] = [], port: Int? = nil) async throws {
        self.tls = tls
        self.port = port ?? LoopbackPort.free()
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("phoenix-redis-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try await start(options: options)
    }

    /// A server still running when the test let go of it is stopped here, waiting for it on this thread.
    deinit {
        process?.send(SIGTERM)
        process?.waitForExit()
        try? FileManager.default.removeItem(at: directory)
    }

    /// The URL of the server.
    public var url: String { "\(tls == nil ? "redis" : "rediss")://127.0.0.1:\(port)/0" }

    /// Starts the server again after ``stop()``, waiting up to 10 s for it to accept connections.
    /// - Parameter options: further `--name value` options, which override the defaults above.
    public func start(options: [String] = []) async throws {
        var listener = ["--port", "\(port)"]
        if let tls {
            listener = [
                "--port", "0", "--tls-port", "\(port)",
                "--tls-cert-file", try TestTLS.file("\(tls.certificate).pem"),
                "--tls-key-file", try TestTLS.file("\(tls.certificate)-key.pem"),
                "--tls-ca-cert-file", try TestTLS.file("ca.pem"),
                "--tls-auth-clients", tls.requiresClientCertificates ? "yes" : "no",
            ]
        }
        process = try ChildProcess("/usr/bin/redis-server", ["--bind", "127.0.0.1"] + listener + [
            "--dir", directory.path,
            "--appendonly", "yes", "--save", "", "--logfile", directory.appendingPathComponent("redis.log").path,
        ] + options)
        guard let process else { throw ServerDidNotStart(port: port) }
        for _ in 0..<200 where !LoopbackPort.accepts(port) && !process.hasExited { try await Task.sleep(for: .milliseconds(50)) }
        // Another listener may hold the port (a free port is only free when it is picked): the server then
        // exits at once, and whatever answers on the port is not this test's server.
        try await Task.sleep(for: .milliseconds(50))
        guard !process.hasExited, LoopbackPort.accepts(port) else { throw ServerDidNotStart(port: port) }
    }

    /// The server's process id while it runs.
    public var pid: Int32? { process?.pid }

    /// Stops the server (SIGTERM: it writes its append-only file and exits) and waits for it.
    public func stop() async {
        process?.send(SIGTERM)
        _ = await process?.exited()
        process = nil
    }

    /// Kills the server at once (SIGKILL: no append-only flush, no goodbye to replicas or sentinels), as a
    /// crashed host would, and waits for it.
    public func kill() async {
        process?.send(SIGKILL)
        _ = await process?.exited()
        process = nil
    }

    /// The server did not accept connections in time.
    public struct ServerDidNotStart: Error {
        public let port: Int
    }
}
