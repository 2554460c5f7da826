import Crypto
import CrynuxSDK
import Foundation
@testable import NodeKit
import TestSupport
import Testing

/// Continuous batching must not change a single bit: a request decoded beside others, in any mix and order, gives what
/// it gives alone, so exact-match validation holds whatever each node's load was.
@Suite(.serialized) struct BatchingTests {
    static let generator: TextGenerator? = try? TextGenerator(path: BundledModel.path, threads: 1)

    struct Request: Sendable {
        var prompt: [Int]
        var maxNewTokens: Int
        var sampling = SamplingOptions()
        var count = 1
    }

    /// Requests of every kind: greedy and seeded, one and several sequences, prompts shorter and longer than a pass
    /// (so they are prefilled in chunks between other requests' decoding steps), and prompts sharing a beginning.
    static func requests(_ g: TextGenerator) -> [Request] {
        let long = g.tokenizer.encode(String(repeating: "The quick brown fox jumps over the lazy dog while the band plays on. ", count: 12))
        let question = g.tokenizer.encode("<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n")
        let followUp = g.tokenizer.encode(
            "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\nParis.<|im_end|>\n<|im_start|>user\nAnd of Italy?<|im_end|>\n<|im_start|>assistant\n")
        return [
            Request(prompt: question, maxNewTokens: 20),
            Request(prompt: [504, 3575, 282, 4649, 314], maxNewTokens: 24, sampling: SamplingOptions(doSample: true, temperature: 0.9, topK: 40, topP: 0.95, repetitionPenalty: 1.1, seed: 1234), count: 2),
            Request(prompt: long, maxNewTokens: 8),
            Request(prompt: followUp, maxNewTokens: 16, sampling: SamplingOptions(doSample: true, temperature: 1.3, minP: 0.05, seed: 7)),
            Request(prompt: g.tokenizer.encode("Once upon a time"), maxNewTokens: 30, sampling: SamplingOptions(doSample: true, temperature: 0.7, typicalP: 0.9, seed: 99), count: 3),
            Request(prompt: question, maxNewTokens: 5, sampling: SamplingOptions(doSample: true, seed: 5)),
        ]
    }

    /// The reference: one session, the prompt evaluated on its own, then token by token, sequences one after another
    /// from copies of the prompt's cache, with the engine's documented sampler and random stream.
    static func alone(_ g: TextGenerator, _ r: Request) throws -> [[Int]] {
        let session = InferenceSession(model: g.model, capacity: r.prompt.count + r.maxNewTokens, threads: 1)
        try session.evaluate(r.prompt)
        var random = EngineRandom(seed: r.sampling.seed)
        var sequences: [[Int]] = []
        for index in 0..<r.count {
            let s = index == r.count - 1 ? session : session.fork()
            var generated: [Int] = []
            while generated.count < r.maxNewTokens {
                let next = TextGenerator.choose(s.logits, history: r.prompt + generated, r.sampling, &random)
                generated.append(next)
                if next == g.tokenizer.eosID { break }
                if generated.count < r.maxNewTokens { try s.evaluate(next) }
            }
            sequences.append(generated)
        }
        return sequences
    }

    /// Runs `body(0)`, `body(1)`, … at once, each on a thread of its own after its delay in ms; their results in order.
    static func concurrently<T: Sendable>(delaysMs: [Int], _ body: @escaping @Sendable (Int) throws -> T) -> [Result<T, any Error>] {
        let results = Locked<[Int: Result<T, any Error>]>([:])
        let group = DispatchGroup()
        for (i, delay) in delaysMs.enumerated() {
            group.enter()
            let thread = Thread {
                if delay > 0 { Thread.sleep(forTimeInterval: Double(delay) / 1000) }
                let outcome = Result { try body(i) }
                results.withLock { $0[i] = outcome }
                group.leave()
            }
            thread.stackSize = 8 << 20
            thread.start()
        }
        group.wait()
        return delaysMs.indices.map { i in results.withLock { $0[i] } ?? .failure(EngineError("call \(i) never finished")) }
    }

    /// Runs `requests` at once from threads of their own, each starting after its delay; their token sequences.
    static func together(_ g: TextGenerator, _ requests: [(Request, delayMs: Int)]) throws -> [[[Int]]] {
        try concurrently(delaysMs: requests.map(\.delayMs)) { i in
            let r = requests[i].0
            return try g.generate(prompt: r.prompt, maxNewTokens: r.maxNewTokens, sampling: r.sampling, count: r.count).map(\.tokens)
        }.map { try $0.get() }
    }

    /// Runs `body` on a thread of its own: these tests block for seconds, and the suites that run beside them need the
    /// cooperative pool (two threads on a 2-core machine).
    static func onThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            let thread = Thread { continuation.resume(with: Result { try body() }) }
            thread.stackSize = 8 << 20
            thread.start()
        }
    }

    @Test func logitsOfASessionDoNotDependOnWhatElseIsInThePass() async throws {
        let g = try #require(Self.generator)
        let failures = try await Self.onThread { try Self.logitsCheck(g) }
        #expect(failures.isEmpty, "\(failures)")
    }

    /// What differed (empty when everything matched).
    static func logitsCheck(_ g: TextGenerator) throws -> [String] {
        var failures: [String] = []
        let prompts = requests(g).map(\.prompt).prefix(4).map { Array($0.prefix(40)) }
        // Alone: each prompt evaluated by itself, then one decode step with token 42.
        var expected: [[UInt32]] = []
        for p in prompts {
            let s = InferenceSession(model: g.model, capacity: 64, threads: 1)
            try s.evaluate(p)
            try s.evaluate(42)
            expected.append(s.logits.map(\.bitPattern))
        }
        // Together, in three orders: prompts split into chunks of different sizes beside other sessions' rows.
        let workspace = BatchWorkspace(model: g.model, rows: 64, logitRows: 64)
        for order in [[0, 1, 2, 3], [3, 1, 0, 2], [2, 3, 1, 0]] {
            let sessions = prompts.map { _ in InferenceSession(model: g.model, capacity: 64, threads: 1) }
            var done = prompts.map { _ in 0 }
            var chunk = 7
            while zip(done, prompts).contains(where: { $0 < $1.count }) {
                var segments: [BatchSegment] = []
                for i in order where done[i] < prompts[i].count {
                    let end = min(prompts[i].count, done[i] + chunk + i)
                    segments.append(BatchSegment(session: sessions[i], tokens: prompts[i][done[i]..<end], computeLogits: end == prompts[i].count))
                    done[i] = end
                }
                BatchForward.run(segments, model: g.model, pool: g.pool, workspace: workspace)
                chunk = chunk % 11 + 3
            }
            BatchForward.run(
                order.map { BatchSegment(session: sessions[$0], tokens: [42], computeLogits: true) }, model: g.model, pool: g.pool, workspace: workspace)
            for i in order {
                // Counted rather than compared whole: a failure message diffing 49,152 logits takes minutes.
                let differing = zip(sessions[i].logits.map(\.bitPattern), expected[i]).filter { $0 != $1 }.count
                if differing != 0 { failures.append("prompt \(i) in order \(order): \(differing) logits differ") }
            }
        }
        return failures
    }

    @Test func requestsDecodedTogetherGiveTheSameTokensAsAloneInEveryMixAndOrder() async throws {
        let g = try #require(Self.generator)
        let failures = try await Self.onThread { try Self.mixesCheck(g) }
        #expect(failures.isEmpty, "\(failures)")
    }

    /// What differed (empty when everything matched).
    static func mixesCheck(_ g: TextGenerator) throws -> [String] {
        var failures: [String] = []
        let requests = requests(g)
        let expected = try requests.map { try alone(g, $0) }
        let before = g.scheduler.passesWithSeveralRequests, reusedBefore = g.scheduler.prefixPositionsReused
        let mixes: [[(Int, Int)]] = [
            [(0, 0), (1, 0), (2, 0), (3, 0), (4, 0), (5, 0)],
            [(5, 0), (4, 30), (3, 0), (2, 60), (1, 10), (0, 90)],
            [(2, 0), (0, 5), (2, 5), (4, 0), (4, 40)],
            [(3, 0), (1, 0)],
        ]
        for mix in mixes {
            let got = try together(g, mix.map { (requests[$0.0], $0.1) })
            for (k, (i, _)) in mix.enumerated() where got[k] != expected[i] { failures.append("request \(i) in mix \(mix.map(\.0))") }
        }
        if g.scheduler.passesWithSeveralRequests <= before + 10 { failures.append("the requests did not really share passes") }
        if g.scheduler.prefixPositionsReused <= reusedBefore { failures.append("no prompt beginning came from the prefix cache") }
        return failures
    }

    @Test func aTasksResultFileAndScoreAreTheSameBytesAloneAndBatched() async throws {
        let g = try #require(Self.generator)
        let failures = try await Self.onThread { try Self.resultFileCheck(g) }
        #expect(failures.isEmpty, "\(failures)")
    }

    /// What differed (empty when everything matched).
    static func resultFileCheck(_ g: TextGenerator) throws -> [String] {
        var failures: [String] = []
        let tasks = [
            GPTTaskArgs(model: BundledModel.huggingFaceID, messages: [.text(.user, "What is 2+2?")], generationConfig: GenerationConfig(maxNewTokens: 24)),
            GPTTaskArgs(
                model: BundledModel.huggingFaceID, messages: [.text(.system, "Be brief."), .text(.user, "Name a colour.")],
                generationConfig: GenerationConfig(maxNewTokens: 16, doSample: true, temperature: 0.8, topP: 0.9, numReturnSequences: 2), seed: 31),
            GPTTaskArgs(model: BundledModel.huggingFaceID, messages: [.text(.user, "Write a haiku about the sea.")], generationConfig: GenerationConfig(maxNewTokens: 32), seed: 4),
        ]
        @Sendable func file(_ t: GPTTaskArgs) throws -> [UInt8] { try g.run(task: t).resultFile }
        func score(_ bytes: [UInt8]) -> String { Hex.encode(SHA256.hash(data: bytes), prefix: true) }
        let alone = try tasks.map(file)
        for order in [[0, 1, 2], [2, 0, 1], [1, 2, 0, 0]] {
            let files = concurrently(delaysMs: order.map { _ in 0 }) { k in try file(tasks[order[k]]) }
            for (k, i) in order.enumerated() {
                guard case .success(let bytes) = files[k] else {
                    failures.append("task \(i) in order \(order) failed")
                    continue
                }
                if bytes != alone[i] { failures.append("0.json of task \(i) in order \(order)") }
                if score(bytes) != score(alone[i]) { failures.append("score of task \(i) in order \(order)") }
            }
        }
        return failures
    }
}

/// A value shared between threads under a lock.
final class Locked<Value>: @unchecked Sendable {
    // Guarded by `lock`.
    private let lock = NSLock()
    private var value: Value
    init(_ value: Value) { self.value = value }
    func withLock<T>(_ body: (inout Value) throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}
