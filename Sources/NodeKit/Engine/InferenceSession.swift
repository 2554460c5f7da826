import CKernels
import Foundation

/// One generation's state: the KV cache, sized to the request, and scratch buffers.
///
/// Tokens are evaluated in batches of up to `maxBatch` (the prompt) or one at a time (decoding). Every
/// number a token produces is computed the same way in both cases, so a batched prompt gives bit-identical
/// logits to feeding it token by token, and results do not depend on the thread count.
public final class InferenceSession: @unchecked Sendable {
    // Used by one generation at a time; the buffers are owned and freed in deinit.
    /// The model.
    public let model: LlamaModel
    /// Tokens the cache can hold.
    public let capacity: Int
    /// Tokens evaluated so far.
    public private(set) var position = 0
    /// The threads matrix products are split over.
    public let pool: ThreadPool
    /// The most tokens evaluated in one pass over the weights.
    public let maxBatch: Int
    /// The logits of the last evaluated position (after an evaluation that asked for them).
    public private(set) var logits: [Float]

    let kvWidth: Int
    let keys: UnsafeMutablePointer<Float>
    let values: UnsafeMutablePointer<Float>
    // Batch scratch, maxBatch rows each: x, xb, q, att, out (embedding wide), k, v (kvWidth), h1, h3 (feed-forward).
    let x, xb, q, att, out, k, v, h1, h3: UnsafeMutablePointer<Float>
    let scores: UnsafeMutablePointer<Float>
    let cosines: UnsafeMutablePointer<Float>
    let sines: UnsafeMutablePointer<Float>

    /// A session holding up to `capacity` tokens, computing on `threads` threads (or a shared pool).
    public init(model: LlamaModel, capacity: Int, threads: Int = 1, pool: ThreadPool? = nil, maxBatch: Int = 64) {
        self.model = model
        self.pool = pool ?? ThreadPool(threads: threads)
        self.capacity = max(1, min(capacity, model.config.contextLength))
        self.maxBatch = max(1, min(maxBatch, self.capacity))
        let c = model.config
        kvWidth = c.kvHeads * c.headDimension
        func buffer(_ n: Int) -> UnsafeMutablePointer<Float> {
            let p = UnsafeMutablePointer<Float>.allocate(capacity: max(1, n))
            p.initialize(repeating: 0, count: max(1, n))
            return p
        }
        keys = buffer(c.layers * self.capacity * kvWidth)
        values = buffer(c.layers * self.capacity * kvWidth)
        let b = self.maxBatch
        x = buffer(b * c.embedding)
        xb = buffer(b * c.embedding)
        q = buffer(b * c.embedding)
        att = buffer(b * c.embedding)
        out = buffer(b * c.embedding)
        k = buffer(b * kvWidth)
        v = buffer(b * kvWidth)
        h1 = buffer(b * c.feedForward)
        h3 = buffer(b * c.feedForward)
        scores = buffer(self.capacity)
        cosines = buffer(b * c.headDimension / 2)
        sines = buffer(b * c.headDimension / 2)
        logits = [Float](repeating: 0, count: c.vocabulary)
    }

    deinit {
        for p in [keys, values, x, xb, q, att, out, k, v, h1, h3, scores, cosines, sines] { p.deallocate() }
    }

    /// A copy of this session (cache, position and logits) that continues independently, on `pool`.
    public func fork(pool: ThreadPool? = nil) -> InferenceSession {
        let copy = InferenceSession(model: model, capacity: capacity, pool: pool ?? self.pool, maxBatch: maxBatch)
        let c = model.config
        for layer in 0..<c.layers {
            let base = layer * capacity * kvWidth
            (copy.keys + base).update(from: keys + base, count: position * kvWidth)
            (copy.values + base).update(from: values + base, count: position * kvWidth)
        }
        copy.position = position
        copy.logits = logits
        return copy
    }

    /// Evaluates `token` at the next position; with `computeLogits`, fills `logits`.
    public func evaluate(_ token: Int, computeLogits: Bool = true) throws(EngineError) {
        try evaluate([token], computeLogits: computeLogits)
    }

    /// Evaluates `tokens` at the next positions, in batches; with `computeLogits`, fills `logits` for the last.
    public func evaluate(_ tokens: [Int], computeLogits: Bool = true) throws(EngineError) {
        let c = model.config
        for token in tokens where token < 0 || token >= c.vocabulary {
            throw EngineError("token id \(token) is outside the vocabulary")
        }
        guard position + tokens.count <= capacity else {
            throw EngineError("\(position + tokens.count) tokens exceed the context of \(capacity) tokens")
        }
        var start = 0
        while start < tokens.count {
            let end = min(tokens.count, start + maxBatch)
            forward(tokens[start..<end], computeLogits: computeLogits && end == tokens.count)
            start = end
        }
    }

    private func forward(_ tokens: ArraySlice<Int>, computeLogits: Bool) {
        let m = model
        let c = m.config
        let n = tokens.count
        let e = c.embedding, f = c.feedForward, kw = kvWidth
        let pos0 = position
        for (t, token) in tokens.enumerated() { m.tokenEmbedding.row(token, into: x + t * e) }
        let half = c.headDimension / 2
        for t in 0..<n {
            for i in 0..<half {
                let angle = Float(pos0 + t) * m.inverseFrequencies[i]
                cosines[t * half + i] = cos(angle)
                sines[t * half + i] = sin(angle)
            }
        }
        for (layer, block) in m.blocks.enumerated() {
            for t in 0..<n { rmsNorm(x + t * e, block.attentionNorm, into: xb + t * e, count: e) }
            matmul(block.q, xb, n, q)
            matmul(block.k, xb, n, k)
            matmul(block.v, xb, n, v)
            if let b = block.qBias { addBias(q, b, n) }
            if let b = block.kBias { addBias(k, b, n) }
            if let b = block.vBias { addBias(v, b, n) }
            let cacheBase = layer * capacity * kw
            for t in 0..<n {
                rope(q + t * e, heads: c.heads, t: t)
                rope(k + t * kw, heads: c.kvHeads, t: t)
                (keys + cacheBase + (pos0 + t) * kw).update(from: k + t * kw, count: kw)
                (values + cacheBase + (pos0 + t) * kw).update(from: v + t * kw, count: kw)
            }
            for t in 0..<n { attention(layer: layer, pos: pos0 + t, query: q + t * e, into: att + t * e) }
            matmul(block.o, att, n, out)
            for i in 0..<(n * e) { x[i] += out[i] }
            for t in 0..<n { rmsNorm(x + t * e, block.ffnNorm, into: xb + t * e, count: e) }
            matmul(block.gate, xb, n, h1)
            matmul(block.up, xb, n, h3)
            for i in 0..<(n * f) {
                let g = h1[i]
                h1[i] = g / (1 + exp(-g)) * h3[i]
            }
            matmul(block.down, h1, n, out)
            for i in 0..<(n * e) { x[i] += out[i] }
        }
        position += n
        guard computeLogits else { return }
        rmsNorm(x + (n - 1) * e, m.outputNorm, into: xb, count: e)
        logits.withUnsafeMutableBufferPointer { matmul(m.output, xb, 1, $0.baseAddress!) }
    }

    /// Multi-head attention of one position over the cache up to it, per head.
    private func attention(layer: Int, pos: Int, query: UnsafeMutablePointer<Float>, into a: UnsafeMutablePointer<Float>) {
        let c = model.config
        let hd = c.headDimension
        let kw = kvWidth
        let group = c.heads / c.kvHeads
        let scale = 1 / Float(hd).squareRoot()
        let layerKeys = keys + layer * capacity * kw, layerValues = values + layer * capacity * kw
        let s = scores
        for h in 0..<c.heads {
            let kvh = h / group
            var maxScore = -Float.infinity
            for t in 0...pos {
                let score = ck_dot_f32(query + h * hd, layerKeys + t * kw + kvh * hd, Int32(hd)) * scale
                s[t] = score
                maxScore = max(maxScore, score)
            }
            var sum: Float = 0
            for t in 0...pos {
                s[t] = exp(s[t] - maxScore)
                sum += s[t]
            }
            let o = a + h * hd
            o.update(repeating: 0, count: hd)
            for t in 0...pos {
                let w = s[t] / sum
                let row = layerValues + t * kw + kvh * hd
                for i in 0..<hd { o[i] += w * row[i] }
            }
        }
    }

    /// `out[t] = w · input[t]` for n tokens, rows split over the pool (each row is computed by one thread
    /// the same way whatever the thread count, so the result is bit-identical for 1, 2 or 8 threads).
    private func matmul(_ w: WeightMatrix, _ input: UnsafeMutablePointer<Float>, _ n: Int, _ output: UnsafeMutablePointer<Float>) {
        let xs = UncheckedPointer(UnsafePointer(input))
        let ys = UncheckedMutablePointer(output)
        if pool.count == 1 || w.rows * w.columns * n < 1 << 16 {
            w.multiply(xs.pointer, tokens: n, into: ys.pointer, yStride: w.rows, rows: 0..<w.rows)
        } else {
            pool.parallelFor(w.rows) { range in w.multiply(xs.pointer, tokens: n, into: ys.pointer, yStride: w.rows, rows: range) }
        }
    }

    private func addBias(_ p: UnsafeMutablePointer<Float>, _ bias: [Float], _ n: Int) {
        let width = bias.count
        for t in 0..<n {
            for i in 0..<width { p[t * width + i] += bias[i] }
        }
    }

    private func rmsNorm(_ input: UnsafeMutablePointer<Float>, _ weight: [Float], into output: UnsafeMutablePointer<Float>, count: Int) {
        var ss: Float = 0
        for i in 0..<count { ss += input[i] * input[i] }
        let scale = 1 / (ss / Float(count) + model.config.rmsEpsilon).squareRoot()
        for i in 0..<count { output[i] = input[i] * scale * weight[i] }
    }

    /// RoPE at the batch's t-th position: NEOX pairs (i, i + d/2) for qwen2, adjacent pairs for llama.
    private func rope(_ vec: UnsafeMutablePointer<Float>, heads: Int, t: Int) {
        let c = model.config
        let hd = c.headDimension
        let half = hd / 2
        for h in 0..<heads {
            for i in 0..<half {
                let cosA = cosines[t * half + i], sinA = sines[t * half + i]
                let (a, b) = c.neoxRope ? (h * hd + i, h * hd + i + half) : (h * hd + 2 * i, h * hd + 2 * i + 1)
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
