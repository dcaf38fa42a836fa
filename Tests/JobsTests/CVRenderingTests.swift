import CVRendering
import Foundation
import LocalServers
import PostgresNIO
import PhoenixJobsCore
import PhoenixQueue
import PhoenixSupabase
import Testing
import TestSupport
import PhoenixWorker
import PhoenixPlatform

/// The CV worker against real Redis and PostgreSQL, with the bundled templates.
@Suite struct CVRenderingTests {
    func withCV(_ body: (JobQueue, PostgresClient) async throws -> Void) async throws {
        let templates = try await CVTemplates.bundled()
        try await withPlatform(types: [.cv], register: { registry, store in
            registry.register(CVRenderJob(store: store, templates: templates, pdf: PDFRenderer()))
        }, body)
    }

    static let hostile = CVData(
        basics: .init(name: "Eve <script>alert('x')</script> Dupont", label: "Développeuse iOS", email: "eve@example.org", url: "javascript:alert(1)", summary: "Dix ans d'applications mobiles & \"natives\"."),
        work: [.init(name: "Globex", position: "Lead iOS", startDate: "2019-03-01", summary: "Applications bancaires.", highlights: ["<img src=x onerror=alert(1)>", "Swift, SwiftUI et Docker en production"])],
        skills: [.init(name: "Swift", level: "expert", keywords: ["SwiftUI", "Combine"]), .init(name: "Docker")]
    )

    func cvJob(_ user: UUID, template: String? = nil, cv: CVData = Self.hostile, jobDescription: String? = nil) throws -> JobEnvelope {
        try JobEnvelope(CVRenderJob.self, CVRequest(userID: user, template: template, cvData: cv, jobDescription: jobDescription))
    }

    @Test func userStringsAreEscapedAndTheATSVersionIsScoredAgainstTheOffer() async throws {
        try await withCV { queue, client in
            let user = try await signUp(client, name: "Eve")
            let job = try cvJob(user.id, jobDescription: "Nous recherchons un développeur iOS : Swift, Docker, Kubernetes, applications bancaires.")
            try await queue.enqueue(job)
            try await eventually("the CV is stored", timeout: .seconds(60)) { try await queue.stats(queue: "cv").completed == 1 }
            let html = try #require(try await text(client, "SELECT generated_html FROM public.cv_generations WHERE user_id = \(user.id)"))
            #expect(html.contains("Eve &lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; Dupont"))
            #expect(html.contains("&lt;img src=x onerror=alert(1)&gt;"))
            #expect(!html.contains("<script") && !html.contains("<img") && !html.contains("javascript:"))
            #expect(html.contains("&amp; &quot;natives&quot;"))
            #expect(html.contains("03/2019 – aujourd&#39;hui"))
            let ats = try #require(try await text(client, "SELECT ats_text FROM public.cv_generations WHERE user_id = \(user.id)"))
            #expect(ats.hasPrefix("Eve <script>alert('x')</script> Dupont\n"))
            #expect(ats.contains("Lead iOS, Globex (03/2019 – aujourd'hui)"))
            #expect(ats.contains("Swift (expert): SwiftUI, Combine"))
            let matched = try #require(try await text(client, "SELECT ats_keywords ->> 'matched' FROM public.cv_generations WHERE user_id = \(user.id)"))
            let missing = try #require(try await text(client, "SELECT ats_keywords ->> 'missing' FROM public.cv_generations WHERE user_id = \(user.id)"))
            #expect(matched.contains("Swift") && matched.contains("Docker") && matched.contains("bancaires"))
            #expect(missing.contains("Kubernetes"))
            let score = try await scalar(client, "SELECT ats_score::int FROM public.cv_generations WHERE user_id = \(user.id)")
            #expect(score > 0 && score < 100)
            #expect(try await text(client, "SELECT template_used FROM public.cv_generations WHERE user_id = \(user.id)") == "classic")
            #expect(try await text(client, "SELECT generation_status FROM public.cv_generations WHERE user_id = \(user.id)") == "completed")
            #expect(try await scalar(client, "SELECT total_cv_generated FROM public.profiles WHERE id = \(user.id)") == 1)
            #expect(try await scalar(client, "SELECT count(*)::int FROM public.phoenix_events WHERE event_id = \(job.id) AND event_type = 'cv.generated'") == 1)
        }
    }

    @Test func thePDFHoldsTheNameWhereChromiumIsInstalledAndSaysSoWhereNot() async throws {
        try await withCV { queue, client in
            let user = try await signUp(client, name: "Eve")
            let cv = CVData(basics: .init(name: "Camille Fournier", label: "Product designer"), skills: [.init(name: "Figma")])
            try await queue.enqueue(try cvJob(user.id, cv: cv))
            try await eventually("the CV is stored", timeout: .seconds(90)) { try await queue.stats(queue: "cv").completed == 1 }
            let status = try #require(try await text(client, "SELECT pdf_status FROM public.cv_generations WHERE user_id = \(user.id)"))
            guard PDFRenderer().executable != nil else {
                #expect(status.hasPrefix("skipped: Chromium is not installed"))
                #expect(try await scalar(client, "SELECT count(*)::int FROM public.cv_generations WHERE generated_pdf IS NULL") == 1)
                return
            }
            #expect(status == "rendered")
            var pdf: Data?
            for try await bytes in try await client.query("SELECT generated_pdf FROM public.cv_generations WHERE user_id = \(user.id)").decode(Data.self) { pdf = bytes }
            let file = FileManager.default.temporaryDirectory.appendingPathComponent("cv-\(UUID().uuidString).pdf")
            defer { try? FileManager.default.removeItem(at: file) }
            try #require(pdf).write(to: file)
            let extracted = file.appendingPathExtension("txt")
            defer { try? FileManager.default.removeItem(at: extracted) }
            #expect(try await ChildProcess("/usr/bin/pdftotext", [file.path, extracted.path]).exited() == 0)
            #expect(try String(contentsOf: extracted, encoding: .utf8).contains("Camille Fournier"))
        }
    }

    @Test func aPremiumTemplateIsRefusedToAFreeUserAndRendersForAPremiumOne() async throws {
        try await withCV { queue, client in
            let user = try await signUp(client, name: "Eve")
            let refused = try cvJob(user.id, template: "modern")
            try await queue.enqueue(refused)
            try await eventually("the job is refused") { try await queue.stats(queue: "cv").dead == 1 }
            #expect(try await queue.deadJobs(queue: "cv").first?.error.contains("template 'modern' needs a premium cv subscription; this user's cv tier is free") == true)
            try await queue.enqueue(try cvJob(user.id, template: "baroque"))
            try await eventually("the unknown template is refused") { try await queue.stats(queue: "cv").dead == 2 }
            #expect(try await queue.deadJobs(queue: "cv").contains { $0.error.contains("unknown template 'baroque'; available: classic, modern") })

            try await client.withConnection { try await UsageRepository.applyTier(userID: user.id, app: "cv", tier: "premium", on: $0) }
            try await queue.enqueue(try cvJob(user.id, template: "modern"))
            try await eventually("the premium CV is stored", timeout: .seconds(60)) { try await queue.stats(queue: "cv").completed == 1 }
            #expect(try await text(client, "SELECT template_used FROM public.cv_generations WHERE user_id = \(user.id)") == "modern")
            #expect(try await text(client, "SELECT generated_html FROM public.cv_generations WHERE user_id = \(user.id)")?.contains("<aside>") == true)
        }
    }

    @Test func aFreeUserGetsThreeCVsAMonthAndTheFourthIsRefused() async throws {
        try await withCV { queue, client in
            let user = try await signUp(client, name: "Eve")
            let cv = CVData(basics: .init(name: "Eve Dupont"))
            for _ in 0..<3 { try await queue.enqueue(try cvJob(user.id, cv: cv)) }
            try await eventually("three CVs stored", timeout: .seconds(90)) { try await queue.stats(queue: "cv").completed == 3 }
            try await queue.enqueue(try cvJob(user.id, cv: cv))
            try await eventually("the fourth is refused") { try await queue.stats(queue: "cv").dead == 1 }
            #expect(try await queue.deadJobs(queue: "cv").first?.error.contains("cv_generations limit is 3 and 3 are used") == true)
            #expect(try await scalar(client, "SELECT count(*)::int FROM public.cv_generations WHERE user_id = \(user.id)") == 3)
        }
    }

    @Test func anEmptyNameIsAPermanentFailureNamingTheField() async throws {
        try await withCV { queue, client in
            let user = try await signUp(client, name: "Eve")
            try await queue.enqueue(try cvJob(user.id, cv: CVData(basics: .init(name: "  "))))
            try await eventually("the job is refused") { try await queue.stats(queue: "cv").dead == 1 }
            #expect(try await queue.deadJobs(queue: "cv").first?.error.contains("cv_data.basics.name must not be empty") == true)
            #expect(try await scalar(client, "SELECT count(*)::int FROM public.cv_generations") == 0)
        }
    }
}

/// Chromium under a job cancelled while it runs.
@Suite struct PDFRendererCancellationTests {
    /// The processes whose command line mentions `text`.
    static func processes(mentioning text: String) -> [Int32] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap(Int32.init).filter { pid in
            guard let line = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return false }
            return String(decoding: line, as: UTF8.self).contains(text)
        }
    }

    @Test(.enabled(if: PDFRenderer().executable != nil, "Chromium is not installed"))
    func aCancelledPrintStopsChromium() async throws {
        // A loopback port whose connections the kernel completes but nobody answers: Chromium waits for the
        // page's image, so the print is still running when it is cancelled.
        let (listener, port) = try #require(LoopbackPort.silentListener())
        defer { close(listener) }
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("phoenix-cancel-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        // Its own time limit far away: only the cancellation can stop Chromium within the wait below.
        let renderer = PDFRenderer(timeout: .seconds(600), scratch: scratch)
        let print = Task { try await renderer.render(html: "<html><body><p>Camille</p><img src=\"http://127.0.0.1:\(port)/never.png\"></body></html>") }
        try await eventually("Chromium is printing", timeout: .seconds(30)) { !Self.processes(mentioning: scratch.path).isEmpty }
        try await Task.sleep(for: .milliseconds(500))
        print.cancel()
        try await eventually("Chromium is gone", timeout: .seconds(15)) { Self.processes(mentioning: scratch.path).isEmpty }
        await #expect(throws: PDFRenderError.self) { try await print.value }
    }
}
