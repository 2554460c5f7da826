import ArgumentParser
import CrynuxSDK
import Foundation
import NodeKit

struct Generate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Generate text with a GGUF model, from a raw prompt or a chat (GPTTaskArgs JSON: prints the GPTTaskResponse).")
    @Option(help: "The .gguf file.") var model: String
    @Option(help: "A raw prompt (no chat template).") var prompt: String?
    @Option(help: "A task-args JSON file ({\"model\", \"messages\", …}); runs it as a node would.") var chat: String?
    @Option(name: .customLong("max-tokens"), help: "The most new tokens (default 256).") var maxTokens: Int = 256
    @Option(help: "Sampling seed (default 0).") var seed: UInt64 = 0
    @Option(help: "Sample with this temperature (greedy when absent or 0).") var temperature: Float?
    @Option(help: "Threads (default 1).") var threads: Int = 1
    @Flag(help: "Print text as it is produced (with --chat, to stderr).") var stream = false

    func run() throws {
        guard (prompt == nil) != (chat == nil) else { throw CLIError("give exactly one of --prompt and --chat") }
        guard maxTokens >= 0, threads >= 1, threads <= 256 else { throw CLIError("--max-tokens must be ≥ 0 and --threads 1…256") }
        let generator: TextGenerator
        do { generator = try TextGenerator(path: model, threads: threads) } catch { throw CLIError("\(model): \(error)") }
        if let chat {
            guard let data = FileManager.default.contents(atPath: chat) else { throw CLIError("cannot read \(chat)") }
            let task: GPTTaskArgs
            do {
                task = try GPTTaskArgs(json: Array(data)).filling(
                    maxNewTokens: maxTokens, seed: Int(truncatingIfNeeded: seed), sampleAt: temperature.map(Double.init))
            } catch { throw CLIError("invalid task arguments: \(error)") }
            let response: GPTTaskResponse
            do {
                response = try generator.run(task: task) { event in
                    // The response JSON goes to stdout; the live text of the first sequence to stderr.
                    guard stream, case .token(0, _, let text) = event, !text.isEmpty else { return }
                    FileHandle.standardError.write(Data(text.utf8))
                }
            } catch { throw CLIError("\(error)") }
            if stream { FileHandle.standardError.write(Data("\n".utf8)) }
            emit(try JSONValueEncoder().encode(response).compactText)
            return
        }
        let sampling = SamplingOptions(doSample: (temperature ?? 0) > 0, temperature: temperature ?? 1, seed: seed)
        let ids = generator.tokenizer.encode(prompt!)
        let result: [GeneratedSequence]
        do {
            result = try generator.generate(prompt: ids, maxNewTokens: maxTokens, sampling: sampling, onEvent: { event in
                guard stream, case .token(_, _, let text) = event, !text.isEmpty else { return }
                FileHandle.standardOutput.write(Data(text.utf8))
            })
        } catch { throw CLIError("\(error)") }
        if stream {
            FileHandle.standardOutput.write(Data("\n".utf8))
        } else {
            emit(result[0].text)
        }
    }
}
