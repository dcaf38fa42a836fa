import ArgumentParser
import PhoenixQueue
import PhoenixRedis

extension QueueCommand {
    /// `phoenix queue flow QUEUE [--fair-share on|off] [--key-concurrency N|none] [--concurrency N|none]
    /// [--rpm N|none] [--tpm N|none]`.
    struct Flow: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show a queue's flow control, or change it: fair share among users, jobs running at once per user and in the queue, jobs started and provider tokens spent per minute.",
            discussion: "Settings live in Redis and apply to every worker at once. Fair share switches only while no job waits in the queue."
        )
        @Argument(help: "The queue.") var queue: String
        @Option(name: .long, help: "on: each user's jobs take turns with the others'; off: one line, first come first served.")
        var fairShare: Switch?
        @Option(name: .long, help: "Most jobs of one user running at once (a number, or none).")
        var keyConcurrency: Limit?
        @Option(name: .long, help: "Most jobs of the queue running at once, across every worker (a number, or none).")
        var concurrency: Limit?
        @Option(name: .long, help: "Most jobs of the queue started per minute, across every worker (a number, or none).")
        var rpm: Limit?
        @Option(name: .long, help: "Most provider tokens the queue's jobs spend per minute, as they report them (a number, or none).")
        var tpm: Limit?

        func run() async throws {
            let engine = try setUp()
            defer { engine.redis.shutdown() }
            let settings: FlowSettings
            if fairShare == nil && keyConcurrency == nil && concurrency == nil && rpm == nil && tpm == nil {
                settings = try await engine.flowSettings(queue: queue)
            } else {
                settings = try await engine.configureFlow(
                    queue: queue, fairShare: fairShare.map { $0 == .on }, keyConcurrency: keyConcurrency?.value, concurrency: concurrency?.value,
                    requestsPerMinute: rpm?.value, tokensPerMinute: tpm?.value
                )
            }
            print("\(queue): \(settings)")
        }
    }

    /// `on` or `off`.
    enum Switch: String, ExpressibleByArgument {
        case on, off
    }

    /// A limit on the command line: a number of 1 or more, or `none`.
    struct Limit: ExpressibleByArgument {
        let value: FlowLimit

        init?(argument: String) {
            if argument == "none" {
                value = .unlimited
            } else if let n = Int(argument), n >= 1 {
                value = .atMost(n)
            } else {
                return nil
            }
        }
    }
}
