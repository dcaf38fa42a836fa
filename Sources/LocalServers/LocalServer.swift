public import Foundation

/// A server `phoenix dev` (or a test) started on loopback, and how to stop it.
public struct LocalServer: Sendable {
    /// What clients connect to (`redis://…`, `postgres://…`).
    public let url: String
    /// A short description for messages (`redis-server on 127.0.0.1:6390, data in .data/redis`).
    public let summary: String
    private let stopAction: @Sendable () async -> Void

    init(url: String, summary: String, stop: @escaping @Sendable () async -> Void) {
        self.url = url
        self.summary = summary
        self.stopAction = stop
    }

    /// Stops the server the way that keeps its data (Redis writes its append-only file; PostgreSQL a fast shutdown).
    public func stop() async { await stopAction() }
}

/// A private server did not start; the message says why and where its log is.
public struct LocalServerError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// Private redis-server processes.
public enum LocalRedis {
    /// Starts `redis-server` on a free loopback port with append-only data in `directory`. A port taken between
    /// its choice and the server's bind (by another process's connection or server) is replaced by another.
    public static func start(directory: URL, executable: String = "/usr/bin/redis-server") async throws -> LocalServer {
        try await start(directory: directory, executable: executable, choosingPortsWith: LoopbackPort.free)
    }

    /// ``start(directory:executable:)`` with the ports to try chosen by `choosePort` (tests hand it a taken one).
    static func start(directory: URL, executable: String, choosingPortsWith choosePort: () -> Int) async throws -> LocalServer {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let log = LogFile(directory.appendingPathComponent("redis.log"))
        for _ in 1...PortRetry.attempts {
            let port = choosePort()
            let logStart = log.size
            let child = try ChildProcess(executable, [
                "--bind", "127.0.0.1", "--port", "\(port)", "--dir", directory.path, "--appendonly", "yes", "--save", "",
                "--logfile", log.url.path, "--daemonize", "no",
            ], ownProcessGroup: true)
            // Ready only when its own log says so: something else may accept connections on a port it lost.
            let ready = "Ready to accept connections", deadline = ContinuousClock.now + .seconds(10)
            while !child.hasExited && !log.text(from: logStart).contains(ready) && ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(100))
            }
            let written = log.text(from: logStart)
            if written.contains(ready) && !child.hasExited {
                return LocalServer(url: "redis://127.0.0.1:\(port)/0", summary: "redis-server on 127.0.0.1:\(port), data in \(directory.path)") {
                    child.send(SIGTERM)
                    _ = await child.exited()
                }
            }
            child.send(SIGKILL)
            _ = await child.exited()
            if !PortRetry.lostPort(written) {
                throw LocalServerError("redis-server did not start on port \(port); see \(log.url.path)")
            }
        }
        throw LocalServerError("redis-server found its port taken \(PortRetry.attempts) times in a row; see \(log.url.path)")
    }
}

/// Private PostgreSQL clusters (Debian's PostgreSQL 15 binaries), run as the `postgres` user when root.
public enum LocalPostgres {
    /// Initialises `directory` if empty, starts PostgreSQL on `port` (a free loopback port when nil), creates
    /// `database` if missing, and returns its URL (trust authentication for `postgres`, loopback only).
    public static func start(directory: URL, database: String, port: Int? = nil, binaries: String = "/usr/lib/postgresql/15/bin") async throws -> LocalServer {
        try await start(directory: directory, database: database, port: port, binaries: binaries, choosingPortsWith: LoopbackPort.free)
    }

    /// ``start(directory:database:port:binaries:)`` with the ports to try chosen by `choosePort` when `port` is nil.
    static func start(directory: URL, database: String, port: Int?, binaries: String, choosingPortsWith choosePort: () -> Int) async throws -> LocalServer {
        let asPostgres: (String, [String]) -> (String, [String]) = { tool, arguments in
            getuid() == 0 ? ("/usr/sbin/runuser", ["-u", "postgres", "--", "\(binaries)/\(tool)"] + arguments) : ("\(binaries)/\(tool)", arguments)
        }
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        if getuid() == 0 { try handToPostgres(directory) }
        if !FileManager.default.fileExists(atPath: directory.appendingPathComponent("PG_VERSION").path) {
            let (tool, arguments) = asPostgres("initdb", ["-D", directory.path, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8"])
            let (status, output) = try await ChildProcess.run(tool, arguments)
            guard status == 0 else { throw LocalServerError("initdb failed for \(directory.path): \(output)") }
        }
        let log = LogFile(directory.appendingPathComponent("postgres.log"))
        let port = try await startServer(log: log, fixedPort: port, choosePort: choosePort) { port in
            let options = "-c listen_addresses=127.0.0.1 -c port=\(port) -c unix_socket_directories=\(directory.path) -c max_connections=200"
            let (tool, arguments) = asPostgres("pg_ctl", ["-D", directory.path, "-l", log.url.path, "-w", "-t", "60", "-o", options, "start"])
            return try await ChildProcess.run(tool, arguments)
        }
        let psql = ["-h", "127.0.0.1", "-p", "\(port)", "-U", "postgres", "-d", "postgres", "-tAc"]
        let exists = try await ChildProcess.run("\(binaries)/psql", psql + ["SELECT 1 FROM pg_database WHERE datname = '\(database)'"])
        if !exists.output.contains("1") {
            let created = try await ChildProcess.run("\(binaries)/psql", psql + ["CREATE DATABASE \"\(database)\""])
            guard created.status == 0 else { throw LocalServerError("cannot create database \(database): \(created.output)") }
        }
        let stop = asPostgres("pg_ctl", ["-D", directory.path, "-m", "fast", "-w", "stop"])
        return LocalServer(url: "postgres://postgres@127.0.0.1:\(port)/\(database)?sslmode=disable", summary: "PostgreSQL on 127.0.0.1:\(port), data in \(directory.path)") {
            _ = try? await ChildProcess.run(stop.0, stop.1)
        }
    }

    /// Runs `start` on `fixedPort`, or on a free port, trying another when the server lost its port between the
    /// choice and its bind. Returns the port it listens on.
    private static func startServer(
        log: LogFile, fixedPort: Int?, choosePort: () -> Int, _ start: (Int) async throws -> (status: Int32?, output: String)
    ) async throws -> Int {
        for _ in 1...PortRetry.attempts {
            let port = fixedPort ?? choosePort()
            let logStart = log.size
            let (status, output) = try await start(port)
            if status == 0 { return port }
            guard fixedPort == nil, PortRetry.lostPort(log.text(from: logStart)) else {
                throw LocalServerError("PostgreSQL did not start on port \(port): \(output); see \(log.url.path)")
            }
        }
        throw LocalServerError("PostgreSQL found its port taken \(PortRetry.attempts) times in a row; see \(log.url.path)")
    }

    /// Gives the data folder to `postgres` and lets it reach the folder through its parents.
    private static func handToPostgres(_ directory: URL) throws {
        guard let owner = getpwnam("postgres") else { throw LocalServerError("there is no postgres user; install postgresql-15") }
        chown(directory.path, owner.pointee.pw_uid, owner.pointee.pw_gid)
        chmod(directory.path, 0o700)
        var parent = directory.deletingLastPathComponent()
        while parent.path != "/" {
            var info = stat()
            if stat(parent.path, &info) == 0 { chmod(parent.path, info.st_mode | 0o001) }
            parent = parent.deletingLastPathComponent()
        }
    }
}

/// Choosing a free port and a server binding it are two steps: in between, another process may take it.
enum PortRetry {
    /// Ports tried before giving up.
    static let attempts = 3

    /// Whether a server's log says it could not bind its port because something else had it.
    static func lostPort(_ log: String) -> Bool {
        log.contains("Address already in use")
    }
}

/// A server's log file, read from where a start began (the file outlives a run and keeps earlier runs' lines).
struct LogFile {
    let url: URL

    init(_ url: URL) { self.url = url }

    /// Its size in bytes now (0 when missing).
    var size: UInt64 {
        ((try? FileManager.default.attributesOfItem(atPath: url.path)[.size]) as? NSNumber)?.uint64Value ?? 0
    }

    /// What was written after byte `offset`.
    func text(from offset: UInt64) -> String {
        guard let handle = try? FileHandle(forReadingFrom: url) else { return "" }
        defer { try? handle.close() }
        guard (try? handle.seek(toOffset: offset)) != nil, let data = try? handle.readToEnd() else { return "" }
        return String(decoding: data, as: UTF8.self)
    }
}
