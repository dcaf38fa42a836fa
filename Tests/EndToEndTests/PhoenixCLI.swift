import Foundation
import LocalServers
import PhoenixQueue
import PhoenixRedis
import TestSupport

/// The `phoenix` executable built beside the tests, run against the test Redis under a key prefix of its own.
struct PhoenixCLI {
    let environment: [String: String]
    let queue: JobQueue
    private let logDirectory: URL

    init() throws {
        let prefix = TestRedis.uniquePrefix("e2e")
        let redis = try TestRedis.configuration()
        environment = [
            "REDIS_URL": "redis://\(redis.host):\(redis.port)/\(redis.database)",
            "PHOENIX_KEY_PREFIX": prefix,
            "LOG_LEVEL": "info",
        ]
        queue = JobQueue(redis: try TestRedis.client(), keys: QueueKeys(prefix: prefix))
        logDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("phoenix-e2e-\(prefix.replacingOccurrences(of: ":", with: "-"))")
        try FileManager.default.createDirectory(at: logDirectory, withIntermediateDirectories: true)
    }

    /// Where `swift build` put the executable: next to the test bundle.
    static var executable: String {
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("phoenix").path
    }

    /// Starts `phoenix` with `arguments`; its output goes to a log file named `name`.
    func start(_ arguments: [String], name: String, extraEnvironment: [String: String] = [:]) throws -> ChildProcess {
        try ChildProcess(Self.executable, arguments, environment: environment.merging(extraEnvironment) { $1 }, outputPath: log(name).path)
    }

    /// Runs `phoenix` to completion and returns its exit code and output.
    func run(_ arguments: [String], extraEnvironment: [String: String] = [:]) async throws -> (status: Int32?, output: String) {
        let name = "run-\(UUID().uuidString.prefix(8))"
        let process = try start(arguments, name: name, extraEnvironment: extraEnvironment)
        let status = ChildProcess.exitCode(ofStatus: await process.exited())
        return (status, try String(contentsOf: log(name), encoding: .utf8))
    }

    /// The output of a process started with ``start(_:name:)``.
    func output(of name: String) -> String {
        (try? String(contentsOf: log(name), encoding: .utf8)) ?? ""
    }

    private func log(_ name: String) -> URL { logDirectory.appendingPathComponent("\(name).log") }
}
