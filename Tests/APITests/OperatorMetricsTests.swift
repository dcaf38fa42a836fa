@testable import PhoenixAPI
import Foundation
import NIOHTTP1
import PhoenixJobsCore
import PhoenixQueue
import TestSupport
import Testing
import PhoenixPlatform

/// One sample of a Prometheus text exposition.
struct Sample: Equatable {
    let name: String
    let labels: [String: String]
    let value: Double

    /// The samples of `text` (comments skipped).
    static func parse(_ text: String) -> [Sample] {
        text.split(separator: "\n").compactMap { line in
            // Label values may hold braces (`route="/v1/jobs/{id}"`): the label set ends at a `}` outside quotes.
            guard !line.hasPrefix("#"), let match = line.firstMatch(of: #/^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{((?:[^"}]|"[^"]*")*)\})?\s+(\S+)$/#),
                  let value = Double(match.3) else { return nil }
            var labels: [String: String] = [:]
            for pair in (match.2.map(String.init) ?? "").matches(of: #/([a-zA-Z_][a-zA-Z0-9_]*)="([^"]*)"/#) { labels[String(pair.1)] = String(pair.2) }
            return Sample(name: String(match.1), labels: labels, value: value)
        }
    }
}

extension LiveAPI {
    /// The samples `/metrics` exports now.
    func scrape() async throws -> [Sample] {
        let reply = try await call(.GET, "/metrics")
        guard case .string(let text) = reply.json else { return [] }
        return Sample.parse(text)
    }
}

extension [Sample] {
    func value(_ name: String, _ labels: [String: String] = [:]) -> Double? {
        first { sample in sample.name == name && labels.allSatisfy { key, value in sample.labels[key] == value } }?.value
    }
}

/// What an operator's Prometheus reads from the API (issue 16): workers seen through the registry, request
/// durations, the process's own figures.
@Suite struct OperatorMetricsTests {
    /// Render's background workers take no traffic and are never scraped: the API reports them from the
    /// worker registry in Redis, every type, including those with no worker at all.
    @Test func theAPIReportsLiveWorkersAndHeartbeatAgePerWorkerTypeFromTheRegistry() async throws {
        try await LiveAPI.run { api in
            // The harness runs a diagnostics worker; a second process says it serves event_bridge and letters.
            let other = WorkerInfo(id: "render-worker-1", type: "event_bridge,letters", queues: ["events", "letters"], host: "h", pid: 1, version: "t", concurrency: 1, startedAt: Date())
            try await api.queue.heartbeat(other, staleAfter: .seconds(30))
            try await eventually("every type is reported") {
                let samples = try await api.scrape()
                return samples.value("phoenix_workers_live", ["worker_type": "diagnostics"]) == 1
                    && samples.value("phoenix_workers_live", ["worker_type": "event_bridge"]) == 1
                    && samples.value("phoenix_workers_live", ["worker_type": "letters"]) == 1
                    && samples.value("phoenix_workers_live", ["worker_type": "cv"]) == 0
                    && samples.value("phoenix_workers_live", ["worker_type": "user_profile"]) == 0
            }
            let samples = try await api.scrape()
            let age = try #require(samples.value("phoenix_worker_heartbeat_age_seconds", ["worker_type": "letters"]))
            #expect(age >= 0 && age < 30)
            #expect(samples.value("phoenix_worker_heartbeat_age_seconds", ["worker_type": "cv"]) == nil, "an age for a type that never beat")

            // The worker goes away: no longer live, and its type's heartbeat is remembered, so its age goes on growing.
            try await api.queue.unregister(workerID: other.id)
            try await Task.sleep(for: .milliseconds(1100))
            let after = try await api.scrape()
            #expect(after.value("phoenix_workers_live", ["worker_type": "letters"]) == 0)
            let older = try #require(after.value("phoenix_worker_heartbeat_age_seconds", ["worker_type": "letters"]), "the age of a type whose workers left")
            #expect(older > age)
        }
    }

    @Test func workersServingSeveralTypesCountForEachAndStaleOnesAreNotLive() {
        let metrics = WorkerHeartbeatMetrics(workerTypes: WorkerType.allCases.map(\.rawValue), staleAfter: .seconds(30))
        let now = Date(timeIntervalSince1970: 1_000_000)
        func worker(_ id: String, _ type: String, beat secondsAgo: Double) -> WorkerInfo {
            WorkerInfo(id: id, type: type, queues: [], host: "h", pid: 1, version: "t", concurrency: 1, startedAt: now, heartbeatAt: now.addingTimeInterval(-secondsAgo))
        }
        let first = metrics.figures(now: now, workers: [
            worker("a", WorkerType.name(of: WorkerType.allCases), beat: 2), worker("b", "letters,cv", beat: 40), worker("c", "letters", beat: 1), worker("d", "no_such_type", beat: 1),
        ])
        #expect(first["letters"] == .init(live: 2, newestHeartbeat: now.addingTimeInterval(-1)))
        #expect(first["cv"] == .init(live: 1, newestHeartbeat: now.addingTimeInterval(-2)), "b is stale; a (every type) serves cv")
        #expect(first["event_bridge"]?.live == 1)
        #expect(first.count == WorkerType.allCases.count)
        // Later every worker has left the registry: none live, the newest heartbeats stay.
        let later = metrics.figures(now: now.addingTimeInterval(600), workers: [])
        #expect(later["letters"] == .init(live: 0, newestHeartbeat: now.addingTimeInterval(-1)))
        #expect(later["user_profile"] == .init(live: 0, newestHeartbeat: now.addingTimeInterval(-2)))
    }

    /// The seed's response-time alert needs a latency metric; the route label is the pattern, never the path a
    /// caller made up.
    @Test func requestDurationsAreRecordedByRoutePatternMethodAndStatus() async throws {
        try await LiveAPI.run { api in
            let service = try await api.minter.service()
            #expect(try await api.call(.POST, "/v1/jobs", token: service, body: #"{"type": "diagnostic.noop"}"#).status == 202)
            let job = try await api.call(.POST, "/v1/jobs", token: service, body: #"{"type": "diagnostic.noop"}"#)
            guard case .string(let id)? = job["id"] else { Issue.record("no job id: \(job.json)"); return }
            #expect(try await api.call(.GET, "/v1/jobs/\(id)", token: service).status == 200)
            #expect(try await api.call(.GET, "/made-up/a1b2c3").status == 404)
            #expect(try await api.call(.POST, "/v1/jobs", body: "{}").status == 401)
            // A method the API does not serve (llhttp parses some thirty; the label keeps them to one series).
            _ = try await api.call(.RAW(value: "PROPFIND"), "/health")
            let samples = try await api.scrape()
            let count = "phoenix_http_request_duration_seconds_count"
            #expect(samples.value(count, ["route": "/v1/jobs", "method": "POST", "status": "202"]) == 2)
            #expect(samples.value(count, ["route": "/v1/jobs/{id}", "method": "GET", "status": "200"]) == 1)
            // Hummingbird's router names a request no route matches `NotFound`.
            #expect(samples.value(count, ["route": "NotFound", "method": "GET", "status": "404"]) == 1)
            #expect(samples.value(count, ["route": "/v1/jobs", "method": "POST", "status": "401"]) == 1)
            #expect(!samples.contains { $0.labels.values.contains { $0.lowercased().contains("a1b2c3") } }, "a caller's made-up path or method became a label")
            #expect(samples.value(count, ["method": "other"]) == 1)
            // Buckets reach the 10 s of the response-time alert.
            #expect(samples.contains { $0.name == "phoenix_http_request_duration_seconds_bucket" && $0.labels["le"].flatMap(Double.init) == 10 })
        }
    }

    @Test func theProcessExportsItsMemoryCPUFileDescriptorsStartTimeAndLimits() async throws {
        try await LiveAPI.run { api in
            let samples = try await api.scrape()
            let resident = try #require(samples.value("process_resident_memory_bytes"))
            let limit = try #require(samples.value("phoenix_process_memory_limit_bytes"))
            #expect(resident > 1_000_000 && resident < limit)
            #expect((samples.value("process_cpu_seconds_total") ?? 0) > 0)
            #expect((samples.value("phoenix_process_cpu_limit_cores") ?? 0) > 0)
            let files = try #require(samples.value("process_open_fds"))
            #expect(files > 3 && files < (samples.value("process_max_fds") ?? 0))
            let start = try #require(samples.value("process_start_time_seconds"))
            #expect(start <= Date().timeIntervalSince1970 && start > Date().timeIntervalSince1970 - 86_400)
        }
    }

    @Test func procStatFieldsAreCountedAfterTheCommandName() throws {
        // A command name may hold spaces and parentheses (proc(5)); fields 14, 15, 22, 23, 24 follow it.
        let fields = (3...30).map { $0 == 3 ? "S" : "\($0 * 10)" }.joined(separator: " ")
        let stat = try #require(ProcStat("4242 (a (b) c) \(fields)"))
        #expect(stat == ProcStat("1 (phoenix) \(fields)"))
        #expect((stat.userTicks, stat.systemTicks, stat.startTicks, stat.virtualBytes, stat.residentPages) == (140, 150, 220, 230, 240))
        #expect(ProcStat("1 (x) S 1 2") == nil)
        #expect(ProcessSample.bootTime("cpu 1 2\nbtime 1764720000\nprocesses 5") == 1_764_720_000)
    }

    @Test func cgroupLimitsReadVersionTwoAndOneFiles() {
        func figures(_ limits: CgroupLimits) -> [Double?] { [limits.memoryBytes, limits.cores] }
        #expect(figures(CgroupLimits(v2MemoryMax: "268435456", cpuMax: "150000 100000")) == [268_435_456, 1.5])
        #expect(figures(CgroupLimits(v2MemoryMax: "max", cpuMax: "max 100000")) == [nil, nil])
        #expect(figures(CgroupLimits(v1MemoryLimit: "9223372036854771712", quota: "-1", period: "100000")) == [nil, nil])
        #expect(figures(CgroupLimits(v1MemoryLimit: "536870912", quota: "200000", period: "100000")) == [536_870_912, 2])
    }

    /// `ENABLE_EVENT_PROCESSING=false`: no event bridge takes events, so the API refuses them with a 503 that
    /// says why, and enqueues nothing; other jobs go on.
    @Test func disabledEventProcessingRefusesEventsWithA503AndEnqueuesNothing() async throws {
        var configuration = LiveAPI.configuration
        configuration.eventProcessing = false
        try await LiveAPI.run(configuration: configuration) { api in
            let service = try await api.minter.service()
            let user = try await api.minter.token()
            // A valid event of a service's stream: refused for the setting alone, not for its contents.
            let event = #"{"event_type": "cv.viewed", "stream_id": "\#(UUID().uuidString.lowercased())", "app_source": "cv", "event_data": {}}"#
            for (token, path, body) in [
                (user, "/v1/events", event), (service, "/v1/events", event),
                (service, "/v1/jobs", #"{"type": "event.publish", "payload": \#(event)}"#),
                (service, "/v1/jobs/batch", #"{"jobs": [{"type": "diagnostic.noop"}, {"type": "event.publish", "payload": \#(event)}]}"#),
            ] {
                let reply = try await api.call(.POST, path, token: token, body: body)
                #expect(reply.status == 503, "\(path): \(reply.json)")
                #expect(reply.errorCode == "event_processing_disabled", "\(path)")
                guard case .string(let message)? = reply["error"]?.objectValue?["message"] else { Issue.record("\(path): no message"); continue }
                #expect(message.contains("ENABLE_EVENT_PROCESSING=false"), "\(path): \(message)")
            }
            #expect(try await api.queue.stats(queue: "events").enqueued == 0)
            #expect(try await api.queue.stats(queue: "diagnostics").enqueued == 0, "the batch went in partly")
            #expect(try await api.call(.POST, "/v1/jobs", token: service, body: #"{"type": "diagnostic.noop"}"#).status == 202)
        }
    }

    /// Flow control's gauges: the budgets in force, their use over the last minute, and a provider's hold.
    @Test func theBudgetsTheirUseAndAProvidersHoldAreExported() async throws {
        try await LiveAPI.run { api in
            try await api.queue.configureFlow(queue: "letters", requestsPerMinute: .atMost(600), tokensPerMinute: .atMost(90_000))
            try await api.queue.enqueue(JobEnvelope(type: "test.other", queue: "letters"))
            let leased = try #require(try await api.queue.fetch(queue: "letters", limit: 1, lease: .seconds(60), worker: "w").first)
            try await api.queue.spendTokens(1500, lease: leased.lease)
            try await api.queue.holdBack(queue: "letters", for: .seconds(60))
            let samples = try await api.scrape()
            let letters = ["queue": "letters"]
            #expect(samples.value("phoenix_queue_rate_limit_per_minute", letters.merging(["budget": "requests"]) { $1 }) == 600)
            #expect(samples.value("phoenix_queue_rate_limit_per_minute", letters.merging(["budget": "tokens"]) { $1 }) == 90_000)
            #expect((1...2).contains(samples.value("phoenix_queue_rate_last_minute", letters.merging(["budget": "requests"]) { $1 }) ?? 0))
            #expect((1400...1500).contains(samples.value("phoenix_queue_rate_last_minute", letters.merging(["budget": "tokens"]) { $1 }) ?? 0))
            #expect((30...60).contains(samples.value("phoenix_queue_held_seconds", letters) ?? 0))
            #expect(samples.value("phoenix_queue_held_seconds", ["queue": "cv"]) == 0)
            #expect(samples.value("phoenix_queue_rate_limit_per_minute", ["queue": "cv", "budget": "tokens"]) == 0)
        }
    }
}
