import CrynuxSDK
import Foundation
import Hummingbird
import NodeKit
import Relay

/// `crynux bench network`: the time from `CrynuxClient.run` to the result for a 1-token chat on a local network
/// (relay on loopback with real sockets, one node with the real engine), split into inference (the engine alone,
/// same task, same process) and everything else (HTTP, signatures, SQLite-free relay state, polling).
enum NetworkBenchmark {
    struct Figures {
        var totalMedian: Double
        var totalP90: Double
        var inferenceMedian: Double
        var runs: Int
        var nodePoll: Duration
        var clientPoll: Duration
    }

    static func run(modelPath: String, runs: Int, nodePoll: Duration, clientPoll: Duration) async throws -> Figures {
        let generator = try TextGenerator(path: modelPath, threads: 1)
        var config = RelayConfig()
        config.validationRatePercent = 0
        let service = try RelayService(store: RelayStore(path: nil), config: config, seed: 1, dataDirectory: nil)
        let router = RelayHTTP.router(service: service, dev: true)
        let port = Int.random(in: 20_000...40_000)
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: port)))
        let server = Task { try await app.runService() }
        defer { server.cancel() }
        let url = "http://127.0.0.1:\(port)"
        for _ in 0..<100 {
            if (try? await HTTPClientTransport(timeout: 1).send(method: "GET", url: url + "/v1/now", headers: [], body: [])) != nil { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("bench-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let node = NodeWorker(
            client: RelayClient(baseURL: url, key: .generate()), engines: ["base:huggingfacetb/smollm2-135m-instruct": generator],
            hardware: NodeHardware(gpuName: "CPU bench+Linux", gpuVRAM: 16), dataDirectory: dir, pollInterval: nodePoll)
        let serving = Task { try await node.run() }
        defer { serving.cancel() }
        let client = CrynuxClient(relay: url, wallet: .generate(), validationRatePercent: 0, pollRange: (clientPoll, clientPoll * 2))
        _ = try await service.perform { state, now throws(RelayError) in try state.deposit(to: client.address, amount: Wei(cnx: 100_000), now: now) }
        let messages: [ChatMessage] = [.text(.user, "What is 2+2?")]
        let generation = GenerationConfig(maxNewTokens: 1)
        let clock = ContinuousClock()
        func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18 }
        // Warm-up (the node joins, first allocations), then the measured runs.
        _ = try await client.chat(model: "HuggingFaceTB/SmolLM2-135M-Instruct", messages: messages, generation: generation)
        var totals: [Double] = []
        for _ in 0..<runs {
            let start = clock.now
            _ = try await client.chat(model: "HuggingFaceTB/SmolLM2-135M-Instruct", messages: messages, generation: generation)
            totals.append(seconds(clock.now - start))
        }
        await node.stop()
        var task = GPTTaskArgs(model: "HuggingFaceTB/SmolLM2-135M-Instruct", messages: messages, generationConfig: generation)
        task.seed = 0
        var inference: [Double] = []
        for _ in 0..<runs {
            let start = clock.now
            _ = try generator.run(task: task)
            inference.append(seconds(clock.now - start))
        }
        totals.sort()
        inference.sort()
        return Figures(
            totalMedian: totals[totals.count / 2], totalP90: totals[min(totals.count - 1, totals.count * 9 / 10)],
            inferenceMedian: inference[inference.count / 2], runs: runs, nodePoll: nodePoll, clientPoll: clientPoll)
    }

    /// Sequential 1-token chats through `CrynuxClient` against an external relay (validation rate 0, as the
    /// benchmark's relay runs), with the client's default polling, as the Bridge's own client uses it.
    static func client(relay: String, key: PrivateKey, model: String, message: String, count: Int, warmup: Int) async throws -> [Double] {
        let client = CrynuxClient(relay: relay, wallet: key, validationRatePercent: 0)
        let messages: [ChatMessage] = [.text(.user, message)]
        let generation = GenerationConfig(maxNewTokens: 1)
        let clock = ContinuousClock()
        var times: [Double] = []
        for i in 0..<(warmup + count) {
            let start = clock.now
            _ = try await client.chat(model: model, messages: messages, generation: generation)
            let d = clock.now - start
            if i >= warmup { times.append(Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18) }
        }
        return times
    }
}
