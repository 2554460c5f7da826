import CrynuxSDK
import Foundation
import NodeKit
import Relay

/// `crynux bench network` and `crynux bench client`: the time from `CrynuxClient.run` to the result of 1-token chats.
public enum NetworkBenchmark {
    /// What `run` measured.
    public struct Figures: Sendable {
        /// Run → result, every measured chat, seconds.
        public var totals: LatencySummary
        /// The engine alone on the same task, seconds.
        public var inference: LatencySummary
        /// The node's poll interval.
        public var nodePoll: Duration
        /// The client's first poll interval.
        public var clientPoll: Duration
    }

    /// `runs` 1-token chats on an embedded network (in-memory relay on a free loopback port, one node with the real
    /// engine), after a warm-up; then the same task on the engine alone, for the inference share.
    public static func run(modelPath: String, runs: Int, nodePoll: Duration, clientPoll: Duration) async throws -> Figures {
        let generator = try TextGenerator(path: modelPath, threads: 1)
        var configuration = EmbeddedNetwork.Configuration()
        configuration.seed = 1
        let network = try EmbeddedNetwork(configuration)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("bench-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let model = "HuggingFaceTB/SmolLM2-135M-Instruct"
        let messages: [ChatMessage] = [.text(.user, "What is 2+2?")]
        let generation = GenerationConfig(maxNewTokens: 1)
        let totals = try await network.withRunning { running in
            try await running.start(
                network.node(
                    relayURL: running.relayURL, engines: ["base:" + model.lowercased(): generator],
                    hardware: NodeHardware(gpuName: "CPU bench+Linux", gpuVRAM: 24), dataDirectory: dir, pollInterval: nodePoll))
            let client = CrynuxClient(relay: running.relayURL, wallet: .generate(), validationRatePercent: 0, pollRange: (clientPoll, clientPoll * 2))
            try await network.fund(client.address, amount: Wei(cnx: 100_000))
            // Warm-up (first allocations), then the measured runs.
            _ = try await client.chat(model: model, messages: messages, generation: generation)
            return try await LatencySummary.measure(count: runs) {
                _ = try await client.chat(model: model, messages: messages, generation: generation)
            }
        }
        var task = GPTTaskArgs(model: model, messages: messages, generationConfig: generation)
        task.seed = 0
        let inference = try await LatencySummary.measure(count: runs) { _ = try generator.run(task: task) }
        return Figures(totals: totals, inference: inference, nodePoll: nodePoll, clientPoll: clientPoll)
    }

    /// Sequential 1-token chats through `CrynuxClient` against an external relay (validation rate 0, as the
    /// benchmark's relay runs), with the client's default polling, as the Bridge's own client uses it.
    public static func client(relay: String, key: PrivateKey, model: String, message: String, count: Int, warmup: Int) async throws -> LatencySummary {
        let client = CrynuxClient(relay: relay, wallet: key, validationRatePercent: 0)
        let messages: [ChatMessage] = [.text(.user, message)]
        let generation = GenerationConfig(maxNewTokens: 1)
        for _ in 0..<warmup { _ = try await client.chat(model: model, messages: messages, generation: generation) }
        return try await LatencySummary.measure(count: count) { _ = try await client.chat(model: model, messages: messages, generation: generation) }
    }
}

/// Latency samples in seconds, in the order taken, with the statistics the benchmarks print.
public struct LatencySummary: Sendable {
    /// The samples, seconds, in order.
    public var samples: [Double]

    /// Wraps samples.
    public init(samples: [Double]) { self.samples = samples }

    /// Times `count` sequential calls of `body`.
    public static func measure(count: Int, _ body: () async throws -> Void) async throws -> LatencySummary {
        let clock = ContinuousClock()
        var samples: [Double] = []
        samples.reserveCapacity(count)
        for _ in 0..<count {
            let start = clock.now
            try await body()
            let d = clock.now - start
            samples.append(Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18)
        }
        return LatencySummary(samples: samples)
    }

    /// The `q` quantile (0…1) by the nearest-rank method: the smallest sample with at least `q` of them at or below.
    public func quantile(_ q: Double) -> Double {
        precondition(!samples.isEmpty, "no samples")
        let sorted = samples.sorted()
        let rank = Int((Double(sorted.count) * q).rounded(.up))
        return sorted[min(sorted.count - 1, max(0, rank - 1))]
    }

    /// The median (nearest rank).
    public var median: Double { quantile(0.5) }
    /// The arithmetic mean.
    public var mean: Double { samples.reduce(0, +) / Double(max(1, samples.count)) }
}
