import Bridge
import CrynuxSDK
import Foundation
import Logging
import NodeKit
import Relay
import ServiceLifecycle
import UnixSignals

/// `crynux serve`: the Bridge on an embedded network (a relay on loopback, a node serving every model of the model
/// folder, the Bridge's wallet funded by the relay), or against any relay when `relay_url` is set.
///
/// Everything runs in one `ServiceGroup`: relay server, relay ticker, node, Bridge, Bridge HTTP. SIGTERM or SIGINT
/// shuts them down in reverse: the Bridge stops accepting connections and answers (or hands over) the paid requests
/// in flight, the node finishes its step and quits the network, the relay stops and its database closes.
public enum CrynuxServe {
    /// Serves until SIGTERM or SIGINT. `walletPassword` is the paying keystore's password for `relay_url` mode when no
    /// password file is set; `environment` supplies the model folder's default (`CRYNUX_MODEL_DIR`, `XDG_DATA_HOME`).
    public static func run(_ settings: BridgeSettings, walletPassword: String?, environment: [String: String]) async throws {
        if settings.relayURL != nil {
            try await BridgeServer.serveRemote(settings, walletPassword: walletPassword)
            return
        }
        // A validation group needs three nodes: the embedded network's one node would wait for itself forever.
        guard (settings.validationRate ?? 0) == 0 else {
            throw EmbeddedNetworkError("validation_rate must be 0 on the embedded network (one node cannot form a validation group of three)")
        }
        guard settings.port != settings.relayPort else { throw EmbeddedNetworkError("the Bridge's port and the relay's port must differ") }
        let logger = BridgeServer.logger(settings)
        let data = settings.dataDirectory
        let store = try BridgeServer.openStore(data, syncEveryCommit: settings.durability == "power")
        let bridgeKey = try LocalWallet.loadOrCreate("bridge-wallet", in: data), nodeKey = try LocalWallet.loadOrCreate("node-wallet", in: data)

        let modelDirectory = settings.modelDirectory ?? ModelStore.defaultDirectory(environment: environment)
        let manifest = try ModelStore(directory: modelDirectory).manifest()
        guard !manifest.files.isEmpty else {
            throw EmbeddedNetworkError("\(modelDirectory) has no models: run `crynux model fetch` first (make serve does)")
        }
        let threads = NodeSizing.threads(settings.nodeThreads, cores: ProcessInfo.processInfo.activeProcessorCount)
        let engines = try NodeRunner.engines(in: modelDirectory, threads: threads.count)
        let slots = NodeSizing.slots(settings.nodeSlots, memory: ProcessInfo.processInfo.physicalMemory, models: engines.values.map(\.model.config))

        var configuration = EmbeddedNetwork.Configuration()
        configuration.relayPort = settings.relayPort
        configuration.dataDirectory = data + "/relay"
        configuration.logger = Logger(label: "crynux.relay")
        // Only this process's node may join: another local process claiming more VRAM or stake would win every task.
        configuration.relay.allowedNodes = [nodeKey.address.checksummed]
        let network = try EmbeddedNetwork(configuration)
        let relayURL = "http://\(configuration.host):\(settings.relayPort)"
        // Fund the Bridge's relay account from the relay's own ledger.
        try await network.topUp(bridgeKey.address.checksummed, below: Wei(cnx: 1_000), amount: Wei(cnx: 10_000))
        // The one node of this network declares at least the Bridge's default VRAM floor (the Crynux bridge's 24 GB), so
        // requests that name none, and unmodified Crynux clients (`ChatCrynux` sends vram_limit 24), find it; on a CPU
        // the figure is the memory its engine may use, and only this network's dispatch reads it.
        var hardware = NodeHardware.detect()
        let detected = hardware.gpuVRAM
        hardware.gpuVRAM = max(detected, settings.defaultVRAM)
        let node = network.node(
            relayURL: relayURL, key: nodeKey, engines: engines, hardware: hardware, dataDirectory: data + "/node", slots: slots.count,
            logger: Logger(label: "crynux.node"))

        let client = CrynuxClient(relay: relayURL, wallet: bridgeKey, store: store, validationRatePercent: 0)
        let models = manifest.files.map(\.modelID)
        let counter = EngineTokenCounter(engines: engines)
        let bridge = BridgeService(
            BridgeServer.configuration(settings, client: client, models: models, store: store, tokenCounter: counter), logger: logger)
        let http = BridgeHTTPServer(bridge: bridge, host: settings.host, port: settings.port, logger: logger)
        logger.info(
            "bridge starting",
            metadata: [
                "url": "http://\(settings.host):\(settings.port)/v1", "relay": "\(relayURL) (embedded)", "models": "\(models + settings.imageModels)",
                "data": "\(data)", "wallet": "\(client.address)", "node": "\(nodeKey.address.checksummed)",
                "node_vram_gb": "\(hardware.gpuVRAM) (detected \(detected); default_vram_gb \(settings.defaultVRAM))",
                "node_slots": "\(slots.count) (\(slots.reason))", "node_threads": "\(threads.count) (\(threads.reason))",
            ])
        let group = ServiceGroup(
            configuration: .init(
                services: network.services + [node, bridge, http], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
        try await network.relay.close()
        logger.info("stopped: paid runs settled or handed over, node quit, relay closed")
    }
}

/// How many tasks the embedded node runs at once and on how many threads: the settings when given, else sized from the
/// machine (threads: a core each, one core left to the relay and the Bridge; slots: a full-context KV cache each for
/// the largest model, within a quarter of the memory, at most 16). Each figure comes with where it came from, for the
/// start-up line.
enum NodeSizing {
    /// The most slots sized automatically.
    static let maxAutomaticSlots = 16

    /// Engine threads: `setting` when positive, else one per core less one.
    static func threads(_ setting: Int, cores: Int) -> (count: Int, reason: String) {
        setting > 0 ? (setting, "node_threads") : (max(1, cores - 1), "\(cores) cores, one left to the network")
    }

    /// Slots: `setting` when positive, else as many full-context KV caches of the largest of `models` as a quarter of
    /// `memory` holds, 1…16.
    static func slots(_ setting: Int, memory: UInt64, models: [ModelConfig]) -> (count: Int, reason: String) {
        guard setting <= 0 else { return (setting, "node_slots") }
        let perSlot = models.map { 2 * $0.layers * $0.kvHeads * $0.headDimension * $0.contextLength * MemoryLayout<Float>.size }.max() ?? (1 << 30)
        let budget = Int(min(memory / 4, UInt64(Int.max / 2)))
        let count = max(1, min(maxAutomaticSlots, budget / max(1, perSlot)))
        return (count, "\(memory >> 30) GB memory, \(perSlot >> 20) MB of KV cache per full-context slot, at most \(maxAutomaticSlots)")
    }
}

/// Counts prompt tokens with the embedded node's own engines (its chat templates and tokenizers).
struct EngineTokenCounter: PromptTokenCounter {
    /// Engines by base model id (`base:<lowercased HF id>`).
    let engines: [String: TextGenerator]

    func promptTokens(_ task: GPTTaskArgs) throws -> Int? {
        guard let engine = engines["base:" + task.model.lowercased()] else { return nil }
        return try engine.promptTokens(for: task).count
    }
}
