import NIOCore
import Synchronization

/// Where a call gets its connection and gives it back.
protocol RedisConnectionSource: Sendable {
    /// An open connection for one request.
    func connection() -> EventLoopFuture<any Channel>
    /// Takes back a connection after its request; `healthy` is false when the request failed on it.
    func release(_ channel: any Channel, healthy: Bool)
    /// Closes every connection; no new one is opened.
    func shutDown()
}

/// A fixed number of connections that every caller shares: requests are spread over them in turn and
/// pipelined on each (``RedisRequestHandler``). A connection that failed is replaced by the next request
/// that comes to its slot; while one is being opened, the requests of that slot wait for it.
final class SharedConnections: RedisConnectionSource {
    private enum Slot {
        case empty
        case opening(EventLoopFuture<any Channel>)
        case open(any Channel)
    }

    private struct State {
        var slots: [Slot]
        var isShutDown = false
    }

    private let connector: RedisConnector
    /// Guards the slots and the shut-down flag.
    private let state: Mutex<State>
    /// The slot the next request takes.
    private let next = Atomic<Int>(0)

    init(count: Int, connector: RedisConnector) {
        precondition(count > 0, "a connection pool needs at least one connection")
        self.connector = connector
        state = Mutex(State(slots: Array(repeating: .empty, count: count)))
    }

    func connection() -> EventLoopFuture<any Channel> {
        let index = next.wrappingAdd(1, ordering: .relaxed).oldValue % state.withLock { $0.slots.count }
        let action = state.withLock { state -> Result<EventLoopFuture<any Channel>, RedisError>? in
            guard !state.isShutDown else { return .failure(.shutdown) }
            switch state.slots[index] {
            case .open(let channel) where channel.isActive: return .success(channel.eventLoop.makeSucceededFuture(channel))
            case .opening(let future): return .success(future)
            case .empty, .open: return nil
            }
        }
        switch action {
        case .success(let future): return future
        case .failure(let error): return connector.group.next().makeFailedFuture(error)
        case nil: return open(index)
        }
    }

    /// Opens a connection for slot `index`, unless another request started one meanwhile.
    private func open(_ index: Int) -> EventLoopFuture<any Channel> {
        let promise = connector.group.next().makePromise(of: (any Channel).self)
        let existing = state.withLock { state -> EventLoopFuture<any Channel>? in
            switch state.slots[index] {
            case .open(let channel) where channel.isActive: return channel.eventLoop.makeSucceededFuture(channel)
            case .opening(let future): return future
            case .empty, .open:
                state.slots[index] = .opening(promise.futureResult)
                return nil
            }
        }
        if let existing { return existing }
        connector.connect().whenComplete { result in
            let shutDown = self.state.withLock { state -> Bool in
                switch result {
                case .success(let channel): state.slots[index] = state.isShutDown ? .empty : .open(channel)
                case .failure: state.slots[index] = .empty
                }
                return state.isShutDown
            }
            if shutDown, case .success(let channel) = result {
                channel.close(promise: nil)
                promise.fail(RedisError.shutdown)
                return
            }
            promise.completeWith(result)
        }
        return promise.futureResult
    }

    func release(_ channel: any Channel, healthy: Bool) {
        guard !healthy else { return }
        channel.close(promise: nil)
    }

    func shutDown() {
        let open = state.withLock { state -> [any Channel] in
            state.isShutDown = true
            let channels = state.slots.compactMap { slot -> (any Channel)? in if case .open(let channel) = slot { channel } else { nil } }
            state.slots = state.slots.map { _ in .empty }
            return channels
        }
        for channel in open { channel.close(promise: nil) }
    }
}

/// Connections for blocking commands (`BLPOP` and the like), one request at a time each so that a command
/// blocking on the server never holds up another caller. A connection is opened whenever none is idle; up
/// to `maxIdle` are kept for later calls.
final class ExclusiveConnections: RedisConnectionSource {
    private struct State {
        var idle: [any Channel] = []
        /// Connections lent out, closed by ``shutDown()`` to wake their callers.
        var lent: [ObjectIdentifier: any Channel] = [:]
        var isShutDown = false
    }

    private let connector: RedisConnector
    private let maxIdle: Int
    /// Guards the idle and lent connections and the shut-down flag.
    private let state = Mutex(State())
    /// Shared connections to the same server, which carry the `CLIENT UNBLOCK` that ends a call blocked on one
    /// of these early (``RedisClient/unblock(_:)``).
    let companion: SharedConnections

    init(maxIdle: Int, connector: RedisConnector, companion: SharedConnections) {
        self.maxIdle = maxIdle
        self.connector = connector
        self.companion = companion
    }

    func connection() -> EventLoopFuture<any Channel> {
        let taken = state.withLock { state -> Result<(any Channel)?, RedisError> in
            guard !state.isShutDown else { return .failure(.shutdown) }
            while let channel = state.idle.popLast() {
                guard channel.isActive else { continue }
                state.lent[ObjectIdentifier(channel)] = channel
                return .success(channel)
            }
            return .success(nil)
        }
        switch taken {
        case .failure(let error): return connector.group.next().makeFailedFuture(error)
        case .success(let channel?): return channel.eventLoop.makeSucceededFuture(channel)
        case .success(nil):
            return connector.connect().flatMapThrowing { channel in
                let shutDown = self.state.withLock { state in
                    if !state.isShutDown { state.lent[ObjectIdentifier(channel)] = channel }
                    return state.isShutDown
                }
                guard !shutDown else {
                    channel.close(promise: nil)
                    throw RedisError.shutdown
                }
                return channel
            }
        }
    }

    func release(_ channel: any Channel, healthy: Bool) {
        let kept = state.withLock { state -> Bool in
            state.lent[ObjectIdentifier(channel)] = nil
            guard healthy, !state.isShutDown, state.idle.count < maxIdle else { return false }
            state.idle.append(channel)
            return true
        }
        if !kept { channel.close(promise: nil) }
    }

    func shutDown() {
        let channels = state.withLock { state -> [any Channel] in
            state.isShutDown = true
            defer { state.idle = []; state.lent = [:] }
            return state.idle + Array(state.lent.values)
        }
        for channel in channels { channel.close(promise: nil) }
    }
}
