import NIOCore

extension RedisClient {
    /// Runs `count` script calls in order, each made once by `make` (on the caller's task) while Redis runs the ones
    /// before: on one server, the calls go out on a connection of their own as soon as each is made, without
    /// waiting for the replies before it, so Redis runs them back to back in that order (one connection's
    /// commands run in the order sent). Returns each call's reply, in order; an error reply is that call's
    /// failure and does not stop the calls sent after it.
    ///
    /// A call refused for now (`NOSCRIPT`, `LOADING`, `READONLY`) or left without its reply by a lost
    /// connection is sent again, with every such call after it, one at a time in order (``run(_:)``, which
    /// loads the script and follows a failover): the calls must be safe to replay, as the queue's scripts are.
    /// The script of the first call is loaded ahead of them (`SCRIPT LOAD` on the same connection), so
    /// `NOSCRIPT` comes only if the scripts are flushed while the calls are on their way.
    /// On a cluster the calls go one at a time, each made while the one before runs.
    /// Cancelling the caller closes the connection; the calls may or may not have run.
    public func runInOrder(_ count: Int, making make: (Int) -> RedisScriptCall) async throws(RedisError) -> [Result<RedisValue, RedisError>] {
        guard count > 0 else { return [] }
        guard count > 1, case .single(_, let exclusive) = route else { return await runOneByOne(count, making: make) }
        if shutDownFlag.isSet { throw .shutdown }
        let channel: any Channel
        do {
            channel = try await exclusive.connection().get()
        } catch {
            throw error as? RedisError ?? .connectionFailed("\(error)")
        }
        let timeout = configuration.commandTimeout
        var calls: [RedisScriptCall] = []
        var replies: [EventLoopFuture<[Result<RedisValue, RedisError>]>] = []
        calls.reserveCapacity(count)
        replies.reserveCapacity(count)
        let first = make(0)
        let load = channel.sendRedisRequest([RedisCommand("SCRIPT", "LOAD", first.script.source)], timeout: timeout)
        for index in 0..<count {
            let call = index == 0 ? first : make(index)
            calls.append(call)
            replies.append(channel.sendRedisRequest([call.command], timeout: timeout))
        }
        var results: [Result<RedisValue, RedisError>?] = []
        var connectionLost = false
        await withTaskCancellationHandler {
            _ = try? await load.get()
            for reply in replies {
                do {
                    results.append(try await reply.get()[0])
                } catch {
                    connectionLost = true
                    results.append(nil)
                }
            }
        } onCancel: {
            channel.close(promise: nil)
        }
        exclusive.release(channel, healthy: !connectionLost && !results.contains { $0.map(Self.isReadOnly) ?? false })
        if Task.isCancelled { throw .cancelled }
        // What did not run (or may not have) goes again, in order.
        var answered: [Result<RedisValue, RedisError>] = []
        answered.reserveCapacity(count)
        for (call, result) in zip(calls, results) {
            if let result, !Self.isRefusedForNow(result), !Self.isNoScript(result) {
                answered.append(result)
            } else {
                answered.append(await runResult(call))
            }
        }
        return answered
    }

    /// The calls one at a time, each made while the one before runs.
    private func runOneByOne(_ count: Int, making make: (Int) -> RedisScriptCall) async -> [Result<RedisValue, RedisError>] {
        var results: [Result<RedisValue, RedisError>] = []
        results.reserveCapacity(count)
        var next = make(0)
        for index in 0..<count {
            let current = next
            async let reply = runResult(current)
            if index + 1 < count { next = make(index + 1) }
            results.append(await reply)
        }
        return results
    }

    /// ``run(_:)``'s reply or error.
    private func runResult(_ call: RedisScriptCall) async -> Result<RedisValue, RedisError> {
        do { return .success(try await run(call)) } catch { return .failure(error) }
    }

    private static func isNoScript(_ reply: Result<RedisValue, RedisError>) -> Bool {
        if case .failure(.server(code: "NOSCRIPT", _)) = reply { true } else { false }
    }
}
