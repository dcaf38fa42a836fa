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
        .library(name: "Redis", targets: ["Redis"]),
        .library(name: "Queue", targets: ["Queue"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    ],
    targets: [
        // Debian's libhiredis-dev (0.14.1), seen through pkg-config.
        .systemLibrary(
            name: "CHiredis",
            pkgConfig: "hiredis",
            providers: [.apt(["libhiredis-dev"])]
        ),
        // Swift client over hiredis: connections on threads of their own, pool, pipelining, scripts, reconnect.
        .target(
            name: "Redis",
            dependencies: [
                "CHiredis",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: upcomingFeatures
        ),
        // The queue engine: job envelope, Redis keys, Lua scripts for every state transition, stats.
        .target(
            name: "Queue",
            dependencies: [
                "Redis",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: upcomingFeatures
        ),
        // Helpers shared by the test targets: where the private test servers are.
        .target(name: "TestSupport", dependencies: ["Redis"], path: "Tests/TestSupport", swiftSettings: upcomingFeatures),
        .testTarget(name: "RedisTests", dependencies: ["Redis", "TestSupport"], swiftSettings: upcomingFeatures),
        .testTarget(name: "QueueTests", dependencies: ["Queue", "Redis", "TestSupport"], swiftSettings: upcomingFeatures),
    ],
    swiftLanguageModes: [.v6]
)
