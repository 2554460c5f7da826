import CrynuxSDK
import Foundation
import Testing
@testable import Relay

/// Result files on disk: staged, and moved into place only once an upload is accepted.
@Suite struct ResultFilesTests {
    static let good = Harness.result("4"), bad = Harness.result("5")

    @Test func aRefusedUploadWritesNothingAndAStrangerCannotDeleteAFinishedTasksResults() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("results-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var config = RelayConfig()
        config.validationRatePercent = 0
        let service = try RelayService(store: RelayStore(path: nil), config: config, clock: ManualRelayClock(1_700_000_000), seed: 1, dataDirectory: dir)
        let creatorKey = PrivateKey.generate(), creator = creatorKey.address.checksummed
        let node = Harness.node(1), stranger = Harness.node(2)
        try await service.perform { state, now throws(RelayError) in
            try state.deposit(to: creator, amount: Wei(cnx: 100), now: now)
            try state.join(node, .init(gpuName: "NVIDIA GeForce RTX 4090+Linux", gpuVRAM: 24, modelIDs: [Harness.model], version: "3.5.0", staking: Wei(cnx: 400)), now: now)
        }
        let identity = TaskIdentity.random(), c = identity.commitmentHex
        try await service.createTask(
            .init(commitment: c, taskArgs: Harness.args, taskType: .llm, nonce: identity.nonceHex, modelIDs: [Harness.model], fee: Wei(cnx: 5)),
            creator: creator)
        try await service.tick()
        let seed = try await service.read { state throws(RelayError) in try state.task(c, for: creator).samplingSeed }
        try await service.perform { state, now throws(RelayError) in
            try state.submitScore(c, score: try ResultScores.llm([Self.good]), by: node, now: now)
        }
        let proof = try ECVRF.prove(key: creatorKey, alpha: seed)
        try await service.perform { state, now throws(RelayError) in
            try state.validate(
                commitments: [c], taskID: identity.taskIDHex, vrfProof: Hex.encode(proof.pi, prefix: true),
                publicKey: Hex.encode(creatorKey.publicKey.uncompressed.dropFirst(), prefix: true), by: creator, now: now)
        }
        let taskFolder = dir + "/inference_tasks/" + c
        func folder() -> [String] { ((try? FileManager.default.contentsOfDirectory(atPath: taskFolder)) ?? []).sorted() }

        // Refused before the real upload: a stranger's files, then the node's with the wrong score. Nothing stays.
        await #expect(throws: RelayError.self) { try await service.uploadResults(c, files: [Self.good], by: stranger) }
        await #expect(throws: RelayError.self) { try await service.uploadResults(c, files: [Self.bad], by: node) }
        #expect(folder() == [], "no results and no staging left behind")

        // The node's upload is accepted: the file is in place, private to the relay's user.
        try await service.uploadResults(c, files: [Self.good], by: node)
        #expect(try await service.result(c, index: 0, for: creator) == Self.good)
        #expect(folder() == ["results"])
        let mode = try FileManager.default.attributesOfItem(atPath: taskFolder + "/results/0.json")[.posixPermissions] as? Int
        #expect(mode == 0o600)

        // A stranger's (or the node's second) upload after the task ended is refused and deletes nothing.
        await #expect(throws: RelayError.self) { try await service.uploadResults(c, files: [Self.bad], by: stranger) }
        await #expect(throws: RelayError.self) { try await service.uploadResults(c, files: [Self.bad], by: node) }
        #expect(try await service.result(c, index: 0, for: creator) == Self.good, "the creator still downloads the accepted result")
        #expect(folder() == ["results"])
    }
}
