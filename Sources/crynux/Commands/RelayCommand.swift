import ArgumentParser
import CrynuxSDK
import Foundation
import Relay

struct RelayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "relay", abstract: "Run a Crynux-compatible relay (HTTP API, SQLite state) for local development and private networks.")
    @Option(help: "Address to listen on.") var host = "127.0.0.1"
    @Option(help: "Port.") var port = 8090
    @Option(name: .customLong("data-dir"), help: "Database and result files (default ~/.local/share/crynux/relay).") var dataDir: String?
    @Flag(help: "Development mode: enables POST /v1/dev/faucet.") var dev = false
    @Option(name: .customLong("validation-rate"), help: "Percent of tasks sent to validation groups (default 1, the network's rule).")
    var validationRate = 1
    func run() async throws {
        guard (0...100).contains(validationRate), (1...65535).contains(port) else { throw CLIError("--validation-rate is 0…100 and --port 1…65535") }
        var config = RelayConfig()
        config.validationRatePercent = validationRate
        let data = dataDir ?? DataDirectory.path("relay", environment: environment)
        do { try await RelayServer.run(host: host, port: port, dataDirectory: data, dev: dev, config: config) } catch {
            throw CLIError("relay: \(error)", exitCode: 1)
        }
    }
}
