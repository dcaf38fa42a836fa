import Foundation

/// What the templates see: the CV's fields as dictionaries and arrays (absent fields are absent keys, so
/// `{{#field}}` sections disappear, and `hasWork`-style flags say whether a list has entries), headings in the CV's language, dates as `2021 – 2024`, and links only
/// when they are http(s) or mailto (escaping alone would not stop a `javascript:` link).
enum CVView {
    static func make(_ cv: CVData, language: CVLanguage) -> [String: Any] {
        let french = language == .fr
        var view: [String: Any] = [
            "lang": language.rawValue,
            "labels": [
                "summary": french ? "Profil" : "Profile",
                "experience": french ? "Expérience professionnelle" : "Work experience",
                "education": french ? "Formation" : "Education",
                "skills": french ? "Compétences" : "Skills",
                "languages": french ? "Langues" : "Languages",
                "contact": french ? "Contact" : "Contact",
            ],
        ]
        var basics: [String: Any] = ["name": cv.basics.name]
        basics["label"] = text(cv.basics.label)
        basics["email"] = text(cv.basics.email)
        basics["emailLink"] = cv.basics.email.flatMap { link("mailto:\($0)") }
        basics["phone"] = text(cv.basics.phone)
        basics["url"] = cv.basics.url.flatMap(link)
        basics["summary"] = text(cv.basics.summary)
        let place = [cv.basics.location?.city, cv.basics.location?.countryCode].compactMap(text)
        if !place.isEmpty { basics["location"] = place.joined(separator: ", ") }
        view["basics"] = basics
        let present = french ? "aujourd'hui" : "present"
        view["work"] = section(cv.work) { work in
            var entry: [String: Any] = ["position": work.position]
            entry["company"] = text(work.name)
            entry["dates"] = dates(work.startDate, work.endDate, present: present)
            entry["summary"] = text(work.summary)
            let highlights = (work.highlights ?? []).compactMap(text)
            if !highlights.isEmpty {
                entry["highlights"] = highlights
                entry["hasHighlights"] = true
            }
            return entry
        }
        view["education"] = section(cv.education) { education in
            var entry: [String: Any] = ["institution": education.institution]
            let degree = [education.studyType, education.area].compactMap(text)
            if !degree.isEmpty { entry["degree"] = degree.joined(separator: ", ") }
            entry["dates"] = dates(education.startDate, education.endDate, present: present)
            return entry
        }
        view["skills"] = section(cv.skills) { skill in
            var entry: [String: Any] = ["name": skill.name]
            entry["level"] = text(skill.level)
            let keywords = (skill.keywords ?? []).compactMap(text)
            if !keywords.isEmpty { entry["keywords"] = keywords.joined(separator: ", ") }
            return entry
        }
        view["languages"] = section(cv.languages) { language in
            var entry: [String: Any] = ["language": language.language]
            entry["fluency"] = text(language.fluency)
            return entry
        }
        for (key, flag) in [("work", "hasWork"), ("education", "hasEducation"), ("skills", "hasSkills"), ("languages", "hasLanguages")] where view[key] != nil {
            view[flag] = true
        }
        return view
    }

    /// The entries of a section, or nothing (so that its heading disappears) when there are none.
    private static func section<T>(_ items: [T]?, _ transform: (T) -> [String: Any]) -> [[String: Any]]? {
        guard let items, !items.isEmpty else { return nil }
        return items.map(transform)
    }

    private static func text(_ value: String?) -> String? {
        guard let trimmed = value?.trimmingCharacters(in: .whitespacesAndNewlines), !trimmed.isEmpty else { return nil }
        return trimmed
    }

    /// `value` when it is an http, https or mailto URL.
    static func link(_ value: String) -> String? {
        guard let url = URL(string: value.trimmingCharacters(in: .whitespaces)), let scheme = url.scheme?.lowercased(),
              ["http", "https", "mailto"].contains(scheme) else { return nil }
        return url.absoluteString
    }

    private static func dates(_ start: String?, _ end: String?, present: String) -> String? {
        switch (text(start), text(end)) {
        case (let start?, let end?): "\(year(start)) – \(year(end))"
        case (let start?, nil): "\(year(start)) – \(present)"
        case (nil, let end?): year(end)
        case (nil, nil): nil
        }
    }

    /// `2021-09-01` → `09/2021`; anything else as given.
    private static func year(_ date: String) -> String {
        let parts = date.split(separator: "-")
        guard parts.count >= 2, parts[0].count == 4, parts[1].count == 2 else { return date }
        return "\(parts[1])/\(parts[0])"
    }
}
