import CrynuxSDK
import Foundation
import Logging

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
    public var dataDirectory: String
    /// A relay to use instead of the embedded network.
    public var relayURL: String?
    /// The paying keystore (with `relayURL`).
    public var wallet: String?
    /// A file whose first line is the keystore's password (else `CRYNUX_WALLET_PASSWORD`).
    public var walletPasswordFile: String?
    /// The model folder of the embedded node (nil: `crynux model fetch`'s folder).
    public var modelDirectory: String?
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
    /// Seconds paid runs in flight may take to finish on shutdown before they are handed to the next start.
    public var drainTimeout = 60
    /// Seconds a paid request may wait while its task is still queued on the relay before the task is cancelled
    /// (refunded) and the request answered 504.
    public var queueTimeout = 300
    /// Paid runs one key may have unsettled at once.
    public var keyConcurrency = 16
    /// VRAM floor (GB) of a chat task whose request has no `vram_limit` (the Crynux bridge's 24); the embedded
    /// network's node declares at least this much.
    public var defaultVRAM = 24
    /// Tasks the embedded node runs at once (0: sized from the machine's memory at start-up).
    public var nodeSlots = 0
    /// The embedded node's engine threads (0: sized from the machine's cores at start-up).
    public var nodeThreads = 0

    /// The defaults; the data directory follows `XDG_DATA_HOME` in `environment`.
    public init(environment: [String: String] = [:]) {
        dataDirectory = DataDirectory.path("serve", environment: environment)
    }

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
        ("drain_timeout_s", "CRYNUX_BRIDGE_DRAIN_TIMEOUT_S", "on SIGTERM, seconds paid runs may take to finish before the next start takes them over (60)"),
        ("queue_timeout_s", "CRYNUX_BRIDGE_QUEUE_TIMEOUT_S", "seconds a paid request waits for a node before its queued task is cancelled, refunded and answered 504 (300)"),
        ("key_concurrency", "CRYNUX_BRIDGE_KEY_CONCURRENCY", "paid runs one API key may have unsettled at once; more get 429 (16)"),
        ("default_vram_gb", "CRYNUX_BRIDGE_DEFAULT_VRAM_GB", "VRAM floor of a chat task whose request has no vram_limit, as the Crynux bridge (24)"),
        ("node_slots", "CRYNUX_BRIDGE_NODE_SLOTS", "tasks the embedded node runs at once, decoded together (0: from memory, at most 16)"),
        ("node_threads", "CRYNUX_BRIDGE_NODE_THREADS", "the embedded node's engine threads (0: one per core less one for the network, at least 1)"),
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
        case "model_dir": modelDirectory = value.isEmpty ? nil : value
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
        case "drain_timeout_s": drainTimeout = try int(1...86400)
        case "queue_timeout_s": queueTimeout = try int(1...86400)
        case "key_concurrency": keyConcurrency = try int(1...10000)
        case "default_vram_gb": defaultVRAM = try int(1...4096)
        case "node_slots": nodeSlots = try int(0...64)
        case "node_threads": nodeThreads = try int(0...256)
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

    /// The Bridge's data directory: `flag`, else `CRYNUX_BRIDGE_DATA_DIR`, else the default under `XDG_DATA_HOME`.
    public static func dataDirectory(flag: String?, environment: [String: String]) -> String {
        flag ?? environment["CRYNUX_BRIDGE_DATA_DIR"] ?? BridgeSettings(environment: environment).dataDirectory
    }

    /// The settings of `crynux serve`, layered: defaults, then the JSON file (`configFile`, or `DATA_DIR/bridge.json`
    /// when present), then the `CRYNUX_BRIDGE_*` variables of `environment`, then `flags` (setting keys to values).
    public static func load(configFile: String?, environment: [String: String], flags: [(key: String, value: String)]) throws -> BridgeSettings {
        var settings = BridgeSettings(environment: environment)
        let dataDirectory = dataDirectory(flag: flags.last { $0.key == "data_dir" }?.value, environment: environment)
        if let configFile {
            try settings.apply(configFile: configFile)
        } else if FileManager.default.fileExists(atPath: dataDirectory + "/bridge.json") {
            try settings.apply(configFile: dataDirectory + "/bridge.json")
        }
        try settings.apply(environment: environment)
        for flag in flags { try settings.set(flag.key, flag.value) }
        return settings
    }
}
