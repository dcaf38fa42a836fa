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
    public init(options: [String] = []) async throws {
        port = LoopbackPort.free()
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
    public var url: String { "redis://127.0.0.1:\(port)/0" }

    /// Starts the server again after ``stop()``.
    /// - Parameter options: further `--name value` options, which override the defaults above.
    public func start(options: [String] = []) async throws {
        process = try ChildProcess("/usr/bin/redis-server", [
            "--bind", "127.0.0.1", "--port", "\(port)", "--dir", directory.path,
            "--appendonly", "yes", "--save", "", "--logfile", directory.appendingPathComponent("redis.log").path,
        ] + options)
        for _ in 0..<100 where !LoopbackPort.accepts(port) { try await Task.sleep(for: .milliseconds(50)) }
        guard LoopbackPort.accepts(port) else { throw ServerDidNotStart(port: port) }
    }

    /// Stops the server (SIGTERM: it writes its append-only file and exits) and waits for it.
    public func stop() async {
        process?.send(SIGTERM)
        _ = await process?.exited()
        process = nil
    }

    /// The server did not accept connections in time.
    public struct ServerDidNotStart: Error {
        public let port: Int
    }
}
