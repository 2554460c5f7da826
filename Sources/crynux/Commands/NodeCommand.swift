import ArgumentParser
import CrynuxSDK
import Foundation
import NodeKit

struct NodeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "node", abstract: "Run a worker node: join RELAY with the wallet's key and serve the models in --models (LLM tasks).",
        discussion: "SIGTERM or Ctrl-C finishes the current step, then quits the network. `crynux node-control pause|resume|quit` changes the status of a running node.")
    @Option(help: "The relay's base URL.") var relay: String
    @Option(help: "The node's keystore (Web3 Secret Storage v3).") var wallet: String
    @OptionGroup var password: PasswordOptions
    @Option(help: "The model folder, as `crynux model fetch --dir` leaves it (default: the data directory's).") var models: String?
    @Option(name: .customLong("data-dir"), help: "Where result files wait for upload (default ~/.local/share/crynux/node).") var dataDir: String?
    @Option(help: "Engine threads (default 1).") var threads = 1
    @Option(help: "Tasks held at once on relays with the node_slots extension, decoded together (default 1).") var slots = 1
    func run() async throws {
        guard (1...256).contains(threads) else { throw CLIError("--threads must be 1…256") }
        guard (1...64).contains(slots) else { throw CLIError("--slots must be 1…64") }
        let data = dataDir ?? DataDirectory.path("node", environment: environment)
        let pw = try password.password()
        do {
            try await NodeRunner.run(
                relay: relay, keystore: wallet, password: pw, models: models ?? ModelStore.defaultDirectory(environment: environment), dataDirectory: data, threads: threads,
                slots: slots)
        } catch { throw CLIError("node: \(error)", exitCode: 1) }
    }
}
