import CKernels
import Foundation

/// One sequence's state: its KV cache, sized to the request, its position and its last logits.
///
/// Tokens are evaluated in batches of up to `maxBatch` (the prompt) or one at a time (decoding), alone or in one
/// pass with other sessions' tokens (`BatchForward`). Every number a token produces is computed the same way in
/// all these cases, so the logits are bit-identical whatever the batch, its composition and order, and the thread
/// count.
public final class InferenceSession: @unchecked Sendable {
    // Used by one generation at a time; the cache is owned and freed in deinit.
    /// The model.
    public let model: LlamaModel
    /// Tokens the cache can hold.
    public let capacity: Int
    /// Tokens evaluated so far.
    public internal(set) var position = 0
    /// The threads matrix products are split over.
    public let pool: ThreadPool
    /// The most tokens evaluated in one pass over the weights.
    public let maxBatch: Int
    /// The logits of the last evaluated position (after an evaluation that asked for them).
    public internal(set) var logits: [Float]

    let kvWidth: Int
    let keys: UnsafeMutablePointer<Float>
    let values: UnsafeMutablePointer<Float>
    /// Scratch for evaluating this session alone, made on first use.
    private var ownWorkspace: BatchWorkspace?

    /// A session holding up to `capacity` tokens, computing on `threads` threads (or a shared pool).
    public init(model: LlamaModel, capacity: Int, threads: Int = 1, pool: ThreadPool? = nil, maxBatch: Int = 64) {
        self.model = model
        self.pool = pool ?? ThreadPool(threads: threads)
        self.capacity = max(1, min(capacity, model.config.contextLength))
        self.maxBatch = max(1, min(maxBatch, self.capacity))
        let c = model.config
        kvWidth = c.kvHeads * c.headDimension
        let count = max(1, c.layers * self.capacity * kvWidth)
        keys = .allocate(capacity: count)
        keys.initialize(repeating: 0, count: count)
        values = .allocate(capacity: count)
        values.initialize(repeating: 0, count: count)
        logits = [Float](repeating: 0, count: c.vocabulary)
    }

    deinit {
        keys.deallocate()
        values.deallocate()
    }

    /// A copy of this session (cache, position and logits) that continues independently, on `pool`.
    public func fork(pool: ThreadPool? = nil) -> InferenceSession {
        let copy = InferenceSession(model: model, capacity: capacity, pool: pool ?? self.pool, maxBatch: maxBatch)
        copy.copyPrefix(from: self, count: position)
        copy.logits = logits
        return copy
    }

    /// Takes positions `0..<count` of `other`'s cache as its own (same model); the position becomes `count`.
    func copyPrefix(from other: InferenceSession, count: Int) {
        precondition(count <= other.position && count <= capacity && other.kvWidth == kvWidth)
        for layer in 0..<model.config.layers {
            (keys + layer * capacity * kvWidth).update(from: other.keys + layer * other.capacity * kvWidth, count: count * kvWidth)
            (values + layer * capacity * kvWidth).update(from: other.values + layer * other.capacity * kvWidth, count: count * kvWidth)
        }
        position = count
    }

    /// Evaluates `token` at the next position; with `computeLogits`, fills `logits`.
    public func evaluate(_ token: Int, computeLogits: Bool = true) throws(EngineError) {
        try evaluate([token], computeLogits: computeLogits)
    }

    /// Evaluates `tokens` at the next positions, in batches; with `computeLogits`, fills `logits` for the last.
    public func evaluate(_ tokens: [Int], computeLogits: Bool = true) throws(EngineError) {
        try checkRoom(for: tokens)
        let workspace = ownWorkspace ?? BatchWorkspace(model: model, rows: maxBatch)
        ownWorkspace = workspace
        var start = 0
        while start < tokens.count {
            let end = min(tokens.count, start + maxBatch)
            BatchForward.run(
                [BatchSegment(session: self, tokens: tokens[start..<end], computeLogits: computeLogits && end == tokens.count)],
                model: model, pool: pool, workspace: workspace)
            start = end
        }
    }

    /// Throws unless `tokens` are all in the vocabulary and fit the cache after the current position.
    func checkRoom(for tokens: some Collection<Int>) throws(EngineError) {
        let c = model.config
        for token in tokens where token < 0 || token >= c.vocabulary {
            throw EngineError("token id \(token) is outside the vocabulary")
        }
        guard position + tokens.count <= capacity else {
            throw EngineError("\(position + tokens.count) tokens exceed the context of \(capacity) tokens")
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
