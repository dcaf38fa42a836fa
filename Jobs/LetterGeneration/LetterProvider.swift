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
    /// there is none.
    func write(_ prompt: LetterPrompt, timeout: Duration) async throws(ProviderError) -> (letter: String, tokens: Int?)
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

    func post<Request: Encodable, Response: Decodable>(
        _ url: String, headers: [(String, String)], body: Request, as: Response.Type, timeout: Duration
    ) async throws(ProviderError) -> Response {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        let bytes: Data
        do {
            bytes = try JSONEncoder().encode(body)
        } catch {
            throw ProviderError(provider: provider, reason: "could not encode the request: \(error)")
        }
        request.body = .bytes(ByteBuffer(bytes: bytes))
        let milliseconds = timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000
        let deadline = NIODeadline.now() + .milliseconds(milliseconds)
        let status: HTTPResponseStatus
        let retryAfter: String?
        let answer: ByteBuffer
        do {
            let response = try await http.execute(request, deadline: deadline)
            status = response.status
            retryAfter = response.headers.first(name: "Retry-After")
            answer = try await response.body.collect(upTo: Self.maxResponseBytes)
        } catch let error as HTTPClientError where [.deadlineExceeded, .readTimeout, .connectTimeout].contains(error) {
            throw ProviderError(provider: provider, reason: "no answer within \(Self.seconds(timeout)) s (MAX_RESPONSE_TIME)")
        } catch {
            throw ProviderError(provider: provider, reason: "request failed: \(error)")
        }
        let text = String(buffer: answer)
        guard (200..<300).contains(status.code) else {
            throw ProviderError(
                provider: provider, reason: "HTTP \(status.code) \(status.reasonPhrase): \(Self.excerpt(text))",
                retryLater: RetryLater(status: Int(status.code), retryAfter: retryAfter, from: provider)
            )
        }
        do {
            return try JSONDecoder().decode(Response.self, from: Data(text.utf8))
        } catch {
            throw ProviderError(provider: provider, reason: "unexpected answer: \(Self.excerpt(text))")
        }
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
        let model: String
        let messages: [Message]
        let temperature: Double
    }

    private struct Response: Decodable {
        struct Choice: Decodable {
            struct Message: Decodable { let content: String? }
            let message: Message
        }
        struct Usage: Decodable {
            let total_tokens: Int?
        }
        let choices: [Choice]
        let usage: Usage?
    }

    func write(_ prompt: LetterPrompt, timeout: Duration) async throws(ProviderError) -> (letter: String, tokens: Int?) {
        let call = ProviderCall(http: http, provider: label)
        let body = Request(model: settings.model, messages: [.init(role: "system", content: prompt.system), .init(role: "user", content: prompt.user)], temperature: 0.7)
        let response = try await call.post(
            "\(settings.baseURL)/chat/completions", headers: [("Authorization", "Bearer \(settings.apiKey)")], body: body, as: Response.self, timeout: timeout
        )
        return (try call.letter(response.choices.first?.message.content), response.usage?.total_tokens)
    }
}

/// Gemini's `POST <base>/models/<model>:generateContent`.
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

    private struct Response: Decodable {
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

    func write(_ prompt: LetterPrompt, timeout: Duration) async throws(ProviderError) -> (letter: String, tokens: Int?) {
        let call = ProviderCall(http: http, provider: label)
        let body = Request(systemInstruction: .init(parts: [.init(text: prompt.system)]), contents: [.init(parts: [.init(text: prompt.user)])])
        let response = try await call.post(
            "\(settings.baseURL)/models/\(settings.model):generateContent", headers: [("x-goog-api-key", settings.apiKey)],
            body: body, as: Response.self, timeout: timeout
        )
        let text = response.candidates?.first?.content?.parts?.compactMap(\.text).joined()
        return (try call.letter(text), response.usageMetadata?.totalTokenCount)
    }
}
