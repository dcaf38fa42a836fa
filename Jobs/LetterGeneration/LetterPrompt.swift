import Foundation

/// The instructions and the user message sent to an AI provider for one letter.
struct LetterPrompt: Sendable {
    let system: String
    let user: String

    init(request: LetterRequest, candidate: Candidate, analysis: OfferAnalysis) {
        let french = (request.language ?? .fr) == .fr
        system = french
            ? "Tu es un expert en recrutement. Rédige une lettre de motivation complète en français, personnalisée, sans espace réservé ni crochets, prête à envoyer."
            : "You are a recruitment expert. Write a complete, personalised cover letter in English, with no placeholders or brackets, ready to send."
        var lines = [
            "Tone: \((request.tone ?? .professional).rawValue)",
            "Role: \(analysis.role ?? "as in the offer")",
            "Company: \(analysis.company ?? "as in the offer")",
        ]
        if let name = candidate.name { lines.append("Candidate: \(name)") }
        for experience in candidate.experiences ?? [] {
            var line = "Experience: \(experience.title)"
            if let company = experience.company { line += " at \(company)" }
            if let years = experience.years { line += ", \(years) years" }
            if let highlight = experience.highlight { line += ". \(highlight)" }
            lines.append(line)
        }
        if let skills = candidate.skills, !skills.isEmpty { lines.append("Skills: \(skills.joined(separator: ", "))") }
        if !analysis.matchedSkills.isEmpty { lines.append("Skills the offer asks for that the candidate has: \(analysis.matchedSkills.joined(separator: ", "))") }
        lines.append("")
        lines.append("Job offer:")
        lines.append(request.jobOfferText)
        user = lines.joined(separator: "\n")
    }
}
