import ArgumentParser
import Foundation
import Logging
import PhoenixAPI
import PhoenixPlatform
import PhoenixQueue
import PhoenixRedis
import PhoenixSupabase
import PostgresNIO

/// `phoenix stats`: queues, live workers and, when a database is configured, the transactional-enqueue outbox.
struct Stats: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show every queue's counts, the live workers and, with DATABASE_URL set, the outbox of transactional enqueue."
    )

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
        let database = settings.hasDatabase ? PostgresClient(configuration: try settings.database(), backgroundLogger: Logger(label: "phoenix.postgres")) : nil
        try await withThrowingDiscardingTaskGroup { group in
            if let database { group.addTask { await database.run() } }
            repeat {
                let report = Report(overview: try await collect(engine), outbox: await outbox(database))
                if json {
                    let encoder = JSONEncoder()
                    encoder.outputFormatting = [.sortedKeys]
                    encoder.dateEncodingStrategy = .iso8601
                    print(String(decoding: try encoder.encode(report), as: UTF8.self))
                } else {
                    if watch { print("\u{1B}[2J\u{1B}[H", terminator: "") }
                    print(render(report.overview) + report.outboxLine)
                }
                if watch { try await Task.sleep(for: .seconds(2)) }
            } while watch
            group.cancelAll()
        }
    }

    /// What `phoenix stats` shows: the queues and workers (as `QueueOverview` encodes them) and the outbox.
    struct Report: Encodable {
        var overview: QueueOverview
        /// nil without a database; else the outbox's status or why it could not be read.
        var outbox: Result<OutboxStatus, OutboxUnreadable>?

        func encode(to encoder: any Encoder) throws {
            try overview.encode(to: encoder)
            var container = encoder.container(keyedBy: Keys.self)
            switch outbox {
            case .success(let status)?: try container.encode(status, forKey: .outbox)
            case .failure(let problem)?: try container.encode(["error": problem.description], forKey: .outbox)
            case nil: break
            }
        }

        enum Keys: String, CodingKey { case outbox }

        /// One line under the tables; empty without a database.
        var outboxLine: String {
            switch outbox {
            case .success(let status)?:
                "\n\noutbox: \(status.waiting) waiting" + (status.waiting > 0 ? String(format: " (oldest %.1fs)", status.oldestWaitingSeconds) : "")
                    + ", \(status.refused) refused"
            case .failure(let problem)?: "\n\noutbox: unavailable (\(problem.description))"
            case nil: ""
            }
        }
    }

    /// Why the outbox could not be read.
    struct OutboxUnreadable: Error, CustomStringConvertible {
        let description: String
    }

    private func outbox(_ database: PostgresClient?) async -> Result<OutboxStatus, OutboxUnreadable>? {
        guard let database else { return nil }
        switch await within(.seconds(5), { try await OutboxStatus.read(database) }) {
        case .success(let status)?: return .success(status)
        case .failure(let error)?: return .failure(OutboxUnreadable(description: "\(error)"))
        case nil: return .failure(OutboxUnreadable(description: "the database did not answer within 5 s"))
        }
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
