import CrynuxSDK
import Foundation

/// How the next token is chosen.
///
/// With `doSample` false (the default) decoding is greedy: the highest logit, the lowest id on ties.
/// Sampling applies, in this order: repetition penalty (Hugging Face's rule: positive logits divided,
/// negative multiplied), temperature, top-k (ties at the k-th value kept), softmax, top-p, min-p,
/// typical-p, then draws from the remaining mass with `EngineRandom` seeded by `seed`.
public struct SamplingOptions: Sendable, Hashable {
    /// Sample instead of greedy decoding.
    public var doSample: Bool
    /// Softmax temperature (> 0).
    public var temperature: Float
    /// Keep only the k most likely tokens.
    public var topK: Int?
    /// Keep the smallest set of tokens whose probability reaches p.
    public var topP: Float?
    /// Drop tokens less likely than min-p times the most likely one.
    public var minP: Float?
    /// Locally typical sampling mass.
    public var typicalP: Float?
    /// Penalty (> 1 discourages) for tokens already in the prompt or output.
    public var repetitionPenalty: Float?
    /// The seed of the random stream.
    public var seed: UInt64

    /// Creates options; the defaults are greedy decoding.
    public init(
        doSample: Bool = false, temperature: Float = 1, topK: Int? = nil, topP: Float? = nil, minP: Float? = nil, typicalP: Float? = nil,
        repetitionPenalty: Float? = nil, seed: UInt64 = 0
    ) {
        self.doSample = doSample
        self.temperature = temperature
        self.topK = topK
        self.topP = topP
        self.minP = minP
        self.typicalP = typicalP
        self.repetitionPenalty = repetitionPenalty
        self.seed = seed
    }
}

/// The engine's documented random stream: xoshiro256** seeded through SplitMix64, so a seed gives the
/// same draws on every machine and thread count.
public struct EngineRandom: RandomNumberGenerator, Sendable {
    var s: (UInt64, UInt64, UInt64, UInt64)

    /// Seeds the stream.
    public init(seed: UInt64) {
        var seeder = SplitMix64(seed: seed)
        s = (seeder.next(), seeder.next(), seeder.next(), seeder.next())
    }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        let result = ((s.1 &* 5) << 7 | (s.1 &* 5) >> 57) &* 9
        let t = s.1 << 17
        s.2 ^= s.0
        s.3 ^= s.1
        s.1 ^= s.2
        s.0 ^= s.3
        s.2 ^= t
        s.3 = s.3 << 45 | s.3 >> 19
        return result
    }

    /// A uniform double in [0, 1) from 53 random bits.
    public mutating func unit() -> Double { Double(next() >> 11) / Double(1 << 53) }
}

/// Why generation ended.
public enum FinishReason: String, Sendable, Hashable {
    /// The model produced its end-of-sequence token.
    case stop
    /// The token limit (or a stop string, as the network counts it) ended it.
    case length
}

/// One generated sequence.
public struct GeneratedSequence: Sendable, Hashable {
    /// The new token ids (the end token included when produced).
    public var tokens: [Int]
    /// The decoded text, special tokens removed.
    public var text: String
    /// Why it ended.
    public var finishReason: FinishReason
}

/// What a streaming generation reports, in order: each sequence's tokens, then its end.
public enum GenerationEvent: Sendable, Hashable {
    /// Sequence `index` produced token `id`; `text` is the text it completes (empty while a UTF-8 character
    /// is still incomplete, and for special tokens).
    case token(index: Int, id: Int, text: String)
    /// Sequence `index` ended.
    case finished(index: Int, sequence: GeneratedSequence)
}

/// Turns a token stream into text pieces that never split a UTF-8 character.
public struct StreamingDetokenizer: Sendable {
    let tokenizer: BPETokenizer
    var pending: [UInt8] = []
    var started = false

    /// A detokenizer for `tokenizer`'s ids; special tokens produce no text.
    public init(tokenizer: BPETokenizer) { self.tokenizer = tokenizer }

    /// The text `id` completes.
    public mutating func append(_ id: Int) -> String {
        guard !tokenizer.specialIDs.contains(id) else { return "" }
        var bytes = tokenizer.tokenBytes(id)
        // SentencePiece text loses the leading space its prefix added, as `decode` does.
        if !started, !bytes.isEmpty {
            started = true
            if tokenizer.model == .sentencePiece, tokenizer.spacePrefix != .never, bytes.first == UInt8(ascii: " ") { bytes.removeFirst() }
        }
        pending += bytes
        let keep = Self.incompleteSuffix(pending)
        let text = String(decoding: pending[..<(pending.count - keep)], as: UTF8.self)
        pending.removeFirst(pending.count - keep)
        return text
    }

    /// What is left at the end (an incomplete character decodes to U+FFFD, as the full decode does).
    public mutating func flush() -> String {
        defer { pending = [] }
        return String(decoding: pending, as: UTF8.self)
    }

    /// How many trailing bytes start a UTF-8 character that is not complete yet.
    static func incompleteSuffix(_ bytes: [UInt8]) -> Int {
        var i = bytes.count - 1
        var continuation = 0
        while i >= 0, continuation < 3, bytes[i] & 0xC0 == 0x80 {
            continuation += 1
            i -= 1
        }
        guard i >= 0 else { return 0 }
        let lead = bytes[i]
        let length = lead >= 0xF0 && lead < 0xF8 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1
        return length > 1 && continuation < length - 1 ? continuation + 1 : 0
    }
}

/// A flag another thread sets to stop a generation.
final class CancellationFlag: @unchecked Sendable {
    // Guarded by `lock`.
    private let lock = NSLock()
    private var set = false
    func cancel() { lock.withLock { set = true } }
    var isCancelled: Bool { lock.withLock { set } }
}

/// Runs prompts through a model: greedy or sampled decoding, stop strings, several sequences (the prompt is
/// evaluated once and its cache shared), streaming, and the network's `GPTTaskArgs` → `GPTTaskResponse`.
/// Calls from several threads run together: each pass over the weights serves every request in flight (continuous
/// batching), and each request's result is bit-identical to running it alone.
public final class TextGenerator: @unchecked Sendable {
    // The model, tokenizer and template are immutable; `lock` guards `variants`; the scheduler owns the pool.
    /// The model.
    public let model: LlamaModel
    /// Its tokenizer.
    public let tokenizer: BPETokenizer
    /// The model's chat template, when the GGUF has one.
    public let chatTemplate: ChatTemplate?
    let pool: ThreadPool
    private let lock = NSLock()
    private var variants: [WeightQuantization: LlamaModel] = [:]
    /// Runs every generation in flight together (continuous batching).
    let scheduler: BatchScheduler

    /// Tokens this generator has chosen since it was made (all requests, all sequences).
    public var tokensGenerated: Int { scheduler.tokensGenerated }

    /// Passes over the weights so far that served more than one request at once (continuous batching at work).
    public var passesWithSeveralRequests: Int { scheduler.passesWithSeveralRequests }

    /// Loads everything from a GGUF file and computes on `threads` threads.
    public init(path: String, threads: Int = 1) throws {
        let file = try GGUFFile(path: path)
        model = try LlamaModel(file: file)
        tokenizer = try BPETokenizer(gguf: file)
        chatTemplate = try file["tokenizer.chat_template"]?.string.map { try ChatTemplate(source: $0) }
        pool = ThreadPool(threads: threads)
        scheduler = BatchScheduler(model: model, tokenizer: tokenizer, pool: pool)
    }

    deinit { scheduler.stop() }

    /// The most sequences one request may ask for (`num_return_sequences`): each holds a copy of the KV cache.
    public static let maxSequences = 16

    /// Generates up to `maxNewTokens` after `prompt`, `count` times; `onEvent` sees every token and the end
    /// of every sequence as they happen, on the engine's thread. `isCancelled` is polled between tokens. Requests from
    /// several threads are decoded together; each result is the same as alone.
    public func generate(
        prompt: [Int], maxNewTokens: Int, stopStrings: [String] = [], sampling: SamplingOptions = SamplingOptions(), count: Int = 1,
        quantization: WeightQuantization = .original, isCancelled: @escaping () -> Bool = { false }, onEvent: ((GenerationEvent) -> Void)? = nil
    ) throws(EngineError) -> [GeneratedSequence] {
        guard !prompt.isEmpty else { throw EngineError("the prompt is empty", kind: .invalidArgument) }
        guard maxNewTokens >= 0 else { throw EngineError("max_new_tokens must not be negative", kind: .invalidArgument) }
        guard (1...Self.maxSequences).contains(count) else {
            throw EngineError("num_return_sequences must be 1…\(Self.maxSequences)", kind: .invalidArgument)
        }
        // Compared without adding, so a hostile max_new_tokens near Int.max cannot overflow.
        guard prompt.count <= model.config.contextLength, maxNewTokens <= model.config.contextLength - prompt.count else {
            throw EngineError(
                "the prompt (\(prompt.count) tokens) plus \(maxNewTokens) new tokens exceed the context of \(model.config.contextLength)",
                kind: .invalidArgument)
        }
        if let bad = prompt.first(where: { [vocabulary = self.model.config.vocabulary] in $0 < 0 || $0 >= vocabulary }) {
            throw EngineError("token id \(bad) is outside the vocabulary", kind: .invalidArgument)
        }
        lock.lock()
        let built = Result { () throws(EngineError) in try variant(quantization) }
        lock.unlock()
        let model = try built.get()
        // Run by the scheduler's thread together with every other request in flight; this thread waits for it.
        let job = GenerationJob(
            model: model, prompt: prompt, maxNewTokens: maxNewTokens, stopStrings: stopStrings, sampling: sampling, count: count, pool: pool,
            tokenizer: tokenizer, isCancelled: isCancelled, onEvent: onEvent)
        scheduler.submit(job)
        job.done.wait()
        guard let outcome = job.outcome else { throw EngineError("the engine lost a request") }
        return try outcome.get()
    }

    /// The same generation as an `AsyncSequence` of events, computed on a thread of its own; ending the
    /// iteration (or cancelling its task) stops the computation at the next token.
    public func stream(
        prompt: [Int], maxNewTokens: Int, stopStrings: [String] = [], sampling: SamplingOptions = SamplingOptions(), count: Int = 1,
        quantization: WeightQuantization = .original
    ) -> AsyncThrowingStream<GenerationEvent, any Error> {
        AsyncThrowingStream { continuation in
            let flag = CancellationFlag()
            continuation.onTermination = { _ in flag.cancel() }
            let thread = Thread { [self] in
                do {
                    _ = try generate(
                        prompt: prompt, maxNewTokens: maxNewTokens, stopStrings: stopStrings, sampling: sampling, count: count,
                        quantization: quantization, isCancelled: { flag.isCancelled }, onEvent: { continuation.yield($0) })
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            thread.name = "crynux-generate"
            thread.stackSize = 8 << 20
            thread.start()
        }
    }

    /// The model with `quantization` applied (built once, kept); the caller holds `lock`.
    private func variant(_ quantization: WeightQuantization) throws(EngineError) -> LlamaModel {
        if quantization == .original || !model.hasFloatBlockWeights { return model }
        if let cached = variants[quantization] { return cached }
        let built = try model.requantized(quantization)
        variants[quantization] = built
        return built
    }

    /// The prompt of `task` as token ids: its messages and tools through the model's chat template, then the tokenizer.
    public func promptTokens(for task: GPTTaskArgs) throws -> [Int] {
        guard let template = chatTemplate else { throw EngineError("the model has no chat template") }
        var messages = task.messages
        for i in messages.indices {
            if case .blocks(let blocks)? = messages[i].content {
                messages[i].content = .text(blocks.map { block -> String in
                    if case .text(let t) = block { return t }
                    return "<image>"
                }.joined())
            }
        }
        var arguments: [String: JSONValue] = [:]
        if case .object(let members)? = task.templateArgs { for m in members { arguments[m.key] = m.value } }
        let prompt: String
        do {
            prompt = try template.render(
                messages: messages, tools: task.tools, addGenerationPrompt: true, bosToken: tokenizer.bosID.flatMap(tokenizer.token),
                eosToken: tokenizer.eosID.flatMap(tokenizer.token), arguments: arguments)
        } catch { throw EngineError("the chat template failed on these messages: \(error)", kind: .invalidArgument) }
        return tokenizer.encode(prompt)
    }

    /// Runs an LLM task as the network's worker does: the model's chat template over the messages (content
    /// blocks flattened to text), tokenised without added tokens, generation, then `GPTTaskResponse`.
    /// `quantize_bits` re-quantizes float weights (quantized files run as they are); `dtype` must be `auto`
    /// or `float32`, the precision the engine computes in. Invalid arguments throw `EngineError.Kind.invalidArgument`;
    /// past `deadline` the generation stops between tokens with `EngineError.Kind.cancelled`.
    public func run(task: GPTTaskArgs, until deadline: ContinuousClock.Instant? = nil, onEvent: ((GenerationEvent) -> Void)? = nil) throws
        -> GPTTaskResponse
    {
        do { try task.validate() } catch { throw EngineError("invalid task arguments: \(error)", kind: .invalidArgument) }
        let quantization = try WeightQuantization(quantizeBits: task.quantizeBits)
        if let dtype = task.dtype, dtype != .auto, dtype != .float32 {
            throw EngineError("dtype \(dtype.rawValue) is not supported by this engine (it computes in float32)", kind: .invalidArgument)
        }
        let ids = try promptTokens(for: task)
        let config = task.generationConfig
        let sampling = SamplingOptions(
            doSample: config?.doSample ?? false, temperature: Float(config?.temperature ?? 1), topK: config?.topK,
            topP: config?.topP.map(Float.init), minP: config?.minP.map(Float.init), typicalP: config?.typicalP.map(Float.init),
            repetitionPenalty: config?.repetitionPenalty.map(Float.init), seed: UInt64(bitPattern: Int64(task.seed ?? 0)))
        let sequences = try generate(
            prompt: ids, maxNewTokens: task.resolvedMaxNewTokens, stopStrings: config?.stopStrings ?? [], sampling: sampling,
            count: task.resolvedNumReturnSequences, quantization: quantization,
            isCancelled: { deadline.map { ContinuousClock.now >= $0 } ?? false }, onEvent: onEvent)
        let completion = sequences.reduce(0) { $0 + $1.tokens.count }
        return GPTTaskResponse(
            model: task.model,
            choices: sequences.enumerated().map { i, s in
                GPTTaskResponse.Choice(
                    finishReason: s.finishReason.rawValue,
                    message: GPTTaskResponse.Message(content: s.text.trimmingCharacters(in: .whitespacesAndNewlines)), index: i)
            },
            usage: GPTTaskResponse.Usage(promptTokens: ids.count, completionTokens: completion, totalTokens: ids.count + completion))
    }

    /// Picks the next token from `logits` (see `SamplingOptions` for the order of the steps).
    static func choose(_ raw: [Float], history: [Int], _ o: SamplingOptions, _ random: inout EngineRandom) -> Int {
        var logits = raw
        if let penalty = o.repetitionPenalty, penalty != 1 {
            for id in Set(history) where id < logits.count {
                logits[id] = logits[id] > 0 ? logits[id] / penalty : logits[id] * penalty
            }
        }
        if !o.doSample || o.temperature <= 0 {
            var best = 0
            for i in 1..<logits.count where logits[i] > logits[best] { best = i }
            return best
        }
        var candidates = logits.indices.map { ($0, logits[$0] / o.temperature) }
        candidates.sort { $0.1 > $1.1 || ($0.1 == $1.1 && $0.0 < $1.0) }
        if let k = o.topK, k > 0, k < candidates.count {
            let threshold = candidates[k - 1].1
            candidates = candidates.filter { $0.1 >= threshold }
        }
        let maxLogit = candidates[0].1
        var probs = candidates.map { Double(exp($0.1 - maxLogit)) }
        var total = probs.reduce(0, +)
        probs = probs.map { $0 / total }
        var keep = probs.count
        if let p = o.topP, p < 1 {
            var cumulative = 0.0
            for (i, q) in probs.enumerated() {
                cumulative += q
                if cumulative >= Double(p) { keep = min(keep, i + 1); break }
            }
        }
        if let m = o.minP, m > 0 {
            let floor = probs[0] * Double(m)
            keep = min(keep, max(1, probs.prefix(keep).filter { $0 >= floor }.count))
        }
        if let t = o.typicalP, t < 1 {
            let entropy = -probs.reduce(0) { $0 + ($1 > 0 ? $1 * log($1) : 0) }
            let order = (0..<keep).sorted { abs(-log(probs[$0]) - entropy) < abs(-log(probs[$1]) - entropy) }
            var cumulative = 0.0
            var chosen = Set<Int>()
            for i in order {
                chosen.insert(i)
                cumulative += probs[i]
                if cumulative > Double(t) { break }
            }
            let kept = (0..<keep).filter { chosen.contains($0) }
            candidates = kept.map { candidates[$0] }
            probs = kept.map { probs[$0] }
            keep = probs.count
        }
        total = probs.prefix(keep).reduce(0, +)
        var u = random.unit() * total
        for i in 0..<keep {
            u -= probs[i]
            if u < 0 { return candidates[i].0 }
        }
        return candidates[keep - 1].0
    }
}
