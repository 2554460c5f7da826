import CrynuxSDK
import Foundation
import Hummingbird
import Logging
import NodeKit
import Relay

/// `crynux serve`: the Bridge, by default on an embedded local network (relay + node with the bundled model).
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

    /// Runs the embedded network and the Bridge until the process is stopped. Prints the first API key once.
    public static func serveEmbedded(dataDirectory: String, host: String, port: Int, relayPort: Int, modelDirectory: String) async throws {
        try FileManager.default.createDirectory(atPath: dataDirectory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        var logger = Logger(label: "crynux.serve")
        logger.logLevel = .info
        let bridgeKey = try wallet("bridge-wallet", in: dataDirectory), nodeKey = try wallet("node-wallet", in: dataDirectory)
        let keys = try APIKeyStore(path: dataDirectory + "/bridge.sqlite")
        if try keys.count() == 0 {
            let (secret, _) = try keys.create(name: "default")
            FileHandle.standardOutput.write(Data("First API key (shown once, stored only as a hash): \(secret)\n".utf8))
        }
        // The relay, in this process.
        let config = RelayConfig()
        let relay = try RelayServer.makeService(dataDirectory: dataDirectory + "/relay", config: config)
        let relayServer = Task { try await RelayServer.serve(relay, host: "127.0.0.1", port: relayPort, dev: true) }
        defer { relayServer.cancel() }
        let relayURL = "http://127.0.0.1:\(relayPort)"
        var up = false
        for _ in 0..<200 where !up {
            up = (try? await HTTPClientTransport(timeout: 1).send(method: "GET", url: relayURL + "/v1/now", headers: [], body: []))?.status == 200
            if !up { try await Task.sleep(for: .milliseconds(50)) }
        }
        guard up else { throw BridgeError("the embedded relay did not start on \(relayURL)") }
        // Fund the bridge's relay account from the development faucet.
        let floor = Wei(cnx: 1_000)
        if try await relay.read({ $0.balance(of: bridgeKey.address.checksummed) }) < floor {
            try await relay.perform { state, now throws(RelayError) in try state.deposit(to: bridgeKey.address.checksummed, amount: Wei(cnx: 10_000), now: now) }
        }
        // A node serving every model of the model folder.
        let manifest = try ModelStore(directory: modelDirectory).manifest()
        guard !manifest.files.isEmpty else { throw BridgeError("\(modelDirectory) has no models: run `crynux model fetch` first (make serve does)") }
        var engines: [String: TextGenerator] = [:]
        for entry in manifest.files { engines["base:" + entry.modelID.lowercased()] = try TextGenerator(path: modelDirectory + "/" + entry.file, threads: 1) }
        let node = NodeWorker(
            client: RelayClient(baseURL: relayURL, key: nodeKey), engines: engines, hardware: NodeHardware.detect(),
            dataDirectory: dataDirectory + "/node", pollInterval: .milliseconds(50))
        let nodeTask = Task { try await node.run() }
        defer { nodeTask.cancel() }
        let client = CrynuxClient(relay: relayURL, wallet: bridgeKey, validationRatePercent: config.validationRatePercent)
        let bridge = BridgeConfiguration(client: client, models: manifest.files.map(\.modelID), keys: keys)
        let router = BridgeHTTP.router(bridge)
        router.add(middleware: LogRequestsMiddleware(.info))
        let app = Application(router: router, configuration: .init(address: .hostname(host, port: port), serverName: "crynux-bridge"), logger: logger)
        logger.info(
            "bridge listening",
            metadata: ["url": "http://\(host):\(port)/v1", "relay": "\(relayURL)", "models": "\(bridge.models)", "data": "\(dataDirectory)"])
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
