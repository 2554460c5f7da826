import CrynuxSDK
import Foundation
import Hummingbird
import Logging
import ServiceLifecycle
import UnixSignals

/// `crynux relay`: the HTTP server, the SQLite store and the matching/deadline ticker, as services.
public enum RelayServer {
    /// Serves until SIGTERM or SIGINT (which stop the ticker, then the server once its requests are answered).
    /// `dev` enables the faucet.
    public static func run(host: String, port: Int, dataDirectory: String, dev: Bool, config: RelayConfig) async throws {
        let service = try makeService(dataDirectory: dataDirectory, config: config)
        var logger = Logger(label: "crynux.relay")
        logger.logLevel = .info
        let app = application(service, host: host, port: port, dev: dev, logger: logger)
        logger.info("relay starting", metadata: ["host": "\(host)", "port": "\(port)", "data": "\(dataDirectory)", "dev": "\(dev)"])
        let group = ServiceGroup(
            configuration: .init(services: [app, RelayTicker(service: service, logger: logger)], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
        try await service.close()
        logger.info("relay stopped")
    }

    /// A relay over `<dataDirectory>/relay.sqlite`, result files beside it.
    public static func makeService(dataDirectory: String, config: RelayConfig) throws -> RelayService {
        try DataDirectory.makePrivate(dataDirectory)
        let store = try RelayStore(path: dataDirectory + "/relay.sqlite")
        return try RelayService(store: store, config: config, seed: UInt64.random(in: 0...UInt64.max), dataDirectory: dataDirectory)
    }

    /// The relay's HTTP server (a `Service`) on `host:port`; `onServerRunning` hears the bound port (port 0 picks one).
    public static func application(
        _ service: RelayService, host: String, port: Int, dev: Bool, logger: Logger,
        onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        let router = RelayHTTP.router(service: service, dev: dev)
        router.add(middleware: LogRequestsMiddleware(.debug))
        // Idle connections close after 30 s (a request head must arrive within that), and at most 4,096 are open.
        return Application(
            router: router, server: .http1(configuration: .init(idleTimeout: .seconds(30))),
            configuration: .init(
                address: .hostname(host, port: port), serverName: "crynux-relay", availableConnectionsDelegate: .maximum(4_096, logger: logger)),
            onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? port) }, logger: logger)
    }
}

/// The relay's clock-driven work as a `Service`: every `interval`, deadlines are applied, queued tasks matched to
/// nodes and models distributed, until graceful shutdown.
public struct RelayTicker: Service {
    /// The relay.
    public let service: RelayService
    /// Time between rounds.
    public let interval: Duration
    let logger: Logger

    /// A ticker for `service`, every `interval`.
    public init(service: RelayService, interval: Duration = .seconds(2), logger: Logger) {
        self.service = service
        self.interval = interval
        self.logger = logger
    }

    /// Ticks until graceful shutdown.
    public func run() async throws {
        try? await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do { try await service.tick() } catch { logger.error("tick failed", metadata: ["error": "\(error)"]) }
                try await Task.sleep(for: interval)
            }
        }
        // Shutting down: long polls and token streams answer now, so the HTTP server (stopped next) is not held.
        service.changes.close()
    }
}
