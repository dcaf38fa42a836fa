import ArgumentParser
import Foundation
import Queue
import Redis
import Worker

/// `phoenix stats`: queues and live workers.
struct Stats: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show every queue's counts and the live workers.")

    @Flag(name: .long, help: "Print JSON instead of tables.")
    var json = false

    @Flag(name: .long, help: "Refresh every 2 seconds until interrupted.")
    var watch = false

    @Option(name: .long, help: "Seconds after which a silent worker counts as gone.")
    var staleAfter: Double = 30

    /// What `--json` prints.
    struct Snapshot: Encodable {
        struct QueueRow: Encodable {
            let queue: String
            let ready, delayed, leased, dead: Int
            let paused: Bool
            let oldestReadySeconds: Double?
            let enqueued, completed, failed, buried, cancelled: Int
            let completedLastMinute, failedLastMinute: Int
        }
        let queues: [QueueRow]
        let workers: [WorkerInfo]
    }

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

    private func collect(_ engine: JobQueue) async throws -> Snapshot {
        let names = Set(try await engine.queues()).union(WorkerType.allCases.map(\.queue)).sorted()
        var rows: [Snapshot.QueueRow] = []
        for name in names {
            let stats = try await engine.stats(queue: name, minutes: 1)
            rows.append(.init(
                queue: name, ready: stats.ready, delayed: stats.delayed, leased: stats.leased, dead: stats.dead, paused: stats.paused,
                oldestReadySeconds: stats.oldestReadyAge.map { Double($0.components.seconds) + Double($0.components.attoseconds) / 1e18 },
                enqueued: stats.enqueued, completed: stats.completed, failed: stats.failed, buried: stats.buried, cancelled: stats.cancelled,
                completedLastMinute: stats.completedPerMinute.last ?? 0, failedLastMinute: stats.failedPerMinute.last ?? 0
            ))
        }
        return Snapshot(queues: rows, workers: try await engine.liveWorkers(staleAfter: .seconds(staleAfter)))
    }

    private func render(_ snapshot: Snapshot) -> String {
        let queueTable = Table(
            header: ["QUEUE", "READY", "DELAYED", "LEASED", "DEAD", "PAUSED", "OLDEST", "DONE/MIN", "FAIL/MIN", "COMPLETED", "FAILED"],
            rows: snapshot.queues.map { row in
                [row.queue, "\(row.ready)", "\(row.delayed)", "\(row.leased)", "\(row.dead)", row.paused ? "yes" : "no",
                 row.oldestReadySeconds.map { String(format: "%.1fs", $0) } ?? "-", "\(row.completedLastMinute)", "\(row.failedLastMinute)",
                 "\(row.completed)", "\(row.failed)"]
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
