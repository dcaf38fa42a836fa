import ArgumentParser

/// `phoenix`: the one executable of Phoenix Jobs.
@main
struct Phoenix: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Phoenix Jobs: a job queue on Redis with typed Swift workers.",
        discussion: "Configuration comes from the environment: REDIS_URL, DATABASE_URL (or SUPABASE_DB_URL), WORKER_TYPE, WORKER_CONCURRENCY, LOG_LEVEL, PHOENIX_KEY_PREFIX.",
        version: "0.1.0",
        subcommands: [Dev.self, Serve.self, Work.self, Enqueue.self, Stats.self, Cancel.self, Dead.self, QueueCommand.self, Migrate.self, Bench.self, FairnessBench.self, RateBench.self, SSEBench.self, OutboxBench.self]
    )
}
