import CrynuxSDK
import EmbeddedNetwork
import Foundation
import NodeKit
import TestSupport
import Testing
@testable import Relay

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
        let network = try LocalNetwork.make(rate: 0)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("node-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try await network.run { running in
            let url = running.relayURL
            let creatorKey = PrivateKey.generate()
            let creator = RelayClient(baseURL: url, key: creatorKey)
            try await network.fund(creator.address)
            try await running.start(network.node(url, generator, dir: dir))
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
            #expect(try await creator.balance() == Wei(cnx: 95))
        }
    }
}

/// The embedded network's lifecycle: one `ServiceGroup`, shut down last-added first.
@Suite(.serialized) struct EmbeddedNetworkLifecycleTests {
    @Test func shuttingTheNetworkDownQuitsItsNodesBeforeTheRelayStops() async throws {
        let generator = try #require(EndToEndTests.generator, "the bundled model is needed (make test fetches it)")
        let network = try LocalNetwork.make(rate: 0)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("life-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let address = try await network.network.withRunning { running in
            let node = try await running.start(network.node(running.relayURL, generator, dir: dir))
            let address = await node.client.address
            #expect(try await network.service.read { $0.nodes[address]?.status } == .available)
            return address
        }
        #expect(try await network.service.read { $0.nodes[address]?.status } == .quit, "the node told the relay it quit while the relay still ran")
    }

    @Test func aRelayThatCannotListenFailsRelayURLInsteadOfHanging() async throws {
        var configuration = EmbeddedNetwork.Configuration()
        configuration.host = "203.0.113.1"  // TEST-NET-3: not an address of this machine
        let network = try EmbeddedNetwork(configuration)
        await #expect(throws: (any Error).self) { try await network.withRunning { _ in () } }
    }
}

/// A local network for a test: an embedded network (in-memory relay on a free loopback port, a clock the test
/// moves by hand, matching after every relay call as the relay does), nodes with the real engine, funded wallets.
struct LocalNetwork {
    let network: EmbeddedNetwork
    let clock: ManualRelayClock
    var service: RelayService { network.relay }

    static func make(rate: Int) throws -> LocalNetwork {
        var configuration = EmbeddedNetwork.Configuration()
        configuration.relay.validationRatePercent = rate
        configuration.seed = 11
        let clock = ManualRelayClock(Int64(Date().timeIntervalSince1970))
        configuration.clock = clock
        // Deadlines move only when a test moves the clock and ticks.
        configuration.tickInterval = .seconds(3600)
        return LocalNetwork(network: try EmbeddedNetwork(configuration), clock: clock)
    }

    /// Runs the relay for `body`; afterwards the nodes quit and the relay stops.
    func run(_ body: (EmbeddedNetwork.Running) async throws -> Void) async throws { try await network.withRunning(body) }

    func node(
        _ url: String, _ generator: TextGenerator, dir: String, slots: Int = 1, tamper: (@Sendable (GPTTaskResponse) -> GPTTaskResponse)? = nil
    ) -> NodeWorker {
        NodeWorker(
            client: RelayClient(baseURL: url, key: .generate()), engines: [BundledModel.modelID: generator],
            hardware: NodeHardware(gpuName: "CPU test+Linux", gpuVRAM: 24), dataDirectory: dir, pollInterval: .milliseconds(25), slots: slots,
            tamper: tamper)
    }

    /// A node serving `crynux-network/sdxl-turbo` through the gradient stand-in engine.
    func imageNode(_ url: String, dir: String) throws -> NodeWorker {
        NodeWorker(
            client: RelayClient(baseURL: url, key: .generate()), engines: ["base:crynux-network/sdxl-turbo": try #require(EndToEndTests.generator)],
            imageEngine: GradientImageEngine(), hardware: NodeHardware(gpuName: "CPU test+Linux", gpuVRAM: 24), dataDirectory: dir,
            pollInterval: .milliseconds(25))
    }

    func fund(_ address: String) async throws { try await network.fund(address, amount: Wei(cnx: 100)) }
}

@Suite(.serialized) struct ClientEndToEndTests {
    static let generator: TextGenerator? = EndToEndTests.generator
    static let question: [ChatMessage] = [.text(.user, "What is 2+2?")]
    static let answer = "The answer to this classic math problem is 4."

    func tempDir() -> String { FileManager.default.temporaryDirectory.appendingPathComponent("net-\(UUID().uuidString)").path }

    @Test func chatThroughTheClientWithProgressEvents() async throws {
        let generator = try #require(Self.generator)
        let network = try LocalNetwork.make(rate: 0)
        let dir = tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try await network.run { running in
            let url = running.relayURL
            try await running.start(network.node(url, generator, dir: dir))
            let app = CrynuxClient(relay: url, wallet: .generate(), validationRatePercent: 0)
            try await network.fund(app.address)
            let events = EventLog()
            let completion = try await app.chat(
                model: "HuggingFaceTB/SmolLM2-135M-Instruct", messages: Self.question, generation: GenerationConfig(maxNewTokens: 32),
                onEvent: { events.append($0) })
            #expect(completion.choices.first?.message.content == Self.answer)
            #expect(completion.json["object"]?.stringValue == "chat.completion")
            let seen = events.all
            #expect(seen.first.map { if case .created = $0 { true } else { false } } == true)
            #expect(seen.last.map { if case .downloaded = $0 { true } else { false } } == true)
            #expect(try await app.balance() == Wei(cnx: 95))
        }
    }

    @Test func aValidationGroupFormsOnOneGPUIdentityAndACheatIsInvalidated() async throws {
        let generator = try #require(Self.generator)
        let network = try LocalNetwork.make(rate: 100)
        let dir = tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try await network.run { running in
            let url = running.relayURL
            let honest = [network.node(url, generator, dir: dir + "/a"), network.node(url, generator, dir: dir + "/b")]
            let cheat = network.node(url, generator, dir: dir + "/c") { response in
                var r = response
                r.choices[0].message.content = "5"
                return r
            }
            for n in honest + [cheat] { try await running.start(n) }
            let app = CrynuxClient(relay: url, wallet: .generate(), validationRatePercent: 100)
            try await network.fund(app.address)
            let completion = try await app.chat(model: "HuggingFaceTB/SmolLM2-135M-Instruct", messages: Self.question, generation: GenerationConfig(maxNewTokens: 32))
            #expect(completion.choices.first?.message.content == Self.answer, "the client gets the honest answer")
            let tasks = try await network.service.allTasks()
            #expect(tasks.count == 3 && Set(tasks.compactMap(\.taskID)).count == 1, "one group of three sharing a task id")
            let cheatAddress = await cheat.client.address
            let cheatTask = try #require(tasks.first { $0.selectedNode == cheatAddress })
            #expect(cheatTask.status == .endInvalidated)
            #expect(try await network.service.read { $0.balance(of: cheatAddress) } == Wei(0), "no income for the cheat")
            // The first task is free to go anywhere; its two copies are pinned to the GPU identity it ran on.
            let pinned = tasks.filter { !$0.requiredGPU.isEmpty }
            #expect(pinned.count == 2 && pinned.allSatisfy { $0.requiredGPU == "CPU test+Linux" && $0.requiredGPUVRAM > 0 }, "\(tasks.map(\.requiredGPU))")
        }
    }

    @Test func validationGroupsWhoseCopiesRanInDifferentBatchMixesOnDifferentNodesAgree() async throws {
        // Three nodes, each with its own engine and three slots: every group's copies land on three different nodes,
        // each decoded beside other groups' tasks in whatever mix that node had at the moment.
        let engines = try (0..<3).map { _ in try TextGenerator(path: BundledModel.path, threads: 1) }
        let network = try LocalNetwork.make(rate: 100)
        let dir = tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let questions = ["What is 2+2?", "Name a primary colour.", "What is the capital of France?"]
        let configs = [GenerationConfig(maxNewTokens: 24), GenerationConfig(maxNewTokens: 12, doSample: true, temperature: 0.8, topP: 0.9), GenerationConfig(maxNewTokens: 18)]
        // Each answer alone, straight from an engine.
        var alone: [String] = []
        for (q, c) in zip(questions, configs) {
            let args = GPTTaskArgs(model: BundledModel.huggingFaceID, messages: [.text(.user, q)], generationConfig: c, seed: 3)
            alone.append(try engines[0].run(task: args).choices[0].message.content)
        }
        try await network.run { running in
            let url = running.relayURL
            let nodes = engines.enumerated().map { i, engine in network.node(url, engine, dir: dir + "/\(i)", slots: 3) }
            for n in nodes { try await running.start(n) }
            let app = CrynuxClient(relay: url, wallet: .generate(), validationRatePercent: 100)
            try await network.fund(app.address)
            let answers = try await withThrowingTaskGroup(of: (Int, String).self) { group in
                for i in questions.indices {
                    group.addTask {
                        let completion = try await app.chat(
                            model: "HuggingFaceTB/SmolLM2-135M-Instruct", messages: [.text(.user, questions[i])], generation: configs[i], seed: 3)
                        return (i, completion.choices.first?.message.content ?? "")
                    }
                }
                var out = [String](repeating: "", count: questions.count)
                for try await (i, text) in group { out[i] = text }
                return out
            }
            #expect(answers == alone, "each validated answer is the one the task gives alone")
            let tasks = try await network.service.allTasks()
            let groups = Dictionary(grouping: tasks) { $0.taskID ?? "" }
            #expect(groups.count == 3 && groups.values.allSatisfy { $0.count == 3 }, "three groups of three")
            #expect(tasks.filter { $0.status == .endGroupSuccess }.count == 3 && tasks.filter { $0.status == .endGroupRefund }.count == 6, "\(tasks.map(\.status))")
            for group in groups.values {
                #expect(Set(group.compactMap(\.selectedNode)).count == 3, "a group's copies ran on three different nodes")
            }
            let mixes = engines.map(\.passesWithSeveralRequests)
            #expect(mixes.filter { $0 > 0 }.count >= 2, "nodes decoded several tasks together: \(mixes)")
        }
    }

    /// Loses the first score a node sends (the connection drops before the relay sees it).
    final class LoseFirstScore: RelayTransport, @unchecked Sendable {
        // Guarded by `lock`.
        private let lock = NSLock()
        private var lost = 0
        let inner = HTTPClientTransport()
        var lostCount: Int { lock.withLock { lost } }
        func send(method: String, url: String, headers: [(String, String)], body: [UInt8]) async throws -> (status: Int, body: [UInt8]) {
            let drop = url.hasSuffix("/score") && lock.withLock { () -> Bool in
                defer { lost += 1 }
                return lost == 0
            }
            if drop { throw CancellationError() }
            return try await inner.send(method: method, url: url, headers: headers, body: body)
        }
    }

    @Test(.timeLimit(.minutes(1))) func aScoreLostOnTheWayIsSentAgainAndTheTaskCompletes() async throws {
        let generator = try #require(Self.generator)
        let network = try LocalNetwork.make(rate: 0)
        let dir = tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let transport = LoseFirstScore()
        try await network.run { running in
            let url = running.relayURL
            let node = NodeWorker(
                client: RelayClient(baseURL: url, key: .generate(), transport: transport), engines: [BundledModel.modelID: generator],
                hardware: NodeHardware(gpuName: "CPU test+Linux", gpuVRAM: 24), dataDirectory: dir, pollInterval: .milliseconds(25), slots: 2)
            try await running.start(node)
            let app = CrynuxClient(relay: url, wallet: .generate(), validationRatePercent: 0)
            try await network.fund(app.address)
            let completion = try await app.chat(model: "HuggingFaceTB/SmolLM2-135M-Instruct", messages: Self.question, generation: GenerationConfig(maxNewTokens: 32))
            #expect(completion.choices.first?.message.content == Self.answer)
            #expect(transport.lostCount == 2, "one score lost, the second one sent")
            #expect(await node.log.contains { $0.hasPrefix("scored") && $0.contains("again") })
        }
    }

    @Test func aDeadNodeTimesOutIsRefundedAndARepeatAnswers() async throws {
        let generator = try #require(Self.generator)
        let network = try LocalNetwork.make(rate: 0)
        let dir = tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try await network.run { running in
            let url = running.relayURL
            // A node that joins and then never answers (it died).
            let dead = RelayClient(baseURL: url, key: .generate())
            try await dead.join(gpuName: "CPU test+Linux", gpuVRAM: 16, modelIDs: [BundledModel.modelID], version: "3.5.0", staking: Wei(cnx: 400), network: "local")
            try await running.start(network.node(url, generator, dir: dir))
            let app = CrynuxClient(relay: url, wallet: .generate(), validationRatePercent: 0)
            try await network.fund(app.address)
            let completion = try await app.chat(
                model: "HuggingFaceTB/SmolLM2-135M-Instruct", messages: Self.question, generation: GenerationConfig(maxNewTokens: 32), repeats: 2)
            #expect(completion.choices.first?.message.content == Self.answer)
            // The dead node's task times out later: refunded in full.
            let deadTask = try #require(try await network.service.read { s in s.tasks.values.first { $0.selectedNode == dead.address } })
            network.clock.advance(Int64(deadTask.timeout) + 5)
            try await network.service.tick()
            let ended = try #require(try await network.service.read { state throws(RelayError) in try state.lookup(deadTask.commitment) })
            #expect(ended.status == .endAborted && ended.abortReason == .timeout)
            #expect(try await network.service.read { $0.balance(of: app.address) } == Wei(cnx: 95), "one fee paid, the dead attempt's refunded")
        }
    }
}

/// Collects events from a `@Sendable` callback.
final class EventLog: @unchecked Sendable {
    // Guarded by `lock`.
    private let lock = NSLock()
    private var events: [TaskEvent] = []
    func append(_ e: TaskEvent) { lock.withLock { events.append(e) } }
    var all: [TaskEvent] { lock.withLock { events } }
}

/// A stand-in for the image engine seam (no Stable Diffusion engine exists in this repository): it draws a
/// procedural PNG per requested image, so the image path of the protocol — pHash scores, PNG uploads the relay
/// re-hashes, downloads — runs end to end.
struct GradientImageEngine: ImageEngine {
    func generate(_ args: SDTaskArgs) async throws -> [[UInt8]] {
        let count = args.withDefaults().taskConfig.numImages ?? 1
        return try (0..<count).map { n in
            var pixels: [UInt8] = []
            for y in 0..<96 { for x in 0..<128 { pixels += [UInt8(x * 2), UInt8(y * 2), UInt8((x + y + n * 40) % 256)] } }
            return try PNGImage.encode(width: 128, height: 96, pixels: pixels, alpha: false)
        }
    }
}

@Suite(.serialized) struct ImageEndToEndTests {
    @Test func anImageTaskIsScoredByPHashVerifiedByTheRelayAndDownloaded() async throws {
        let network = try LocalNetwork.make(rate: 0)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("img-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try await network.run { running in
            let url = running.relayURL
            try await running.start(try network.imageNode(url, dir: dir))
            let app = CrynuxClient(relay: url, wallet: .generate(), validationRatePercent: 0)
            try await network.fund(app.address)
            var args = try SDTaskArgs(json: Array(#"{"base_model": "crynux-network/sdxl-turbo", "prompt": "a gradient", "task_config": {"num_images": 2, "steps": 1}}"#.utf8))
            args.taskConfig.seed = 1
            let images = try await app.generateImages(args, baseModel: "crynux-network/sdxl-turbo")
            #expect(images.count == 2)
            let expected = try await GradientImageEngine().generate(args)
            #expect(images == expected)
            let task = try #require(try await network.service.allTasks().first)
            let score = try PerceptionHash.score(pngs: expected)
            #expect(task.status == .endSuccess && task.score == score)
        }
    }
}

@Suite(.serialized) struct ResumeTests {
    @Test func aRunRecordedButStoppedBeforeTheRelayHadItsTaskCreatesItOnResume() async throws {
        let generator = try #require(EndToEndTests.generator)
        let network = try LocalNetwork.make(rate: 0)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("resume-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try await network.run { running in
            try await running.start(network.node(running.relayURL, generator, dir: dir))
            let wallet = PrivateKey.generate(), store = MemoryTaskStore()
            let args = GPTTaskArgs(model: BundledModel.huggingFaceID, messages: ClientEndToEndTests.question, generationConfig: GenerationConfig(maxNewTokens: 32))
            let request = TaskRequest(taskType: .llm, taskArgs: args.jsonString, modelIDs: [BundledModel.modelID], fee: Wei(cnx: 5))
            // What a client saves before its create call, as if the process stopped right after saving it.
            let identity = TaskIdentity.random()
            await store.save(ClientTaskState(
                id: "run-2", request: request,
                attempts: [.init(taskID: identity.taskIDHex, nonces: [identity.nonceHex], commitments: [identity.commitmentHex], failure: nil)],
                resultCommitment: nil))
            let client = CrynuxClient(relay: running.relayURL, wallet: wallet, store: store, validationRatePercent: 0)
            try await network.fund(client.address)
            let result = try await client.run(request, runID: "run-2")
            #expect(result.commitment == identity.commitmentHex, "the recorded commitment, created now")
            #expect(try await network.service.read { $0.sequenceNumber } == 1)
            #expect(try await client.balance() == Wei(cnx: 95))
        }
    }

    @Test func aRestartedClientResumesItsRunWithoutCreatingTasksTwice() async throws {
        let generator = try #require(EndToEndTests.generator)
        let network = try LocalNetwork.make(rate: 0)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("resume-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try await network.run { running in
            let url = running.relayURL
            let wallet = PrivateKey.generate()
            let store = MemoryTaskStore()
            let args = GPTTaskArgs(model: "HuggingFaceTB/SmolLM2-135M-Instruct", messages: ClientEndToEndTests.question, generationConfig: GenerationConfig(maxNewTokens: 32))
            let request = TaskRequest(taskType: .llm, taskArgs: args.jsonString, modelIDs: [BundledModel.modelID], fee: Wei(cnx: 5))
            // The first client creates the task and "crashes" before any node exists to run it.
            let first = CrynuxClient(relay: url, wallet: wallet, store: store, validationRatePercent: 0)
            try await network.fund(first.address)
            let created = EventLog()
            let run = Task { try await first.run(request, runID: "run-1") { created.append($0) } }
            for _ in 0..<200 where created.all.isEmpty { try await Task.sleep(for: .milliseconds(10)) }
            run.cancel()
            _ = try? await run.value
            #expect(try await network.service.read { $0.sequenceNumber } == 1)
            #expect(await store.load("run-1")?.attempts.first?.commitments.count == 1)
            // A node comes up; a new client with the same store and run id picks the run up.
            try await running.start(network.node(url, generator, dir: dir))
            let second = CrynuxClient(relay: url, wallet: wallet, store: store, validationRatePercent: 0)
            let result = try await second.run(request, runID: "run-1")
            let response = try JSONValueDecoder().decode(GPTTaskResponse.self, fromJSON: result.files[0])
            #expect(response.choices.first?.message.content == ClientEndToEndTests.answer)
            #expect(try await network.service.read { $0.sequenceNumber } == 1, "the resumed run followed the task it had created")
            #expect(await store.load("run-1")?.resultCommitment == result.commitment)
        }
    }
}
