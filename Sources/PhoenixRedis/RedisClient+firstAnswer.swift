import NIOCore
import Synchronization

extension RedisClient {
    /// Sends blocking commands (`BLPOP` and the like), each on a connection of its own, and waits until one
    /// answers with something other than a null reply (or fails), or all have timed out. The others are then
    /// ended on the server by ``unblock(_:)`` and awaited, so that none is left blocking to take what a later
    /// push brings. Returns every command's reply, in order: besides the first answer, a command ended early
    /// answers null unless it had taken something already, which the caller may want to give back.
    ///
    /// Cancelling the caller ends every command by closing its connection (as ``sendBlocking(_:timeout:)`` does).
    public func sendBlockingUntilFirstAnswer(_ commands: [RedisCommand], timeout: Duration) async -> [Result<RedisValue, RedisError>] {
        let calls = commands.map { _ in UnblockableCall() }
        return await withTaskGroup(of: (Int, Result<RedisValue, RedisError>).self) { group in
            for (index, command) in commands.enumerated() {
                group.addTask {
                    do throws(RedisError) {
                        let replies = try await self.execute([command], blocking: true, timeout: self.configuration.commandTimeout + timeout, unblockable: calls[index])
                        return (index, replies[0])
                    } catch {
                        return (index, .failure(error))
                    }
                }
            }
            var replies = [Result<RedisValue, RedisError>](repeating: .success(.null), count: commands.count)
            var ended = false
            for await (index, reply) in group {
                replies[index] = reply
                if case .success(.null) = reply { continue }
                guard !ended else { continue }
                ended = true
                for other in calls.indices where other != index { await unblock(calls[other]) }
            }
            return replies
        }
    }

    /// Ends the blocking call `call` early: on the server with `CLIENT UNBLOCK` by its connection's id, after
    /// which it answers null as on its timeout (or with what it had taken just before); by closing its
    /// connection when the server refuses or cannot be reached. A call that has not reached its connection yet
    /// is not sent; one that has answered is left alone. Returns once the call can no longer block. (An id asked
    /// for just as its call answered may by then block another call, which then answers null early, as on a
    /// timeout: never more than a spurious wake-up.)
    func unblock(_ call: UnblockableCall) async {
        // `CLIENT UNBLOCK` answers 0 for a command still on its way to the server (sent on another connection,
        // the command may arrive after it), so it is asked again until the command has answered.
        for _ in 0..<Self.unblockTries {
            guard case .blocking(let id, let channel, let companion) = call.target() else { return }
            guard let id, let unblocked = await Self.clientUnblock(id, through: companion, timeout: configuration.commandTimeout) else {
                channel.close(promise: nil)
                return
            }
            if unblocked { return }
            do { try await Task.sleep(for: .milliseconds(1)) } catch { break }
        }
        if case .blocking(_, let channel, _) = call.target() { channel.close(promise: nil) }
    }

    /// How many times ``unblock(_:)`` asks before it closes the connection.
    static let unblockTries = 50

    /// `CLIENT UNBLOCK id` on a connection of `companion`: whether it ended a blocked command, or `nil` when the
    /// server refused it (an ACL without `CLIENT`) or could not be reached.
    private static func clientUnblock(_ id: Int, through companion: SharedConnections, timeout: Duration) async -> Bool? {
        guard let channel = try? await companion.connection().get() else { return nil }
        let replies: [Result<RedisValue, RedisError>]
        do {
            replies = try await channel.sendRedisRequest([RedisCommand("CLIENT", "UNBLOCK", id)], timeout: timeout).get()
        } catch {
            companion.release(channel, healthy: false)
            return nil
        }
        return (try? replies[0].get())?.int.map { $0 == 1 }
    }
}

/// A blocking call that ``RedisClient/unblock(_:)`` can end early: the connection it blocks on, and its id.
final class UnblockableCall: Sendable {
    /// Where the call stands, as ``RedisClient/unblock(_:)`` finds it.
    enum Target {
        /// Its command is on `channel` (client id `id`, nil when the server would not say) or on its way there;
        /// `companion` reaches the same server.
        case blocking(id: Int?, channel: any Channel, companion: SharedConnections)
        /// It has no command on a connection; none will be sent after this.
        case notBlocking
    }

    private struct State {
        var blocking: (id: Int?, channel: any Channel, companion: SharedConnections)?
        var unblockRequested = false
    }

    /// Guards the connection the call blocks on and whether it was asked to end.
    private let state = Mutex(State())

    /// Records that the call's command is about to go out on `channel`; `false` when the call was ended before,
    /// and the command must not be sent.
    func willBlock(clientID: Int?, channel: any Channel, companion: SharedConnections) -> Bool {
        state.withLock { state in
            guard !state.unblockRequested else { return false }
            state.blocking = (clientID, channel, companion)
            return true
        }
    }

    /// Records that the command has answered (or failed).
    func answered() {
        state.withLock { $0.blocking = nil }
    }

    /// Where the call stands; when not blocking, it is marked ended so that no command of it goes out later.
    func target() -> Target {
        state.withLock { state in
            state.unblockRequested = true
            guard let blocking = state.blocking else { return .notBlocking }
            return .blocking(id: blocking.id, channel: blocking.channel, companion: blocking.companion)
        }
    }
}
