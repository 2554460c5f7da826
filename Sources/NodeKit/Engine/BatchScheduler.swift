import Foundation

/// One generation request as the scheduler runs it: the prompt prefilled in chunks, then each of its `count`
/// sequences decoded in turn, one token per pass, exactly as `TextGenerator.generate` defines it.
final class GenerationJob: @unchecked Sendable {
    // Between `submit` and `done` only the scheduler's thread touches the mutable state; the submitter waits on `done`
    // and reads `outcome` afterwards.
    let model: LlamaModel
    let prompt: [Int]
    let maxNewTokens: Int
    let stopStrings: [String]
    let sampling: SamplingOptions
    let count: Int
    let isCancelled: () -> Bool
    let onEvent: ((GenerationEvent) -> Void)?
    /// The prompt's cache; the last sequence decodes in it, the others in copies.
    let shared: InferenceSession
    var random: EngineRandom
    /// Prompt tokens in `shared`'s cache.
    var prefilled = 0
    /// Whether the latest pass left logits to choose from.
    var fresh = false
    /// The token the next pass evaluates for the sequence being decoded.
    var pending: Int?
    var index = 0
    var session: InferenceSession?
    var generated: [Int] = []
    var finish = FinishReason.length
    var detokenizer: StreamingDetokenizer
    var results: [GeneratedSequence] = []
    var outcome: Result<[GeneratedSequence], EngineError>?
    let done = DispatchSemaphore(value: 0)

    init(
        model: LlamaModel, prompt: [Int], maxNewTokens: Int, stopStrings: [String], sampling: SamplingOptions, count: Int, pool: ThreadPool,
        tokenizer: BPETokenizer, isCancelled: @escaping () -> Bool, onEvent: ((GenerationEvent) -> Void)?
    ) {
        self.model = model
        self.prompt = prompt
        self.maxNewTokens = maxNewTokens
        self.stopStrings = stopStrings
        self.sampling = sampling
        self.count = count
        self.isCancelled = isCancelled
        self.onEvent = onEvent
        shared = InferenceSession(model: model, capacity: prompt.count + maxNewTokens, pool: pool)
        random = EngineRandom(seed: sampling.seed)
        detokenizer = StreamingDetokenizer(tokenizer: tokenizer)
    }

    /// Whether the prompt is still being evaluated.
    var prefilling: Bool { prefilled < prompt.count }

    /// Chooses tokens from the fresh logits until the job needs another pass (`pending` set) or ends (`outcome` set).
    func advance(tokenizer: BPETokenizer, counted: () -> Void) {
        fresh = false
        while true {
            if session == nil {
                session = index == count - 1 ? shared : shared.fork()
                generated = []
                finish = .length
                detokenizer = StreamingDetokenizer(tokenizer: tokenizer)
            }
            guard let session else { return }
            if generated.count < maxNewTokens {
                if isCancelled() {
                    outcome = .failure(EngineError("the generation was cancelled", kind: .cancelled))
                    return
                }
                let next = TextGenerator.choose(session.logits, history: prompt + generated, sampling, &random)
                generated.append(next)
                counted()
                if let onEvent { onEvent(.token(index: index, id: next, text: detokenizer.append(next))) }
                var ended = false
                if next == tokenizer.eosID {
                    finish = .stop
                    ended = true
                } else if !stopStrings.isEmpty {
                    let text = tokenizer.decode(generated, skipSpecial: true)
                    ended = stopStrings.contains { !$0.isEmpty && text.hasSuffix($0) }
                }
                if !ended && generated.count < maxNewTokens {
                    pending = next
                    return
                }
            }
            let sequence = GeneratedSequence(tokens: generated, text: tokenizer.decode(generated, skipSpecial: true), finishReason: finish)
            if let onEvent {
                let rest = detokenizer.flush()
                if !rest.isEmpty { onEvent(.token(index: index, id: -1, text: rest)) }
                onEvent(.finished(index: index, sequence: sequence))
            }
            results.append(sequence)
            self.session = nil
            index += 1
            if index == count {
                outcome = .success(results)
                return
            }
        }
    }
}

/// Continuous batching: one thread runs every generation submitted to a `TextGenerator` together. Each pass over the
/// weights evaluates the next token of every sequence being decoded plus chunks of waiting prompts, up to `maxRows`
/// tokens; requests join and leave between passes. A request's tokens are bit-identical to running it alone
/// (`BatchForward`), and a prompt that begins like a recent one reuses that prefix's cache, which is the same bits.
final class BatchScheduler: @unchecked Sendable {
    // `condition` guards `inbox`, `stopping`, `started` and `generatedCount`; everything else is the loop thread's.
    private let condition = NSCondition()
    private var inbox: [GenerationJob] = []
    private var stopping = false
    private var started = false
    private var generatedCount = 0
    private var sharedPasses = 0
    private var reusedPositions = 0
    let pool: ThreadPool
    let tokenizer: BPETokenizer
    /// The most tokens in one pass (and the most requests decoding at once).
    let maxRows: Int
    private let workspace: BatchWorkspace
    private var prefixes: PrefixCache

    init(model: LlamaModel, tokenizer: BPETokenizer, pool: ThreadPool, maxRows: Int = 64, prefixCacheBytes: Int = 64 << 20) {
        self.pool = pool
        self.tokenizer = tokenizer
        self.maxRows = max(1, maxRows)
        workspace = BatchWorkspace(model: model, rows: self.maxRows, logitRows: self.maxRows)
        prefixes = PrefixCache(byteLimit: prefixCacheBytes)
    }

    /// Tokens chosen so far, all requests together.
    var tokensGenerated: Int { condition.withLock { generatedCount } }

    /// Passes so far that evaluated tokens of more than one request.
    var passesWithSeveralRequests: Int { condition.withLock { sharedPasses } }

    /// Prompt positions taken from the prefix cache instead of being evaluated.
    var prefixPositionsReused: Int { condition.withLock { reusedPositions } }

    /// Queues `job`; its `done` is signalled once `outcome` is set.
    func submit(_ job: GenerationJob) {
        let start: Bool = condition.withLock {
            if stopping {
                job.outcome = .failure(EngineError("the engine has stopped"))
                job.done.signal()
                return false
            }
            inbox.append(job)
            condition.signal()
            defer { started = true }
            return !started
        }
        guard start else { return }
        let thread = Thread { [self] in loop() }
        thread.name = "crynux-batch"
        thread.stackSize = 8 << 20
        thread.start()
    }

    /// Ends the loop; requests not finished fail.
    func stop() {
        condition.withLock {
            stopping = true
            condition.broadcast()
        }
    }

    private func loop() {
        var active: [GenerationJob] = []
        var lastModel: ObjectIdentifier?
        while true {
            condition.lock()
            while inbox.isEmpty && active.isEmpty && !stopping { condition.wait() }
            if stopping {
                let left = active + inbox
                inbox = []
                condition.unlock()
                for job in left {
                    job.outcome = .failure(EngineError("the engine has stopped"))
                    job.done.signal()
                }
                return
            }
            // At most `maxRows` requests at once, so every sequence being decoded gets a row in every pass.
            let admitted = min(inbox.count, maxRows - active.count)
            let arrived = Array(inbox.prefix(admitted))
            inbox.removeFirst(admitted)
            condition.unlock()
            for job in arrived {
                job.prefilled = prefixes.reuse(for: job)
                if job.prefilled > 0 { condition.withLock { reusedPositions += job.prefilled } }
                active.append(job)
            }
            // Choices first: every job whose last pass left logits picks its next token (or ends).
            for job in active where job.fresh || (job.prefilling && job.isCancelled()) {
                if job.prefilling {
                    job.outcome = .failure(EngineError("the generation was cancelled", kind: .cancelled))
                } else {
                    job.advance(tokenizer: tokenizer) { condition.withLock { generatedCount += 1 } }
                }
            }
            for job in active where job.outcome != nil { job.done.signal() }
            active.removeAll { $0.outcome != nil }
            guard !active.isEmpty else { continue }
            // One model per pass: alternate between re-quantized variants when several have work.
            let model = (active.first { ObjectIdentifier($0.model) != lastModel } ?? active[0]).model
            lastModel = ObjectIdentifier(model)
            var segments: [BatchSegment] = []
            var served: [(GenerationJob, Int)] = []
            var rows = 0
            for job in active where job.model === model {
                guard let token = job.pending, let session = job.session else { continue }
                segments.append(BatchSegment(session: session, tokens: [token], computeLogits: true))
                served.append((job, 0))
                rows += 1
            }
            for job in active where job.model === model && job.prefilling && rows < maxRows {
                let take = min(job.prompt.count - job.prefilled, maxRows - rows)
                let end = job.prefilled + take
                segments.append(BatchSegment(session: job.shared, tokens: job.prompt[job.prefilled..<end], computeLogits: end == job.prompt.count))
                served.append((job, take))
                rows += take
            }
            BatchForward.run(segments, model: model, pool: pool, workspace: workspace)
            if segments.count > 1 { condition.withLock { sharedPasses += 1 } }
            for (job, prefill) in served {
                if prefill == 0 {
                    job.pending = nil
                    job.fresh = true
                } else {
                    job.prefilled += prefill
                    if !job.prefilling {
                        job.fresh = true
                        prefixes.store(job)
                    }
                }
            }
        }
    }
}

/// The caches of recent prompts, so that a prompt sharing a beginning with one of them (a system prompt, an earlier
/// turn of the conversation) evaluates only the rest. A cached position holds the same bits a fresh evaluation
/// computes, since each position depends only on the tokens up to it.
struct PrefixCache {
    private struct Entry {
        let model: ObjectIdentifier
        let tokens: [Int]
        let session: InferenceSession
        var bytes: Int { session.capacity * session.kvWidth * session.model.config.layers * 2 * MemoryLayout<Float>.size }
    }

    /// The most bytes of cache kept.
    let byteLimit: Int
    /// Most recently used last.
    private var entries: [Entry] = []

    init(byteLimit: Int) { self.byteLimit = byteLimit }

    /// Copies the longest cached beginning of `job`'s prompt (all but its last token at most, whose logits are needed)
    /// into its cache; returns how many positions it took.
    mutating func reuse(for job: GenerationJob) -> Int {
        let model = ObjectIdentifier(job.model)
        var best = 0, bestIndex = -1
        for (i, entry) in entries.enumerated() where entry.model == model {
            var n = 0
            let limit = min(entry.tokens.count, job.prompt.count - 1)
            while n < limit && entry.tokens[n] == job.prompt[n] { n += 1 }
            if n > best {
                best = n
                bestIndex = i
            }
        }
        guard bestIndex >= 0 else { return 0 }
        let entry = entries.remove(at: bestIndex)
        entries.append(entry)
        job.shared.copyPrefix(from: entry.session, count: best)
        return best
    }

    /// Keeps `job`'s evaluated prompt, evicting the least recently used beyond the byte limit.
    mutating func store(_ job: GenerationJob) {
        let model = ObjectIdentifier(job.model)
        entries.removeAll { $0.model == model && $0.tokens == job.prompt }
        let copy = InferenceSession(model: job.model, capacity: job.prompt.count, pool: job.shared.pool, maxBatch: 1)
        copy.copyPrefix(from: job.shared, count: job.prompt.count)
        let entry = Entry(model: model, tokens: job.prompt, session: copy)
        guard entry.bytes <= byteLimit else { return }
        entries.append(entry)
        var total = entries.reduce(0) { $0 + $1.bytes }
        while total > byteLimit, let first = entries.first {
            total -= first.bytes
            entries.removeFirst()
        }
    }
}
