import Foundation
import TestSupport
import Testing
import CrynuxSDK
import NodeKit

/// One case of Fixtures/smollm2-logits.json (transformers fp32 on the dequantized weights).
struct LogitsCase: Sendable, CustomTestStringConvertible {
    var value: JSONValue
    var testDescription: String { value["id"]?.stringValue ?? "" }

    static let all: [LogitsCase] = {
        guard let url = Bundle.module.url(forResource: "smollm2-logits", withExtension: "json", subdirectory: "Fixtures"),
            let data = try? Data(contentsOf: url), let root = try? JSONValue.parse(Array(data)), case .array(let cases)? = root["cases"]
        else { return [] }
        return cases.map { LogitsCase(value: $0) }
    }()

    var reference: JSONValue { value["reference_transformers_fp32"] ?? .null }
}

/// The float reference agrees with any f32 reimplementation to about 1e-4 relative (the vector file says
/// so); logits reach ±35, so 5e-3 absolute leaves room for different summation orders and nothing more.
let logitTolerance: Float = 5e-3
/// Greedy tokens are compared only while the reference's top-1/top-2 margin is above this.
let safeMargin = 0.02

@Suite(.serialized) struct EngineTests {
    static let model: LlamaModel? = try? LlamaModel(path: BundledModel.path)
    static let tokenizer: BPETokenizer? = try? BPETokenizer(gguf: GGUFFile(path: BundledModel.path))

    @Test func theLogitsFixtureLoadsWithAllItsCases() {
        // The parameterised tests below pass vacuously with no cases: make a missing or broken fixture fail here.
        #expect(LogitsCase.all.count == 5)
        #expect(LogitsCase.all.allSatisfy { !intArray($0.value["prompt_ids"]).isEmpty && !intArray($0.reference["greedy_ids"]).isEmpty })
    }

    @Test func loadsTheBundledModel() throws {
        let model = try #require(Self.model, "the bundled model did not load from \(BundledModel.path)")
        let c = model.config
        #expect(c.architecture == "llama" && c.layers == 30 && c.embedding == 576 && c.heads == 9 && c.kvHeads == 3)
        #expect(c.feedForward == 1536 && c.vocabulary == 49152 && c.headDimension == 64)
    }

    @Test(arguments: LogitsCase.all)
    func promptAndTemplateMatchTheReference(_ c: LogitsCase) throws {
        let tokenizer = try #require(Self.tokenizer)
        let prompt = try #require(c.value["prompt"]?.stringValue)
        // Chat cases were rendered with the GGUF's own template; render it with ours.
        if case .array(let messages)? = c.value["messages"] {
            let source = try #require(try GGUFFile(path: BundledModel.path)["tokenizer.chat_template"]?.string)
            let rendered = try ChatTemplate(source: source).render(
                messagesJSON: messages, tools: nil, addGenerationPrompt: true, bosToken: "<|im_start|>", eosToken: "<|im_end|>",
                arguments: [:], now: DateComponents(year: 2026, month: 11, day: 22, hour: 0, minute: 0, second: 0))
            #expect(rendered == prompt)
        }
        #expect(tokenizer.encode(prompt) == intArray(c.value["prompt_ids"]))
    }

    @Test(arguments: LogitsCase.all)
    func logitsAndGreedyTokensMatchTheReference(_ c: LogitsCase) throws {
        let model = try #require(Self.model)
        let promptIDs = intArray(c.value["prompt_ids"])
        let greedy = intArray(c.reference["greedy_ids"])
        let session = InferenceSession(model: model, capacity: promptIDs.count + greedy.count + 1)
        for (i, id) in promptIDs.enumerated() { try session.evaluate(id, computeLogits: i == promptIDs.count - 1) }
        // The last prompt position: the top-10 entries and the norm of the whole vector.
        let last = try #require(c.reference["last_prompt_position"])
        guard case .array(let top10)? = last["top10"] else { Issue.record("no top10"); return }
        for entry in top10 {
            guard case .array(let pair) = entry, let id = pair[0].doubleValue, let logit = pair[1].doubleValue else { continue }
            #expect(abs(session.logits[Int(id)] - Float(logit)) < logitTolerance, "token \(Int(id))")
        }
        let norm = session.logits.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
        let refNorm = try #require(last["l2_norm"]?.doubleValue)
        #expect(abs(norm - refNorm) / refNorm < 1e-4)
        // Greedy continuation, compared step by step while the reference's choice is clear.
        guard case .array(let steps)? = c.reference["steps"] else { return }
        for (k, step) in steps.enumerated() {
            let chosen = session.logits.indices.max { session.logits[$0] < session.logits[$1] || (session.logits[$0] == session.logits[$1] && $0 > $1) }!
            let margin = step["margin"]?.doubleValue ?? 0
            let expected = greedy[k]
            if margin > safeMargin {
                #expect(chosen == expected, "step \(k): margin \(margin)")
                if let top1 = step["top1_logit"]?.doubleValue { #expect(abs(session.logits[chosen] - Float(top1)) < logitTolerance) }
            } else if chosen != expected {
                break  // a near-tie went the other way: the continuations may legitimately differ from here
            }
            if k == greedy.count - 1 { break }
            try session.evaluate(chosen)
        }
    }
}
