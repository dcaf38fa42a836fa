import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import Synchronization
import TestSupport

/// A local HTTP server on loopback playing OpenAI's chat completions and Gemini's generateContent, for the
/// letter provider tests (the real services cannot be reached from here).
final class FakeAIServer: Sendable {
    /// How the fake answers.
    enum Behaviour: Sendable {
        /// 200 with this letter.
        case letter(String)
        /// This status with an error body.
        case status(Int)
        /// A letter, but only after this delay.
        case slow(Duration)
        /// This status (429, 503) with a Retry-After header, when one is given.
        case throttled(Int, retryAfter: String?)
        /// 200 with a server-sent event stream: the letter in these pieces, `pause` apart, the usage figures
        /// with the last.
        case streamed([String], pause: Duration)
    }

    /// The tokens every letter's usage figures report.
    static let tokensPerLetter = 1234

    private let state = Mutex(State())
    private struct State {
        var openAI: Behaviour = .letter("")
        var gemini: Behaviour = .letter("")
        var requests: [String] = []
        var authorizations: [String] = []
    }

    func answer(openAI: Behaviour? = nil, gemini: Behaviour? = nil) {
        state.withLock { state in
            if let openAI { state.openAI = openAI }
            if let gemini { state.gemini = gemini }
        }
    }

    /// The paths called, in order.
    var requests: [String] { state.withLock(\.requests) }
    /// The credentials the callers sent (`Bearer …` or the Gemini key).
    var authorizations: [String] { state.withLock(\.authorizations) }

    /// Runs the server for the duration of `body`, which gets its base URL (`http://127.0.0.1:<port>`).
    func run(_ body: (String) async throws -> Void) async throws {
        let router = Router()
        router.post("/v1/chat/completions") { request, _ -> Response in
            let behaviour = self.record(request, credential: request.headers[.authorization] ?? "")
            return try await Self.respond(behaviour, done: "[DONE]") { letter in
                ["choices": [["index": 0, "message": ["role": "assistant", "content": letter], "finish_reason": "stop"]],
                 "usage": ["prompt_tokens": 1000, "completion_tokens": Self.tokensPerLetter - 1000, "total_tokens": Self.tokensPerLetter]]
            } piece: { text, last in
                // As OpenAI streams: deltas, then a chunk with no choices and the usage figures.
                last ? ["choices": [] as [Any], "usage": ["total_tokens": Self.tokensPerLetter]] : ["choices": [["index": 0, "delta": ["content": text]]]]
            }
        }
        router.post("/v1beta/models/{call}") { request, _ -> Response in
            let behaviour = self.record(request, credential: request.headers[HTTPField.Name("x-goog-api-key")!] ?? "", gemini: true)
            return try await Self.respond(behaviour, done: nil) { letter in
                ["candidates": [["content": ["role": "model", "parts": [["text": letter]]], "finishReason": "STOP"]],
                 "usageMetadata": ["totalTokenCount": Self.tokensPerLetter]]
            } piece: { text, last in
                last ? ["candidates": [] as [Any], "usageMetadata": ["totalTokenCount": Self.tokensPerLetter]] : ["candidates": [["content": ["role": "model", "parts": [["text": text]]]]]]
            }
        }
        try await withServer(router, body)
    }

    private func record(_ request: Request, credential: String, gemini: Bool = false) -> Behaviour {
        state.withLock { state in
            state.requests.append(request.uri.path)
            state.authorizations.append(credential)
            return gemini ? state.gemini : state.openAI
        }
    }

    /// The answer `behaviour` calls for: `body` makes a whole answer of a letter; `piece` a streamed event of a
    /// piece of it (or, `last`, the closing one with the usage figures), and `done` is the stream's end marker.
    private static func respond(
        _ behaviour: Behaviour, done: String?, _ body: (String) -> [String: Any], piece: @escaping @Sendable (String, Bool) -> [String: Any]
    ) async throws -> Response {
        var letter = ""
        switch behaviour {
        case .streamed(let pieces, let pause):
            let events = ResponseBody { writer in
                for (index, text) in (pieces + [""]).enumerated() {
                    let data = try JSONSerialization.data(withJSONObject: piece(text, index == pieces.count))
                    try await writer.write(ByteBuffer(string: "data: " + String(decoding: data, as: UTF8.self) + "\n\n"))
                    if index < pieces.count - 1 { try await Task.sleep(for: pause) }
                }
                if let done { try await writer.write(ByteBuffer(string: "data: \(done)\n\n")) }
                try await writer.finish(nil)
            }
            return Response(status: .ok, headers: [.contentType: "text/event-stream"], body: events)
        case .letter(let text):
            letter = text
        case .status(let code):
            let error = #"{"error": {"message": "the fake provider failed on purpose", "code": \#(code)}}"#
            return Response(status: .init(code: code), headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: error)))
        case .throttled(let code, let retryAfter):
            var headers: HTTPFields = [.contentType: "application/json"]
            if let retryAfter { headers[.retryAfter] = retryAfter }
            let error = #"{"error": {"message": "Rate limit reached for requests", "type": "requests", "code": "rate_limit_exceeded"}}"#
            return Response(status: .init(code: code), headers: headers, body: .init(byteBuffer: ByteBuffer(string: error)))
        case .slow(let delay):
            try await Task.sleep(for: delay)
            letter = String(repeating: "Too late. ", count: 40)
        }
        let data = try JSONSerialization.data(withJSONObject: body(letter))
        return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}
