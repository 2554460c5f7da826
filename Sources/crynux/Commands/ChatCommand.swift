import ArgumentParser
import CrynuxSDK
import Foundation

struct ChatCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chat", abstract: "Ask the network: create a chat task on RELAY paid by the wallet, follow it, print the answer.")
    @Option(help: "The relay's base URL.") var relay: String
    @Option(help: "The paying keystore (Web3 Secret Storage v3).") var wallet: String
    @OptionGroup var password: PasswordOptions
    @Option(help: "The Hugging Face model id.") var model = "HuggingFaceTB/SmolLM2-135M-Instruct"
    @Option(name: .customLong("max-tokens"), help: "The most new tokens (default 256).") var maxTokens = 256
    @Option(help: "The fee per task in CNX (default 5).") var fee = "5"
    @Option(name: .customLong("validation-rate"), help: "Percent of tasks the relay validates in groups (default 1, the network's rule).")
    var validationRate = 1
    @Argument(help: "The prompt.") var prompt: String
    func run() async throws {
        guard let feeWei = Wei(cnx: fee) else { throw CLIError("--fee must be a CNX amount") }
        guard (0...100).contains(validationRate), maxTokens >= 1 else { throw CLIError("--validation-rate is 0…100 and --max-tokens at least 1") }
        let key = try password.key(from: wallet)
        let client = CrynuxClient(relay: relay, wallet: key, validationRatePercent: validationRate)
        let status = StatusLine()
        // On a terminal the answer appears as the node writes it (on relays that stream tokens); piped, it comes whole.
        let live = isatty(1) != 0 ? LiveText(status: status) : nil
        var onText: (@Sendable (RelayClient.StreamDelta) -> Void)?
        if let live { onText = { (delta: RelayClient.StreamDelta) in live.show(delta) } }
        let onEvent: @Sendable (TaskEvent) -> Void = { status.show($0) }
        do {
            let completion = try await client.chat(
                model: model, messages: [.text(.user, prompt)], generation: GenerationConfig(maxNewTokens: maxTokens), fee: feeWei,
                onEvent: onEvent, onText: onText)
            status.clear()
            if let live { live.finish() } else { emit(completion.choices.first?.message.content ?? "") }
        } catch {
            status.clear()
            throw CLIError("\(error)", exitCode: 1)
        }
    }
}

/// Prints a chat's text as it arrives: the status line gives way at the first text, leading whitespace is dropped.
final class LiveText: @unchecked Sendable {
    // Guarded by `lock`.
    private let lock = NSLock()
    private let status: StatusLine
    private var started = false

    init(status: StatusLine) { self.status = status }

    func show(_ delta: RelayClient.StreamDelta) {
        guard delta.index == 0 else { return }
        lock.withLock {
            var text = Substring(delta.text)
            if !started {
                text = text.drop { $0.isWhitespace }
                guard !text.isEmpty else { return }
                status.mute()
                started = true
            }
            FileHandle.standardOutput.write(Data(text.utf8))
        }
    }

    func finish() { FileHandle.standardOutput.write(Data("\n".utf8)) }
}
