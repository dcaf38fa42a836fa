import ArgumentParser
import Foundation
import PhoenixPlatform
import PhoenixJobsCore
import PhoenixQueue
import PhoenixRedis

/// `phoenix enqueue`: adds one job, or every job of a JSON-lines file.
struct Enqueue: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Enqueue a job (TYPE --payload JSON), or many from a JSON-lines file (--file).",
        discussion: """
        Each line of --file is an object: {"type": "diagnostic.noop", "payload": {…}} with optional "queue", \
        "delaySeconds", "priority", "idempotencyKey", "correlationId". Every line is checked before any job is enqueued.
        """
    )

    @Argument(help: "Job type, e.g. diagnostic.noop (omit with --file).")
    var type: String?

    @Option(name: .long, help: "The payload, a JSON object.")
    var payload: String = "{}"

    @Option(name: .long, help: "A JSON-lines file of jobs.")
    var file: String?

    @Option(name: .long, help: "Queue, when not the type's own.")
    var queue: String?

    @Option(name: .long, help: "Seconds to wait before the job may run.")
    var delay: Double?

    @Option(name: .long, help: "Above 0: fetched before every priority-0 job.")
    var priority: Int = 0

    @Option(name: .long, help: "A second enqueue with the same key returns the first job's id.")
    var idempotencyKey: String?

    func validate() throws {
        guard (type == nil) != (file == nil) else { throw ValidationError("give either a job TYPE or --file, not both and not neither") }
        if let delay, delay < 0 { throw ValidationError("--delay must not be negative") }
    }

    func run() async throws {
        let settings = Settings()
        try bootstrapLogging(settings)
        let jobs = try file.map(readJobs) ?? [try singleJob()]
        let engine = try makeQueue(settings)
        defer { engine.redis.shutdown() }
        let progress = ProgressBar(total: jobs.count, enabled: file != nil)
        var created = 0
        for start in stride(from: 0, to: jobs.count, by: 500) {
            let results = try await engine.enqueue(Array(jobs[start..<min(start + 500, jobs.count)]))
            created += results.filter(\.created).count
            if file == nil { results.forEach { print($0.id.lowercasedString) } }
            progress.update(min(start + 500, jobs.count))
        }
        progress.finish()
        if file != nil {
            print("enqueued \(created) job(s); \(jobs.count - created) already present")
        }
    }

    private func singleJob() throws -> JobEnvelope {
        let submission = JobSubmission(type: type ?? "", payload: try parseJSON(payload, what: "--payload"), queue: queue, delaySeconds: delay, priority: priority, idempotencyKey: idempotencyKey)
        return try envelope(submission, what: "job")
    }

    private func readJobs(_ path: String) throws -> [JobEnvelope] {
        guard let data = FileManager.default.contents(atPath: path) else { throw InputError("cannot read --file \(path)") }
        var jobs: [JobEnvelope] = []
        for (lineIndex, line) in String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let text = line.trimmingCharacters(in: .whitespaces)
            guard !text.isEmpty else { continue }
            let what = "\(path):\(lineIndex + 1)"
            do {
                jobs.append(try envelope(JobSubmission(json: try parseJSON(text, what: what)), what: what))
            } catch let error as JobSubmissionError {
                throw InputError("\(what): \(error)")
            }
        }
        return jobs
    }

    private func envelope(_ submission: JobSubmission, what: String) throws -> JobEnvelope {
        do {
            return try submission.envelope(catalog: PhoenixJobs.catalog(), enqueuedBy: "cli")
        } catch {
            throw InputError("\(what): \(error)")
        }
    }

    private func parseJSON(_ text: String, what: String) throws -> JSONValue {
        do {
            return try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
        } catch {
            throw InputError("\(what) is not valid JSON: \((error as? DecodingError)?.fieldDescription ?? "\(error)")")
        }
    }
}

/// A one-line progress bar on standard error, drawn only when it is a terminal.
struct ProgressBar {
    let total: Int
    let enabled: Bool

    init(total: Int, enabled: Bool) {
        self.total = total
        self.enabled = enabled && isatty(STDERR_FILENO) == 1
    }

    func update(_ done: Int) {
        guard enabled, total > 0 else { return }
        let width = 30
        let filled = done * width / total
        let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
        FileHandle.standardError.write(Data("\r[\(bar)] \(done)/\(total)".utf8))
    }

    func finish() {
        guard enabled else { return }
        FileHandle.standardError.write(Data("\n".utf8))
    }
}
