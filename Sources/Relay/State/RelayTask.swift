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
