// swift-tools-version:6.2
import PackageDescription

/// Our own targets treat every warning as an error; dependencies are left alone.
let strict: [SwiftSetting] = [
    .treatAllWarnings(as: .error),
]

let package = Package(
    name: "moeen-hub",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "moeen", targets: ["moeen"]),
        .library(name: "MoeenServer", targets: ["MoeenServer"]),
    ],
    dependencies: [
        .package(url: "https://github.com/vapor/vapor.git", from: "4.122.3"),
        .package(url: "https://github.com/vapor/fluent.git", from: "4.13.0"),
        .package(url: "https://github.com/vapor/fluent-kit.git", from: "1.57.0"),
        .package(url: "https://github.com/vapor/fluent-sqlite-driver.git", from: "4.9.0"),
        .package(url: "https://github.com/vapor/fluent-postgres-driver.git", from: "2.14.0"),
        .package(url: "https://github.com/vapor/sql-kit.git", from: "3.36.0"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        .package(url: "https://github.com/vapor/sqlite-nio.git", from: "1.13.2"),
        .package(url: "https://github.com/vapor/leaf.git", from: "4.5.2"),
        .package(url: "https://github.com/vapor/leaf-kit.git", from: "1.14.3"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3" ..< "5.0.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        // Tests only: parses the served OpenAPI document (OpenAPIDocumentTests).
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
    ],
    targets: [
        // Vapor-free domain: catalogue, validation, health score, redaction, HTTP transport seam.
        .target(
            name: "MoeenCore",
            dependencies: [
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        // Envelope encryption and key providers (local, AWS KMS, Vault transit).
        .target(
            name: "MoeenSecrets",
            dependencies: [
                "MoeenCore",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        // One client per provider over MoeenCore's HTTPTransport.
        .target(
            name: "MoeenConnectors",
            dependencies: [
                "MoeenCore",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        // The Vapor application as a library.
        .target(
            name: "MoeenServer",
            dependencies: [
                "MoeenCore",
                "MoeenSecrets",
                "MoeenConnectors",
                .product(name: "Vapor", package: "vapor"),
                .product(name: "Fluent", package: "fluent"),
                .product(name: "FluentKit", package: "fluent-kit"),
                .product(name: "FluentSQLiteDriver", package: "fluent-sqlite-driver"),
                .product(name: "FluentPostgresDriver", package: "fluent-postgres-driver"),
                .product(name: "SQLKit", package: "sql-kit"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "SQLiteNIO", package: "sqlite-nio"),
                .product(name: "Leaf", package: "leaf"),
                .product(name: "LeafKit", package: "leaf-kit"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            resources: [.copy("Resources")],
            swiftSettings: strict
        ),
        // Local servers speaking each provider's published API, for tests, benchmarks and `moeen sandbox`.
        .target(
            name: "ProviderStandIns",
            dependencies: [
                "MoeenCore",
                .product(name: "Vapor", package: "vapor"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ],
            swiftSettings: strict
        ),
        // Entrypoint and commands only.
        .executableTarget(
            name: "moeen",
            dependencies: [
                "MoeenServer",
                "ProviderStandIns",
                .product(name: "Vapor", package: "vapor"),
            ],
            swiftSettings: strict
        ),
        // The raw-client baseline of `scripts/bench` (S2): POSTs one body N times at concurrency C. Not a product.
        .executableTarget(
            name: "moeen-loadgen",
            dependencies: [
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        .testTarget(name: "MoeenCoreTests", dependencies: ["MoeenCore", "ProviderStandIns"], swiftSettings: strict),
        .testTarget(name: "MoeenSecretsTests", dependencies: ["MoeenSecrets", "MoeenCore", "ProviderStandIns"], swiftSettings: strict),
        .testTarget(name: "MoeenConnectorsTests", dependencies: ["MoeenConnectors", "MoeenCore", "ProviderStandIns"], swiftSettings: strict),
        .testTarget(
            name: "MoeenServerTests",
            dependencies: [
                "MoeenServer",
                "ProviderStandIns",
                .product(name: "VaporTesting", package: "vapor"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Yams", package: "Yams"),
            ],
            exclude: ["__Snapshots__"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "ProviderStandInsTests",
            dependencies: ["ProviderStandIns", .product(name: "VaporTesting", package: "vapor")],
            swiftSettings: strict
        ),
        .testTarget(name: "moeenTests", dependencies: ["moeen", "ProviderStandIns", "MoeenCore"], swiftSettings: strict),
    ],
    swiftLanguageModes: [.v6]
)
