import CrynuxSDK
import Foundation
import Hummingbird
import Logging
import NodeKit
import Relay
import ServiceLifecycle

/// A whole Crynux network on one machine: a relay (HTTP on loopback, its matching ticker, SQLite or memory state),
/// the nodes that serve it, and wallets funded from the relay's own ledger. `crynux serve`, `crynux bench network`
/// and the tests build theirs with it; it is the only module that knows the relay, the node and the Bridge.
///
/// Its `services` (the relay's HTTP server and ticker) go first in a `ServiceGroup`, nodes and clients after them, so
/// that a graceful shutdown stops the clients, then the nodes (which quit the network), then the relay.
public final class EmbeddedNetwork: Sendable {
    /// How the network is set up.
    public struct Configuration: Sendable {
        /// The relay's address.
        public var host = "127.0.0.1"
        /// The relay's port; 0 lets the system pick one (`relayURL()` tells which).
        public var relayPort = 0
        /// Where the relay keeps `relay.sqlite` and result files; nil keeps everything in memory.
        public var dataDirectory: String?
        /// The relay's rules. Validation groups need three nodes, so the default validates nothing.
        public var relay: RelayConfig
        /// The relay's clock.
        public var clock: any RelayClock = SystemRelayClock()
        /// The seed of the relay's draws (random when nil).
        public var seed: UInt64?
        /// Time between the relay's matching rounds.
        public var tickInterval: Duration = .seconds(2)
        /// Whether the relay answers `POST /v1/dev/faucet`.
        public var faucet = true
        /// Where the relay logs.
        public var logger = Logger(label: "crynux.relay")

        /// The defaults: an in-memory relay on a free loopback port that validates nothing.
        public init() {
            relay = RelayConfig()
            relay.validationRatePercent = 0
        }
    }

    /// The configuration it was made with.
    public let configuration: Configuration
    /// The relay's state machine, in this process.
    public let relay: RelayService
    /// The relay's HTTP server and its ticker, to run first in a `ServiceGroup`.
    public let services: [any Service]
    let listening = Listening()

    /// A network as `configuration` says (the relay's database is opened now; nothing listens until `services` run).
    public init(_ configuration: Configuration) throws {
        self.configuration = configuration
        let seed = configuration.seed ?? UInt64.random(in: 0...UInt64.max)
        if let dir = configuration.dataDirectory {
            try DataDirectory.makePrivate(dir)
            relay = try RelayService(
                store: RelayStore(path: dir + "/relay.sqlite"), config: configuration.relay, clock: configuration.clock, seed: seed, dataDirectory: dir)
        } else {
            relay = try RelayService(store: RelayStore(path: nil), config: configuration.relay, clock: configuration.clock, seed: seed, dataDirectory: nil)
        }
        let listening = self.listening
        let app = RelayServer.application(
            relay, host: configuration.host, port: configuration.relayPort, dev: configuration.faucet, logger: configuration.logger,
            onServerRunning: { port in listening.set(.success(port)) })
        services = [
            RelayHTTPService(app: app, listening: listening),
            RelayTicker(service: relay, interval: configuration.tickInterval, logger: configuration.logger),
        ]
    }

    /// The relay's base URL once its server listens (waits for it; throws if the server could not start).
    public func relayURL() async throws -> String {
        let port = try await listening.port()
        return "http://\(configuration.host):\(port)"
    }

    /// Credits `amount` to `address`'s relay account (the faucet, without HTTP).
    public func fund(_ address: String, amount: Wei) async throws {
        try await relay.perform { state, now throws(RelayError) in try state.deposit(to: address, amount: amount, now: now) }
    }

    /// Credits `amount` to `address` when its balance is below `minimum`.
    public func topUp(_ address: String, below minimum: Wei, amount: Wei) async throws {
        if try await relay.read({ $0.balance(of: address) }) < minimum { try await fund(address, amount: amount) }
    }

    /// A node of this network at `relayURL`, serving `engines` (by base model id, `base:<lowercased HF id>`), holding up
    /// to `slots` tasks at once.
    public func node(
        relayURL: String, key: PrivateKey = .generate(), engines: [String: TextGenerator], imageEngine: (any ImageEngine)? = nil,
        hardware: NodeHardware = NodeHardware.detect(), dataDirectory: String, pollInterval: Duration = .milliseconds(50), slots: Int = 1,
        logger: Logger = Logger(label: "crynux.node")
    ) -> NodeWorker {
        NodeWorker(
            client: RelayClient(baseURL: relayURL, key: key), engines: engines, imageEngine: imageEngine, hardware: hardware,
            dataDirectory: dataDirectory, pollInterval: pollInterval, slots: slots, logger: logger)
    }

    /// Runs the relay in a `ServiceGroup`, waits until it listens, then calls `body`, which can add nodes and other
    /// services to the group; afterwards shuts the group down gracefully (last added first) and returns `body`'s value.
    public func withRunning<T: Sendable>(_ body: (Running) async throws -> T) async throws -> T {
        let group = ServiceGroup(configuration: .init(services: services, logger: configuration.logger))
        return try await withThrowingTaskGroup(of: Void.self, returning: T.self) { tasks in
            tasks.addTask { try await group.run() }
            let result: Result<T, any Error>
            do {
                let running = Running(network: self, relayURL: try await relayURL(), group: group)
                result = .success(try await body(running))
            } catch {
                result = .failure(error)
            }
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
            return try result.get()
        }
    }

    /// A network running inside `withRunning`.
    public struct Running: Sendable {
        /// The network.
        public let network: EmbeddedNetwork
        /// The relay's base URL.
        public let relayURL: String
        /// The group running it.
        public let group: ServiceGroup

        /// The relay's state machine.
        public var relay: RelayService { network.relay }

        /// Runs `service` in the group (it is shut down before everything added earlier).
        public func add(_ service: any Service) async { await group.addServiceUnlessShutdown(service) }

        /// Starts `node` and waits until the relay knows it.
        @discardableResult
        public func start(_ node: NodeWorker, timeout: Duration = .seconds(30)) async throws -> NodeWorker {
            await add(node)
            let address = await node.client.address
            let clock = ContinuousClock()
            let deadline = clock.now + timeout
            while try await relay.read({ $0.nodes[address] == nil }) {
                guard clock.now < deadline else { throw EmbeddedNetworkError("the node \(address) did not join within \(timeout)") }
                try await Task.sleep(for: .milliseconds(10))
            }
            return node
        }
    }
}

/// The relay's HTTP server as a service that also reports when it could not start.
struct RelayHTTPService<App: ApplicationProtocol>: Service {
    let app: App
    let listening: Listening

    func run() async throws {
        do { try await app.run() } catch {
            listening.set(.failure(error))
            throw error
        }
        listening.set(.failure(EmbeddedNetworkError("the relay's server stopped")))
    }
}

/// The relay's bound port, once known, for whoever waits for it.
final class Listening: @unchecked Sendable {
    // Guarded by `lock`.
    private let lock = NSLock()
    private var outcome: Result<Int, any Error>?
    private var waiting: [CheckedContinuation<Int, any Error>] = []

    func set(_ result: Result<Int, any Error>) {
        let resume: [CheckedContinuation<Int, any Error>] = lock.withLock {
            guard outcome == nil else { return [] }
            outcome = result
            defer { waiting = [] }
            return waiting
        }
        for c in resume { c.resume(with: result) }
    }

    func port() async throws -> Int {
        try await withCheckedThrowingContinuation { continuation in
            let known: Result<Int, any Error>? = lock.withLock {
                if let outcome { return outcome }
                waiting.append(continuation)
                return nil
            }
            if let known { continuation.resume(with: known) }
        }
    }
}

/// Why the embedded network could not do what was asked.
public struct EmbeddedNetworkError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What went wrong.
    public var message: String
    /// Creates an error.
    public init(_ message: String) { self.message = message }
    /// The message.
    public var description: String { message }
}
