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
    /// The tasks it runs, oldest first (one at most unless it declared more slots).
    public var tasks: [String] = []
    /// How many tasks it holds at once: 1, or what it declared through our `node_slots` extension (docs/slots.md).
    public var slots = 1

    /// The oldest task it runs: what `GET /v1/node/{address}/task` names.
    public var currentTask: String? { tasks.first }

    /// Whether dispatch may give it another task now (available, or busy with a free slot).
    public var hasFreeSlot: Bool { (status == .available || status == .busy) && tasks.count < slots }

    /// The long-term QoS: the mean of the samples, 5 for a new node.
    public var longTermQoS: Double { qosSamples.isEmpty ? 5 : Double(qosSamples.reduce(0, +)) / Double(qosSamples.count) }

    /// Whether the node runs on macOS (never given LLM tasks).
    public var isDarwin: Bool { gpuName.hasSuffix("+Darwin") }

    /// Creates a node record.
    public init(
        address: String, status: NodeStatus, gpuName: String, gpuVRAM: Int, version: [Int], modelIDs: Set<String>, staking: Wei, network: String
    ) {
        self.address = address
        self.status = status
        self.gpuName = gpuName
        self.gpuVRAM = gpuVRAM
        self.version = version
        self.modelIDs = modelIDs
        self.staking = staking
        self.network = network
    }

    enum CodingKeys: String, CodingKey {
        case address, status, gpuName, gpuVRAM, version, modelIDs, inUseModelIDs, staking, network, qosSamples, health, healthTime, excluded,
            kickedOut, pendingSlash, tasks, slots
    }

    /// Records written before slots (one `currentTask`, no `tasks`) still read.
    private enum LegacyKeys: String, CodingKey { case currentTask }

    /// Reads a stored record; fields added later take their defaults.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        address = try c.decode(String.self, forKey: .address)
        status = try c.decode(NodeStatus.self, forKey: .status)
        gpuName = try c.decode(String.self, forKey: .gpuName)
        gpuVRAM = try c.decode(Int.self, forKey: .gpuVRAM)
        version = try c.decode([Int].self, forKey: .version)
        modelIDs = try c.decode(Set<String>.self, forKey: .modelIDs)
        inUseModelIDs = try c.decodeIfPresent(Set<String>.self, forKey: .inUseModelIDs) ?? []
        staking = try c.decode(Wei.self, forKey: .staking)
        network = try c.decode(String.self, forKey: .network)
        qosSamples = try c.decodeIfPresent([Int].self, forKey: .qosSamples) ?? []
        health = try c.decodeIfPresent(Double.self, forKey: .health) ?? 1
        healthTime = try c.decodeIfPresent(Int64.self, forKey: .healthTime) ?? 0
        excluded = try c.decodeIfPresent(Bool.self, forKey: .excluded) ?? false
        kickedOut = try c.decodeIfPresent(Bool.self, forKey: .kickedOut) ?? false
        pendingSlash = try c.decodeIfPresent(Bool.self, forKey: .pendingSlash) ?? false
        slots = try c.decodeIfPresent(Int.self, forKey: .slots) ?? 1
        if let tasks = try c.decodeIfPresent([String].self, forKey: .tasks) {
            self.tasks = tasks
        } else {
            let legacy = try decoder.container(keyedBy: LegacyKeys.self)
            tasks = (try legacy.decodeIfPresent(String.self, forKey: .currentTask)).map { [$0] } ?? []
        }
    }
}
