import Foundation
import LetterGeneration
import Testing

/// The built-in composer: real letters from an analysis of the offer.
@Suite struct LetterComposerTests {
    static let mobileOffer = """
        Développeur iOS Swift (H/F)
        Entreprise : Acme Mobile
        Nous recherchons un développeur iOS pour concevoir nos applications grand public.
        Compétences : Swift, SwiftUI, Git, tests unitaires. Anglais apprécié.
        """
    static let dataOffer = """
        Data Engineer
        Northwind Analytics is hiring a Data Engineer to build our streaming pipelines.
        Requirements: Python, SQL, Kafka, Docker and AWS. Experience with Kubernetes is a plus.
        """
    static let candidate = Candidate(
        name: "Ada Martin", email: "ada@example.org",
        experiences: [.init(title: "software engineer", company: "Globex", years: 4, highlight: "Led the rewrite of the payment app"), .init(title: "intern", company: "Initech")],
        skills: ["Swift", "Git", "Python", "Docker"]
    )
    let composer = LetterComposer(today: { Date(timeIntervalSince1970: 1_795_000_000) })
    let user = UUID()

    func letter(_ offer: String, _ language: LetterLanguage, tone: LetterTone = .professional) -> (String, OfferAnalysis) {
        let analysis = OfferAnalysis(offer: offer, candidateSkills: Self.candidate.skills ?? [])
        let request = LetterRequest(userID: user, jobOfferText: offer, language: language, tone: tone, candidate: Self.candidate)
        return (composer.compose(request, candidate: Self.candidate, analysis: analysis), analysis)
    }

    @Test func theAnalysisFindsRoleCompanyAndMatchedSkills() {
        let mobile = OfferAnalysis(offer: Self.mobileOffer, candidateSkills: ["Swift", "Git", "Docker"])
        #expect(mobile.role == "développeur iOS")
        #expect(mobile.company == "Acme Mobile")
        #expect(mobile.matchedSkills == ["Swift", "Git"])
        #expect(Set(mobile.missingSkills) == ["iOS", "SwiftUI", "testing", "English"])

        let data = OfferAnalysis(offer: Self.dataOffer, candidateSkills: ["Python", "Docker", "Swift"])
        #expect(data.role == "Data Engineer")
        #expect(data.company == "Northwind Analytics")
        #expect(data.matchedSkills == ["Python", "Docker"])
        #expect(data.missingSkills.contains("Kafka"))
    }

    @Test func lettersForTwoOffersNameTheirOwnRoleCompanyAndSkills() {
        let (mobile, _) = letter(Self.mobileOffer, .fr)
        let (data, _) = letter(Self.dataOffer, .fr)
        #expect(mobile.contains("Objet : candidature au poste de développeur iOS"))
        #expect(mobile.contains("chez Acme Mobile"))
        #expect(mobile.contains("Votre offre met l'accent sur Swift et Git"))
        #expect(data.contains("Objet : candidature au poste de Data Engineer"))
        #expect(data.contains("chez Northwind Analytics"))
        #expect(data.contains("Votre offre met l'accent sur Python et Docker"))
        #expect(!mobile.contains("Northwind") && !data.contains("Acme"))
    }

    @Test func frenchAndEnglishLettersAreWholeLetters() {
        let (french, _) = letter(Self.dataOffer, .fr, tone: .formal)
        for part in ["Ada Martin\nada@example.org", "Le ", "Madame, Monsieur,", "En tant que software engineer chez Globex pendant 4 ans",
                     "Auparavant, mes fonctions d'intern chez Initech", "les autres points de l'offre :", "Réalisation marquante : Led the rewrite of the payment app.", "Je vous prie d'agréer", "salutations distinguées."] {
            #expect(french.contains(part), "French letter lacks \(part)")
        }
        let (english, _) = letter(Self.mobileOffer, .en, tone: .enthusiastic)
        for part in ["Subject: application for the développeur iOS position", "Dear Hiring Manager,", "I am genuinely excited to apply",
                     "As software engineer at Globex for 4 years", "Your offer emphasises Swift and Git", "Yours faithfully,\n\nAda Martin"] {
            #expect(english.contains(part), "English letter lacks \(part)")
        }
        #expect(!english.contains("Madame") && !french.contains("Dear"))
        #expect(french.split(separator: "\n\n").count >= 8)
    }

    @Test func frenchLettersNameSkillsInFrenchAndElideBeforeAVowel() {
        let offer = "Poste : Ingénieur logiciel\nEntreprise : Initech\nVous maîtrisez les tests automatisés, le travail en équipe et l'anglais."
        let (french, analysis) = letter(offer, .fr)
        #expect(analysis.missingSkills == ["testing", "teamwork", "English"])
        #expect(french.contains("Objet : candidature au poste d'Ingénieur logiciel"))
        #expect(french.contains("les autres points de l'offre : tests automatisés, travail en équipe et anglais."))
    }

    @Test func anOfferWithoutLabelsStillGetsAPersonalLetter() {
        let offer = "We are looking for a Backend Developer who loves PostgreSQL and Redis. Join Contoso and help us scale."
        let (english, analysis) = letter(offer, .en)
        #expect(analysis.role == "Backend Developer")
        #expect(analysis.company == "Contoso")
        #expect(english.contains("the Backend Developer position at Contoso"))
        #expect(analysis.matchedSkills.isEmpty)
        #expect(english.contains("I would bring your team solid skills in Swift, Git, Python and Docker"))
        #expect(english.contains("As for PostgreSQL and Redis, I am committed to getting up to speed quickly."))
    }
}
