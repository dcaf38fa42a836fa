import Foundation
import Queue
import TestSupport
import Testing
import Worker

/// Deploy/prometheus/alerts.yml and the Grafana dashboard: well formed, and covering what DESIGN.md section 10
/// asks. That their metrics exist is checked against a live scrape (APITests, `deployFilesUseOnlyExportedMetrics`).
@Suite struct MonitoringFileTests {
    static func rules() throws -> [JSONValue] {
        try Manifest.yaml("Deploy/prometheus/alerts.yml")["groups"]?.elements.flatMap { $0["rules"]?.elements ?? [] } ?? []
    }

    @Test func everyRuleHasANameAnExpressionASeverityAndASummary() throws {
        let rules = try Self.rules()
        #expect(rules.count >= 8)
        for rule in rules {
            let name = rule["alert"]?.text ?? "?"
            #expect(rule["expr"]?.text?.isEmpty == false, "\(name) has no expr")
            #expect(["warning", "critical"].contains(rule["labels"]?["severity"]?.text), "\(name): severity")
            #expect(rule["annotations"]?["summary"]?.text?.isEmpty == false, "\(name) has no summary")
        }
    }

    @Test func thresholdsAreTheEcosystems() throws {
        let rules = try Self.rules()
        func rule(_ severity: String, _ parts: String...) -> Bool {
            rules.contains { rule in
                let expr = rule["expr"]?.text ?? ""
                return rule["labels"]?["severity"]?.text == severity && parts.allSatisfy { expr.contains($0) }
            }
        }
        #expect(rule("warning", #"phoenix_queue_depth{state="ready"}"#, "> 100"))
        #expect(rule("critical", #"phoenix_queue_depth{state="ready"}"#, "> 1000"))
        #expect(rule("warning", "phoenix_queue_oldest_ready_timestamp_seconds"))
        #expect(rule("critical", "phoenix_worker_last_heartbeat_timestamp_seconds", "> 180"))
        #expect(rule("warning", "phoenix_jobs_completed_total", "> 0.05"))
    }

    @Test func aMissingWorkerOfEachBusinessTypeRaisesAnAlert() throws {
        let patterns = try Self.rules().compactMap { rule -> String? in
            let expr = rule["expr"]?.text ?? ""
            guard expr.hasPrefix("absent(phoenix_worker_last_heartbeat_timestamp_seconds{"),
                  let match = expr.firstMatch(of: #/worker_type=~"([^"]+)"/#) else { return nil }
            return String(match.1)
        }
        let regexes = try patterns.map { try Regex($0) }
        // Diagnostics workers may scale to zero; every other type must always run. A process serving several
        // types has them all in its label (`event_bridge,diagnostics`); Prometheus anchors the pattern.
        for type in WorkerType.allCases where type != .diagnostics {
            let matching = regexes.filter { regex in
                ["\(type.rawValue)", "\(type.rawValue),diagnostics", "letters,\(type.rawValue)"].allSatisfy { (try? regex.wholeMatch(in: $0)) != nil }
            }
            #expect(matching.count == 1, "\(type.rawValue): \(matching.count) absent() rules match it")
        }
        for regex in regexes {
            #expect(try regex.wholeMatch(in: "diagnostics") == nil)
        }
    }

    @Test func theDashboardIsGrafanaJSONWithAQueryInEveryPanel() throws {
        let dashboard = try Manifest.json("Deploy/grafana/phoenix-jobs.json")
        let panels = dashboard["panels"]?.elements ?? []
        #expect(panels.count >= 8)
        for panel in panels {
            let title = panel["title"]?.text ?? "?"
            let queries = (panel["targets"]?.elements ?? []).compactMap { $0["expr"]?.text }
            #expect(!queries.isEmpty && queries.allSatisfy { $0.contains("phoenix_") }, "\(title) has no query over phoenix metrics")
        }
    }
}
