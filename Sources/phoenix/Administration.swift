import ArgumentParser
import Foundation
import PhoenixQueue
import PhoenixRedis

/// `phoenix dead`: the dead set.
struct Dead: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List, retry or discard dead jobs.",
        subcommands: [List.self, Retry.self, Discard.self]
    )

    /// The queue whose dead set to act on.
    struct QueueOption: ParsableArguments {
        @Option(name: .long, help: "The queue.")
        var queue: String
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List dead jobs, most recent first.")
        @OptionGroup var target: QueueOption
        @Option(name: .long, help: "How many to show.")
        var limit: Int = 50

        func run() async throws {
            let engine = try setUp()
            defer { engine.redis.shutdown() }
            let dead = try await engine.deadJobs(queue: target.queue, limit: limit)
            guard !dead.isEmpty else {
                print("no dead jobs in \(target.queue)")
                return
            }
            let formatter = Date.ISO8601FormatStyle()
            print(Table(header: ["ID", "TYPE", "ATTEMPTS", "DIED", "ERROR"], rows: dead.map {
                [$0.id, $0.type ?? "?", "\($0.attempts)", $0.diedAt.formatted(formatter), $0.error]
            }).text)
        }
    }

    /// Which dead jobs a retry or discard acts on: ids, or `--all`.
    struct Selection: ParsableArguments {
        @OptionGroup var target: QueueOption
        @Flag(name: .long, help: "Every dead job of the queue.") var all = false
        @Argument(help: "Job ids.") var ids: [String] = []

        func validate() throws {
            guard ids.isEmpty == all else { throw ValidationError("give job ids or --all, not both and not neither") }
        }

        /// Runs `action` on the selected ids of the queue and prints what it did.
        func apply(verb: String, _ action: (JobQueue, String, [String]) async throws -> [Bool]) async throws {
            let engine = try setUp()
            defer { engine.redis.shutdown() }
            let chosen = all ? try await allDeadIDs(engine, queue: target.queue) : ids
            let done = try await action(engine, target.queue, chosen)
            let missed = zip(chosen, done).filter { !$0.1 }.map(\.0)
            print("\(verb) \(done.filter { $0 }.count) job(s)")
            if !missed.isEmpty { print("not in the dead set: \(missed.joined(separator: ", "))") }
        }
    }

    struct Retry: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Give dead jobs a fresh set of attempts.")
        @OptionGroup var selection: Selection

        func run() async throws {
            try await selection.apply(verb: "retried") { try await $0.retryDead(queue: $1, ids: $2) }
        }
    }

    struct Discard: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete dead jobs for good.")
        @OptionGroup var selection: Selection

        func run() async throws {
            try await selection.apply(verb: "discarded") { try await $0.discardDead(queue: $1, ids: $2) }
        }
    }
}

/// `phoenix queue`: pause and resume, flow control, the ready lists.
struct QueueCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "queue",
        abstract: "Pause or resume a queue, show or change its flow control, or list its ready lists.",
        subcommands: [Pause.self, Resume.self, Flow.self, ReadyLists.self]
    )

    struct ReadyLists: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "ready-lists",
            abstract: "Print the ready list of each of the queue's partitions (QUEUE_PARTITIONS), one per line: what a KEDA trigger watches."
        )
        @Argument(help: "The queue.") var queue: String

        func run() async throws {
            let keys = try Settings().keys()
            for partition in 0..<keys.partitionCount(queue) { print(keys.ready(queue, partition: partition)) }
        }
    }

    struct Pause: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Stop workers from fetching the queue's jobs (enqueueing goes on).")
        @Argument(help: "The queue.") var queue: String

        func run() async throws {
            let engine = try setUp()
            defer { engine.redis.shutdown() }
            try await engine.pause(queue: queue)
            print("paused \(queue)")
        }
    }

    struct Resume: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Let workers fetch the queue's jobs again.")
        @Argument(help: "The queue.") var queue: String

        func run() async throws {
            let engine = try setUp()
            defer { engine.redis.shutdown() }
            let wasPaused = try await engine.resume(queue: queue)
            print(wasPaused ? "resumed \(queue)" : "\(queue) was not paused")
        }
    }
}

/// The queue engine an administration command acts through, with logging set up.
func setUp() throws -> JobQueue {
    let settings = Settings()
    try bootstrapLogging(settings)
    return try makeQueue(settings)
}

private func allDeadIDs(_ engine: JobQueue, queue: String) async throws -> [String] {
    var ids: [String] = []
    while true {
        let page = try await engine.deadJobs(queue: queue, offset: ids.count, limit: 500)
        ids += page.map(\.id)
        if page.count < 500 { return ids }
    }
}
