// swift-tools-version: 6.2
// Chat-template benchmark, kept out of the main package's build. See Benchmarks/README.md.
import PackageDescription

let package = Package(
    name: "TemplateBench",
    platforms: [.macOS(.v15)],
    dependencies: [.package(path: "../..")],
    targets: [
        .executableTarget(
            name: "template-bench",
            dependencies: [.product(name: "CrynuxSDK", package: "main")],
            swiftSettings: [.unsafeFlags(["-Ounchecked"], .when(configuration: .release))]
        )
    ],
    swiftLanguageModes: [.v6]
)
