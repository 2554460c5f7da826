import CrynuxSDK
import Foundation

/// The token-stream extension's memory (docs/protocol.md §8): per running LLM task, the text deltas its node sent,
/// in order, for the task's creator to read as they arrive. Bounded per task and in all; a task's window is dropped
/// when the task ends. It never touches the task's result, score or validation.
final class TokenStreams: @unchecked Sendable {
    /// One accepted chunk: its sequence number and deltas (`[{index, text}]`).
    struct Chunk: Sendable, Hashable {
        var seq: Int
        var deltas: JSONValue
        var bytes: Int
    }

    struct Window {
        var chunks: [Chunk] = []
        var bytes = 0
    }

    /// The most text one task may stream.
    static let maxTaskBytes = 1 << 20
    /// The most chunks one task may stream.
    static let maxTaskChunks = 65_536
    /// The most streamed text held for all tasks together.
    static let maxTotalBytes = 256 << 20

    // Guarded by `lock`.
    private let lock = NSLock()
    private var windows: [String: Window] = [:]
    private var total = 0

    /// Accepts chunk `seq` of `commitment`: the next in order, or a repeat of an accepted one (a retry, ignored).
    func append(_ commitment: String, seq: Int, deltas: JSONValue, bytes: Int) throws(RelayError) {
        lock.lock()
        defer { lock.unlock() }
        do {
            var window = windows[commitment] ?? Window()
            if seq < window.chunks.count {
                guard window.chunks[seq].deltas == deltas else { throw .validation("seq", "chunk \(seq) was already accepted with other deltas") }
                return
            }
            guard seq == window.chunks.count else { throw .validation("seq", "expected chunk \(window.chunks.count), got \(seq)") }
            guard window.bytes + bytes <= Self.maxTaskBytes, window.chunks.count < Self.maxTaskChunks else {
                throw RelayError(kind: .tooLarge, field: "deltas", message: "the task's stream is over its limit")
            }
            guard total + bytes <= Self.maxTotalBytes else { throw RelayError(kind: .busy, field: "deltas", message: "the relay's stream memory is full") }
            window.chunks.append(Chunk(seq: seq, deltas: deltas, bytes: bytes))
            window.bytes += bytes
            total += bytes
            windows[commitment] = window
        }
    }

    /// The chunks of `commitment` after sequence number `after` (-1: all).
    func chunks(_ commitment: String, after: Int) -> [Chunk] {
        lock.withLock {
            guard let window = windows[commitment] else { return [] }
            let start = max(0, after + 1)
            return start < window.chunks.count ? Array(window.chunks[start...]) : []
        }
    }

    /// Drops the windows of tasks for which `keep` is false.
    func prune(keep: (String) -> Bool) {
        lock.withLock {
            for (commitment, window) in windows where !keep(commitment) {
                windows[commitment] = nil
                total -= window.bytes
            }
        }
    }

    /// How many tasks have a window (tests, metrics).
    var count: Int { lock.withLock { windows.count } }
}
