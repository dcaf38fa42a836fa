import Foundation
import PhoenixJobsCore
import PhoenixQueue
import Synchronization
import PhoenixWorker

/// Counts how often each job ran and whether a run saw cancellation; shared by the test job types.
final class RunLog: Sendable {
    private let state = Mutex<(runs: [String: Int], cancelled: Int)>(([:], 0))

    func ran(_ id: UUID) { state.withLock { $0.runs[id.uuidString, default: 0] += 1 } }
    func sawCancellation() { state.withLock { $0.cancelled += 1 } }

    /// Sleeps for `duration`, recording a cancellation that cuts it short.
    func sleep(for duration: Duration) async throws {
        do {
            try await Task.sleep(for: duration)
        } catch {
            sawCancellation()
            throw error
        }
    }
    var runs: [String: Int] { state.withLock { $0.runs } }
    var cancellations: Int { state.withLock { $0.cancelled } }
}

/// Records that it ran, and nothing else.
struct RecordedJob: JobType {
    struct Payload: Codable, Sendable {}
    static let name = "test.recorded"
    static let queue = "diagnostics"
    let log: RunLog

    func run(_ payload: Payload, context: JobContext) async throws {
        log.ran(context.jobID)
    }
}

/// Sleeps far longer than its timeout.
struct SlowJob: JobType {
    struct Payload: Codable, Sendable {}
    static let name = "test.slow"
    static let queue = "diagnostics"
    static var timeout: Duration { .milliseconds(200) }
    static var maxAttempts: Int { 2 }
    static var retryPolicy: RetryPolicy { RetryPolicy(baseDelay: .seconds(60), maxDelay: .seconds(60)) }
    let log: RunLog

    func run(_ payload: Payload, context: JobContext) async throws {
        log.ran(context.jobID)
        try await log.sleep(for: .seconds(10))
    }
}

/// Reports progress, then enqueues a follow-up noop.
struct ParentJob: JobType {
    struct Payload: Codable, Sendable { var label: String }
    static let name = "test.parent"
    static let queue = "diagnostics"

    func run(_ payload: Payload, context: JobContext) async throws {
        try await context.reportProgress(0.5, "half of \(payload.label)")
        try await context.enqueue(DiagnosticJobs.Noop.self, .init(), idempotencyKey: "child-of-\(context.jobID)")
    }
}

/// Fails retryably every time, with a quick retry.
struct FlakyJob: JobType {
    struct Payload: Codable, Sendable {}
    static let name = "test.flaky"
    static let queue = "diagnostics"
    static var maxAttempts: Int { 3 }
    static var retryPolicy: RetryPolicy { RetryPolicy(baseDelay: .milliseconds(50), maxDelay: .milliseconds(100)) }
    struct Oops: Error, CustomStringConvertible { var description: String { "upstream said 503" } }

    func run(_ payload: Payload, context: JobContext) async throws {
        throw Oops()
    }
}

/// Records how many of its runs overlap.
final class Overlap: Sendable {
    private let state = Mutex<(now: Int, peak: Int)>((0, 0))

    func enter() { state.withLock { $0.now += 1; $0.peak = max($0.peak, $0.now) } }
    func leave() { state.withLock { $0.now -= 1 } }
    var peak: Int { state.withLock { $0.peak } }
}

/// Sleeps 20 ms while counted by an ``Overlap``.
struct OverlapJob: JobType {
    struct Payload: Codable, Sendable {}
    static let name = "test.overlap"
    static let queue = "diagnostics"
    let overlap: Overlap

    func run(_ payload: Payload, context: JobContext) async throws {
        overlap.enter()
        defer { overlap.leave() }
        try await Task.sleep(for: .milliseconds(20))
    }
}

/// A handler that ignores cancellation, as a database call whose connection died under it did
/// (docs/RELIABILITY.md): it waits on `gate` until the test opens it, whatever happens to its task.
struct StuckJob: JobType {
    struct Payload: Codable, Sendable {}
    static let name = "test.stuck"
    static let queue = "diagnostics"
    static var timeout: Duration { .seconds(1) }
    static var maxAttempts: Int { 2 }
    static var retryPolicy: RetryPolicy { RetryPolicy(baseDelay: .seconds(60), maxDelay: .seconds(60)) }
    let gate: Gate

    func run(_ payload: Payload, context: JobContext) async throws {
        await gate.wait()
    }
}

/// Opened once by the test; every waiter then goes on. Waiting ignores cancellation on purpose.
final class Gate: Sendable {
    private let waiters = Mutex<(open: Bool, continuations: [CheckedContinuation<Void, Never>])>((false, []))

    func wait() async {
        await withCheckedContinuation { continuation in
            let open = waiters.withLock { state in
                if !state.open { state.continuations.append(continuation) }
                return state.open
            }
            if open { continuation.resume() }
        }
    }

    func open() {
        let continuations = waiters.withLock { state in
            state.open = true
            defer { state.continuations = [] }
            return state.continuations
        }
        for continuation in continuations { continuation.resume() }
    }
}

/// Told to wait by its provider (``RetryLater``, two seconds) on its first run; completes on the next.
struct ThrottledJob: JobType {
    struct Payload: Codable, Sendable {}
    static let name = "test.throttled"
    static let queue = "diagnostics"
    static var maxAttempts: Int { 1 }
    let log: RunLog

    func run(_ payload: Payload, context: JobContext) async throws {
        log.ran(context.jobID)
        if log.runs[context.jobID.uuidString] == 1 {
            throw RetryLater(after: .seconds(2), reason: "the fake provider answered 429")
        }
    }
}

/// Waits a minute unless cancelled, recording that it ran and whether it saw cancellation.
struct CancellableJob: JobType {
    struct Payload: Codable, Sendable {}
    static let name = "test.cancellable"
    static let queue = "diagnostics"
    let log: RunLog

    func run(_ payload: Payload, context: JobContext) async throws {
        log.ran(context.jobID)
        try await log.sleep(for: .seconds(60))
    }
}
