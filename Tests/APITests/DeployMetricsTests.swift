import Foundation
import NIOHTTP1
import PhoenixJobsCore
import PhoenixQueue
import TestSupport
import Testing

/// The alert rules and the Grafana dashboard in Deploy/ query only metrics, and labels, that a running
/// API and worker export: a renamed metric would otherwise leave an alert that can never fire.
@Suite struct DeployMetricsTests {
    static let files = ["Deploy/prometheus/alerts.yml", "Deploy/grafana/phoenix-jobs.json"]

    @Test func deployFilesUseOnlyExportedMetrics() async throws {
        try await LiveAPI.run { api in
            let service = try await api.minter.service()
            // Every outcome family appears: a completed job, a failing one, a delayed one.
            _ = try await api.call(.POST, "/v1/jobs", token: service, body: #"{"type": "diagnostic.noop"}"#)
            _ = try await api.call(.POST, "/v1/jobs", token: service, body: #"{"type": "diagnostic.fail", "payload": {"message": "deploy check", "permanent": true}}"#)
            _ = try await api.call(.POST, "/v1/jobs", token: service, body: #"{"type": "diagnostic.noop", "delaySeconds": 600}"#)
            try await eventually("both jobs ran") {
                let stats = try await api.queue.stats(queue: "diagnostics")
                return stats.completed == 1 && stats.dead == 1
            }
            let scrape = try await api.call(.GET, "/metrics")
            guard case .string(let text) = scrape.json else { Issue.record("/metrics is not text"); return }

            // Exported metric names, each with the label names it carries.
            var exported: [String: Set<String>] = [:]
            for line in text.split(separator: "\n") where !line.hasPrefix("#") {
                guard let match = line.firstMatch(of: #/^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{([^}]*)\})?\s/#) else { continue }
                let labels = (match.2.map(String.init) ?? "").matches(of: #/([a-zA-Z_][a-zA-Z0-9_]*)="/#).map { String($0.1) }
                exported[String(match.1), default: []].formUnion(labels)
            }
            #expect(exported.keys.contains("phoenix_job_duration_seconds_bucket"))

            for file in Self.files {
                let content = try RepositoryFiles.text(file)
                // The seed's process metrics (process_*) are the API's and the workers' own as well.
                let used = Set(content.matches(of: #/\b(?:phoenix|process)_[a-z0-9_]+/#).map { String($0.0) })
                #expect(!used.isEmpty, "\(file) uses no phoenix metric")
                for metric in used.sorted() {
                    #expect(exported[metric] != nil, "\(file) uses \(metric), which neither the API nor a worker exports")
                }
                // Label matchers: phoenix_x{label="…", other=~"…"} (JSON escapes the quotes).
                for selector in content.matches(of: #/\b((?:phoenix|process)_[a-z0-9_]+)\{([^}]*)\}/#) {
                    let labels = String(selector.2).matches(of: #/([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)/#).map { String($0.1) }
                    for label in labels {
                        #expect(exported[String(selector.1)]?.contains(label) == true, "\(file): \(selector.1) has no label \(label)")
                    }
                }
            }
        }
    }
}
