public import Foundation

/// A redis-server of a test's own on a free loopback port, for tests that stop and restart the server.
public final class RedisServerProcess: @unchecked Sendable {
    /// The port it listens on.
    public let port: Int
    private let directory: URL
    private var process: ChildProcess?

    /// Starts a server (append-only on, so data survives a restart) and waits until it answers.
    public init() throws {
        port = try Self.freePort()
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("phoenix-redis-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try start()
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
        for _ in 0..<100 where !Self.accepts(port: port) { usleep(50_000) }
        guard Self.accepts(port: port) else { throw ServerDidNotStart(port: port) }
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

    private static func accepts(port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
    }

    private static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
