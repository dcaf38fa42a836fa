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
    /// Starts `redis-server` on a free loopback port with append-only data in `directory`.
    public static func start(directory: URL, executable: String = "/usr/bin/redis-server") async throws -> LocalServer {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let port = LoopbackPort.free()
        let log = directory.appendingPathComponent("redis.log")
        let child = try ChildProcess(executable, [
            "--bind", "127.0.0.1", "--port", "\(port)", "--dir", directory.path, "--appendonly", "yes", "--save", "",
            "--logfile", log.path, "--daemonize", "no",
        ], ownProcessGroup: true)
        for _ in 0..<100 where !LoopbackPort.accepts(port) { try await Task.sleep(for: .milliseconds(100)) }
        guard LoopbackPort.accepts(port) else {
            child.send(SIGKILL)
            throw LocalServerError("redis-server did not start on port \(port); see \(log.path)")
        }
        return LocalServer(url: "redis://127.0.0.1:\(port)/0", summary: "redis-server on 127.0.0.1:\(port), data in \(directory.path)") {
            child.send(SIGTERM)
            _ = await child.exited()
        }
    }
}

/// Private PostgreSQL clusters (Debian's PostgreSQL 15 binaries), run as the `postgres` user when root.
public enum LocalPostgres {
    /// Initialises `directory` if empty, starts PostgreSQL on `port` (a free loopback port when nil), creates
    /// `database` if missing, and returns its URL (trust authentication for `postgres`, loopback only).
    public static func start(directory: URL, database: String, port: Int? = nil, binaries: String = "/usr/lib/postgresql/15/bin") async throws -> LocalServer {
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
        let port = port ?? LoopbackPort.free()
        let log = directory.appendingPathComponent("postgres.log")
        let options = "-c listen_addresses=127.0.0.1 -c port=\(port) -c unix_socket_directories=\(directory.path) -c max_connections=200"
        let (tool, arguments) = asPostgres("pg_ctl", ["-D", directory.path, "-l", log.path, "-w", "-t", "60", "-o", options, "start"])
        let (status, output) = try await ChildProcess.run(tool, arguments)
        guard status == 0 else { throw LocalServerError("PostgreSQL did not start on port \(port): \(output); see \(log.path)") }
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
