import CrynuxSDK
import Foundation

/// A node's state at the relay.
public enum NodeStatus: UInt8, Sendable, Hashable, Codable, CaseIterable {
    /// Not in the network.
    case quit = 0
    /// Waiting for a task.
    case available = 1
    /// Running a task.
    case busy = 2
    /// Will pause when its task ends.
    case pendingPause = 3
    /// Will quit when its task ends.
    case pendingQuit = 4
    /// Paused by its operator.
    case paused = 5
}

/// A node as the relay keeps it.
public struct RelayNode: Sendable, Hashable, Codable {
    /// EIP-55 address.
    public var address: String
    /// The state.
    public var status: NodeStatus
    /// `<name>+<platform>`, e.g. `NVIDIA GeForce RTX 4090+Linux`.
    public var gpuName: String
    /// GB.
    public var gpuVRAM: Int
    /// Runner version, `[major, minor, patch]`.
    public var version: [Int]
    /// Base models on disk.
    public var modelIDs: Set<String>
    /// The model loaded last (in VRAM).
    public var inUseModelIDs: Set<String> = []
    /// Staked amount.
    public var staking: Wei
    /// The network it staked on.
    public var network: String
    /// The last validation-group rank scores (at most 50).
    public var qosSamples: [Int] = []
    /// Health H at `healthTime` (before passive recovery).
    public var health: Double = 1
    /// When `health` was last set.
    public var healthTime: Int64 = 0
    /// Excluded from dispatch until health recovers to 0.8.
    public var excluded = false
    /// Removed for a low long-term QoS.
    public var kickedOut = false
    /// A slash awaiting admin review (passive slash mode).
    public var pendingSlash = false
    /// The task it runs.
    public var currentTask: String?

    /// The long-term QoS: the mean of the samples, 5 for a new node.
    public var longTermQoS: Double { qosSamples.isEmpty ? 5 : Double(qosSamples.reduce(0, +)) / Double(qosSamples.count) }

    /// Whether the node runs on macOS (never given LLM tasks).
    public var isDarwin: Bool { gpuName.hasSuffix("+Darwin") }
}
