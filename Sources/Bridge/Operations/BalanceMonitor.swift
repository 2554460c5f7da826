import CrynuxSDK
import Foundation

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
