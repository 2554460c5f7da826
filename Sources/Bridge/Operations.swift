import CrynuxSDK
import Foundation

/// Per-key request and token windows over the last minute (this process's view; one Bridge per database).
final class RateLimiter: @unchecked Sendable {
    // Guarded by `lock`.
    private let lock = NSLock()
    private var requests: [String: [Double]] = [:]
    private var tokens: [String: [(Double, Int)]] = [:]

    /// What a check saw, for the `x-ratelimit-*` headers.
    struct Snapshot {
        var requestLimit: Int?
        var requestsRemaining: Int
        var requestsReset: Double
        var tokenLimit: Int?
        var tokensRemaining: Int
        var tokensReset: Double
        /// Seconds to wait when refused, nil when admitted.
        var retryAfter: Double?
        var refusedBy: String?
    }

    /// Admits a request for `key` (counting it) or says how long to wait.
    func admit(_ key: BridgeStore.Key, now: Double = Date().timeIntervalSince1970) -> Snapshot {
        lock.withLock {
            var reqs = requests[key.id, default: []].filter { $0 > now - 60 }
            var toks = tokens[key.id, default: []].filter { $0.0 > now - 60 }
            let used = toks.reduce(0) { $0 + $1.1 }
            var snap = Snapshot(
                requestLimit: key.limits.rpm, requestsRemaining: 0, requestsReset: 0, tokenLimit: key.limits.tpm, tokensRemaining: 0, tokensReset: 0)
            if let rpm = key.limits.rpm, reqs.count >= rpm {
                snap.retryAfter = max(0, reqs[reqs.count - rpm] + 60 - now)
                snap.refusedBy = "requests"
            } else if let tpm = key.limits.tpm, used >= tpm {
                // Wait until enough of the window's tokens have aged out.
                var left = used
                for (t, n) in toks {
                    left -= n
                    if left < tpm {
                        snap.retryAfter = max(0, t + 60 - now)
                        break
                    }
                }
                snap.refusedBy = "tokens"
            } else {
                reqs.append(now)
            }
            if snap.retryAfter == nil { requests[key.id] = reqs }
            toks = toks.filter { $0.0 > now - 60 }
            tokens[key.id] = toks
            snap.requestsRemaining = max(0, (key.limits.rpm ?? 0) - reqs.count)
            snap.requestsReset = reqs.first.map { max(0, $0 + 60 - now) } ?? 0
            snap.tokensRemaining = max(0, (key.limits.tpm ?? 0) - used)
            snap.tokensReset = toks.first.map { max(0, $0.0 + 60 - now) } ?? 0
            return snap
        }
    }

    /// Counts tokens a finished request used.
    func record(tokens count: Int, for keyID: String, now: Double = Date().timeIntervalSince1970) {
        guard count > 0 else { return }
        lock.withLock { tokens[keyID, default: []].append((now, count)) }
    }
}

/// Prometheus metrics of the Bridge, rendered in the text exposition format.
final class BridgeMetrics: @unchecked Sendable {
    // Guarded by `lock`.
    private let lock = NSLock()
    private var requests: [RouteStatus: Int] = [:]

    struct RouteStatus: Hashable {
        var route: String
        var status: Int
    }
    private var latency = Histogram()
    private var firstByte = Histogram()
    private var promptTokens = 0
    private var completionTokens = 0
    private var fees = Wei.zero
    private var tasks: [String: Int] = [:]

    struct Histogram {
        static let bounds: [Double] = [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120]
        var counts = [Int](repeating: 0, count: bounds.count)
        var sum = 0.0
        var count = 0
        mutating func observe(_ v: Double) {
            for (i, b) in Self.bounds.enumerated() where v <= b { counts[i] += 1 }
            sum += v
            count += 1
        }
        func render(_ name: String, into out: inout String) {
            for (i, b) in Self.bounds.enumerated() { out += "\(name)_bucket{le=\"\(b)\"} \(counts[i])\n" }
            out += "\(name)_bucket{le=\"+Inf\"} \(count)\n\(name)_sum \(sum)\n\(name)_count \(count)\n"
        }
    }

    /// Records one answered request (a stream's whole duration comes later, from `streamFinished`).
    func request(route: String, status: Int, seconds: Double, streaming: Bool) {
        lock.withLock {
            requests[RouteStatus(route: route, status: status), default: 0] += 1
            firstByte.observe(seconds)
            if !streaming { latency.observe(seconds) }
        }
    }

    /// Records the whole duration of a streamed response.
    func streamFinished(seconds: Double) { lock.withLock { latency.observe(seconds) } }

    /// Records a finished paid run.
    func run(status: String, usage: BridgeStore.Usage?, fee: Wei?) {
        lock.withLock {
            tasks[status, default: 0] += 1
            if let usage {
                promptTokens += usage.promptTokens
                completionTokens += usage.completionTokens
            }
            if let fee { fees = fees + fee }
        }
    }

    /// The exposition text; `gauges` are read at scrape time (balance, runs by state).
    func render(balance: Wei?, floor: Wei, runs: [String: Int]) -> String {
        lock.withLock {
            var out = "# HELP crynux_bridge_requests_total HTTP requests answered, by route and status.\n# TYPE crynux_bridge_requests_total counter\n"
            for (key, n) in requests.sorted(by: { ($0.key.route, $0.key.status) < ($1.key.route, $1.key.status) }) {
                out += "crynux_bridge_requests_total{route=\"\(key.route)\",status=\"\(key.status)\"} \(n)\n"
            }
            out += "# HELP crynux_bridge_request_duration_seconds Time to the whole response, streams included.\n"
            out += "# TYPE crynux_bridge_request_duration_seconds histogram\n"
            latency.render("crynux_bridge_request_duration_seconds", into: &out)
            out += "# HELP crynux_bridge_time_to_first_byte_seconds Time until the response head was sent.\n"
            out += "# TYPE crynux_bridge_time_to_first_byte_seconds histogram\n"
            firstByte.render("crynux_bridge_time_to_first_byte_seconds", into: &out)
            out += "# HELP crynux_bridge_tokens_total Tokens of finished paid runs.\n# TYPE crynux_bridge_tokens_total counter\n"
            out += "crynux_bridge_tokens_total{kind=\"prompt\"} \(promptTokens)\ncrynux_bridge_tokens_total{kind=\"completion\"} \(completionTokens)\n"
            out += "# HELP crynux_bridge_fees_cnx_total CNX paid for finished runs since start.\n# TYPE crynux_bridge_fees_cnx_total counter\n"
            out += "crynux_bridge_fees_cnx_total \(fees.cnxString)\n"
            out += "# HELP crynux_bridge_runs_finished_total Paid runs finished since start, by outcome.\n"
            out += "# TYPE crynux_bridge_runs_finished_total counter\n"
            for (s, n) in tasks.sorted(by: { $0.key < $1.key }) { out += "crynux_bridge_runs_finished_total{status=\"\(s)\"} \(n)\n" }
            out += "# HELP crynux_bridge_runs Paid runs in the database, by state.\n# TYPE crynux_bridge_runs gauge\n"
            for s in ["pending", "done", "failed"] { out += "crynux_bridge_runs{state=\"\(s)\"} \(runs[s] ?? 0)\n" }
            out += "# HELP crynux_bridge_balance_cnx The wallet's relay balance at the last check (NaN before the first).\n"
            out += "# TYPE crynux_bridge_balance_cnx gauge\ncrynux_bridge_balance_cnx \(balance?.cnxString ?? "NaN")\n"
            out += "# HELP crynux_bridge_balance_floor_cnx Below this balance paid requests are refused with 503.\n"
            out += "# TYPE crynux_bridge_balance_floor_cnx gauge\ncrynux_bridge_balance_floor_cnx \(floor.cnxString)\n"
            return out
        }
    }
}

/// The wallet's relay balance, checked at start and on a schedule.
final class BalanceMonitor: @unchecked Sendable {
    // Guarded by `lock`.
    private let lock = NSLock()
    private var last: (balance: Wei, at: Int)?

    /// The last balance read and when.
    var current: (balance: Wei, at: Int)? { lock.withLock { last } }

    /// Reads the balance now.
    func refresh(_ client: CrynuxClient) async {
        if let b = try? await client.balance() { lock.withLock { last = (b, Int(Date().timeIntervalSince1970)) } }
    }
}
