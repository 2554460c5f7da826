import BigInt
import CrynuxSDK
import Foundation

/// Matching queued tasks to nodes and distributing models.
extension RelayState {
    // MARK: Dispatch

    /// One matching round: queued tasks by priority (then creation order) each draw a node among those that
    /// qualify, weighted by stake, QoS and model locality. Returns the tasks started.
    @discardableResult
    public mutating func dispatch(now: Int64, limit: Int = 100) -> [String] {
        // No node free: nothing can start (and no draw is made), whatever the queue holds.
        guard tasks.queuedCount > 0, nodes.values.contains(where: \.hasFreeSlot) else { return [] }
        var started: [String] = []
        for commitment in tasks.queued(first: limit) {
            guard let task = tasks[commitment] else { continue }
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
            node.tasks.append(t.commitment)
            node.inUseModelIDs = [task.baseModel]
            tasks[t.commitment] = t
            nodes[node.address] = node
            emit("TaskStarted", node: node.address, task: t.commitment, now: now)
            started.append(t.commitment)
        }
        return started
    }

    /// A weighted random choice (docs/protocol.md §5.1): `S·Q/(S+Q)` with S = √(stake / max stake) and Q = long-term QoS/10 ×
    /// health, times 1.3 when the model is already loaded.
    mutating func pickWeighted(_ candidates: [RelayNode], model: String, now: Int64) -> Int {
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

    /// The model-distribution controller (docs/protocol.md §5.4), simplified: for each base model that queued tasks wait for,
    /// asks enough otherwise-qualified nodes to download it (one per waiting task, at most 10 holders and
    /// pending downloads together), by the dispatch weights, with a 30-minute deadline per request. Emits a
    /// `DownloadModel` event per request; returns the `(node, model)` pairs asked.
    @discardableResult
    public mutating func distributeModels(now: Int64) -> [(node: String, model: String)] {
        pendingDownloads = pendingDownloads.filter { $0.value > now }
        var asked: [(node: String, model: String)] = []
        guard tasks.queuedCount > 0 else { return [] }
        // Per model: how many tasks wait, and the oldest of them (the index keeps both at hand).
        for (model, queued) in tasks.queuedByModel.sorted(by: { $0.key < $1.key }) {
            guard let first = queued.first, let sample = tasks[first.commitment] else { continue }
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

    /// Whether `node` may run `task` now (the filters of docs/protocol.md §5.1).
    func qualifies(_ node: RelayNode, for task: RelayTask, now: Int64, ignoringModel: Bool = false) -> Bool {
        // A free slot: an available node, or a busy one that declared more slots than it runs (docs/slots.md).
        guard node.hasFreeSlot, !node.kickedOut, !isExcluded(node, now: now) else { return false }
        if task.requiredGPU.isEmpty {
            guard node.gpuVRAM >= task.minVRAM else { return false }
        } else {
            guard node.gpuName == task.requiredGPU, node.gpuVRAM == task.requiredGPUVRAM else { return false }
        }
        guard let v = Self.version(task.taskVersion), node.version.count == 3, node.version[0] == v[0],
            (node.version[1], node.version[2]) >= (v[1], v[2])
        else { return false }
        if task.taskType == .llm && node.isDarwin { return false }
        // Copies of one validation group never share a node at once, or a node with several slots could run a whole group and
        // agree with itself. The relay learns a group's task id only at validation; until then its copies are the tasks
        // of one creator with the same arguments (docs/slots.md).
        if node.tasks.contains(where: { held in tasks[held].map { $0.creator == task.creator && $0.taskArgs == task.taskArgs } ?? false }) {
            return false
        }
        return ignoringModel || node.modelIDs.contains(task.baseModel)
    }
}
