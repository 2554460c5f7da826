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

    struct Block {
        var attentionNorm: [Float]
        var q: WeightMatrix, k: WeightMatrix, v: WeightMatrix, o: WeightMatrix
        var qBias: [Float]?, kBias: [Float]?, vBias: [Float]?
        var ffnNorm: [Float]
        var gate: WeightMatrix, up: WeightMatrix, down: WeightMatrix
    }

    /// Loads a model from a GGUF file.
    public init(file: GGUFFile) throws(EngineError) {
        self.file = file
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
        func matrix(_ name: String, rows: Int, columns: Int) throws(EngineError) -> WeightMatrix {
            let m = try WeightMatrix(file: file, tensor: try tensor(name))
            guard m.rows == rows, m.columns == columns else {
                throw EngineError("tensor \(name) is \(m.columns)×\(m.rows), expected \(columns)×\(rows)")
            }
            return m
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
        output = file.tensor("output.weight") != nil ? try matrix("output.weight", rows: embd.rows, columns: embedding) : embd
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
    }

    /// Loads the model at `path`.
    public convenience init(path: String) throws {
        try self.init(file: try GGUFFile(path: path))
    }
}

/// One generation's state: the KV cache, sized to the request, and scratch buffers.
public final class InferenceSession: @unchecked Sendable {
    // Used by one generation at a time; not shared between threads.
    /// The model.
    public let model: LlamaModel
    /// Tokens the cache can hold.
    public let capacity: Int
    /// Tokens evaluated so far.
    public private(set) var position = 0
    /// The threads matrix products are split over.
    public let pool: ThreadPool
    var keys: [Float]
    var values: [Float]
    var x: [Float], xb: [Float], q: [Float], k: [Float], v: [Float], att: [Float], attOut: [Float]
    var h1: [Float], h3: [Float], scores: [Float]
    /// The logits of the last evaluated position.
    public private(set) var logits: [Float]

    /// A session holding up to `capacity` tokens, computing on `threads` threads (or a shared pool).
    public init(model: LlamaModel, capacity: Int, threads: Int = 1, pool: ThreadPool? = nil) {
        self.model = model
        self.pool = pool ?? ThreadPool(threads: threads)
        self.capacity = max(1, min(capacity, model.config.contextLength))
        let c = model.config
        let kvWidth = c.kvHeads * c.headDimension
        keys = [Float](repeating: 0, count: c.layers * self.capacity * kvWidth)
        values = keys
        x = [Float](repeating: 0, count: c.embedding)
        xb = x
        q = x
        attOut = x
        att = x
        k = [Float](repeating: 0, count: kvWidth)
        v = k
        h1 = [Float](repeating: 0, count: c.feedForward)
        h3 = h1
        scores = [Float](repeating: 0, count: self.capacity)
        logits = [Float](repeating: 0, count: c.vocabulary)
    }

    /// Evaluates `token` at the next position; with `computeLogits`, fills `logits`.
    public func evaluate(_ token: Int, computeLogits: Bool = true) throws(EngineError) {
        let m = model
        let c = m.config
        guard token >= 0, token < c.vocabulary else { throw EngineError("token id \(token) is outside the vocabulary") }
        guard position < capacity else { throw EngineError("the context of \(capacity) tokens is full") }
        let kvWidth = c.kvHeads * c.headDimension
        let pos = position
        x.withUnsafeMutableBufferPointer { m.tokenEmbedding.row(token, into: $0.baseAddress!) }
        for (layer, block) in m.blocks.enumerated() {
            rmsNorm(x, block.attentionNorm, into: &xb, eps: c.rmsEpsilon)
            matvec(block.q, xb, &q)
            matvec(block.k, xb, &k)
            matvec(block.v, xb, &v)
            if let b = block.qBias { for i in 0..<q.count { q[i] += b[i] } }
            if let b = block.kBias { for i in 0..<k.count { k[i] += b[i] } }
            if let b = block.vBias { for i in 0..<v.count { v[i] += b[i] } }
            rope(&q, heads: c.heads, pos: pos)
            rope(&k, heads: c.kvHeads, pos: pos)
            let cacheBase = (layer * capacity + pos) * kvWidth
            for i in 0..<kvWidth {
                keys[cacheBase + i] = k[i]
                values[cacheBase + i] = v[i]
            }
            attention(layer: layer, pos: pos)
            matvec(block.o, att, &attOut)
            for i in 0..<c.embedding { x[i] += attOut[i] }
            rmsNorm(x, block.ffnNorm, into: &xb, eps: c.rmsEpsilon)
            matvec(block.gate, xb, &h1)
            matvec(block.up, xb, &h3)
            for i in 0..<c.feedForward {
                let g = h1[i]
                h1[i] = g / (1 + exp(-g)) * h3[i]
            }
            matvec(block.down, h1, &attOut)
            for i in 0..<c.embedding { x[i] += attOut[i] }
        }
        position += 1
        guard computeLogits else { return }
        rmsNorm(x, m.outputNorm, into: &xb, eps: c.rmsEpsilon)
        matvec(m.output, xb, &logits)
    }

    /// Multi-head attention of the current position over the cache, per head, into `att`.
    func attention(layer: Int, pos: Int) {
        let c = model.config
        let hd = c.headDimension
        let kvWidth = c.kvHeads * hd
        let group = c.heads / c.kvHeads
        let scale = 1 / Float(hd).squareRoot()
        let layerBase = layer * capacity * kvWidth
        q.withUnsafeBufferPointer { qp in
            keys.withUnsafeBufferPointer { kp in
                values.withUnsafeBufferPointer { vp in
                    att.withUnsafeMutableBufferPointer { ap in
                        scores.withUnsafeMutableBufferPointer { sp in
                            let q = qp.baseAddress!, k = kp.baseAddress!, v = vp.baseAddress!, a = ap.baseAddress!, s = sp.baseAddress!
                            for h in 0..<c.heads {
                                let kvh = h / group
                                var maxScore = -Float.infinity
                                for t in 0...pos {
                                    let score = ck_dot_f32(q + h * hd, k + layerBase + t * kvWidth + kvh * hd, Int32(hd)) * scale
                                    s[t] = score
                                    maxScore = max(maxScore, score)
                                }
                                var sum: Float = 0
                                for t in 0...pos {
                                    s[t] = exp(s[t] - maxScore)
                                    sum += s[t]
                                }
                                let out = a + h * hd
                                out.update(repeating: 0, count: hd)
                                for t in 0...pos {
                                    let w = s[t] / sum
                                    let row = v + layerBase + t * kvWidth + kvh * hd
                                    for i in 0..<hd { out[i] += w * row[i] }
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// `out = w · input`, rows split over the pool (each row is computed by one thread, the same way
    /// whatever the thread count, so the result is bit-identical for 1, 2 or 8 threads).
    func matvec(_ w: WeightMatrix, _ input: [Float], _ out: inout [Float]) {
        input.withUnsafeBufferPointer { inp in
            out.withUnsafeMutableBufferPointer { o in
                let x = UncheckedPointer(inp.baseAddress!)
                let y = UncheckedMutablePointer(o.baseAddress!)
                if pool.count == 1 || w.rows * w.columns < 1 << 16 {
                    w.multiply(x.pointer, into: y.pointer, rows: 0..<w.rows)
                } else {
                    pool.parallelFor(w.rows) { range in w.multiply(x.pointer, into: y.pointer, rows: range) }
                }
            }
        }
    }

    func rmsNorm(_ input: [Float], _ weight: [Float], into out: inout [Float], eps: Float) {
        var ss: Float = 0
        for v in input { ss += v * v }
        let scale = 1 / (ss / Float(input.count) + eps).squareRoot()
        for i in 0..<input.count { out[i] = input[i] * scale * weight[i] }
    }

    func rope(_ vec: inout [Float], heads: Int, pos: Int) {
        let c = model.config
        let hd = c.headDimension
        for h in 0..<heads {
            for i in 0..<(hd / 2) {
                let freq = pow(c.ropeBase, -Float(2 * i) / Float(hd))
                let angle = Float(pos) * freq
                let (cosA, sinA) = (cos(angle), sin(angle))
                let (a, b) = c.neoxRope ? (h * hd + i, h * hd + i + hd / 2) : (h * hd + 2 * i, h * hd + 2 * i + 1)
                let x0 = vec[a]
                let x1 = vec[b]
                vec[a] = x0 * cosA - x1 * sinA
                vec[b] = x0 * sinA + x1 * cosA
            }
        }
    }
}

/// Pointers handed to pool threads for the duration of one job (the job ends before the buffer does).
struct UncheckedPointer: @unchecked Sendable {
    let pointer: UnsafePointer<Float>
    init(_ p: UnsafePointer<Float>) { pointer = p }
}

/// A writable pointer handed to pool threads; each thread writes disjoint rows.
struct UncheckedMutablePointer: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<Float>
    init(_ p: UnsafeMutablePointer<Float>) { pointer = p }
}
