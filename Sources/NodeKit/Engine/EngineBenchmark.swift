import Foundation

/// Measures prompt processing and decoding speed the way `llama-bench` does (`-p N -n M`): a prompt of
/// `promptTokens` tokens evaluated from an empty cache, then `decodeTokens` single-token steps with logits.
public enum EngineBenchmark {
    /// Tokens per second for the prompt and for decoding.
    public struct Result: Sendable, Hashable {
        /// Prompt tokens per second.
        public var promptTokensPerSecond: Double
        /// Generated tokens per second.
        public var decodeTokensPerSecond: Double
        /// The process's peak resident memory so far (getrusage), bytes.
        public var peakResidentBytes: Int
        /// The larger session's KV cache, bytes.
        public var kvCacheBytes: Int
        /// The model file's size, bytes.
        public var modelFileBytes: Int
    }

    /// Runs one measurement.
    public static func run(model: LlamaModel, promptTokens: Int, decodeTokens: Int, threads: Int) throws(EngineError) -> Result {
        guard promptTokens >= 1, decodeTokens >= 1 else { throw EngineError("token counts must be at least 1") }
        let pool = ThreadPool(threads: threads)
        // Deterministic, varied token ids (as llama-bench, the content does not matter for speed).
        var random = EngineRandom(seed: 42)
        let prompt = (0..<promptTokens).map { _ in Int(random.next() % UInt64(model.config.vocabulary)) }
        let clock = ContinuousClock()
        let promptTime: Duration
        do {
            let promptSession = InferenceSession(model: model, capacity: promptTokens, pool: pool)
            let promptStart = clock.now
            try promptSession.evaluate(prompt)
            promptTime = clock.now - promptStart
        }
        let decodeSession = InferenceSession(model: model, capacity: decodeTokens + 1, pool: pool)
        var token = 1
        let decodeStart = clock.now
        for _ in 0..<decodeTokens {
            try decodeSession.evaluate(token)
            let logits = decodeSession.logits
            var best = 0
            for i in 1..<logits.count where logits[i] > logits[best] { best = i }
            token = best
        }
        let decodeTime = clock.now - decodeStart
        func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18 }
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        let c = model.config
        return Result(
            promptTokensPerSecond: Double(promptTokens) / seconds(promptTime), decodeTokensPerSecond: Double(decodeTokens) / seconds(decodeTime),
            peakResidentBytes: usage.ru_maxrss * 1024,
            kvCacheBytes: 2 * c.layers * max(promptTokens, decodeTokens + 1) * c.kvHeads * c.headDimension * MemoryLayout<Float>.size,
            modelFileBytes: model.file.storage.buffer.count)
    }
}
