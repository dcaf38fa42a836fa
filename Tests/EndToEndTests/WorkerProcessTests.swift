import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import LocalServers
import PhoenixJobsCore
import PhoenixPlatform
import PhoenixQueue
import PhoenixRedis
import Testing
import TestSupport

/// Real `phoenix work` processes, killed and stopped with signals.
@Suite(.serialized) struct WorkerProcessTests {
    /// Worker flags that make leases expire and heartbeats go stale within seconds.
    let fastWorker = ["work", "--type", "diagnostics", "--lease", "2", "--heartbeat", "0.5", "--stale-after", "2", "--grace", "10"]

    @Test func jobsSurviveAWorkerKilledMidRunAndOnlyItsInFlightJobsRunTwice() async throws {
        let cli = try PhoenixCLI()
        let jobs = (0..<2000).map { _ in
            JobEnvelope(type: "diagnostic.sleep", queue: "diagnostics", payload: .object(["ms": .number(10)]), maxAttempts: 5)
        }
        try await cli.queue.enqueue(jobs)
        let victim = try cli.start(fastWorker + ["--concurrency", "10"], name: "victim")
        let survivor = try cli.start(fastWorker + ["--concurrency", "10"], name: "survivor")

        try await eventually("a quarter of the jobs completed") { try await cli.queue.stats(queue: "diagnostics").completed >= 500 }
        victim.send(SIGKILL)
        _ = await victim.exited()
        // What the killed worker held at that moment: leased to it, not yet acked.
        let inFlight = Set(try await leasedJobs(cli.queue, heldBy: "\(victim.pid)"))
        #expect(!inFlight.isEmpty)

        try await eventually("every job completed", timeout: .seconds(60)) { try await cli.queue.stats(queue: "diagnostics").completed == 2000 }
        let stats = try await cli.queue.stats(queue: "diagnostics")
        #expect((stats.ready, stats.delayed, stats.leased, stats.dead) == (0, 0, 0, 0))
        #expect(stats.enqueued == 2000)

        let attempts = try await cli.queue.redis.pipeline(jobs.map { RedisCommand("HGET", cli.queue.keys.job($0.idString, in: "diagnostics"), "attempt") })
        var ranTwice = Set<String>()
        for (job, reply) in zip(jobs, attempts) {
            let attempt = try reply.get().int ?? 0
            #expect(attempt >= 1)
            if attempt > 1 { ranTwice.insert(job.idString) }
        }
        // Only jobs the killed worker had in flight were delivered again, and each of them was.
        #expect(ranTwice == inFlight)

        survivor.send(SIGTERM)
        #expect(ChildProcess.exitCode(ofStatus: await survivor.exited()) == 0)
    }

    /// Issue 17: a worker builds only the handlers of its own job types, so it needs only their settings. Each
    /// worker type starts with the settings of every other type malformed (and without `DATABASE_URL` for
    /// diagnostics); before, every worker built every handler, and any of them stopped on a bad letter setting.
    @Test func aWorkerOfEachTypeStartsWithOnlyItsOwnSettings() async throws {
        let database = try TestPostgres.url()
        /// A malformed value of a setting only one worker type reads.
        let malformed: [WorkerType: (variable: String, value: String)] = [
            .letters: ("MAX_RESPONSE_TIME", "soon"), .cv: ("PHOENIX_TEMPLATES_DIR", "/nonexistent/templates"),
            .userProfile: ("JOB_RUNS_RETENTION_DAYS", "forever"),
        ]
        for type in WorkerType.allCases {
            let cli = try PhoenixCLI()
            var environment = Dictionary(uniqueKeysWithValues: malformed.filter { $0.key != type }.map { ($0.value.variable, $0.value.value) })
            if type != .diagnostics { environment["DATABASE_URL"] = database }
            let worker = try cli.start(["work", "--type", type.rawValue, "--heartbeat", "0.5"], name: type.rawValue, extraEnvironment: environment)
            try await eventually("the \(type.rawValue) worker registered") {
                try await cli.queue.liveWorkers(staleAfter: .seconds(30)).map { [$0.type] + $0.queues } == [[type.rawValue, type.queue]]
            }
            worker.send(SIGTERM)
            #expect(ChildProcess.exitCode(ofStatus: await worker.exited()) == 0, "\(type.rawValue): \(cli.output(of: type.rawValue))")
        }
        // Its own malformed setting still stops a worker at start, in one line naming the variable.
        for (type, setting) in malformed {
            let cli = try PhoenixCLI()
            let (status, output) = try await cli.run(["work", "--type", type.rawValue], extraEnvironment: [setting.variable: setting.value, "DATABASE_URL": database])
            #expect(status == 1, "\(type.rawValue)")
            #expect(output.hasPrefix("Error: \(setting.variable)"), "\(type.rawValue): \(output)")
        }
    }

    @Test func sigtermLetsRunningJobsFinishAndExitsZero() async throws {
        let cli = try PhoenixCLI()
        let jobs = (0..<6).map { _ in JobEnvelope(type: "diagnostic.sleep", queue: "diagnostics", payload: .object(["ms": .number(1500)])) }
        try await cli.queue.enqueue(jobs)
        let worker = try cli.start(fastWorker + ["--concurrency", "6"], name: "graceful")
        // Running, not only fetched: a fetched job that has not started is handed back at SIGTERM, as it should be.
        // diagnostic.sleep reports progress half-way, so progress on all six means all six are running.
        try await eventually("all six running") {
            for job in jobs where try await cli.queue.job(id: job.idString)?.progress == nil { return false }
            return true
        }
        let signalled = ContinuousClock.now
        worker.send(SIGTERM)
        let status = await worker.exited()
        let took = ContinuousClock.now - signalled
        #expect(ChildProcess.exitCode(ofStatus: status) == 0)
        #expect(took < .seconds(10), "exited within the grace period")
        let stats = try await cli.queue.stats(queue: "diagnostics")
        #expect((stats.completed, stats.leased, stats.ready, stats.failed) == (6, 0, 0, 0))
        #expect(cli.output(of: "graceful").contains("Worker stopped"))
    }

    /// What container health checks and liveness probes ask (Deploy/compose.yaml, Deploy/k8s): the worker's
    /// metrics port answers /health and /metrics while it works, and the worker still stops cleanly.
    @Test func workerServesHealthAndMetricsOnItsMetricsPort() async throws {
        let cli = try PhoenixCLI()
        let port = LoopbackPort.free()
        let worker = try cli.start(fastWorker + ["--metrics-port", "\(port)"], name: "metrics-port")
        try await eventually("the metrics port accepts connections") { LoopbackPort.accepts(port) }
        let (health, healthResponse) = try await URLSession.shared.data(from: URL(string: "http://127.0.0.1:\(port)/health")!)
        #expect((healthResponse as? HTTPURLResponse)?.statusCode == 200)
        #expect(String(decoding: health, as: UTF8.self).contains(#""status":"healthy""#))
        try await eventually("a heartbeat is exported") {
            let (metrics, _) = try await URLSession.shared.data(from: URL(string: "http://127.0.0.1:\(port)/metrics")!)
            return String(decoding: metrics, as: UTF8.self).contains(#"phoenix_worker_last_heartbeat_timestamp_seconds{worker_type="diagnostics"}"#)
        }
        worker.send(SIGTERM)
        #expect(ChildProcess.exitCode(ofStatus: await worker.exited()) == 0)
    }

    @Test func killedWorkerLeavesStatsOnceStaleAndItsJobsReturnToReady() async throws {
        let cli = try PhoenixCLI()
        let jobs = (0..<3).map { _ in JobEnvelope(type: "diagnostic.sleep", queue: "diagnostics", payload: .object(["ms": .number(60_000)])) }
        try await cli.queue.enqueue(jobs)
        let victim = try cli.start(fastWorker + ["--concurrency", "3"], name: "killed")
        try await eventually("jobs leased") { try await cli.queue.stats(queue: "diagnostics").leased == 3 }
        // Paused, so that the reaped jobs stay in ready where the test can see them.
        #expect(try await cli.run(["queue", "pause", "diagnostics"]).status == 0)
        victim.send(SIGKILL)
        _ = await victim.exited()
        let watcher = try cli.start(fastWorker, name: "watcher")

        try await eventually("the killed worker left stats and its jobs are ready again") {
            let (status, output) = try await cli.run(["stats", "--json", "--stale-after", "2"])
            guard status == 0, let snapshot = try? JSONDecoder().decode(StatsSnapshot.self, from: Data(output.utf8)) else { return false }
            let pids = snapshot.workers.map(\.pid)
            let diagnostics = snapshot.queues.first { $0.queue == "diagnostics" }
            return !pids.contains(Int(victim.pid)) && pids.contains(Int(watcher.pid)) && diagnostics?.ready == 3 && diagnostics?.leased == 0
        }
        watcher.send(SIGTERM)
        #expect(ChildProcess.exitCode(ofStatus: await watcher.exited()) == 0)
    }

    @Test func badSettingsStopStartUpWithOneLineNamingTheVariable() async throws {
        let cli = try PhoenixCLI()
        let (badStatus, output) = try await cli.run(["work"], extraEnvironment: ["WORKER_TYPE": "letters,nope"])
        #expect(badStatus == 1)
        #expect(output.trimmingCharacters(in: .whitespacesAndNewlines) == "Error: WORKER_TYPE: unknown worker type 'nope'; expected one of event_bridge, user_profile, letters, cv, diagnostics, a comma-separated list, or all")
        let (status, usage) = try await cli.run(["enqueue"])
        #expect(status != 0)
        #expect(usage.contains("give either a job TYPE or --file"))
        let (serveStatus, serveOutput) = try await cli.run(["serve", "--port", "0"], extraEnvironment: ["DATABASE_URL": "postgres://nobody@127.0.0.1:1/none"])
        #expect(serveStatus == 1)
        #expect(serveOutput.trimmingCharacters(in: .whitespacesAndNewlines) == "Error: JWT_SECRET_KEY: is not set, nor SUPABASE_JWKS or SUPABASE_URL: the API cannot check tokens")
        let (shortStatus, shortOutput) = try await cli.run(["serve"], extraEnvironment: ["JWT_SECRET_KEY": "short", "DATABASE_URL": "postgres://nobody@127.0.0.1:1/none"])
        #expect(shortStatus == 1 && shortOutput.contains("JWT_SECRET_KEY: must be at least 32 bytes"))
        let (letterStatus, letterOutput) = try await cli.run(["work", "--type", "letters"], extraEnvironment: ["MAX_RESPONSE_TIME": "forever", "DATABASE_URL": "postgres://nobody@127.0.0.1:1/none"])
        #expect(letterStatus == 1 && letterOutput.contains("MAX_RESPONSE_TIME: must be a number of seconds"))
    }

    /// Issue 18 (2): commands reach a TLS-only Redis that checks client certificates through `rediss://` and
    /// the TLS files; TLS settings that cannot be used stop start-up with one line naming the variable.
    @Test func commandsReachATLSOnlyRedisAndBadTLSSettingsStopStartUp() async throws {
        let cli = try PhoenixCLI()
        let server = try await RedisServerProcess(tls: .init(requiresClientCertificates: true))
        let tls = [
            "REDIS_URL": server.url, "REDIS_TLS_CA_FILE": try TestTLS.file("ca.pem"),
            "REDIS_TLS_CERT_FILE": try TestTLS.file("client.pem"), "REDIS_TLS_KEY_FILE": try TestTLS.file("client-key.pem"),
        ]
        let (enqueued, enqueueOutput) = try await cli.run(["enqueue", "diagnostic.noop", "--payload", "{}"], extraEnvironment: tls)
        #expect(enqueued == 0, "\(enqueueOutput)")
        let (listed, statsOutput) = try await cli.run(["stats", "--json"], extraEnvironment: tls)
        #expect(listed == 0 && statsOutput.contains("\"diagnostics\""), "\(statsOutput)")
        let cases: [([String: String], String)] = [
            (["REDIS_TLS_CA_FILE": "/nonexistent/ca.pem"], "Error: REDIS_TLS_CA_FILE: invalid Redis TLS setting: CA file /nonexistent/ca.pem cannot be read"),
            (["REDIS_TLS_KEY_FILE": ""], "Error: REDIS_TLS_KEY_FILE: not set, but REDIS_TLS_CERT_FILE is"),
            (["REDIS_URL": "redis://127.0.0.1:\(server.port)/0"], "Error: REDIS_TLS_CA_FILE: set, but REDIS_URL is redis:// (no TLS)"),
        ]
        for (change, line) in cases {
            let (status, output) = try await cli.run(["stats"], extraEnvironment: tls.merging(change) { $1 })
            let text = output.trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(status == 1 && text.hasPrefix(line) && !text.contains("\n"), "\(change): \(status) \(text)")
        }
    }

    /// Issue 18 (3): commands find the master through `REDIS_SENTINELS`; with `REDIS_ENQUEUE_REPLICAS`, an
    /// enqueue that fewer replicas acknowledge fails saying so; malformed settings stop start-up naming them.
    @Test func commandsFindTheMasterThroughSentinelsAndEnqueueWaitsForReplicas() async throws {
        let cli = try PhoenixCLI()
        let group = try await SentinelGroup()
        // REDIS_URL's host and port are not used with sentinels: port 1 has no server.
        let sentinels = ["REDIS_URL": "redis://127.0.0.1:1/0", "REDIS_SENTINELS": group.sentinelList, "REDIS_SENTINEL_MASTER": group.masterName]
        let (enqueued, enqueueOutput) = try await cli.run(["enqueue", "diagnostic.noop", "--payload", "{}"], extraEnvironment: sentinels.merging(["REDIS_ENQUEUE_REPLICAS": "1"]) { $1 })
        #expect(enqueued == 0, "\(enqueueOutput)")
        let master = RedisClient(configuration: try RedisConfiguration(url: group.master.url), poolSize: 1)
        defer { master.shutdown() }
        #expect(try await master.send("LLEN", cli.queue.keys.ready("diagnostics")) == .integer(1))
        let (refused, refusedOutput) = try await cli.run(
            ["enqueue", "diagnostic.noop", "--payload", "{}"],
            extraEnvironment: sentinels.merging(["REDIS_ENQUEUE_REPLICAS": "2", "REDIS_ENQUEUE_REPLICA_TIMEOUT_MS": "200"]) { $1 }
        )
        #expect(refused == 1 && refusedOutput.contains("1 of the 2 replicas required acknowledged them in time"), "\(refusedOutput)")
        let cases: [([String: String], String)] = [
            (["REDIS_SENTINEL_MASTER": ""], "Error: REDIS_SENTINEL_MASTER: not set, but REDIS_SENTINELS is"),
            (["REDIS_SENTINELS": "", "REDIS_URL": group.master.url], "Error: REDIS_SENTINEL_MASTER: set, but REDIS_SENTINELS is not"),
            (["REDIS_SENTINELS": "127.0.0.1:99999"], "Error: REDIS_SENTINELS: invalid Redis Sentinel setting: '127.0.0.1:99999': the port"),
            (["REDIS_ENQUEUE_REPLICAS": "none"], "Error: REDIS_ENQUEUE_REPLICAS: must be a whole number from 1 to 16"),
            (["REDIS_ENQUEUE_REPLICA_TIMEOUT_MS": "100"], "Error: REDIS_ENQUEUE_REPLICA_TIMEOUT_MS: set, but REDIS_ENQUEUE_REPLICAS is not"),
        ]
        for (change, line) in cases {
            let (status, output) = try await cli.run(["stats"], extraEnvironment: sentinels.merging(change) { $1 })
            let text = output.trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(status == 1 && text.hasPrefix(line) && !text.contains("\n"), "\(change): \(status) \(text)")
        }
    }

    /// Issue 14 (7): `ENVIRONMENT=production` refuses unsafe settings, one line naming each.
    @Test func productionRefusesUnsafeSettingsOneLineEach() async throws {
        let cli = try PhoenixCLI()
        let safe = [
            "ENVIRONMENT": "production", "JWT_SECRET_KEY": String(repeating: "s", count: 32),
            "DATABASE_URL": "postgres://nobody@127.0.0.1:1/none?sslmode=verify-full", "SUPABASE_URL": "https://project.supabase.test",
            "ALLOWED_ORIGINS": "https://app.phoenix.test", "DASHBOARD_PASSWORD": "a-long-enough-password",
        ]
        let cases: [([String: String], String)] = [
            (["DATABASE_URL": "postgres://nobody@127.0.0.1:1/none"], "Error: DATABASE_URL: in production the database connection must verify the server's certificate"),
            (["DATABASE_URL": "postgres://nobody@127.0.0.1:1/none?sslmode=require"], "Error: DATABASE_URL: in production"),
            (["SUPABASE_URL": "http://project.supabase.test"], "Error: SUPABASE_URL: in production it must be an https:// URL"),
            (["ALLOWED_ORIGINS": ""], "Error: ALLOWED_ORIGINS: in production list the origins"),
            (["DASHBOARD_PASSWORD": ""], "Error: DASHBOARD_PASSWORD: in production set a password of at least 16 characters"),
            (["DASHBOARD_PASSWORD": "short"], "Error: DASHBOARD_PASSWORD: in production"),
            (["ENVIRONMENT": "prod"], "Error: ENVIRONMENT: expected development, staging or production, got 'prod'"),
        ]
        for (change, line) in cases {
            let (status, output) = try await cli.run(["serve", "--port", "0"], extraEnvironment: safe.merging(change) { $1 })
            let text = output.trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(status == 1 && text.hasPrefix(line) && !text.contains("\n"), "\(change): \(status) \(text)")
        }
        let (workStatus, workOutput) = try await cli.run(["work", "--type", "letters"], extraEnvironment: ["ENVIRONMENT": "production", "DATABASE_URL": "postgres://nobody@127.0.0.1:1/none"])
        #expect(workStatus == 1 && workOutput.contains("DATABASE_URL: in production the database connection must verify"))
        let (devStatus, devOutput) = try await cli.run(["dev"], extraEnvironment: ["ENVIRONMENT": "production"])
        #expect(devStatus == 1 && devOutput.contains("ENVIRONMENT: phoenix dev makes up secrets"))
    }

    /// Issue 15 (5): a Redis that may evict keys is refused at start, naming the setting.
    @Test func aWorkerRefusesAnEvictingRedisNamingTheSetting() async throws {
        let cli = try PhoenixCLI()
        let server = try await RedisServerProcess(options: ["--maxmemory-policy", "allkeys-lru"])
        for command in [["work", "--type", "diagnostics"], ["serve", "--port", "0"]] {
            let (status, output) = try await cli.run(command, extraEnvironment: [
                "REDIS_URL": server.url, "JWT_SECRET_KEY": String(repeating: "s", count: 32), "DATABASE_URL": "postgres://nobody@127.0.0.1:1/none",
            ])
            #expect(status == 1)
            #expect(output.contains("Error: REDIS_URL: the server's maxmemory-policy is 'allkeys-lru'; set maxmemory-policy to noeviction"), "\(command): \(output)")
        }
    }

    /// Issue 18 (4): a worker or server started against keys of another layout refuses, saying what to do; on a
    /// fresh prefix it records its own.
    @Test func aWorkerRefusesKeysOfAnotherLayoutSayingWhatToDo() async throws {
        let cli = try PhoenixCLI()
        let environment = ["JWT_SECRET_KEY": String(repeating: "s", count: 32), "DATABASE_URL": "postgres://nobody@127.0.0.1:1/none"]
        // Layout 1: a queue's keys without a hash tag, and no record.
        try await cli.queue.redis.send("SADD", cli.queue.keys.queues, "diagnostics")
        try await cli.queue.redis.send("HSET", "\(cli.queue.keys.prefix):queue:diagnostics:counters", "enqueued", 1)
        for command in [["work", "--type", "diagnostics"], ["serve", "--port", "0"]] {
            let (status, output) = try await cli.run(command, extraEnvironment: environment)
            #expect(status == 1)
            #expect(output.contains("queues diagnostics hold keys in key layout 1"), "\(command): \(output)")
            #expect(output.contains("Upgrading to key layout 2"), "\(command): \(output)")
        }
        #expect(try await cli.queue.redis.send("HGET", cli.queue.keys.layout, "version") == .null)
    }

    /// Issue 15 (6): SIGTERM while Redis is gone: the worker exits 0 within the grace period plus one lease,
    /// naming the job it could not hand back (before, it had not exited after 25 s).
    @Test func sigtermWithRedisGoneExitsWithinGracePlusOneLeaseNamingWhatItCouldNotHandBack() async throws {
        let cli = try PhoenixCLI()
        let server = try await RedisServerProcess()
        let queue = JobQueue(redis: RedisClient(configuration: try RedisConfiguration(url: server.url)), keys: cli.queue.keys)
        defer { queue.redis.shutdown() }
        let job = JobEnvelope(type: "diagnostic.sleep", queue: "diagnostics", payload: .object(["ms": .number(60_000)]))
        try await queue.enqueue(job)
        let worker = try cli.start(["work", "--type", "diagnostics", "--lease", "3", "--heartbeat", "0.5", "--grace", "2"], name: "redis-gone", extraEnvironment: ["REDIS_URL": server.url])
        try await eventually("the job runs") { try await queue.job(id: job.idString)?.state == .leased }
        await server.stop()
        let signalled = ContinuousClock.now
        worker.send(SIGTERM)
        let status = await worker.exited()
        let took = ContinuousClock.now - signalled
        #expect(ChildProcess.exitCode(ofStatus: status) == 0)
        // Grace 2 s + lease 3 s, with a margin for a loaded machine.
        #expect(took < .seconds(5) + .seconds(5), "exited after \(took)")
        #expect(cli.output(of: "redis-gone").contains("not_handed_back=\(job.idString)"))
    }

    @Test func enqueueFromAFileChecksEveryLineFirst() async throws {
        let cli = try PhoenixCLI()
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("jobs-\(UUID().uuidString).jsonl").path
        try """
        {"type": "diagnostic.noop"}
        {"type": "diagnostic.sleep", "payload": {"ms": "later"}}
        """.write(toFile: path, atomically: true, encoding: .utf8)
        let (badStatus, badOutput) = try await cli.run(["enqueue", "--file", path])
        #expect(badStatus != 0)
        #expect(badOutput.contains("\(path):2: invalid payload for diagnostic.sleep: field 'ms'"))
        #expect(try await cli.queue.stats(queue: "diagnostics").enqueued == 0)

        try """
        {"type": "diagnostic.noop", "idempotencyKey": "once"}
        {"type": "diagnostic.noop", "idempotencyKey": "once"}
        {"type": "diagnostic.sleep", "payload": {"ms": 1}, "delaySeconds": 60}
        """.write(toFile: path, atomically: true, encoding: .utf8)
        let (status, output) = try await cli.run(["enqueue", "--file", path])
        #expect(status == 0)
        #expect(output.contains("enqueued 2 job(s); 1 already present"))
        let stats = try await cli.queue.stats(queue: "diagnostics")
        #expect((stats.ready, stats.delayed) == (1, 1))
    }
}

/// The part of `phoenix stats --json` the tests read.
struct StatsSnapshot: Decodable {
    struct QueueRow: Decodable {
        let queue: String
        let ready: Int
        let leased: Int
    }
    struct WorkerRow: Decodable {
        let pid: Int
    }
    let queues: [QueueRow]
    let workers: [WorkerRow]
}

/// Ids of the jobs of `diagnostics` leased to the worker whose id contains `:<pid>:`.
func leasedJobs(_ queue: JobQueue, heldBy pid: String) async throws -> [String] {
    let ids = try await queue.redis.send("ZRANGE", queue.keys.leased("diagnostics"), 0, -1).array?.compactMap(\.string) ?? []
    let workers = try await queue.redis.pipeline(ids.map { RedisCommand("HGET", queue.keys.job($0, in: "diagnostics"), "worker") })
    return zip(ids, workers).compactMap { id, worker in
        ((try? worker.get())?.string?.contains(":\(pid):") == true) ? id : nil
    }
}
