public import Foundation
import PhoenixJobsCore

/// The payload of `cv.render`.
public struct CVRequest: Codable, Sendable, Equatable {
    /// The user the CV is for (`auth.users.id`).
    public var userID: UUID
    /// A template of the catalogue (`classic` by default).
    public var template: String?
    /// The CV's content.
    public var cvData: CVData
    /// The offer the CV is aimed at; when given, the result holds a keyword-coverage score against it.
    public var jobDescription: String?
    /// The language of the headings: `fr` (the default) or `en`.
    public var language: CVLanguage?

    enum CodingKeys: String, CodingKey { case userID = "user_id", template, cvData = "cv_data", jobDescription = "job_description", language }

    public init(userID: UUID, template: String? = nil, cvData: CVData, jobDescription: String? = nil, language: CVLanguage? = nil) {
        self.userID = userID
        self.template = template
        self.cvData = cvData
        self.jobDescription = jobDescription
        self.language = language
    }

    /// Checks what decoding cannot.
    /// - Throws: ``PermanentFailure`` naming the field.
    public func validate() throws {
        try cvData.validate()
        if let jobDescription, jobDescription.count > 20_000 {
            throw PermanentFailure("job_description is \(jobDescription.count) characters; at most 20000 are accepted")
        }
    }
}

/// The language of a CV's headings.
public enum CVLanguage: String, Codable, Sendable, CaseIterable {
    case fr, en
}

/// A CV in the shape of JSON Resume (https://jsonresume.org/schema), the parts the templates show.
public struct CVData: Codable, Sendable, Equatable {
    public var basics: Basics
    public var work: [Work]?
    public var education: [Education]?
    public var skills: [Skill]?
    public var languages: [Language]?

    public init(basics: Basics, work: [Work]? = nil, education: [Education]? = nil, skills: [Skill]? = nil, languages: [Language]? = nil) {
        self.basics = basics
        self.work = work
        self.education = education
        self.skills = skills
        self.languages = languages
    }

    public struct Basics: Codable, Sendable, Equatable {
        public var name: String
        /// The headline, e.g. `Développeuse iOS`.
        public var label: String?
        public var email: String?
        public var phone: String?
        public var url: String?
        public var summary: String?
        public var location: Location?

        public init(name: String, label: String? = nil, email: String? = nil, phone: String? = nil, url: String? = nil, summary: String? = nil, location: Location? = nil) {
            self.name = name
            self.label = label
            self.email = email
            self.phone = phone
            self.url = url
            self.summary = summary
            self.location = location
        }
    }

    public struct Location: Codable, Sendable, Equatable {
        public var city: String?
        public var countryCode: String?
    }

    public struct Work: Codable, Sendable, Equatable {
        /// The employer.
        public var name: String?
        public var position: String
        public var startDate: String?
        public var endDate: String?
        public var summary: String?
        public var highlights: [String]?

        public init(name: String? = nil, position: String, startDate: String? = nil, endDate: String? = nil, summary: String? = nil, highlights: [String]? = nil) {
            self.name = name
            self.position = position
            self.startDate = startDate
            self.endDate = endDate
            self.summary = summary
            self.highlights = highlights
        }
    }

    public struct Education: Codable, Sendable, Equatable {
        public var institution: String
        public var area: String?
        public var studyType: String?
        public var startDate: String?
        public var endDate: String?
    }

    public struct Skill: Codable, Sendable, Equatable {
        public var name: String
        public var level: String?
        public var keywords: [String]?

        public init(name: String, level: String? = nil, keywords: [String]? = nil) {
            self.name = name
            self.level = level
            self.keywords = keywords
        }
    }

    public struct Language: Codable, Sendable, Equatable {
        public var language: String
        public var fluency: String?
    }

    /// Limits that keep a CV a CV: a name, at most 50 entries per section, no field over 5,000 characters.
    func validate() throws {
        guard !basics.name.trimmingCharacters(in: .whitespaces).isEmpty else { throw PermanentFailure("cv_data.basics.name must not be empty") }
        let sections: [(String, Int)] = [
            ("work", work?.count ?? 0), ("education", education?.count ?? 0), ("skills", skills?.count ?? 0), ("languages", languages?.count ?? 0),
        ]
        for (section, count) in sections where count > 50 {
            throw PermanentFailure("cv_data.\(section) holds \(count) entries; at most 50 are accepted")
        }
        let texts: [(String, String?)] = [
            ("basics.name", basics.name), ("basics.label", basics.label), ("basics.summary", basics.summary), ("basics.url", basics.url),
        ] + (work ?? []).enumerated().flatMap { index, work in
            [("work[\(index)].position", work.position), ("work[\(index)].summary", work.summary)] + (work.highlights ?? []).map { ("work[\(index)].highlights", $0) }
        }
        for (field, text) in texts where (text?.count ?? 0) > 5_000 {
            throw PermanentFailure("cv_data.\(field) is longer than 5000 characters")
        }
    }
}
