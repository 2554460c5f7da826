import CKernels
import Foundation

/// Some tokens of one session to evaluate in a pass: they take the session's next positions.
struct BatchSegment {
    /// The session whose cache the tokens extend.
    let session: InferenceSession
    /// The tokens, at `session.position`, `session.position + 1`, …
    let tokens: ArraySlice<Int>
    /// Whether to fill `session.logits` for the last of them.
    let computeLogits: Bool
}

/// Scratch for one pass of up to `rows` tokens (and the logits of up to `logitRows` of them).
final class BatchWorkspace {
    // Owned buffers, freed in deinit; used by one pass at a time.
    let rows: Int
    let logitRows: Int
    // Per row: x, xb, q, att, out (embedding wide), k, v (KV wide), h1, h3 (feed-forward), RoPE cosines and sines.
    let x, xb, q, att, out, k, v, h1, h3, cosines, sines: UnsafeMutablePointer<Float>
    /// Attention scores of one head over a whole context.
    let scores: UnsafeMutablePointer<Float>
    /// `logitRows` rows of vocabulary logits.
    let logits: UnsafeMutablePointer<Float>
    private let buffers: [UnsafeMutablePointer<Float>]

    init(model: LlamaModel, rows: Int, logitRows: Int = 1) {
        let c = model.config
        self.rows = max(1, rows)
        self.logitRows = max(1, min(logitRows, self.rows))
        let kw = c.kvHeads * c.headDimension
        var made: [UnsafeMutablePointer<Float>] = []
        func buffer(_ n: Int) -> UnsafeMutablePointer<Float> {
            let p = UnsafeMutablePointer<Float>.allocate(capacity: max(1, n))
            p.initialize(repeating: 0, count: max(1, n))
            made.append(p)
            return p
        }
        let b = self.rows
        x = buffer(b * c.embedding)
        xb = buffer(b * c.embedding)
        q = buffer(b * c.embedding)
        att = buffer(b * c.embedding)
        out = buffer(b * c.embedding)
        k = buffer(b * kw)
        v = buffer(b * kw)
        h1 = buffer(b * c.feedForward)
        h3 = buffer(b * c.feedForward)
        cosines = buffer(b * c.headDimension / 2)
        sines = buffer(b * c.headDimension / 2)
        scores = buffer(c.contextLength)
        logits = buffer(self.logitRows * c.vocabulary)
        buffers = made
    }

    deinit { for p in buffers { p.deallocate() } }
}

/// One pass over the weights for the tokens of several sessions (continuous batching).
///
/// Every row is computed on its own: norms, RoPE, the cache writes and attention read only that row and its own
/// session's cache, and each matrix-product output `(row, token)` is one dot product computed the same way for any
/// number of tokens. So a session's logits do not depend on what else is in the pass, in what order, or how its
/// prompt was split into chunks.
enum BatchForward {
    /// Evaluates `segments` (each session at most once, all on `model`, at most `workspace.rows` tokens together,
    /// at most `workspace.logitRows` asking for logits) and advances their positions.
    static func run(_ segments: [BatchSegment], model m: LlamaModel, pool: ThreadPool, workspace w: BatchWorkspace) {
        let c = m.config
        let e = c.embedding, f = c.feedForward, kw = c.kvHeads * c.headDimension
        let half = c.headDimension / 2
        // Row r belongs to segment rowSegment[r] at cache position rowPosition[r].
        var rowSession: [InferenceSession] = []
        var rowPosition: [Int] = []
        for segment in segments {
            precondition(segment.session.model === m, "a pass runs one model")
            for (t, token) in segment.tokens.enumerated() {
                m.tokenEmbedding.row(token, into: w.x + rowSession.count * e)
                rowSession.append(segment.session)
                rowPosition.append(segment.session.position + t)
            }
        }
        let n = rowSession.count
        guard n > 0 else { return }
        precondition(n <= w.rows, "a pass holds at most \(w.rows) tokens")
        for r in 0..<n {
            for i in 0..<half {
                let angle = Float(rowPosition[r]) * m.inverseFrequencies[i]
                w.cosines[r * half + i] = cos(angle)
                w.sines[r * half + i] = sin(angle)
            }
        }
        for (layer, block) in m.blocks.enumerated() {
            for r in 0..<n { rmsNorm(w.x + r * e, block.attentionNorm, into: w.xb + r * e, count: e, epsilon: c.rmsEpsilon) }
            matmul(block.q, w.xb, n, w.q, pool)
            matmul(block.k, w.xb, n, w.k, pool)
            matmul(block.v, w.xb, n, w.v, pool)
            if let b = block.qBias { addBias(w.q, b, n) }
            if let b = block.kBias { addBias(w.k, b, n) }
            if let b = block.vBias { addBias(w.v, b, n) }
            for r in 0..<n {
                rope(w.q + r * e, heads: c.heads, row: r, config: c, workspace: w)
                rope(w.k + r * kw, heads: c.kvHeads, row: r, config: c, workspace: w)
                let s = rowSession[r]
                let slot = layer * s.capacity * kw + rowPosition[r] * kw
                (s.keys + slot).update(from: w.k + r * kw, count: kw)
                (s.values + slot).update(from: w.v + r * kw, count: kw)
            }
            for r in 0..<n {
                attention(rowSession[r], layer: layer, pos: rowPosition[r], query: w.q + r * e, into: w.att + r * e, workspace: w)
            }
            matmul(block.o, w.att, n, w.out, pool)
            for i in 0..<(n * e) { w.x[i] += w.out[i] }
            for r in 0..<n { rmsNorm(w.x + r * e, block.ffnNorm, into: w.xb + r * e, count: e, epsilon: c.rmsEpsilon) }
            matmul(block.gate, w.xb, n, w.h1, pool)
            matmul(block.up, w.xb, n, w.h3, pool)
            for i in 0..<(n * f) {
                let g = w.h1[i]
                w.h1[i] = g / (1 + exp(-g)) * w.h3[i]
            }
            matmul(block.down, w.h1, n, w.out, pool)
            for i in 0..<(n * e) { w.x[i] += w.out[i] }
        }
        // The last row of each segment that asks for logits, normed side by side, then one pass over the output head.
        var wanting: [InferenceSession] = []
        var row = 0
        for segment in segments {
            row += segment.tokens.count
            segment.session.position += segment.tokens.count
            guard segment.computeLogits, !segment.tokens.isEmpty else { continue }
            rmsNorm(w.x + (row - 1) * e, m.outputNorm, into: w.xb + wanting.count * e, count: e, epsilon: c.rmsEpsilon)
            wanting.append(segment.session)
        }
        guard !wanting.isEmpty else { return }
        precondition(wanting.count <= w.logitRows, "a pass computes at most \(w.logitRows) rows of logits")
        matmul(m.output, w.xb, wanting.count, w.logits, pool)
        let vocabulary = c.vocabulary
        for (j, session) in wanting.enumerated() {
            session.logits.withUnsafeMutableBufferPointer { $0.baseAddress!.update(from: w.logits + j * vocabulary, count: vocabulary) }
        }
    }

    /// Multi-head attention of one position over `session`'s cache up to it, per head.
    private static func attention(
        _ session: InferenceSession, layer: Int, pos: Int, query: UnsafeMutablePointer<Float>, into a: UnsafeMutablePointer<Float>,
        workspace w: BatchWorkspace
    ) {
        let c = session.model.config
        let hd = c.headDimension
        let kw = session.kvWidth
        let group = c.heads / c.kvHeads
        let scale = 1 / Float(hd).squareRoot()
        let layerKeys = session.keys + layer * session.capacity * kw, layerValues = session.values + layer * session.capacity * kw
        let s = w.scores
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
                let weight = s[t] / sum
                let row = layerValues + t * kw + kvh * hd
                for i in 0..<hd { o[i] += weight * row[i] }
            }
        }
    }

    /// `out[t] = w · input[t]` for n tokens, rows split over the pool (each output is one dot product computed by one
    /// thread the same way whatever the thread count and token count, so the result is bit-identical for any of them).
    private static func matmul(
        _ w: WeightMatrix, _ input: UnsafeMutablePointer<Float>, _ n: Int, _ output: UnsafeMutablePointer<Float>, _ pool: ThreadPool
    ) {
        let xs = UncheckedPointer(UnsafePointer(input))
        let ys = UncheckedMutablePointer(output)
        if pool.count == 1 || w.rows * w.columns * n < 1 << 16 {
            w.multiply(xs.pointer, tokens: n, into: ys.pointer, yStride: w.rows, rows: 0..<w.rows)
        } else {
            pool.parallelFor(w.rows) { range in w.multiply(xs.pointer, tokens: n, into: ys.pointer, yStride: w.rows, rows: range) }
        }
    }

    private static func addBias(_ p: UnsafeMutablePointer<Float>, _ bias: [Float], _ n: Int) {
        let width = bias.count
        for t in 0..<n {
            for i in 0..<width { p[t * width + i] += bias[i] }
        }
    }

    private static func rmsNorm(
        _ input: UnsafeMutablePointer<Float>, _ weight: [Float], into output: UnsafeMutablePointer<Float>, count: Int, epsilon: Float
    ) {
        var ss: Float = 0
        for i in 0..<count { ss += input[i] * input[i] }
        let scale = 1 / (ss / Float(count) + epsilon).squareRoot()
        for i in 0..<count { output[i] = input[i] * scale * weight[i] }
    }

    /// RoPE at row `row`'s position: NEOX pairs (i, i + d/2) for qwen2, adjacent pairs for llama.
    private static func rope(_ vec: UnsafeMutablePointer<Float>, heads: Int, row: Int, config c: ModelConfig, workspace w: BatchWorkspace) {
        let hd = c.headDimension
        let half = hd / 2
        for h in 0..<heads {
            for i in 0..<half {
                let cosA = w.cosines[row * half + i], sinA = w.sines[row * half + i]
                let (a, b) = c.neoxRope ? (h * hd + i, h * hd + i + half) : (h * hd + 2 * i, h * hd + 2 * i + 1)
                let x0 = vec[a]
                let x1 = vec[b]
                vec[a] = x0 * cosA - x1 * sinA
                vec[b] = x0 * sinA + x1 * cosA
            }
        }
    }
}
