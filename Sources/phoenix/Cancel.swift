import ArgumentParser
import Foundation
import PhoenixQueue
import PhoenixRedis

/// `phoenix cancel ID…`: cancels jobs, waiting or running.
struct Cancel: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Cancel jobs: a waiting job at once, a running one by its worker at its next heartbeat.",
        discussion: "A running job's handler is cancelled (its provider call, its Chromium process); the job ends cancelled without a retry, unless its handler had already finished."
    )

    @Argument(help: "Job ids.") var ids: [String]

    func validate() throws {
        guard !ids.isEmpty else { throw ValidationError("give the id of at least one job") }
        for id in ids where UUID(uuidString: id) == nil { throw ValidationError("'\(id.prefix(64))' is not a job id (a UUID)") }
    }

    func run() async throws {
        let engine = try setUp()
        defer { engine.redis.shutdown() }
        var failures = 0
        for id in ids.map({ $0.lowercased() }) {
            switch try await engine.cancel(id: id) {
            case .cancelled: print("\(id): cancelled")
            case .cancelling: print("\(id): running; its worker cancels it at its next heartbeat")
            case .notFound:
                print("\(id): no such job (never enqueued, or its record expired)")
                failures += 1
            case .notCancellable(let state):
                print("\(id): \(state.rawValue), nothing to cancel")
                failures += 1
            }
        }
        if failures > 0 { throw ExitCode(1) }
    }
}
