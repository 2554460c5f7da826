import CKernels
import Foundation

/// The shape of a `llama` / `qwen2` model, read from GGUF metadata.
public struct ModelConfig: Sendable, Hashable {
    /// `llama` or `qwen2`.
    public var architecture: String
    /// Transformer blocks.
    public var layers: Int
    /// Hidden size.
    public var embedding: Int
    /// Feed-forward size.
    public var feedForward: Int
    /// Attention heads.
    public var heads: Int
    /// Key/value heads (grouped-query attention when fewer than `heads`).
    public var kvHeads: Int
    /// Per-head size.
    public var headDimension: Int
    /// RoPE base frequency.
    public var ropeBase: Float
    /// RMSNorm epsilon.
    public var rmsEpsilon: Float
    /// Vocabulary size.
    public var vocabulary: Int
    /// Maximum context.
    public var contextLength: Int
    /// NEOX RoPE (pairs i, i+d/2) for qwen2; llama.cpp's NORM RoPE (adjacent pairs) for llama.
    public var neoxRope: Bool
}

/// A `llama`/`qwen2` transformer over a GGUF's quantized weights, evaluated in f32 (weights dequantized
/// inside the dot products, as the float reference computes them).
public final class LlamaModel: @unchecked Sendable {
    // Immutable after init: config, weight views into the mapped file, and the file that keeps them alive.
    /// The model's shape.
    public let config: ModelConfig
    let file: GGUFFile
    let tokenEmbedding: WeightMatrix
    let output: WeightMatrix
    let outputNorm: [Float]
    let blocks: [Block]
    /// RoPE's inverse frequencies, `1 / base^(2i/d)` in f32 as the float reference computes them.
    let inverseFrequencies: [Float]

    struct Block {
        var attentionNorm: [Float]
        var q: WeightMatrix, k: WeightMatrix, v: WeightMatrix, o: WeightMatrix
        var qBias: [Float]?, kBias: [Float]?, vBias: [Float]?
        var ffnNorm: [Float]
        var gate: WeightMatrix, up: WeightMatrix, down: WeightMatrix
    }

    /// How the transformer blocks' float weights were re-quantized at load.
    public let quantization: WeightQuantization

    /// Loads a model from a GGUF file, re-quantizing float block weights as `quantization` asks.
    public init(file: GGUFFile, quantization: WeightQuantization = .original) throws(EngineError) {
        self.file = file
        self.quantization = quantization
        guard let arch = file.architecture, arch == "llama" || arch == "qwen2" else {
            throw EngineError("architecture \(file.architecture ?? "none") is not supported (llama and qwen2 are)")
        }
        func int(_ key: String) throws(EngineError) -> Int {
            guard let v = file["\(arch).\(key)"]?.int, v > 0 else { throw EngineError("missing \(arch).\(key)") }
            return v
        }
        let embedding = try int("embedding_length")
        let heads = try int("attention.head_count")
        let kvHeads = file["\(arch).attention.head_count_kv"]?.int ?? heads
        guard heads % kvHeads == 0, embedding % heads == 0 else { throw EngineError("head counts do not divide evenly") }
        func tensor(_ name: String) throws(EngineError) -> GGUFTensorInfo {
            guard let t = file.tensor(name) else { throw EngineError("missing tensor \(name)") }
            return t
        }
        func vector(_ name: String, _ count: Int) throws(EngineError) -> [Float] {
            let t = try tensor(name)
            guard t.elementCount == count else { throw EngineError("tensor \(name) has \(t.elementCount) elements, expected \(count)") }
            let m = try WeightMatrix(file: file, tensor: t)
            var out = [Float](repeating: 0, count: count)
            out.withUnsafeMutableBufferPointer { m.row(0, into: $0.baseAddress!) }
            return out
        }
        func matrix(_ name: String, rows: Int, columns: Int, requantize: Bool = true) throws(EngineError) -> WeightMatrix {
            let m = try WeightMatrix(file: file, tensor: try tensor(name))
            guard m.rows == rows, m.columns == columns else {
                throw EngineError("tensor \(name) is \(m.columns)×\(m.rows), expected \(columns)×\(rows)")
            }
            guard requantize, m.isFloat, let target = quantization.target else { return m }
            return m.requantized(to: target)
        }
        let embd = try WeightMatrix(file: file, tensor: try tensor("token_embd.weight"))
        let config = ModelConfig(
            architecture: arch, layers: try int("block_count"), embedding: embedding, feedForward: try int("feed_forward_length"),
            heads: heads, kvHeads: kvHeads, headDimension: embedding / heads,
            ropeBase: Float(file["\(arch).rope.freq_base"]?.double ?? 10000),
            rmsEpsilon: Float(file["\(arch).attention.layer_norm_rms_epsilon"]?.double ?? 1e-5), vocabulary: embd.rows,
            contextLength: file["\(arch).context_length"]?.int ?? 2048, neoxRope: arch == "qwen2")
        guard embd.columns == embedding else { throw EngineError("token_embd.weight has the wrong width") }
        self.config = config
        tokenEmbedding = embd
        output = file.tensor("output.weight") != nil ? try matrix("output.weight", rows: embd.rows, columns: embedding, requantize: false) : embd
        outputNorm = try vector("output_norm.weight", embedding)
        let kvWidth = kvHeads * config.headDimension
        var blocks: [Block] = []
        for i in 0..<config.layers {
            let p = "blk.\(i)."
            let hasBias = file.tensor(p + "attn_q.bias") != nil
            blocks.append(Block(
                attentionNorm: try vector(p + "attn_norm.weight", embedding),
                q: try matrix(p + "attn_q.weight", rows: embedding, columns: embedding),
                k: try matrix(p + "attn_k.weight", rows: kvWidth, columns: embedding),
                v: try matrix(p + "attn_v.weight", rows: kvWidth, columns: embedding),
                o: try matrix(p + "attn_output.weight", rows: embedding, columns: embedding),
                qBias: hasBias ? try vector(p + "attn_q.bias", embedding) : nil,
                kBias: hasBias ? try vector(p + "attn_k.bias", kvWidth) : nil,
                vBias: hasBias ? try vector(p + "attn_v.bias", kvWidth) : nil,
                ffnNorm: try vector(p + "ffn_norm.weight", embedding),
                gate: try matrix(p + "ffn_gate.weight", rows: config.feedForward, columns: embedding),
                up: try matrix(p + "ffn_up.weight", rows: config.feedForward, columns: embedding),
                down: try matrix(p + "ffn_down.weight", rows: embedding, columns: config.feedForward)))
        }
        self.blocks = blocks
        let half = config.headDimension / 2
        inverseFrequencies = (0..<half).map { i in 1 / pow(config.ropeBase, Float(2 * i) / Float(config.headDimension)) }
    }

    /// Loads the model at `path`.
    public convenience init(path: String, quantization: WeightQuantization = .original) throws {
        try self.init(file: try GGUFFile(path: path), quantization: quantization)
    }

    /// The same weights re-quantized (sharing the mapped file); `self` when nothing would change.
    public func requantized(_ quantization: WeightQuantization) throws(EngineError) -> LlamaModel {
        quantization == self.quantization ? self : try LlamaModel(file: file, quantization: quantization)
    }

    /// Whether any transformer-block weight is stored as floats (what `quantize_bits` can convert).
    public var hasFloatBlockWeights: Bool {
        blocks.contains { b in [b.q, b.k, b.v, b.o, b.gate, b.up, b.down].contains { $0.isFloat } }
    }
}

/// Re-quantization of float (F32/F16/BF16) weights at load, the engine's reading of a task's `quantize_bits`.
/// Weights that are already quantized stay as they are; embeddings and the output head are never touched
/// (as Hugging Face's 8- and 4-bit loaders leave them).
public enum WeightQuantization: Sendable, Hashable {
    /// Weights as the file stores them.
    case original
    /// `quantize_bits` 8: Q8_0 (one f16 scale per 32 weights).
    case q8_0
    /// `quantize_bits` 4: Q4_1 (f16 scale and minimum per 32 weights).
    case q4_1

    /// The quantization for a task's `quantize_bits` (nil → `.original`); other values are refused.
    public init(quantizeBits: Int?) throws(EngineError) {
        switch quantizeBits {
        case nil: self = .original
        case 8?: self = .q8_0
        case 4?: self = .q4_1
        case let bits?: throw EngineError("quantize_bits must be 4 or 8, not \(bits)")
        }
    }

    var target: GGMLType? {
        switch self {
        case .original: nil
        case .q8_0: .q8_0
        case .q4_1: .q4_1
        }
    }
}

