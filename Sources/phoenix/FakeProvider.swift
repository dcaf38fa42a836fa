import Foundation
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization

/// A stand-in for an OpenAI-compatible provider on loopback, for `phoenix bench-rate --provider`: it answers
/// `POST /v1/chat/completions` with a letter and its usage figures, under a requests-per-minute limit of its
/// own (a token bucket of a second's worth, as providers allow bursts), and answers 429 with Retry-After (whole
/// seconds, as OpenAI sends it) to a call over that limit. It records when each call was answered.
final class FakeProvider: Sendable {
    /// The limit the provider enforces, in calls per minute.
    let requestsPerMinute: Int
    /// Tokens each answer's usage figures report.
    static let tokensPerAnswer = 900

    private struct State {
        /// When the next call is on time under the limit (GCRA).
        var nextOnTime: ContinuousClock.Instant?
        var answered: [ContinuousClock.Instant] = []
        var refused = 0
    }
    /// Guards the limit's schedule and what was answered and refused.
    private let state = Mutex(State())

    init(requestsPerMinute: Int) {
        self.requestsPerMinute = requestsPerMinute
    }

    /// Calls answered with a letter at or after `start` and before `end`.
    func answered(from start: ContinuousClock.Instant, to end: ContinuousClock.Instant) -> Int {
        state.withLock { $0.answered.filter { $0 >= start && $0 < end }.count }
    }

    /// Calls refused with a 429 so far.
    var refused: Int { state.withLock(\.refused) }

    /// Whether a call arriving `now` is within the limit (it is then counted), else how long until one is.
    private func admit(at now: ContinuousClock.Instant) -> Duration? {
        let interval = Duration.seconds(60) / requestsPerMinute
        let burst = max(1, requestsPerMinute / 60)
        return state.withLock { state in
            let onTime = max(state.nextOnTime ?? now, now)
            let earliest = onTime - interval * (burst - 1)
            guard earliest <= now else {
                state.refused += 1
                return earliest - now
            }
            state.nextOnTime = onTime + interval
            state.answered.append(now)
            return nil
        }
    }

    /// Serves on a free loopback port while `body` runs; `body` gets the base URL to give as `OPENAI_BASE_URL`.
    func run<T: Sendable>(_ body: (String) async throws -> T) async throws -> T {
        var logger = Logger(label: "phoenix.fake-provider")
        logger.logLevel = .error
        let router = Router()
        router.post("/v1/chat/completions") { _, _ -> Response in
            if let wait = self.admit(at: .now) {
                let seconds = max(1, Int((Double(wait.components.seconds) + Double(wait.components.attoseconds) / 1e18).rounded(.up)))
                let error = #"{"error": {"message": "Rate limit reached for requests", "type": "requests", "code": "rate_limit_exceeded"}}"#
                return Response(status: .tooManyRequests, headers: [.contentType: "application/json", .retryAfter: "\(seconds)"], body: .init(byteBuffer: ByteBuffer(string: error)))
            }
            return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: Self.answer)))
        }
        let port = AsyncStream<Int>.makeStream()
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)), onServerRunning: { channel in
            port.continuation.yield(channel.localAddress?.port ?? 0)
            port.continuation.finish()
        }, logger: logger)
        let group = ServiceGroup(configuration: .init(services: [app], logger: logger))
        let running = Task { try await group.run() }
        let result: Result<T, any Error>
        var bound = port.stream.makeAsyncIterator()
        if let port = await bound.next(), port > 0 {
            do { result = .success(try await body("http://127.0.0.1:\(port)/v1")) } catch { result = .failure(error) }
        } else {
            result = .failure(InputError("the fake provider could not listen on loopback"))
        }
        await group.triggerGracefulShutdown()
        _ = try? await running.value
        return try result.get()
    }

    /// A chat completion holding a letter long enough to pass the writer's checks, with usage figures.
    private static let answer = """
        {"choices": [{"index": 0, "message": {"role": "assistant", "content": "\(String(repeating: "Lettre de test du faux fournisseur. ", count: 8))"}, "finish_reason": "stop"}],
         "usage": {"prompt_tokens": 700, "completion_tokens": \(tokensPerAnswer - 700), "total_tokens": \(tokensPerAnswer)}}
        """
}
