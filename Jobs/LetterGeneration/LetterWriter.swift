public import AsyncHTTPClient
import Logging
import PhoenixJobsCore

/// Writes a letter with the first provider that succeeds: OpenAI, then Gemini (those with a key), then,
/// when none is configured or, with `ENABLE_CLOUD_FALLBACK`, when every one failed, the built-in composer.
public struct LetterWriter: Sendable {
    private let providers: [any LetterProvider]
    private let settings: LetterProviderSettings
    private let composer: LetterComposer

    /// The label `ai_optimization_level` records for letters of the built-in composer.
    public static let composerLabel = "builtin:composer"

    public init(settings: LetterProviderSettings, http: HTTPClient, composer: LetterComposer = LetterComposer()) {
        var providers: [any LetterProvider] = []
        if let openAI = settings.openAI { providers.append(OpenAIProvider(settings: openAI, http: http)) }
        if let gemini = settings.gemini { providers.append(GeminiProvider(settings: gemini, http: http)) }
        self.providers = providers
        self.settings = settings
        self.composer = composer
    }

    /// Whether a provider is configured (else the composer writes every letter).
    var callsProviders: Bool { !providers.isEmpty }

    /// The letter and the label of who wrote it. Each provider call that answered with its usage figures has
    /// its tokens passed to `spendTokens` (the job charges them to its queue's token budget). While a provider
    /// writes, `written` gets the text so far each time more came.
    /// - Throws: when every configured provider failed and the fallback is off: ``RetryLater`` when one of them
    ///   refused the call for now (429, or 503 with Retry-After; the shortest wait asked), else
    ///   ``LetterProvidersFailed``.
    func write(
        _ request: LetterRequest, candidate: Candidate, analysis: OfferAnalysis, logger: Logger, spendTokens: (Int) async -> Void,
        written: @Sendable (String) async -> Void = { _ in }
    ) async throws -> (letter: String, writtenBy: String) {
        var failures: [ProviderError] = []
        if !providers.isEmpty {
            let prompt = LetterPrompt(request: request, candidate: candidate, analysis: analysis)
            for provider in providers {
                do {
                    let answer = try await provider.write(prompt, timeout: settings.maxResponseTime, written: written)
                    if let tokens = answer.tokens { await spendTokens(tokens) }
                    return (answer.letter, provider.label)
                } catch {
                    logger.warning("Letter provider failed", metadata: ["provider": "\(provider.label)", "error": "\(error.reason)"])
                    failures.append(error)
                }
            }
            guard settings.cloudFallback else {
                if let wait = failures.compactMap(\.retryLater).min(by: { $0.after < $1.after }) {
                    throw RetryLater(after: wait.after, reason: failures.map(\.description).joined(separator: "; "))
                }
                throw LetterProvidersFailed(failures: failures)
            }
            logger.info("Every letter provider failed; the built-in composer writes the letter (ENABLE_CLOUD_FALLBACK)")
        }
        return (composer.compose(request, candidate: candidate, analysis: analysis), Self.composerLabel)
    }
}

/// Every configured provider failed (none asked to be called later) and `ENABLE_CLOUD_FALLBACK` is false; the
/// job is retried.
public struct LetterProvidersFailed: Error, CustomStringConvertible {
    /// Each provider's failure, in the order they were tried.
    public var failures: [ProviderError]

    public var description: String {
        "no letter provider succeeded (ENABLE_CLOUD_FALLBACK=false): " + failures.map(\.description).joined(separator: "; ")
    }
}

extension JobContext {
    /// Charges the tokens a provider call spent to the job's queue; a letter is worth keeping even when its
    /// tokens could not be counted (Redis unreachable for a moment), so a failure is only logged.
    func spendTokensOrWarn(_ tokens: Int) async {
        do {
            try await spendTokens(tokens)
        } catch {
            logger.warning("Could not count the tokens the provider spent", metadata: ["error": "\(error)"])
        }
    }
}
