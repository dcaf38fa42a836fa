import Foundation
import PhoenixJobsCore
import PhoenixQueue
import TestSupport
import Testing

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

    @Test func thresholdsAreTheSeeds() throws {
        let rules = try Self.rules()
        func rule(_ severity: String, for duration: String?, _ parts: String...) -> Bool {
            rules.contains { rule in
                let expr = rule["expr"]?.text ?? ""
                return rule["labels"]?["severity"]?.text == severity && rule["for"]?.text == duration && parts.allSatisfy { expr.contains($0) }
            }
        }
        #expect(rule("warning", for: "5m", #"phoenix_queue_depth{state="ready"}"#, "> 100"))
        #expect(rule("critical", for: "5m", #"phoenix_queue_depth{state="ready"}"#, "> 1000"))
        #expect(rule("warning", for: "2m", "phoenix_queue_oldest_ready_timestamp_seconds"))
        // Worker heartbeats as the API reads them from the registry: workers need not be scraped.
        #expect(rule("critical", for: nil, "phoenix_worker_heartbeat_age_seconds", "> 180"))
        #expect(rule("critical", for: "5m", "phoenix_workers_live", "== 0"))
        #expect(rule("warning", for: "2m", "phoenix_jobs_completed_total", "> 0.05"))
        #expect(rule("critical", for: "2m", "phoenix_http_request_duration_seconds_count", #"status=~"5..""#, "> 0.05"))
        #expect(rule("warning", for: "1m", "histogram_quantile(0.95", "phoenix_http_request_duration_seconds_bucket", "> 10"))
        #expect(rule("critical", for: "5m", "process_resident_memory_bytes / phoenix_process_memory_limit_bytes", "> 0.95"))
        #expect(rule("warning", for: "5m", "rate(process_cpu_seconds_total", "/ phoenix_process_cpu_limit_cores", "> 0.8"))
        #expect(rule("critical", for: "1m", "up{", "== 0"))
    }

    /// promtool runs the tests (scripts/check-alerts.sh, in `make test`); this checks that each alert has one
    /// that expects it to fire, and that no test names an alert that does not exist.
    @Test func everyAlertHasAPromtoolTestThatMakesItFire() throws {
        let names = Set(try Self.rules().compactMap { $0["alert"]?.text })
        let tests = try Manifest.yaml("Deploy/prometheus/alerts.test.yml")["tests"]?.elements ?? []
        let cases = tests.flatMap { $0["alert_rule_test"]?.elements ?? [] }
        let firing = Set(cases.filter { !($0["exp_alerts"]?.elements ?? []).isEmpty }.compactMap { $0["alertname"]?.text })
        #expect(names.count >= 12)
        #expect(names.subtracting(firing).isEmpty, "no test makes \(names.subtracting(firing).sorted()) fire")
        let tested = Set(cases.compactMap { $0["alertname"]?.text })
        #expect(tested.subtracting(names).isEmpty, "tests of alerts that do not exist: \(tested.subtracting(names).sorted())")
    }

    @Test func workerAlertsCoverEveryBusinessTypeButDiagnostics() throws {
        let rules = try Self.rules()
        let workerRules = rules.filter { ($0["expr"]?.text ?? "").contains("phoenix_worker") }
        #expect(workerRules.count == 2)
        // One rule per alert, by worker_type: the API exports every type, so none is left out; diagnostics may scale to zero.
        for rule in workerRules {
            #expect(rule["expr"]?.text?.contains(#"worker_type!="diagnostics""#) == true, "\(rule["alert"]?.text ?? "?")")
            #expect(rule["expr"]?.text?.contains("by (worker_type)") == true, "\(rule["alert"]?.text ?? "?")")
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
