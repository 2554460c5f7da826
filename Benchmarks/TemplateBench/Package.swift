// swift-tools-version: 6.2
// Chat-template benchmark, kept out of the main package's build. See Benchmarks/README.md.
import PackageDescription

let package = Package(
    name: "TemplateBench",
    platforms: [.macOS(.v15)],
    // The repository itself, through the `crynux-swift` symlink beside this file: a path dependency is named after its
    // folder, and the checkout folder may have any name.
    dependencies: [.package(path: "crynux-swift")],
    targets: [
        .executableTarget(
            name: "template-bench",
            dependencies: [.product(name: "CrynuxSDK", package: "crynux-swift")],
            swiftSettings: [.unsafeFlags(["-Ounchecked"], .when(configuration: .release))]
        )
    ],
    swiftLanguageModes: [.v6]
)
