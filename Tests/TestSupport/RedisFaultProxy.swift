import Foundation
public import PhoenixRedis

#if canImport(Glibc)
import Glibc
#endif

/// A TCP proxy on loopback in front of a Redis server that injects faults into chosen commands, so that the
/// client's resend paths and the scripts' replay rules run for real.
///
/// Each client connection gets its own upstream connection and two threads (one per direction). The proxy
/// reads whole RESP commands from the client; a command that matches an armed fault gets it:
/// - ``Fault/dropReply``: the command reaches Redis and runs, then the client's connection is closed before
///   the reply arrives (the reply is thrown away): the client sees its call lost and sends it again.
/// - ``Fault/cutBeforeForwarding``: the connection is closed and the command never reaches Redis.
/// - ``Fault/stall(_:)``: the command runs, and the replies on that connection are held back for a while
///   (past the client's timeout, typically).
public final class RedisFaultProxy: @unchecked Sendable {
    /// What happens to a matching command.
    public enum Fault: Sendable {
        case dropReply
        case cutBeforeForwarding
        case stall(Duration)
    }

    private struct Rule {
        var fault: Fault
        var remaining: Int
        var matches: @Sendable ([String]) -> Bool
    }

    /// The port the proxy listens on (127.0.0.1).
    public let port: Int
    private let upstreamPort: Int
    private let listener: Int32
    // Guarded by `lock`: the armed rules, the faults injected so far, the open sockets, and whether it stopped.
    private let lock = NSLock()
    private var rules: [Rule] = []
    private var injectedCount = 0
    private var sockets: Set<Int32> = []
    private var stopped = false

    /// A proxy to the Redis server on `upstreamPort` (127.0.0.1), listening on a free loopback port.
    public init(upstreamPort: Int) throws {
        self.upstreamPort = upstreamPort
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var yes: Int32 = 1
        setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var address = Self.loopback(port: 0)
        let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard bound == 0, listen(listener, 64) == 0 else {
            close(listener)
            throw ProxyError("cannot listen on loopback: errno \(errno)")
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &length) } }
        self.listener = listener
        port = Int(UInt16(bigEndian: address.sin_port))
        let thread = Thread { [self] in acceptLoop() }
        thread.name = "redis-fault-proxy"
        thread.start()
    }

    deinit { stop() }

    /// A configuration of the client that goes through the proxy, with short timeouts.
    public func configuration(commandTimeout: Duration = .seconds(2), reconnectTimeout: Duration = .seconds(5)) throws -> RedisConfiguration {
        var configuration = try RedisConfiguration(url: "redis://127.0.0.1:\(port)/0")
        configuration.commandTimeout = commandTimeout
        configuration.reconnectTimeout = reconnectTimeout
        return configuration
    }

    /// Arms `fault` for the next `count` commands that `matches` accepts (it sees the command's arguments as
    /// text, the name first).
    public func inject(_ fault: Fault, count: Int = 1, when matches: @escaping @Sendable ([String]) -> Bool) {
        lock.withLock { rules.append(Rule(fault: fault, remaining: count, matches: matches)) }
    }

    /// Arms `fault` for the next `count` runs of `script` (`EVALSHA` with its SHA-1).
    public func inject(_ fault: Fault, count: Int = 1, onScript script: RedisScript) {
        let sha = script.sha1
        inject(fault, count: count) { $0.count > 1 && $0[0].uppercased() == "EVALSHA" && $0[1] == sha }
    }

    /// How many faults have been injected so far.
    public var injected: Int { lock.withLock { injectedCount } }

    /// Closes the listener and every connection; once (a second close of a descriptor number could close
    /// whatever the process opened under that number since).
    public func stop() {
        let open = lock.withLock { () -> Set<Int32>? in
            guard !stopped else { return nil }
            stopped = true
            return sockets
        }
        guard let open else { return }
        Glibc.shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
        for socket in open { Glibc.shutdown(socket, Int32(SHUT_RDWR)) }
    }

    // MARK: - Connections

    private func acceptLoop() {
        while true {
            let client = accept(listener, nil, nil)
            // A failed accept means the listener was shut down: the loop ends and never touches it again.
            guard client >= 0 else { return }
            let upstream = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = Self.loopback(port: upstreamPort)
            let connected = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(upstream, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
            guard connected == 0, track([client, upstream]) else {
                close(client)
                close(upstream)
                continue
            }
            let pair = Pair(client: client, upstream: upstream)
            Thread { [self] in forwardCommands(pair) }.start()
            Thread { [self] in forwardReplies(pair) }.start()
        }
    }

    /// The two sockets of one proxied connection, what the faults told the reply side, and how many of its
    /// two threads still run. Its descriptors are closed only when both threads ended: a thread blocked on a
    /// closed descriptor number would read whatever socket the process opens under that number next.
    private final class Pair: @unchecked Sendable {
        let client: Int32
        let upstream: Int32
        // Guarded by `lock`: replies are dropped from now on / held until then; threads still running.
        private let lock = NSLock()
        private var dropping = false
        private var holdUntil: ContinuousClock.Instant?
        private var running = 2

        init(client: Int32, upstream: Int32) {
            self.client = client
            self.upstream = upstream
        }

        func dropReplies() { lock.withLock { dropping = true } }
        func hold(until instant: ContinuousClock.Instant) { lock.withLock { holdUntil = instant } }
        var replyPolicy: (dropping: Bool, holdUntil: ContinuousClock.Instant?) { lock.withLock { (dropping, holdUntil) } }

        /// One thread ended; returns whether it was the last (whose job is to close the descriptors).
        func threadEnded() -> Bool { lock.withLock { running -= 1; return running == 0 } }
    }

    private func forwardCommands(_ pair: Pair) {
        var buffer: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        var keepUpstream = false
        defer { end(pair, wakingUpstream: !keepUpstream) }
        while true {
            let count = read(pair.client, &chunk, chunk.count)
            guard count > 0 else { return }
            buffer += chunk[0..<count]
            while let (arguments, length) = Self.command(in: buffer) {
                let bytes = Array(buffer[0..<length])
                buffer.removeFirst(length)
                switch fault(for: arguments) {
                case nil:
                    guard writeAll(pair.upstream, bytes) else { return }
                case .cutBeforeForwarding?:
                    return
                case .dropReply?:
                    pair.dropReplies()
                    _ = writeAll(pair.upstream, bytes)
                    // The client's side closes now; the upstream stays open until Redis answered (it ran the
                    // command), and the reply side then ends the pair.
                    keepUpstream = true
                    return
                case .stall(let duration)?:
                    pair.hold(until: .now + duration)
                    guard writeAll(pair.upstream, bytes) else { return }
                }
            }
        }
    }

    private func forwardReplies(_ pair: Pair) {
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        defer { end(pair, wakingUpstream: true) }
        while true {
            let count = read(pair.upstream, &chunk, chunk.count)
            guard count > 0 else { return }
            let policy = pair.replyPolicy
            if policy.dropping { return }
            if let until = policy.holdUntil, until > .now {
                let wait = until - .now
                Thread.sleep(forTimeInterval: Double(wait.components.seconds) + Double(wait.components.attoseconds) / 1e18)
            }
            guard writeAll(pair.client, Array(chunk[0..<count])) else { return }
        }
    }

    /// A thread of `pair` ended: shuts its sockets down (which wakes the other thread), and the last thread
    /// closes them.
    private func end(_ pair: Pair, wakingUpstream: Bool) {
        Glibc.shutdown(pair.client, Int32(SHUT_RDWR))
        if wakingUpstream { Glibc.shutdown(pair.upstream, Int32(SHUT_RDWR)) }
        guard pair.threadEnded() else { return }
        lock.withLock {
            sockets.remove(pair.client)
            sockets.remove(pair.upstream)
        }
        close(pair.client)
        close(pair.upstream)
    }

    private func fault(for arguments: [String]) -> Fault? {
        lock.withLock {
            guard let index = rules.firstIndex(where: { $0.remaining > 0 && $0.matches(arguments) }) else { return nil }
            rules[index].remaining -= 1
            injectedCount += 1
            return rules[index].fault
        }
    }

    private func track(_ new: [Int32]) -> Bool {
        lock.withLock {
            guard !stopped else { return false }
            sockets.formUnion(new)
            return true
        }
    }

    private func writeAll(_ socket: Int32, _ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { send(socket, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard written > 0 else { return false }
            offset += written
        }
        return true
    }

    // MARK: - RESP

    /// The first whole command in `buffer` (a RESP array of bulk strings, as hiredis sends every command):
    /// its arguments as text and its length in bytes; `nil` while it is incomplete.
    static func command(in buffer: [UInt8]) -> ([String], Int)? {
        var position = 0
        func line() -> String? {
            guard let end = buffer[position...].firstIndex(of: UInt8(ascii: "\r")), end + 1 < buffer.count else { return nil }
            let text = String(decoding: buffer[position..<end], as: UTF8.self)
            position = end + 2
            return text
        }
        guard let header = line(), header.first == "*", let count = Int(header.dropFirst()) else { return nil }
        var arguments: [String] = []
        for _ in 0..<count {
            guard let size = line(), size.first == "$", let length = Int(size.dropFirst()), position + length + 2 <= buffer.count else { return nil }
            arguments.append(String(decoding: buffer[position..<(position + length)], as: UTF8.self))
            position += length + 2
        }
        return (arguments, position)
    }

    private static func loopback(port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return address
    }

    /// The proxy could not start.
    public struct ProxyError: Error, CustomStringConvertible {
        public let description: String
        init(_ description: String) { self.description = description }
    }
}
