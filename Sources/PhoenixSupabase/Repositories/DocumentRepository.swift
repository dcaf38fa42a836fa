public import Foundation
public import PostgresNIO

/// Generated letters and CVs, and the profile totals that count them.
public enum DocumentRepository {
    /// Stores a generated letter; returns its id.
    public static func insertLetter(userID: UUID, jobOfferText: String, letter: String, generationType: String, optimizationLevel: String, on connection: PostgresConnection) async throws -> UUID {
        let rows = try await connection.query("""
            INSERT INTO public.letter_generations (user_id, job_offer_text, generated_letter, generation_type, ai_optimization_level)
            VALUES (\(userID), \(jobOfferText), \(letter), \(generationType), \(optimizationLevel))
            RETURNING id
            """, logger: PhoenixStore.quiet)
        for try await id in rows.decode(UUID.self) { return id }
        throw StoreError.invalidValue("inserting a letter returned no id")
    }

    /// Stores a rendered CV and what was made from it; returns its id.
    public static func insertCV(userID: UUID, template: String, status: String, cvData: String, html: String?, outputs: CVOutputs = CVOutputs(), on connection: PostgresConnection) async throws -> UUID {
        let rows = try await connection.query("""
            INSERT INTO public.cv_generations (user_id, template_used, generation_status, cv_data, generated_html, ats_text, ats_score, ats_keywords, generated_pdf, pdf_status)
            VALUES (\(userID), \(template), \(status), \(cvData)::jsonb, \(html), \(outputs.atsText), \(outputs.atsScore)::smallint, \(outputs.atsKeywords)::jsonb,
                    \(outputs.pdf), \(outputs.pdfStatus))
            RETURNING id
            """, logger: PhoenixStore.quiet)
        for try await id in rows.decode(UUID.self) { return id }
        throw StoreError.invalidValue("inserting a CV returned no id")
    }

    /// Recounts a profile's `total_letters_generated` and `total_cv_generated` from the stored documents.
    public static func refreshProfileTotals(userID: UUID, on connection: PostgresConnection) async throws {
        try await connection.query("""
            UPDATE public.profiles SET
              total_letters_generated = (SELECT count(*) FROM public.letter_generations WHERE user_id = \(userID)),
              total_cv_generated = (SELECT count(*) FROM public.cv_generations WHERE user_id = \(userID))
            WHERE id = \(userID)
            """, logger: PhoenixStore.quiet)
    }

    /// What a document job needs from a profile: the name, the email and the preferred language.
    public static func profile(userID: UUID, on connection: PostgresConnection) async throws -> ProfileSummary? {
        let rows = try await connection.query("""
            SELECT nullif(full_name, ''), email, preferences ->> 'language' FROM public.profiles WHERE id = \(userID)
            """, logger: PhoenixStore.quiet)
        for try await (name, email, language) in rows.decode((String?, String, String?).self) {
            return ProfileSummary(fullName: name, email: email, language: language)
        }
        return nil
    }

    /// Whether `userID` has a profile.
    public static func profileExists(userID: UUID, on connection: PostgresConnection) async throws -> Bool {
        for try await _ in try await connection.query("SELECT 1 FROM public.profiles WHERE id = \(userID)", logger: PhoenixStore.quiet) {
            return true
        }
        return false
    }

    /// Creates or updates a profile from its `auth.users` row; returns whether the user exists.
    public static func syncProfile(userID: UUID, on connection: PostgresConnection) async throws -> Bool {
        let rows = try await connection.query("""
            INSERT INTO public.profiles (id, email, full_name)
            SELECT id, email, coalesce(raw_user_meta_data ->> 'full_name', '') FROM auth.users WHERE id = \(userID)
            ON CONFLICT (id) DO UPDATE SET email = EXCLUDED.email,
              full_name = CASE WHEN EXCLUDED.full_name = '' THEN public.profiles.full_name ELSE EXCLUDED.full_name END
            RETURNING id
            """, logger: PhoenixStore.quiet)
        for try await _ in rows { return true }
        return false
    }
}

/// A profile as document jobs see it.
public struct ProfileSummary: Sendable, Equatable {
    /// `full_name`, unless empty.
    public var fullName: String?
    public var email: String
    /// `preferences.language` (`fr`, `en`), when set.
    public var language: String?
}

/// What a CV job makes besides the HTML (the `cv_generations` columns Phoenix Jobs adds).
public struct CVOutputs: Sendable, Equatable {
    /// The plain-text version for applicant tracking systems.
    public var atsText: String?
    /// Keyword coverage against the job description, 0 to 100.
    public var atsScore: Int?
    /// `{"matched": […], "missing": […]}` as JSON text.
    public var atsKeywords: String?
    /// The PDF, when one was printed.
    public var pdf: Data?
    /// `rendered`, `skipped: …` or `failed: …`.
    public var pdfStatus: String?

    public init(atsText: String? = nil, atsScore: Int? = nil, atsKeywords: String? = nil, pdf: Data? = nil, pdfStatus: String? = nil) {
        self.atsText = atsText
        self.atsScore = atsScore
        self.atsKeywords = atsKeywords
        self.pdf = pdf
        self.pdfStatus = pdfStatus
    }
}
