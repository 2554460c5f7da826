import Crypto
import CrynuxSDK
import Foundation
import Hummingbird
import Logging

/// The request context of the Bridge: bodies up to 4 MiB, and the request's id.
public struct BridgeRequestContext: RequestContext {
    /// Hummingbird's per-request storage.
    public var coreContext: CoreRequestContextStorage
    /// The `x-request-id` of this request (set by the Bridge's middleware).
    public var requestID = ""
    /// Creates the context.
    public init(source: Source) { coreContext = .init(source: source) }
    /// 4 MiB.
    public var maxUploadSize: Int { 4 << 20 }
}

/// What the Bridge serves: the network client, the models it offers, where it keeps its state, its prices and floors.
public struct BridgeConfiguration: Sendable {
    /// The paying client.
    public var client: CrynuxClient
    /// Chat model ids offered (`GET /v1/models`), each a Hugging Face id the network's nodes serve.
    public var models: [String]
    /// Image model ids offered (Stable Diffusion base models); empty when no node serves images.
    public var imageModels: [String]
    /// Keys, runs and usage.
    public var store: BridgeStore
    /// The fee per LLM task.
    public var fee: Wei
    /// The fee per generated image.
    public var imageFee: Wei
    /// Seconds between `: keep-alive` comments while a streamed answer is computed.
    public var keepAlive: Duration
    /// Below this relay balance, paid requests are refused with 503.
    public var balanceFloor: Wei
    /// How often the balance is read.
    public var balanceInterval: Duration
    /// `max_tokens` when a request gives none.
    public var defaultMaxTokens: Int

    /// Creates a configuration.
    public init(
        client: CrynuxClient, models: [String], imageModels: [String] = [], store: BridgeStore, fee: Wei = Wei(cnx: 5), imageFee: Wei = Wei(cnx: 1),
        keepAlive: Duration = .seconds(5), balanceFloor: Wei = Wei(cnx: 10), balanceInterval: Duration = .seconds(60), defaultMaxTokens: Int = 256
    ) {
        self.client = client
        self.models = models
        self.imageModels = imageModels
        self.store = store
        self.fee = fee
        self.imageFee = imageFee
        self.keepAlive = keepAlive
        self.balanceFloor = balanceFloor
        self.balanceInterval = balanceInterval
        self.defaultMaxTokens = defaultMaxTokens
    }
}

/// The output of a finished paid run.
struct RunOutput: Sendable {
    var files: [[UInt8]]
    /// Seconds spent in the network's run (0 for an answer replayed from the store).
    var networkSeconds = 0.0
}

/// The in-flight runs of this process, so a retried request joins the run it already paid for.
final class RunRegistry: @unchecked Sendable {
    // Guarded by `lock`.
    private let lock = NSLock()
    private var tasks: [String: Task<RunOutput, any Error>] = [:]

    func task(_ id: String, start: () -> Task<RunOutput, any Error>) -> Task<RunOutput, any Error> {
        lock.withLock {
            if let t = tasks[id] { return t }
            let t = start()
            tasks[id] = t
            return t
        }
    }

    func existing(_ id: String) -> Task<RunOutput, any Error>? { lock.withLock { tasks[id] } }
    func remove(_ id: String) { _ = lock.withLock { tasks.removeValue(forKey: id) } }
    var count: Int { lock.withLock { tasks.count } }
}

/// The Bridge: an OpenAI-compatible HTTP API that pays the Crynux Network from its own wallet, with hashed API
/// keys, budgets, rate limits, a usage ledger, idempotent retries, an admin API, metrics and a chat page.
public final class Bridge: Sendable {
    /// Its configuration.
    public let config: BridgeConfiguration
    let limiter = RateLimiter()
    let metrics = BridgeMetrics()
    let balance = BalanceMonitor()
    let registry = RunRegistry()
    let keyCache = KeyCache()
    let logger: Logger

    /// A Bridge over `config`, logging to `logger`.
    public init(_ config: BridgeConfiguration, logger: Logger = Logger(label: "crynux.bridge")) {
        self.config = config
        self.logger = logger
    }

    /// Reads the balance, resumes every run a previous process left pending (no task is created twice: the
    /// client finds the recorded task ids), then keeps reading the balance every `balanceInterval` until cancelled.
    /// Returns the number of runs resumed.
    @discardableResult
    public func start() async throws -> Int {
        await balance.refresh(config.client)
        let pending = try config.store.runs(status: "pending", limit: .max)
        for run in pending {
            logger.info("reconciling a paid run left pending", metadata: ["run_id": "\(run.id)", "key_id": "\(run.keyID)"])
            _ = execute(run)
        }
        let interval = config.balanceInterval, client = config.client, balance = self.balance
        Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                await balance.refresh(client)
            }
        }
        return pending.count
    }

    /// Waits for every run in flight (tests, shutdown).
    public func drain() async {
        while registry.count > 0 { try? await Task.sleep(for: .milliseconds(20)) }
    }

    /// The router with every route.
    public func router() -> Router<BridgeRequestContext> {
        let router = Router(context: BridgeRequestContext.self)
        router.add(middleware: BridgeMiddleware(metrics: metrics, logger: logger))
        router.get("/") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/html; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: StaticPages.chatHTML)))
        }
        router.get("/openapi.json") { _, _ in
            Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: StaticPages.openAPI)))
        }
        router.get("/health") { _, _ in Self.json(.ok, .object([JSONMember("status", .string("ok"))])) }
        router.get("/metrics") { _, _ in
            let runs = (try? self.config.store.runCounts()) ?? [:]
            let text = self.metrics.render(balance: self.balance.current?.balance, floor: self.config.balanceFloor, runs: runs)
            return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"], body: .init(byteBuffer: ByteBuffer(string: text)))
        }
        let allModels = Self.modelList(config.models + config.imageModels).compactText
        router.get("/v1/models") { request, _ in
            try self.authorized(request) { key in
                guard key.limits.models != nil else {
                    return Response(status: .ok, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: ByteBuffer(string: allModels)))
                }
                return Self.json(.ok, Self.modelList((self.config.models + self.config.imageModels).filter(key.allows)))
            }
        }
        router.get("/v1/models/**") { request, context in
            try self.authorized(request) { key in
                let raw = context.parameters.getCatchAll().joined(separator: "/")
                let id = raw.removingPercentEncoding ?? raw
                guard (self.config.models + self.config.imageModels).contains(id), key.allows(id) else { throw OpenAIError.modelNotFound(id) }
                return Self.json(.ok, Self.model(id))
            }
        }
        for path in ["/v1/chat/completions", "/v1/llm/chat/completions"] {
            router.post(RouterPath(path)) { request, context in try await self.chat(request, context) }
        }
        router.post("/v1/completions") { request, context in try await self.completion(request, context) }
        for path in ["/v1/images/generations", "/v1/images"] {
            router.post(RouterPath(path)) { request, context in try await self.images(request, context) }
        }
        router.post("/v1/embeddings") { request, _ in
            try self.authorized(request) { _ in
                throw OpenAIError(
                    status: 404, message: "Embeddings are not available: the Crynux Network has no embedding task type yet.", type: "invalid_request_error",
                    param: "model", code: "model_not_found")
            }
        }
        addAdminRoutes(router)
        return router
    }

    // MARK: Shared pieces

    static func modelList(_ ids: [String]) -> JSONValue {
        .object([JSONMember("object", .string("list")), JSONMember("data", .array(ids.map(Self.model)))])
    }

    static func model(_ id: String) -> JSONValue {
        .object([JSONMember("id", .string(id)), JSONMember("object", .string("model")), JSONMember("created", .integer(1_735_689_600)), JSONMember("owned_by", .string("crynux"))])
    }

    static func json(_ status: HTTPResponse.Status, _ value: JSONValue) -> Response {
        Response(status: status, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: ByteBuffer(string: value.compactText)))
    }

    static func bearer(_ request: Request) -> String {
        let auth = request.headers[.authorization] ?? ""
        return auth.hasPrefix("Bearer ") ? String(auth.dropFirst(7)).trimmingCharacters(in: .whitespaces) : ""
    }

    /// The live key of the request's bearer token, or a 401.
    /// The 401 for a missing, unknown or revoked key.
    static let invalidKey = OpenAIError(
        status: 401, message: "Incorrect API key provided. Keys are created with `crynux keys create` or POST /admin/keys.",
        type: "invalid_request_error", param: nil, code: "invalid_api_key")

    func key(_ request: Request) throws -> BridgeStore.Key {
        let token = Self.bearer(request)
        let invalid = Self.invalidKey
        guard !token.isEmpty, token.count <= 256, let key = try keyCache.key(for: token, store: config.store) else { throw invalid }
        let now = Int(Date().timeIntervalSince1970)
        guard key.revoked == nil else { throw invalid }
        guard key.isLive(at: now) else {
            throw OpenAIError(status: 401, message: "This API key has expired.", type: "invalid_request_error", param: nil, code: "invalid_api_key")
        }
        return key
    }

    func authorized(_ request: Request, _ body: (BridgeStore.Key) throws -> Response) throws -> Response {
        try body(try key(request))
    }

    static func body(_ request: Request, _ context: BridgeRequestContext) async throws -> (JSONValue, [UInt8]) {
        let buffer: ByteBuffer
        do { buffer = try await request.body.collect(upTo: context.maxUploadSize) } catch {
            throw OpenAIError(status: 413, message: "The request body is over 4 MiB.", type: "invalid_request_error", param: nil, code: nil)
        }
        let bytes = Array(buffer.readableBytesView)
        guard let body = try? JSONValue.parse(bytes) else { throw OpenAIError.invalid("body", "The body is not valid JSON.") }
        guard case .object = body else { throw OpenAIError.invalid("body", "The request body must be a JSON object.") }
        return (body, bytes)
    }

    /// OpenAI's `usage` object.
    static func usage(_ u: GPTTaskResponse.Usage) -> JSONValue {
        .object([
            JSONMember("prompt_tokens", .integer(u.promptTokens)), JSONMember("completion_tokens", .integer(u.completionTokens)),
            JSONMember("total_tokens", .integer(u.totalTokens)),
        ])
    }

    /// `prefix` + 24 random hex digits (two draws from the system generator, not one per byte: this runs per request).
    static func randomID(_ prefix: String) -> String {
        var generator = SystemRandomNumberGenerator()
        let a: UInt64 = generator.next(), b: UInt64 = generator.next()
        var bytes: [UInt8] = []
        bytes.reserveCapacity(12)
        for i: UInt64 in 0..<8 { bytes.append(UInt8(truncatingIfNeeded: a >> (8 * i))) }
        for i: UInt64 in 0..<4 { bytes.append(UInt8(truncatingIfNeeded: b >> (8 * i))) }
        return prefix + Hex.encode(bytes)
    }

    // MARK: Paid runs

    /// The admitted request's rate-limit snapshot, for the headers.
    struct Admission {
        var key: BridgeStore.Key
        var limits: RateLimiter.Snapshot
    }

    /// Everything before paying: the model, the key's rate limits, the wallet's floor.
    func admit(_ key: BridgeStore.Key, model: String, offered: [String]) throws -> Admission {
        guard offered.contains(model), key.allows(model) else { throw OpenAIError.modelNotFound(model) }
        let snapshot = limiter.admit(key)
        if let wait = snapshot.retryAfter {
            var error = OpenAIError(
                status: 429,
                message: snapshot.refusedBy == "tokens"
                    ? "Rate limit reached: \(key.limits.tpm ?? 0) tokens per minute for this key. Try again in \(Int(wait.rounded(.up)))s."
                    : "Rate limit reached: \(key.limits.rpm ?? 0) requests per minute for this key. Try again in \(Int(wait.rounded(.up)))s.",
                type: "requests", param: nil, code: "rate_limit_exceeded")
            error.headers = Self.rateHeaders(snapshot).merging(["retry-after": String(max(1, Int(wait.rounded(.up))))]) { $1 }
            throw error
        }
        if let current = balance.current, current.balance < config.balanceFloor {
            throw OpenAIError(
                status: 503,
                message: "The Bridge's wallet balance (\(current.balance.cnxString) CNX) is below its floor (\(config.balanceFloor.cnxString) CNX): "
                    + "paid requests are paused until the wallet is topped up.",
                type: "server_error", param: nil, code: "insufficient_balance")
        }
        return Admission(key: key, limits: snapshot)
    }

    static func rateHeaders(_ s: RateLimiter.Snapshot) -> [String: String] {
        var h: [String: String] = [:]
        if let l = s.requestLimit {
            h["x-ratelimit-limit-requests"] = String(l)
            h["x-ratelimit-remaining-requests"] = String(s.requestsRemaining)
            h["x-ratelimit-reset-requests"] = "\(Int(s.requestsReset.rounded(.up)))s"
        }
        if let l = s.tokenLimit {
            h["x-ratelimit-limit-tokens"] = String(l)
            h["x-ratelimit-remaining-tokens"] = String(s.tokensRemaining)
            h["x-ratelimit-reset-tokens"] = "\(Int(s.tokensReset.rounded(.up)))s"
        }
        return h
    }

    /// Records the run (holding its fee against the key's budget) and starts it, or joins the earlier run with the
    /// same `Idempotency-Key`. The work runs detached: a client that goes away stops nothing that was paid for.
    func paidRun(
        _ admission: Admission, request: Request, requestID: String, kind: String, model: String, body: [UInt8], task: TaskRequest
    ) throws
        -> (work: Task<RunOutput, any Error>, run: BridgeStore.Run)
    {
        let idempotency = request.headers[.init("Idempotency-Key")!]
        if let idempotency, idempotency.isEmpty || idempotency.count > 255 {
            throw OpenAIError.invalid("Idempotency-Key", "The Idempotency-Key header must be 1–255 characters.")
        }
        let fingerprint = Hex.encode(SHA256.hash(data: Array(kind.utf8) + [0] + body))
        switch try config.store.reserve(
            keyID: admission.key.id, idempotency: idempotency, fingerprint: fingerprint, kind: kind, model: model, request: task)
        {
        case .insufficientBudget(let remaining):
            throw OpenAIError(
                status: 429,
                message: "You exceeded your current quota: this key's budget has \(remaining.cnxString) CNX left and the request costs \(task.fee.cnxString) CNX.",
                type: "insufficient_quota", param: nil, code: "insufficient_quota")
        case .existing(let run):
            guard run.fingerprint == fingerprint else {
                throw OpenAIError.invalid("Idempotency-Key", "This Idempotency-Key was already used with a different request.", code: "idempotency_key_reused")
            }
            return (try join(run), run)
        case .reserved(let run):
            logger.info("paid run recorded", metadata: ["request_id": "\(requestID)", "run_id": "\(run.id)", "key_id": "\(run.keyID)", "model": "\(model)", "fee": "\(task.fee)"])
            return (execute(run), run)
        }
    }

    /// The task of an earlier run: its stored outcome, or the one still in flight.
    func join(_ run: BridgeStore.Run) throws -> Task<RunOutput, any Error> {
        var current = run
        for _ in 0..<2 {
            switch current.status {
            case "done": return Task { RunOutput(files: current.files ?? []) }
            case "failed":
                let message = current.error ?? "failed"
                return Task { throw Self.networkFailure(message) }
            default:
                if let t = registry.existing(current.id) { return t }
                // It finished between the two reads: read it again.
                guard let again = try config.store.run(id: current.id) else { break }
                current = again
            }
        }
        return execute(current)
    }

    static func networkFailure(_ message: String) -> OpenAIError {
        var e = OpenAIError(status: 500, message: "The network could not answer: \(message)", type: "server_error", param: nil, code: "network_error")
        e.headers = ["x-should-retry": "false"]
        return e
    }

    /// Runs a recorded run to its end on the network, then settles it in the store.
    func execute(_ run: BridgeStore.Run) -> Task<RunOutput, any Error> {
        registry.task(run.id) {
            Task {
                defer { registry.remove(run.id) }
                let logger = self.logger
                do {
                    let started = ContinuousClock.now
                    let result = try await config.client.run(run.request, runID: run.id) { event in
                        if case .created(_, let commitment) = event {
                            logger.info("task created", metadata: ["run_id": "\(run.id)", "task_commitment": "\(commitment)"])
                        }
                    }
                    let networkSeconds = (ContinuousClock.now - started).seconds
                    var usage = BridgeStore.Usage(promptTokens: 0, completionTokens: 0, commitment: result.commitment)
                    if run.request.taskType == .llm {
                        let response = try JSONValueDecoder().decode(GPTTaskResponse.self, fromJSON: result.files[0])
                        usage.promptTokens = response.usage.promptTokens
                        usage.completionTokens = response.usage.completionTokens
                    }
                    do { try config.store.complete(runID: run.id, files: result.files, usage: usage) } catch {
                        // The network was paid: leave the run pending, so the next start settles it instead of refunding it.
                        logger.error("a finished run could not be recorded", metadata: ["run_id": "\(run.id)", "error": "\(error)"])
                        var e = OpenAIError(status: 500, message: "The answer could not be recorded; it will be settled on restart.", type: "server_error", param: nil, code: nil)
                        e.headers = ["x-should-retry": "false"]
                        throw e
                    }
                    limiter.record(tokens: usage.promptTokens + usage.completionTokens, for: run.keyID)
                    metrics.run(status: "done", usage: usage, fee: run.fee)
                    logger.info(
                        "paid run done",
                        metadata: ["run_id": "\(run.id)", "task_commitment": "\(result.commitment)", "tokens": "\(usage.promptTokens + usage.completionTokens)"])
                    Task { await self.balance.refresh(self.config.client) }
                    return RunOutput(files: result.files, networkSeconds: networkSeconds)
                } catch let error as OpenAIError {
                    throw error
                } catch {
                    try? config.store.fail(runID: run.id, error: "\(error)")
                    metrics.run(status: "failed", usage: nil, fee: nil)
                    logger.warning("paid run failed", metadata: ["run_id": "\(run.id)", "error": "\(error)"])
                    throw Self.networkFailure("\(error)")
                }
            }
        }
    }

    static func withHeaders(_ response: Response, _ headers: [String: String]) -> Response {
        var r = response
        for (k, v) in headers { r.headers[.init(k)!] = v }
        return r
    }

    // MARK: Chat

    func chat(_ request: Request, _ context: BridgeRequestContext) async throws -> Response {
        let key = try key(request)
        let (json, bytes) = try await Self.body(request, context)
        let chat = try ChatRequest(json: json, defaultMaxTokens: config.defaultMaxTokens)
        let (admission, work, run) = try startLLM(chat, key: key, request: request, context: context, kind: "chat", body: bytes)
        let headers = Self.rateHeaders(admission.limits)
        let id = Self.responseID("chatcmpl-", run), created = Int64(run.created)
        guard chat.stream else {
            let (response, choices, timing) = try await answer(work, for: chat)
            return Self.withHeaders(
                Self.json(
                    .ok,
                    .object([
                        JSONMember("id", .string(id)), JSONMember("object", .string("chat.completion")), JSONMember("created", .integer(created)),
                        JSONMember("model", .string(chat.model)), JSONMember("choices", .array(choices.map(Self.choiceJSON))),
                        JSONMember("usage", Self.usage(response.usage)), JSONMember("system_fingerprint", .null),
                    ])), headers.merging(timing) { $1 })
        }
        return Self.withHeaders(stream(chat, id: id, created: created, work: work), headers)
    }

    /// Admits, records and starts the LLM run of `chat`.
    func startLLM(_ chat: ChatRequest, key: BridgeStore.Key, request: Request, context: BridgeRequestContext, kind: String, body: [UInt8]) throws
        -> (Admission, Task<RunOutput, any Error>, BridgeStore.Run)
    {
        let admission = try admit(key, model: chat.model, offered: config.models)
        let task = TaskRequest(taskType: .llm, taskArgs: chat.task.jsonString, modelIDs: ["base:" + chat.model], fee: config.fee)
        let (work, run) = try paidRun(admission, request: request, requestID: context.requestID, kind: kind, model: chat.model, body: body, task: task)
        return (admission, work, run)
    }

    /// A response id derived from the run, so an idempotent retry gets the same id.
    static func responseID(_ prefix: String, _ run: BridgeStore.Run) -> String { prefix + run.id.replacingOccurrences(of: "-", with: "").prefix(24) }

    /// The run's answer and its choices checked against the request. The checks happen after the fee was paid:
    /// their failures must not invite a retry.
    /// Also gives the `Server-Timing` entry for the time the network's run took (the client's run alone: the
    /// Bridge's own settling is not counted as network).
    func answer(_ work: Task<RunOutput, any Error>, for chat: ChatRequest) async throws -> (GPTTaskResponse, [AnswerCheck.Choice], [String: String]) {
        let output = try await work.value
        let timing = ["server-timing": String(format: "network;dur=%.3f", output.networkSeconds * 1000)]
        let response = try JSONValueDecoder().decode(GPTTaskResponse.self, fromJSON: output.files[0])
        do { return (response, try AnswerCheck.choices(response, for: chat), timing) } catch {
            var e = error
            e.headers = ["x-should-retry": "false"]
            throw e
        }
    }

    static func toolCallsJSON(_ calls: [ToolCallParser.Call], streaming: Bool) -> JSONValue {
        .array(calls.enumerated().map { i, c in
            var m: [JSONMember] = []
            if streaming { m.append(JSONMember("index", .integer(i))) }
            m += [
                JSONMember("id", .string(randomID("call_"))), JSONMember("type", .string("function")),
                JSONMember("function", .object([JSONMember("name", .string(c.name)), JSONMember("arguments", .string(c.arguments))])),
            ]
            return .object(m)
        })
    }

    static func choiceJSON(_ c: AnswerCheck.Choice) -> JSONValue {
        var message: [JSONMember] = [JSONMember("role", .string("assistant")), JSONMember("content", c.content.map { .string($0) } ?? .null)]
        if !c.toolCalls.isEmpty { message.append(JSONMember("tool_calls", toolCallsJSON(c.toolCalls, streaming: false))) }
        message.append(JSONMember("refusal", .null))
        return .object([
            JSONMember("index", .integer(c.index)), JSONMember("message", .object(message)), JSONMember("logprobs", .null),
            JSONMember("finish_reason", .string(c.finishReason)),
        ])
    }

    /// Honest streaming: headers and the role chunk at once, keep-alives while the network works, then the
    /// content, the terminal `finish_reason` chunk, usage when asked, and `[DONE]`; failures as an `error` event.
    func stream(_ chat: ChatRequest, id: String, created: Int64, work: Task<RunOutput, any Error>) -> Response {
        let includeUsage = chat.includeUsage, model = chat.model, keepAlive = config.keepAlive, metrics = self.metrics
        let n = chat.task.generationConfig?.numReturnSequences ?? 1
        let started = ContinuousClock.now
        let body = ResponseBody { writer in
            defer { metrics.streamFinished(seconds: (ContinuousClock.now - started).seconds) }
            func event(_ choices: [JSONValue], usage: JSONValue? = nil) -> ByteBuffer {
                var members: [JSONMember] = [
                    JSONMember("id", .string(id)), JSONMember("object", .string("chat.completion.chunk")), JSONMember("created", .integer(created)),
                    JSONMember("model", .string(model)), JSONMember("system_fingerprint", .null), JSONMember("choices", .array(choices)),
                ]
                if includeUsage { members.append(JSONMember("usage", usage ?? .null)) }
                return ByteBuffer(string: "data: \(JSONValue.object(members).compactText)\n\n")
            }
            func delta(_ index: Int, _ delta: [JSONMember], finish: String?) -> JSONValue {
                .object([
                    JSONMember("index", .integer(index)), JSONMember("delta", .object(delta)), JSONMember("logprobs", .null),
                    JSONMember("finish_reason", finish.map { .string($0) } ?? .null),
                ])
            }
            try await writer.write(event((0..<n).map { delta($0, [JSONMember("role", .string("assistant")), JSONMember("content", .string(""))], finish: nil) }))
            let box = OutcomeBox()
            Task {
                do { box.set(.success(try await work.value)) } catch { box.set(.failure(error)) }
            }
            let clock = ContinuousClock()
            var lastPing = clock.now
            while box.value == nil {
                try await Task.sleep(for: .milliseconds(10))
                if clock.now - lastPing >= keepAlive {
                    try await writer.write(ByteBuffer(string: ": keep-alive\n\n"))
                    lastPing = clock.now
                }
            }
            do {
                guard case .success(let output)? = box.value else {
                    if case .failure(let error)? = box.value { throw error }
                    return
                }
                let response = try JSONValueDecoder().decode(GPTTaskResponse.self, fromJSON: output.files[0])
                let choices = try AnswerCheck.choices(response, for: chat)
                for c in choices {
                    if let text = c.content, !text.isEmpty { try await writer.write(event([delta(c.index, [JSONMember("content", .string(text))], finish: nil)])) }
                    if !c.toolCalls.isEmpty {
                        try await writer.write(event([delta(c.index, [JSONMember("tool_calls", Self.toolCallsJSON(c.toolCalls, streaming: true))], finish: nil)]))
                    }
                }
                try await writer.write(event(choices.map { delta($0.index, [], finish: $0.finishReason) }))
                if includeUsage { try await writer.write(event([], usage: Self.usage(response.usage))) }
            } catch {
                let failure = (error as? OpenAIError) ?? Self.networkFailure("\(error)")
                try await writer.write(ByteBuffer(string: "data: \(failure.json.compactText)\n\n"))
            }
            try await writer.write(ByteBuffer(string: "data: [DONE]\n\n"))
            try await writer.finish(nil)
        }
        return Response(status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-cache"], body: body)
    }

    // MARK: Legacy completions

    /// `POST /v1/completions`: the prompt becomes one user message (as the Crynux bridge maps it); the answer
    /// comes back as `text_completion` choices.
    func completion(_ request: Request, _ context: BridgeRequestContext) async throws -> Response {
        let key = try key(request)
        guard case (.object(var members), let bytes) = try await Self.body(request, context) else { throw OpenAIError.invalid("body", "The body must be an object.") }
        guard let index = members.firstIndex(where: { $0.key == "prompt" }), let prompt = members[index].value.stringValue else {
            throw OpenAIError.invalid("prompt", "prompt must be a string.")
        }
        for key in ["echo", "suffix", "best_of"] {
            if let v = members.first(where: { $0.key == key })?.value, v != .null, v != .bool(false), v != .integer(1) {
                throw OpenAIError.invalid(key, "\(key) is not supported.", code: "unsupported_parameter")
            }
        }
        members.removeAll { ["echo", "suffix", "best_of"].contains($0.key) }
        members[members.firstIndex { $0.key == "prompt" }!] = JSONMember(
            "messages", .array([.object([JSONMember("role", .string("user")), JSONMember("content", .string(prompt))])]))
        if members.contains(where: { $0.key == "stream" && $0.value == .bool(true) }) {
            throw OpenAIError.invalid("stream", "Streaming is available on /v1/chat/completions; /v1/completions answers whole.", code: "unsupported_parameter")
        }
        let chat = try ChatRequest(json: .object(members), defaultMaxTokens: config.defaultMaxTokens)
        let (admission, work, run) = try startLLM(chat, key: key, request: request, context: context, kind: "completion", body: bytes)
        let (response, choices, timing) = try await answer(work, for: chat)
        return Self.withHeaders(
            Self.json(
                .ok,
                .object([
                    JSONMember("id", .string(Self.responseID("cmpl-", run))),
                    JSONMember("object", .string("text_completion")), JSONMember("created", .integer(run.created)), JSONMember("model", .string(chat.model)),
                    JSONMember("choices", .array(choices.map { c in
                        .object([
                            JSONMember("text", .string(c.content ?? "")), JSONMember("index", .integer(c.index)), JSONMember("logprobs", .null),
                            JSONMember("finish_reason", .string(c.finishReason)),
                        ])
                    })),
                    JSONMember("usage", Self.usage(response.usage)),
                ])), Self.rateHeaders(admission.limits).merging(timing) { $1 })
    }

    // MARK: Images

    /// The Crynux bridge's image model aliases (its own misspelling of runwayml included, so its clients keep working).
    static let imageAliases = [
        "stabilityai/sdxl-turbo": "crynux-network/sdxl-turbo",
        "stabilityai/stable-diffusion-xl-base-1.0": "crynux-network/stable-diffusion-xl-base-1.0",
        "runwayml/stable-diffusion-v1-5": "crynux-network/stable-diffusion-v1-5",
        "ruwnayml/stable-diffusion-v1-5": "crynux-network/stable-diffusion-v1-5",
    ]

    /// `POST /v1/images/generations` (and the Crynux alias `/v1/images`): a Stable Diffusion task, answered as base64 PNGs.
    func images(_ request: Request, _ context: BridgeRequestContext) async throws -> Response {
        let key = try key(request)
        let (body, bytes) = try await Self.body(request, context)
        let known: Set<String> = [
            "model", "prompt", "n", "size", "response_format", "output_format", "quality", "style", "user", "seed", "negative_prompt", "steps",
        ]
        if case .object(let members) = body, let unknown = members.first(where: { !known.contains($0.key) }) {
            throw OpenAIError.invalid(unknown.key, "Unrecognized request argument supplied: \(unknown.key)", code: "unsupported_parameter")
        }
        guard let prompt = body["prompt"]?.stringValue, !prompt.isEmpty, prompt.count <= 4000 else {
            throw OpenAIError.invalid("prompt", "prompt must be a string of 1–4000 characters.")
        }
        if let format = body["output_format"]?.stringValue, format != "png" {
            throw OpenAIError.invalid("output_format", "Only output_format png is produced by the network.", code: "unsupported_parameter")
        }
        guard let requested = body["model"]?.stringValue ?? config.imageModels.first else {
            throw OpenAIError(
                status: 404, message: "This Bridge's network serves no image model.", type: "invalid_request_error", param: "model", code: "model_not_found")
        }
        func int(_ name: String, _ range: ClosedRange<Int>) throws -> Int? {
            guard let v = body[name], v != .null else { return nil }
            guard let d = v.doubleValue, let i = Int(exactly: d), range.contains(i) else {
                throw OpenAIError.invalid(name, "\(name) must be an integer in \(range.lowerBound)...\(range.upperBound).")
            }
            return i
        }
        let n = try int("n", 1...4) ?? 1
        var width = 512, height = 512
        if let size = body["size"], size != .null {
            let parts = size.stringValue?.split(separator: "x").compactMap { Int($0) } ?? []
            guard parts.count == 2, parts.allSatisfy({ (256...2048).contains($0) && $0 % 8 == 0 }) else {
                throw OpenAIError.invalid("size", "size is WIDTHxHEIGHT, each 256–2048 and a multiple of 8, such as 512x512 or 1024x1024.")
            }
            (width, height) = (parts[0], parts[1])
        }
        if let format = body["response_format"]?.stringValue, format != "b64_json" {
            throw OpenAIError.invalid("response_format", "Only response_format b64_json is supported: the Bridge does not host image files.", code: "unsupported_parameter")
        }
        if let quality = body["quality"]?.stringValue, !["standard", "auto"].contains(quality) {
            throw OpenAIError.invalid("quality", "quality must be standard or auto.", code: "unsupported_parameter")
        }
        if let style = body["style"], style != .null { throw OpenAIError.invalid("style", "style is not supported.", code: "unsupported_parameter") }
        let seed = try int("seed", 0...Int(Int32.max))
        let steps = try int("steps", 1...100)
        var negative: String?
        if let neg = body["negative_prompt"], neg != .null {
            guard let text = neg.stringValue else { throw OpenAIError.invalid("negative_prompt", "negative_prompt must be a string.") }
            negative = text
        }
        let model = Self.imageAliases[requested] ?? requested
        let admission = try admit(key, model: model, offered: config.imageModels)
        // The Crynux bridge's defaults: fp16 variants of its own models, SDXL-Turbo in one Euler-A step without guidance,
        // 25 steps otherwise, no safety checker, a random seed below 1e8.
        let turbo = model.hasSuffix("sdxl-turbo"), sd15 = model.hasSuffix("stable-diffusion-v1-5")
        var args = SDTaskArgs(
            baseModel: model.hasPrefix("crynux-network/") ? .object(name: model, variant: "fp16") : .name(model), prompt: prompt,
            negativePrompt: negative,
            taskConfig: SDTaskConfig(
                imageWidth: width, imageHeight: height, steps: steps ?? (turbo ? 1 : 25), seed: seed ?? Int.random(in: 0..<100_000_000), numImages: n,
                safetyChecker: false, cfg: turbo ? 0 : (sd15 ? 7 : nil)))
        if turbo { args.scheduler = .eulerAncestral(timestepSpacing: "trailing") }
        do { try args.validate() } catch { throw OpenAIError.invalid("prompt", "\(error)") }
        let task = TaskRequest(
            taskType: .sd, taskArgs: args.jsonString, modelIDs: ["base:" + model], fee: config.imageFee * UInt64(n),
            minVRAM: sd15 ? 8 : (turbo ? 14 : 10), taskSize: n)
        let (work, _) = try paidRun(admission, request: request, requestID: context.requestID, kind: "image", model: model, body: bytes, task: task)
        let files = try await work.value.files
        return Self.withHeaders(
            Self.json(
                .ok,
                .object([
                    JSONMember("created", .integer(Int64(Date().timeIntervalSince1970))),
                    JSONMember("data", .array(files.map { .object([JSONMember("b64_json", .string(Data($0).base64EncodedString()))]) })),
                ])), Self.rateHeaders(admission.limits))
    }
}

/// Verified keys for a second, so a busy key is not a database read per request (a revocation or a new limit
/// takes effect within that second).
final class KeyCache: @unchecked Sendable {
    // Guarded by `lock`.
    private let lock = NSLock()
    private var entries: [String: (key: BridgeStore.Key?, at: Double)] = [:]

    func key(for token: String, store: BridgeStore) throws -> BridgeStore.Key? {
        let now = Date().timeIntervalSince1970
        if let hit = lock.withLock({ entries[token] }), now - hit.at < 1 { return hit.key }
        let key = try store.verify(token)
        lock.withLock {
            if entries.count > 10_000 { entries.removeAll() }
            entries[token] = (key, now)
        }
        return key
    }
}

/// Request ids: a random prefix drawn once per process and a counter (unique, and no system call per request).
enum RequestIDs {
    static let prefix = Bridge.randomID("req_").prefix(16)
    static let counter = Counter()

    final class Counter: @unchecked Sendable {
        // Guarded by `lock`.
        private let lock = NSLock()
        private var value: UInt64 = 0
        func next() -> UInt64 { lock.withLock { value &+= 1; return value } }
    }

    static func next() -> String {
        let n = String(counter.next(), radix: 16)
        return prefix + String(repeating: "0", count: max(0, 12 - n.count)) + n
    }
}

/// Request ids, error envelopes, logs and metrics for every route.
struct BridgeMiddleware: RouterMiddleware {
    typealias Context = BridgeRequestContext
    let metrics: BridgeMetrics
    let logger: Logger

    static let routes = [
        "/v1/chat/completions", "/v1/llm/chat/completions", "/v1/completions", "/v1/images/generations", "/v1/images", "/v1/embeddings", "/v1/models",
        "/admin", "/health", "/metrics", "/openapi.json",
    ]

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let started = ContinuousClock.now
        var context = context
        let incoming = request.headers[.init("x-request-id")!] ?? ""
        context.requestID =
            (1...128).contains(incoming.count) && incoming.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-_.".contains($0)) })
            ? incoming : RequestIDs.next()
        var response: Response
        do {
            response = try await next(request, context)
        } catch let error as OpenAIError {
            response = Bridge.withHeaders(Bridge.json(HTTPResponse.Status(code: error.status), error.json), error.headers)
        } catch let error as HTTPError {
            let status = error.status
            let code = status == .notFound ? "not_found" : nil
            let message = status == .notFound ? "Unknown path \(request.uri.path)" : "\(error.body ?? status.reasonPhrase)"
            response = Bridge.json(status, OpenAIError(status: status.code, message: message, type: "invalid_request_error", param: nil, code: code).json)
        } catch {
            logger.error("internal error", metadata: ["request_id": "\(context.requestID)", "error": "\(error)"])
            response = Bridge.json(
                .internalServerError, OpenAIError(status: 500, message: "Internal error.", type: "server_error", param: nil, code: nil).json)
        }
        response.headers[.init("x-request-id")!] = context.requestID
        let seconds = (ContinuousClock.now - started).seconds
        // Server-Timing: the whole request (to its head, for a stream), after the network's share when there is one.
        let total = String(format: "total;dur=%.3f", seconds * 1000)
        response.headers[.init("server-timing")!] = response.headers[.init("server-timing")!].map { $0 + ", " + total } ?? total
        let path = request.uri.path
        let route = Self.routes.first { path == $0 || path.hasPrefix($0 + "/") } ?? (path == "/" ? "/" : "other")
        metrics.request(route: route, status: response.status.code, seconds: seconds, streaming: response.headers[.contentType] == "text/event-stream")
        if route != "/health" && route != "/metrics" {
            logger.info(
                "request",
                metadata: [
                    "request_id": "\(context.requestID)", "method": "\(request.method)", "path": "\(path)", "status": "\(response.status.code)",
                    "ms": "\(Int(seconds * 1000))",
                ])
        }
        return response
    }
}

/// The outcome of a network task, set once by its watcher.
final class OutcomeBox: @unchecked Sendable {
    // Guarded by `lock`.
    private let lock = NSLock()
    private var stored: Result<RunOutput, any Error>?
    func set(_ r: Result<RunOutput, any Error>) { lock.withLock { stored = r } }
    var value: Result<RunOutput, any Error>? { lock.withLock { stored } }
}

extension Duration {
    /// The duration in seconds.
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
