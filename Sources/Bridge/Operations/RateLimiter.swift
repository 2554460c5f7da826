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
