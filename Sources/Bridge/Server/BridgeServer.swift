import CrynuxSDK
import Foundation
import Hummingbird
import Logging
import ServiceLifecycle
import UnixSignals

/// The pieces of a running Bridge: its store, its configuration from settings, its HTTP server, and the whole of
/// `crynux serve --relay` (the Bridge against any relay, starting nothing local).
public enum BridgeServer {
    /// Opens the Bridge's database in `dataDirectory` (made private, 0700, on every start). On the first run creates
    /// a first API key and the admin token, stored only as hashes: each is written once to a file only its owner can
    /// read (`first-api-key`, `admin-token`, 0600) and passed to `announce` with `showSecrets` true when standard
    /// output is a terminal; otherwise only the file's path is announced, so no secret reaches a log.
    public static func openStore(
        _ dataDirectory: String, syncEveryCommit: Bool, showSecrets: Bool = isatty(1) != 0,
        announce: (String) -> Void = { FileHandle.standardOutput.write(Data(($0 + "\n").utf8)) }
    ) throws -> BridgeStore {
        try DataDirectory.makePrivate(dataDirectory)
        let store = try BridgeStore(path: dataDirectory + "/bridge.sqlite", syncEveryCommit: syncEveryCommit)
        func hand(_ secret: String, _ what: String, file: String) throws {
            let path = dataDirectory + "/" + file
            try? FileManager.default.removeItem(atPath: path)
            try DataDirectory.writeSecret(secret + "\n", to: path)
            announce(showSecrets ? "\(what) (shown once, stored only as a hash; also in \(path)): \(secret)" : "\(what) written to \(path) (mode 0600)")
        }
        if try store.count() == 0 && store.list().isEmpty {
            let (secret, _) = try store.create(name: "default")
            try hand(secret, "First API key", file: "first-api-key")
        }
        if try !store.hasAdminToken() {
            try hand(try store.rotateAdminToken(), "Admin token", file: "admin-token")
        }
        return store
    }

    /// The Bridge's configuration from `settings`, paying through `client` for `models`.
    public static func configuration(
        _ settings: BridgeSettings, client: CrynuxClient, models: [String], store: BridgeStore, tokenCounter: (any PromptTokenCounter)? = nil
    ) -> BridgeConfiguration {
        BridgeConfiguration(
            client: client, models: models, imageModels: settings.imageModels, store: store, fee: settings.fee, imageFee: settings.imageFee,
            keepAlive: .seconds(settings.keepAlive), balanceFloor: settings.balanceFloor, balanceInterval: .seconds(settings.balanceInterval),
            defaultMaxTokens: settings.defaultMaxTokens, drainTimeout: .seconds(settings.drainTimeout), queueTimeout: .seconds(settings.queueTimeout),
            keyConcurrency: settings.keyConcurrency, defaultVRAM: settings.defaultVRAM, tokenCounter: tokenCounter)
    }

    /// A logger at the settings' level.
    public static func logger(_ settings: BridgeSettings, label: String = "crynux.bridge") -> Logger {
        var logger = Logger(label: label)
        logger.logLevel = Logger.Level(rawValue: settings.logLevel) ?? .info
        return logger
    }

    /// `crynux serve --relay URL --wallet FILE`: the Bridge against that relay, until SIGTERM or SIGINT (which drain it).
    /// `walletPassword` is the keystore's password when `settings.walletPasswordFile` is not set.
    public static func serveRemote(_ settings: BridgeSettings, walletPassword: String?) async throws {
        guard let relayURL = settings.relayURL else { throw BridgeError("serveRemote needs relay_url") }
        guard let walletPath = settings.wallet else { throw BridgeError("--relay needs --wallet (the paying keystore)") }
        guard !settings.models.isEmpty || !settings.imageModels.isEmpty else { throw BridgeError("--relay needs --offer (the model ids to offer)") }
        let logger = logger(settings)
        let store = try openStore(settings.dataDirectory, syncEveryCommit: settings.durability == "power")
        let password: String
        do { password = try KeystorePassword.read(file: settings.walletPasswordFile, environmentValue: walletPassword) } catch {
            throw BridgeError("\(error)")
        }
        let key = try Keystore.read(from: walletPath).decrypt(password: password)
        let client = CrynuxClient(relay: relayURL, wallet: key, store: store, validationRatePercent: settings.validationRate ?? 1)
        let bridge = BridgeService(configuration(settings, client: client, models: settings.models, store: store), logger: logger)
        let http = BridgeHTTPServer(bridge: bridge, host: settings.host, port: settings.port, logger: logger)
        logger.info(
            "bridge starting",
            metadata: [
                "url": "http://\(settings.host):\(settings.port)/v1", "relay": "\(relayURL)", "models": "\(settings.models + settings.imageModels)",
                "data": "\(settings.dataDirectory)", "wallet": "\(client.address)",
            ])
        let group = ServiceGroup(
            configuration: .init(services: [bridge, http], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
        logger.info("bridge stopped")
    }
}

/// The Bridge's HTTP server as a `Service`: on graceful shutdown it stops accepting connections, starts the
/// Bridge's drain countdown, and returns once every request in flight has been answered.
public struct BridgeHTTPServer: Service {
    let app: Application<RouterResponder<BridgeRequestContext>>
    let bridge: BridgeService

    /// A server for `bridge`'s router on `host:port`.
    public init(bridge: BridgeService, host: String, port: Int, logger: Logger) {
        self.bridge = bridge
        // Idle connections close after 30 s (a request head must arrive within that; a paid request waiting for its
        // answer is not idle), and at most 1,024 are open at once.
        app = Application(
            router: bridge.router(), server: .http1(configuration: .init(idleTimeout: .seconds(30))),
            configuration: .init(
                address: .hostname(host, port: port), serverName: "crynux-bridge", availableConnectionsDelegate: .maximum(1_024, logger: logger)),
            logger: logger)
    }

    /// Serves until graceful shutdown.
    public func run() async throws {
        let bridge = self.bridge
        try await withGracefulShutdownHandler {
            try await app.run()
        } onGracefulShutdown: {
            bridge.beginDrain()
        }
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
