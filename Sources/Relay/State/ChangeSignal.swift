import CrynuxSDK
import Foundation

/// Wakes long-polling requests when the relay's state (or a token stream) changes: a version counter bumped after
/// every committed change, and the waiters parked until it moves past the version they last saw. Waking is a
/// broadcast; each waiter re-checks its own condition. At most `maxWaiters` park at once (more return at once, and
/// their clients poll as before).
final class ChangeSignal: @unchecked Sendable {
    // Guarded by `lock`.
    private let lock = NSLock()
    private var version: UInt64 = 0
    private var waiters: [UInt64: CheckedContinuation<Void, Never>] = [:]
    private var nextWaiter: UInt64 = 0
    private var closed = false
    /// The most requests parked at once.
    static let maxWaiters = 8_192

    /// The current version.
    var current: UInt64 { lock.withLock { version } }

    /// Whether the relay is shutting down (waits return at once).
    var isClosed: Bool { lock.withLock { closed } }

    /// Wakes every waiter for good: the relay is shutting down, and its long polls answer now.
    func close() {
        lock.withLock { closed = true }
        bump()
    }

    /// Records a change and wakes every waiter.
    func bump() {
        let woken = lock.withLock { () -> [CheckedContinuation<Void, Never>] in
            version &+= 1
            let all = Array(waiters.values)
            waiters.removeAll(keepingCapacity: true)
            return all
        }
        for w in woken { w.resume() }
    }

    /// Returns once the version is past `seen`, at `deadline`, or when the task is cancelled, whichever is first.
    func wait(after seen: UInt64, until deadline: ContinuousClock.Instant) async {
        let id: UInt64? = lock.withLock {
            guard !closed, version == seen, waiters.count < Self.maxWaiters else { return nil }
            nextWaiter &+= 1
            return nextWaiter
        }
        guard let id, ContinuousClock.now < deadline else { return }
        let timer = Task {
            try? await Task.sleep(until: deadline, clock: .continuous)
            self.resume(id)
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let parked = lock.withLock { () -> Bool in
                    guard version == seen else { return false }
                    waiters[id] = continuation
                    return true
                }
                if !parked { continuation.resume() }
            }
        } onCancel: {
            self.resume(id)
        }
        timer.cancel()
    }

    private func resume(_ id: UInt64) {
        let waiter = lock.withLock { waiters.removeValue(forKey: id) }
        waiter?.resume()
    }
}
