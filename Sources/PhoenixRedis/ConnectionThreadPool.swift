import Foundation
import Logging

/// Threads of their own, each owning one ``RedisConnection``, that run blocking hiredis calls away from
/// Swift's cooperative thread pool.
///
/// Work waits in one FIFO queue; a new thread (and connection) is started whenever more work is waiting
/// than threads are idle, up to `maxThreads`. Threads stay for the life of the pool.
final class ConnectionThreadPool: @unchecked Sendable {
    /// One call to run on a pool thread, or to fail when the pool is shut down first.
    struct WorkItem: Sendable {
        let run: @Sendable (RedisConnection) -> Void
        let abandon: @Sendable () -> Void
    }

    private let name: String
    private let maxThreads: Int
    private let makeConnection: @Sendable () -> RedisConnection
    // Guarded by `condition`.
    private let condition = NSCondition()
    private var pending: [WorkItem] = []
    private var pendingHead = 0
    private var idleThreads = 0
    private var threadCount = 0
    private var isClosed = false

    init(name: String, maxThreads: Int, makeConnection: @escaping @Sendable () -> RedisConnection) {
        precondition(maxThreads > 0, "a connection pool needs at least one thread")
        self.name = name
        self.maxThreads = maxThreads
        self.makeConnection = makeConnection
    }

    /// Queues work for a pool thread; returns `false` (without running it) when the pool is shut down.
    func submit(_ item: WorkItem) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        guard !isClosed else { return false }
        pending.append(item)
        if pending.count - pendingHead > idleThreads && threadCount < maxThreads {
            threadCount += 1
            let thread = Thread { [self] in runLoop() }
            thread.name = "\(name)-\(threadCount)"
            thread.start()
        } else {
            condition.signal()
        }
        return true
    }

    /// Stops taking work, fails what is still queued with ``RedisError/shutdown``, and lets threads exit
    /// after the call they are running.
    func shutDown() {
        condition.lock()
        isClosed = true
        let abandoned = pending[pendingHead...]
        pending = []
        pendingHead = 0
        condition.broadcast()
        condition.unlock()
        for item in abandoned { item.abandon() }
    }

    private func runLoop() {
        let connection = makeConnection()
        while let item = next() {
            item.run(connection)
        }
        connection.disconnect()
    }

    private func next() -> WorkItem? {
        condition.lock()
        defer { condition.unlock() }
        while pendingHead == pending.count && !isClosed {
            idleThreads += 1
            condition.wait()
            idleThreads -= 1
        }
        guard pendingHead < pending.count else {
            threadCount -= 1
            return nil
        }
        let item = pending[pendingHead]
        pendingHead += 1
        if pendingHead == pending.count {
            pending.removeAll(keepingCapacity: true)
            pendingHead = 0
        } else if pendingHead >= 64 && pendingHead * 2 >= pending.count {
            pending.removeFirst(pendingHead)
            pendingHead = 0
        }
        return item
    }
}
