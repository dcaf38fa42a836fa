public import Foundation
import TextAnalysis

/// The built-in letter writer: composes a complete, personalised cover letter in French or English from the
/// analysis of the offer (role, company, matched skills) and what is known about the candidate. It needs no
/// network, so it is the fallback when the AI providers are missing, slow or failing.
public struct LetterComposer: Sendable {
    /// Today's date, as the letter shows it; fixed in tests.
    let today: @Sendable () -> Date

    public init(today: @escaping @Sendable () -> Date = Date.init) {
        self.today = today
    }

    /// A letter for `request`, whose candidate details are already resolved.
    public func compose(_ request: LetterRequest, candidate: Candidate, analysis: OfferAnalysis) -> String {
        let words = Wording.for(request.language ?? .fr)
        let tone = request.tone ?? .professional
        let name = candidate.name.flatMap { $0.trimmingCharacters(in: .whitespaces).isEmpty ? nil : $0 }
        var lines: [String] = []
        if let name { lines.append(name) }
        for contact in [candidate.email, candidate.phone].compactMap({ $0 }) where !contact.isEmpty { lines.append(contact) }
        if !lines.isEmpty { lines.append("") }
        lines.append(words.date(today()))
        lines.append("")
        lines.append(words.subject(analysis.role))
        lines.append("")
        lines.append(words.salutation)
        lines.append("")
        var paragraphs = [words.opening(tone, role: analysis.role, company: analysis.company)]
        if let experience = words.experience(candidate.experiences ?? []) { paragraphs.append(experience) }
        paragraphs.append(words.skills(matched: analysis.matchedSkills, candidateSkills: candidate.skills ?? [], missing: analysis.missingSkills))
        paragraphs.append(words.motivation(tone, company: analysis.company))
        paragraphs.append(words.closing(tone))
        lines.append(paragraphs.joined(separator: "\n\n"))
        lines.append("")
        lines.append(words.signOff)
        if let name {
            lines.append("")
            lines.append(name)
        }
        return lines.joined(separator: "\n")
    }
}

/// The sentences of a letter in one language.
struct Wording: Sendable {
    let language: LetterLanguage

    static func `for`(_ language: LetterLanguage) -> Wording { Wording(language: language) }

    private var french: Bool { language == .fr }
    private var and: String { french ? "et" : "and" }

    func date(_ date: Date) -> String {
        let style = Date.FormatStyle(date: .long, time: .omitted, locale: Locale(identifier: french ? "fr_FR" : "en_GB"), timeZone: TimeZone(identifier: "Europe/Paris") ?? .gmt)
        return french ? "Le \(date.formatted(style))" : date.formatted(style)
    }

    func subject(_ role: String?) -> String {
        switch (french, role) {
        case (true, let role?): "Objet : candidature au poste \(Self.de(role))"
        case (true, nil): "Objet : candidature spontanée"
        case (false, let role?): "Subject: application for the \(role) position"
        case (false, nil): "Subject: application"
        }
    }

    var salutation: String { french ? "Madame, Monsieur," : "Dear Hiring Manager," }

    func opening(_ tone: LetterTone, role: String?, company: String?) -> String {
        let position = role.map { french ? "le poste \(Self.de($0))" : "the \($0) position" } ?? (french ? "ce poste" : "this position")
        let at = company.map { french ? " chez \($0)" : " at \($0)" } ?? ""
        switch (french, tone) {
        case (true, .enthusiastic): return "C'est avec un réel enthousiasme que je vous adresse ma candidature pour \(position)\(at). Votre offre correspond exactement au type de mission dans lequel je donne le meilleur de moi-même."
        case (true, .formal): return "J'ai l'honneur de vous soumettre ma candidature pour \(position)\(at), dont j'ai pris connaissance avec la plus grande attention."
        case (true, .creative): return "Certaines offres se lisent comme une invitation : celle pour \(position)\(at) en fait partie, et je souhaite y répondre avec conviction."
        case (true, .professional): return "Je vous adresse ma candidature pour \(position)\(at). Après une lecture attentive de votre offre, j'ai la conviction que mon parcours répond à vos attentes."
        case (false, .enthusiastic): return "I am genuinely excited to apply for \(position)\(at). Your offer describes exactly the kind of work in which I do my best."
        case (false, .formal): return "Please accept this letter as my application for \(position)\(at), which I have read with the greatest attention."
        case (false, .creative): return "Some job offers read like an invitation, and yours for \(position)\(at) is one of them: I would like to answer it with conviction."
        case (false, .professional): return "I am writing to apply for \(position)\(at). Having read your offer carefully, I am confident that my background matches what you are looking for."
        }
    }

    func experience(_ experiences: [Candidate.Experience]) -> String? {
        guard let latest = experiences.first else { return nil }
        var sentences: [String] = []
        let years = latest.years.map { Self.years($0, french: french) }
        switch (french, latest.company, years) {
        case (true, let company?, let years?): sentences.append("En tant que \(latest.title) chez \(company) pendant \(years), j'ai acquis une expérience directement utile à ce poste.")
        case (true, let company?, nil): sentences.append("En tant que \(latest.title) chez \(company), j'ai acquis une expérience directement utile à ce poste.")
        case (true, nil, let years?): sentences.append("Mon expérience de \(years) comme \(latest.title) m'a apporté des acquis directement utiles à ce poste.")
        case (true, nil, nil): sentences.append("Mon expérience \(Self.de(latest.title)) m'a apporté des acquis directement utiles à ce poste.")
        case (false, let company?, let years?): sentences.append("As \(latest.title) at \(company) for \(years), I gained experience that bears directly on this role.")
        case (false, let company?, nil): sentences.append("As \(latest.title) at \(company), I gained experience that bears directly on this role.")
        case (false, nil, let years?): sentences.append("My \(years) as \(latest.title) gave me experience that bears directly on this role.")
        case (false, nil, nil): sentences.append("My experience as \(latest.title) bears directly on this role.")
        }
        if let highlight = latest.highlight?.trimmingCharacters(in: .whitespacesAndNewlines), !highlight.isEmpty {
            let sentence = highlight.hasSuffix(".") ? highlight : highlight + "."
            sentences.append((french ? "Réalisation marquante : " : "One achievement stands out: ") + sentence)
        }
        let earlier = experiences.dropFirst().prefix(2).map { experience in
            experience.company.map { french ? "\(experience.title) chez \($0)" : "\(experience.title) at \($0)" } ?? experience.title
        }
        if !earlier.isEmpty {
            let list = Keywords.sentenceList(Array(earlier), and: and)
            sentences.append(french ? "Auparavant, mes fonctions \(Self.de(list)) ont élargi ma vision du métier." : "Before that, my work as \(list) broadened my view of the field.")
        }
        return sentences.joined(separator: " ")
    }

    func skills(matched: [String], candidateSkills: [String], missing: [String]) -> String {
        let matched = matched.map { SkillVocabulary.displayName($0, french: french) }
        let missing = missing.map { SkillVocabulary.displayName($0, french: french) }
        var sentences: [String] = []
        if !matched.isEmpty {
            let list = Keywords.sentenceList(Array(matched.prefix(5)), and: and)
            sentences.append(french
                ? "Votre offre met l'accent sur \(list) : ce sont précisément des compétences que je mets en œuvre au quotidien."
                : "Your offer emphasises \(list): these are precisely the skills I use every day.")
        } else if !candidateSkills.isEmpty {
            let list = Keywords.sentenceList(Array(candidateSkills.prefix(4)), and: and)
            sentences.append(french
                ? "J'apporterai à votre équipe des compétences solides en \(list), que je saurai mettre au service de vos projets."
                : "I would bring your team solid skills in \(list), which I am keen to put to work on your projects.")
        } else {
            sentences.append(french
                ? "J'apporterai à votre équipe de la rigueur, une capacité d'adaptation rapide et le goût du travail bien fait."
                : "I would bring your team rigour, the ability to adapt quickly and a commitment to work done well.")
        }
        if !missing.isEmpty, !(matched.isEmpty && candidateSkills.isEmpty) {
            let list = Keywords.sentenceList(Array(missing.prefix(3)), and: and)
            sentences.append(french
                ? "J'ai également à cœur de monter rapidement en compétence sur les autres points de l'offre : \(list)."
                : "As for \(list), I am committed to getting up to speed quickly.")
        }
        return sentences.joined(separator: " ")
    }

    func motivation(_ tone: LetterTone, company: String?) -> String {
        switch (french, company) {
        case (true, let company?): "Rejoindre \(company) serait pour moi l'occasion de contribuer à des projets concrets au sein d'une équipe exigeante, tout en continuant à progresser."
        case (true, nil): "Rejoindre votre structure serait pour moi l'occasion de contribuer à des projets concrets au sein d'une équipe exigeante, tout en continuant à progresser."
        case (false, let company?): "Joining \(company) would let me contribute to concrete projects in a demanding team while continuing to grow."
        case (false, nil): "Joining your organisation would let me contribute to concrete projects in a demanding team while continuing to grow."
        }
    }

    func closing(_ tone: LetterTone) -> String {
        switch (french, tone) {
        case (true, .formal): "Je me tiens à votre disposition pour un entretien, à la date qui vous conviendra."
        case (true, _): "Ce serait un plaisir d'échanger avec vous lors d'un entretien pour vous présenter plus en détail ma motivation."
        case (false, .formal): "I remain at your disposal for an interview at your convenience."
        case (false, _): "I would welcome the opportunity to discuss my application with you in an interview."
        }
    }

    var signOff: String {
        french ? "Je vous prie d'agréer, Madame, Monsieur, l'expression de mes salutations distinguées." : "Yours faithfully,"
    }

    private static func years(_ value: Double, french: Bool) -> String {
        let whole = value.rounded() == value
        let number = whole ? String(Int(value)) : String(format: "%.1f", value)
        let plural = value >= 2
        return french ? "\(number) an\(plural ? "s" : "")" : "\(number) year\(value == 1 ? "" : "s")"
    }

    /// French `de` before a word: `de Globex`, `d'ingénieur`.
    static func de(_ word: String) -> String {
        guard let first = Keywords.fold(String(word.prefix(1))).first, "aeiouy".contains(first) else { return "de \(word)" }
        return "d'\(word)"
    }
}
