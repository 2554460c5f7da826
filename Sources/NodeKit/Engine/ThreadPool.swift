import Foundation

/// A fixed set of worker threads that run one job at a time, each worker on its own share of the work.
/// Idle workers sleep on a condition variable; nothing spins. Work is split by index, never by timing,
/// so results do not depend on the number of threads.
public final class ThreadPool: @unchecked Sendable {
    // All mutable state is guarded by `condition`.
    /// Threads taking part in each job, the caller's included.
    public let count: Int
    private let condition = NSCondition()
    private var generation = 0
    private var pending = 0
    private var stopping = false
    private var job: ((Int) -> Void)?

    /// A pool of `threads` (at least 1; the calling thread is one of them).
    public init(threads: Int) {
        count = max(1, threads)
        for index in 1..<count {
            let thread = Thread { [self] in self.work(index) }
            thread.name = "crynux-engine-\(index)"
            thread.start()
        }
    }

    deinit {
        condition.lock()
        stopping = true
        condition.broadcast()
        condition.unlock()
    }

    /// Runs `body(i)` for every i in 0..<count, on all threads at once, and returns when all are done.
    public func run(_ body: @escaping (Int) -> Void) {
        guard count > 1 else {
            body(0)
            return
        }
        condition.lock()
        job = body
        pending = count - 1
        generation += 1
        condition.broadcast()
        condition.unlock()
        body(0)
        condition.lock()
        while pending > 0 { condition.wait() }
        job = nil
        condition.unlock()
    }

    /// Splits 0..<total into `count` contiguous chunks and runs `body(chunk)` on each thread.
    public func parallelFor(_ total: Int, _ body: @escaping (Range<Int>) -> Void) {
        let n = count
        run { i in
            let start = total * i / n
            let end = total * (i + 1) / n
            if start < end { body(start..<end) }
        }
    }

    private func work(_ index: Int) {
        var seen = 0
        condition.lock()
        while true {
            while generation == seen && !stopping { condition.wait() }
            if stopping {
                condition.unlock()
                return
            }
            seen = generation
            let body = job!
            condition.unlock()
            body(index)
            condition.lock()
            pending -= 1
            if pending == 0 { condition.broadcast() }
        }
    }
}
