import CrynuxSDK
import Foundation
import Testing
@testable import NodeKit

/// A one-block llama with random F32 weights (64 wide, 2 heads over 1 KV head, 16 tokens of vocabulary).
func tinyFloatModel(seed: UInt64 = 11) -> [UInt8] {
    let e = 64, kv = 32, ff = 64, vocab = 16
    let tensors: [(String, [Int])] = [
        ("token_embd.weight", [e, vocab]), ("output_norm.weight", [e]), ("blk.0.attn_norm.weight", [e]),
        ("blk.0.attn_q.weight", [e, e]), ("blk.0.attn_k.weight", [e, kv]), ("blk.0.attn_v.weight", [e, kv]),
        ("blk.0.attn_output.weight", [e, e]), ("blk.0.ffn_norm.weight", [e]), ("blk.0.ffn_gate.weight", [e, ff]),
        ("blk.0.ffn_up.weight", [e, ff]), ("blk.0.ffn_down.weight", [ff, e]),
    ]
    let metadata: [(String, UInt32)] = [
        ("llama.block_count", 1), ("llama.embedding_length", UInt32(e)), ("llama.feed_forward_length", UInt32(ff)),
        ("llama.attention.head_count", 2), ("llama.attention.head_count_kv", 1), ("llama.context_length", 32),
    ]
    var b = GGUFBuilder()
    b.bytes += Array("GGUF".utf8)
    b.u32(3)
    b.u64(UInt64(tensors.count))
    b.u64(UInt64(metadata.count + 1))
    b.string("general.architecture"); b.u32(8); b.string("llama")
    for (key, value) in metadata { b.string(key); b.u32(4); b.u32(value) }
    var offset = 0
    for (name, dims) in tensors {
        b.string(name); b.u32(UInt32(dims.count))
        for d in dims { b.u64(UInt64(d)) }
        b.u32(0); b.u64(UInt64(offset))
        offset += dims.reduce(4, *)
    }
    while b.bytes.count % 32 != 0 { b.u8(0) }
    var random = EngineRandom(seed: seed)
    for (name, dims) in tensors {
        let isNorm = name.hasSuffix("norm.weight")
        for _ in 0..<dims.reduce(1, *) {
            b.u32(Float(isNorm ? 1 + (random.unit() - 0.5) * 0.2 : (random.unit() - 0.5) * 0.5).bitPattern)
        }
    }
    return b.bytes
}

@Suite struct QuantizationTests {
    func logits(_ model: LlamaModel, _ tokens: [Int]) throws -> [Float] {
        let session = InferenceSession(model: model, capacity: tokens.count)
        try session.evaluate(tokens)
        return session.logits
    }

    @Test func quantizeBitsReQuantizesFloatBlockWeightsOnly() throws {
        let base = try LlamaModel(file: try GGUFFile(bytes: tinyFloatModel()))
        #expect(base.hasFloatBlockWeights && base.blocks[0].q.type == .f32)
        let q8 = try base.requantized(try WeightQuantization(quantizeBits: 8))
        let q4 = try base.requantized(try WeightQuantization(quantizeBits: 4))
        for (model, type) in [(q8, GGMLType.q8_0), (q4, .q4_1)] {
            let block = model.blocks[0]
            #expect([block.q, block.k, block.v, block.o, block.gate, block.up, block.down].allSatisfy { $0.type == type })
            #expect(model.tokenEmbedding.type == .f32 && model.output.type == .f32, "embeddings and the head stay as they are")
            #expect(!model.hasFloatBlockWeights)
        }
        let tokens = [1, 5, 9, 2, 14]
        let exact = try logits(base, tokens), l8 = try logits(q8, tokens), l4 = try logits(q4, tokens)
        let scale = exact.map(abs).max()!
        let err8 = zip(exact, l8).map { abs($0 - $1) }.max()!, err4 = zip(exact, l4).map { abs($0 - $1) }.max()!
        // On random (hard to quantize) weights: 8-bit moves the logits by well under 1%, 4-bit by about 10%.
        #expect(err8 > 0 && err8 < scale * 0.01, "q8 error \(err8) of \(scale)")
        #expect(err4 > err8 && err4 < scale * 0.2, "q4 error \(err4) of \(scale)")
        #expect(throws: EngineError.self) { _ = try WeightQuantization(quantizeBits: 3) }
        #expect((try? WeightQuantization(quantizeBits: nil)) == WeightQuantization.original)
    }

    @Test func aBatchedPromptGivesTheSameBitsAsOneTokenAtATime() throws {
        let model = try LlamaModel(file: try GGUFFile(bytes: tinyFloatModel(seed: 5)))
        let tokens = [3, 1, 4, 1, 5, 9, 2, 6, 5, 3]
        let batched = InferenceSession(model: model, capacity: tokens.count)
        try batched.evaluate(tokens)
        let small = InferenceSession(model: model, capacity: tokens.count, maxBatch: 3)
        try small.evaluate(tokens)
        let single = InferenceSession(model: model, capacity: tokens.count)
        for t in tokens { try single.evaluate(t) }
        #expect(batched.logits.map(\.bitPattern) == single.logits.map(\.bitPattern))
        #expect(small.logits.map(\.bitPattern) == single.logits.map(\.bitPattern))
        #expect(throws: EngineError.self) { try single.evaluate(1) }  // the cache is full
    }
}
