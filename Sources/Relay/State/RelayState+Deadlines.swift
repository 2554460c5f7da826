import BigInt
import CrynuxSDK
import Foundation

/// Deadlines, how tasks end (settlement and refunds), QoS and health.
extension RelayState {
    // MARK: Deadlines

    /// Applies every deadline that has passed at `now` (docs/protocol.md §1.4). Returns the tasks it ended.
    @discardableResult
    public mutating func expireDeadlines(now: Int64) -> [String] {
        // A relay with a store (the service) runs every operation at the clock's time, so a second scan in the same
        // second finds nothing new; the bare state machine (tests, with times of their choosing) always scans.
        if history != nil {
            guard lastDeadlineScan != now else { return [] }
            lastDeadlineScan = now
        }
        var ended: [String] = []
        for task in tasks.values.filter({ !$0.status.isTerminal }).sorted(by: { $0.sequence < $1.sequence }) {
            switch task.status {
            case .queued:
                let limit = task.taskType == .sdFinetuneLora ? Self.adding(config.finetuneQueueGrace, Int64(task.timeout)) : config.queueTimeout
                if now > Self.adding(task.createTime, limit) { abort(task.commitment, .timeout, issuer: "", now: now) } else { continue }
            case .started, .parametersUploaded:
                if now > Self.adding(task.startTime ?? now, Int64(task.timeout)) {
                    if let n = task.selectedNode { penalise(n, now: now) }
                    abort(task.commitment, .timeout, issuer: "", now: now)
                } else { continue }
            case .scoreReady, .errorReported:
                if now > Self.adding(task.scoreReadyTime ?? now, config.validationTimeout) {
                    abort(task.commitment, .creatorValidationTimeout, issuer: "", now: now)
                } else { continue }
            case .validated, .groupValidated:
                if now > Self.adding(task.validatedTime ?? now, config.resultUploadTimeout) {
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

    mutating func abort(_ commitment: String, _ reason: AbortReason, issuer: String, now: Int64) {
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

    mutating func finish(_ commitment: String, _ status: TaskStatus, now: Int64, args: JSONValue = .object([])) {
        guard var task = tasks[commitment] else { return }
        task.status = status
        tasks[commitment] = task
        let names: [TaskStatus: String] = [
            .endAborted: "TaskEndAborted", .endSuccess: "TaskEndSuccess", .endGroupSuccess: "TaskEndGroupSuccess",
            .endGroupRefund: "TaskEndGroupRefund", .endInvalidated: "TaskEndInvalidated",
        ]
        emit(names[status] ?? "Task\(status)", node: task.selectedNode ?? "", task: commitment, now: now, args: args)
        // The slot is free again; the node's state moves on once it holds no task.
        if let address = task.selectedNode, var node = nodes[address], let slot = node.tasks.firstIndex(of: commitment) {
            node.tasks.remove(at: slot)
            if node.tasks.isEmpty {
                switch node.status {
                case .busy: node.status = .available
                case .pendingPause: node.status = .paused
                case .pendingQuit: node.status = .quit
                default: break
                }
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

    mutating func penalise(_ address: String, now: Int64) {
        guard var node = nodes[address] else { return }
        let h = currentHealth(node, now: now)
        node.health = h >= 0.99 ? h * 0.95 : h * 0.3
        node.healthTime = now
        if node.health < config.exclusionHealth { node.excluded = true }
        nodes[address] = node
    }

    mutating func recoverHealth(_ address: String, by amount: Double, now: Int64) {
        guard var node = nodes[address] else { return }
        node.health = min(1, currentHealth(node, now: now) + amount)
        node.healthTime = now
        if node.health >= config.readmissionHealth { node.excluded = false }
        nodes[address] = node
    }

    mutating func recordQoS(_ address: String, score: Int, now: Int64) {
        guard var node = nodes[address] else { return }
        node.qosSamples.append(score)
        if node.qosSamples.count > 50 { node.qosSamples.removeFirst(node.qosSamples.count - 50) }
        if node.qosSamples.count == 50, node.longTermQoS < 2 {
            node.kickedOut = true
            if node.tasks.isEmpty { node.status = .quit }
            emit("NodeKickedOut", node: address, task: "", now: now)
        }
        nodes[address] = node
    }

    mutating func slash(_ address: String, now: Int64) {
        guard var node = nodes[address] else { return }
        node.pendingSlash = true  // passive slash mode: recorded for the admin, stake untouched
        nodes[address] = node
        emit("NodeSlashed", node: address, task: "", now: now, args: .object([JSONMember("pending", .bool(true))]))
    }

    // MARK: Helpers

    mutating func emit(_ type: String, node: String, task: String, now: Int64, args: JSONValue = .object([])) {
        events.append(RelayEvent(id: eventBase + events.count + 1, type: type, nodeAddress: node, taskIDCommitment: task, args: args))
    }

    static func isHex32(_ s: String) -> Bool {
        s.count == 66 && s.hasPrefix("0x") && s.dropFirst(2).allSatisfy { ("0"..."9").contains($0) || ("a"..."f").contains($0) }
    }

    static func version(_ s: String) -> [Int]? {
        let parts = s.split(separator: ".", omittingEmptySubsequences: false).map { Int($0) }
        guard parts.count == 3, parts.allSatisfy({ ($0 ?? -1) >= 0 }) else { return nil }
        return parts.map { $0! }
    }

    /// `a + b`, saturating at the ends of Int64 (a deadline from stored or hostile numbers never traps).
    static func adding(_ a: Int64, _ b: Int64) -> Int64 {
        let (sum, overflow) = a.addingReportingOverflow(b)
        return overflow ? (b > 0 ? .max : .min) : sum
    }
}
