import ArgumentParser
import Foundation
import PhoenixPlatform
import PhoenixQueue
import PhoenixRedis

/// `phoenix stats`: queues and live workers.
struct Stats: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show every queue's counts and the live workers.")

    @Flag(name: .long, help: "Print JSON instead of tables.")
    var json = false

    @Flag(name: .long, help: "Refresh every 2 seconds until interrupted.")
    var watch = false

    @Option(name: .long, help: "Seconds after which a silent worker counts as gone.")
    var staleAfter: Double = 30

    func run() async throws {
        let settings = Settings()
        try bootstrapLogging(settings)
        let engine = try makeQueue(settings)
        defer { engine.redis.shutdown() }
        repeat {
            let snapshot = try await collect(engine)
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys]
                encoder.dateEncodingStrategy = .iso8601
                print(String(decoding: try encoder.encode(snapshot), as: UTF8.self))
            } else {
                if watch { print("\u{1B}[2J\u{1B}[H", terminator: "") }
                print(render(snapshot))
            }
            if watch { try await Task.sleep(for: .seconds(2)) }
        } while watch
    }

    private func collect(_ engine: JobQueue) async throws -> QueueOverview {
        try await engine.overview(alwaysListed: WorkerType.servedQueues, staleAfter: .seconds(staleAfter))
    }

    private func render(_ snapshot: QueueOverview) -> String {
        let queueTable = Table(
            header: ["QUEUE", "READY", "DELAYED", "LEASED", "DEAD", "PAUSED", "OLDEST", "DONE/MIN", "FAIL/MIN", "COMPLETED", "FAILED", "FLOW"],
            rows: snapshot.queues.map { row in
                [row.queue, "\(row.ready)", "\(row.delayed)", "\(row.leased)", "\(row.dead)", row.paused ? "yes" : "no",
                 row.oldestReadySeconds.map { String(format: "%.1fs", $0) } ?? "-", "\(row.completedLastMinute)", "\(row.failedLastMinute)",
                 "\(row.completed)", "\(row.failed)",
                 row.flowSummary]
            }
        )
        let now = Date()
        let workerTable = Table(
            header: ["WORKER", "TYPE", "HOST", "PID", "HEARTBEAT", "BUSY", "PROCESSED", "FAILED"],
            rows: snapshot.workers.map { worker in
                [worker.id, worker.type, worker.host, "\(worker.pid)",
                 worker.heartbeatAt.map { String(format: "%.0fs ago", max(0, now.timeIntervalSince($0))) } ?? "-",
                 "\(worker.busy)/\(worker.concurrency)", "\(worker.processed)", "\(worker.failed)"]
            }
        )
        let workers = snapshot.workers.isEmpty ? "no live workers" : workerTable.text
        return queueTable.text + "\n\n" + workers
    }
}

/// A plain-text table with columns padded to their widest cell.
struct Table {
    let header: [String]
    let rows: [[String]]

    var text: String {
        let all = [header] + rows
        let widths = header.indices.map { column in all.map { $0[column].count }.max() ?? 0 }
        return all.map { row in
            row.enumerated().map { column, cell in cell.padding(toLength: widths[column], withPad: " ", startingAt: 0) }
                .joined(separator: "  ").trimmingCharacters(in: .whitespaces)
        }.joined(separator: "\n")
    }
}
