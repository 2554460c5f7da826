import Foundation
import NodeKit

/// Fetch progress on stderr: one rewritten line on a terminal, a line per 10% otherwise.
final class ProgressDisplay: @unchecked Sendable {
    // Mutable state guarded by `lock`.
    private let lock = NSLock()
    private let enabled: Bool
    private let terminal = isatty(2) != 0
    private var lastPhase: FetchProgress.Phase?
    private var lastTenth = -1
    private var lastDraw = ContinuousClock.now
    private var drawn = false

    init(enabled: Bool) { self.enabled = enabled }

    func show(_ p: FetchProgress) {
        guard enabled else { return }
        lock.withLock {
            let megabytes = String(format: "%.1f", Double(p.completed) / 1e6)
            var line = p.phase == .resolving ? "asking the package index…" : "\(p.phase.rawValue) \(megabytes) MB"
            var tenth = 0
            if let total = p.total, total > 0 {
                let percent = Double(p.completed) * 100 / Double(total)
                line += String(format: " of %.1f MB (%.0f%%)", Double(total) / 1e6, percent)
                tenth = Int(percent / 10)
            }
            if terminal {
                let now = ContinuousClock.now
                guard p.phase != lastPhase || now - lastDraw > .milliseconds(100) || p.completed == p.total else { return }
                lastDraw = now
                FileHandle.standardError.write(Data("\r\u{1B}[K\(line)".utf8))
                drawn = true
            } else if p.phase != lastPhase || tenth > lastTenth {
                FileHandle.standardError.write(Data("\(line)\n".utf8))
            }
            if p.phase != lastPhase { lastTenth = -1 }
            lastPhase = p.phase
            lastTenth = max(lastTenth, tenth)
        }
    }

    func finish() {
        lock.withLock {
            if drawn { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
            drawn = false
        }
    }
}
