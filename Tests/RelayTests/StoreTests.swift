import CrynuxSDK
import Foundation
import Testing
@testable import Relay

/// The relay store as the relay's memory of history: what a restart reads back, and what stays on disk.
@Suite struct StoreTests {
    /// Task records carry times as Foundation's `ISO8601DateFormatter` writes them; ours is computed directly.
    @Test func recordTimesAreWhatISO8601DateFormatterWrites() {
        let formatter = ISO8601DateFormatter()
        var rng = SplitMix64(seed: 42)
        let edges: [Int64] = [0, -1, 1, 59, 86_399, 86_400, 951_782_400, 951_868_800, 1_700_000_000, 4_102_444_800, 253_402_300_799, -12_212_553_600]
        let random = (0..<5_000).map { _ in Int64(rng.next() % 253_402_300_799) - (Int64(rng.next() % 2) * 12_212_553_600) }
        for t in edges + random {
            #expect(API.iso8601(t) == formatter.string(from: Date(timeIntervalSince1970: TimeInterval(t))), "\(t)")
        }
        #expect(API.iso8601(.max) == "9999-12-31T23:59:59Z" && API.iso8601(.min) == "1583-01-01T00:00:00Z", "clamped, never a trap")
    }

    /// The row body written without `Codable` is the object `JSONEncoder` writes (sorted keys), and either reads back
    /// as the same task: rows written by earlier versions stay readable.
    @Test func aTaskRowIsTheJSONThatCodableWritesAndReadsBackEitherWay() throws {
        var h = Harness(rate: 0)
        try h.join(1)
        let id = TaskIdentity.random()
        let c = try h.create(id).commitment
        try h.step { [now = h.now] in $0.dispatch(now: now) }
        try h.score(c, "right")
        try h.validate([id])
        var task = try #require(h.relay.tasks[c])
        task.qosScore = 10
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        for t in [try h.create(TaskIdentity.random()), task] {
            let codable = String(decoding: try encoder.encode(t), as: UTF8.self)
            #expect(try JSONValue.parse(codable) == JSONValue.parse(t.storedJSON))
            #expect(try RelayTask(storedJSON: codable) == t && RelayTask(storedJSON: t.storedJSON) == t)
        }
        #expect(throws: (any Error).self) { try RelayTask(storedJSON: #"{"sequence":1}"#) }
    }

    /// 10^5 tasks of history (cancelled, timed out in the queue, completed), live work with pending deadlines of
    /// every kind, then a restart from the file. The restarted relay holds the same live work, balances, escrow,
    /// counters and random position, and from there the same future: the same deadlines fire at the same times
    /// with the same refunds and payments.
    @Test func aRelayRestartedOverALargeHistoryResumesDeadlinesAndBalancesExactly() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("relay-large-\(UUID().uuidString).sqlite").path
        defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) } }
        var h = Harness(rate: 0, seed: 11, path: path)
        let store = try #require(h.store)
        let keys = (1...20).map { try! PrivateKey(hex: String(format: "0x%064x", 5000 + $0)) }
        for key in keys { try h.step { [now = h.now] in try $0.deposit(to: key.address.checksummed, amount: Wei(cnx: 1_000_000), now: now) } }
        for i in 1...4 { try h.join(i) }

        // History: 100 batches of 1,000 creations, one transaction each; nine in ten are cancelled at once, and the
        // queue's deadline (6 h) ends the older survivors as the clock moves 20 minutes a batch.
        for batch in 0..<100 {
            h.now += 1_200
            let now = h.now
            let created: [String] = try h.step { state in
                var made: [String] = []
                for i in 0..<1_000 {
                    let id = TaskIdentity.random()
                    let task = try state.createTask(
                        .init(commitment: "0x" + Hex.encode(id.commitment), taskArgs: Harness.args, taskType: .llm, nonce: id.nonceHex,
                              modelIDs: [Harness.model], fee: Wei(cnx: UInt64(1 + (batch + i) % 7))),
                        creator: keys[i % keys.count].address.checksummed, now: now)
                    made.append(task.commitment)
                }
                return made
            }
            try h.step { state in
                for (i, c) in created.enumerated() where i % 10 != 0 {
                    try state.cancel(c, by: keys[i % keys.count].address.checksummed, now: now)
                }
                state.expireDeadlines(now: now)
            }
        }
        // Completed work: five rounds of four well-paid tasks (first in the queue), dispatched, scored, validated and uploaded.
        try h.step { [now = h.now, creator = h.creator] in try $0.deposit(to: creator, amount: Wei(cnx: 10_000), now: now) }
        for _ in 0..<5 {
            h.now += 10
            let round = (0..<4).map { _ in TaskIdentity.random() }
            for id in round { _ = try h.create(id, fee: Wei(cnx: 50)) }
            let started = try h.step { [now = h.now] in $0.dispatch(now: now) }
            #expect(Set(started) == Set(round.map { "0x" + Hex.encode($0.commitment) }))
            for id in round {
                let c = "0x" + Hex.encode(id.commitment)
                try h.score(c, "right")
                try h.validate([id])
                try h.upload(c, "right")
            }
        }
        // Live work with every kind of deadline: started (execution), scored (validation), queued (queue).
        h.now += 10
        let running = try h.step { [now = h.now] in $0.dispatch(now: now) }
        #expect(running.count == 4)
        h.now += 5
        try h.score(running[0], "right")
        try h.score(running[1], "right")

        let stored = try store.allTasks()
        #expect(stored.count >= 100_000)
        #expect(h.relay.tasks.count < 3_000, "memory holds live work only: \(h.relay.tasks.count) tasks")
        #expect(h.relay.ledger.isEmpty && h.relay.events.isEmpty)

        // Restart.
        let restarted = try RelayStore(path: path).load(config: h.relay.config, seed: 0)
        #expect(restarted.tasks == h.relay.tasks && restarted.nodes == h.relay.nodes)
        #expect(restarted.balances == h.relay.balances && restarted.escrow == h.relay.escrow && restarted.totalDeposits == h.relay.totalDeposits)
        #expect(restarted.tasks.statusCounts == h.relay.tasks.statusCounts)
        #expect(restarted.tasks.queuedInOrder == h.relay.tasks.queuedInOrder, "the same dispatch order")
        #expect(restarted.sequenceNumber == h.relay.sequenceNumber && restarted.randomState == h.relay.randomState)
        #expect(restarted.eventCount == h.relay.eventCount && restarted.ledgerBase == h.relay.ledgerBase)
        #expect(restarted.pendingDownloads == h.relay.pendingDownloads)
        let counted = Dictionary(grouping: stored, by: \.status).mapValues(\.count)
        #expect(restarted.tasks.statusCounts.filter { $0.value != 0 } == counted, "counts agree with the rows")

        // The same future on both: each deadline kind passes in turn.
        var before = h.relay
        var after = restarted
        var ended = 0
        for step in [Int64(30), 700, 1_500, 25_000] {
            let now = h.now + step
            let endedBefore = before.expireDeadlines(now: now)
            let endedAfter = after.expireDeadlines(now: now)
            ended += endedBefore.count
            #expect(endedBefore == endedAfter, "deadlines at +\(step) s")
            #expect(before.balances == after.balances && before.escrow == after.escrow)
            #expect(before.dispatch(now: now) == after.dispatch(now: now), "the same dispatch draws at +\(step) s")
            #expect(before.tasks == after.tasks && before.nodes == after.nodes && before.randomState == after.randomState)
        }
        #expect(ended > 1_000 && after.escrow.isEmpty, "every fee is settled or refunded: \(ended) tasks ended")
        #expect(after.tasks.values.allSatisfy { $0.status.isTerminal })

        // And stored, with every balance equal to its ledger rows.
        h.relay = restarted
        try h.step { [now = h.now + 30_000] in $0.expireDeadlines(now: now) }
        #expect(h.relay.tasks.count == 0 && h.relay.escrow.isEmpty)
        h.checkMoney()
    }
}
