import CrynuxSDK
import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
@testable import Relay

/// The relay over HTTP (Hummingbird's in-process test client): envelopes, signatures, forms, multipart.
@Suite struct HTTPTests {
    static let start: Int64 = 1_800_000_000
    let creatorKey = try! PrivateKey(hex: "0x420fcabfd5dbb55215490693062e6e530840c64de837d071f0d9da21aaac861e")
    let nodeKey = try! PrivateKey(hex: "0x" + String(repeating: "17", count: 32))

    func makeService(clock: ManualRelayClock, store: RelayStore? = nil, rate: Int = 0) throws -> RelayService {
        var config = RelayConfig()
        config.validationRatePercent = rate
        return try RelayService(store: store ?? RelayStore(path: nil), config: config, clock: clock, seed: 9, dataDirectory: nil)
    }

    static func body(_ s: String) -> ByteBuffer { ByteBuffer(string: s) }
    static func text(_ b: ByteBuffer) -> String { String(buffer: b) }
    static func json(_ b: ByteBuffer) -> JSONValue { (try? JSONValue.parse(Array(b.readableBytesView))) ?? .null }

    func form(_ pairs: [(String, String)]) -> String {
        let allowed = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "-._~"))
        return pairs.map { "\($0.0)=\($0.1.addingPercentEncoding(withAllowedCharacters: allowed)!)" }.joined(separator: "&")
    }

    func signed(_ key: PrivateKey, _ input: JSONValue, at time: Int64) -> (String, String) {
        (String(time), RelaySigner(key: key).signature(for: input, timestamp: time))
    }

    @Test func aTaskTravelsTheWholeAPI() async throws {
        let clock = ManualRelayClock(Self.start)
        let service = try makeService(clock: clock)
        let app = Application(router: RelayHTTP.router(service: service, dev: true))
        let creator = creatorKey.address.checksummed, node = nodeKey.address.checksummed
        let identity = TaskIdentity.random()
        let commitment = "0x" + Hex.encode(identity.commitment)
        let args = #"{"model":"HuggingFaceTB/SmolLM2-135M-Instruct","messages":[{"role":"user","content":"a < b & c"}]}"#
        let result = Array(#"{"choices":[]}"#.utf8)
        try await app.test(.router) { client in
            try await client.execute(uri: "/v1/now", method: .get) { r in
                #expect(Self.json(r.body)["data"]?["now"]?.doubleValue == Double(Self.start))
            }
            // Faucet (dev only), then the balance, signed by its owner.
            try await client.execute(
                uri: "/v1/dev/faucet", method: .post, headers: [.contentType: "application/json"],
                body: Self.body(#"{"address":"\#(creator.lowercased())","amount":"20000000000000000000"}"#)
            ) { r in #expect(r.status == .ok) }
            let (ts, sig) = signed(creatorKey, .object([JSONMember("address", .string(creator))]), at: Self.start)
            try await client.execute(uri: "/v2/relay_account/\(creator)/balance?timestamp=\(ts)&signature=\(sig)", method: .get) { r in
                #expect(Self.json(r.body)["data"]?.stringValue == "20000000000000000000")
            }
            // The node joins.
            let joinInput: JSONValue = .object([
                JSONMember("address", .string(node)), JSONMember("gpu_name", .string("NVIDIA GeForce RTX 4090+Linux")),
                JSONMember("gpu_vram", .integer(24)), JSONMember("model_ids", .array([.string("base:HuggingFaceTB/SmolLM2-135M-Instruct")])),
                JSONMember("network", .string("dymension")), JSONMember("staking", .string("400000000000000000000")),
                JSONMember("version", .string("3.5.0")),
            ])
            var joinBody = joinInput
            let (jts, jsig) = signed(nodeKey, joinInput, at: Self.start)
            if case .object(var m) = joinBody {
                m.append(JSONMember("timestamp", .integer(Int(jts)!)))
                m.append(JSONMember("signature", .string(jsig)))
                joinBody = .object(m)
            }
            try await client.execute(uri: "/v2/node/\(node)/join", method: .post, headers: [.contentType: "application/json"], body: Self.body(joinBody.compactText)) { r in
                #expect(r.status == .ok, "\(Self.text(r.body))")
            }
            // Create the task: form-encoded, repeated task_model_ids, signed by the creator.
            let fields: [(String, JSONValue)] = [
                ("task_id_commitment", .string(commitment)), ("task_args", .string(args)), ("task_type", .integer(1)),
                ("nonce", .string(identity.nonceHex)), ("task_model_ids", .array([.string("base:HuggingFaceTB/SmolLM2-135M-Instruct")])),
                ("min_vram", .integer(0)), ("required_gpu", .string("")), ("required_gpu_vram", .integer(0)), ("task_version", .string("3.1.0")),
                ("task_size", .integer(1)), ("task_fee", .string("5000000000000000000")),
            ]
            let createInput = JSONValue.object(fields.map { JSONMember($0.0, $0.1) })
            let (cts, csig) = signed(creatorKey, createInput, at: Self.start)
            var pairs: [(String, String)] = [
                ("task_args", args), ("task_type", "1"), ("nonce", identity.nonceHex), ("task_model_ids", "base:HuggingFaceTB/SmolLM2-135M-Instruct"),
                ("min_vram", "0"), ("required_gpu", ""), ("required_gpu_vram", "0"), ("task_version", "3.1.0"), ("task_size", "1"),
                ("task_fee", "5000000000000000000"), ("timestamp", cts), ("signature", csig),
            ]
            let formHeaders: HTTPFields = [.contentType: "application/x-www-form-urlencoded"]
            // A tampered field or a stale timestamp is refused with the relay's error shape.
            var tampered = pairs
            tampered[9] = ("task_fee", "1")
            try await client.execute(uri: "/v1/inference_tasks/\(commitment)", method: .post, headers: formHeaders, body: Self.body(form(tampered))) { r in
                #expect(r.status == .badRequest)
                #expect(Self.json(r.body)["message"]?.stringValue == "validation_error")
            }
            clock.advance(61)
            try await client.execute(uri: "/v1/inference_tasks/\(commitment)", method: .post, headers: formHeaders, body: Self.body(form(pairs))) { r in
                #expect(Self.json(r.body)["data"]?["field_name"]?.stringValue == "timestamp")
            }
            let (cts2, csig2) = signed(creatorKey, createInput, at: Self.start + 61)
            pairs[10] = ("timestamp", cts2)
            pairs[11] = ("signature", csig2)
            try await client.execute(uri: "/v1/inference_tasks/\(commitment)", method: .post, headers: formHeaders, body: Self.body(form(pairs))) { r in
                #expect(r.status == .ok, "\(Self.text(r.body))")
                let record = Self.json(r.body)["data"]
                #expect(record?["status"]?.doubleValue == 1 && record?["selected_node"]?.stringValue == node, "dispatched at once")
                #expect(record?["creator"]?.stringValue == creator)
            }
            // The node sees its task and submits the score.
            try await client.execute(uri: "/v1/node/\(node)/task", method: .get) { r in #expect(Self.json(r.body)["data"]?.stringValue == commitment) }
            let score = try ResultScores.llm([result])
            let scoreInput: JSONValue = .object([JSONMember("score", .string(score)), JSONMember("task_id_commitment", .string(commitment))])
            let (sts, ssig) = signed(nodeKey, scoreInput, at: Self.start + 62)
            clock.advance(1)
            try await client.execute(
                uri: "/v1/inference_tasks/\(commitment)/score", method: .post, headers: [.contentType: "application/json"],
                body: Self.body(#"{"score":"\#(score)","task_id_commitment":"\#(commitment)","timestamp":\#(sts),"signature":"\#(ssig)"}"#)
            ) { r in #expect(r.status == .ok, "\(Self.text(r.body))") }
            // Someone else cannot read the task.
            let stranger = try PrivateKey(hex: "0x" + String(repeating: "29", count: 32))
            let (gts, gsig) = signed(stranger, .object([JSONMember("task_id_commitment", .string(commitment))]), at: Self.start + 62)
            try await client.execute(uri: "/v1/inference_tasks/\(commitment)?timestamp=\(gts)&signature=\(gsig)", method: .get) { r in
                #expect(r.status == .forbidden)
            }
            // Validate (single), signed JSON.
            let seed = try #require(try await service.read { $0.tasks[commitment]?.samplingSeed })
            let proof = try ECVRF.prove(key: creatorKey, alpha: seed)
            let validateInput: JSONValue = .object([
                JSONMember("public_key", .string(Hex.encode(creatorKey.publicKey.uncompressed.dropFirst(), prefix: true))),
                JSONMember("task_id", .string(identity.taskIDHex)), JSONMember("task_id_commitments", .array([.string(commitment)])),
                JSONMember("vrf_proof", .string(Hex.encode(proof.pi, prefix: true))),
            ])
            let (vts, vsig) = signed(creatorKey, validateInput, at: Self.start + 62)
            guard case .object(var vm) = validateInput else { return }
            vm.append(JSONMember("timestamp", .integer(Int(vts)!)))
            vm.append(JSONMember("signature", .string(vsig)))
            try await client.execute(
                uri: "/v1/inference_tasks/validate", method: .post, headers: [.contentType: "application/json"], body: Self.body(JSONValue.object(vm).compactText)
            ) { r in #expect(r.status == .ok, "\(Self.text(r.body))") }
            // Results not there yet.
            let (rts, rsig) = signed(creatorKey, .object([JSONMember("index", .string("0")), JSONMember("task_id_commitment", .string(commitment))]), at: Self.start + 62)
            try await client.execute(uri: "/v1/inference_tasks/\(commitment)/results/0?timestamp=\(rts)&signature=\(rsig)", method: .get) { r in
                #expect(r.status == .badRequest)
            }
            // Upload as multipart with repeated `files`.
            let (uts, usig) = signed(nodeKey, .object([JSONMember("task_id_commitment", .string(commitment))]), at: Self.start + 62)
            let boundary = "crynux-boundary-42"
            var multipart = Array("--\(boundary)\r\nContent-Disposition: form-data; name=\"timestamp\"\r\n\r\n\(uts)\r\n".utf8)
            multipart += Array("--\(boundary)\r\nContent-Disposition: form-data; name=\"signature\"\r\n\r\n\(usig)\r\n".utf8)
            multipart += Array("--\(boundary)\r\nContent-Disposition: form-data; name=\"files\"; filename=\"0.json\"\r\nContent-Type: application/json\r\n\r\n".utf8)
            multipart += result + Array("\r\n--\(boundary)--\r\n".utf8)
            try await client.execute(
                uri: "/v1/inference_tasks/\(commitment)/results", method: .post, headers: [.contentType: "multipart/form-data; boundary=\(boundary)"],
                body: ByteBuffer(bytes: multipart)
            ) { r in #expect(r.status == .ok, "\(Self.text(r.body))") }
            try await client.execute(uri: "/v1/inference_tasks/\(commitment)/results/0?timestamp=\(rts)&signature=\(rsig)", method: .get) { r in
                #expect(r.status == .ok && Array(r.body.readableBytesView) == result)
            }
            try await client.execute(uri: "/v1/events?start=1&task_id_commitment=\(commitment)", method: .get) { r in
                guard case .array(let events)? = Self.json(r.body)["data"] else { Issue.record("no events"); return }
                #expect(events.compactMap { $0["type"]?.stringValue } == ["TaskStarted", "TaskScoreReady", "TaskValidated", "TaskEndSuccess"])
            }
        }
    }

    @Test func badRequestsGetTheRelayErrorShapes() async throws {
        let clock = ManualRelayClock(Self.start)
        let app = Application(router: RelayHTTP.router(service: try makeService(clock: clock), dev: false))
        try await app.test(.router) { client in
            // No faucet without --dev.
            try await client.execute(uri: "/v1/dev/faucet", method: .post, body: Self.body("{}")) { r in #expect(r.status == .notFound) }
            // Unsigned.
            try await client.execute(uri: "/v1/inference_tasks/0x12", method: .get) { r in
                #expect(r.status == .badRequest && Self.json(r.body)["data"]?["field_name"]?.stringValue == "timestamp")
            }
            // Signed by the wrong key for the path's address.
            let (ts, sig) = signed(creatorKey, .object([JSONMember("address", .string(nodeKey.address.checksummed))]), at: Self.start)
            try await client.execute(uri: "/v2/relay_account/\(nodeKey.address.checksummed)/balance?timestamp=\(ts)&signature=\(sig)", method: .get) { r in
                #expect(Self.json(r.body)["data"]?["field_name"]?.stringValue == "signature")
            }
            // Malformed JSON, an unknown node, a body over 32 MiB.
            try await client.execute(uri: "/v1/inference_tasks/validate", method: .post, headers: [.contentType: "application/json"], body: Self.body("{nope")) { r in
                #expect(r.status == .badRequest)
            }
            try await client.execute(uri: "/v1/node/0x0000000000000000000000000000000000000001", method: .get) { r in #expect(r.status == .notFound) }
            try await client.execute(
                uri: "/v1/inference_tasks/validate", method: .post, headers: [.contentType: "application/json"],
                body: ByteBuffer(repeating: UInt8(ascii: " "), count: (32 << 20) + 1)
            ) { r in #expect(r.status == .contentTooLarge) }
        }
    }

    @Test func aRestartedRelayKeepsEveryTaskBalanceAndDeadline() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("relay-\(UUID().uuidString).sqlite").path
        defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) } }
        // The harness's operations, each stored in one transaction as the service does.
        var h = Harness(rate: 0, seed: 5, path: path)
        let store = try #require(h.store)
        try h.join(1)
        var created: [String] = []
        for _ in 0..<3 { created.append(try h.create(TaskIdentity.random()).commitment) }
        try h.step { [now = h.now] in $0.dispatch(now: now + 1) }
        let queued = try #require(created.first { h.relay.tasks[$0]?.status == .queued })
        try h.step { [now = h.now, creator = h.creator] in try $0.cancel(queued, by: creator, now: now + 2) }
        #expect(h.relay.tasks[queued] == nil, "the cancelled task left memory")
        // "Kill" the relay: open the file again from nothing.
        let reopened = try RelayStore(path: path).load(config: h.relay.config, seed: 999)
        #expect(reopened.tasks == h.relay.tasks && reopened.nodes == h.relay.nodes)
        #expect(reopened.balances == h.relay.balances && reopened.escrow == h.relay.escrow && reopened.totalDeposits == h.relay.totalDeposits)
        #expect(reopened.tasks.statusCounts == h.relay.tasks.statusCounts && reopened.tasks.statusCounts[.endAborted] == 1)
        #expect(reopened.eventCount == h.relay.eventCount && reopened.ledgerBase == h.relay.ledgerBase)
        #expect(reopened.sequenceNumber == h.relay.sequenceNumber && reopened.randomState == h.relay.randomState)
        #expect(try reopened.lookup(queued)?.abortReason == .creatorCancelled, "a finished task is read back from the store")
        // Deadlines still fire after the restart.
        h.relay = reopened
        try h.step { [now = h.now] in $0.expireDeadlines(now: now + 30_000) }
        #expect(try h.allTasks().allSatisfy { $0.status.isTerminal } && h.relay.tasks.count == 0)
        h.checkMoney()
        // The ledger table refuses edits.
        #expect(throws: (any Error).self) { try store.queue.write { try $0.execute(sql: "UPDATE ledger SET amount = '1'") } }
    }
}
