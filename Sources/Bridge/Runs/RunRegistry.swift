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

/// The shutdown countdown: once begun, callbacks registered with `onExpiry` run when the drain timeout has passed.
final class DrainSignal: @unchecked Sendable {
    // Guarded by `lock`.
    private let lock = NSLock()
    private var deadline: ContinuousClock.Instant?
    private var fired = false
    private var callbacks: [Int: @Sendable () -> Void] = [:]
    private var nextID = 0

    /// Starts the countdown; false if it had already started.
    func begin(timeout: Duration) -> Bool {
        let started: Bool = lock.withLock {
            guard deadline == nil else { return false }
            deadline = .now + timeout
            return true
        }
        guard started else { return false }
        Task {
            try? await Task.sleep(for: timeout)
            let due = lock.withLock {
                fired = true
                defer { callbacks = [:] }
                return Array(callbacks.values)
            }
            for callback in due { callback() }
        }
        return true
    }

    /// Whether the countdown has run out.
    var expired: Bool { lock.withLock { fired } }

    /// Calls `callback` when the countdown runs out (at once if it has); the returned id cancels it.
    func onExpiry(_ callback: @escaping @Sendable () -> Void) -> Int {
        let (id, now): (Int, Bool) = lock.withLock {
            if fired { return (-1, true) }
            nextID += 1
            callbacks[nextID] = callback
            return (nextID, false)
        }
        if now { callback() }
        return id
    }

    /// Forgets a callback.
    func cancel(_ id: Int) { _ = lock.withLock { callbacks.removeValue(forKey: id) } }
}

/// A continuation resumed once, by whichever of several racers comes first.
final class FirstOutcome<T: Sendable>: @unchecked Sendable {
    // Guarded by `lock`.
    private let lock = NSLock()
    private var continuation: CheckedContinuation<T, any Error>?

    init(_ continuation: CheckedContinuation<T, any Error>) { self.continuation = continuation }

    func resume(_ result: Result<T, any Error>) {
        let c: CheckedContinuation<T, any Error>? = lock.withLock {
            defer { continuation = nil }
            return continuation
        }
        c?.resume(with: result)
    }
}

/// The outcome of a network task, set once by its watcher.
final class OutcomeBox: @unchecked Sendable {
    // Guarded by `lock`.
    private let lock = NSLock()
    private var stored: Result<RunOutput, any Error>?
    func set(_ r: Result<RunOutput, any Error>) { lock.withLock { stored = r } }
    var value: Result<RunOutput, any Error>? { lock.withLock { stored } }
}
