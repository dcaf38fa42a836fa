import EnvironmentVariables
import Foundation

/// How letters are written, from the environment: the AI providers (`OPENAI_API_KEY`, `OPENAI_BASE_URL`,
/// `OPENAI_MODEL`, `GOOGLE_API_KEY`, `GEMINI_BASE_URL`, `GEMINI_MODEL`), the time each may take
/// (`MAX_RESPONSE_TIME`, seconds, default 30) and whether the built-in composer takes over when they fail
/// (`ENABLE_CLOUD_FALLBACK`, default true).
public struct LetterProviderSettings: Sendable, Equatable {
    /// An OpenAI-compatible chat-completions endpoint.
    public struct OpenAI: Sendable, Equatable {
        public var apiKey: String
        /// The API root, e.g. `https://api.openai.com/v1`; requests go to `<base>/chat/completions`.
        public var baseURL: String
        public var model: String
    }

    /// Google's Gemini `generateContent` endpoint.
    public struct Gemini: Sendable, Equatable {
        public var apiKey: String
        /// The API root, e.g. `https://generativelanguage.googleapis.com/v1beta`.
        public var baseURL: String
        public var model: String
    }

    public var openAI: OpenAI?
    public var gemini: Gemini?
    /// The longest a provider may take to answer.
    public var maxResponseTime: Duration
    /// Whether the built-in composer writes the letter when no provider could.
    public var cloudFallback: Bool

    public init(openAI: OpenAI? = nil, gemini: Gemini? = nil, maxResponseTime: Duration = .seconds(30), cloudFallback: Bool = true) {
        self.openAI = openAI
        self.gemini = gemini
        self.maxResponseTime = maxResponseTime
        self.cloudFallback = cloudFallback
    }

    /// Reads the settings from `environment`.
    /// - Throws: ``LetterSettingError`` naming the variable whose value is malformed.
    public init(environment: [String: String]) throws(LetterSettingError) {
        func value(_ variable: EnvironmentVariable) -> String? {
            environment[variable].map { $0.trimmingCharacters(in: .whitespaces) }.flatMap { $0.isEmpty ? nil : $0 }
        }
        func url(_ variable: EnvironmentVariable, default fallback: String) throws(LetterSettingError) -> String {
            let text = value(variable) ?? fallback
            guard let parsed = URL(string: text), ["http", "https"].contains(parsed.scheme ?? ""), parsed.host != nil else {
                throw LetterSettingError(variable: variable.name, problem: "must be an http or https URL, got '\(text)'")
            }
            return text.hasSuffix("/") ? String(text.dropLast()) : text
        }
        if let key = value(.openAIAPIKey) {
            openAI = OpenAI(apiKey: key, baseURL: try url(.openAIBaseURL, default: "https://api.openai.com/v1"), model: value(.openAIModel) ?? "gpt-4o-mini")
        }
        if let key = value(.googleAPIKey) {
            gemini = Gemini(
                apiKey: key, baseURL: try url(.geminiBaseURL, default: "https://generativelanguage.googleapis.com/v1beta"),
                model: value(.geminiModel) ?? "gemini-1.5-flash"
            )
        }
        if let text = value(.maxResponseTime) {
            guard let seconds = Double(text), seconds > 0, seconds <= 120 else {
                throw LetterSettingError(variable: "MAX_RESPONSE_TIME", problem: "must be a number of seconds above 0 and at most 120 (a letter job may wait on two providers within its 300 s timeout), got '\(text)'")
            }
            maxResponseTime = .milliseconds(Int64(seconds * 1000))
        } else {
            maxResponseTime = .seconds(30)
        }
        do {
            cloudFallback = try environment.flag(.enableCloudFallback, default: true)
        } catch {
            throw LetterSettingError(variable: error.variable, problem: "must be true or false, got '\(error.value)'")
        }
    }
}

/// A malformed letter-generation setting.
public struct LetterSettingError: Error, CustomStringConvertible {
    /// The environment variable.
    public var variable: String
    /// What is wrong with its value.
    public var problem: String

    public var description: String { "\(variable) \(problem)" }
}
