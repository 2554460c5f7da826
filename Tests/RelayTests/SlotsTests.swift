import CrynuxSDK
import Foundation
import TestSupport
import Testing
@testable import Relay

/// Our `node_slots` extension (docs/slots.md): a node holds up to its declared slots, never more, and a node that
/// declared nothing holds one task at a time as the public protocol has it.
@Suite struct SlotsTests {
    /// Every node's held tasks are started tasks it was selected for, within its slots; every started task is held by
    /// exactly its node; and right after a dispatch, while tasks wait, no node that could take one has a free slot.
    func checkHolding(_ h: Harness, afterDispatch: Bool = false, sourceLocation: Testing.SourceLocation = #_sourceLocation) throws {
        var held: [String: String] = [:]
        for node in h.relay.nodes.values {
            #expect(node.tasks.count <= node.slots, "\(node.address) holds \(node.tasks.count) of \(node.slots)", sourceLocation: sourceLocation)
            for c in node.tasks {
                let task = try #require(try h.relay.lookup(c))
                #expect(task.selectedNode == node.address && (1...6).contains(task.status.rawValue), sourceLocation: sourceLocation)
                #expect(held.updateValue(node.address, forKey: c) == nil, "\(c) held twice", sourceLocation: sourceLocation)
            }
            if afterDispatch, h.relay.tasks.queuedCount > 0, node.status != .quit {
                #expect(!node.hasFreeSlot, "\(node.address) idles with \(node.tasks.count) of \(node.slots) while tasks wait", sourceLocation: sourceLocation)
            }
        }
        for task in h.relay.tasks.values where (1...6).contains(task.status.rawValue) {
            #expect(held[task.commitment] == task.selectedNode, "started \(task.commitment) is not held", sourceLocation: sourceLocation)
        }
    }

    @Test(arguments: [false, true]) func aNodeAtCapacityIsNeverDispatchedAnotherTask(stored: Bool) throws {
        var h = Harness(rate: 0, stored: stored)
        let (creator, start) = (h.creator, h.now)
        try h.step { try $0.deposit(to: creator, amount: Wei(cnx: 100_000), now: start) }
        // Node 1 declares nothing (one at a time); nodes 2–4 hold 2, 3 and 4.
        for i in 1...4 { try h.join(i) }
        for (i, slots) in [(2, 2), (3, 3), (4, 4)] {
            let now = h.now
            try h.step { try $0.declareSlots(Harness.node(i), slots: slots, now: now) }
        }
        var seed = SplitMix64(seed: stored ? 11 : 7)
        var identities: [String: TaskIdentity] = [:]
        var maxHeld = [Int: Int]()
        for round in 0..<250 {
            for _ in 0..<Int(seed.next() % 4) {
                let identity = TaskIdentity.random()
                let args = #"{"model":"HuggingFaceTB/SmolLM2-135M-Instruct","messages":[{"role":"user","content":"hi \#(identities.count)"}]}"#
                let task = try h.create(identity, args: args)
                identities[task.commitment] = identity
            }
            let now = h.now
            try h.step { $0.dispatch(now: now) }
            try checkHolding(h, afterDispatch: true)
            for i in 1...4 { maxHeld[i] = max(maxHeld[i] ?? 0, h.relay.nodes[Harness.node(i)]?.tasks.count ?? 0) }
            // Some held tasks move on: scored, validated and uploaded (the slot frees), or reported as errors.
            let running = h.relay.nodes.values.flatMap(\.tasks).sorted()
            for c in running where seed.next() % 3 == 0 {
                let task = try #require(try h.relay.lookup(c))
                switch task.status {
                case .started:
                    if seed.next() % 5 == 0 {
                        let node = try #require(task.selectedNode)
                        try h.step { try $0.reportError(c, by: node, now: now) }
                    } else {
                        try h.score(c, "ok")
                    }
                case .scoreReady: try h.validate([try #require(identities[c])])
                case .validated: try h.upload(c, "ok")
                case .errorReported: try h.validate([try #require(identities[c])])
                default: break
                }
            }
            try checkHolding(h)
            h.now += 1
            if round % 50 == 49 { try h.step { $0.expireDeadlines(now: now + 1) } }
        }
        #expect(maxHeld == [1: 1, 2: 2, 3: 3, 4: 4], "each node was filled to its slots and no further: \(maxHeld)")
        h.checkMoney()
    }

    @Test func copiesOfOneValidationGroupNeverShareANode() throws {
        var h = Harness(rate: 0)
        try h.join(1)
        let now = h.now
        try h.step { try $0.declareSlots(Harness.node(1), slots: 3, now: now) }
        // Three tasks of one creator with the same arguments: what a group's copies look like before validation names them.
        let copies = try (0..<3).map { _ in try h.create(.random()) }
        #expect(h.relay.dispatch(now: now) == [copies[0].commitment], "one copy at a time, though two slots are free")
        let other = try h.create(.random(), args: #"{"model":"HuggingFaceTB/SmolLM2-135M-Instruct","messages":[{"role":"user","content":"other"}]}"#)
        #expect(h.relay.dispatch(now: now) == [other.commitment], "other arguments share the node")
        try h.join(2)
        #expect(h.relay.dispatch(now: now) == [copies[1].commitment], "the next copy goes to another node")
    }

    @Test func slotsAreDeclaredWithinBoundsByJoinedNodesOnly() throws {
        var h = Harness(rate: 0)
        try h.join(1)
        #expect(throws: RelayError.self) { try h.relay.declareSlots(Harness.node(1), slots: 0, now: h.now) }
        #expect(throws: RelayError.self) { try h.relay.declareSlots(Harness.node(1), slots: RelayState.maxSlots + 1, now: h.now) }
        #expect(throws: RelayError.self) { try h.relay.declareSlots(Harness.node(2), slots: 2, now: h.now) }
        try h.relay.quit(Harness.node(1), now: h.now)
        #expect(throws: RelayError.self) { try h.relay.declareSlots(Harness.node(1), slots: 2, now: h.now) }
    }

    @Test func aNodeRecordWrittenBeforeSlotsReadsAsOneSlotHoldingItsTask() throws {
        var node = RelayNode(
            address: Harness.node(1), status: .busy, gpuName: "CPU test+Linux", gpuVRAM: 24, version: [3, 5, 0], modelIDs: [Harness.model],
            staking: Wei(cnx: 400), network: "local")
        node.tasks = ["0xabc"]
        node.slots = 3
        var object = try #require(try JSONSerialization.jsonObject(with: JSONEncoder().encode(node)) as? [String: Any])
        #expect(try JSONDecoder().decode(RelayNode.self, from: JSONEncoder().encode(node)) == node, "round trip")
        object["tasks"] = nil
        object["slots"] = nil
        object["currentTask"] = "0xabc"
        let legacy = try JSONDecoder().decode(RelayNode.self, from: JSONSerialization.data(withJSONObject: object))
        #expect(legacy.tasks == ["0xabc"] && legacy.slots == 1 && legacy.currentTask == "0xabc")
        object["currentTask"] = nil
        #expect(try JSONDecoder().decode(RelayNode.self, from: JSONSerialization.data(withJSONObject: object)).tasks.isEmpty)
    }
}
