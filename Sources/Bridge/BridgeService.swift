import CrynuxSDK
import Foundation
import Hummingbird
import Logging
import ServiceLifecycle

/// The Bridge: an OpenAI-compatible HTTP API that pays the Crynux Network from its own wallet, with hashed API
/// keys, budgets, rate limits, a usage ledger, idempotent retries, an admin API, metrics and a chat page.
///
/// As a `Service` it resumes the runs a previous process left pending, reads the wallet's balance on a schedule, and
/// on graceful shutdown waits for paid runs in flight (up to `BridgeConfiguration.drainTimeout`), leaving any still
/// unfinished pending in the store for the next start. Its routes come from `router()` or `mount(on:)`.
public final class BridgeService: Service, Sendable {
    /// Its configuration.
    public let config: BridgeConfiguration
    let limiter = RateLimiter()
    let metrics = BridgeMetrics()
    let balance = BalanceMonitor()
    let registry = RunRegistry()
    let live = LiveTexts()
    let keyCache = KeyCache()
    let drainSignal = DrainSignal()
    let logger: Logger

    /// A Bridge over `config`, logging to `logger`.
    public init(_ config: BridgeConfiguration, logger: Logger = Logger(label: "crynux.bridge")) {
        self.config = config
        self.logger = logger
    }

    /// Reads the balance and resumes every run a previous process left pending (no task is created twice: the
    /// client finds the recorded task ids). Returns the number of runs resumed.
    @discardableResult
    public func resumePendingRuns() async throws -> Int {
        await balance.refresh(config.client)
        return reconcilePendingRuns()
    }

    /// Resumes pending runs, then reads the balance every `balanceInterval` until graceful shutdown; then drains:
    /// paid runs in flight get until `drainTimeout` to finish, and what is left stays pending for the next start.
    public func run() async throws {
        try? await config.client.waitForRelay()
        let resumed = try await resumePendingRuns()
        if resumed > 0 { logger.info("resumed paid runs", metadata: ["count": "\(resumed)"]) }
        let interval = config.balanceInterval, client = config.client, balance = self.balance
        try? await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try await Task.sleep(for: interval)
                await balance.refresh(client)
                // Runs in doubt (the relay stopped answering mid-run) are followed again until the relay settles them.
                self.reconcilePendingRuns()
            }
        }
        beginDrain()
        await drainRuns()
    }

    /// Starts the shutdown countdown: requests still waiting for a paid run when `drainTimeout` has passed are
    /// answered with a 503 that hands the run to the next start (it stays pending and is settled then). The HTTP
    /// server calls it when it stops accepting connections; calling it again changes nothing.
    public func beginDrain() {
        let registry = self.registry
        if drainSignal.begin(timeout: config.drainTimeout, onExpiry: { _ = registry.cancelAll() }) {
            logger.info("draining paid runs", metadata: ["in_flight": "\(registry.count)", "timeout_s": "\(config.drainTimeout.seconds)"])
        }
    }

    /// Waits for the runs in flight until the drain deadline, when they are cancelled (they stay pending).
    func drainRuns() async {
        while registry.count > 0 && !drainSignal.expired { try? await Task.sleep(for: .milliseconds(20)) }
        let left = registry.cancelAll()
        guard left > 0 else { return }
        // Cancelled runs end at their next suspension point, leaving their records pending; wait for that.
        let clock = ContinuousClock()
        let until = clock.now + .seconds(5)
        while registry.count > 0 && clock.now < until { try? await Task.sleep(for: .milliseconds(10)) }
        logger.notice("paid runs handed to the next start", metadata: ["count": "\(left)"])
    }

    /// Waits for every run in flight, however long (tests).
    public func waitForRunsInFlight() async {
        while registry.count > 0 { try? await Task.sleep(for: .milliseconds(20)) }
    }

    /// A router with every route of the Bridge at the root, answering unknown paths with OpenAI's 404 envelope.
    public func router() -> Router<BridgeRequestContext> {
        let router = Router(context: BridgeRequestContext.self)
        router.add(middleware: BridgeMiddleware(metrics: metrics, logger: logger, prefix: ""))
        addRoutes(to: router)
        return router
    }

    /// Mounts the Bridge inside another Hummingbird app: every route under `group`'s path (an OpenAI client then
    /// uses `<path>/v1` as its base URL), with the Bridge's middleware (request ids, error envelopes, logs, metrics).
    public func mount(on group: RouterGroup<BridgeRequestContext>, path: String) {
        addRoutes(to: group.add(middleware: BridgeMiddleware(metrics: metrics, logger: logger, prefix: path)))
    }

    /// Every route: the OpenAI API, the admin API, the chat page and the operational endpoints.
    func addRoutes(to routes: some RouterMethods<BridgeRequestContext>) {
        addSystemRoutes(to: routes)
        addModelRoutes(to: routes)
        for path in ["/v1/chat/completions", "/v1/llm/chat/completions", "/v1/llm/:vram_limit/chat/completions"] {
            routes.post(RouterPath(path)) { request, context in try await self.chat(request, context) }
        }
        for path in ["/v1/completions", "/v1/llm/completions", "/v1/llm/:vram_limit/completions"] {
            routes.post(RouterPath(path)) { request, context in try await self.completion(request, context) }
        }
        addResponseRoutes(to: routes)
        addMessageRoutes(to: routes)
        for path in ["/v1/images/generations", "/v1/images"] {
            routes.post(RouterPath(path)) { request, context in try await self.images(request, context) }
        }
        addAdminRoutes(to: routes)
    }
}
