import Foundation
import LocalServers

/// A redis-server of a test's own on a free loopback port, for tests that stop and restart the server.
public final class RedisServerProcess: @unchecked Sendable {
    /// The port it listens on.
    public let port: Int
    private let directory: URL
    private var process: ChildProcess?

    /// Starts a server (append-only on, so data survives a restart) and waits until it answers.
    /// - Parameter options: further `--name value` options, which override the defaults.
    public init(options: [String] = []) throws {
        port = LoopbackPort.free()
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("phoenix-redis-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try start(options: options)
    }

    deinit {
        stop()
        try? FileManager.default.removeItem(at: directory)
    }

    /// The URL of the server.
    public var url: String { "redis://127.0.0.1:\(port)/0" }

    /// Starts the server again after ``stop()``.
    /// - Parameter options: further `--name value` options, which override the defaults above.
    public func start(options: [String] = []) throws {
        process = try ChildProcess("/usr/bin/redis-server", [
            "--bind", "127.0.0.1", "--port", "\(port)", "--dir", directory.path,
            "--appendonly", "yes", "--save", "", "--logfile", directory.appendingPathComponent("redis.log").path,
        ] + options)
        for _ in 0..<100 where !LoopbackPort.accepts(port) { usleep(50_000) }
        guard LoopbackPort.accepts(port) else { throw ServerDidNotStart(port: port) }
    }

    /// Stops the server (SIGTERM: it writes its append-only file and exits) and waits for it.
    public func stop() {
        process?.send(SIGTERM)
        process?.waitForExit()
        process = nil
    }

    /// The server did not accept connections in time.
    public struct ServerDidNotStart: Error {
        public let port: Int
    }
}
