public import Foundation
import PhoenixJobsCore

/// The payload of `letter.generate`.
public struct LetterRequest: Codable, Sendable, Equatable {
    /// The user the letter is for (`auth.users.id`).
    public var userID: UUID
    /// The job offer, as pasted by the user.
    public var jobOfferText: String
    /// `fr` (the default) or `en`.
    public var language: LetterLanguage?
    /// The register of the letter; `professional` by default.
    public var tone: LetterTone?
    /// Stored in `letter_generations.generation_type`; `standard` by default.
    public var generationType: String?
    /// The candidate, when the caller has the details; otherwise the profile's name is used.
    public var candidate: Candidate?

    enum CodingKeys: String, CodingKey {
        case userID = "user_id", jobOfferText = "job_offer_text", language, tone, generationType = "generation_type", candidate
    }

    public init(userID: UUID, jobOfferText: String, language: LetterLanguage? = nil, tone: LetterTone? = nil, generationType: String? = nil, candidate: Candidate? = nil) {
        self.userID = userID
        self.jobOfferText = jobOfferText
        self.language = language
        self.tone = tone
        self.generationType = generationType
        self.candidate = candidate
    }

    /// Longest offer accepted, in characters.
    public static let maxOfferLength = 20_000

    /// Checks what decoding cannot: sizes and the generation type's form.
    /// - Throws: ``PermanentFailure`` naming the field.
    public func validate() throws {
        let offer = jobOfferText.trimmingCharacters(in: .whitespacesAndNewlines)
        guard offer.count >= 20 else { throw PermanentFailure("job_offer_text must hold the offer (at least 20 characters), got \(offer.count)") }
        guard jobOfferText.count <= Self.maxOfferLength else {
            throw PermanentFailure("job_offer_text is \(jobOfferText.count) characters; at most \(Self.maxOfferLength) are accepted")
        }
        if let generationType {
            let allowed = generationType.allSatisfy { $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "_") }
            guard allowed, (1...50).contains(generationType.count) else {
                throw PermanentFailure("generation_type must be 1 to 50 characters of a-z, 0-9 and _, got '\(generationType.prefix(60))'")
            }
        }
        try candidate?.validate()
    }
}

/// The language of a letter.
public enum LetterLanguage: String, Codable, Sendable, CaseIterable {
    case fr, en
}

/// The register of a letter.
public enum LetterTone: String, Codable, Sendable, CaseIterable {
    case professional, enthusiastic, formal, creative
}

/// What the caller knows about the candidate.
public struct Candidate: Codable, Sendable, Equatable {
    public var name: String?
    public var email: String?
    public var phone: String?
    public var experiences: [Experience]?
    public var skills: [String]?

    public init(name: String? = nil, email: String? = nil, phone: String? = nil, experiences: [Experience]? = nil, skills: [String]? = nil) {
        self.name = name
        self.email = email
        self.phone = phone
        self.experiences = experiences
        self.skills = skills
    }

    /// One past or current position.
    public struct Experience: Codable, Sendable, Equatable {
        public var title: String
        public var company: String?
        /// How long, in years.
        public var years: Double?
        /// An achievement or what the work was, in a sentence.
        public var highlight: String?

        public init(title: String, company: String? = nil, years: Double? = nil, highlight: String? = nil) {
            self.title = title
            self.company = company
            self.years = years
            self.highlight = highlight
        }
    }

    func validate() throws {
        let fields: [(String, String?)] = [("candidate.name", name), ("candidate.email", email), ("candidate.phone", phone)]
        for (field, value) in fields where (value?.count ?? 0) > 200 {
            throw PermanentFailure("\(field) is longer than 200 characters")
        }
        guard (experiences?.count ?? 0) <= 30 else { throw PermanentFailure("candidate.experiences holds more than 30 entries") }
        guard (skills?.count ?? 0) <= 100 else { throw PermanentFailure("candidate.skills holds more than 100 entries") }
        for (index, experience) in (experiences ?? []).enumerated() {
            guard !experience.title.trimmingCharacters(in: .whitespaces).isEmpty, experience.title.count <= 200 else {
                throw PermanentFailure("candidate.experiences[\(index)].title must be 1 to 200 characters")
            }
            guard (experience.highlight?.count ?? 0) <= 1000 else { throw PermanentFailure("candidate.experiences[\(index)].highlight is longer than 1000 characters") }
            if let years = experience.years, !(0...70).contains(years) { throw PermanentFailure("candidate.experiences[\(index)].years must be between 0 and 70") }
        }
        for (index, skill) in (skills ?? []).enumerated() where skill.isEmpty || skill.count > 100 {
            throw PermanentFailure("candidate.skills[\(index)] must be 1 to 100 characters")
        }
    }
}
