import Foundation

/// The output of a finished paid run.
struct RunOutput: Sendable {
    var files: [[UInt8]]
    /// Seconds spent in the network's run (0 for an answer replayed from the store).
    var networkSeconds = 0.0
}

/// The in-flight runs of this process, so a retried request joins the run it already paid for.
final class RunRegistry: @unchecked Sendable {
    // Guarded by `lock`.
    private let lock = NSLock()
    private var tasks: [String: Task<RunOutput, any Error>] = [:]

    func task(_ id: String, start: () -> Task<RunOutput, any Error>) -> Task<RunOutput, any Error> {
        lock.withLock {
            if let t = tasks[id] { return t }
            let t = start()
            tasks[id] = t
            return t
        }
    }

    func existing(_ id: String) -> Task<RunOutput, any Error>? { lock.withLock { tasks[id] } }
    func remove(_ id: String) { _ = lock.withLock { tasks.removeValue(forKey: id) } }
    var count: Int { lock.withLock { tasks.count } }

    /// Cancels every run still in flight (they stay pending in the store); returns how many there were.
    func cancelAll() -> Int {
        let all = lock.withLock { Array(tasks.values) }
        for t in all { t.cancel() }
        return all.count
    }
}

/// The shutdown countdown: once begun, `onExpiry` runs when the drain timeout has passed.
final class DrainSignal: @unchecked Sendable {
    // Guarded by `lock`.
    private let lock = NSLock()
    private var begun = false
    private var fired = false

    /// Starts the countdown; false if it had already started.
    func begin(timeout: Duration, onExpiry: @escaping @Sendable () -> Void) -> Bool {
        let started: Bool = lock.withLock {
            guard !begun else { return false }
            begun = true
            return true
        }
        guard started else { return false }
        Task {
            try? await Task.sleep(for: timeout)
            lock.withLock { fired = true }
            onExpiry()
        }
        return true
    }

    /// Whether the countdown has run out.
    var expired: Bool { lock.withLock { fired } }
}

/// The outcome of a network task, set once by its watcher.
final class OutcomeBox: @unchecked Sendable {
    // Guarded by `lock`.
    private let lock = NSLock()
    private var stored: Result<RunOutput, any Error>?
    func set(_ r: Result<RunOutput, any Error>) { lock.withLock { stored = r } }
    var value: Result<RunOutput, any Error>? { lock.withLock { stored } }
}

/// A flag set once from any task.
final class CancelledFlag: @unchecked Sendable {
    // Guarded by `lock`.
    private let lock = NSLock()
    private var value = false
    /// Sets it.
    func set() { lock.withLock { value = true } }
    /// Whether it was set.
    var isSet: Bool { lock.withLock { value } }
}

/// The text of runs in flight as their nodes make it (per run, per choice), for the streams that show it.
final class LiveTexts: @unchecked Sendable {
    // Guarded by `lock`.
    private let lock = NSLock()
    private var texts: [String: [Int: String]] = [:]

    /// Adds `text` to choice `index` of `run`.
    func append(_ run: String, index: Int, text: String) {
        lock.withLock {
            // Bounded like the relay's window: a run's streamed text stops growing past 1 MiB per choice.
            guard (texts[run]?[index]?.utf8.count ?? 0) < 1 << 20 else { return }
            texts[run, default: [:]][index, default: ""] += text
        }
    }

    /// The text of each choice of `run` so far.
    func snapshot(_ run: String) -> [Int: String] { lock.withLock { texts[run] ?? [:] } }

    /// Forgets `run` (its result is settled).
    func remove(_ run: String) { lock.withLock { texts[run] = nil } }
}
