import CrynuxSDK
import Foundation
import Testing
@testable import Relay

/// Thousands of random operations over several creators and nodes: whatever succeeds or fails, money is
/// never created or lost and every balance equals its ledger rows.
@Suite struct PropertyTests {
    struct Unit {
        var ids: [TaskIdentity]
        var creator: Int
        var commitments: [String] { ids.map { "0x" + Hex.encode($0.commitment) } }
    }

    /// Each seed runs twice: on the bare state machine, and as the relay service runs it, every operation stored
    /// in SQLite (put back when refused) with finished tasks, ledger and events leaving memory.
    @Test(arguments: [UInt64(1), 2, 3], [false, true])
    func moneyIsConservedUnderRandomOperations(seed: UInt64, stored: Bool) throws {
        var rng = SplitMix64(seed: seed &* 7919)
        func roll(_ n: Int) -> Int { Int(rng.next() % UInt64(n)) }
        var config = RelayConfig()
        config.validationRatePercent = 40
        var h = Harness(rate: 40, seed: seed, stored: stored)
        h.relay.config = config
        let keys = (1...4).map { try! PrivateKey(hex: String(format: "0x%064x", 1000 + $0)) }
        for key in keys { try h.step { [now = h.now] in try $0.deposit(to: key.address.checksummed, amount: Wei(cnx: 200), now: now) } }
        for i in 1...6 { try h.join(i, stake: UInt64(400 + 100 * i)) }
        var units: [Unit] = []
        var failures = 0
        for round in 0..<3000 {
            h.now += Int64(roll(10))
            let now = h.now
            do {
                switch roll(12) {
                case 0, 1:  // create one task, or a validation triple
                    let c = roll(keys.count)
                    let first = TaskIdentity.random()
                    let ids = roll(3) == 0 ? [first, first.withFreshNonce(), first.withFreshNonce()] : [first]
                    for id in ids {
                        let fee = Wei(cnx: UInt64(1 + roll(9)))
                        try h.step {
                            try $0.createTask(
                                .init(commitment: "0x" + Hex.encode(id.commitment), taskArgs: Harness.args, taskType: .llm, nonce: id.nonceHex,
                                      modelIDs: [Harness.model], fee: fee),
                                creator: keys[c].address.checksummed, now: now)
                        }
                    }
                    units.append(Unit(ids: ids, creator: c))
                case 2, 3:
                    try h.step { $0.dispatch(now: now) }
                case 4, 5:  // a node answers: usually right, sometimes wrong, sometimes an error report
                    guard let task = h.relay.tasks.values.filter({ $0.status == .started }).randomElement(using: &rng) else { continue }
                    if roll(8) == 0 {
                        try h.step { try $0.reportError(task.commitment, by: task.selectedNode!, now: now) }
                    } else {
                        try h.score(task.commitment, roll(6) == 0 ? "wrong" : "right")
                    }
                case 6, 7:  // the creator validates a unit whose members have answered (single or group, as it chose)
                    let ready = units.filter { u in
                        let statuses = u.commitments.compactMap { try? h.relay.lookup($0)?.status }
                        return statuses.contains { $0 == .scoreReady || $0 == .errorReported }
                    }
                    guard let unit = ready.randomElement(using: &rng) else { continue }
                    try h.validate(unit.ids, key: keys[unit.creator])
                case 8:  // a node uploads (right or wrong files)
                    guard let task = h.relay.tasks.values.filter({ [.validated, .groupValidated, .endInvalidated].contains($0.status) })
                        .randomElement(using: &rng)
                    else { continue }
                    try h.upload(task.commitment, roll(5) == 0 ? "wrong" : "right")
                case 9:
                    guard let unit = units.randomElement(using: &rng) else { continue }
                    try h.step { try $0.cancel(unit.commitments[0], by: keys[unit.creator].address.checksummed, now: now) }
                case 10:
                    h.now += Int64(roll(900))
                    try h.step { [now = h.now] in $0.expireDeadlines(now: now) }
                default:
                    let node = Harness.node(1 + roll(6))
                    switch roll(4) {
                    case 0: try h.step { try $0.pause(node, now: now) }
                    case 1: try h.step { try $0.resume(node, now: now) }
                    case 2: try h.step { try $0.quit(node, now: now) }
                    default: try h.join(1 + roll(6))
                    }
                }
            } catch {
                failures += 1
            }
            h.checkMoney(full: round % 100 == 99)
        }
        // Drain: every deadline passes; no fee stays in escrow forever.
        h.now += 100_000
        try h.step { [now = h.now] in $0.expireDeadlines(now: now) }
        h.now += 100_000
        try h.step { [now = h.now] in $0.expireDeadlines(now: now) }
        #expect(h.relay.escrow.isEmpty)
        let all = try h.allTasks()
        #expect(all.allSatisfy { $0.status.isTerminal })
        #expect(!stored || h.relay.tasks.count == 0, "with a store, no finished task stays in memory")
        h.checkMoney()
        let ended = Set(all.map(\.status))
        #expect(ended.contains(.endSuccess) && ended.contains(.endAborted), "the walk reached the main endings: \(ended)")
        #expect(failures < 3000)
    }
}
