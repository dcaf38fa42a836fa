import Foundation

/// What `phoenix bench` measured, and how: printed as a table or as JSON (`--json`).
struct BenchReport: Codable {
    /// Latency percentiles from enqueue to a worker taking the job (Redis time of the lease), in ms.
    struct Latency: Codable {
        var samples: Int
        var p50: Double
        var p90: Double
        var p99: Double
        var max: Double

        init(_ milliseconds: [Double]) {
            let sorted = milliseconds.sorted()
            func percentile(_ p: Double) -> Double {
                sorted.isEmpty ? 0 : sorted[min(sorted.count - 1, Int((p * Double(sorted.count)).rounded(.up)) - 1)]
            }
            samples = sorted.count
            p50 = percentile(0.50)
            p90 = percentile(0.90)
            p99 = percentile(0.99)
            max = sorted.last ?? 0
        }
    }

    var redis: String
    var jobs: Int
    var single: Int
    var batch: Int
    var workers: Int
    var concurrency: Int
    var latencyJobs: Int
    var rate: Int
    /// How many users the jobs' payloads name in turn (0: none).
    var users: Int
    /// Whether the queue was fair (its users' jobs taking turns).
    var fairShare: Bool
    /// Jobs per second, enqueued one round trip each.
    var singleEnqueueRate: Double = 0
    /// Jobs per second, enqueued `batch` at a time.
    var batchEnqueueRate: Double = 0
    /// Jobs per second from resuming the queue until all `single + jobs` completed.
    var processingRate: Double = 0
    var latency = Latency([])
    /// Each worker process's peak resident set (VmHWM), in MB.
    var workerPeakRSSMegabytes: [Double] = []

    func json() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }

    func table() -> String {
        func count(_ value: Int) -> String { value.formatted(.number.grouping(.automatic)) }
        func perSecond(_ value: Double) -> String { "\(Int(value.rounded()).formatted(.number.grouping(.automatic))) jobs/s" }
        func ms(_ value: Double) -> String { String(format: "%.0f ms", value) }
        let rows: [[String]] = [
            ["enqueue, one by one", "\(count(single)) jobs", perSecond(singleEnqueueRate)],
            ["enqueue, batches of \(count(batch))", "\(count(jobs)) jobs", perSecond(batchEnqueueRate)],
            ["processing, \(workers) workers × \(concurrency)\(fairShare ? ", fair share" : "")", "\(count(single + jobs)) jobs\(users > 0 ? " of \(count(users)) users" : "")", perSecond(processingRate)],
            ["latency enqueue → worker, at \(count(rate))/s", "\(count(latency.samples)) jobs", "p50 \(ms(latency.p50))  p90 \(ms(latency.p90))  p99 \(ms(latency.p99))  max \(ms(latency.max))"],
            ["worker peak RSS", "\(workerPeakRSSMegabytes.count) processes", workerPeakRSSMegabytes.map { String(format: "%.1f MB", $0) }.joined(separator: ", ")],
        ]
        return "phoenix bench — no-op jobs on Redis \(redis)\n\n" + Table(header: ["WHAT", "HOW MANY", "RESULT"], rows: rows).text
    }
}
