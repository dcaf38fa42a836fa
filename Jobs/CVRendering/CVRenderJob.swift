import Foundation
public import PhoenixSupabase
public import PhoenixJobsCore
import JobSupport
import Logging
import PostgresNIO

/// `cv.render`: renders a CV through a template (HTML, every value escaped), its ATS plain-text version, a
/// keyword-coverage score against the job description, and a PDF where Chromium is installed; stores them
/// in `cv_generations` with the profile's totals, a `cv.generated` event and an activity row, in one
/// transaction with the job's run row. Checks the monthly CV quota, and the tier a premium template needs.
public struct CVRenderJob: JobType {
    public typealias Payload = CVRequest
    public static let name = "cv.render"
    public static let queue = "cv"
    /// Chromium's print (at most 60 s) and the rest.
    public static var timeout: Duration { .seconds(120) }

    let store: PhoenixStore
    let templates: CVTemplates
    let pdf: PDFRenderer

    public init(store: PhoenixStore, templates: CVTemplates, pdf: PDFRenderer) {
        self.store = store
        self.templates = templates
        self.pdf = pdf
    }

    public func run(_ payload: CVRequest, context: JobContext) async throws {
        try payload.validate()
        let user = payload.userID
        let name = payload.template ?? CVTemplates.defaultTemplate
        guard let entry = templates.catalog[name] else {
            throw PermanentFailure("unknown template '\(name)'; available: \(templates.catalog.keys.sorted().joined(separator: ", "))")
        }
        let tier = try await store.client.withConnection { connection -> String? in
            guard try await DocumentRepository.profileExists(userID: user, on: connection) else { return nil }
            return try await UsageRepository.tier(userID: user, app: "cv", on: connection)
        }
        guard let tier else { throw PermanentFailure("no profile for user \(user.uuidString.lowercased())") }
        if let needed = CVTemplates.Tier(rawValue: entry.tier), CVTemplates.Tier(rawValue: tier) ?? .free < needed {
            throw PermanentFailure("template '\(name)' needs a \(entry.tier) cv subscription; this user's cv tier is \(tier)")
        }
        try await Quota.ensureAvailable(.cvGenerations, userID: user, store: store)

        let view = CVView.make(payload.cvData, language: payload.language ?? .fr)
        guard let html = templates.render(view, template: name), let atsText = templates.render(view, template: "ats") else {
            throw PermanentFailure("template '\(name)' could not be rendered")
        }
        let coverage = payload.jobDescription.map { KeywordCoverage(cvText: atsText, jobDescription: $0) }
        let (pdfData, pdfStatus) = await printPDF(html, context: context)
        let cvData = String(decoding: try JSONEncoder.sorted.encode(payload.cvData), as: UTF8.self)
        let keywords = coverage.map { JSONValue.object(["matched": .array($0.matched.map(JSONValue.string)), "missing": .array($0.missing.map(JSONValue.string))]).jsonString }

        try await store.runOnce(context, userID: user) { connection in
            try await Quota.consume(.cvGenerations, userID: user, on: connection)
            let cvID = try await DocumentRepository.insertCV(
                userID: user, template: name, status: "completed", cvData: cvData, html: html,
                outputs: CVOutputs(atsText: atsText, atsScore: coverage?.score, atsKeywords: keywords, pdf: pdfData, pdfStatus: pdfStatus),
                on: connection
            )
            let details: [String: JSONValue] = [
                "cv_id": .string(cvID.uuidString.lowercased()), "template": .string(name),
                "ats_score": coverage.map { .number(Double($0.score)) } ?? .null, "pdf": .string(pdfStatus),
            ]
            try await GeneratedDocument.record(kind: "cv", appSource: "cv", userID: user, details: details, context: context, on: connection)
            return JSONValue.object(details).jsonString
        }
    }

    /// The PDF and what became of it: `rendered`, `skipped: …` without Chromium, or `failed: …` (the CV is
    /// still stored: its HTML is the document, the PDF a convenience).
    private func printPDF(_ html: String, context: JobContext) async -> (Data?, String) {
        if let reason = pdf.unavailableReason {
            context.logger.info("No PDF for this CV", metadata: ["reason": "\(reason)"])
            return (nil, reason)
        }
        do {
            return (try await pdf.render(html: html), "rendered")
        } catch {
            context.logger.warning("PDF rendering failed; the CV is stored without it", metadata: ["error": "\(error)"])
            return (nil, "failed: \(error)")
        }
    }
}

extension JSONEncoder {
    /// An encoder with sorted keys, so the same CV is stored as the same text.
    static var sorted: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return encoder
    }
}
