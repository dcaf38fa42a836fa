/// The skills the analysers recognise in free text: technical skills, tools, methods and the soft skills
/// job offers ask for, in French and English. Each has the name used in letters and the folded spellings
/// (lower case, no accents) it is found under.
public enum SkillVocabulary {
    /// One recognised skill.
    public struct Skill: Sendable {
        /// How letters and reports name it.
        public let name: String
        /// Folded spellings found in text.
        public let spellings: [String]
        /// How French letters name it, when not as ``name``.
        public let frenchName: String?
    }

    /// How a letter in French (or not) names the skill called `name`.
    public static func displayName(_ name: String, french: Bool) -> String {
        guard french else { return name }
        return skills.first { $0.name == name }?.frenchName ?? name
    }

    /// Every recognised skill.
    public static let skills: [Skill] = [
        ("Swift", ["swift"]), ("SwiftUI", ["swiftui"]), ("Objective-C", ["objective-c"]), ("Kotlin", ["kotlin"]),
        ("Java", ["java"]), ("Python", ["python"]), ("Go", ["golang", "go (golang)"]), ("Rust", ["rust"]),
        ("C++", ["c++"]), ("C#", ["c#"]), ("PHP", ["php"]), ("Ruby", ["ruby"]), ("Scala", ["scala"]),
        ("JavaScript", ["javascript"]), ("TypeScript", ["typescript"]), ("Node.js", ["node.js", "nodejs"]),
        ("React", ["react", "react.js"]), ("Angular", ["angular"]), ("Vue.js", ["vue.js", "vuejs"]),
        ("HTML", ["html"]), ("CSS", ["css"]), ("SQL", ["sql"]), ("PostgreSQL", ["postgresql", "postgres"]),
        ("MySQL", ["mysql"]), ("MongoDB", ["mongodb"]), ("Redis", ["redis"]), ("Kafka", ["kafka"]),
        ("Docker", ["docker"]), ("Kubernetes", ["kubernetes", "k8s"]), ("Terraform", ["terraform"]),
        ("AWS", ["aws", "amazon web services"]), ("Azure", ["azure"]), ("GCP", ["gcp", "google cloud"]),
        ("Linux", ["linux"]), ("Git", ["git"]), ("CI/CD", ["ci/cd", "integration continue", "continuous integration"]),
        ("REST APIs", ["api rest", "apis rest", "rest api", "rest apis", "api restful"]), ("GraphQL", ["graphql"]),
        ("iOS", ["ios"]), ("Android", ["android"]), ("machine learning", ["machine learning", "apprentissage automatique"]),
        ("data analysis", ["data analysis", "analyse de donnees"]), ("Power BI", ["power bi"]),
        ("Excel", ["excel"]), ("SAP", ["sap"]), ("Salesforce", ["salesforce"]), ("Figma", ["figma"]),
        ("UX design", ["ux", "experience utilisateur", "user experience"]), ("UI design", ["ui design", "interface utilisateur"]),
        ("SEO", ["seo", "referencement naturel"]), ("digital marketing", ["marketing digital", "digital marketing"]),
        ("social media", ["reseaux sociaux", "social media"]), ("Agile", ["agile", "agilite"]), ("Scrum", ["scrum"]),
        ("project management", ["gestion de projet", "project management", "chef de projet", "conduite de projet"]),
        ("team management", ["management d'equipe", "team management", "encadrement", "people management"]),
        ("testing", ["tests unitaires", "unit testing", "tests automatises", "automated testing", "tdd"]),
        ("security", ["cybersecurite", "securite informatique", "cybersecurity", "security"]),
        ("accounting", ["comptabilite", "accounting"]), ("finance", ["finance"]), ("sales", ["vente", "sales", "commercial"]),
        ("customer relations", ["relation client", "customer relations", "service client", "customer service"]),
        ("negotiation", ["negociation", "negotiation"]), ("communication", ["communication"]),
        ("teamwork", ["travail en equipe", "esprit d'equipe", "teamwork", "team player"]),
        ("autonomy", ["autonomie", "autonome", "autonomy", "self-starter"]), ("leadership", ["leadership"]),
        ("problem solving", ["resolution de problemes", "problem solving", "problem-solving"]),
        ("organisation", ["sens de l'organisation", "rigueur", "organizational skills"]),
        ("English", ["anglais", "english"]), ("French", ["francais", "french"]), ("German", ["allemand", "german"]),
        ("Spanish", ["espagnol", "spanish"]),
    ].map { Skill(name: $0.0, spellings: $0.1, frenchName: frenchNames[$0.0]) }

    /// French names of the skills whose name is English words.
    private static let frenchNames: [String: String] = [
        "REST APIs": "API REST", "machine learning": "apprentissage automatique", "data analysis": "analyse de données",
        "UX design": "design UX", "UI design": "design d'interface", "SEO": "référencement naturel",
        "digital marketing": "marketing digital", "social media": "réseaux sociaux", "project management": "gestion de projet",
        "team management": "management d'équipe", "testing": "tests automatisés", "security": "cybersécurité",
        "accounting": "comptabilité", "sales": "vente", "customer relations": "relation client", "negotiation": "négociation",
        "teamwork": "travail en équipe", "autonomy": "autonomie", "problem solving": "résolution de problèmes",
        "English": "anglais", "French": "français", "German": "allemand", "Spanish": "espagnol",
    ]
}
