import CrynuxSDK
import Foundation
import TestSupport
import Testing
@testable import Relay

/// A relay with one funded creator and helpers to drive tasks through it.
struct Harness {
    var relay: RelayState
    /// With a store, every `step` is one stored operation (finished tasks, ledger and events then live in the store).
    var store: RelayStore?
    let creatorKey = try! PrivateKey(hex: "0x420fcabfd5dbb55215490693062e6e530840c64de837d071f0d9da21aaac861e")
    var creator: String { creatorKey.address.checksummed }
    var now: Int64 = 1_700_000_000
    static let model = "base:huggingfacetb/smollm2-135m-instruct"
    static let args = #"{"model":"HuggingFaceTB/SmolLM2-135M-Instruct","messages":[{"role":"user","content":"hi"}]}"#
    static let fee = Wei(cnx: 5)

    init(rate: Int, seed: UInt64 = 1, stored: Bool = false, path: String? = nil) {
        var config = RelayConfig()
        config.validationRatePercent = rate
        if stored || path != nil {
            store = try! RelayStore(path: path)
            relay = try! store!.load(config: config, seed: seed)
        } else {
            relay = RelayState(config: config, seed: seed)
        }
        let (creator, now) = (creator, now)
        try! step { try $0.deposit(to: creator, amount: Wei(cnx: 100), now: now) }
    }

    /// Runs one operation: directly, or (with a store) as the relay service does: stored on success, put back on failure.
    @discardableResult
    mutating func step<T>(_ body: (inout RelayState) throws -> T) throws -> T {
        guard let store else { return try body(&relay) }
        relay.begin()
        do {
            let value = try body(&relay)
            try store.save(relay.changes())
            relay.end()
            return value
        } catch {
            relay.rollBack()
            throw error
        }
    }

    /// Every task, finished ones included.
    func allTasks() throws -> [RelayTask] { try store?.allTasks() ?? relay.tasks.values.sorted { $0.sequence < $1.sequence } }

    static func node(_ i: Int) -> String { String(format: "0x%040x", i) }

    mutating func join(_ i: Int, gpu: String = "NVIDIA GeForce RTX 4090+Linux", vram: Int = 24, stake: UInt64 = 400) throws {
        let now = now
        try step { try $0.join(Self.node(i), .init(gpuName: gpu, gpuVRAM: vram, modelIDs: [Self.model], version: "3.5.0", staking: Wei(cnx: stake)), now: now) }
    }

    mutating func create(_ identity: TaskIdentity, fee: Wei = Harness.fee, gpu: String = "", gpuVRAM: Int = 0, args: String = Harness.args) throws
        -> RelayTask
    {
        let (creator, now) = (creator, now)
        return try step {
            try $0.createTask(
                .init(commitment: "0x" + Hex.encode(identity.commitment), taskArgs: args, taskType: .llm, nonce: identity.nonceHex,
                      modelIDs: [Self.model], requiredGPU: gpu, requiredGPUVRAM: gpuVRAM, fee: fee),
                creator: creator, now: now)
        }
    }

    static func result(_ text: String) -> [UInt8] { Array(#"{"choices":[{"message":{"content":"\#(text)"}}]}"#.utf8) }

    mutating func score(_ c: String, _ text: String) throws {
        let node = try #require(try relay.lookup(c)?.selectedNode)
        let now = now
        try step { try $0.submitScore(c, score: try ResultScores.llm([Self.result(text)]), by: node, now: now) }
    }

    mutating func upload(_ c: String, _ text: String) throws {
        let node = try #require(try relay.lookup(c)?.selectedNode)
        let now = now
        try step { try $0.uploadResults(c, files: [Self.result(text)], by: node, now: now) { _, files in try ResultScores.llm(files) } }
    }

    mutating func validate(_ identities: [TaskIdentity]) throws {
        try validate(identities, key: creatorKey)
    }

    /// The creator holding `key` validates the unit `identities` (one task, or a group of three).
    mutating func validate(_ identities: [TaskIdentity], key: PrivateKey) throws {
        let commitments = identities.map { "0x" + Hex.encode($0.commitment) }
        let first = try commitments.compactMap { try relay.lookup($0) }.min { $0.sequence < $1.sequence }!
        let proof = try ECVRF.prove(key: key, alpha: first.samplingSeed)
        let now = now
        try step {
            try $0.validate(
                commitments: commitments, taskID: identities[0].taskIDHex, vrfProof: Hex.encode(proof.pi, prefix: true),
                publicKey: Hex.encode(key.publicKey.uncompressed.dropFirst(), prefix: true), by: key.address.checksummed, now: now)
        }
    }

    /// Σ balances + Σ escrow = Σ deposits, and each balance is the sum of its ledger rows (read from the store when
    /// there is one, together with its balances and escrow tables as a restart would read them).
    /// `full: false` skips the store's side (a cheap check for every step of a long walk).
    func checkMoney(full: Bool = true, sourceLocation: Testing.SourceLocation = #_sourceLocation) {
        let balances = relay.balances.values.reduce(Wei(0), +)
        let escrow = relay.escrow.values.reduce(Wei(0), +)
        #expect(balances + escrow == relay.totalDeposits, sourceLocation: sourceLocation)
        var ledger = relay.ledger
        if store != nil, !full { return }
        if let store {
            ledger = (try? store.ledger()) ?? []
            #expect(relay.ledger.isEmpty && ledger.map(\.id) == Array((0..<ledger.count).map { $0 + 1 }), sourceLocation: sourceLocation)
            let reloaded = try? store.load(config: relay.config, seed: 0)
            #expect(reloaded?.balances == relay.balances && reloaded?.escrow == relay.escrow, sourceLocation: sourceLocation)
        }
        var fromLedger: [String: (credit: Wei, debit: Wei)] = [:]
        for row in ledger {
            var entry = fromLedger[row.account] ?? (Wei(0), Wei(0))
            if row.kind == .taskPayment { entry.debit = entry.debit + row.amount } else { entry.credit = entry.credit + row.amount }
            fromLedger[row.account] = entry
        }
        for (account, balance) in relay.balances {
            let entry = fromLedger[account] ?? (Wei(0), Wei(0))
            #expect(entry.credit.subtracting(entry.debit) == balance, "ledger of \(account)", sourceLocation: sourceLocation)
        }
    }
}

@Suite struct LifecycleTests {
    @Test func aSingleTaskSucceedsAndTheNodeIsPaid() throws {
        var h = Harness(rate: 0)
        try h.join(1)
        let id = TaskIdentity.random()
        let task = try h.create(id)
        #expect(task.status == .queued && h.relay.balance(of: h.creator) == Wei(cnx: 95) && h.relay.escrow[task.commitment] == Harness.fee)
        h.now += 2
        #expect(h.relay.dispatch(now: h.now) == [task.commitment])
        let started = try #require(h.relay.tasks[task.commitment])
        #expect(started.status == .started && started.selectedNode == Harness.node(1) && started.timeout >= 60)
        #expect(try h.relay.currentTask(of: Harness.node(1)) == task.commitment && h.relay.nodes[Harness.node(1)]?.status == .busy)
        h.now += 5
        try h.score(task.commitment, "hello")
        h.now += 1
        try h.validate([id])
        #expect(h.relay.tasks[task.commitment]?.status == .validated)
        // A wrong file is refused; the right one settles the fee.
        #expect(throws: RelayError.self) { try h.upload(task.commitment, "something else") }
        try h.upload(task.commitment, "hello")
        #expect(h.relay.tasks[task.commitment]?.status == .endSuccess)
        #expect(h.relay.balance(of: Harness.node(1)) == Wei(cnx: 5).subtracting(Wei(decimal: "500000000000000000")!))  // 4.5 CNX
        #expect(h.relay.balance(of: h.relay.config.daoAccount) == Wei(decimal: "500000000000000000")!)
        #expect(h.relay.nodes[Harness.node(1)]?.status == .available && h.relay.escrow.isEmpty)
        #expect(h.relay.events.map(\.type) == ["NodeJoin", "TaskStarted", "TaskScoreReady", "TaskValidated", "TaskEndSuccess"])
        h.checkMoney()
    }

    mutating func groupOf3(_ h: inout Harness, answers: [String?], delays: [Int64] = [3, 5, 8]) throws -> [TaskIdentity] {
        for i in 1...3 { try h.join(i) }
        let first = TaskIdentity.random()
        let ids = [first, first.withFreshNonce(), first.withFreshNonce()]
        for id in ids { _ = try h.create(id) }
        h.now += 1
        #expect(h.relay.dispatch(now: h.now).count == 3)
        let start = h.now
        for (id, (answer, delay)) in zip(ids, zip(answers, delays)) {
            guard let answer else { continue }
            h.now = start + delay
            try h.score("0x" + Hex.encode(id.commitment), answer)
        }
        return ids
    }

    @Test func aValidationGroupSucceedsAndThePaymentIsSplitByRank() throws {
        var h = Harness(rate: 100)
        var me = self
        let ids = try me.groupOf3(&h, answers: ["4", "4", "4"])
        try h.validate(ids)
        let c = ids.map { "0x" + Hex.encode($0.commitment) }
        #expect(h.relay.tasks[c[0]]?.status == .groupValidated)
        #expect(h.relay.tasks[c[1]]?.status == .endGroupRefund && h.relay.tasks[c[2]]?.status == .endGroupRefund)
        try h.upload(c[0], "4")
        #expect(h.relay.tasks[c[0]]?.status == .endGroupSuccess)
        // The creator paid one fee; it was split 10:5:2 (less the DAO's 10%).
        #expect(h.relay.balance(of: h.creator) == Wei(cnx: 95))
        let paid = (1...3).map { h.relay.balance(of: h.relay.tasks[c[$0 - 1]]!.selectedNode!) }
        #expect(paid[0] > paid[1] && paid[1] > paid[2] && paid[2] > Wei(0))
        #expect(paid.reduce(Wei(0), +) + h.relay.balance(of: h.relay.config.daoAccount) == Harness.fee)
        #expect(h.relay.nodes.values.allSatisfy { $0.qosSamples.count == 1 })
        h.checkMoney()
    }

    @Test func oneWrongNodeIsInvalidatedEarnsNothingAndFacesASlash() throws {
        var h = Harness(rate: 100)
        var me = self
        let ids = try me.groupOf3(&h, answers: ["4", "five", "4"])
        try h.validate(ids)
        let c = ids.map { "0x" + Hex.encode($0.commitment) }
        let cheat = try #require(h.relay.tasks[c[1]])
        #expect(cheat.status == .endInvalidated)
        #expect(h.relay.nodes[cheat.selectedNode!]?.pendingSlash == true)
        try h.upload(c[0], "4")
        #expect(h.relay.balance(of: cheat.selectedNode!) == Wei(0))
        #expect(h.relay.tasks[c[2]]?.status == .endGroupRefund)
        // The honest nodes share the winning fee; the invalidated task's fee is kept, not refunded.
        #expect(h.relay.balance(of: h.creator) == Wei(cnx: 90))
        h.checkMoney()
    }

    @Test func twoFinishedMembersThatDisagreeAreBothAbortedAndRefunded() throws {
        var h = Harness(rate: 100)
        var me = self
        let ids = try me.groupOf3(&h, answers: ["a", "b", nil])
        let c = ids.map { "0x" + Hex.encode($0.commitment) }
        // The third times out (its execution timeout is about 6 minutes), before the other two's 10-minute
        // validation window closes.
        h.now += 400
        h.relay.expireDeadlines(now: h.now)
        #expect(h.relay.tasks[c[2]]?.status == .endAborted && h.relay.tasks[c[2]]?.abortReason == .timeout)
        #expect(h.relay.tasks[c[0]]?.status == .scoreReady)
        try h.validate(ids)
        #expect(h.relay.tasks[c[0]]?.abortReason == .incorrectResult && h.relay.tasks[c[1]]?.abortReason == .incorrectResult)
        #expect(h.relay.balance(of: h.creator) == Wei(cnx: 100))
        h.checkMoney()
    }

    @Test func everyTimedStateTimesOutAsTheRelayDoes() throws {
        var h = Harness(rate: 0)
        // Queued past 6 h with no node: refunded.
        let queued = try h.create(.random())
        h.relay.expireDeadlines(now: h.now + 21_601)
        #expect(h.relay.tasks[queued.commitment]?.abortReason == .timeout && h.relay.balance(of: h.creator) == Wei(cnx: 100))
        // Started past its timeout: refunded, the node's health drops.
        try h.join(1)
        let started = try h.create(.random())
        h.relay.dispatch(now: h.now)
        let timeout = Int64(try #require(h.relay.tasks[started.commitment]).timeout)
        h.relay.expireDeadlines(now: h.now + timeout + 1)
        #expect(h.relay.tasks[started.commitment]?.abortReason == .timeout)
        #expect(h.relay.nodes[Harness.node(1)]!.health < 1 && h.relay.nodes[Harness.node(1)]?.status == .available)
        // Score ready but never validated: the node is paid, nothing is refunded.
        h.now += timeout + 10
        let unvalidated = try h.create(.random())
        h.relay.dispatch(now: h.now)
        try h.score(unvalidated.commitment, "x")
        let before = h.relay.balance(of: Harness.node(1))
        h.relay.expireDeadlines(now: h.now + 601)
        #expect(h.relay.tasks[unvalidated.commitment]?.abortReason == .creatorValidationTimeout)
        #expect(h.relay.balance(of: Harness.node(1)) > before)
        // Validated but never uploaded: refunded, health drops again.
        h.now += 700
        let id = TaskIdentity.random()
        let unuploaded = try h.create(id)
        h.relay.dispatch(now: h.now)
        try h.score(unuploaded.commitment, "y")
        try h.validate([id])
        h.relay.expireDeadlines(now: h.now + 601)
        #expect(h.relay.tasks[unuploaded.commitment]?.abortReason == .resultUploadTimeout)
        #expect(h.relay.balance(of: h.creator) == Wei(cnx: 95))  // only the unvalidated task's fee was spent
        h.checkMoney()
    }

    @Test func theCreatorCancelsOnlyWhileQueued() throws {
        var h = Harness(rate: 0)
        let task = try h.create(.random())
        #expect(throws: RelayError.self) { try h.relay.cancel(task.commitment, by: Harness.node(9), now: h.now) }
        try h.relay.cancel(task.commitment, by: h.creator, now: h.now)
        #expect(h.relay.tasks[task.commitment]?.abortReason == .creatorCancelled && h.relay.balance(of: h.creator) == Wei(cnx: 100))
        try h.join(1)
        let running = try h.create(.random())
        h.relay.dispatch(now: h.now)
        #expect(throws: RelayError.self) { try h.relay.cancel(running.commitment, by: h.creator, now: h.now) }
        h.checkMoney()
    }

    @Test func aLowFeeWaitsBehindAHigherOne() throws {
        var h = Harness(rate: 0)
        try h.join(1)
        let cheap = try h.create(.random(), fee: Wei(cnx: 1))
        let dear = try h.create(.random(), fee: Wei(cnx: 9))
        #expect(h.relay.dispatch(now: h.now) == [dear.commitment])
        #expect(h.relay.tasks[cheap.commitment]?.status == .queued)
        #expect(throws: RelayError.self) { _ = try h.create(.random(), fee: Wei(cnx: 1000)) }  // more than the balance
    }

    @Test func nodesAreFilteredByHardwareVersionPlatformAndModel() throws {
        var h = Harness(rate: 0)
        try h.join(1, gpu: "Apple M2+Darwin", vram: 32)
        try h.join(2, gpu: "NVIDIA GeForce RTX 3060+Linux", vram: 12)
        let pinned = try h.create(.random(), gpu: "NVIDIA GeForce RTX 4090+Linux", gpuVRAM: 24)
        #expect(h.relay.dispatch(now: h.now).isEmpty)  // no 4090, and LLM never goes to Darwin
        try h.join(3)
        #expect(h.relay.dispatch(now: h.now) == [pinned.commitment] && h.relay.tasks[pinned.commitment]?.selectedNode == Harness.node(3))
        try h.relay.join(Harness.node(4), .init(gpuName: "NVIDIA GeForce RTX 4090+Linux", gpuVRAM: 24, modelIDs: ["base:other/model"], version: "3.5.0", staking: Wei(cnx: 400)), now: h.now)
        try h.relay.join(Harness.node(5), .init(gpuName: "NVIDIA GeForce RTX 4090+Linux", gpuVRAM: 24, modelIDs: [Harness.model], version: "2.9.0", staking: Wei(cnx: 400)), now: h.now)
        let other = try h.create(.random(), gpu: "NVIDIA GeForce RTX 4090+Linux", gpuVRAM: 24)
        #expect(h.relay.dispatch(now: h.now).isEmpty, "node 4 lacks the model, node 5 runs an older major version")
        try h.relay.modelDownloaded(Harness.node(4), model: Harness.model, now: h.now)
        #expect(h.relay.dispatch(now: h.now) == [other.commitment])
    }

    @Test func pauseResumeAndQuitWaitForTheCurrentTask() throws {
        var h = Harness(rate: 0)
        try h.join(1)
        let task = try h.create(.random())
        h.relay.dispatch(now: h.now)
        try h.relay.quit(Harness.node(1), now: h.now)
        #expect(h.relay.nodes[Harness.node(1)]?.status == .pendingQuit)
        try h.relay.reportError(task.commitment, by: Harness.node(1), now: h.now)
        h.relay.expireDeadlines(now: h.now + 601)
        #expect(h.relay.nodes[Harness.node(1)]?.status == .quit)
        try h.join(1)
        try h.relay.pause(Harness.node(1), now: h.now)
        #expect(h.relay.nodes[Harness.node(1)]?.status == .paused)
        let waiting = try h.create(.random())
        #expect(h.relay.dispatch(now: h.now).isEmpty, "a paused node is given nothing")
        try h.relay.resume(Harness.node(1), now: h.now)
        #expect(h.relay.nodes[Harness.node(1)]?.status == .available)
        #expect(h.relay.dispatch(now: h.now) == [waiting.commitment], "resumed, it takes the waiting task")
        // Paused while busy: it finishes its task first, then stays paused.
        try h.relay.pause(Harness.node(1), now: h.now)
        #expect(h.relay.nodes[Harness.node(1)]?.status == .pendingPause)
        try h.relay.reportError(waiting.commitment, by: Harness.node(1), now: h.now)
        h.relay.expireDeadlines(now: h.now + 601)
        #expect(h.relay.nodes[Harness.node(1)]?.status == .paused)
        _ = try h.create(.random())
        #expect(h.relay.dispatch(now: h.now + 601).isEmpty)
    }
}

@Suite struct ModelDistributionTests {
    @Test func queuedTasksForAMissingModelAskNodesToDownloadIt() throws {
        var h = Harness(rate: 0)
        for i in 1...3 {
            try h.relay.join(Harness.node(i), .init(gpuName: "NVIDIA GeForce RTX 4090+Linux", gpuVRAM: 24, modelIDs: ["base:other/model"], version: "3.5.0", staking: Wei(cnx: 400)), now: h.now)
        }
        let a = try h.create(.random())
        _ = try h.create(.random())
        #expect(h.relay.dispatch(now: h.now).isEmpty, "no node has the model: the tasks wait")
        let asked = h.relay.distributeModels(now: h.now)
        #expect(asked.count == 2 && Set(asked.map(\.model)) == [Harness.model])
        #expect(h.relay.events.filter { $0.type == "DownloadModel" }.count == 2)
        #expect(h.relay.distributeModels(now: h.now + 60).isEmpty, "pending downloads count toward the target")
        try h.relay.modelDownloaded(asked[0].node, model: Harness.model, now: h.now + 100)
        #expect(h.relay.dispatch(now: h.now + 100) == [a.commitment])
        // One task still waits and one node holds the model: enough. More tasks raise the target; the
        // download never reported within 30 minutes no longer counts as pending.
        #expect(h.relay.distributeModels(now: h.now + 1_900).isEmpty)
        _ = try h.create(.random())
        _ = try h.create(.random())
        #expect(h.relay.distributeModels(now: h.now + 1_900).count == 2)
    }
}

/// Image tasks: the relay recomputes each PNG's pHash on upload and compares groups by Hamming distance.
@Suite struct ImageTaskTests {
    static let sdArgs = #"{"base_model": "crynux-network/sdxl-turbo", "prompt": "circles", "task_config": {"image_width": 512, "image_height": 512, "steps": 1, "num_images": 1, "seed": 7}}"#
    static let model = "base:crynux-network/sdxl-turbo"

    static func png(_ name: String) throws -> [UInt8] {
        try SharedFixtures.bytes("phash/\(name).png")
    }

    mutating func sdGroup(_ h: inout Harness, images: [String]) throws -> [TaskIdentity] {
        for i in 1...3 {
            try h.relay.join(Harness.node(i), .init(gpuName: "NVIDIA GeForce RTX 4090+Linux", gpuVRAM: 24, modelIDs: [Self.model], version: "3.5.0", staking: Wei(cnx: 400)), now: h.now)
        }
        let first = TaskIdentity.random()
        let ids = [first, first.withFreshNonce(), first.withFreshNonce()]
        for id in ids {
            try h.relay.createTask(
                .init(commitment: "0x" + Hex.encode(id.commitment), taskArgs: Self.sdArgs, taskType: .sd, nonce: id.nonceHex, modelIDs: [Self.model], minVRAM: 8, fee: Wei(cnx: 2)),
                creator: h.creator, now: h.now)
        }
        h.relay.dispatch(now: h.now)
        for (i, (id, image)) in zip(ids, images).enumerated() {
            let c = "0x" + Hex.encode(id.commitment)
            try h.relay.submitScore(c, score: try ResultScores.images([try Self.png(image)]), by: h.relay.tasks[c]!.selectedNode!, now: h.now + Int64(10 + i))
        }
        return ids
    }

    @Test func nearlyEqualImagesValidateAndAWrongOneIsInvalidated() throws {
        var h = Harness(rate: 100)
        var me = self
        // A 2×1-pixel shift keeps the hash within the 24-bit threshold; stripes are far from circles.
        let ids = try me.sdGroup(&h, images: ["circles_320x240_rgb", "circles_320x240_rgb__shift2x1", "stripes_640x480_rgb"])
        try h.validate(ids)
        let c = ids.map { "0x" + Hex.encode($0.commitment) }
        #expect(h.relay.tasks[c[0]]?.status == .groupValidated)
        #expect(h.relay.tasks[c[1]]?.status == .endGroupRefund)
        #expect(h.relay.tasks[c[2]]?.status == .endInvalidated)
        // The upload must be the image that was scored: another PNG, or no PNG at all, is refused.
        let node = h.relay.tasks[c[0]]!.selectedNode!
        #expect(throws: RelayError.self) {
            try h.relay.uploadResults(c[0], files: [try Self.png("circles_64_rgb")], by: node, now: h.now + 20) { try ResultScores.score($0, $1) }
        }
        #expect(throws: RelayError.self) {
            try h.relay.uploadResults(c[0], files: [Array("not a png".utf8)], by: node, now: h.now + 20) { try ResultScores.score($0, $1) }
        }
        try h.relay.uploadResults(c[0], files: [try Self.png("circles_320x240_rgb")], by: node, now: h.now + 20) { try ResultScores.score($0, $1) }
        #expect(h.relay.tasks[c[0]]?.status == .endGroupSuccess)
        h.checkMoney()
    }
}
