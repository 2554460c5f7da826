import CrynuxSDK
import Foundation
import Hummingbird
import HummingbirdTesting
import NodeKit
import Testing
@testable import Relay

/// The bundled model, as `make test` provides it.
enum BundledModel {
    static let path: String = {
        let env = ProcessInfo.processInfo.environment
        if let p = env["CRYNUX_MODEL_PATH"] { return p }
        let base = env["CRYNUX_MODEL_DIR"] ?? ((env["XDG_DATA_HOME"] ?? (NSHomeDirectory() + "/.local/share")) + "/crynux/models")
        return base + "/SmolLM2-135M-Instruct.Q4_1.gguf"
    }()
    static let modelID = "base:huggingfacetb/smollm2-135m-instruct"
}

/// A relay on loopback (Hummingbird, real sockets), real nodes with the real engine, and an application,
/// all speaking HTTP with signatures.
@Suite(.serialized) struct EndToEndTests {
    static let generator: TextGenerator? = try? TextGenerator(path: BundledModel.path, threads: 1)
    static let args = #"{"model":"HuggingFaceTB/SmolLM2-135M-Instruct","messages":[{"role":"user","content":"What is 2+2?"}],"generation_config":{"max_new_tokens":32}}"#

    func poll(_ what: String, timeout: Duration = .seconds(60), _ condition: () async throws -> Bool) async throws {
        let clock = ContinuousClock()
        let start = clock.now
        while try await !condition() {
            guard clock.now - start < timeout else { throw FixtureTimeout(message: "timed out waiting for \(what)") }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    struct FixtureTimeout: Error { var message: String }

    @Test func aChatTaskTravelsRelayNodeAndBack() async throws {
        let generator = try #require(Self.generator, "the bundled model is needed (make test fetches it)")
        var config = RelayConfig()
        config.validationRatePercent = 0
        let service = try RelayService(store: RelayStore(path: nil), config: config, seed: 3, dataDirectory: nil)
        let app = Application(router: RelayHTTP.router(service: service, dev: true), configuration: .init(address: .hostname("127.0.0.1", port: 0)))
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("node-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try await app.test(.live) { client in
            let url = "http://127.0.0.1:\(try #require(client.port))"
            let creatorKey = PrivateKey.generate()
            let creator = RelayClient(baseURL: url, key: creatorKey)
            try await service.perform { state, now throws(RelayError) in try state.deposit(to: creator.address, amount: Wei(cnx: 50), now: now) }
            let node = NodeWorker(
                client: RelayClient(baseURL: url, key: .generate()), engines: [BundledModel.modelID: generator],
                hardware: NodeHardware(gpuName: "CPU test+Linux", gpuVRAM: 16), dataDirectory: dir, pollInterval: .milliseconds(50))
            let running = Task { try await node.run() }
            defer { running.cancel() }
            try await poll("the node to join") { try await service.read { !$0.nodes.isEmpty } }
            // Create, wait for the score, validate, wait for the upload, download.
            let identity = TaskIdentity.random()
            var new = RelayClient.NewTask(identity: identity, taskArgs: Self.args, taskType: .llm, modelIDs: [BundledModel.modelID], fee: Wei(cnx: 5))
            new.minVRAM = 1
            let created = try await creator.createTask(new)
            #expect(created.status == 1, "a free node starts the task at once")
            var record = created
            try await poll("the score") {
                record = try await creator.task(created.commitment)
                return record.status == 4
            }
            let proof = try ECVRF.prove(key: creatorKey, alpha: record.samplingSeed)
            try await creator.validate(commitments: [created.commitment], taskID: identity.taskIDHex, vrfProof: proof.pi)
            try await poll("the results") { try await creator.task(created.commitment).status == 8 }
            let file = try await creator.result(created.commitment, index: 0)
            let response = try JSONValueDecoder().decode(GPTTaskResponse.self, fromJSON: file)
            #expect(response.choices.first?.message.content == "The answer to this classic math problem is 4.")
            #expect(try ResultScores.llm([file]) == record.score, "the score is the SHA-256 of the uploaded file")
            #expect(try await creator.balance() == Wei(cnx: 45))
            await node.stop()
        }
    }
}
