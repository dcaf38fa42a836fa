import TextAnalysis

/// How well a CV covers a job description: the keywords of the description (known skills first, then its
/// significant words, at most 40) and which of them the CV's text contains.
public struct KeywordCoverage: Sendable, Equatable {
    /// Keywords found in the CV.
    public var matched: [String]
    /// Keywords of the description the CV lacks.
    public var missing: [String]

    /// The share of keywords covered, 0 to 100 (100 when the description has no keyword).
    public var score: Int {
        let total = matched.count + missing.count
        return total == 0 ? 100 : Int((Double(matched.count) * 100 / Double(total)).rounded())
    }

    /// Most keywords taken from a description.
    static let maxKeywords = 40

    public init(cvText: String, jobDescription: String) {
        let cv = Keywords.fold(cvText)
        var matched: [String] = []
        var missing: [String] = []
        let skills = Keywords.skills(in: jobDescription)
        let skillSpellings = Set(SkillVocabulary.skills.filter { skills.contains($0.name) }.flatMap(\.spellings))
        for skill in SkillVocabulary.skills where skills.contains(skill.name) {
            if skill.spellings.contains(where: { Keywords.contains(cv, phrase: $0) }) { matched.append(skill.name) } else { missing.append(skill.name) }
        }
        for word in Keywords.significantWords(in: jobDescription) where !skillSpellings.contains(word) {
            guard matched.count + missing.count < Self.maxKeywords else { break }
            if Keywords.contains(cv, phrase: word) { matched.append(word) } else { missing.append(word) }
        }
        self.matched = matched
        self.missing = missing
    }
}
