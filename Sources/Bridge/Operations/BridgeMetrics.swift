import CrynuxSDK
import Foundation
import Metrics
import Prometheus

/// The Bridge's metrics, recorded through swift-metrics into a Prometheus registry of this Bridge's own (several
/// Bridges in one process keep apart) and exposed as the text format at `/metrics`.
final class BridgeMetrics: @unchecked Sendable {
    /// Upper bounds of the latency histograms, seconds.
    static let latencyBuckets: [Duration] = [
        .milliseconds(1), .milliseconds(5), .milliseconds(10), .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500),
        .seconds(1), .milliseconds(2500), .seconds(5), .seconds(10), .seconds(30), .seconds(60), .seconds(120),
    ]

    let registry = PrometheusCollectorRegistry()
    private let factory: PrometheusMetricsFactory
    private let latency: Metrics.Timer
    private let firstByte: Metrics.Timer
    private let firstToken: Metrics.Timer
    private let promptTokens: Metrics.Counter
    private let completionTokens: Metrics.Counter
    private let fees: Metrics.FloatingPointCounter
    private let balance: Metrics.Gauge
    private let floor: Metrics.Gauge
    /// Paid runs in the database by state, set at scrape time.
    private let runs: [String: Metrics.Gauge]
    // Guarded by `lock`: one counter per route and status, one per run outcome.
    private let lock = NSLock()
    private var requests: [RouteStatus: Metrics.Counter] = [:]

    /// A route and an HTTP status: the key of the request counters.
    struct RouteStatus: Hashable {
        var route: String
        var status: Int
    }
    private var finished: [String: Metrics.Counter] = [:]

    init() {
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.durationHistogramBuckets = [
            "crynux_bridge_request_duration_seconds": Self.latencyBuckets, "crynux_bridge_time_to_first_byte_seconds": Self.latencyBuckets,
            "crynux_bridge_time_to_first_token_seconds": Self.latencyBuckets,
        ]
        self.factory = factory
        latency = Metrics.Timer(label: "crynux_bridge_request_duration_seconds", factory: factory)
        firstByte = Metrics.Timer(label: "crynux_bridge_time_to_first_byte_seconds", factory: factory)
        firstToken = Metrics.Timer(label: "crynux_bridge_time_to_first_token_seconds", factory: factory)
        promptTokens = Metrics.Counter(label: "crynux_bridge_tokens_total", dimensions: [("kind", "prompt")], factory: factory)
        completionTokens = Metrics.Counter(label: "crynux_bridge_tokens_total", dimensions: [("kind", "completion")], factory: factory)
        fees = Metrics.FloatingPointCounter(label: "crynux_bridge_fees_cnx_total", factory: factory)
        balance = Metrics.Gauge(label: "crynux_bridge_balance_cnx", factory: factory)
        floor = Metrics.Gauge(label: "crynux_bridge_balance_floor_cnx", factory: factory)
        var runs: [String: Metrics.Gauge] = [:]
        for state in ["pending", "done", "failed"] { runs[state] = Metrics.Gauge(label: "crynux_bridge_runs", dimensions: [("state", state)], factory: factory) }
        self.runs = runs
    }

    /// Records a stream's time from the request to its first content (text or a tool call).
    func firstToken(seconds: Double) { firstToken.recordSeconds(seconds) }

    /// Records one answered request (a stream's whole duration comes later, from `streamFinished`).
    func request(route: String, status: Int, seconds: Double, streaming: Bool) {
        let key = RouteStatus(route: route, status: status)
        let counter = lock.withLock {
            if let c = requests[key] { return c }
            let c = Metrics.Counter(label: "crynux_bridge_requests_total", dimensions: [("route", route), ("status", String(status))], factory: factory)
            requests[key] = c
            return c
        }
        counter.increment()
        firstByte.recordSeconds(seconds)
        if !streaming { latency.recordSeconds(seconds) }
    }

    /// Records the whole duration of a streamed response.
    func streamFinished(seconds: Double) { latency.recordSeconds(seconds) }

    /// Records a finished paid run.
    func run(status: String, usage: BridgeStore.Usage?, fee: Wei?) {
        let counter = lock.withLock {
            if let c = finished[status] { return c }
            let c = Metrics.Counter(label: "crynux_bridge_runs_finished_total", dimensions: [("status", status)], factory: factory)
            finished[status] = c
            return c
        }
        counter.increment()
        if let usage {
            promptTokens.increment(by: usage.promptTokens)
            completionTokens.increment(by: usage.completionTokens)
        }
        if let fee, let cnx = Double(fee.cnxString) { fees.increment(by: cnx) }
    }

    /// The exposition text, after setting the gauges read at scrape time (balance, its floor, runs by state).
    func exposition(balance current: Wei?, floor limit: Wei, runs counts: [String: Int]) -> [UInt8] {
        balance.record(current.flatMap { Double($0.cnxString) } ?? .nan)
        floor.record(Double(limit.cnxString) ?? .nan)
        for (state, gauge) in runs { gauge.record(counts[state] ?? 0) }
        var out: [UInt8] = []
        registry.emit(into: &out)
        return out
    }
}
