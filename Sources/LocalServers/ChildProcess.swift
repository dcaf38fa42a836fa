public import Foundation
import Synchronization

/// A child process started with `posix_spawn`, with every signal unblocked and at its default action
/// (threads of the Swift runtime block signals, and a service group ignores SIGTERM/SIGINT to handle them
/// itself; a plain spawn would pass both on), so that it can be stopped with a signal and waited for.
public final class ChildProcess: Sendable {
    /// The child's process id.
    public let pid: pid_t
    /// Guards the child's wait status and the one `waitpid` that reaps it: a second caller waits for the
    /// first and gets the same status (two `waitpid`s would leave one with `ECHILD` and no status).
    private let exitStatus = Mutex<Int32?>(nil)

    /// Starts `executable` with `arguments` (not counting argv[0]) and the current environment plus `environment`;
    /// standard output and error go to `outputPath` when given. With `ownProcessGroup`, a Ctrl-C in the terminal
    /// does not reach the child, so that its parent can stop it last, after what depends on it.
    public init(_ executable: String, _ arguments: [String], environment: [String: String] = [:], outputPath: String? = nil, ownProcessGroup: Bool = false) throws {
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        var merged = ProcessInfo.processInfo.environment
        merged.merge(environment) { $1 }
        let envp = merged.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        var allSignals = sigset_t()
        sigfillset(&allSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        posix_spawnattr_setsigdefault(&attributes, &allSignals)
        var flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF
        if ownProcessGroup {
            posix_spawnattr_setpgroup(&attributes, 0)
            flags |= POSIX_SPAWN_SETPGROUP
        }
        posix_spawnattr_setflags(&attributes, Int16(flags))
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        if let outputPath {
            posix_spawn_file_actions_addopen(&actions, 1, outputPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
            posix_spawn_file_actions_adddup2(&actions, 1, 2)
        }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, executable, &actions, &attributes, argv, envp)
        guard result == 0 else { throw SpawnFailed(executable: executable, code: result) }
        self.pid = pid
    }

    deinit {
        if exitStatus.withLock({ $0 == nil }) {
            kill(pid, SIGKILL)
            _ = waitForExit()
        }
    }

    /// Sends `signal` to the child.
    public func send(_ signal: Int32) {
        kill(pid, signal)
    }

    /// Whether the child has exited (it is reaped then, and its status kept for ``waitForExit()``).
    public var hasExited: Bool {
        exitStatus.withLock { exitStatus in
            if exitStatus != nil { return true }
            var status: Int32 = 0
            guard waitpid(pid, &status, WNOHANG) == pid else { return false }
            exitStatus = status
            return true
        }
    }

    /// Waits for the child to exit and returns its raw wait status (see `exitCode`).
    @discardableResult
    public func waitForExit() -> Int32 {
        exitStatus.withLock { exitStatus in
            if let exitStatus { return exitStatus }
            var status: Int32 = 0
            while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
            exitStatus = status
            return status
        }
    }

    /// Waits for the child to exit without holding a thread of Swift's pool (a thread of its own waits).
    public func exited() async -> Int32 {
        await withCheckedContinuation { continuation in
            Thread { continuation.resume(returning: self.waitForExit()) }.start()
        }
    }

    /// Runs `executable` to its end and returns its exit code (nil when killed) and output.
    public static func run(_ executable: String, _ arguments: [String], environment: [String: String] = [:]) async throws -> (status: Int32?, output: String) {
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("phoenix-run-\(UUID().uuidString).log")
        defer { try? FileManager.default.removeItem(at: log) }
        let child = try ChildProcess(executable, arguments, environment: environment, outputPath: log.path)
        let status = await child.exited()
        return (exitCode(ofStatus: status), (try? String(contentsOf: log, encoding: .utf8)) ?? "")
    }

    /// The exit code after a normal exit, `nil` when the child was killed by a signal.
    public static func exitCode(ofStatus status: Int32) -> Int32? {
        status & 0x7f == 0 ? (status >> 8) & 0xff : nil
    }

    /// `posix_spawn` refused to start the program.
    public struct SpawnFailed: Error, CustomStringConvertible {
        public let executable: String
        public let code: Int32
        public var description: String { "cannot start \(executable): \(String(cString: strerror(code)))" }
    }
}
