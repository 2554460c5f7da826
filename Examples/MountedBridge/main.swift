// mounted-bridge: an operator's own Hummingbird app with the Crynux Bridge mounted inside it, under /crynux.
//
//   mounted-bridge --relay URL --data-dir DIR [--keystore FILE | --faucet CNX] [--port 8081] [--model ID]
//
// OpenAI clients use http://127.0.0.1:8081/crynux/v1 as their base URL; the app's own routes (here /) sit beside the
// Bridge's. The first start writes an API key and an admin token to DIR/first-api-key and DIR/admin-token (0600; stored only as hashes in DIR/bridge.sqlite).
// SIGTERM or Ctrl-C stops accepting connections, answers the requests in flight, then stops.
import Bridge
import CrynuxSDK
import Foundation
import Hummingbird
import ServiceLifecycle

var options: [String: String] = [:]
var arguments = CommandLine.arguments.dropFirst()
while let name = arguments.popFirst(), let value = arguments.popFirst() { options[String(name.dropFirst(2))] = value }
guard let relay = options["relay"], let dataDirectory = options["data-dir"] else {
    FileHandle.standardError.write(Data("usage: mounted-bridge --relay URL --data-dir DIR [--keystore FILE | --faucet CNX] [--port N] [--model ID]\n".utf8))
    exit(2)
}
let key: PrivateKey
if let keystore = options["keystore"] {
    let password = try KeystorePassword.read(file: nil, environmentValue: ProcessInfo.processInfo.environment["CRYNUX_WALLET_PASSWORD"])
    key = try Keystore.read(from: keystore).decrypt(password: password)
} else {
    key = .generate()
}
if let faucet = options["faucet"], let amount = Wei(cnx: faucet) { _ = try await RelayClient(baseURL: relay, key: key).requestFaucet(amount: amount) }

let store = try BridgeServer.openStore(dataDirectory, syncEveryCommit: false)
let client = CrynuxClient(relay: relay, wallet: key, store: store, validationRatePercent: 0)
let bridge = BridgeService(
    BridgeConfiguration(client: client, models: [options["model"] ?? "HuggingFaceTB/SmolLM2-135M-Instruct"], store: store, balanceFloor: .zero))

// The operator's app: its own routes, and the Bridge under /crynux.
let router = Router(context: BridgeRequestContext.self)
router.get("/") { _, _ in "The operator's own page. The Bridge is at /crynux/v1.\n" }
bridge.mount(on: router.group("/crynux"), path: "/crynux")
let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: Int(options["port"] ?? "8081") ?? 8081)))

// The Bridge before the app, so a shutdown stops the app's connections first and then lets paid runs settle.
let group = ServiceGroup(services: [bridge, app], gracefulShutdownSignals: [.sigterm, .sigint], logger: app.logger)
try await group.run()
