import BigInt
import CrynuxSDK
import Foundation

/// The relay's deterministic core: tasks, nodes, relay accounts, the ledger and the event stream, and every
/// rule of docs/protocol.md §1, §4 and §5 as operations on them. Time comes in as an argument and randomness
/// from a seeded stream, so the same operations give the same state (tests replay them; persistence can
/// journal them). Signature checks happen before these operations, at the HTTP edge.
public struct RelayState: Sendable {
    /// The most VRAM (GB) a task may ask for or a node may declare.
    public static let maxVRAM = 4096
    /// The most result files (images) one task may have.
    public static let maxTaskSize = 256
    /// The longest a fine-tuning task may run, seconds (7 days).
    public static let maxFinetuneTimeout = 604_800

    /// The rules.
    public var config: RelayConfig
    /// Tasks held in memory: queued and running work (and, without a history, every task), by commitment.
    public internal(set) var tasks = TaskTable()
    /// Nodes by address.
    public internal(set) var nodes = JournaledTable<String, RelayNode>()
    /// Relay account balances.
    public internal(set) var balances = JournaledTable<String, Wei>()
    /// Fees held for tasks not yet settled or refunded, by commitment.
    public internal(set) var escrow = JournaledTable<String, Wei>()
    /// Money movements not yet in the store (without a history: every one), in order.
    public internal(set) var ledger: [LedgerEntry] = []
    /// Events not yet in the store (without a history: every one), in order.
    public internal(set) var events: [RelayEvent] = []
    /// Ledger rows already in the store.
    public internal(set) var ledgerBase = 0
    /// Events already in the store.
    public internal(set) var eventBase = 0
    /// Everything ever deposited.
    public internal(set) var totalDeposits = Wei(0)
    /// Model downloads the relay asked for and their deadlines, keyed `node|model`.
    public internal(set) var pendingDownloads: [String: Int64] = [:]
    /// Where finished tasks live once stored (nil: everything stays in memory, as in the unit tests).
    var history: (any RelayHistory)?
    var sequence = 0
    var random: SplitMix64
    /// The `now` of the last deadline scan: with operations at the clock's time, a second scan in the same second finds
    /// nothing more (every deadline set since lies at or after it), so the tick after each request skips the rescan.
    var lastDeadlineScan: Int64?
    /// What the open operation may have to put back.
    var snapshot: Snapshot?

    /// An empty relay whose sampling seeds and dispatch draws come from `seed`.
    public init(config: RelayConfig = RelayConfig(), seed: UInt64) {
        self.config = config
        random = SplitMix64(seed: seed)
    }

    /// A relay restored from its stored parts: live tasks, nodes, accounts and escrow; the counts of what is stored.
    init(
        config: RelayConfig, liveTasks: [RelayTask], statusCounts: [TaskStatus: Int], nodes: [String: RelayNode], balances: [String: Wei],
        escrow: [String: Wei], ledgerCount: Int, eventCount: Int, totalDeposits: Wei, sequence: Int, randomState: UInt64,
        history: any RelayHistory
    ) {
        self.config = config
        for task in liveTasks { tasks.adopt(task) }
        tasks.statusCounts = statusCounts
        self.nodes = JournaledTable(nodes)
        self.balances = JournaledTable(balances)
        self.escrow = JournaledTable(escrow)
        ledgerBase = ledgerCount
        eventBase = eventCount
        self.totalDeposits = totalDeposits
        self.sequence = sequence
        self.history = history
        random = SplitMix64(seed: randomState)
    }

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

    mutating func credit(_ account: String, _ amount: Wei, _ kind: LedgerKind, task: String?, now: Int64) {
        guard amount > Wei(0) else { return }
        balances[account] = balance(of: account) + amount
        ledger.append(LedgerEntry(id: ledgerBase + ledger.count + 1, time: now, kind: kind, account: account, amount: amount, task: task))
    }

    /// Moves a task's escrowed fee (or `amount` of it) out: back to the creator, to a node, or to the DAO.
    mutating func release(_ commitment: String, _ amount: Wei? = nil, to account: String, _ kind: LedgerKind, now: Int64) {
        let held = escrow[commitment] ?? Wei(0)
        let paid = min(amount ?? held, held)
        escrow[commitment] = held.subtracting(paid)
        if escrow[commitment] == Wei(0) { escrow[commitment] = nil }
        credit(account, paid, kind, task: commitment, now: now)
    }

    // MARK: Tasks

    /// What an application sends to create a task (the signed form fields of docs/protocol.md §2.5).
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
        guard try !taskExists(new.commitment) else { throw .validation("task_id_commitment", "Task already exists") }
        guard Self.isHex32(new.nonce.lowercased()) else { throw .validation("nonce", "must be 0x followed by 64 hex digits") }
        let models = new.modelIDs.map { $0.lowercased() }
        guard models.filter({ $0.hasPrefix("base:") }).count == 1 else { throw .validation("task_model_ids", "exactly one base: model is required") }
        guard models.allSatisfy({ $0.hasPrefix("base:") || $0.hasPrefix("lora:") || $0.hasPrefix("controlnet:") }) else {
            throw .validation("task_model_ids", "model ids are base:, lora: or controlnet:")
        }
        guard Self.version(new.taskVersion) != nil else { throw .validation("task_version", "must be major.minor.patch") }
        // Every number is range-checked before any arithmetic uses it.
        guard (0...Self.maxVRAM).contains(new.minVRAM) else { throw .validation("min_vram", "must be 0…\(Self.maxVRAM) GB") }
        guard (0...Self.maxVRAM).contains(new.requiredGPUVRAM) else { throw .validation("required_gpu_vram", "must be 0…\(Self.maxVRAM) GB") }
        guard (1...Self.maxTaskSize).contains(new.taskSize) else { throw .validation("task_size", "must be 1…\(Self.maxTaskSize)") }
        guard new.requiredGPU.isEmpty || new.requiredGPUVRAM > 0 else { throw .validation("required_gpu_vram", "is required with required_gpu") }
        guard new.fee >= config.minimumFee else { throw .validation("task_fee", "must be at least \(config.minimumFee.decimalString) wei") }
        guard new.taskArgs.utf8.count <= config.maxTaskArgsBytes else {
            throw .validation("task_args", "is longer than \(config.maxTaskArgsBytes) bytes")
        }
        guard tasks.queuedByCreator[creator, default: 0] < config.maxQueuedPerCreator else {
            throw .busy("This creator already has \(config.maxQueuedPerCreator) tasks waiting in the queue")
        }
        var llmArgs: GPTTaskArgs?
        var sdArgs: SDTaskArgs?
        do {
            switch new.taskType {
            case .llm: llmArgs = try GPTTaskArgs(json: Array(new.taskArgs.utf8))
            case .sd: sdArgs = try SDTaskArgs(json: Array(new.taskArgs.utf8))
            case .sdFinetuneLora: _ = try FinetuneLoraTaskArgs(json: Array(new.taskArgs.utf8))
            }
        } catch { throw .validation("task_args", "\(error)") }
        if new.taskType == .sdFinetuneLora {
            guard let timeout = new.timeout, (1...Self.maxFinetuneTimeout).contains(timeout) else {
                throw .validation("timeout", "is required for fine-tuning tasks: 1…\(Self.maxFinetuneTimeout) seconds")
            }
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
        let seconds = Double(config.executionSeconds(for: task, modelSwitch: false, forPricing: true, llm: llmArgs, sd: sdArgs))
        task.priority = (Double(new.fee.decimalString) ?? 0) / 1e18 / (seconds * vramWeight)
        balances[creator] = remaining
        escrow[task.commitment] = new.fee
        ledger.append(LedgerEntry(id: ledgerBase + ledger.count + 1, time: now, kind: .taskPayment, account: creator, amount: new.fee, task: task.commitment))
        tasks[task.commitment] = task
        return task
    }

    /// A task, for its creator or its selected node.
    public func task(_ commitment: String, for address: String) throws(RelayError) -> RelayTask {
        guard let task = try lookup(commitment) else { throw .notFound("Task not found") }
        guard task.creator == address || task.selectedNode == address else { throw .forbidden("Signer not allowed") }
        return task
    }

    /// The creator cancels a queued task (full refund).
    public mutating func cancel(_ commitment: String, by creator: String, now: Int64) throws(RelayError) {
        guard let task = try lookup(commitment) else { throw .notFound("Task not found") }
        guard task.creator == creator else { throw .forbidden("Signer not allowed") }
        guard task.status == .queued else { throw .validation("abort_reason", "Illegal task state") }
        abort(commitment, .creatorCancelled, issuer: creator, now: now)
    }
}
