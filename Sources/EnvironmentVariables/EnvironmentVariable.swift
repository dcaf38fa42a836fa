/// Every environment variable Phoenix Jobs reads (DESIGN.md section 9, and the platform's own).
///
/// All reads of the environment go through this type (`environment[.redisURL]`), so `allCases` is exactly
/// the configuration: the tests check the README's table and every deploy file against it.
public enum EnvironmentVariable: String, CaseIterable, Sendable {
    // Where the queue and the results live.
    case redisURL = "REDIS_URL"
    /// TLS files of a `rediss://` `REDIS_URL`: the CAs to trust instead of the system's, a client certificate and its key.
    case redisTLSCAFile = "REDIS_TLS_CA_FILE"
    case redisTLSCertificateFile = "REDIS_TLS_CERT_FILE"
    case redisTLSKeyFile = "REDIS_TLS_KEY_FILE"
    /// Redis Sentinel: the sentinels' addresses, the name of the master they watch, their own password.
    case redisSentinels = "REDIS_SENTINELS"
    case redisSentinelMaster = "REDIS_SENTINEL_MASTER"
    case redisSentinelPassword = "REDIS_SENTINEL_PASSWORD"
    /// Redis Cluster: some of its nodes, asked for the slot map.
    case redisClusterNodes = "REDIS_CLUSTER_NODES"
    /// Queues split into partitions (one hash tag each), `queue=count,…`.
    case queuePartitions = "QUEUE_PARTITIONS"
    /// Durability of enqueue: replicas that must acknowledge it (`WAIT`), and how long to wait for them.
    case redisEnqueueReplicas = "REDIS_ENQUEUE_REPLICAS"
    case redisEnqueueReplicaTimeout = "REDIS_ENQUEUE_REPLICA_TIMEOUT_MS"
    case databaseURL = "DATABASE_URL"
    case supabaseDatabaseURL = "SUPABASE_DB_URL"
    case keyPrefix = "PHOENIX_KEY_PREFIX"
    case migrationsDirectory = "PHOENIX_MIGRATIONS_DIR"
    case jobRunsRetentionDays = "JOB_RUNS_RETENTION_DAYS"
    /// `production` turns unsafe settings into start-up errors (see `ProductionPolicy`).
    case environment = "ENVIRONMENT"
    // Workers.
    case workerType = "WORKER_TYPE"
    case workerConcurrency = "WORKER_CONCURRENCY"
    case metricsPort = "METRICS_PORT"
    case unknownJobTypeWait = "UNKNOWN_JOB_TYPE_WAIT"
    case logLevel = "LOG_LEVEL"
    // The HTTP front.
    case port = "PORT"
    case jwtSecretKey = "JWT_SECRET_KEY"
    case supabaseJWKS = "SUPABASE_JWKS"
    case supabaseURL = "SUPABASE_URL"
    case jwtAudience = "JWT_AUDIENCE"
    case allowedOrigins = "ALLOWED_ORIGINS"
    case rateLimitPerMinute = "RATE_LIMIT_PER_MINUTE"
    case maxBodyBytes = "MAX_BODY_BYTES"
    case stripeWebhookSecret = "STRIPE_WEBHOOK_SECRET"
    case dashboardPassword = "DASHBOARD_PASSWORD"
    // Letter generation.
    case openAIAPIKey = "OPENAI_API_KEY"
    case openAIBaseURL = "OPENAI_BASE_URL"
    case openAIModel = "OPENAI_MODEL"
    case googleAPIKey = "GOOGLE_API_KEY"
    case geminiBaseURL = "GEMINI_BASE_URL"
    case geminiModel = "GEMINI_MODEL"
    case maxResponseTime = "MAX_RESPONSE_TIME"
    case enableCloudFallback = "ENABLE_CLOUD_FALLBACK"
    /// `false` stops the event bridge from taking `events` jobs and `POST /v1/events` from accepting events.
    case enableEventProcessing = "ENABLE_EVENT_PROCESSING"
    // CV rendering.
    case templatesDirectory = "PHOENIX_TEMPLATES_DIR"
    case chromiumPath = "CHROMIUM_PATH"
    /// The system's search path, where Chromium is looked for when `CHROMIUM_PATH` is unset.
    case path = "PATH"

    /// The variable's name in the environment.
    public var name: String { rawValue }

    /// Whether the value is a secret (credentials, keys, passwords): deploy files take it from a secret
    /// store, never write it down, and nothing logs it.
    public var isSecret: Bool {
        switch self {
        case .redisURL, .redisSentinelPassword, .databaseURL, .supabaseDatabaseURL, .jwtSecretKey, .stripeWebhookSecret, .dashboardPassword,
             .openAIAPIKey, .googleAPIKey:
            true
        default:
            false
        }
    }
}

extension Dictionary where Key == String, Value == String {
    /// The value of `variable` in this environment, as it is (possibly empty).
    public subscript(_ variable: EnvironmentVariable) -> String? {
        get { self[variable.rawValue] }
        set { self[variable.rawValue] = newValue }
    }

    /// The value of a true/false `variable` (`true`, `1`, `yes`; `false`, `0`, `no`, in any case, spaces
    /// around ignored), or `defaultValue` when it is unset or blank.
    /// - Throws: ``MalformedFlag`` naming the variable and the value.
    public func flag(_ variable: EnvironmentVariable, default defaultValue: Bool) throws(MalformedFlag) -> Bool {
        let text = (self[variable.rawValue] ?? "").filter { $0 != " " && $0 != "\t" }
        return switch text.isEmpty ? nil : text.lowercased() {
        case nil: defaultValue
        case "true", "1", "yes": true
        case "false", "0", "no": false
        case let other?: throw MalformedFlag(variable: variable.name, value: other)
        }
    }

    /// The value of `variable`, or nil when it is unset or empty.
    public func nonEmpty(_ variable: EnvironmentVariable) -> String? {
        guard let value = self[variable.rawValue], !value.isEmpty else { return nil }
        return value
    }
}

/// A true/false variable holding something else.
public struct MalformedFlag: Error, CustomStringConvertible {
    /// The variable's name.
    public let variable: String
    /// What it holds.
    public let value: String

    public var description: String { "\(variable) must be true or false, got '\(value)'" }
}

/// A setting from the environment that is missing or malformed; printed as one line naming the variable.
public struct SettingError: Error, CustomStringConvertible {
    /// The variable (or command-line option) at fault.
    public let variable: String
    /// What is wrong with it and what is expected (never a secret's value).
    public let problem: String

    /// An error naming `variable` and its `problem`.
    public init(variable: String, problem: String) {
        self.variable = variable
        self.problem = problem
    }

    public var description: String { "\(variable): \(problem)" }
}
