import Foundation

/// Keyword extraction shared by letter generation (what an offer asks for) and CV rendering (how well a CV
/// covers a job description): text folded to lower case without accents, known skills first, then the
/// remaining significant words.
public enum Keywords {
    /// `text` in lower case, accents removed, for matching (`Développeur` → `developpeur`).
    public static func fold(_ text: String) -> String {
        text.folding(options: [.caseInsensitive, .diacriticInsensitive], locale: nil)
    }

    /// Whether `phrase` occurs in `text` as whole words (both already folded); `c++`, `node.js` and
    /// `ci/cd` count as words.
    public static func contains(_ text: String, phrase: String) -> Bool {
        guard !phrase.isEmpty else { return false }
        var searchStart = text.startIndex
        while let range = text.range(of: phrase, range: searchStart..<text.endIndex) {
            let before = range.lowerBound == text.startIndex ? nil : text[text.index(before: range.lowerBound)]
            let after = range.upperBound == text.endIndex ? nil : text[range.upperBound]
            if !isWordCharacter(before) && !isWordCharacter(after) { return true }
            searchStart = text.index(after: range.lowerBound)
        }
        return false
    }

    /// The known skills named in `text`, in the vocabulary's spelling, in order of first appearance.
    public static func skills(in text: String) -> [String] {
        let folded = fold(text)
        return SkillVocabulary.skills
            .compactMap { skill -> (String, String.Index)? in
                for spelling in skill.spellings {
                    if contains(folded, phrase: spelling), let position = folded.range(of: spelling)?.lowerBound {
                        return (skill.name, position)
                    }
                }
                return nil
            }
            .sorted { $0.1 < $1.1 }
            .map(\.0)
    }

    /// The significant words of `text` (folded, at least three letters, not a French or English stop
    /// word, not a number), each once, in order of first appearance.
    public static func significantWords(in text: String) -> [String] {
        var seen = Set<String>()
        var words: [String] = []
        for word in fold(text).split(whereSeparator: { !isWordCharacter($0) }) {
            let token = word.trimmingCharacters(in: CharacterSet(charactersIn: ".+#/-"))
            guard token.count >= 3, token.contains(where: \.isLetter), !StopWords.all.contains(token), seen.insert(token).inserted else { continue }
            words.append(token)
        }
        return words
    }

    /// Joins items as a sentence list: `a, b and c` (English) or `a, b et c` (French).
    public static func sentenceList(_ items: [String], and conjunction: String) -> String {
        switch items.count {
        case 0: ""
        case 1: items[0]
        default: items.dropLast().joined(separator: ", ") + " \(conjunction) " + items[items.count - 1]
        }
    }

    private static func isWordCharacter(_ character: Character?) -> Bool {
        guard let character else { return false }
        return character.isLetter || character.isNumber || "+#".contains(character)
    }
}
