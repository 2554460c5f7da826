import Foundation
import Hummingbird
import Metrics
import Prometheus

/// The relay's metrics, recorded through swift-metrics into a Prometheus registry of this relay's own: requests and
/// their latency by route, the time queued tasks waited for a node, and (read from the state at scrape time) the
/// queue length, tasks by state and nodes by status.
public final class RelayMetrics: @unchecked Sendable {
    /// Upper bounds of the latency histograms.
    static let buckets: [Duration] = [
        .microseconds(250), .milliseconds(1), .milliseconds(5), .milliseconds(10), .milliseconds(50), .milliseconds(100), .milliseconds(500),
        .seconds(1), .seconds(5), .seconds(30), .seconds(120), .seconds(600),
    ]

    let registry = PrometheusCollectorRegistry()
    private let factory: PrometheusMetricsFactory
    private let dispatch: Metrics.Timer
    private let queueLength: Metrics.Gauge
    private let tasksByState: [TaskStatus: Metrics.Gauge]
    private let nodesByStatus: [NodeStatus: Metrics.Gauge]
    // Guarded by `lock`: one counter and one timer per route and status.
    private let lock = NSLock()
    private var requests: [String: (count: Metrics.Counter, latency: Metrics.Timer)] = [:]

    /// Empty metrics.
    public init() {
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.durationHistogramBuckets = [
            "crynux_relay_request_duration_seconds": Self.buckets, "crynux_relay_dispatch_latency_seconds": Self.buckets,
        ]
        self.factory = factory
        dispatch = Metrics.Timer(label: "crynux_relay_dispatch_latency_seconds", factory: factory)
        queueLength = Metrics.Gauge(label: "crynux_relay_queue_length", factory: factory)
        var tasks: [TaskStatus: Metrics.Gauge] = [:]
        for s in TaskStatus.allCases { tasks[s] = Metrics.Gauge(label: "crynux_relay_tasks", dimensions: [("state", "\(s)")], factory: factory) }
        tasksByState = tasks
        var nodes: [NodeStatus: Metrics.Gauge] = [:]
        for s in NodeStatus.allCases { nodes[s] = Metrics.Gauge(label: "crynux_relay_nodes", dimensions: [("status", "\(s)")], factory: factory) }
        nodesByStatus = nodes
    }

    /// Records a queued task's wait for a node.
    func dispatched(after wait: Duration) { dispatch.record(duration: wait) }

    /// Records one answered request.
    func request(route: String, status: Int, duration: Duration) {
        let key = "\(route) \(status)"
        let metrics = lock.withLock {
            if let m = requests[key] { return m }
            let m = (
                Metrics.Counter(label: "crynux_relay_requests_total", dimensions: [("route", route), ("status", String(status))], factory: factory),
                Metrics.Timer(label: "crynux_relay_request_duration_seconds", dimensions: [("route", route)], factory: factory)
            )
            requests[key] = m
            return m
        }
        metrics.count.increment()
        metrics.latency.record(duration: duration)
    }

    /// Sets the gauges from `state`, then renders the exposition text.
    func exposition(state: RelayState) -> [UInt8] {
        let tasks = state.tasks.statusCounts
        var nodes: [NodeStatus: Int] = [:]
        for n in state.nodes.values { nodes[n.status, default: 0] += 1 }
        queueLength.record(tasks[.queued] ?? 0)
        for (s, g) in tasksByState { g.record(tasks[s] ?? 0) }
        for (s, g) in nodesByStatus { g.record(nodes[s] ?? 0) }
        var out: [UInt8] = []
        registry.emit(into: &out)
        return out
    }
}

/// Counts and times every request of the relay's router by its route pattern.
struct RelayMetricsMiddleware<Context: RequestContext>: RouterMiddleware {
    let metrics: RelayMetrics

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let started = ContinuousClock.now
        do {
            let response = try await next(request, context)
            metrics.request(route: context.endpointPath ?? "unknown", status: response.status.code, duration: .now - started)
            return response
        } catch {
            let status = (error as? any HTTPResponseError)?.status.code ?? 500
            metrics.request(route: context.endpointPath ?? "unmatched", status: status, duration: .now - started)
            throw error
        }
    }
}
