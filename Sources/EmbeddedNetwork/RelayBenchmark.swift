import CrynuxSDK
import Foundation
import Relay

/// `crynux bench relay`: signed requests through HTTP against a running relay (`crynux relay --dev
/// --validation-rate 0`), as `scripts/bench-relay.sh` drives it at each size of history.
public enum RelayBenchmark {
    /// Latencies of one kind of request and how fast they went through.
    public struct Figures: Sendable {
        /// Every request's latency, seconds.
        public var latency: LatencySummary
        /// Wall time from the first request to the last answer, seconds.
        public var seconds: Double
        /// Requests per second over `seconds`.
        public var perSecond: Double { Double(latency.samples.count) / max(seconds, 1e-9) }
    }

    static let model = "base:huggingfacetb/smollm2-135m-instruct"
    static let args = #"{"model":"HuggingFaceTB/SmolLM2-135M-Instruct","messages":[{"role":"user","content":"What is 2+2?"}],"generation_config":{"max_new_tokens":16}}"#
    static let result = Array(#"{"choices":[{"finish_reason":"stop","index":0,"message":{"content":"4","role":"assistant"}}]}"#.utf8)

    /// `count` funded creators (new keys, credited by the development faucet).
    public static func creators(relay: String, count: Int) async throws -> [RelayClient] {
        var out: [RelayClient] = []
        for _ in 0..<count {
            let client = RelayClient(baseURL: relay, key: .generate())
            _ = try await client.requestFaucet(amount: Wei(cnx: 1_000_000))
            out.append(client)
        }
        return out
    }

    /// `count` signed task creations, `concurrency` in flight, spread over `creators` (each holds at most 1,000 queued).
    public static func creates(count: Int, concurrency: Int, creators: [RelayClient]) async throws -> Figures {
        try await timed(count: count, concurrency: concurrency) { i in
            let client = creators[i % creators.count]
            _ = try await client.createTask(
                RelayClient.NewTask(identity: .random(), taskArgs: args, taskType: .llm, modelIDs: [model], fee: Wei(cnx: 1)))
        }
    }

    /// One new task per creator, for `reads`.
    public static func oneTaskEach(creators: [RelayClient]) async throws -> [(client: RelayClient, commitment: String)] {
        var out: [(client: RelayClient, commitment: String)] = []
        for client in creators {
            let identity = TaskIdentity.random()
            _ = try await client.createTask(
                RelayClient.NewTask(identity: identity, taskArgs: args, taskType: .llm, modelIDs: [model], fee: Wei(cnx: 1)))
            out.append((client, "0x" + Hex.encode(identity.commitment)))
        }
        return out
    }

    /// `count` signed reads of the task records `commitments` (round robin) by their creators.
    public static func reads(count: Int, concurrency: Int, tasks: [(client: RelayClient, commitment: String)]) async throws -> Figures {
        try await timed(count: count, concurrency: concurrency) { i in
            let (client, commitment) = tasks[i % tasks.count]
            _ = try await client.task(commitment)
        }
    }

    /// What the lifecycle workload measured, by step.
    public struct Lifecycle: Sendable {
        /// The creator's create.
        public var create: Figures
        /// The node's read of its task.
        public var get: Figures
        /// The node's score.
        public var score: Figures
        /// The creator's validation.
        public var validate: Figures
        /// The node's result upload.
        public var upload: Figures
        /// Whole tasks (create → result read) per second.
        public var tasksPerSecond: Double
    }

    /// The mixed workload: `nodes` nodes and `creators` creators running `tasks` whole tasks at once (create, dispatch,
    /// the node's read and score, validation, the upload, the result read), each step a signed HTTP request.
    public static func lifecycle(relay: String, nodes: Int, creators: [RelayClient], tasks: Int) async throws -> Lifecycle {
        let nodeClients = (0..<nodes).map { _ in RelayClient(baseURL: relay, key: .generate()) }
        for node in nodeClients {
            try await node.join(gpuName: "Bench GPU+Linux", gpuVRAM: 24, modelIDs: [model], version: "3.5.0", staking: Wei(cnx: 400), network: "local")
        }
        let log = SampleLog()
        let clock = ContinuousClock()
        let stop = Counter(0)
        let nodeWork = Task {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for node in nodeClients {
                    group.addTask {
                        var last: String?
                        while stop.value == 0 {
                            guard let commitment = try await node.currentTask(unless: last, wait: .seconds(1)), commitment != last else { continue }
                            last = commitment
                            try await log.time("get") { _ = try await node.task(commitment) }
                            let score = try ResultScores.llm([result])
                            try await log.time("score") { try await node.submitScore(commitment, score: score) }
                            var record = try await node.task(commitment, unlessStatus: 4, wait: .seconds(5))
                            while record.status == 4, stop.value == 0 { record = try await node.task(commitment, unlessStatus: 4, wait: .seconds(5)) }
                            guard record.status == 5 else { continue }
                            try await log.time("upload") { try await node.uploadResults(commitment, files: [("0.json", result)]) }
                        }
                    }
                }
                try await group.waitForAll()
            }
        }
        let started = clock.now
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for (c, creator) in creators.enumerated() {
                    let share = tasks / creators.count + (c < tasks % creators.count ? 1 : 0)
                    group.addTask {
                        for _ in 0..<share {
                            let identity = TaskIdentity.random()
                            let commitment = "0x" + Hex.encode(identity.commitment)
                            // Above the creation benchmark's fee: these go first even if its tasks still wait.
                            try await log.time("create") {
                                _ = try await creator.createTask(
                                    RelayClient.NewTask(identity: identity, taskArgs: args, taskType: .llm, modelIDs: [model], fee: Wei(cnx: 2)))
                            }
                            var record = try await creator.task(commitment, unlessStatus: 0, wait: .seconds(30))
                            while [0, 1, 2].contains(record.status) {
                                record = try await creator.task(commitment, unlessStatus: record.status, wait: .seconds(30))
                            }
                            let proof = try ECVRF.prove(key: creator.key, alpha: record.samplingSeed)
                            try await log.time("validate") {
                                try await creator.validate(commitments: [commitment], taskID: identity.taskIDHex, vrfProof: proof.pi)
                            }
                            while ![8, 9].contains(record.status) {
                                record = try await creator.task(commitment, unlessStatus: record.status, wait: .seconds(30))
                            }
                            _ = try await creator.result(commitment, index: 0)
                        }
                    }
                }
                try await group.waitForAll()
            }
        } catch {
            _ = stop.take()
            nodeWork.cancel()
            throw error
        }
        let elapsed = clock.now - started
        _ = stop.take()
        try await nodeWork.value
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        func figures(_ name: String) -> Figures { Figures(latency: LatencySummary(samples: log.samples(name)), seconds: seconds) }
        return Lifecycle(
            create: figures("create"), get: figures("get"), score: figures("score"), validate: figures("validate"), upload: figures("upload"),
            tasksPerSecond: Double(tasks) / seconds)
    }

    /// Runs `body(i)` for i in 0..<count with `concurrency` in flight, timing each.
    static func timed(count: Int, concurrency: Int, _ body: @escaping @Sendable (Int) async throws -> Void) async throws -> Figures {
        let clock = ContinuousClock()
        let started = clock.now
        let next = Counter(0)
        let samples = try await withThrowingTaskGroup(of: [Double].self) { group in
            for _ in 0..<max(1, concurrency) {
                group.addTask {
                    var mine: [Double] = []
                    while true {
                        let i = next.take()
                        guard i < count else { return mine }
                        let start = clock.now
                        try await body(i)
                        let d = clock.now - start
                        mine.append(Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18)
                    }
                }
            }
            var all: [Double] = []
            for try await part in group { all += part }
            return all
        }
        let elapsed = clock.now - started
        return Figures(latency: LatencySummary(samples: samples), seconds: Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
    }

    /// A shared integer.
    final class Counter: @unchecked Sendable {
        private let lock = NSLock()
        private var count: Int
        init(_ value: Int) { count = value }
        var value: Int { lock.withLock { count } }
        func take() -> Int { lock.withLock { defer { count += 1 }; return count } }
        func decrement() { lock.withLock { count -= 1 } }
    }

    /// Latency samples by step name.
    final class SampleLog: @unchecked Sendable {
        private let lock = NSLock()
        private var byName: [String: [Double]] = [:]
        func time(_ name: String, _ body: () async throws -> Void) async throws {
            let clock = ContinuousClock()
            let start = clock.now
            try await body()
            let d = clock.now - start
            let seconds = Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
            lock.withLock { byName[name, default: []].append(seconds) }
        }
        func samples(_ name: String) -> [Double] { lock.withLock { byName[name] ?? [] } }
    }
}
