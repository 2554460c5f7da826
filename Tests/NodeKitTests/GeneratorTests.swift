import Foundation
import TestSupport
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

    @Test func absurdTaskNumbersAreInvalidArgumentsNotTraps() throws {
        let generator = try #require(Self.generators[1])
        func kind(_ config: GenerationConfig) -> EngineError.Kind? {
            let task = GPTTaskArgs(model: BundledModel.huggingFaceID, messages: [.text(.user, "Hi")], generationConfig: config)
            do {
                _ = try generator.run(task: task)
                return nil
            } catch let error as EngineError { return error.kind } catch { return nil }
        }
        #expect(kind(GenerationConfig(maxNewTokens: Int.max)) == .invalidArgument, "max_new_tokens near 2^63")
        #expect(kind(GenerationConfig(maxNewTokens: Int.max - 3)) == .invalidArgument)
        #expect(kind(GenerationConfig(maxNewTokens: 4, numReturnSequences: Int.max)) == .invalidArgument, "num_return_sequences near 2^63")
        #expect(kind(GenerationConfig(maxNewTokens: 4, numReturnSequences: 17)) == .invalidArgument)
        #expect(kind(GenerationConfig(maxNewTokens: 4, numReturnSequences: 2)) == nil, "in range: it runs")
    }

    @Test func generationStopsAtTheTasksDeadline() throws {
        let generator = try #require(Self.generators[1])
        let task = GPTTaskArgs(model: BundledModel.huggingFaceID, messages: [.text(.user, "Write a long story.")], generationConfig: GenerationConfig(maxNewTokens: 1_000))
        let before = generator.tokensGenerated
        #expect {
            _ = try generator.run(task: task, until: .now + .milliseconds(300))
        } throws: { ($0 as? EngineError)?.kind == .cancelled }
        // Stopped at the deadline: a few dozen of the 1,000 tokens asked for at most (an engine ignoring the
        // deadline makes all 1,000; under load the deadline may pass before the first).
        let made = generator.tokensGenerated - before
        #expect(made < 500, "\(made) tokens")
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
        task.quantizeBits = 3
        #expect(throws: EngineError.self) { _ = try generator.run(task: task) }
    }

    @Test func quantizeBitsLeavesAnAlreadyQuantizedModelAsItIs() throws {
        let generator = try #require(Self.generators[2])
        var task = GPTTaskArgs(model: "m", messages: [.text(.user, "What is 2+2?")], generationConfig: GenerationConfig(maxNewTokens: 8))
        let plain = try generator.run(task: task)
        task.quantizeBits = 8
        #expect(try generator.run(task: task) == plain)
        task.quantizeBits = 4
        #expect(try generator.run(task: task) == plain)
    }

    @Test func aForkedSessionContinuesLikeTheOriginal() throws {
        let model = try #require(Self.generators[1]?.model)
        let session = InferenceSession(model: model, capacity: 12)
        try session.evaluate([504, 3575, 282, 4649, 314])
        let copy = session.fork()
        try session.evaluate([1, 2])
        try copy.evaluate([1, 2])
        #expect(session.logits.map(\.bitPattern) == copy.logits.map(\.bitPattern))
        #expect(copy.position == 7)
    }

    @Test func streamingYieldsTheSameTextAsTheResult() async throws {
        let generator = try #require(Self.generators[2])
        let prompt = generator.tokenizer.encode("<|im_start|>user\nSay hello in French<|im_end|>\n<|im_start|>assistant\n")
        let expected = try generator.generate(prompt: prompt, maxNewTokens: 12, count: 2)
        var texts = ["", ""]
        var finished: [GeneratedSequence] = []
        for try await event in generator.stream(prompt: prompt, maxNewTokens: 12, count: 2) {
            switch event {
            case .token(let index, _, let text): texts[index] += text
            case .finished(_, let sequence): finished.append(sequence)
            }
        }
        #expect(finished == expected)
        #expect(texts == expected.map(\.text))
    }

    @Test func endingTheStreamEarlyStopsTheGeneration() async throws {
        let generator = try #require(Self.generators[1])
        let before = generator.tokensGenerated
        var seen = 0
        for try await event in generator.stream(prompt: [504, 3575], maxNewTokens: 200) {
            if case .token = event { seen += 1 }
            if seen == 3 { break }
        }
        // The next generation waits for the generator's lock, so when it returns the first has stopped: it made the
        // 3 tokens seen and the few made while the consumer caught up, not the 200 asked for.
        _ = try generator.generate(prompt: [504], maxNewTokens: 1)
        let made = generator.tokensGenerated - before - 1
        #expect(made >= 3 && made <= 12, "\(made) tokens")
    }
}
