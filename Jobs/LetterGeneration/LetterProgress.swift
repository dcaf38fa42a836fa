import Logging
import PhoenixJobsCore
import Synchronization

/// Publishes a letter as its provider writes it, as the job's progress: the text so far is the progress
/// message, so an app following the job's events (or polling it) shows the letter being written. Reports at
/// most every ``interval``, and the first ``maxCharacters`` of the text.
final class LetterProgress: Sendable {
    /// Shortest time between two reports.
    static let interval = Duration.milliseconds(500)
    /// A typical letter's length: the progress reported is the text's share of it, kept below 1 until the job
    /// ends.
    static let typicalLength = 2500.0
    /// Longest text reported: a letter runs to a few thousand characters, and each report is kept in the
    /// queue's event stream (10,000 events at most, so the letters stream holds 80 MB at the very worst).
    static let maxCharacters = 8_000

    let context: JobContext
    /// When the last report was sent.
    private let lastReport = Mutex<ContinuousClock.Instant?>(nil)

    init(context: JobContext) {
        self.context = context
    }

    /// Reports `text`, unless a report was sent less than ``interval`` ago. A failed report (Redis unreachable
    /// for a moment) is only logged: the letter matters more than its progress.
    func written(_ text: String) async {
        let now = ContinuousClock.now
        let due = lastReport.withLock { last in
            if let last, now - last < Self.interval { return false }
            last = now
            return true
        }
        guard due else { return }
        do {
            try await context.reportProgress(min(0.95, Double(text.count) / Self.typicalLength), String(text.prefix(Self.maxCharacters)))
        } catch {
            context.logger.debug("Could not report the letter's progress", metadata: ["error": "\(error)"])
        }
    }
}
