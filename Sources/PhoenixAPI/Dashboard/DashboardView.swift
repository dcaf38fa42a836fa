import Foundation
import PhoenixJobsCore
import PhoenixSupabase
import PhoenixQueue

/// What the dashboard template shows, gathered from Redis (queues, throughput, workers, running jobs, dead set) and
/// PostgreSQL (recent runs). Every text value is escaped by the template; the chart is SVG built here from
/// numbers only.
enum DashboardView {
    static func make(queue: JobQueue, store: PhoenixStore, knownQueues: [String], csrf: String, now: Date = Date()) async throws -> [String: Any] {
        let names = Set(try await queue.queues()).union(knownQueues).sorted()
        var completed = [Int](repeating: 0, count: 60)
        var failed = [Int](repeating: 0, count: 60)
        var queues: [[String: Any]] = []
        var dead: [[String: Any]] = []
        var running: [[String: Any]] = []
        for name in names {
            let stats = try await queue.stats(queue: name, minutes: 60)
            let lastHour = (completed: Array(stats.completedPerMinute.suffix(60)), failed: Array(stats.failedPerMinute.suffix(60)))
            for (index, value) in lastHour.completed.enumerated() { completed[60 - lastHour.completed.count + index] += value }
            for (index, value) in lastHour.failed.enumerated() { failed[60 - lastHour.failed.count + index] += value }
            queues.append([
                "name": name, "ready": stats.ready, "delayed": stats.delayed, "leased": stats.leased, "dead": stats.dead,
                "completed": stats.completed, "failed": stats.failed, "paused": stats.paused,
                "flow": stats.flow.summary(keysInTurn: stats.keysInTurn, keysAtLimit: stats.keysAtLimit, rates: stats.rates),
                "oldest": stats.oldestReadyAge.map { age(Double($0.components.seconds)) } ?? "–",
                "completedHour": lastHour.completed.reduce(0, +), "failedHour": lastHour.failed.reduce(0, +),
            ])
            for job in try await queue.runningJobs(queue: name, limit: 20) {
                running.append([
                    "queue": name, "id": job.id, "type": job.type ?? "?", "worker": job.worker ?? "?", "cancelling": job.cancelling,
                    "started": job.startedAt.map { age(now.timeIntervalSince($0)) + " ago" } ?? "–",
                ])
            }
            for job in try await queue.deadJobs(queue: name, limit: 20) {
                dead.append(["queue": name, "id": job.id, "type": job.type ?? "?", "attempts": job.attempts, "error": job.error, "died": age(now.timeIntervalSince(job.diedAt)) + " ago"])
            }
        }
        let workers: [[String: Any]] = try await queue.liveWorkers(staleAfter: .seconds(30)).map { worker in
            [
                "type": worker.type, "host": worker.host, "pid": worker.pid, "busy": worker.busy, "concurrency": worker.concurrency,
                "processed": worker.processed, "failed": worker.failed,
                "heartbeat": worker.heartbeatAt.map { age(now.timeIntervalSince($0)) + " ago" } ?? "–",
            ]
        }
        let runs: [[String: Any]] = try await store.recentRuns(limit: 25).map { run in
            [
                "id": run.jobID.lowercasedString, "type": run.type, "queue": run.queue, "status": run.status, "attempt": run.attempt,
                "started": age(now.timeIntervalSince(run.startedAt)) + " ago", "duration": run.durationMilliseconds.map { "\($0) ms" } ?? "–",
                "error": run.error ?? "",
            ]
        }
        // The outbox of transactional enqueue; a database that does not answer in 2 s leaves a note, not an error page.
        let outbox: [String: Any] = switch await within(.seconds(2), { try await OutboxStatus.read(store.client) }) {
        case .success(let status)?:
            ["waiting": status.waiting, "refused": status.refused, "oldest": status.waiting > 0 ? age(status.oldestWaitingSeconds) : "–"]
        case .failure(let error)?: ["unavailable": "\(error)"]
        case nil: ["unavailable": "the database did not answer within 2 s"]
        }
        return [
            "generated": now.formatted(.iso8601), "csrf": csrf, "queues": queues, "outbox": outbox, "workers": workers, "hasWorkers": !workers.isEmpty,
            "dead": dead, "hasDead": !dead.isEmpty, "running": running, "hasRunning": !running.isEmpty, "runs": runs, "hasRuns": !runs.isEmpty,
            "chart": chart(completed: completed, failed: failed),
            "completedHour": completed.reduce(0, +), "failedHour": failed.reduce(0, +),
        ]
    }

    /// Completed (green) and failed (red) jobs per minute over the last hour, as an SVG line chart.
    static func chart(completed: [Int], failed: [Int]) -> String {
        let width = 720.0, height = 160.0, left = 44.0, bottom = 20.0
        let top = Double(max(1, (completed + failed).max() ?? 1))
        func points(_ values: [Int]) -> String {
            values.enumerated().map { index, value in
                let x = left + Double(index) * (width - left - 8) / Double(max(1, values.count - 1))
                let y = (height - bottom) - Double(value) / top * (height - bottom - 10)
                return String(format: "%.1f,%.1f", x, y)
            }.joined(separator: " ")
        }
        return """
            <svg class="chart" viewBox="0 0 \(Int(width)) \(Int(height))" role="img" aria-label="jobs per minute over the last hour">
            <line x1="\(left)" y1="\(height - bottom)" x2="\(width - 8)" y2="\(height - bottom)" stroke="#9aa5b1"/>
            <line x1="\(left)" y1="10" x2="\(left)" y2="\(height - bottom)" stroke="#9aa5b1"/>
            <text x="\(left - 6)" y="16" text-anchor="end">\(Int(top))</text><text x="\(left - 6)" y="\(height - bottom)" text-anchor="end">0</text>
            <text x="\(left)" y="\(height - 4)">−60 min</text><text x="\(width - 8)" y="\(height - 4)" text-anchor="end">now</text>
            <polyline fill="none" stroke="#2f9e44" stroke-width="2" points="\(points(completed))"/>
            <polyline fill="none" stroke="#e03131" stroke-width="2" points="\(points(failed))"/>
            </svg>
            """
    }

    /// `42 s`, `3 min`, `2 h`, `4 d`.
    static func age(_ seconds: TimeInterval) -> String {
        switch max(0, seconds) {
        case ..<60: "\(Int(seconds)) s"
        case ..<3600: "\(Int(seconds / 60)) min"
        case ..<86_400: "\(Int(seconds / 3600)) h"
        default: "\(Int(seconds / 86_400)) d"
        }
    }
}
