import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The sockets of a client's open connections, so that shutting the client down can wake threads that sit
/// in a blocking command (`BLPOP` with a long timeout) instead of waiting for the server to answer.
final class ConnectionRegistry: Sendable {
    private struct State {
        var descriptors: Set<Int32> = []
        var isShutDown = false
    }

    private let state = Mutex(State())

    /// Whether ``shutDown()`` was called.
    var isShutDown: Bool { state.withLock { $0.isShutDown } }

    /// Records an open socket.
    func add(fd: Int32) {
        state.withLock { _ = $0.descriptors.insert(fd) }
    }

    /// Forgets a socket; called before it is closed, so a shutdown never touches a reused descriptor.
    func remove(fd: Int32) {
        state.withLock { _ = $0.descriptors.remove(fd) }
    }

    /// Marks the client shut down and shuts every open socket down, waking their blocked readers.
    func shutDown() {
        state.withLock { state in
            state.isShutDown = true
            for fd in state.descriptors { _ = Glibc.shutdown(fd, Int32(SHUT_RDWR)) }
        }
    }
}
