import EnvironmentVariables
import CVRendering
import Crypto
import EventBridge
import Foundation
import LetterGeneration
import PostgresNIO
import ServiceLifecycle
import UserProfileSync
import PhoenixQueue
import PhoenixWorker
import PhoenixSupabase
import PhoenixJobsCore

/// The part of `phoenix dev` that talks to the newcomer: with `--demo`, a demo user and one job of every
/// business type (an event, a profile sync, a letter, a CV, plus diagnostics), then how each ended; and
/// always where to look (dashboard, API, `phoenix stats`).
struct DevGuide: Service {
    let queue: JobQueue
    let store: PhoenixStore
    let demo: Bool
    let base: AsyncStream<String>
    let environment: [String: String]
    /// A service_role token for curl, when `phoenix dev` made up the run's secret.
    let serviceToken: String?

    /// The demo user (fixed, so that runs after the first reuse it).
    static let demoUser = UUID(uuidString: "00000000-0000-4000-8000-00000000de70")!

    func run() async throws {
        var urls = base.makeAsyncIterator()
        guard let url = await urls.next() else { return }
        if demo { try await runDemo() }
        say(guide(url))
        try? await gracefulShutdown()
    }

    private func runDemo() async throws {
        try await store.client.withConnection { connection in
            try await connection.query("""
                INSERT INTO auth.users (id, email, raw_user_meta_data)
                VALUES (\(Self.demoUser), 'camille.demo@phoenix.local', '{"full_name": "Camille Demo"}'::jsonb)
                ON CONFLICT (id) DO NOTHING
                """, logger: Logger(label: "phoenix.dev"))
            // Premium for letters and CVs, so that repeated demo runs stay within the monthly quotas.
            for app in ["letters", "cv"] { try await UsageRepository.applyTier(userID: Self.demoUser, app: app, tier: "premium", on: connection) }
        }
        let user = Self.demoUser
        let jobs: [(String, JobEnvelope)] = [
            ("event", try JobEnvelope(EventPublishJob.self, EventPayload(streamID: user, eventType: "cv.template_selected", appSource: "cv", payload: .object(["template": .string("modern")])))),
            ("profile sync", try JobEnvelope(ProfileSyncJob.self, UserPayload(userID: user))),
            ("letter", try JobEnvelope(LetterGenerateJob.self, LetterRequest(
                userID: user, jobOfferText: Self.offer, language: .fr, tone: .enthusiastic,
                candidate: Candidate(name: "Camille Demo", experiences: [.init(title: "développeuse mobile", company: "Globex", years: 4, highlight: "Refonte de l'application de paiement")], skills: ["Swift", "SwiftUI", "Git", "SQL"])
            ))),
            ("CV", try JobEnvelope(CVRenderJob.self, CVRequest(userID: user, template: "modern", cvData: Self.cv, jobDescription: Self.offer))),
            ("diagnostic", try JobEnvelope(DiagnosticJobs.Sleep.self, .init(ms: 300))),
        ]
        _ = try await queue.enqueue(jobs.map(\.1))
        say("demo: enqueued \(jobs.map(\.0).joined(separator: ", ")) for user \(user.lowercasedString)")
        let deadline = ContinuousClock.now + .seconds(120)
        var states: [String: JobState] = [:]
        while ContinuousClock.now < deadline {
            for (_, job) in jobs { states[job.idString] = try await queue.job(id: job.idString)?.state }
            if states.values.allSatisfy({ [.completed, .dead, .cancelled].contains($0) }) { break }
            try await Task.sleep(for: .milliseconds(250))
        }
        for (name, job) in jobs {
            let state = states[job.idString].map(\.rawValue) ?? "unknown"
            say("demo: \(name) (\(job.type)) → \(state)")
        }
    }

    private func guide(_ url: String) -> String {
        let redis = environment[.redisURL] ?? ""
        var lines = [
            "",
            "Phoenix Jobs is running. Ctrl-C stops everything gracefully.",
            "  dashboard:  \(url)/dashboard   (password: \(environment[.dashboardPassword] ?? "DASHBOARD_PASSWORD"))",
            "  API:        \(url)/openapi.yaml, \(url)/health, \(url)/metrics",
            "  stats:      REDIS_URL=\(redis) .build/debug/phoenix stats --watch",
        ]
        if let serviceToken {
            lines.append("  submit:     curl -s -X POST \(url)/v1/jobs -H 'Authorization: Bearer \(serviceToken)' -H 'Content-Type: application/json' -d '{\"type\": \"diagnostic.sleep\", \"payload\": {\"ms\": 200}}'")
        }
        return lines.joined(separator: "\n")
    }

    /// A service_role token signed with `secret` (HS256), valid for a day: for curl during this run.
    static func serviceToken(secret: String) -> String {
        func base64URL(_ bytes: some Sequence<UInt8>) -> String {
            Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
        }
        let header = base64URL(Array(#"{"alg":"HS256","typ":"JWT"}"#.utf8))
        let claims = base64URL(Array(#"{"role":"service_role","exp":\#(Int(Date().timeIntervalSince1970) + 86_400)}"#.utf8))
        let signature = HMAC<SHA256>.authenticationCode(for: Array("\(header).\(claims)".utf8), using: SymmetricKey(data: Array(secret.utf8)))
        return "\(header).\(claims).\(base64URL(signature))"
    }

    static let offer = """
        Développeur iOS (H/F)
        Entreprise : Acme Mobile
        Nous recherchons un développeur iOS pour concevoir nos applications grand public.
        Compétences : Swift, SwiftUI, Git, tests unitaires. Anglais apprécié.
        """

    static let cv = CVData(
        basics: .init(name: "Camille Demo", label: "Développeuse iOS", email: "camille.demo@phoenix.local", summary: "Six ans d'applications mobiles, de la maquette à l'App Store."),
        work: [.init(name: "Globex", position: "Développeuse mobile", startDate: "2021-09-01", highlights: ["Refonte de l'application de paiement en SwiftUI", "Tests automatisés et intégration continue"])],
        skills: [.init(name: "Swift", level: "expert", keywords: ["SwiftUI", "Combine"]), .init(name: "Git"), .init(name: "SQL")]
    )
}
