public import Hummingbird
public import Logging
public import ServiceLifecycle

/// Runs `services` in one service group for the duration of `body`, then shuts them down gracefully,
/// also when `body` throws (its error is the one thrown).
public func withServices(_ services: [any Service], logger: Logger, _ body: () async throws -> Void) async throws {
    let group = ServiceGroup(configuration: .init(services: services, logger: logger))
    let running = Task { try await group.run() }
    do {
        try await body()
    } catch {
        await group.triggerGracefulShutdown()
        _ = try? await running.value
        throw error
    }
    await group.triggerGracefulShutdown()
    try await running.value
}

/// Serves `router` on a free loopback port for the duration of `body`, which gets the base URL
/// (`http://127.0.0.1:<port>`); further `services` run beside it.
public func withServer<Context: RequestContext>(
    _ router: Router<Context>, services: [any Service] = [], _ body: (String) async throws -> Void
) async throws where Context.Source == ApplicationRequestContextSource {
    var logger = Logger(label: "test.server")
    logger.logLevel = .error
    let port = AsyncStream<Int>.makeStream()
    let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)), onServerRunning: { channel in
        port.continuation.yield(channel.localAddress?.port ?? 0)
        port.continuation.finish()
    }, logger: logger)
    try await withServices([app] + services, logger: logger) {
        var iterator = port.stream.makeAsyncIterator()
        guard let bound = await iterator.next() else { throw CancellationError() }
        try await body("http://127.0.0.1:\(bound)")
    }
}
