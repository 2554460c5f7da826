// swift-tools-version: 6.2
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
]

// Dependencies point one way: crynux → EmbeddedNetwork → Bridge, Relay, NodeKit → CrynuxSDK → system libraries.
// Bridge knows no Relay or NodeKit type; EmbeddedNetwork is the only module that knows all three.
let package = Package(
    name: "crynux-swift",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "CrynuxSDK", targets: ["CrynuxSDK"]),
        .library(name: "NodeKit", targets: ["NodeKit"]),
        .library(name: "Relay", targets: ["Relay"]),
        .library(name: "Bridge", targets: ["Bridge"]),
        .library(name: "EmbeddedNetwork", targets: ["EmbeddedNetwork"]),
        .executable(name: "crynux", targets: ["crynux"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/attaswift/BigInt", from: "6.0.1"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/vapor/multipart-kit", from: "4.7.1"),
        .package(url: "https://github.com/weichsel/ZIPFoundation", from: "0.9.20"),
    ],
    targets: [
        // System libraries.
        .systemLibrary(
            name: "CSecp256k1",
            pkgConfig: "libsecp256k1",
            providers: [.apt(["libsecp256k1-dev"]), .brew(["secp256k1"])]
        ),
        // Named apart from ZIPFoundation's own `CZlib` module map (two modules of one name cannot be loaded together).
        .systemLibrary(
            name: "CCrynuxZlib",
            pkgConfig: "zlib",
            providers: [.apt(["zlib1g-dev"]), .brew(["zlib"])]
        ),
        .target(name: "CKernels"),

        // The SDK: task types, wallet, relay protocol, the client.
        .target(
            name: "CrynuxSDK",
            dependencies: [
                "CSecp256k1", "CCrynuxZlib",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "BigInt", package: "BigInt"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "MultipartKit", package: "multipart-kit"),
            ],
            swiftSettings: swiftSettings
        ),
        // The worker: GGUF engine, tokenizers, the node loop.
        .target(
            name: "NodeKit",
            dependencies: [
                "CrynuxSDK", "CKernels",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "ZIPFoundation", package: "ZIPFoundation"),
            ],
            swiftSettings: swiftSettings
        ),
        // A Crynux-compatible relay.
        .target(
            name: "Relay",
            dependencies: [
                "CrynuxSDK",
                .product(name: "BigInt", package: "BigInt"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // The custodial OpenAI-compatible Bridge: reaches any relay through the SDK's client.
        .target(
            name: "Bridge",
            dependencies: [
                "CrynuxSDK",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            exclude: ["Web/Assets"],
            swiftSettings: swiftSettings,
            plugins: ["EmbedAssets"]
        ),
        // Relay + nodes + wallets on one machine: `crynux serve`'s network, the benchmarks and the tests use it.
        .target(
            name: "EmbeddedNetwork",
            dependencies: [
                "CrynuxSDK", "NodeKit", "Relay", "Bridge",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "crynux",
            dependencies: [
                "CrynuxSDK", "NodeKit", "Relay", "Bridge", "EmbeddedNetwork",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swiftSettings
        ),

        // Build-time embedding of the Bridge's web assets (chat page, OpenAPI document) into the binary.
        .executableTarget(name: "embed-assets", path: "Plugins/EmbedAssetsTool"),
        .plugin(name: "EmbedAssets", capability: .buildTool(), dependencies: ["embed-assets"]),

        // Examples (Examples/README.md): built by `swift build` so they never rot.
        .executableTarget(
            name: "sdk-chat",
            dependencies: ["CrynuxSDK"],
            path: "Examples/SDKChat",
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "sdk-image",
            dependencies: ["CrynuxSDK"],
            path: "Examples/SDKImage",
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "hummingbird-app",
            dependencies: [
                "CrynuxSDK",
                .product(name: "Hummingbird", package: "hummingbird"),
            ],
            path: "Examples/HummingbirdApp",
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "mounted-bridge",
            dependencies: [
                "Bridge", "CrynuxSDK",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Examples/MountedBridge",
            swiftSettings: swiftSettings
        ),

        // Tests.
        .target(
            name: "TestSupport",
            dependencies: ["CrynuxSDK"],
            path: "Tests/TestSupport",
            resources: [.copy("Fixtures")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "CrynuxSDKTests",
            dependencies: ["CrynuxSDK", "TestSupport", .product(name: "Crypto", package: "swift-crypto")],
            resources: [.copy("Fixtures")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "NodeKitTests",
            dependencies: ["NodeKit", "CrynuxSDK", "CKernels", "TestSupport"],
            resources: [.copy("Fixtures")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "RelayTests",
            dependencies: [
                "Relay", "CrynuxSDK", "TestSupport",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "MultipartKit", package: "multipart-kit"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "NetworkTests",
            dependencies: [
                "EmbeddedNetwork", "Relay", "NodeKit", "CrynuxSDK", "Bridge", "TestSupport",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
    ],
    swiftLanguageModes: [.v6]
)
