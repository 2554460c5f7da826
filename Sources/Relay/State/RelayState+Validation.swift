import BigInt
import CrynuxSDK
import Foundation

/// What nodes do with their task (score, error, upload) and how the creator validates it, alone or in a group of three.
extension RelayState {
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

    func runningTask(_ commitment: String, node address: String) throws(RelayError) -> RelayTask {
        guard let task = try lookup(commitment) else { throw .notFound("Task not found") }
        guard task.selectedNode == address else { throw .forbidden("Signer not allowed") }
        guard task.status == .started || task.status == .parametersUploaded else { throw .validation("task_id_commitment", "Illegal task state") }
        return task
    }

    /// The node uploads its result files. `score(files)` recomputes the score as the node must have computed it
    /// (SHA-256 of `0.json` for LLM; the pHashes of the PNGs for SD), and a mismatch is refused.
    public mutating func uploadResults(
        _ commitment: String, files: [[UInt8]], by address: String, now: Int64, score: (TaskType, [[UInt8]]) throws -> String
    ) throws(RelayError) {
        guard var task = try load(commitment) else { throw .notFound("Task not found") }
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
            let members = try groupMembers(task.taskID ?? "").filter { $0.status == .groupValidated || $0.status == .endGroupRefund }
                .sorted { $0.sequence < $1.sequence }
            settle(commitment, shares: members.compactMap { m in m.selectedNode.map { ($0, m.qosScore ?? 0) } }, now: now)
            finish(commitment, .endGroupSuccess, now: now)
        default:
            break  // evidence only
        }
    }

    /// Pays a task's escrowed fee to nodes in proportion to `shares` (the last takes the remainder), each
    /// share less the DAO's percentage.
    mutating func settle(_ commitment: String, shares: [(String, Int)], now: Int64) {
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
            guard let task = try load(c) else { throw .notFound("Task not found") }
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

    mutating func validateGroup(_ members: [RelayTask], now: Int64) {
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
}
