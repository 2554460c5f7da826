import Foundation

/// Where the relay reads the time (a seam so tests can move it).
public protocol RelayClock: Sendable {
    /// Unix seconds.
    func now() -> Int64
}

/// The system clock.
public struct SystemRelayClock: RelayClock {
    /// Creates the clock.
    public init() {}
    /// Unix seconds.
    public func now() -> Int64 { Int64(Date().timeIntervalSince1970) }
}

/// A clock tests set by hand.
public final class ManualRelayClock: RelayClock, @unchecked Sendable {
    // Guarded by `lock`.
    private let lock = NSLock()
    private var value: Int64

    /// A clock showing `start`.
    public init(_ start: Int64) { value = start }
    /// The time it shows.
    public func now() -> Int64 { lock.withLock { value } }
    /// Moves it forward.
    public func advance(_ seconds: Int64) { lock.withLock { value += seconds } }
}
