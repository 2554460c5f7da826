import Foundation

/// SplitMix64 (Steele, Lea and Flood): a small seeded generator. The relay draws sampling seeds and dispatch
/// choices from it, and the engine seeds its xoshiro256** stream with it, so a seed means the same numbers
/// everywhere.
public struct SplitMix64: RandomNumberGenerator, Sendable, Hashable {
    /// The position in the stream (a restored generator continues from here).
    public private(set) var state: UInt64

    /// A stream starting after `seed`.
    public init(seed: UInt64) { state = seed }

    /// The next 64 bits.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
