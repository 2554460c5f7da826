import CrynuxSDK
import Foundation

/// A one-line live status of a task on stderr (a terminal only).
final class StatusLine: @unchecked Sendable {
    // Guarded by `lock`.
    private let lock = NSLock()
    private let terminal = isatty(2) != 0
    private var drawn = false
    private var muted = false

    func show(_ event: TaskEvent) {
        guard terminal else { return }
        let text: String
        switch event {
        case .created(_, let c): text = "task \(c.prefix(10))… created, waiting for a node"
        case .started(_, _, let node): text = "running on node \(node.prefix(10))…"
        case .validationGroup: text = "selected for validation: two more nodes check the answer"
        case .scored: text = "answer ready, validating"
        case .validated: text = "validated, downloading"
        case .downloaded: text = "done"
        case .failed(_, let reason): text = "attempt failed: \(reason)"
        }
        lock.withLock {
            guard !muted else { return }
            FileHandle.standardError.write(Data("\r\u{1B}[K\(text)".utf8))
            drawn = true
        }
    }

    /// Clears the line and shows nothing more (the answer's text now owns the terminal).
    func mute() {
        clear()
        lock.withLock { muted = true }
    }

    func clear() {
        lock.withLock {
            if drawn { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
            drawn = false
        }
    }
}
