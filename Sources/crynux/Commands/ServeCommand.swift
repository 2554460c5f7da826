import ArgumentParser
import Bridge
import CrynuxSDK
import EmbeddedNetwork
import Foundation

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "The OpenAI-compatible Bridge on an embedded local network (relay + node with the bundled model), on 127.0.0.1:8080.",
        discussion: """
            The first run creates the data directory, the bridge's and the node's wallets, an admin token and an API key (both printed once). \
            With --relay and --wallet it serves against that relay instead, starting nothing local. Settings come from defaults, then \
            --config FILE (JSON; DATA_DIR/bridge.json when present), then CRYNUX_BRIDGE_* variables, then these flags.
            """)
    @Option(help: "A JSON settings file (see the README's table).") var config: String?
    @Option(help: "Address to listen on (default 127.0.0.1).") var host: String?
    @Option(help: "Port (default 8080).") var port: Int?
    @Option(name: .customLong("relay-port"), help: "Port of the embedded relay (default 8090).") var relayPort: Int?
    @Option(name: .customLong("data-dir"), help: "State (default ~/.local/share/crynux/serve).") var dataDir: String?
    @Option(help: "The model folder of the embedded node (default: crynux model fetch's).") var models: String?
    @Option(help: "Serve against this relay instead of the embedded network.") var relay: String?
    @Option(help: "The paying keystore, with --relay (password: --password-file or CRYNUX_WALLET_PASSWORD).") var wallet: String?
    @Option(name: .customLong("password-file"), help: "The keystore password's file.") var passwordFile: String?
    @Option(name: .customLong("offer"), help: "Chat model ids to offer, comma-separated (with --relay).") var offer: String?
    @Option(name: .customLong("node-slots"), help: "Tasks the embedded node runs at once, 1…64 (default: sized from memory).") var nodeSlots: Int?
    @Option(name: .customLong("node-threads"), help: "The embedded node's engine threads, 1…256 (default: cores less one).") var nodeThreads: Int?
    func run() async throws {
        let settings: BridgeSettings
        do {
            let flags: [(String, String?)] = [
                ("host", host), ("port", port.map(String.init)), ("relay_port", relayPort.map(String.init)), ("data_dir", dataDir), ("model_dir", models),
                ("relay_url", relay), ("wallet", wallet), ("wallet_password_file", passwordFile), ("models", offer),
                ("node_slots", nodeSlots.map(String.init)), ("node_threads", nodeThreads.map(String.init)),
            ]
            settings = try BridgeSettings.load(
                configFile: config, environment: environment, flags: flags.compactMap { key, value in value.map { (key, $0) } })
        } catch { throw CLIError("serve: \(error)") }
        guard settings.relayURL != nil || settings.port != settings.relayPort else { throw CLIError("--port and --relay-port must differ") }
        do { try await CrynuxServe.run(settings, walletPassword: environment["CRYNUX_WALLET_PASSWORD"], environment: environment) } catch {
            throw CLIError("serve: \(error)", exitCode: 1)
        }
    }
}
