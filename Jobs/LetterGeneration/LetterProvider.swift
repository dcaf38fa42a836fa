import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
public import PhoenixJobsCore

/// An AI service that writes a letter from a prompt.
protocol LetterProvider: Sendable {
    /// What `letter_generations.ai_optimization_level` records for a letter it wrote (`openai:gpt-4o-mini`).
    var label: String { get }
    /// The letter and the tokens the call spent (the provider's usage figures; `nil` when it gave none), or why
    /// there is none. The provider streams its answer: `written` gets the text so far each time more came.
    func write(_ prompt: LetterPrompt, timeout: Duration, written: @Sendable (String) async -> Void) async throws(ProviderError) -> (letter: String, tokens: Int?)
}

/// Why a provider wrote no letter. Every case is worth retrying later (the provider may recover); the
/// message never holds the prompt, the key, or more than the start of the provider's answer.
public struct ProviderError: Error, CustomStringConvertible, Equatable {
    /// The provider's label.
    public var provider: String
    /// What went wrong.
    public var reason: String
    /// When the provider refused the call for now (429, or 503 with Retry-After): how long it asked to wait.
    public var retryLater: RetryLater?

    public var description: String { "\(provider): \(reason)" }
}

/// Sending a JSON request to a provider and reading its JSON answer, within a time limit.
struct ProviderCall: Sendable {
    let http: HTTPClient
    let provider: String

    /// Largest answer read, in bytes.
    static let maxResponseBytes = 1 << 20

    /// Sends `body` and reads the answer as it comes: each server-sent event's `data:` decoded as a `Chunk` and
    /// handed to `receive`, until `[DONE]` or the end. An answer that is not an event stream (a provider, or a
    /// proxy, that does not stream) is decoded whole as one `Chunk`. The whole answer must come within `timeout`.
    func stream<Request: Encodable, Chunk: Decodable>(
        _ url: String, headers: [(String, String)], body: Request, as: Chunk.Type, timeout: Duration,
        receive: (Chunk) async throws(ProviderError) -> Void
    ) async throws(ProviderError) {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "Accept", value: "text/event-stream, application/json")
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        do {
            request.body = .bytes(ByteBuffer(bytes: try JSONEncoder().encode(body)))
        } catch {
            throw ProviderError(provider: provider, reason: "could not encode the request: \(error)")
        }
        let response: HTTPClientResponse
        do {
            response = try await http.execute(request, deadline: NIODeadline.now() + .milliseconds(timeout.milliseconds))
        } catch {
            throw failure(error, timeout: timeout)
        }
        guard (200..<300).contains(response.status.code) else {
            let text = (try? await response.body.collect(upTo: Self.maxResponseBytes)).map { String(buffer: $0) } ?? ""
            throw ProviderError(
                provider: provider, reason: "HTTP \(response.status.code) \(response.status.reasonPhrase): \(Self.excerpt(text))",
                retryLater: RetryLater(status: Int(response.status.code), retryAfter: response.headers.first(name: "Retry-After"), from: provider)
            )
        }
        guard response.headers.first(name: "Content-Type")?.lowercased().hasPrefix("text/event-stream") == true else {
            let answer: ByteBuffer
            do {
                answer = try await response.body.collect(upTo: Self.maxResponseBytes)
            } catch {
                throw failure(error, timeout: timeout)
            }
            try await receive(try decode(Chunk.self, String(buffer: answer)))
            return
        }
        // The body is read in a task of its own, raced against the deadline: a provider that stops sending
        // mid-answer fails the call at MAX_RESPONSE_TIME as one that never answered does.
        let deadline = ContinuousClock.now + timeout
        let (events, sink) = AsyncStream.makeStream(of: String.self)
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await Self.readEvents(response.body, into: sink, provider: provider) }
                group.addTask {
                    try await Task.sleep(until: deadline)
                    sink.finish()
                    throw HTTPClientError.deadlineExceeded
                }
                for await data in events {
                    try await receive(try decode(Chunk.self, data))
                }
                // The answer ended, or the deadline came: the first of the two to finish says which.
                try await group.next()
                group.cancelAll()
            }
        } catch let error as ProviderError {
            throw error
        } catch {
            throw failure(error, timeout: timeout)
        }
    }

    /// Reads a `text/event-stream` body, yielding each event's `data:` to `sink` until `[DONE]` or the end.
    private static func readEvents(_ body: HTTPClientResponse.Body, into sink: AsyncStream<String>.Continuation, provider: String) async throws {
        defer { sink.finish() }
        var pending: [UInt8] = []
        var received = 0
        for try await part in body {
            received += part.readableBytes
            guard received <= maxResponseBytes else { throw ProviderError(provider: provider, reason: "the answer is larger than \(maxResponseBytes) bytes") }
            pending += part.readableBytesView
            while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: pending[..<newline], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
                pending.removeSubrange(...newline)
                guard line.hasPrefix("data:") else { continue }
                let data = line.dropFirst(5).trimmingCharacters(in: .whitespaces)
                if data == "[DONE]" { return }
                sink.yield(data)
            }
        }
    }

    private func decode<Chunk: Decodable>(_ type: Chunk.Type, _ text: String) throws(ProviderError) -> Chunk {
        do {
            return try JSONDecoder().decode(Chunk.self, from: Data(text.utf8))
        } catch {
            throw ProviderError(provider: provider, reason: "unexpected answer: \(Self.excerpt(text))")
        }
    }

    /// What a failed call or read says: a timeout names `MAX_RESPONSE_TIME`.
    private func failure(_ error: any Error, timeout: Duration) -> ProviderError {
        if let error = error as? HTTPClientError, [.deadlineExceeded, .readTimeout, .connectTimeout].contains(error) {
            return ProviderError(provider: provider, reason: "no answer within \(Self.seconds(timeout)) s (MAX_RESPONSE_TIME)")
        }
        return ProviderError(provider: provider, reason: "request failed: \(error)")
    }

    /// A written letter, checked: not empty, not a stub.
    func letter(_ text: String?) throws(ProviderError) -> String {
        let letter = (text ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        guard letter.count >= 200 else {
            throw ProviderError(provider: provider, reason: "the answer holds no letter (\(letter.count) characters)")
        }
        return letter
    }

    private static func excerpt(_ text: String) -> String {
        let line = text.replacingOccurrences(of: "\n", with: " ")
        return line.count > 200 ? line.prefix(200) + "…" : line
    }

    private static func seconds(_ duration: Duration) -> String {
        let value = Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
        return value.rounded() == value ? String(Int(value)) : String(value)
    }
}

/// An OpenAI-compatible `POST <base>/chat/completions`.
struct OpenAIProvider: LetterProvider {
    let settings: LetterProviderSettings.OpenAI
    let http: HTTPClient

    var label: String { "openai:\(settings.model)" }

    private struct Request: Encodable {
        struct Message: Encodable {
            let role: String
            let content: String
        }
        struct StreamOptions: Encodable {
            let include_usage: Bool
        }
        let model: String
        let messages: [Message]
        let temperature: Double
        let stream: Bool
        let stream_options: StreamOptions
    }

    /// One streamed chunk (`choices[].delta`, the usage figures in the last), or a whole answer
    /// (`choices[].message`) from a server that does not stream.
    private struct Chunk: Decodable {
        struct Choice: Decodable {
            struct Message: Decodable { let content: String? }
            let delta: Message?
            let message: Message?
        }
        struct Usage: Decodable {
            let total_tokens: Int?
        }
        let choices: [Choice]?
        let usage: Usage?
    }

    func write(_ prompt: LetterPrompt, timeout: Duration, written: @Sendable (String) async -> Void) async throws(ProviderError) -> (letter: String, tokens: Int?) {
        let call = ProviderCall(http: http, provider: label)
        let body = Request(
            model: settings.model, messages: [.init(role: "system", content: prompt.system), .init(role: "user", content: prompt.user)],
            temperature: 0.7, stream: true, stream_options: .init(include_usage: true)
        )
        var text = ""
        var tokens: Int?
        try await call.stream("\(settings.baseURL)/chat/completions", headers: [("Authorization", "Bearer \(settings.apiKey)")], body: body, as: Chunk.self, timeout: timeout) { chunk in
            tokens = chunk.usage?.total_tokens ?? tokens
            guard let choice = chunk.choices?.first, let more = choice.delta?.content ?? choice.message?.content, !more.isEmpty else { return }
            text += more
            await written(text)
        }
        return (try call.letter(text), tokens)
    }
}

/// Gemini's `POST <base>/models/<model>:streamGenerateContent?alt=sse`.
struct GeminiProvider: LetterProvider {
    let settings: LetterProviderSettings.Gemini
    let http: HTTPClient

    var label: String { "gemini:\(settings.model)" }

    private struct Request: Encodable {
        struct Content: Encodable {
            struct Part: Encodable { let text: String }
            let parts: [Part]
        }
        let systemInstruction: Content
        let contents: [Content]
    }

    /// One streamed part of the answer (the usage figures come with the last), or a whole answer.
    private struct Chunk: Decodable {
        struct Candidate: Decodable {
            struct Content: Decodable {
                struct Part: Decodable { let text: String? }
                let parts: [Part]?
            }
            let content: Content?
        }
        struct Usage: Decodable {
            let totalTokenCount: Int?
        }
        let candidates: [Candidate]?
        let usageMetadata: Usage?
    }

    func write(_ prompt: LetterPrompt, timeout: Duration, written: @Sendable (String) async -> Void) async throws(ProviderError) -> (letter: String, tokens: Int?) {
        let call = ProviderCall(http: http, provider: label)
        let body = Request(systemInstruction: .init(parts: [.init(text: prompt.system)]), contents: [.init(parts: [.init(text: prompt.user)])])
        var text = ""
        var tokens: Int?
        try await call.stream(
            "\(settings.baseURL)/models/\(settings.model):streamGenerateContent?alt=sse", headers: [("x-goog-api-key", settings.apiKey)],
            body: body, as: Chunk.self, timeout: timeout
        ) { chunk in
            tokens = chunk.usageMetadata?.totalTokenCount ?? tokens
            let more = chunk.candidates?.first?.content?.parts?.compactMap(\.text).joined() ?? ""
            guard !more.isEmpty else { return }
            text += more
            await written(text)
        }
        return (try call.letter(text), tokens)
    }
}
