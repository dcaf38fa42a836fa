import Foundation
import PhoenixJobsCore
import PhoenixQueue
import PhoenixSupabase

/// What the dashboard's job page shows: the job's record (Redis), its state history and failed attempts (its
/// queue's event stream, the last ~10,000 events of the queue), its run row and result (`phoenix_job_runs`), and
/// its payload with personal fields masked (``PayloadMask``). A job the queue forgot shows its run row alone.
enum DashboardJobView {
    /// The page's values, `nil` when neither Redis nor `phoenix_job_runs` knows the job.
    static func make(id: UUID, queue: JobQueue, store: PhoenixStore, csrf: String, now: Date = Date()) async throws -> [String: Any]? {
        let text = id.lowercasedString
        let located = try await queue.locateJob(id: text)
        let run = try await store.run(jobID: id)
        guard located != nil || run != nil else { return nil }
        var history: [JobEvent] = []
        if let stream = located?.stream {
            history = try await queue.events(in: stream, after: .start, matching: { $0.jobID == text })
        }
        let record = located?.record
        let envelope = record?.envelope
        // A run row says `failed` for a job that died.
        let state = record?.state.rawValue ?? run.map { $0.status == "failed" ? "dead" : $0.status } ?? "?"
        let user = history.compactMap(\.user).last ?? run?.userID?.lowercasedString
        var view: [String: Any] = [
            "csrf": csrf, "id": text, "state": state, "generated": now.formatted(.iso8601),
            "type": envelope?.type ?? run?.type ?? "?", "queue": envelope?.queue ?? located?.stream.queue ?? run?.queue ?? "?",
            "attempt": record?.attempt ?? run?.attempt ?? 0, "maxAttempts": record.map { "\($0.maxAttempts)" } ?? "–",
            "worker": record?.worker ?? "–", "enqueuedBy": envelope?.enqueuedBy ?? "–",
            "enqueued": time(envelope?.enqueuedAt, now: now), "started": time(record?.startedAt ?? run?.startedAt, now: now),
            "finished": time(record?.finishedAt ?? run?.finishedAt, now: now),
            "duration": run?.durationMilliseconds.map { "\($0) ms" } ?? "–",
            "archived": record == nil, "cancelling": record?.cancelRequestedAt != nil && record?.state == .leased,
            "cancellable": record.map { [.ready, .delayed, .leased].contains($0.state) && $0.cancelRequestedAt == nil } ?? false,
            "dead": record?.state == .dead,
            "events": history.reversed().map { row($0, now: now) }, "hasEvents": !history.isEmpty,
        ]
        if let user { view["user"] = user }
        if let progress = record?.progress { view["progress"] = "\(Int((progress * 100).rounded())) %" }
        let failures = history.filter { $0.kind == .failed || $0.kind == .dead }
        view["failures"] = failures.map { ["attempt": $0.attempt.map(String.init) ?? "–", "at": time($0.at, now: now), "error": $0.error ?? "", "kind": $0.kind.rawValue] }
        view["hasFailures"] = !failures.isEmpty
        if let error = record?.lastError ?? run?.error { view["lastError"] = error }
        if let result = run?.result { view["result"] = pretty(result) }
        if let payload = envelope?.payload { view["payload"] = PayloadMask.maskedText(payload) }
        return view
    }

    /// A history row. Every key is set, empty when the event lacks it: a missing one would show the job's own
    /// value of that name (templates look a name up in the enclosing context).
    private static func row(_ event: JobEvent, now: Date) -> [String: Any] {
        var row: [String: Any] = [
            "event": event.kind.rawValue, "at": time(event.at, now: now), "attempt": "", "progress": "", "message": "", "error": "", "runAt": "",
        ]
        if let attempt = event.attempt { row["attempt"] = attempt }
        if let progress = event.progress { row["progress"] = "\(Int((progress * 100).rounded())) %" }
        // A progress message may be the text being written (a letter): only its size is shown.
        if let message = event.message { row["message"] = "‹masked: \(message.count) characters›" }
        if let error = event.error { row["error"] = error }
        if let runAt = event.runAt { row["runAt"] = runAt.formatted(JobEvent.timestamp) }
        return row
    }

    /// `2026-12-04T12:00:00.123Z (3 min ago)`.
    private static func time(_ date: Date?, now: Date) -> String {
        guard let date else { return "–" }
        let ago = now.timeIntervalSince(date)
        return date.formatted(JobEvent.timestamp) + (ago >= 0 ? " (\(DashboardView.age(ago)) ago)" : " (in \(DashboardView.age(-ago)))")
    }

    private static func pretty(_ json: String) -> String {
        guard let value = try? JSONValue.parse(Array(json.utf8)), let data = try? JSONEncoder.pretty.encode(value) else { return json }
        return String(decoding: data, as: UTF8.self)
    }
}
