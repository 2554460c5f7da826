import BigInt
import CrynuxSDK
import Foundation

/// The relay's deterministic core: tasks, nodes, relay accounts, the ledger and the event stream, and every
/// rule of PROTOCOL.md §1, §4 and §5 as operations on them. Time comes in as an argument and randomness
/// from a seeded stream, so the same operations give the same state (tests replay them; persistence can
/// journal them). Signature checks happen before these operations, at the HTTP edge.
public struct RelayState: Sendable {
    /// The rules.
    public var config: RelayConfig
    /// Tasks by commitment.
    public private(set) var tasks: [String: RelayTask] = [:]
    /// Nodes by address.
    public private(set) var nodes: [String: RelayNode] = [:]
    /// Relay account balances.
    public private(set) var balances: [String: Wei] = [:]
    /// Fees held for tasks not yet settled or refunded, by commitment.
    public private(set) var escrow: [String: Wei] = [:]
    /// Every money movement, in order.
    public private(set) var ledger: [LedgerEntry] = []
    /// The event stream.
    public private(set) var events: [RelayEvent] = []
    /// Everything ever deposited.
    public private(set) var totalDeposits = Wei(0)
    /// Model downloads the relay asked for and their deadlines, keyed `node|model`.
    public internal(set) var pendingDownloads: [String: Int64] = [:]
    private var sequence = 0
    private var random: SplitMix64

    /// An empty relay whose sampling seeds and dispatch draws come from `seed`.
    public init(config: RelayConfig = RelayConfig(), seed: UInt64) {
        self.config = config
        random = SplitMix64(seed: seed)
    }

    /// A relay restored from its stored parts.
    init(
        config: RelayConfig, tasks: [String: RelayTask], nodes: [String: RelayNode], balances: [String: Wei], escrow: [String: Wei],
        ledger: [LedgerEntry], events: [RelayEvent], totalDeposits: Wei, sequence: Int, randomState: UInt64
    ) {
        self.config = config
        self.tasks = tasks
        self.nodes = nodes
        self.balances = balances
        self.escrow = escrow
        self.ledger = ledger
        self.events = events
        self.totalDeposits = totalDeposits
        self.sequence = sequence
        random = SplitMix64(seed: randomState)
    }

    /// The last task sequence number given out.
    var sequenceNumber: Int { sequence }
    /// The random stream's position.
    var randomState: UInt64 { random.state }

    // MARK: Accounts

    /// The balance of a relay account.
    public func balance(of address: String) -> Wei { balances[address] ?? Wei(0) }

    /// Credits a relay account (a detected chain deposit, or the development faucet).
    public mutating func deposit(to address: String, amount: Wei, now: Int64) throws(RelayError) {
        guard amount > Wei(0) else { throw .validation("amount", "must be positive") }
        totalDeposits = totalDeposits + amount
        credit(address, amount, .deposit, task: nil, now: now)
    }

    private mutating func credit(_ account: String, _ amount: Wei, _ kind: LedgerKind, task: String?, now: Int64) {
        guard amount > Wei(0) else { return }
        balances[account] = balance(of: account) + amount
        ledger.append(LedgerEntry(id: ledger.count + 1, time: now, kind: kind, account: account, amount: amount, task: task))
    }

    /// Moves a task's escrowed fee (or `amount` of it) out: back to the creator, to a node, or to the DAO.
    private mutating func release(_ commitment: String, _ amount: Wei? = nil, to account: String, _ kind: LedgerKind, now: Int64) {
        let held = escrow[commitment] ?? Wei(0)
        let paid = min(amount ?? held, held)
        escrow[commitment] = held.subtracting(paid)
        if escrow[commitment] == Wei(0) { escrow[commitment] = nil }
        credit(account, paid, kind, task: commitment, now: now)
    }

    // MARK: Tasks

    /// What an application sends to create a task (the signed form fields of §2.5).
    public struct NewTask: Sendable, Hashable {
        /// The commitment in the path.
        public var commitment: String
        /// Task arguments (a JSON string).
        public var taskArgs: String
        /// The type.
        public var taskType: TaskType
        /// 32 bytes, `0x` hex.
        public var nonce: String
        /// Model ids (exactly one `base:`).
        public var modelIDs: [String]
        /// GB.
        public var minVRAM: Int
        /// Exact GPU, or empty.
        public var requiredGPU: String
        /// GB with `requiredGPU`.
        public var requiredGPUVRAM: Int
        /// `major.minor.patch`.
        public var taskVersion: String
        /// Images for SD, 1 for LLM.
        public var taskSize: Int
        /// The fee.
        public var fee: Wei
        /// SDFT only: the creator's timeout, seconds.
        public var timeout: Int?

        /// Creates the fields.
        public init(
            commitment: String, taskArgs: String, taskType: TaskType, nonce: String, modelIDs: [String], minVRAM: Int = 0,
            requiredGPU: String = "", requiredGPUVRAM: Int = 0, taskVersion: String = "3.1.0", taskSize: Int = 1, fee: Wei,
            timeout: Int? = nil
        ) {
            self.commitment = commitment
            self.taskArgs = taskArgs
            self.taskType = taskType
            self.nonce = nonce
            self.modelIDs = modelIDs
            self.minVRAM = minVRAM
            self.requiredGPU = requiredGPU
            self.requiredGPUVRAM = requiredGPUVRAM
            self.taskVersion = taskVersion
            self.taskSize = taskSize
            self.fee = fee
            self.timeout = timeout
        }
    }

    /// Creates a task: checks the fields, charges the fee into escrow, draws the sampling seed and fixes the
    /// priority. The task starts `queued`.
    @discardableResult
    public mutating func createTask(_ new: NewTask, creator: String, now: Int64) throws(RelayError) -> RelayTask {
        guard Self.isHex32(new.commitment) else { throw .validation("task_id_commitment", "must be 0x followed by 64 lowercase hex digits") }
        guard tasks[new.commitment] == nil else { throw .validation("task_id_commitment", "Task already exists") }
        guard Self.isHex32(new.nonce.lowercased()) else { throw .validation("nonce", "must be 0x followed by 64 hex digits") }
        let models = new.modelIDs.map { $0.lowercased() }
        guard models.filter({ $0.hasPrefix("base:") }).count == 1 else { throw .validation("task_model_ids", "exactly one base: model is required") }
        guard models.allSatisfy({ $0.hasPrefix("base:") || $0.hasPrefix("lora:") || $0.hasPrefix("controlnet:") }) else {
            throw .validation("task_model_ids", "model ids are base:, lora: or controlnet:")
        }
        guard Self.version(new.taskVersion) != nil else { throw .validation("task_version", "must be major.minor.patch") }
        guard new.minVRAM >= 0, new.requiredGPUVRAM >= 0, new.taskSize >= 1 else { throw .validation("task_size", "out of range") }
        guard new.requiredGPU.isEmpty || new.requiredGPUVRAM > 0 else { throw .validation("required_gpu_vram", "is required with required_gpu") }
        do {
            switch new.taskType {
            case .llm: _ = try GPTTaskArgs(json: Array(new.taskArgs.utf8))
            case .sd: _ = try SDTaskArgs(json: Array(new.taskArgs.utf8))
            case .sdFinetuneLora: _ = try FinetuneLoraTaskArgs(json: Array(new.taskArgs.utf8))
            }
        } catch { throw .validation("task_args", "\(error)") }
        if new.taskType == .sdFinetuneLora {
            guard let timeout = new.timeout, timeout > 0 else { throw .validation("timeout", "is required for fine-tuning tasks") }
        } else if let timeout = new.timeout, timeout != 0 {
            throw .validation("timeout", "is set by the relay for SD and LLM tasks")
        }
        guard let remaining = balance(of: creator).subtracting(new.fee) else {
            throw .validation("task_fee", "Insufficient relay account balance")
        }
        sequence += 1
        var seed = [UInt8](repeating: 0, count: 32)
        for i in stride(from: 0, to: 32, by: 8) {
            withUnsafeBytes(of: random.next().bigEndian) { seed.replaceSubrange(i..<(i + 8), with: $0) }
        }
        var task = RelayTask(
            sequence: sequence, commitment: new.commitment, creator: creator, taskArgs: new.taskArgs, taskType: new.taskType,
            nonce: new.nonce.lowercased(), modelIDs: models, minVRAM: new.minVRAM, requiredGPU: new.requiredGPU,
            requiredGPUVRAM: new.requiredGPUVRAM, taskVersion: new.taskVersion, taskSize: new.taskSize, fee: new.fee, samplingSeed: seed,
            priority: 0, timeout: new.timeout ?? 0, createTime: now)
        let demand = task.requiredGPU.isEmpty ? task.minVRAM : task.requiredGPUVRAM
        let vramWeight = Double(max(demand, config.baseVRAM)) / Double(config.baseVRAM)
        let seconds = Double(config.executionSeconds(for: task, modelSwitch: false, forPricing: true))
        task.priority = (Double(new.fee.decimalString) ?? 0) / 1e18 / (seconds * vramWeight)
        balances[creator] = remaining
        escrow[task.commitment] = new.fee
        ledger.append(LedgerEntry(id: ledger.count + 1, time: now, kind: .taskPayment, account: creator, amount: new.fee, task: task.commitment))
        tasks[task.commitment] = task
        return task
    }

    /// A task, for its creator or its selected node.
    public func task(_ commitment: String, for address: String) throws(RelayError) -> RelayTask {
        guard let task = tasks[commitment] else { throw .notFound("Task not found") }
        guard task.creator == address || task.selectedNode == address else { throw .forbidden("Signer not allowed") }
        return task
    }

    /// The creator cancels a queued task (full refund).
    public mutating func cancel(_ commitment: String, by creator: String, now: Int64) throws(RelayError) {
        guard let task = tasks[commitment] else { throw .notFound("Task not found") }
        guard task.creator == creator else { throw .forbidden("Signer not allowed") }
        guard task.status == .queued else { throw .validation("abort_reason", "Illegal task state") }
        abort(commitment, .creatorCancelled, issuer: creator, now: now)
    }

    // MARK: Nodes

    /// What a node sends to join (§7.1).
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
        if let node = nodes[address], node.status != .quit { throw .validation("address", "Node already joined") }
        guard !join.gpuName.isEmpty, join.gpuVRAM > 0 else { throw .validation("gpu_name", "GPU name and VRAM are required") }
        guard let version = Self.version(join.version) else { throw .validation("version", "must be major.minor.patch") }
        var node = nodes[address] ?? RelayNode(
            address: address, status: .available, gpuName: join.gpuName, gpuVRAM: join.gpuVRAM, version: version, modelIDs: [],
            staking: join.staking, network: join.network)
        node.status = .available
        node.gpuName = join.gpuName
        node.gpuVRAM = join.gpuVRAM
        node.version = version
        node.modelIDs = Set(join.modelIDs.map { $0.lowercased() })
        node.staking = join.staking
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
        guard let v = Self.version(version) else { throw .validation("version", "must be major.minor.patch") }
        node.gpuName = gpuName
        node.gpuVRAM = gpuVRAM
        node.version = v
        node.modelIDs = Set(modelIDs.map { $0.lowercased() })
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

    /// The commitment of the task a node should run now, if any.
    public func currentTask(of address: String) throws(RelayError) -> String? { try existingNode(address).currentTask }

    private func existingNode(_ address: String) throws(RelayError) -> RelayNode {
        guard let node = nodes[address] else { throw .notFound("Node not found") }
        return node
    }

    // MARK: Dispatch

    /// One matching round: queued tasks by priority (then creation order) each draw a node among those that
    /// qualify, weighted by stake, QoS and model locality. Returns the tasks started.
    @discardableResult
    public mutating func dispatch(now: Int64, limit: Int = 100) -> [String] {
        let queue = tasks.values.filter { $0.status == .queued }.sorted { ($0.priority, -$0.sequence) > ($1.priority, -$1.sequence) }
        var started: [String] = []
        for task in queue.prefix(limit) {
            let candidates = nodes.values.filter { qualifies($0, for: task, now: now) }.sorted { $0.address < $1.address }
            guard !candidates.isEmpty else { continue }
            var node = candidates[pickWeighted(candidates, model: task.baseModel, now: now)]
            var t = task
            let switched = !node.inUseModelIDs.contains(task.baseModel)
            t.status = .started
            t.selectedNode = node.address
            t.startTime = now
            if t.taskType != .sdFinetuneLora { t.timeout = config.executionSeconds(for: t, modelSwitch: switched, forPricing: false) }
            node.status = .busy
            node.currentTask = t.commitment
            node.inUseModelIDs = [task.baseModel]
            tasks[t.commitment] = t
            nodes[node.address] = node
            emit("TaskStarted", node: node.address, task: t.commitment, now: now)
            started.append(t.commitment)
        }
        return started
    }

    /// A weighted random choice (§5.1): `S·Q/(S+Q)` with S = √(stake / max stake) and Q = long-term QoS/10 ×
    /// health, times 1.3 when the model is already loaded.
    private mutating func pickWeighted(_ candidates: [RelayNode], model: String, now: Int64) -> Int {
        let maxStake = candidates.map { Double($0.staking.decimalString) ?? 0 }.max() ?? 0
        let weights = candidates.map { node -> Double in
            let stake = Double(node.staking.decimalString) ?? 0
            let s = maxStake > 0 ? (stake / maxStake).squareRoot() : 0
            let q = node.longTermQoS / 10 * currentHealth(node, now: now)
            let base = s + q > 0 ? s * q / (s + q) : 0
            return base * (node.inUseModelIDs.contains(model) ? 1.3 : 1)
        }
        let total = weights.reduce(0, +)
        guard total > 0 else { return Int(random.next() % UInt64(candidates.count)) }
        var u = Double(random.next() >> 11) / Double(1 << 53) * total
        for (i, w) in weights.enumerated() {
            u -= w
            if u < 0 { return i }
        }
        return candidates.count - 1
    }

    /// The model-distribution controller (§5.4), simplified: for each base model that queued tasks wait for,
    /// asks enough otherwise-qualified nodes to download it (one per waiting task, at most 10 holders and
    /// pending downloads together), by the dispatch weights, with a 30-minute deadline per request. Emits a
    /// `DownloadModel` event per request; returns the `(node, model)` pairs asked.
    @discardableResult
    public mutating func distributeModels(now: Int64) -> [(node: String, model: String)] {
        pendingDownloads = pendingDownloads.filter { $0.value > now }
        var asked: [(node: String, model: String)] = []
        let waiting = Dictionary(grouping: tasks.values.filter { $0.status == .queued }, by: \.baseModel)
        for (model, queued) in waiting.sorted(by: { $0.key < $1.key }) {
            let sample = queued.min { $0.sequence < $1.sequence }!
            let holders = nodes.values.filter { $0.status != .quit && $0.modelIDs.contains(model) }.count
            let pending = pendingDownloads.keys.filter { $0.hasSuffix("|\(model)") }.count
            var deficit = min(queued.count, 10) - holders - pending
            var candidates = nodes.values.filter { node in
                !node.modelIDs.contains(model) && pendingDownloads["\(node.address)|\(model)"] == nil
                    && qualifies(node, for: sample, now: now, ignoringModel: true)
            }.sorted { $0.address < $1.address }
            while deficit > 0, !candidates.isEmpty {
                let node = candidates.remove(at: pickWeighted(candidates, model: model, now: now))
                pendingDownloads["\(node.address)|\(model)"] = now + 1800
                emit("DownloadModel", node: node.address, task: "", now: now, args: .object([
                    JSONMember("node_address", .string(node.address)), JSONMember("model_id", .string(model)),
                    JSONMember("task_type", .integer(sample.taskType.rawValue)),
                ]))
                asked.append((node.address, model))
                deficit -= 1
            }
        }
        return asked
    }

    /// Whether `node` may run `task` now (§5.1's filters).
    func qualifies(_ node: RelayNode, for task: RelayTask, now: Int64, ignoringModel: Bool = false) -> Bool {
        guard node.status == .available, !node.kickedOut, !isExcluded(node, now: now) else { return false }
        if task.requiredGPU.isEmpty {
            guard node.gpuVRAM >= task.minVRAM else { return false }
        } else {
            guard node.gpuName == task.requiredGPU, node.gpuVRAM == task.requiredGPUVRAM else { return false }
        }
        guard let v = Self.version(task.taskVersion), node.version.count == 3, node.version[0] == v[0],
            (node.version[1], node.version[2]) >= (v[1], v[2])
        else { return false }
        if task.taskType == .llm && node.isDarwin { return false }
        return ignoringModel || node.modelIDs.contains(task.baseModel)
    }

    // MARK: Node actions on tasks

    /// The selected node submits its score (`0x` + hex).
    public mutating func submitScore(_ commitment: String, score: String, by address: String, now: Int64) throws(RelayError) {
        var task = try runningTask(commitment, node: address)
        guard score.hasPrefix("0x"), score.count > 2, Hex.decode(score) != nil else { throw .validation("score", "must be 0x-prefixed hex") }
        if task.taskType != .llm {
            guard (score.count - 2) % 16 == 0 else { throw .validation("score", "must be 8 bytes per image") }
        }
        task.status = .scoreReady
        task.score = score.lowercased()
        task.scoreReadyTime = now
        tasks[commitment] = task
        emit("TaskScoreReady", node: address, task: commitment, now: now, args: .object([JSONMember("score", .string(task.score))]))
    }

    /// The selected node reports invalid task arguments.
    public mutating func reportError(_ commitment: String, by address: String, now: Int64) throws(RelayError) {
        var task = try runningTask(commitment, node: address)
        task.status = .errorReported
        task.taskError = 1
        task.scoreReadyTime = now
        tasks[commitment] = task
        emit("TaskErrorReported", node: address, task: commitment, now: now, args: .object([JSONMember("task_error", .integer(1))]))
    }

    private func runningTask(_ commitment: String, node address: String) throws(RelayError) -> RelayTask {
        guard let task = tasks[commitment] else { throw .notFound("Task not found") }
        guard task.selectedNode == address else { throw .forbidden("Signer not allowed") }
        guard task.status == .started || task.status == .parametersUploaded else { throw .validation("task_id_commitment", "Illegal task state") }
        return task
    }

    /// The node uploads its result files. `score(files)` recomputes the score as the node must have computed it
    /// (SHA-256 of `0.json` for LLM; the pHashes of the PNGs for SD), and a mismatch is refused.
    public mutating func uploadResults(
        _ commitment: String, files: [[UInt8]], by address: String, now: Int64, score: (TaskType, [[UInt8]]) throws -> String
    ) throws(RelayError) {
        guard var task = tasks[commitment] else { throw .notFound("Task not found") }
        guard task.selectedNode == address else { throw .forbidden("Signer not allowed") }
        guard [.validated, .groupValidated, .endInvalidated, .endGroupRefund].contains(task.status) else {
            throw .validation("task_id_commitment", "Illegal task state")
        }
        guard task.resultUploadedTime == nil else { throw .validation("task_id_commitment", "Task results already uploaded") }
        guard !files.isEmpty else { throw .validation("files", "no files") }
        let computed: String
        do { computed = try score(task.taskType, files) } catch { throw .validation("files", "\(error)") }
        guard computed.lowercased() == task.score else { throw .validation("files", "Wrong result files: the score does not match") }
        task.resultUploadedTime = now
        tasks[commitment] = task
        recoverHealth(address, by: 0.15, now: now)
        switch task.status {
        case .validated:
            settle(commitment, shares: [(address, 1)], now: now)
            finish(commitment, .endSuccess, now: now)
        case .groupValidated:
            let members = tasks.values.filter { $0.taskID == task.taskID && ($0.status == .groupValidated || $0.status == .endGroupRefund) }
                .sorted { $0.sequence < $1.sequence }
            settle(commitment, shares: members.compactMap { m in m.selectedNode.map { ($0, m.qosScore ?? 0) } }, now: now)
            finish(commitment, .endGroupSuccess, now: now)
        default:
            break  // evidence only
        }
    }

    /// Pays a task's escrowed fee to nodes in proportion to `shares` (the last takes the remainder), each
    /// share less the DAO's percentage.
    private mutating func settle(_ commitment: String, shares: [(String, Int)], now: Int64) {
        guard let held = escrow[commitment] else { return }
        let total = shares.reduce(0) { $0 + $1.1 }
        var left = held
        for (i, (node, share)) in shares.enumerated() {
            let part = i == shares.count - 1 ? left : Wei(held.value * BigUInt(share) / BigUInt(max(total, 1)))
            left = left.subtracting(part) ?? Wei(0)
            let dao = Wei(part.value * BigUInt(config.daoPercent) / 100)
            release(commitment, dao, to: config.daoAccount, .daoFee, now: now)
            release(commitment, part.subtracting(dao) ?? Wei(0), to: node, .taskIncome, now: now)
        }
    }

    // MARK: Validation

    /// The creator validates one task (the VRF said no group) or a group of three sharing `taskID` (the VRF
    /// said validate; `commitments` in any order, the proof made with the lowest-sequence task's seed).
    public mutating func validate(
        commitments: [String], taskID: String, vrfProof: String, publicKey: String, by creator: String, now: Int64
    ) throws(RelayError) {
        guard commitments.count == 1 || commitments.count == 3, Set(commitments).count == commitments.count else {
            throw .validation("task_id_commitments", "must list 1 or 3 distinct commitments")
        }
        guard let taskIDBytes = Hex.decode(taskID), taskIDBytes.count == 32 else { throw .validation("task_id", "must be 32 bytes of hex") }
        guard let keyBytes = Hex.decode(publicKey), keyBytes.count == 64, let key = try? PublicKey(bytes: keyBytes) else {
            throw .validation("public_key", "must be a 64-byte uncompressed secp256k1 key")
        }
        guard key.address.checksummed == creator else { throw .validation("public_key", "does not belong to the creator") }
        var members: [RelayTask] = []
        for c in commitments {
            guard let task = tasks[c] else { throw .notFound("Task not found") }
            guard task.creator == creator else { throw .forbidden("Signer not allowed") }
            guard let nonce = Hex.decode(task.nonce), "0x" + Hex.encode(Keccak256.hash(taskIDBytes + nonce)) == c else {
                throw .validation("task_id", "does not match the commitment")
            }
            members.append(task)
        }
        members.sort { $0.sequence < $1.sequence }
        guard let pi = Hex.decode(vrfProof), let beta = try? ECVRF.verify(publicKey: key, alpha: members[0].samplingSeed, pi: pi) else {
            throw .validation("vrf_proof", "Invalid VRF proof")
        }
        let needsGroup = needsValidation(beta: beta)
        let taskIDHex = "0x" + Hex.encode(taskIDBytes)
        if commitments.count == 1 {
            guard !needsGroup else { throw .validation("vrf_proof", "This task must be validated in a group") }
            let task = members[0]
            switch task.status {
            case .scoreReady:
                var t = task
                t.status = .validated
                t.validatedTime = now
                t.taskID = taskIDHex
                tasks[t.commitment] = t
                emit("TaskValidated", node: t.selectedNode ?? "", task: t.commitment, now: now)
            case .errorReported:
                tasks[task.commitment]?.taskID = taskIDHex
                abort(task.commitment, .errorReported, issuer: creator, now: now)
            default:
                throw .validation("task_id_commitment", "Illegal task state")
            }
            return
        }
        guard needsGroup else { throw .validation("vrf_proof", "This task does not need validation") }
        guard members.allSatisfy({ [.scoreReady, .errorReported, .endAborted].contains($0.status) }) else {
            throw .validation("task_id_commitments", "Illegal task state")
        }
        for m in members { tasks[m.commitment]?.taskID = taskIDHex }
        validateGroup(members, now: now)
    }

    /// Whether the VRF output sends the task to a validation group (`beta mod 100 < rate`).
    public func needsValidation(beta: [UInt8]) -> Bool {
        var r = 0
        for b in beta { r = (r * 256 + Int(b)) % 100 }
        return r < config.validationRatePercent
    }

    private mutating func validateGroup(_ members: [RelayTask], now: Int64) {
        let finished = members.filter { $0.status != .endAborted }
            .sorted { (($0.scoreReadyTime ?? 0) - ($0.startTime ?? 0), $0.sequence) < (($1.scoreReadyTime ?? 0) - ($1.startTime ?? 0), $1.sequence) }
        func agree(_ a: RelayTask, _ b: RelayTask) -> Bool {
            if a.status == .errorReported || b.status == .errorReported { return a.status == b.status }
            return sameResult(a.score, b.score, type: a.taskType)
        }
        // Who matches whom, fastest first.
        var winners: [RelayTask] = []
        var losers: [RelayTask] = []
        if finished.count == 3 {
            let (a, b, c) = (finished[0], finished[1], finished[2])
            if agree(a, b) && agree(a, c) || agree(a, b) && agree(b, c) || agree(a, c) && agree(b, c) {
                winners = finished
            } else if agree(a, b) {
                winners = [a, b]
                losers = [c]
            } else if agree(a, c) {
                winners = [a, c]
                losers = [b]
            } else if agree(b, c) {
                winners = [b, c]
                losers = [a]
            }
        } else if finished.count == 2, agree(finished[0], finished[1]) {
            winners = finished
        }
        guard !winners.isEmpty else {
            let reason: AbortReason = finished.count < 2 ? .groupTimeout : .incorrectResult
            for m in finished { abort(m.commitment, reason, issuer: "", now: now) }
            return
        }
        let rankScores = [10, 5, 2]
        for (rank, m) in finished.enumerated() {
            guard let node = m.selectedNode else { continue }
            recordQoS(node, score: winners.contains { $0.commitment == m.commitment } ? rankScores[rank] : 0, now: now)
        }
        if winners[0].status == .errorReported {
            // Matching errors: the arguments really are invalid; refund everything.
            for m in finished { abort(m.commitment, .errorReported, issuer: "", now: now) }
            for l in losers { if let n = l.selectedNode { slash(n, now: now) } }
            return
        }
        for (i, w) in winners.enumerated() {
            tasks[w.commitment]?.qosScore = rankScores[finished.firstIndex { $0.commitment == w.commitment } ?? 2]
            if i == 0 {
                tasks[w.commitment]?.status = .groupValidated
                tasks[w.commitment]?.validatedTime = now
                emit("TaskValidated", node: w.selectedNode ?? "", task: w.commitment, now: now)
            } else {
                release(w.commitment, to: w.creator, .taskRefund, now: now)
                recoverHealth(w.selectedNode ?? "", by: 0.15, now: now)
                finish(w.commitment, .endGroupRefund, now: now)
            }
        }
        for l in losers {
            // No refund and no income: the fee stays with the relay; the node faces a (pending) slash.
            release(l.commitment, to: config.daoAccount, .taskForfeit, now: now)
            finish(l.commitment, .endInvalidated, now: now)
            if let n = l.selectedNode { slash(n, now: now) }
        }
    }

    /// LLM scores must be identical; SD scores match when every image's pHash differs in fewer than
    /// `distanceThreshold` bits.
    func sameResult(_ a: String, _ b: String, type: TaskType) -> Bool {
        guard type != .llm else { return a == b }
        guard let x = Hex.decode(a), let y = Hex.decode(b), x.count == y.count, x.count % 8 == 0 else { return false }
        for image in stride(from: 0, to: x.count, by: 8) {
            var distance = 0
            for i in image..<(image + 8) { distance += (x[i] ^ y[i]).nonzeroBitCount }
            if distance >= config.distanceThreshold { return false }
        }
        return true
    }

    // MARK: Deadlines

    /// Applies every deadline that has passed at `now` (§1.4). Returns the tasks it ended.
    @discardableResult
    public mutating func expireDeadlines(now: Int64) -> [String] {
        var ended: [String] = []
        for task in tasks.values.filter({ !$0.status.isTerminal }).sorted(by: { $0.sequence < $1.sequence }) {
            switch task.status {
            case .queued:
                let limit = task.taskType == .sdFinetuneLora ? config.finetuneQueueGrace + Int64(task.timeout) : config.queueTimeout
                if now > task.createTime + limit { abort(task.commitment, .timeout, issuer: "", now: now) } else { continue }
            case .started, .parametersUploaded:
                if now > (task.startTime ?? now) + Int64(task.timeout) {
                    if let n = task.selectedNode { penalise(n, now: now) }
                    abort(task.commitment, .timeout, issuer: "", now: now)
                } else { continue }
            case .scoreReady, .errorReported:
                if now > (task.scoreReadyTime ?? now) + config.validationTimeout {
                    abort(task.commitment, .creatorValidationTimeout, issuer: "", now: now)
                } else { continue }
            case .validated, .groupValidated:
                if now > (task.validatedTime ?? now) + config.resultUploadTimeout {
                    if let n = task.selectedNode { penalise(n, now: now) }
                    abort(task.commitment, .resultUploadTimeout, issuer: "", now: now)
                } else { continue }
            default:
                continue
            }
            ended.append(task.commitment)
        }
        return ended
    }

    // MARK: Endings

    private mutating func abort(_ commitment: String, _ reason: AbortReason, issuer: String, now: Int64) {
        guard let task = tasks[commitment] else { return }
        if reason == .creatorValidationTimeout, let node = task.selectedNode {
            settle(commitment, shares: [(node, 1)], now: now)  // the node is paid; no result is delivered
        } else {
            release(commitment, to: task.creator, .taskRefund, now: now)
        }
        tasks[commitment]?.abortReason = reason
        finish(commitment, .endAborted, now: now, args: .object([
            JSONMember("abort_issuer", .string(issuer)), JSONMember("last_status", .integer(Int(task.status.rawValue))),
            JSONMember("abort_reason", .integer(Int(reason.rawValue))),
        ]))
    }

    private mutating func finish(_ commitment: String, _ status: TaskStatus, now: Int64, args: JSONValue = .object([])) {
        guard var task = tasks[commitment] else { return }
        task.status = status
        tasks[commitment] = task
        let names: [TaskStatus: String] = [
            .endAborted: "TaskEndAborted", .endSuccess: "TaskEndSuccess", .endGroupSuccess: "TaskEndGroupSuccess",
            .endGroupRefund: "TaskEndGroupRefund", .endInvalidated: "TaskEndInvalidated",
        ]
        emit(names[status] ?? "Task\(status)", node: task.selectedNode ?? "", task: commitment, now: now, args: args)
        // The node is free again.
        if let address = task.selectedNode, var node = nodes[address], node.currentTask == commitment {
            node.currentTask = nil
            switch node.status {
            case .busy: node.status = .available
            case .pendingPause: node.status = .paused
            case .pendingQuit: node.status = .quit
            default: break
            }
            nodes[address] = node
        }
    }

    // MARK: QoS and health

    /// Health now, with passive recovery toward 1 since it was last set.
    public func currentHealth(_ node: RelayNode, now: Int64) -> Double {
        let elapsed = Double(max(0, now - node.healthTime))
        return node.health + (1 - node.health) * (1 - exp(-elapsed / config.healthRecoverySeconds))
    }

    func isExcluded(_ node: RelayNode, now: Int64) -> Bool {
        node.excluded && currentHealth(node, now: now) < config.readmissionHealth
    }

    private mutating func penalise(_ address: String, now: Int64) {
        guard var node = nodes[address] else { return }
        let h = currentHealth(node, now: now)
        node.health = h >= 0.99 ? h * 0.95 : h * 0.3
        node.healthTime = now
        if node.health < config.exclusionHealth { node.excluded = true }
        nodes[address] = node
    }

    private mutating func recoverHealth(_ address: String, by amount: Double, now: Int64) {
        guard var node = nodes[address] else { return }
        node.health = min(1, currentHealth(node, now: now) + amount)
        node.healthTime = now
        if node.health >= config.readmissionHealth { node.excluded = false }
        nodes[address] = node
    }

    private mutating func recordQoS(_ address: String, score: Int, now: Int64) {
        guard var node = nodes[address] else { return }
        node.qosSamples.append(score)
        if node.qosSamples.count > 50 { node.qosSamples.removeFirst(node.qosSamples.count - 50) }
        if node.qosSamples.count == 50, node.longTermQoS < 2 {
            node.kickedOut = true
            if node.currentTask == nil { node.status = .quit }
            emit("NodeKickedOut", node: address, task: "", now: now)
        }
        nodes[address] = node
    }

    private mutating func slash(_ address: String, now: Int64) {
        guard var node = nodes[address] else { return }
        node.pendingSlash = true  // passive slash mode: recorded for the admin, stake untouched
        nodes[address] = node
        emit("NodeSlashed", node: address, task: "", now: now, args: .object([JSONMember("pending", .bool(true))]))
    }

    // MARK: Helpers

    private mutating func emit(_ type: String, node: String, task: String, now: Int64, args: JSONValue = .object([])) {
        events.append(RelayEvent(id: events.count + 1, type: type, nodeAddress: node, taskIDCommitment: task, args: args))
    }

    static func isHex32(_ s: String) -> Bool {
        s.count == 66 && s.hasPrefix("0x") && s.dropFirst(2).allSatisfy { ("0"..."9").contains($0) || ("a"..."f").contains($0) }
    }

    static func version(_ s: String) -> [Int]? {
        let parts = s.split(separator: ".", omittingEmptySubsequences: false).map { Int($0) }
        guard parts.count == 3, parts.allSatisfy({ ($0 ?? -1) >= 0 }) else { return nil }
        return parts.map { $0! }
    }
}
