import Foundation
import Testing
import CrynuxSDK
import NodeKit

@Suite(.serialized) struct GeneratorTests {
    static let generators: [Int: TextGenerator] = {
        var out: [Int: TextGenerator] = [:]
        for threads in [1, 2, 8] { out[threads] = try? TextGenerator(path: BundledModel.path, threads: threads) }
        return out
    }()

    @Test func sameSeededRequestGivesTheSameBytesWith1And2And8ThreadsTwice() throws {
        let prompt = [504, 3575, 282, 4649, 314]
        let sampling = SamplingOptions(doSample: true, temperature: 0.9, topK: 40, topP: 0.95, repetitionPenalty: 1.1, seed: 1234)
        var outputs: [[Int]] = []
        for threads in [1, 2, 8, 1, 2, 8] {
            let generator = try #require(Self.generators[threads])
            let result = try generator.generate(prompt: prompt, maxNewTokens: 24, sampling: sampling, count: 2)
            outputs.append(result.flatMap(\.tokens))
        }
        #expect(Set(outputs).count == 1)
        #expect(outputs[0].count > 24)  // two sequences
    }

    @Test func logitsAreBitIdenticalAcrossThreadCounts() throws {
        let model = try #require(Self.generators[1]?.model)
        var vectors: [[UInt32]] = []
        for threads in [1, 2, 8] {
            let session = InferenceSession(model: model, capacity: 8, threads: threads)
            for t in [1, 4093, 198, 19556] { try session.evaluate(t) }
            vectors.append(session.logits.map(\.bitPattern))
        }
        #expect(vectors[0] == vectors[1] && vectors[1] == vectors[2])
    }

    @Test func differentSeedsSampleDifferently() throws {
        let generator = try #require(Self.generators[2])
        let a = try generator.generate(prompt: [504], maxNewTokens: 16, sampling: SamplingOptions(doSample: true, temperature: 1.5, seed: 1))
        let b = try generator.generate(prompt: [504], maxNewTokens: 16, sampling: SamplingOptions(doSample: true, temperature: 1.5, seed: 2))
        #expect(a[0].tokens != b[0].tokens)
        #expect(a[0].finishReason == .length || a[0].tokens.last == 2)
    }

    @Test func runsAGPTTaskLikeTheWorker() throws {
        let generator = try #require(Self.generators[2])
        let task = GPTTaskArgs(
            model: "HuggingFaceTB/SmolLM2-135M-Instruct", messages: [.text(.user, "What is 2+2?")],
            generationConfig: GenerationConfig(maxNewTokens: 32))
        let response = try generator.run(task: task)
        // The float reference's greedy answer (smollm2-logits.json, chat_math), EOS stripped and trimmed.
        #expect(response.choices.count == 1)
        #expect(response.choices[0].message.content == "The answer to this classic math problem is 4.")
        #expect(response.choices[0].finishReason == "stop")
        #expect(response.usage.promptTokens == 37 && response.usage.completionTokens == 12 && response.usage.totalTokens == 49)
    }

    @Test func lengthStopStringsAndBadArguments() throws {
        let generator = try #require(Self.generators[1])
        let short = try generator.generate(prompt: [504, 3575, 282, 4649, 314], maxNewTokens: 3)
        #expect(short[0].tokens.count == 3 && short[0].finishReason == .length)
        let stopped = try generator.generate(prompt: [504, 3575, 282, 4649, 314], maxNewTokens: 30, stopStrings: ["Paris"])
        #expect(stopped[0].text.hasSuffix("Paris") && stopped[0].finishReason == .length)
        #expect(throws: EngineError.self) { _ = try generator.generate(prompt: [], maxNewTokens: 3) }
        #expect(throws: EngineError.self) { _ = try generator.generate(prompt: [99_999_999], maxNewTokens: 3) }
        var task = GPTTaskArgs(model: "m", messages: [.text(.user, "hi")])
        task.dtype = .bfloat16
        #expect(throws: EngineError.self) { _ = try generator.run(task: task) }
        task.dtype = nil
        task.quantizeBits = 8
        #expect(throws: EngineError.self) { _ = try generator.run(task: task) }
    }
}
