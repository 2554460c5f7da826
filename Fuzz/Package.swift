// swift-tools-version: 6.0
// Coverage-guided fuzz targets (libFuzzer) for the parsers that read untrusted bytes. A package of its own so
// the main build never carries the fuzzer's instrumentation; `make fuzz` and `scripts/fuzz.sh` build and run it.
import PackageDescription

let targets = ["FuzzJSON", "FuzzGGUF", "FuzzPNG", "FuzzKeystore", "FuzzJinja", "FuzzForms", "FuzzTaskArgs"]

let package = Package(
    name: "crynux-fuzz",
    platforms: [.macOS(.v15)],
    products: targets.map { .executable(name: $0, targets: [$0]) },
    dependencies: [.package(name: "crynux-swift", path: "..")],
    targets: [
        .executableTarget(name: "FuzzJSON", dependencies: [.product(name: "CrynuxSDK", package: "crynux-swift")]),
        .executableTarget(name: "FuzzGGUF", dependencies: [.product(name: "NodeKit", package: "crynux-swift")]),
        .executableTarget(name: "FuzzPNG", dependencies: [.product(name: "CrynuxSDK", package: "crynux-swift")]),
        .executableTarget(name: "FuzzKeystore", dependencies: [.product(name: "CrynuxSDK", package: "crynux-swift")]),
        .executableTarget(name: "FuzzJinja", dependencies: [.product(name: "CrynuxSDK", package: "crynux-swift")]),
        .executableTarget(
            name: "FuzzForms", dependencies: [.product(name: "Relay", package: "crynux-swift"), .product(name: "CrynuxSDK", package: "crynux-swift")]),
        .executableTarget(name: "FuzzTaskArgs", dependencies: [.product(name: "CrynuxSDK", package: "crynux-swift")]),
    ],
    swiftLanguageModes: [.v6]
)
