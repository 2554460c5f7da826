import CrynuxSDK
import Foundation
import Hummingbird

/// The request context of the Bridge: bodies up to 4 MiB.
public struct BridgeRequestContext: RequestContext {
    /// Hummingbird's per-request storage.
    public var coreContext: CoreRequestContextStorage
    /// Creates the context.
    public init(source: Source) { coreContext = .init(source: source) }
    /// 4 MiB.
    public var maxUploadSize: Int { 4 << 20 }
}

/// What the Bridge serves: the network client, the models it offers, the keys it accepts.
public struct BridgeConfiguration: Sendable {
    /// The paying client.
    public var client: CrynuxClient
    /// Model ids offered (`GET /v1/models`), each a Hugging Face id the network's nodes serve.
    public var models: [String]
    /// The API keys.
    public var keys: APIKeyStore
    /// The fee per LLM task.
    public var fee: Wei
    /// Seconds between `: keep-alive` comments while a streamed answer is computed.
    public var keepAlive: Duration

    /// Creates a configuration.
    public init(client: CrynuxClient, models: [String], keys: APIKeyStore, fee: Wei = Wei(cnx: 5), keepAlive: Duration = .seconds(5)) {
        self.client = client
        self.models = models
        self.keys = keys
        self.fee = fee
        self.keepAlive = keepAlive
    }
}

/// The Bridge's OpenAI-compatible HTTP API (first slice: models, chat completions with honest streaming, health).
public enum BridgeHTTP {
    /// The router.
    public static func router(_ config: BridgeConfiguration) -> Router<BridgeRequestContext> {
        let router = Router(context: BridgeRequestContext.self)
        router.get("/health") { _, _ in json(.ok, .object([JSONMember("status", .string("ok"))])) }
        router.get("/v1/models") { request, _ in
            await guarded(request, config) {
                json(.ok, .object([
                    JSONMember("object", .string("list")), JSONMember("data", .array(config.models.map(Self.model))),
                ]))
            }
        }
        router.get("/v1/models/**") { request, context in
            await guarded(request, config) {
                let raw = context.parameters.getCatchAll().joined(separator: "/")
                let id = raw.removingPercentEncoding ?? raw
                guard config.models.contains(id) else {
                    throw OpenAIError.modelNotFound(id)
                }
                return json(.ok, Self.model(id))
            }
        }
        router.post("/v1/chat/completions") { request, context in await guarded(request, config) { try await chat(request, context, config) } }
        router.post("/v1/llm/chat/completions") { request, context in await guarded(request, config) { try await chat(request, context, config) } }
        router.post("/v1/completions") { request, context in await guarded(request, config) { try await completion(request, context, config) } }
        router.post("/v1/embeddings") { request, _ in
            await guarded(request, config) {
                throw OpenAIError(
                    status: 404, message: "Embeddings are not available: the Crynux Network has no embedding task type yet.", type: "invalid_request_error",
                    param: "model", code: "model_not_found")
            }
        }
        return router
    }

    static func model(_ id: String) -> JSONValue {
        .object([JSONMember("id", .string(id)), JSONMember("object", .string("model")), JSONMember("created", .integer(1_735_689_600)), JSONMember("owned_by", .string("crynux"))])
    }

    static func json(_ status: HTTPResponse.Status, _ value: JSONValue, requestID: String = UUID().uuidString.lowercased()) -> Response {
        Response(
            status: status, headers: [.contentType: "application/json", .init("x-request-id")!: requestID],
            body: ResponseBody(byteBuffer: ByteBuffer(string: value.compactText)))
    }

    /// Checks the bearer key, runs `body`, and turns errors into OpenAI envelopes with the right status.
    static func guarded(_ request: Request, _ config: BridgeConfiguration, _ body: () async throws -> Response) async -> Response {
        let auth = request.headers[.authorization] ?? ""
        let token = auth.hasPrefix("Bearer ") ? String(auth.dropFirst(7)) : ""
        do {
            guard !token.isEmpty, try config.keys.verify(token) != nil else {
                throw OpenAIError(status: 401, message: "Incorrect API key provided.", type: "invalid_request_error", param: nil, code: "invalid_api_key")
            }
            return try await body()
        } catch let error as OpenAIError {
            return json(HTTPResponse.Status(code: error.status), error.json)
        } catch {
            var response = json(
                .internalServerError,
                OpenAIError(status: 500, message: "The network could not answer: \(error)", type: "server_error", param: nil, code: nil).json)
            response.headers[.init("x-should-retry")!] = "false"
            return response
        }
    }

    static func body(_ request: Request, _ context: BridgeRequestContext) async throws -> JSONValue {
        let buffer: ByteBuffer
        do { buffer = try await request.body.collect(upTo: context.maxUploadSize) } catch {
            throw OpenAIError(status: 413, message: "The request body is over 4 MiB.", type: "invalid_request_error", param: nil, code: nil)
        }
        guard let body = try? JSONValue.parse(Array(buffer.readableBytesView)) else { throw OpenAIError.invalid("body", "The body is not valid JSON.") }
        return body
    }

    /// `POST /v1/completions`: the prompt becomes one user message (as the Crynux bridge maps it); the answer
    /// comes back as `text_completion` choices.
    static func completion(_ request: Request, _ context: BridgeRequestContext, _ config: BridgeConfiguration) async throws -> Response {
        guard case .object(var members) = try await body(request, context) else { throw OpenAIError.invalid("body", "The request body must be a JSON object.") }
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
        let chat = try ChatRequest(json: .object(members))
        guard config.models.contains(chat.model) else {
            throw OpenAIError.modelNotFound(chat.model)
        }
        let response = try await runDetached(chat, config).value
        return json(.ok, .object([
            JSONMember("id", .string("cmpl-" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(24))),
            JSONMember("object", .string("text_completion")), JSONMember("created", .integer(Int64(Date().timeIntervalSince1970))),
            JSONMember("model", .string(chat.model)),
            JSONMember("choices", .array(response.choices.map { c in
                .object([
                    JSONMember("text", .string(c.message.content)), JSONMember("index", .integer(c.index)), JSONMember("logprobs", .null),
                    JSONMember("finish_reason", .string(c.finishReason)),
                ])
            })),
            JSONMember("usage", usage(response.usage)),
        ]))
    }

    /// Runs the chat on the network as a task of its own: a client that goes away stops nothing that was paid for.
    static func runDetached(_ chat: ChatRequest, _ config: BridgeConfiguration) -> Task<GPTTaskResponse, any Error> {
        let request = TaskRequest(taskType: .llm, taskArgs: chat.task.jsonString, modelIDs: ["base:" + chat.model], fee: config.fee)
        return Task {
            let result = try await config.client.run(request)
            return try JSONValueDecoder().decode(GPTTaskResponse.self, fromJSON: result.files[0])
        }
    }

    /// OpenAI's `usage` object.
    @Sendable static func usage(_ u: GPTTaskResponse.Usage) -> JSONValue {
        .object([
            JSONMember("prompt_tokens", .integer(u.promptTokens)), JSONMember("completion_tokens", .integer(u.completionTokens)),
            JSONMember("total_tokens", .integer(u.totalTokens)),
        ])
    }

    static func chat(_ request: Request, _ context: BridgeRequestContext, _ config: BridgeConfiguration) async throws -> Response {
        let chat = try ChatRequest(json: try await body(request, context))
        guard config.models.contains(chat.model) else {
            throw OpenAIError.modelNotFound(chat.model)
        }
        let id = "chatcmpl-" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(24)
        let created = Int64(Date().timeIntervalSince1970)
        let work = runDetached(chat, config)
        @Sendable func choice(_ c: GPTTaskResponse.Choice) -> JSONValue {
            .object([
                JSONMember("index", .integer(c.index)),
                JSONMember("message", .object([JSONMember("role", .string("assistant")), JSONMember("content", .string(c.message.content))])),
                JSONMember("logprobs", .null), JSONMember("finish_reason", .string(c.finishReason)),
            ])
        }
        guard chat.stream else {
            let response = try await work.value
            return json(.ok, .object([
                JSONMember("id", .string(String(id))), JSONMember("object", .string("chat.completion")), JSONMember("created", .integer(created)),
                JSONMember("model", .string(chat.model)), JSONMember("choices", .array(response.choices.map(choice))),
                JSONMember("usage", usage(response.usage)),
            ]))
        }
        // Honest streaming: headers and the role chunk now, keep-alives while the network works, then the rest.
        let includeUsage = chat.includeUsage, model = chat.model, keepAlive = config.keepAlive
        let stream = ResponseBody { writer in
            func event(_ choices: [JSONValue], usage: JSONValue? = nil) -> ByteBuffer {
                var members: [JSONMember] = [
                    JSONMember("id", .string(String(id))), JSONMember("object", .string("chat.completion.chunk")), JSONMember("created", .integer(created)),
                    JSONMember("model", .string(model)), JSONMember("choices", .array(choices)),
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
            let n = chat.task.generationConfig?.numReturnSequences ?? 1
            try await writer.write(event((0..<n).map { delta($0, [JSONMember("role", .string("assistant")), JSONMember("content", .string(""))], finish: nil) }))
            let box = OutcomeBox()
            Task {
                do { box.set(.success(try await work.value)) } catch { box.set(.failure(error)) }
            }
            let clock = ContinuousClock()
            var lastPing = clock.now
            while box.value == nil {
                try await Task.sleep(for: .milliseconds(20))
                if clock.now - lastPing >= keepAlive {
                    try await writer.write(ByteBuffer(string: ": keep-alive\n\n"))
                    lastPing = clock.now
                }
            }
            switch box.value! {
            case .success(let response):
                for c in response.choices {
                    try await writer.write(event([delta(c.index, [JSONMember("content", .string(c.message.content))], finish: nil)]))
                }
                try await writer.write(event(response.choices.map { delta($0.index, [], finish: $0.finishReason) }))
                if includeUsage { try await writer.write(event([], usage: usage(response.usage))) }
            case .failure(let error):
                let failure = OpenAIError(status: 500, message: "The network could not answer: \(error)", type: "server_error", param: nil, code: nil)
                try await writer.write(ByteBuffer(string: "data: \(failure.json.compactText)\n\n"))
            }
            try await writer.write(ByteBuffer(string: "data: [DONE]\n\n"))
            try await writer.finish(nil)
        }
        return Response(
            status: .ok,
            headers: [.contentType: "text/event-stream", .cacheControl: "no-cache", .init("x-request-id")!: UUID().uuidString.lowercased()],
            body: stream)
    }
}

/// The outcome of a network task, set once by its watcher.
final class OutcomeBox: @unchecked Sendable {
    // Guarded by `lock`.
    private let lock = NSLock()
    private var stored: Result<GPTTaskResponse, any Error>?
    func set(_ r: Result<GPTTaskResponse, any Error>) { lock.withLock { stored = r } }
    var value: Result<GPTTaskResponse, any Error>? { lock.withLock { stored } }
}
