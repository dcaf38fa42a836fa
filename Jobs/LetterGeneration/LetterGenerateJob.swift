import Foundation
public import PhoenixSupabase
public import PhoenixJobsCore
import JobSupport
import PostgresNIO

/// `letter.generate`: checks the user's monthly letter quota, writes a cover letter for a job offer (AI
/// providers, or the built-in composer), and stores it in `letter_generations` with the profile's totals, a
/// `letter.generated` event and an activity row, in one transaction with the job's run row.
public struct LetterGenerateJob: JobType {
    public typealias Payload = LetterRequest
    public static let name = "letter.generate"
    public static let queue = "letters"
    /// Two providers at `MAX_RESPONSE_TIME` (at most 120 s) each, then the composer.
    public static var timeout: Duration { .seconds(300) }

    let store: PhoenixStore
    let writer: LetterWriter

    public init(store: PhoenixStore, writer: LetterWriter) {
        self.store = store
        self.writer = writer
    }

    public func run(_ payload: LetterRequest, context: JobContext) async throws {
        try payload.validate()
        let user = payload.userID
        guard let profile = try await store.client.withConnection({ try await DocumentRepository.profile(userID: user, on: $0) }) else {
            throw PermanentFailure("no profile for user \(user.uuidString.lowercased())")
        }
        try await Quota.ensureAvailable(.lettersGenerated, userID: user, store: store)
        var request = payload
        if request.language == nil { request.language = profile.language.flatMap(LetterLanguage.init(rawValue:)) ?? .fr }
        var candidate = payload.candidate ?? Candidate()
        if candidate.name == nil { candidate.name = profile.fullName }
        let analysis = OfferAnalysis(offer: payload.jobOfferText, candidateSkills: candidate.skills ?? [])
        let progress = LetterProgress(context: context)
        let (letter, writtenBy) = try await writer.write(
            request, candidate: candidate, analysis: analysis, logger: context.logger, spendTokens: context.spendTokensOrWarn, written: progress.written
        )
        let generationType = payload.generationType ?? "standard"
        try await store.runOnce(context, userID: user) { connection in
            try await Quota.consume(.lettersGenerated, userID: user, on: connection)
            let letterID = try await DocumentRepository.insertLetter(
                userID: user, jobOfferText: payload.jobOfferText, letter: letter, generationType: generationType,
                optimizationLevel: writtenBy, on: connection
            )
            let details: [String: JSONValue] = [
                "letter_id": .string(letterID.uuidString.lowercased()), "written_by": .string(writtenBy),
                "language": .string((request.language ?? .fr).rawValue), "generation_type": .string(generationType),
                "role": analysis.role.map(JSONValue.string) ?? .null, "company": analysis.company.map(JSONValue.string) ?? .null,
                "matched_skills": .array(analysis.matchedSkills.map(JSONValue.string)),
            ]
            try await GeneratedDocument.record(kind: "letter", appSource: "letters", userID: user, details: details, context: context, on: connection)
            return JSONValue.object(details).jsonString
        }
    }
}
