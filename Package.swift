// swift-tools-version: 6.1
import PackageDescription

/// Upcoming language features every target opts into: explicit dependencies between modules.
let upcomingFeatures: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "phoenix-jobs",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "PhoenixJobsCore", targets: ["PhoenixJobsCore"]),
        .library(name: "PhoenixRedis", targets: ["PhoenixRedis"]),
        .library(name: "PhoenixQueue", targets: ["PhoenixQueue"]),
        .library(name: "PhoenixWorker", targets: ["PhoenixWorker"]),
        .library(name: "PhoenixSupabase", targets: ["PhoenixSupabase"]),
        .executable(name: "phoenix", targets: ["phoenix"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache", from: "2.1.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        .package(url: "https://github.com/vapor/jwt-kit", from: "5.7.1"),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        // Tests only: reads the deploy files (Render, compose, Kubernetes, Prometheus) to check them against the code.
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        // Tests only: random interleavings of the queue's transitions, checked against its invariants.
        .package(url: "https://github.com/x-sheep/swift-property-based", from: "2.0.1"),
    ],
    targets: [
        // Debian's libhiredis-dev (0.14.1), seen through pkg-config.
        .systemLibrary(
            name: "CPhoenixHiredis",
            pkgConfig: "hiredis",
            providers: [.apt(["libhiredis-dev"])]
        ),
        // What submitting and handling jobs share, without Redis or the runtime: the job envelope and its JSON,
        // the job type protocol and its context, submissions, the catalogue of job types, their errors.
        .target(
            name: "PhoenixJobsCore",
            dependencies: [
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: upcomingFeatures
        ),
        // Async Redis client on SwiftNIO (hiredis's reply reader parses RESP): shared pipelined connections, blocking calls
        // on connections of their own, scripts, reconnect, cancellation.
        .target(
            name: "PhoenixRedis",
            dependencies: [
                "CPhoenixHiredis",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOTLS", package: "swift-nio"),
            ],
            swiftSettings: upcomingFeatures
        ),
        // The environment variables Phoenix Jobs reads, one catalogue every reader goes through.
        .target(name: "EnvironmentVariables", swiftSettings: upcomingFeatures),
        // The queue engine: Redis keys, Lua scripts for every state transition, stats, the worker registry.
        .target(
            name: "PhoenixQueue",
            dependencies: [
                "PhoenixJobsCore", "PhoenixRedis",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: upcomingFeatures
        ),
        // The worker runtime: serves the queues it is given by name with the handlers of a job registry:
        // concurrency, heartbeats, maintenance, periodic jobs, graceful shutdown.
        .target(
            name: "PhoenixWorker",
            dependencies: [
                "PhoenixJobsCore", "PhoenixQueue",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: upcomingFeatures
        ),
        // PostgreSQL: migrations runner, effectively-once job runs, repositories of the Phoenix Supabase tables.
        .target(
            name: "PhoenixSupabase",
            dependencies: [
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: upcomingFeatures
        ),
        // Transactional enqueue: the relay from the database's outbox into Redis.
        .target(
            name: "PhoenixOutbox",
            dependencies: [
                "PhoenixJobsCore", "PhoenixQueue", "PhoenixSupabase",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: upcomingFeatures
        ),
        // The HTTP front (Hummingbird 2): jobs API, Supabase JWT auth, rate limits, health.
        .target(
            name: "PhoenixAPI",
            dependencies: [
                "PhoenixJobsCore", "PhoenixQueue", "PhoenixRedis", "PhoenixSupabase", "EnvironmentVariables",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            resources: [.copy("Resources/openapi.yaml"), .copy("Resources/Dashboard")],
            swiftSettings: upcomingFeatures
        ),
        // Business jobs, one target each (Jobs/<Name>), and what they share.
        .target(
            name: "JobSupport",
            dependencies: ["PhoenixJobsCore", "PhoenixWorker", "PhoenixQueue", "PhoenixSupabase", .product(name: "PostgresNIO", package: "postgres-nio")],
            path: "Jobs/JobSupport",
            swiftSettings: upcomingFeatures
        ),
        .target(
            name: "UserProfileSync",
            dependencies: ["PhoenixJobsCore", "PhoenixWorker", "PhoenixQueue", "PhoenixSupabase", "JobSupport", .product(name: "PostgresNIO", package: "postgres-nio")],
            path: "Jobs/UserProfileSync",
            swiftSettings: upcomingFeatures
        ),
        .target(
            name: "EventBridge",
            dependencies: [
                "PhoenixJobsCore", "PhoenixWorker", "PhoenixQueue", "PhoenixSupabase", "JobSupport", "UserProfileSync",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Jobs/EventBridge",
            swiftSettings: upcomingFeatures
        ),
        // Reading job offers and descriptions: folding, known skills, significant words.
        .target(name: "TextAnalysis", path: "Jobs/TextAnalysis", swiftSettings: upcomingFeatures),
        .target(
            name: "LetterGeneration",
            dependencies: [
                "PhoenixJobsCore", "PhoenixWorker", "PhoenixQueue", "PhoenixSupabase", "JobSupport", "TextAnalysis", "EnvironmentVariables",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ],
            path: "Jobs/LetterGeneration",
            swiftSettings: upcomingFeatures
        ),
        .target(
            name: "CVRendering",
            dependencies: [
                "PhoenixJobsCore", "PhoenixWorker", "PhoenixQueue", "PhoenixSupabase", "JobSupport", "TextAnalysis", "EnvironmentVariables",
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ],
            path: "Jobs/CVRendering",
            resources: [.copy("Templates")],
            swiftSettings: upcomingFeatures
        ),
        // The Phoenix platform: its worker types and the queues each serves, and the manifest declaring each
        // Phoenix job type once (name, queue, payload, user field, how its handler is built).
        .target(
            name: "PhoenixPlatform",
            dependencies: [
                "PhoenixJobsCore", "PhoenixWorker", "PhoenixQueue", "PhoenixSupabase", "EnvironmentVariables",
                "EventBridge", "UserProfileSync", "LetterGeneration", "CVRendering",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ],
            swiftSettings: upcomingFeatures
        ),
        // The one executable: work, serve, dev, enqueue, stats, dead, queue, migrate, bench.
        .executableTarget(
            name: "phoenix",
            dependencies: [
                "PhoenixOutbox",
                "PhoenixJobsCore",
                "PhoenixQueue",
                "PhoenixRedis",
                "PhoenixWorker",
                "PhoenixSupabase",
                "PhoenixPlatform",
                "UserProfileSync",
                "LetterGeneration",
                "CVRendering",
                "PhoenixAPI",
                "EnvironmentVariables",
                "LocalServers",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: upcomingFeatures
        ),
        // A benchmark: hiredis's reply reader against a RESP parser in Swift (docs/BENCHMARKS.md).
        .executableTarget(
            name: "resp-bench",
            dependencies: ["PhoenixRedis"],
            path: "Benchmarks/RESPBench",
            swiftSettings: upcomingFeatures
        ),
        // Child processes and private servers on loopback (redis-server, PostgreSQL) for `phoenix dev` and the tests.
        .target(name: "LocalServers", swiftSettings: upcomingFeatures),
        // Tests only: stops the test bundle with one line when the servers of `make test` are missing.
        .target(name: "TestPreflight", path: "Tests/TestPreflight"),
        // Helpers shared by the test targets: where the private test servers are.
        .target(
            name: "TestSupport",
            dependencies: [
                "PhoenixRedis", "PhoenixSupabase", "LocalServers", "TestPreflight",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ], path: "Tests/TestSupport", swiftSettings: upcomingFeatures),
        .testTarget(name: "RedisTests", dependencies: ["PhoenixRedis", "TestSupport"], swiftSettings: upcomingFeatures),
        .testTarget(
            name: "QueueTests",
            dependencies: ["PhoenixJobsCore", "PhoenixQueue", "PhoenixRedis", "TestSupport", .product(name: "PropertyBased", package: "swift-property-based")],
            swiftSettings: upcomingFeatures
        ),
        .testTarget(
            name: "WorkerTests",
            dependencies: [
                "PhoenixJobsCore", "PhoenixQueue", "PhoenixRedis", "PhoenixWorker", "TestSupport",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: upcomingFeatures
        ),
        .testTarget(
            name: "StoreTests",
            dependencies: ["PhoenixSupabase", "TestSupport", .product(name: "PostgresNIO", package: "postgres-nio")],
            swiftSettings: upcomingFeatures
        ),
        .testTarget(
            name: "JobsTests",
            dependencies: [
                "EventBridge", "UserProfileSync", "LetterGeneration", "CVRendering", "TextAnalysis", "EnvironmentVariables",
                "PhoenixJobsCore", "PhoenixWorker", "PhoenixQueue", "PhoenixRedis", "PhoenixSupabase", "PhoenixPlatform", "TestSupport", "LocalServers",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: upcomingFeatures
        ),
        .testTarget(
            name: "OutboxRelayTests",
            dependencies: [
                "PhoenixOutbox", "PhoenixJobsCore", "PhoenixQueue", "PhoenixRedis", "PhoenixPlatform", "TestSupport",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: upcomingFeatures
        ),
        .testTarget(
            name: "APITests",
            dependencies: [
                "PhoenixAPI", "PhoenixPlatform", "PhoenixJobsCore", "EventBridge", "PhoenixQueue", "PhoenixRedis", "PhoenixSupabase", "PhoenixWorker", "TestSupport", "LocalServers",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: upcomingFeatures
        ),
        // The deploy files (Dockerfile.worker, Deploy/) checked against the code: worker types, keys, variables.
        .testTarget(
            name: "DeployTests",
            dependencies: ["PhoenixPlatform", "PhoenixJobsCore", "PhoenixQueue", "PhoenixWorker", "EnvironmentVariables", "TestSupport", .product(name: "Yams", package: "Yams")],
            swiftSettings: upcomingFeatures
        ),
        // End-to-end tests: real `phoenix` processes against the test Redis.
        .testTarget(name: "EndToEndTests", dependencies: ["PhoenixJobsCore", "PhoenixQueue", "PhoenixRedis", "PhoenixSupabase", "PhoenixPlatform", "TestSupport", "LocalServers", .product(name: "PostgresNIO", package: "postgres-nio"), .product(name: "Logging", package: "swift-log")], swiftSettings: upcomingFeatures),
    ],
    swiftLanguageModes: [.v6]
)
