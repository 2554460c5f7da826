import CrynuxSDK
import Foundation

/// The relay's rules and timings (`crynux-relay`'s example-config defaults where it has them).
public struct RelayConfig: Sendable, Hashable {
    /// Seconds a task may wait in the queue.
    public var queueTimeout: Int64 = 21_600
    /// Seconds the creator has to validate after the score.
    public var validationTimeout: Int64 = 600
    /// Seconds the node has to upload after validation.
    public var resultUploadTimeout: Int64 = 600
    /// Percent of each paid fee kept by the DAO. The public relay's value is not published; ours defaults to 10.
    public var daoPercent: Int = 10
    /// SD group comparison: the per-image pHash Hamming distance must be below this (bits of 64).
    public var distanceThreshold: Int = 24
    /// Percent of tasks the VRF sends to validation groups: `beta mod 100 < rate`. 1 is the production rule
    /// (`beta mod 100 == 0`); 100 validates every task, 0 none (development only).
    public var validationRatePercent: Int = 1
    /// VRAM (GB) that counts as weight 1 in pricing.
    public var baseVRAM: Int = 8
    /// LLM `max_new_tokens` when the task does not say.
    public var defaultMaxNewTokens: Int = 256
    /// Seconds an SDFT task may wait beyond its own timeout before it times out in the queue.
    public var finetuneQueueGrace: Int64 = 180
    /// Health below which a node is excluded, and the health at which it returns.
    public var exclusionHealth = 0.2, readmissionHealth = 0.8
    /// Passive health recovery time constant, seconds.
    public var healthRecoverySeconds = 1800.0
    /// The relay account that receives DAO shares and forfeited fees.
    public var daoAccount = "0x0000000000000000000000000000000000000DA0"
    /// The lowest fee a task may offer (1 Gwei): a task for nothing costs its creator nothing to flood with.
    public var minimumFee = Wei(1_000_000_000)
    /// The longest `task_args`, in bytes.
    public var maxTaskArgsBytes = 1 << 20
    /// Tasks one creator may have waiting in the queue at once; more are refused with 429.
    public var maxQueuedPerCreator = 1_000
    /// The most stake a node's claim counts for in dispatch weights (the network's minimum stake, 400 CNX): this
    /// relay cannot check claims on chain, so a larger claim earns nothing more.
    public var stakeCap = Wei(cnx: 400)
    /// When set, only these node addresses (EIP-55) may join: the embedded network admits its own nodes only.
    public var allowedNodes: Set<String>?

    /// Creates the default configuration.
    public init() {}

    /// The execution timeout the relay sets at dispatch (seconds), or the estimate used for pricing
    /// (`forPricing`: without the ×2 margin and the model-switch term).
    public func executionSeconds(for task: RelayTask, modelSwitch: Bool, forPricing: Bool) -> Int {
        executionSeconds(for: task, modelSwitch: modelSwitch, forPricing: forPricing, llm: nil, sd: nil)
    }

    /// `executionSeconds`, with the task's arguments already parsed (nil: parsed here).
    func executionSeconds(for task: RelayTask, modelSwitch: Bool, forPricing: Bool, llm: GPTTaskArgs?, sd: SDTaskArgs?) -> Int {
        switch task.taskType {
        case .sdFinetuneLora:
            return task.timeout
        case .sd:
            var units = 0.0
            if let args = try? (sd ?? SDTaskArgs(json: Array(task.taskArgs.utf8))).withDefaults() {
                let c = args.taskConfig
                units = Double(c.numImages ?? 1) * Double(c.imageWidth ?? 512) * Double(c.imageHeight ?? 512) * Double(c.steps ?? 1)
            }
            let seconds = 30 + units * 3.8147e-5
            return Self.clampTimeout(forPricing ? seconds : seconds * 2)
        case .llm:
            var tokens = defaultMaxNewTokens
            if let args = try? llm ?? GPTTaskArgs(json: Array(task.taskArgs.utf8)), let n = args.generationConfig?.maxNewTokens { tokens = n }
            var seconds = 30 + 1e-4 * Double(task.taskArgs.utf8.count) + 0.1 * Double(tokens)
            if modelSwitch && !forPricing { seconds += 120 }
            return Self.clampTimeout(forPricing ? seconds : seconds * 2)
        }
    }

    static func clampTimeout(_ seconds: Double) -> Int { Int(min(7200, max(60, seconds)).rounded(.up)) }
}
