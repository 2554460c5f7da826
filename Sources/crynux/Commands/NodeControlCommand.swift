import ArgumentParser
import CrynuxSDK
import Foundation

struct NodeControl: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "node-control", abstract: "Pause, resume or quit a node at the relay (after its current task).")
    @Argument(help: "pause, resume or quit.") var action: String
    @Option(help: "The relay's base URL.") var relay: String
    @Option(help: "The node's keystore.") var wallet: String
    @OptionGroup var password: PasswordOptions
    func run() async throws {
        guard ["pause", "resume", "quit"].contains(action) else { throw CLIError("the action is pause, resume or quit") }
        let key = try password.key(from: wallet)
        var client = RelayClient(baseURL: relay, key: key)
        do {
            try await client.synchroniseClock()
            try await client.nodeAction(action)
        } catch { throw CLIError("\(error)", exitCode: 1) }
        emit("\(action): ok")
    }
}
