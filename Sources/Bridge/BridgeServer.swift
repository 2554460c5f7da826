import CrynuxSDK
import Foundation
import Hummingbird
import Logging
import NodeKit
import Relay

/// The Bridge's settings: defaults, then a JSON config file, then `CRYNUX_BRIDGE_*` environment variables, then
/// command-line flags (each later source wins). `settingsTable` documents them.
public struct BridgeSettings: Sendable, Hashable {
    /// Address to listen on.
    public var host = "127.0.0.1"
    /// Port to listen on.
    public var port = 8080
    /// Port of the embedded relay.
    public var relayPort = 8090
    /// State directory (keys, runs, usage, and in embedded mode the wallets and the local network).
    public var dataDirectory = DataDirectory.path("serve")
    /// A relay to use instead of the embedded network.
    public var relayURL: String?
    /// The paying keystore (with `relayURL`).
    public var wallet: String?
    /// A file whose first line is the keystore's password (else `CRYNUX_WALLET_PASSWORD`).
    public var walletPasswordFile: String?
    /// The model folder of the embedded node.
    public var modelDirectory = ModelStore.defaultDirectory
    /// Chat models offered (with `relayURL`; the embedded network offers what its node serves).
    public var models: [String] = []
    /// Image models offered.
    public var imageModels: [String] = []
    /// Fee per chat task, in CNX.
    public var fee = Wei(cnx: 5)
    /// Fee per image, in CNX.
    public var imageFee = Wei(cnx: 1)
    /// Paid requests are refused below this balance.
    public var balanceFloor = Wei(cnx: 10)
    /// Seconds between balance checks.
    public var balanceInterval = 60
    /// Seconds between `: keep-alive` comments in streams.
    public var keepAlive = 5
    /// `max_tokens` when a request has none.
    public var defaultMaxTokens = 256
    /// Percent of tasks validated in groups: 1 against a relay (the public network's rule); 0 on the embedded
    /// network, whose one node cannot form a group of three (nil: that default).
    public var validationRate: Int?
    /// swift-log level.
    public var logLevel = "info"
    /// `process` (commits survive the Bridge being killed) or `power` (each commit waits for the disk).
    public var durability = "process"

    /// The defaults.
    public init() {}

    /// Name, environment variable, default, meaning: the README's table.
    public static let settingsTable: [(key: String, env: String, help: String)] = [
        ("host", "CRYNUX_BRIDGE_HOST", "address to listen on (127.0.0.1)"),
        ("port", "CRYNUX_BRIDGE_PORT", "port (8080)"),
        ("relay_port", "CRYNUX_BRIDGE_RELAY_PORT", "embedded relay's port (8090)"),
        ("data_dir", "CRYNUX_BRIDGE_DATA_DIR", "state directory (~/.local/share/crynux/serve)"),
        ("relay_url", "CRYNUX_BRIDGE_RELAY_URL", "serve against this relay instead of the embedded network"),
        ("wallet", "CRYNUX_BRIDGE_WALLET", "paying keystore, with relay_url"),
        ("wallet_password_file", "CRYNUX_BRIDGE_WALLET_PASSWORD_FILE", "file holding the keystore password (else CRYNUX_WALLET_PASSWORD)"),
        ("model_dir", "CRYNUX_BRIDGE_MODEL_DIR", "the embedded node's model folder (crynux model fetch's)"),
        ("models", "CRYNUX_BRIDGE_MODELS", "chat models offered, comma-separated (with relay_url)"),
        ("image_models", "CRYNUX_BRIDGE_IMAGE_MODELS", "image models offered, comma-separated"),
        ("fee_cnx", "CRYNUX_BRIDGE_FEE_CNX", "fee per chat task (5)"),
        ("image_fee_cnx", "CRYNUX_BRIDGE_IMAGE_FEE_CNX", "fee per image (1)"),
        ("balance_floor_cnx", "CRYNUX_BRIDGE_BALANCE_FLOOR_CNX", "refuse paid work below this balance with 503 (10)"),
        ("balance_interval_s", "CRYNUX_BRIDGE_BALANCE_INTERVAL_S", "seconds between balance checks (60)"),
        ("keep_alive_s", "CRYNUX_BRIDGE_KEEP_ALIVE_S", "seconds between stream keep-alives (5)"),
        ("default_max_tokens", "CRYNUX_BRIDGE_DEFAULT_MAX_TOKENS", "max_tokens when a request gives none (256)"),
        ("validation_rate", "CRYNUX_BRIDGE_VALIDATION_RATE", "percent of tasks validated in groups (1 with relay_url; 0 embedded)"),
        ("log_level", "CRYNUX_BRIDGE_LOG_LEVEL", "trace, debug, info, notice, warning, error (info)"),
        ("durability", "CRYNUX_BRIDGE_DURABILITY", "process: commits survive a killed Bridge; power: also a power cut, an fsync per paid request (process)"),
    ]

    /// Applies one setting by its key (from a file or the environment).
    public mutating func set(_ key: String, _ value: String) throws {
        func int(_ range: ClosedRange<Int>) throws -> Int {
            guard let v = Int(value), range.contains(v) else { throw BridgeError("\(key) must be an integer in \(range.lowerBound)…\(range.upperBound)") }
            return v
        }
        func cnx() throws -> Wei {
            guard let v = Wei(cnx: value) else { throw BridgeError("\(key) must be a CNX amount such as 5 or 0.5") }
            return v
        }
        func list() -> [String] { value.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty } }
        switch key {
        case "host": host = value
        case "port": port = try int(1...65535)
        case "relay_port": relayPort = try int(1...65535)
        case "data_dir": dataDirectory = value
        case "relay_url": relayURL = value.isEmpty ? nil : value
        case "wallet": wallet = value.isEmpty ? nil : value
        case "wallet_password_file": walletPasswordFile = value
        case "model_dir": modelDirectory = value
        case "models": models = list()
        case "image_models": imageModels = list()
        case "fee_cnx": fee = try cnx()
        case "image_fee_cnx": imageFee = try cnx()
        case "balance_floor_cnx": balanceFloor = try cnx()
        case "balance_interval_s": balanceInterval = try int(1...86400)
        case "keep_alive_s": keepAlive = try int(1...600)
        case "default_max_tokens": defaultMaxTokens = try int(1...32768)
        case "validation_rate": validationRate = try int(0...100)
        case "log_level":
            guard Logger.Level(rawValue: value) != nil else { throw BridgeError("log_level must be trace, debug, info, notice, warning or error") }
            logLevel = value
        case "durability":
            guard ["process", "power"].contains(value) else { throw BridgeError("durability must be process or power") }
            durability = value
        default: throw BridgeError("unknown setting \(key)")
        }
    }

    /// Applies a JSON config file: an object whose keys are the settings (strings, numbers or arrays of strings).
    public mutating func apply(configFile path: String) throws {
        guard let bytes = FileManager.default.contents(atPath: path) else { throw BridgeError("cannot read \(path)") }
        guard case .object(let members) = try JSONValue.parse(Array(bytes)) else { throw BridgeError("\(path): the config must be a JSON object") }
        for m in members {
            let text: String
            switch m.value {
            case .string(let s): text = s
            case .number(let n): text = n
            case .bool(let b): text = String(b)
            case .array(let items): text = items.compactMap(\.stringValue).joined(separator: ",")
            default: throw BridgeError("\(path): \(m.key) must be a string, a number or a list of strings")
            }
            do { try set(m.key, text) } catch { throw BridgeError("\(path): \(error)") }
        }
    }

    /// Applies the `CRYNUX_BRIDGE_*` variables present in `environment`.
    public mutating func apply(environment: [String: String]) throws {
        for (key, env, _) in Self.settingsTable {
            if let value = environment[env] {
                do { try set(key, value) } catch { throw BridgeError("\(env): \(error)") }
            }
        }
    }
}

/// `crynux serve`: the Bridge, by default on an embedded local network (relay + node with the bundled model), or
/// against any relay with `relay_url` and `wallet`.
public enum BridgeServer {
    /// A wallet kept in `dir` as a keystore plus a generated password file (both 0600), created on first use.
    static func wallet(_ name: String, in dir: String) throws -> PrivateKey {
        let keystore = "\(dir)/\(name).json", passwordFile = "\(dir)/\(name).password"
        if FileManager.default.fileExists(atPath: keystore) {
            let password = try String(contentsOfFile: passwordFile, encoding: .utf8).trimmingCharacters(in: .newlines)
            return try Keystore.read(from: keystore).decrypt(password: password)
        }
        let key = PrivateKey.generate()
        let password = Hex.encode((0..<24).map { _ in UInt8.random(in: 0...255) })
        guard FileManager.default.createFile(atPath: passwordFile, contents: Data((password + "\n").utf8), attributes: [.posixPermissions: 0o600]) else {
            throw BridgeError("cannot write \(passwordFile)")
        }
        try Keystore.encrypt(key, password: password).write(to: keystore)
        return key
    }

    /// Opens the Bridge's database; on the first run creates the admin token and a first API key and prints both once.
    static func openStore(_ dataDirectory: String, syncEveryCommit: Bool) throws -> BridgeStore {
        let store = try BridgeStore(path: dataDirectory + "/bridge.sqlite", syncEveryCommit: syncEveryCommit)
        if try store.count() == 0 && store.list().isEmpty {
            let (secret, _) = try store.create(name: "default")
            FileHandle.standardOutput.write(Data("First API key (shown once, stored only as a hash): \(secret)\n".utf8))
        }
        if try !store.hasAdminToken() {
            FileHandle.standardOutput.write(Data("Admin token (shown once, stored only as a hash): \(try store.rotateAdminToken())\n".utf8))
        }
        return store
    }

    /// Runs the Bridge with `settings` until the process is stopped: on the embedded network unless a relay URL
    /// is set.
    public static func serve(_ settings: BridgeSettings) async throws {
        try FileManager.default.createDirectory(atPath: settings.dataDirectory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        var logger = Logger(label: "crynux.bridge")
        logger.logLevel = Logger.Level(rawValue: settings.logLevel) ?? .info
        let store = try openStore(settings.dataDirectory, syncEveryCommit: settings.durability == "power")
        if let relayURL = settings.relayURL {
            guard let walletPath = settings.wallet else { throw BridgeError("--relay needs --wallet (the paying keystore)") }
            guard !settings.models.isEmpty || !settings.imageModels.isEmpty else { throw BridgeError("--relay needs --models (the model ids to offer)") }
            let password = try WalletTools.password(
                file: settings.walletPasswordFile, environment: ProcessInfo.processInfo.environment["CRYNUX_WALLET_PASSWORD"])
            let key = try Keystore.read(from: walletPath).decrypt(password: password)
            let client = CrynuxClient(relay: relayURL, wallet: key, store: store, validationRatePercent: settings.validationRate ?? 1)
            try await run(settings, client: client, models: settings.models, store: store, logger: logger, relayDescription: relayURL)
            return
        }
        // A validation group needs three nodes: the embedded network's one node would wait for itself forever.
        guard (settings.validationRate ?? 0) == 0 else {
            throw BridgeError("validation_rate must be 0 on the embedded network (one node cannot form a validation group of three)")
        }
        let dataDirectory = settings.dataDirectory
        let bridgeKey = try wallet("bridge-wallet", in: dataDirectory), nodeKey = try wallet("node-wallet", in: dataDirectory)
        // The relay, in this process.
        var relayConfig = RelayConfig()
        relayConfig.validationRatePercent = 0
        let relay = try RelayServer.makeService(dataDirectory: dataDirectory + "/relay", config: relayConfig)
        let relayServer = Task { try await RelayServer.serve(relay, host: "127.0.0.1", port: settings.relayPort, dev: true) }
        defer { relayServer.cancel() }
        let relayURL = "http://127.0.0.1:\(settings.relayPort)"
        var up = false
        for _ in 0..<200 where !up {
            up = (try? await HTTPClientTransport(timeout: 1).send(method: "GET", url: relayURL + "/v1/now", headers: [], body: []))?.status == 200
            if !up { try await Task.sleep(for: .milliseconds(50)) }
        }
        guard up else { throw BridgeError("the embedded relay did not start on \(relayURL)") }
        // Fund the bridge's relay account from the development faucet.
        if try await relay.read({ $0.balance(of: bridgeKey.address.checksummed) }) < Wei(cnx: 1_000) {
            try await relay.perform { state, now throws(RelayError) in try state.deposit(to: bridgeKey.address.checksummed, amount: Wei(cnx: 10_000), now: now) }
        }
        // A node serving every model of the model folder.
        let manifest = try ModelStore(directory: settings.modelDirectory).manifest()
        guard !manifest.files.isEmpty else {
            throw BridgeError("\(settings.modelDirectory) has no models: run `crynux model fetch` first (make serve does)")
        }
        var engines: [String: TextGenerator] = [:]
        for entry in manifest.files { engines["base:" + entry.modelID.lowercased()] = try TextGenerator(path: settings.modelDirectory + "/" + entry.file, threads: 1) }
        let node = NodeWorker(
            client: RelayClient(baseURL: relayURL, key: nodeKey), engines: engines, hardware: NodeHardware.detect(),
            dataDirectory: dataDirectory + "/node", pollInterval: .milliseconds(50))
        let nodeTask = Task { try await node.run() }
        defer { nodeTask.cancel() }
        let client = CrynuxClient(relay: relayURL, wallet: bridgeKey, store: store, validationRatePercent: relayConfig.validationRatePercent)
        try await run(settings, client: client, models: manifest.files.map(\.modelID), store: store, logger: logger, relayDescription: "\(relayURL) (embedded)")
    }

    static func run(_ settings: BridgeSettings, client: CrynuxClient, models: [String], store: BridgeStore, logger: Logger, relayDescription: String) async throws {
        let config = BridgeConfiguration(
            client: client, models: models, imageModels: settings.imageModels, store: store, fee: settings.fee, imageFee: settings.imageFee,
            keepAlive: .seconds(settings.keepAlive), balanceFloor: settings.balanceFloor, balanceInterval: .seconds(settings.balanceInterval),
            defaultMaxTokens: settings.defaultMaxTokens)
        let bridge = Bridge(config, logger: logger)
        let resumed = try await bridge.start()
        let app = Application(
            router: bridge.router(), configuration: .init(address: .hostname(settings.host, port: settings.port), serverName: "crynux-bridge"), logger: logger)
        logger.info(
            "bridge listening",
            metadata: [
                "url": "http://\(settings.host):\(settings.port)/v1", "relay": "\(relayDescription)", "models": "\(models + settings.imageModels)",
                "data": "\(settings.dataDirectory)", "wallet": "\(client.address)", "resumed_runs": "\(resumed)",
            ])
        try await app.runService()
    }
}

/// Why the Bridge could not start.
public struct BridgeError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What was wrong.
    public var message: String
    /// Creates an error.
    public init(_ message: String) { self.message = message }
    /// The message.
    public var description: String { message }
}
