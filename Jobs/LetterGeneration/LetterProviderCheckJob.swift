public import AsyncHTTPClient
import Foundation
public import PhoenixJobsCore

/// `diagnostic.letter_provider`: asks the configured letter providers for a letter to a fixed sample offer,
/// through the same path as `letter.generate` (prompt, provider calls, a 429 handed back with ``RetryLater``,
/// the tokens charged to the queue), and stores nothing. An operator runs it to check that a worker reaches
/// its providers and how the queue's budgets hold; `phoenix bench-rate --provider` runs it against a fake
/// provider. It fails when no provider is configured, or when the built-in composer had to write the letter.
///
/// It reads the provider settings when it runs, not when the worker starts: a malformed letter setting is then
/// this check's failure, naming the variable, and does not stop a diagnostics worker that has no letters to write.
public struct LetterProviderCheckJob: JobType {
    /// No input: the offer is fixed.
    public struct Payload: Codable, Sendable {
        public init() {}
    }
    public static let name = "diagnostic.letter_provider"
    public static let queue = "diagnostics"
    /// Two providers at `MAX_RESPONSE_TIME` (at most 120 s) each.
    public static var timeout: Duration { .seconds(300) }

    static let sampleOffer = """
        Développeuse iOS Swift (H/F)
        Entreprise : Exemple Mobile
        Nous recherchons une développeuse iOS pour nos applications grand public.
        Compétences : Swift, SwiftUI, Git, tests unitaires.
        """

    let environment: [String: String]
    let http: HTTPClient

    /// A check of the providers `environment` configures (`OPENAI_API_KEY`, `GOOGLE_API_KEY`, …), called through `http`.
    public init(environment: [String: String], http: HTTPClient) {
        self.environment = environment
        self.http = http
    }

    public func run(_ payload: Payload, context: JobContext) async throws {
        let settings: LetterProviderSettings
        do {
            settings = try LetterProviderSettings(environment: environment)
        } catch {
            throw PermanentFailure("\(error.variable): \(error.problem)")
        }
        let writer = LetterWriter(settings: settings, http: http)
        guard writer.callsProviders else {
            throw PermanentFailure("no letter provider is configured (OPENAI_API_KEY, GOOGLE_API_KEY)")
        }
        let request = LetterRequest(userID: context.jobID, jobOfferText: Self.sampleOffer, language: .fr)
        let candidate = Candidate(name: "Camille Exemple", skills: ["Swift", "Git"])
        let analysis = OfferAnalysis(offer: Self.sampleOffer, candidateSkills: candidate.skills ?? [])
        let (_, writtenBy) = try await writer.write(request, candidate: candidate, analysis: analysis, logger: context.logger, spendTokens: context.spendTokensOrWarn)
        guard writtenBy != LetterWriter.composerLabel else {
            throw ProviderCheckFailed(description: "every letter provider failed (the worker's log names each failure); the built-in composer wrote the letter")
        }
    }
}

/// The providers were reached but none wrote the letter.
struct ProviderCheckFailed: Error, CustomStringConvertible {
    var description: String
}
