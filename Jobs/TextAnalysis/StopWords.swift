/// Words that carry no meaning as keywords, in French and English (folded: lower case, no accents).
enum StopWords {
    static let all: Set<String> = [
        // English
        "the", "and", "for", "with", "you", "your", "our", "are", "will", "who", "that", "this", "have", "has", "from",
        "not", "but", "all", "can", "into", "their", "they", "them", "its", "was", "were", "been", "being", "about",
        "more", "most", "such", "than", "then", "also", "any", "per", "via", "out", "over", "under", "within", "etc",
        "job", "role", "position", "team", "work", "working", "company", "looking", "join", "experience", "years",
        "strong", "skills", "knowledge", "ability", "including", "across", "new", "what", "which", "where", "when",
        "would", "should", "must", "well", "good", "great", "plus", "using", "use", "based", "how", "why",
        // French
        "les", "des", "une", "dans", "pour", "par", "sur", "avec", "est", "sont", "qui", "que", "quoi", "vous",
        "nous", "notre", "nos", "votre", "vos", "leur", "leurs", "ses", "son", "sa", "aux", "du", "de", "la", "le",
        "un", "et", "ou", "en", "au", "ce", "ces", "cette", "mais", "tres", "tout", "tous", "toute", "toutes",
        "etre", "avoir", "fait", "faire", "sera", "serez", "ans", "annees", "poste", "equipe", "entreprise", "offre",
        "recherche", "recherchons", "profil", "mission", "missions", "competences", "connaissance",
        "connaissances", "maitrise", "bonne", "bonnes", "bon", "bons", "afin", "ainsi", "chez", "selon", "entre",
        "sein", "rejoindre", "rejoignez", "cdi", "cdd", "h/f", "f/h", "minimum", "idealement", "souhaitee",
    ]
}
