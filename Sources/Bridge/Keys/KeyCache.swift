import Foundation

/// Verified keys for a second, so a busy key is not a database read per request (a revocation or a new limit
/// takes effect within that second).
final class KeyCache: @unchecked Sendable {
    // Guarded by `lock`.
    private let lock = NSLock()
    private var entries: [String: (key: BridgeStore.Key?, at: Double)] = [:]

    func key(for token: String, store: BridgeStore) throws -> BridgeStore.Key? {
        let now = Date().timeIntervalSince1970
        if let hit = lock.withLock({ entries[token] }), now - hit.at < 1 { return hit.key }
        let key = try store.verify(token)
        lock.withLock {
            if entries.count > 10_000 { entries.removeAll() }
            entries[token] = (key, now)
        }
        return key
    }
}
