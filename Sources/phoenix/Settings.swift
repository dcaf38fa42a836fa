import EnvironmentVariables
import Foundation
import Logging
import Metrics
import Prometheus
import PostgresNIO
import PhoenixJobsCore
import PhoenixPlatform
import PhoenixQueue
import PhoenixWorker
import PhoenixRedis
import PhoenixSupabase

/// Bad input found while running a command (a file line, a payload): printed as one line, no usage text.
struct InputError: Error, CustomStringConvertible {
    let description: String

    init(_ description: String) {
        self.description = description
    }
}

/// The process's configuration, read from the environment (DESIGN.md section 9 names).
struct Settings {
    let environment: [String: String]

    init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.environment = environment
    }

    /// `REDIS_URL`, required; with `rediss://`, the TLS files of `REDIS_TLS_CA_FILE`, `REDIS_TLS_CERT_FILE`
    /// and `REDIS_TLS_KEY_FILE`, read here so that unusable ones stop start-up.
    func redis() throws -> RedisConfiguration {
        guard let url = environment[.redisURL], !url.isEmpty else {
            throw SettingError(variable: "REDIS_URL", problem: "not set; expected redis://[[user]:password@]host[:port][/db] or rediss://… for TLS")
        }
        var configuration: RedisConfiguration
        do {
            configuration = try RedisConfiguration(url: url)
        } catch {
            throw SettingError(variable: "REDIS_URL", problem: "\(error)")
        }
        configuration.sentinel = try sentinel()
        configuration.cluster = try cluster()
        if configuration.sentinel != nil, configuration.cluster != nil {
            throw SettingError(variable: "REDIS_CLUSTER_NODES", problem: "set with REDIS_SENTINELS: a cluster fails over by itself; set one of them")
        }
        let files: [EnvironmentVariable] = [.redisTLSCAFile, .redisTLSCertificateFile, .redisTLSKeyFile]
        guard var tls = configuration.tls else {
            if let set = files.first(where: { environment.nonEmpty($0) != nil }) {
                throw SettingError(variable: set.name, problem: "set, but REDIS_URL is redis:// (no TLS); use rediss:// to connect over TLS")
            }
            return configuration
        }
        tls.caFile = environment.nonEmpty(.redisTLSCAFile)
        tls.certificateFile = environment.nonEmpty(.redisTLSCertificateFile)
        tls.keyFile = environment.nonEmpty(.redisTLSKeyFile)
        switch (tls.certificateFile, tls.keyFile) {
        case (_?, nil): throw SettingError(variable: "REDIS_TLS_KEY_FILE", problem: "not set, but REDIS_TLS_CERT_FILE is: a client certificate needs its private key")
        case (nil, _?): throw SettingError(variable: "REDIS_TLS_CERT_FILE", problem: "not set, but REDIS_TLS_KEY_FILE is: a client key needs its certificate")
        default: break
        }
        do {
            try tls.check()
        } catch {
            let variable = files.first { environment.nonEmpty($0).map { "\(error)".contains($0) } ?? false }
            throw SettingError(variable: variable?.name ?? "REDIS_URL", problem: "\(error)")
        }
        configuration.tls = tls
        return configuration
    }

    /// `REDIS_SENTINELS` with `REDIS_SENTINEL_MASTER` (and `REDIS_SENTINEL_PASSWORD`): the sentinels that
    /// name the master; `nil` when `REDIS_SENTINELS` is not set.
    private func sentinel() throws -> RedisSentinel? {
        guard let list = environment.nonEmpty(.redisSentinels) else {
            if environment.nonEmpty(.redisSentinelMaster) != nil {
                throw SettingError(variable: "REDIS_SENTINEL_MASTER", problem: "set, but REDIS_SENTINELS is not: list the sentinels as host:port,host:port")
            }
            return nil
        }
        guard let master = environment.nonEmpty(.redisSentinelMaster) else {
            throw SettingError(variable: "REDIS_SENTINEL_MASTER", problem: "not set, but REDIS_SENTINELS is: give the name the sentinels monitor the master under")
        }
        do {
            return try RedisSentinel(list: list, masterName: master, password: environment.nonEmpty(.redisSentinelPassword))
        } catch {
            throw SettingError(variable: "REDIS_SENTINELS", problem: "\(error)")
        }
    }

    /// `REDIS_CLUSTER_NODES`: some nodes of a Redis Cluster, asked for its slot map; `nil` when not set.
    private func cluster() throws -> RedisCluster? {
        guard let list = environment.nonEmpty(.redisClusterNodes) else { return nil }
        do {
            return try RedisCluster(list: list)
        } catch {
            throw SettingError(variable: "REDIS_CLUSTER_NODES", problem: "\(error)")
        }
    }

    /// `REDIS_ENQUEUE_REPLICAS` (1–16) and `REDIS_ENQUEUE_REPLICA_TIMEOUT_MS` (default 1000): replicas that
    /// must acknowledge an enqueue before it answers; `nil` when not set.
    func enqueueAcknowledgement() throws -> ReplicaAcknowledgement? {
        guard environment.nonEmpty(.redisEnqueueReplicas) != nil else {
            if environment.nonEmpty(.redisEnqueueReplicaTimeout) != nil {
                throw SettingError(variable: "REDIS_ENQUEUE_REPLICA_TIMEOUT_MS", problem: "set, but REDIS_ENQUEUE_REPLICAS is not: say how many replicas must acknowledge an enqueue")
            }
            return nil
        }
        let replicas = try positiveInteger(.redisEnqueueReplicas, default: 1, maximum: 16)
        let timeout = try positiveInteger(.redisEnqueueReplicaTimeout, default: 1000, maximum: 60_000)
        return ReplicaAcknowledgement(replicas: replicas, timeout: .milliseconds(timeout))
    }

    /// Whether `DATABASE_URL` or `SUPABASE_DB_URL` is set.
    var hasDatabase: Bool { environment.nonEmpty(.databaseURL) != nil || environment.nonEmpty(.supabaseDatabaseURL) != nil }

    /// `DATABASE_URL`, else `SUPABASE_DB_URL`: required by commands that use PostgreSQL.
    func database() throws -> PostgresClient.Configuration {
        let variable: EnvironmentVariable = environment[.databaseURL] == nil ? .supabaseDatabaseURL : .databaseURL
        guard let url = environment[variable], !url.isEmpty else {
            throw SettingError(variable: "DATABASE_URL", problem: "not set (nor SUPABASE_DB_URL); expected postgres://user:password@host:port/database")
        }
        do {
            return try PostgresURL.configuration(url)
        } catch {
            throw SettingError(variable: variable.name, problem: "\(error)")
        }
    }

    /// `PHOENIX_KEY_PREFIX`, the prefix of every Redis key (default `phx`).
    func keys() throws -> QueueKeys {
        let prefix = environment[.keyPrefix] ?? QueueKeys().prefix
        guard !prefix.isEmpty, !prefix.contains(" ") else {
            throw SettingError(variable: "PHOENIX_KEY_PREFIX", problem: "must be a non-empty word, got '\(prefix)'")
        }
        return QueueKeys(prefix: prefix, partitions: try queuePartitions())
    }

    /// `QUEUE_PARTITIONS`: queues split into partitions, `letters=3,events=2` (1–64 each); none when not set.
    private func queuePartitions() throws -> [String: Int] {
        guard let list = environment.nonEmpty(.queuePartitions) else { return [:] }
        var partitions: [String: Int] = [:]
        for entry in list.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) {
            let parts = entry.split(separator: "=", omittingEmptySubsequences: false)
            guard parts.count == 2, let count = Int(parts[1]), (1...64).contains(count) else {
                throw SettingError(variable: "QUEUE_PARTITIONS", problem: "'\(entry)' is not queue=count with a count from 1 to 64 (e.g. letters=3,events=2)")
            }
            let queue = String(parts[0])
            guard JobEnvelope.isQueueName(queue) else {
                throw SettingError(variable: "QUEUE_PARTITIONS", problem: "'\(queue)' is not a queue name (1-64 characters of a-z, 0-9, '_', '-')")
            }
            guard partitions.updateValue(count, forKey: queue) == nil else {
                throw SettingError(variable: "QUEUE_PARTITIONS", problem: "queue '\(queue)' is named twice")
            }
        }
        return partitions
    }

    /// `WORKER_TYPE`, overridden by `--type`.
    func workerTypes(override: String?) throws -> [WorkerType] {
        guard let text = override ?? environment[.workerType], !text.isEmpty else {
            throw SettingError(variable: "WORKER_TYPE", problem: "not set (and no --type); expected \(WorkerType.allCases.map(\.rawValue).joined(separator: ", ")), a comma-separated list, or all")
        }
        do {
            return try WorkerType.parse(text)
        } catch {
            throw SettingError(variable: override == nil ? "WORKER_TYPE" : "--type", problem: "\(error)")
        }
    }

    /// `ENABLE_EVENT_PROCESSING` (default true): false keeps events out of the API and event bridges idle.
    func eventProcessing() throws -> Bool {
        do {
            return try environment.flag(.enableEventProcessing, default: true)
        } catch {
            throw SettingError(variable: error.variable, problem: "must be true or false, got '\(error.value)'")
        }
    }

    /// The queues of `types` a worker takes no jobs from: the events queue while `ENABLE_EVENT_PROCESSING`
    /// is false. Read whatever the types, so that a malformed value stops any worker at start.
    func withheldQueues(of types: [WorkerType]) throws -> Set<String> {
        let eventProcessing = try eventProcessing()
        return types.contains(.eventBridge) && !eventProcessing ? [WorkerType.eventBridge.queue] : []
    }

    /// `WORKER_CONCURRENCY` (default 10), overridden by `--concurrency`.
    func concurrency(override: Int?) throws -> Int {
        if let override {
            guard (1...10_000).contains(override) else { throw SettingError(variable: "--concurrency", problem: "must be between 1 and 10000, got \(override)") }
            return override
        }
        guard let text = environment[.workerConcurrency] else { return 10 }
        guard let value = Int(text), (1...10_000).contains(value) else {
            throw SettingError(variable: "WORKER_CONCURRENCY", problem: "must be a whole number between 1 and 10000, got '\(text)'")
        }
        return value
    }

    /// `UNKNOWN_JOB_TYPE_WAIT` (seconds, default 900): how long a job of a type this worker does not know
    /// waits for a worker that knows it before it goes dead.
    func unknownJobTypeWait() throws -> Duration {
        guard let text = environment.nonEmpty(.unknownJobTypeWait) else { return WorkerConfiguration.defaultUnknownTypeWait }
        guard let seconds = Int(text), (0...604_800).contains(seconds) else {
            throw SettingError(variable: "UNKNOWN_JOB_TYPE_WAIT", problem: "must be a whole number of seconds between 0 and 604800, got '\(text)'")
        }
        return .seconds(seconds)
    }

    /// `LOG_LEVEL` (default `info`): trace, debug, info, notice, warning, error, critical.
    func logLevel() throws -> Logger.Level {
        guard let text = environment[.logLevel], !text.isEmpty else { return .info }
        guard let level = Logger.Level(rawValue: text.lowercased()) else {
            throw SettingError(variable: "LOG_LEVEL", problem: "expected trace, debug, info, notice, warning, error or critical, got '\(text)'")
        }
        return level
    }
}

/// Sets up logging to standard error at `LOG_LEVEL`, once per process.
func bootstrapLogging(_ settings: Settings) throws {
    let level = try settings.logLevel()
    LoggingSystem.bootstrap { label in
        var handler = StreamLogHandler.standardError(label: label)
        handler.logLevel = level
        return handler
    }
}

/// The handlers and periodic jobs of a worker taking jobs from `queues` through `queue`: only those of the job
/// types declared in them, each reading its own settings.
func workerJobs(servedBy queues: [String], store: PhoenixStore?, queue: JobQueue, settings: Settings) async throws -> (registry: JobRegistry, periodic: [PeriodicJob]) {
    let dependencies = HandlerDependencies(store: store, environment: settings.environment, queue: queue)
    let registry = try await PhoenixJobs.registry(servedBy: queues, dependencies: dependencies)
    return (registry, try PhoenixJobs.periodicJobs(servedBy: queues, environment: settings.environment))
}

/// Whether a worker taking jobs from `queues` needs the Phoenix database (`DATABASE_URL`).
func usesDatabase(_ queues: [String]) -> Bool {
    PhoenixJobs.declarations(servedBy: queues).contains(where: \.usesDatabase)
}

/// A queue engine over the configured Redis; jobs are keyed for fair share by `fairnessFields` (the platform's
/// user fields unless given).
func makeQueue(_ settings: Settings, poolSize: Int = 4, fairnessFields: [String: String] = PhoenixJobs.fairnessFields) throws -> JobQueue {
    JobQueue(
        redis: RedisClient(configuration: try settings.redis(), poolSize: poolSize), keys: try settings.keys(),
        enqueueAcknowledgement: try settings.enqueueAcknowledgement(), fairnessFields: fairnessFields
    )
}

/// Refuses to go on with a Redis the queue engine cannot run on (too old, evicting keys, or holding keys of
/// another key layout), naming the setting; a Redis that cannot be reached yet is only logged, since the
/// clients wait for it anyway.
func checkRedisServer(_ queue: JobQueue, logger: Logger) async throws {
    do {
        let info = try await RedisServerCheck.verify(queue.redis)
        let layout = try await KeyLayoutCheck.verify(queue)
        logger.debug("Redis server checked", metadata: [
            "version": "\(info.version)", "maxmemory_policy": "\(info.maxmemoryPolicy)", "key_layout": "\(layout)",
        ])
    } catch let error as QueueError {
        logger.warning("Could not check the Redis server's version, eviction policy and key layout", metadata: ["error": "\(error)"])
    }
}

/// Switches fair share on for the queues fair by default (``WorkerType/fairShareByDefault``) whose settings
/// do not record an operator's choice. A queue with jobs waiting cannot switch (a later start tries again),
/// and an unreachable Redis is only logged: neither stops the process.
func applyDefaultFlow(_ queue: JobQueue, logger: Logger) async {
    for type in WorkerType.allCases where type.fairShareByDefault {
        do {
            if try await !queue.switchOnFairShareByDefault(queue: type.queue) {
                logger.notice("Fair share stays off: jobs are waiting in the queue", metadata: [
                    "queue": "\(type.queue)", "hint": "phoenix queue flow \(type.queue) --fair-share on, once drained",
                ])
            }
        } catch {
            logger.warning("Could not apply the default flow control", metadata: ["queue": "\(type.queue)", "error": "\(error)"])
        }
    }
}

/// Sends every swift-metrics metric of the process to one Prometheus registry, which `/metrics` exports.
func bootstrapMetrics() -> PrometheusCollectorRegistry {
    let registry = PrometheusCollectorRegistry()
    MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
    return registry
}
