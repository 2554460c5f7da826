import CrynuxSDK
import Foundation

/// A task's state, as the relay stores it (`uint8` on the wire).
public enum TaskStatus: UInt8, Sendable, Hashable, Codable, CaseIterable {
    /// Waiting for a node.
    case queued = 0
    /// A node was selected.
    case started = 1
    /// Legacy, never set; read as `started`.
    case parametersUploaded = 2
    /// The node reported invalid task arguments.
    case errorReported = 3
    /// The node submitted its score.
    case scoreReady = 4
    /// Validated alone; waiting for the results.
    case validated = 5
    /// The fastest matching member of a validation group; waiting for the results.
    case groupValidated = 6
    /// Its result disagreed with the group (terminal).
    case endInvalidated = 7
    /// Results uploaded, fee settled (terminal).
    case endSuccess = 8
    /// Aborted, see `AbortReason` (terminal).
    case endAborted = 9
    /// A matching but slower group member, fee refunded (terminal).
    case endGroupRefund = 10
    /// The group's results uploaded, fee split (terminal).
    case endGroupSuccess = 11

    /// Whether nothing more can happen to the task's status.
    public var isTerminal: Bool { rawValue >= 7 }
}

/// Why a task ended in `endAborted`.
public enum AbortReason: UInt8, Sendable, Hashable, Codable, CaseIterable {
    /// Not aborted.
    case none = 0
    /// A deadline passed (queue, execution).
    case timeout = 1
    /// The node could not download a model.
    case modelDownloadFailed = 2
    /// The validation group had no majority.
    case incorrectResult = 3
    /// The fee was too low.
    case taskFeeTooLow = 4
    /// Too few group members finished.
    case groupTimeout = 5
    /// The node reported invalid arguments.
    case errorReported = 6
    /// The creator cancelled it while queued.
    case creatorCancelled = 7
    /// The creator did not validate in time (the node is paid, no result is delivered).
    case creatorValidationTimeout = 8
    /// The node did not upload its results in time.
    case resultUploadTimeout = 9
    /// The node was slashed.
    case nodeSlashed = 10
}

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

/// A task as the relay keeps it.
public struct RelayTask: Sendable, Hashable, Codable {
    /// Creation order, from 1.
    public var sequence: Int
    /// `0x` + lowercase hex of keccak256(task_id ‖ nonce).
    public var commitment: String
    /// The creator's EIP-55 address.
    public var creator: String
    /// The task arguments, a JSON string.
    public var taskArgs: String
    /// SD, LLM or SD fine-tuning.
    public var taskType: TaskType
    /// `0x` + hex, 32 bytes.
    public var nonce: String
    /// Model ids, lowercased (`base:…` exactly once).
    public var modelIDs: [String]
    /// Minimum VRAM in GB.
    public var minVRAM: Int
    /// An exact GPU name to run on, or empty.
    public var requiredGPU: String
    /// The VRAM of `requiredGPU`, GB.
    public var requiredGPUVRAM: Int
    /// `major.minor.patch`.
    public var taskVersion: String
    /// Images for SD, 1 for LLM.
    public var taskSize: Int
    /// The fee, charged at creation.
    public var fee: Wei
    /// 32 random bytes, the VRF's input.
    public var samplingSeed: [UInt8]
    /// Dispatch priority: fee per estimated node-second, frozen at creation.
    public var priority: Double
    /// The state.
    public var status: TaskStatus = .queued
    /// Why it was aborted.
    public var abortReason: AbortReason = .none
    /// 1 when the node reported invalid arguments.
    public var taskError: UInt8 = 0
    /// The node's score, `0x` + hex (empty until submitted).
    public var score: String = ""
    /// The rank score the task earned in its validation group (10, 5, 2), when it was in one.
    public var qosScore: Int?
    /// The selected node's address.
    public var selectedNode: String?
    /// The execution deadline in seconds after `startTime` (set at dispatch; SDFT: the creator's).
    public var timeout: Int
    /// Unix seconds.
    public var createTime: Int64
    /// When a node was selected.
    public var startTime: Int64?
    /// When the score or error arrived.
    public var scoreReadyTime: Int64?
    /// When it was validated.
    public var validatedTime: Int64?
    /// When its results arrived.
    public var resultUploadedTime: Int64?
    /// The shared task id, once revealed by validation (`0x` + hex).
    public var taskID: String?

    /// The `base:` model id.
    public var baseModel: String { modelIDs.first { $0.hasPrefix("base:") } ?? "" }
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

/// What a ledger row records.
public enum LedgerKind: String, Sendable, Hashable, Codable, CaseIterable {
    /// Money entering a relay account (a chain deposit, or the development faucet).
    case deposit = "Deposit"
    /// A task fee moved from the creator into escrow.
    case taskPayment = "TaskPayment"
    /// An escrowed fee returned to the creator.
    case taskRefund = "TaskRefund"
    /// An escrowed fee (or part of it) paid to a node.
    case taskIncome = "TaskIncome"
    /// The DAO's share of a paid fee.
    case daoFee = "DAOFee"
    /// An escrowed fee kept by the relay (an invalidated task: no refund, no income).
    case taskForfeit = "TaskForfeit"
}

/// One append-only ledger row. Balances always equal the sum of their rows.
public struct LedgerEntry: Sendable, Hashable, Codable {
    /// From 1, in order.
    public var id: Int
    /// Unix seconds.
    public var time: Int64
    /// The movement.
    public var kind: LedgerKind
    /// The relay account credited or debited.
    public var account: String
    /// Always positive; `kind` says the direction.
    public var amount: Wei
    /// The task it concerns.
    public var task: String?
}

/// An entry of the relay's event stream (`GET /v1/events`).
public struct RelayEvent: Sendable, Hashable {
    /// From 1, in order.
    public var id: Int
    /// `TaskStarted`, `TaskEndAborted`, `NodeJoin`, …
    public var type: String
    /// The node concerned, or empty.
    public var nodeAddress: String
    /// The task concerned, or empty.
    public var taskIDCommitment: String
    /// Extra fields (as the `args` JSON string on the wire).
    public var args: JSONValue
}

/// A relay operation refused, in the relay's terms.
public struct RelayError: Error, Sendable, Hashable, CustomStringConvertible {
    /// How the HTTP layer answers it.
    public struct Kind: Sendable, Hashable {
        let name: String
        /// HTTP 400 `validation_error` with `field_name`.
        public static let validation = Kind(name: "validation")
        /// HTTP 404.
        public static let notFound = Kind(name: "notFound")
        /// HTTP 403.
        public static let forbidden = Kind(name: "forbidden")
        /// HTTP 413: the body is over the size limit.
        public static let tooLarge = Kind(name: "tooLarge")
    }

    /// The kind.
    public var kind: Kind
    /// The field at fault (validation errors).
    public var field: String
    /// What was wrong.
    public var message: String

    /// A validation error naming `field`.
    public static func validation(_ field: String, _ message: String) -> RelayError { RelayError(kind: .validation, field: field, message: message) }
    /// Not found.
    public static func notFound(_ message: String) -> RelayError { RelayError(kind: .notFound, field: "", message: message) }
    /// Not allowed for this signer.
    public static func forbidden(_ message: String) -> RelayError { RelayError(kind: .forbidden, field: "", message: message) }

    /// `field: message`.
    public var description: String { field.isEmpty ? message : "\(field): \(message)" }
}
