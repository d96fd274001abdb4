// swift-tools-version:6.2
import PackageDescription

// Settings every target shares: the upcoming features the Swift server packages use, and warnings as errors
// for our code only (not the dependencies).
let strictSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
    .treatAllWarnings(as: .error),
]

let package = Package(
    name: "verdict",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "verdict", targets: ["verdict"]),
        .executable(name: "custom-verdict", targets: ["custom-verdict"]),
        .executable(name: "verdict-ar", targets: ["verdict-ar"]),
        .library(name: "VerdictCore", targets: ["VerdictCore"]),
        .library(name: "VerdictSources", targets: ["VerdictSources"]),
        .library(name: "VerdictEngine", targets: ["VerdictEngine"]),
        .library(name: "VerdictStore", targets: ["VerdictStore"]),
        .library(name: "VerdictSQLite", targets: ["VerdictSQLite"]),
        .library(name: "VerdictPostgres", targets: ["VerdictPostgres"]),
        .library(name: "VerdictStoreFactory", targets: ["VerdictStoreFactory"]),
        .library(name: "VerdictServer", targets: ["VerdictServer"]),
        .library(name: "VerdictWazuh", targets: ["VerdictWazuh"]),
        .library(name: "VerdictRelay", targets: ["VerdictRelay"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", exact: "1.8.2"),
        .package(url: "https://github.com/swift-server/async-http-client", exact: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio", exact: "2.101.3"),
        .package(url: "https://github.com/apple/swift-nio-ssl", exact: "2.37.6"),
        .package(url: "https://github.com/apple/swift-crypto", exact: "4.5.2"),
        .package(url: "https://github.com/apple/swift-configuration", exact: "1.4.0", traits: [.defaults, "YAML"]),
        .package(url: "https://github.com/groue/GRDB.swift", exact: "7.10.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", exact: "2.28.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", exact: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", exact: "2.4.1"),
        .package(url: "https://github.com/apple/swift-log", exact: "1.16.2"),
        .package(url: "https://github.com/adam-fowler/compress-nio", exact: "1.5.0"),
        .package(url: "https://github.com/vapor/postgres-nio", exact: "1.33.2"),
        // swift-configuration's YAML reader; read directly only for `feeds:`, a map whose keys are the user's.
        .package(url: "https://github.com/jpsim/Yams", exact: "6.2.2"),
    ],
    targets: [
        // Indicators, refanging, classification, extraction, warninglists. No I/O, Foundation only.
        .target(name: "VerdictCore", swiftSettings: strictSettings),
        // Threat-intel sources and the per-source governor; the local feeds read from VERDICT_FEEDS_DIR.
        .target(
            name: "VerdictSources",
            dependencies: [
                "VerdictCore",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: strictSettings
        ),
        // Lookup orchestration: suppression, cache, single-flight, fan-out, aggregation.
        .target(
            name: "VerdictEngine",
            dependencies: [
                "VerdictCore", "VerdictSources",
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "CompressNIO", package: "compress-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ],
            swiftSettings: strictSettings
        ),
        // Persistent state, as protocols: API keys, credits and usage, the retry queue; value types, errors, the
        // in-memory implementations. No database here: each has its own target.
        .target(
            name: "VerdictStore",
            dependencies: [
                "VerdictCore", "VerdictSources", "VerdictEngine", .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: strictSettings
        ),
        // The embedded default: every store in one SQLite file (GRDB, WAL), shared by the processes of a data
        // directory.
        .target(
            name: "VerdictSQLite",
            dependencies: [
                "VerdictCore", "VerdictSources", "VerdictEngine", "VerdictStore",
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            swiftSettings: strictSettings
        ),
        // Every shared store in PostgreSQL (postgres-nio), for replicas and Wazuh cluster nodes on one database.
        .target(
            name: "VerdictPostgres",
            dependencies: [
                "VerdictCore", "VerdictSources", "VerdictEngine", "VerdictStore",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: strictSettings
        ),
        // Opens the stores named by a database URL (sqlite:PATH or postgres://…).
        .target(
            name: "VerdictStoreFactory",
            dependencies: [
                "VerdictEngine", "VerdictSources", "VerdictStore", "VerdictSQLite", "VerdictPostgres",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictSettings
        ),
        // The HTTP API (Hummingbird 2): routes, API keys, credits, metrics. A library, so tests drive the router.
        .target(
            name: "VerdictServer",
            dependencies: [
                "VerdictCore", "VerdictSources", "VerdictEngine", "VerdictStore",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            // Compiled into the library, so that an executable copied alone still serves them.
            resources: [
                .embedInCode("Console/openapi.json"),
                .embedInCode("Console/console.html"),
                .embedInCode("Console/console.css"),
                .embedInCode("Console/console.js"),
            ],
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "verdict",
            dependencies: [
                "VerdictCore",
                "VerdictSources",
                "VerdictEngine",
                "VerdictStore",
                "VerdictSQLite",
                "VerdictStoreFactory",
                "VerdictServer",
                "VerdictWazuh",
                "VerdictRelay",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ],
            swiftSettings: strictSettings
        ),
        // The Wazuh side: alert enrichment, events for analysisd's queue socket, integratord's and execd's contracts.
        .target(
            name: "VerdictWazuh",
            dependencies: [
                "VerdictCore", "VerdictSources", "VerdictEngine", "VerdictStore", "VerdictSQLite",
                "VerdictStoreFactory",
                "VerdictRelay",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "CompressNIO", package: "compress-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictSettings
        ),
        // What integratord and execd start for each alert: small relays to the warm engine in `verdict`, Glibc only,
        // so that they start in a few milliseconds; also the home and identity rules both sides share.
        .target(name: "VerdictRelay", dependencies: ["CVerdictRelay"], swiftSettings: strictSettings),
        .target(name: "CVerdictRelay"),
        .executableTarget(name: "custom-verdict", dependencies: ["VerdictRelay"], swiftSettings: strictSettings),
        .executableTarget(name: "verdict-ar", dependencies: ["VerdictRelay"], swiftSettings: strictSettings),
        .testTarget(
            name: "VerdictCoreTests",
            dependencies: ["VerdictCore"],
            exclude: ["Fixtures"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "VerdictStoreTests",
            dependencies: [
                "VerdictStore", "VerdictSQLite", "VerdictPostgres", "VerdictStoreFactory", "VerdictEngine",
                "VerdictTestSupport", "VerdictSources", "VerdictCore",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "CompressNIO", package: "compress-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "VerdictEngineTests",
            dependencies: ["VerdictEngine", "VerdictSources", "VerdictCore"],
            swiftSettings: strictSettings
        ),
        // Runs the built `verdict` executable, as users and outside tests do.
        .testTarget(
            name: "VerdictCLITests",
            dependencies: [
                "verdict", "custom-verdict", "verdict-ar", "VerdictTestSupport", "VerdictCore",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: strictSettings
        ),
        // A provider-shaped HTTP server on 127.0.0.1 for the tests, and a WebDriver client for the page.
        .target(
            name: "VerdictTestSupport",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ],
            path: "Tests/VerdictTestSupport",
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "VerdictServerTests",
            dependencies: [
                "VerdictServer", "VerdictStore", "VerdictSQLite", "VerdictEngine", "VerdictSources", "VerdictCore",
                "VerdictTestSupport",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            swiftSettings: strictSettings
        ),
        // The Wazuh side, with the built custom-verdict and verdict-ar run as integratord and execd run them.
        .testTarget(
            name: "VerdictWazuhTests",
            dependencies: [
                "VerdictWazuh", "VerdictServer", "VerdictStore", "VerdictSQLite", "VerdictEngine", "VerdictCore",
                "VerdictTestSupport",
                "VerdictRelay", "custom-verdict", "verdict-ar", "verdict",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "VerdictSourcesTests",
            dependencies: ["VerdictSources", "VerdictCore", "VerdictTestSupport"],
            swiftSettings: strictSettings
        ),
    ]
)
