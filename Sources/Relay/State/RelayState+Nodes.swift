import BigInt
import CrynuxSDK
import Foundation

/// Nodes: joining, capabilities, pause/resume/quit, model downloads.
extension RelayState {
    // MARK: Nodes

    /// What a node sends to join (docs/protocol.md §7.1).
    public struct Join: Sendable, Hashable {
        /// `<name>+<platform>`.
        public var gpuName: String
        /// GB.
        public var gpuVRAM: Int
        /// Base models on disk.
        public var modelIDs: [String]
        /// Runner version `major.minor.patch`.
        public var version: String
        /// Stake, wei.
        public var staking: Wei
        /// Chain name.
        public var network: String

        /// Creates the fields.
        public init(gpuName: String, gpuVRAM: Int, modelIDs: [String], version: String, staking: Wei, network: String = "dymension") {
            self.gpuName = gpuName
            self.gpuVRAM = gpuVRAM
            self.modelIDs = modelIDs
            self.version = version
            self.staking = staking
            self.network = network
        }
    }

    /// A node joins (or rejoins after quitting).
    public mutating func join(_ address: String, _ join: Join, now: Int64) throws(RelayError) {
        if let allowed = config.allowedNodes, !allowed.contains(address) { throw .forbidden("This relay admits only its own nodes") }
        if let node = nodes[address], node.status != .quit { throw .validation("address", "Node already joined") }
        guard !join.gpuName.isEmpty, join.gpuVRAM > 0 else { throw .validation("gpu_name", "GPU name and VRAM are required") }
        guard join.gpuVRAM <= Self.maxVRAM else { throw .validation("gpu_vram", "must be 1…\(Self.maxVRAM) GB") }
        guard let version = Self.version(join.version) else { throw .validation("version", "must be major.minor.patch") }
        var node = nodes[address] ?? RelayNode(
            address: address, status: .available, gpuName: join.gpuName, gpuVRAM: join.gpuVRAM, version: version, modelIDs: [],
            staking: min(join.staking, config.stakeCap), network: join.network)
        node.status = .available
        node.gpuName = join.gpuName
        node.gpuVRAM = join.gpuVRAM
        node.version = version
        node.modelIDs = Set(join.modelIDs.map { $0.lowercased() })
        node.staking = min(join.staking, config.stakeCap)
        node.network = join.network
        node.kickedOut = false
        node.health = currentHealth(node, now: now)
        node.healthTime = now
        nodes[address] = node
        emit("NodeJoin", node: address, task: "", now: now)
    }

    /// A joined node reports new hardware, models or runner version (after a restart).
    public mutating func updateCapabilities(
        _ address: String, gpuName: String, gpuVRAM: Int, modelIDs: [String], version: String, now: Int64
    ) throws(RelayError) {
        var node = try existingNode(address)
        guard node.status != .quit else { throw .validation("address", "Node not joined") }
        guard !gpuName.isEmpty, gpuVRAM > 0 else { throw .validation("gpu_name", "GPU name and VRAM are required") }
        guard gpuVRAM <= Self.maxVRAM else { throw .validation("gpu_vram", "must be 1…\(Self.maxVRAM) GB") }
        guard let v = Self.version(version) else { throw .validation("version", "must be major.minor.patch") }
        node.gpuName = gpuName
        node.gpuVRAM = gpuVRAM
        node.version = v
        node.modelIDs = Set(modelIDs.map { $0.lowercased() })
        nodes[address] = node
    }

    /// The most tasks a node may hold at once (docs/slots.md).
    public static let maxSlots = 64

    /// A joined node declares how many tasks it holds at once (our `node_slots` extension, docs/slots.md). Lowering it
    /// below what the node runs takes effect as those tasks end.
    public mutating func declareSlots(_ address: String, slots: Int, now: Int64) throws(RelayError) {
        var node = try existingNode(address)
        guard node.status != .quit else { throw .validation("address", "Node not joined") }
        guard (1...Self.maxSlots).contains(slots) else { throw .validation("slots", "must be 1…\(Self.maxSlots)") }
        node.slots = slots
        nodes[address] = node
    }

    /// A node pauses (after its current task if it has one).
    public mutating func pause(_ address: String, now: Int64) throws(RelayError) {
        var node = try existingNode(address)
        switch node.status {
        case .available: node.status = .paused
        case .busy: node.status = .pendingPause
        default: throw .validation("address", "Illegal node status")
        }
        nodes[address] = node
    }

    /// A paused node resumes.
    public mutating func resume(_ address: String, now: Int64) throws(RelayError) {
        var node = try existingNode(address)
        switch node.status {
        case .paused: node.status = .available
        case .pendingPause: node.status = .busy
        default: throw .validation("address", "Illegal node status")
        }
        nodes[address] = node
    }

    /// A node quits (after its current task if it has one).
    public mutating func quit(_ address: String, now: Int64) throws(RelayError) {
        var node = try existingNode(address)
        switch node.status {
        case .available, .paused: node.status = .quit
        case .busy, .pendingPause: node.status = .pendingQuit
        default: throw .validation("address", "Illegal node status")
        }
        nodes[address] = node
        if node.status == .quit { emit("NodeQuit", node: address, task: "", now: now) }
    }

    /// A node finished downloading a model.
    public mutating func modelDownloaded(_ address: String, model: String, now: Int64) throws(RelayError) {
        var node = try existingNode(address)
        node.modelIDs.insert(model.lowercased())
        nodes[address] = node
        pendingDownloads["\(address)|\(model.lowercased())"] = nil
    }

    /// The commitment of the task a node should run now, if any (the oldest when it holds several).
    public func currentTask(of address: String) throws(RelayError) -> String? { try existingNode(address).currentTask }

    /// Every task a node holds now, oldest first.
    public func currentTasks(of address: String) throws(RelayError) -> [String] { try existingNode(address).tasks }

    func existingNode(_ address: String) throws(RelayError) -> RelayNode {
        guard let node = nodes[address] else { throw .notFound("Node not found") }
        return node
    }
}
