import Foundation
import TextAnalysis

/// What a job offer asks for, read from its text: the role, the company, the skills it names, and which of
/// them the candidate has.
public struct OfferAnalysis: Sendable, Equatable {
    /// The position offered, when the offer names it.
    public var role: String?
    /// The employer, when the offer names it.
    public var company: String?
    /// Skills the offer names, in order of appearance.
    public var requiredSkills: [String]
    /// The candidate's skills the offer asks for.
    public var matchedSkills: [String]
    /// Skills the offer asks for that the candidate did not list.
    public var missingSkills: [String]

    /// Analyses `offer` against the candidate's skills.
    public init(offer: String, candidateSkills: [String]) {
        role = Self.role(in: offer)
        company = Self.company(in: offer)
        requiredSkills = Keywords.skills(in: offer)
        let folded = Keywords.fold(offer)
        // A candidate skill matches when the offer names it, directly or through the vocabulary's spellings.
        let candidateKnown = Set(candidateSkills.flatMap { Keywords.skills(in: $0) })
        var matched: [String] = requiredSkills.filter(candidateKnown.contains)
        for skill in candidateSkills {
            let trimmed = skill.trimmingCharacters(in: .whitespaces)
            let alreadyMatched = matched.contains { Keywords.fold($0) == Keywords.fold(trimmed) }
            if !alreadyMatched, Keywords.contains(folded, phrase: Keywords.fold(trimmed)) { matched.append(trimmed) }
        }
        matchedSkills = matched
        missingSkills = requiredSkills.filter { !candidateKnown.contains($0) && !matched.contains($0) }
    }

    // MARK: - Role

    /// Labelled lines (`Poste : …`, `Job title: …`) first, then phrases such as `recrute un …` or
    /// `is looking for a …`, then a short first line.
    static func role(in offer: String) -> String? {
        let labels = ["intitule du poste", "intitule", "poste", "job title", "position", "role", "titre"]
        if let labelled = labelledValue(in: offer, labels: labels) { return labelled }
        let phrases = [
            "recrute un ", "recrute une ", "recherche un ", "recherche une ", "recrutons un ", "recrutons une ",
            "recherchons un ", "recherchons une ", "is looking for an ", "is looking for a ", "are looking for an ",
            "are looking for a ", "is hiring an ", "is hiring a ", "are hiring an ", "are hiring a ", "seeking an ", "seeking a ",
        ]
        if let phrase = valueAfter(phrases: phrases, in: offer, stoppingAt: [" pour ", " to ", " who ", " qui ", " afin ", " in ", " au sein ", " with ", " avec ", " en CDI", " en CDD"]) {
            return phrase
        }
        let firstLine = offer.split(whereSeparator: \.isNewline).first.map { String($0).trimmingCharacters(in: .whitespaces) }
        if let firstLine, (3...70).contains(firstLine.count), !firstLine.hasSuffix("."), !firstLine.contains(":") { return firstLine }
        return nil
    }

    // MARK: - Company

    /// Labelled lines (`Entreprise : …`, `Company: …`), then `X recrute` / `X is hiring`, then `rejoindre X` /
    /// `join X` / `chez X` / `at X`.
    static func company(in offer: String) -> String? {
        let labels = ["entreprise", "societe", "company", "employeur", "employer", "organisation", "organization"]
        if let labelled = labelledValue(in: offer, labels: labels) { return labelled }
        for line in offer.split(whereSeparator: { $0.isNewline || $0 == "." }) {
            let text = String(line).trimmingCharacters(in: .whitespaces)
            for verb in [" recrute", " recherche", " is hiring", " is looking for", " are hiring", " are looking for"] {
                if let range = text.range(of: verb), let name = properName(String(text[..<range.lowerBound]), fromEnd: true) { return name }
            }
        }
        let after = ["rejoindre ", "Rejoignez ", "rejoignez ", "Join ", "join ", "chez ", " at ", "À propos de ", "A propos de ", "About "]
        for marker in after {
            var searchStart = offer.startIndex
            while let range = offer.range(of: marker, range: searchStart..<offer.endIndex) {
                if let name = properName(String(offer[range.upperBound...]), fromEnd: false) { return name }
                searchStart = range.upperBound
            }
        }
        return nil
    }

    /// The value of the first line that starts with one of `labels` followed by `:`.
    private static func labelledValue(in offer: String, labels: [String]) -> String? {
        for line in offer.split(whereSeparator: \.isNewline) {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let label = Keywords.fold(line[..<colon].trimmingCharacters(in: .whitespaces.union(CharacterSet(charactersIn: "-*•#"))))
            guard labels.contains(label) else { continue }
            let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces.union(CharacterSet(charactersIn: ".")))
            if (2...80).contains(value.count) { return value }
        }
        return nil
    }

    /// The words after the first of `phrases`, cut at a stop marker or the end of the sentence.
    private static func valueAfter(phrases: [String], in offer: String, stoppingAt stops: [String]) -> String? {
        for phrase in phrases {
            guard let range = offer.range(of: phrase, options: .caseInsensitive) else { continue }
            var value = String(offer[range.upperBound...].prefix { !".,;:!?\n(".contains($0) })
            for stop in stops {
                if let cut = value.range(of: stop) { value = String(value[..<cut.lowerBound]) }
            }
            value = value.trimmingCharacters(in: .whitespaces)
            if (2...70).contains(value.count) { return value }
        }
        return nil
    }

    /// A run of capitalised words (`Acme Robotics`, `BNP Paribas`) at the start or end of `text`.
    private static func properName(_ text: String, fromEnd: Bool) -> String? {
        let words = text.split(separator: " ").map(String.init)
        let ordered = fromEnd ? Array(words.reversed()) : words
        var name: [String] = []
        let joiners: Set<String> = ["&", "de", "du", "des", "and", "of"]
        for raw in ordered {
            let word = raw.trimmingCharacters(in: CharacterSet(charactersIn: ",;:!?()\"'«»"))
            guard let first = word.first else { break }
            if first.isUppercase || first.isNumber || (!name.isEmpty && joiners.contains(word)) {
                name.append(word)
            } else {
                break
            }
            if raw.last.map({ ",;:!?".contains($0) }) == true { break }
        }
        while let last = name.last, joiners.contains(last) { name.removeLast() }
        let common: Set<String> = ["Nous", "We", "Notre", "Our", "Vous", "You", "The", "Le", "La", "Les", "L'", "Un", "Une", "A", "An"]
        if fromEnd { name.reverse() }
        guard let first = name.first, !common.contains(first), (1...5).contains(name.count) else { return nil }
        return name.joined(separator: " ")
    }
}
