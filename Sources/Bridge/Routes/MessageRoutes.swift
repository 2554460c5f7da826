import CrynuxSDK
import Foundation
import Hummingbird

extension BridgeService {
    /// Anthropic's Messages API: `POST /v1/messages` (whole or streamed) and `POST /v1/messages/count_tokens`, with
    /// the same keys (as `x-api-key` or bearer), budgets and limits as the OpenAI routes, and Anthropic's error envelope.
    func addMessageRoutes(to routes: some RouterMethods<BridgeRequestContext>) {
        routes.post("/v1/messages") { request, context in
            do { return Self.withHeaders(try await self.createMessage(request, context), ["request-id": context.requestID]) } catch {
                throw Self.anthropicError(error, requestID: context.requestID)
            }
        }
        routes.post("/v1/messages/count_tokens") { request, context in
            do { return Self.withHeaders(try await self.countTokens(request, context), ["request-id": context.requestID]) } catch {
                throw Self.anthropicError(error, requestID: context.requestID)
            }
        }
    }

    /// An error as Anthropic's SDKs expect it: `{"type": "error", "error": {"type", "message"}}`.
    struct AnthropicError: Error {
        var error: OpenAIError
        var requestID: String

        var status: HTTPResponse.Status { HTTPResponse.Status(code: error.status) }

        /// Anthropic's error type for an HTTP status.
        static func type(_ status: Int) -> String {
            switch status {
            case 401: "authentication_error"
            case 403: "permission_error"
            case 404: "not_found_error"
            case 413: "request_too_large"
            case 429: "rate_limit_error"
            case 529: "overloaded_error"
            case 500...: "api_error"
            default: "invalid_request_error"
            }
        }

        static func body(_ error: OpenAIError) -> JSONValue {
            .object([
                JSONMember("type", .string("error")),
                JSONMember("error", .object([JSONMember("type", .string(type(error.status))), JSONMember("message", .string(error.message))])),
            ])
        }

        func response() -> Response {
            var response = BridgeService.withHeaders(BridgeService.json(status, Self.body(error)), error.headers)
            response.headers[.init("request-id")!] = requestID
            return response
        }
    }

    static func anthropicError(_ error: any Error, requestID: String) -> any Error {
        guard let e = error as? OpenAIError else { return error }
        return AnthropicError(error: e, requestID: requestID)
    }

    /// The key of an Anthropic client: `x-api-key`, else the bearer token.
    func anthropicKey(_ request: Request) throws -> BridgeStore.Key {
        guard let header = request.headers[.init("x-api-key")!], !header.isEmpty else { return try key(request) }
        return try key(token: header.trimmingCharacters(in: .whitespaces))
    }

    /// `POST /v1/messages`.
    func createMessage(_ request: Request, _ context: BridgeRequestContext) async throws -> Response {
        let started = ContinuousClock.now
        let key = try anthropicKey(request)
        let (json, bytes) = try await Self.body(request, context)
        let parsed = try MessagesRequest(json: json)
        let (admission, work, run) = try startLLM(parsed.chat, key: key, request: request, context: context, kind: "message", body: bytes)
        let id = Self.responseID("msg_", run)
        let headers = Self.rateHeaders(admission.limits)
        if parsed.stream {
            let inputTokens = (try? config.tokenCounter?.promptTokens(parsed.chat.task)) ?? nil
            return Self.withHeaders(messageStream(parsed.chat, id: id, inputTokens: inputTokens, work: work, runID: run.id, started: started), headers)
        }
        let (response, choices, timing) = try await answer(work, for: parsed.chat)
        return Self.withHeaders(Self.json(.ok, Self.messageObject(id: id, chat: parsed.chat, response: response, choices: choices)), headers.merging(timing) { $1 })
    }

    /// `POST /v1/messages/count_tokens`: the prompt's tokens as the model's chat template and tokenizer count them.
    func countTokens(_ request: Request, _ context: BridgeRequestContext) async throws -> Response {
        let key = try anthropicKey(request)
        let (json, _) = try await Self.body(request, context)
        let parsed = try MessagesRequest(json: json, countingOnly: true)
        guard config.models.contains(parsed.chat.model), key.allows(parsed.chat.model) else { throw OpenAIError.modelNotFound(parsed.chat.model) }
        let counted: Int?
        do { counted = try config.tokenCounter?.promptTokens(parsed.chat.task) } catch {
            throw OpenAIError.invalid("messages", "The model's chat template cannot render these messages: \(error)")
        }
        guard let counted else {
            throw OpenAIError(
                status: 404, message: "Token counting needs the model's tokenizer, which this Bridge does not hold for \(parsed.chat.model).",
                type: "invalid_request_error", param: nil, code: nil)
        }
        return Self.json(.ok, .object([JSONMember("input_tokens", .integer(counted))]))
    }

    /// Anthropic's `stop_reason` and `stop_sequence` of a choice.
    static func stopReason(_ choice: AnswerCheck.Choice, raw: String, chat: ChatRequest) -> (String, String?) {
        switch choice.finishReason {
        case "tool_calls": return ("tool_use", nil)
        case "length": return ("max_tokens", nil)
        default:
            let stops = (chat.task.generationConfig?.stopStrings ?? []).filter { !$0.isEmpty }
            let hit = stops.compactMap { s in raw.range(of: s).map { (s, $0.lowerBound) } }.min { $0.1 < $1.1 }
            return hit.map { ("stop_sequence", $0.0) } ?? ("end_turn", nil)
        }
    }

    static func toolUseID(_ messageID: String, _ i: Int) -> String { "toolu_" + messageID.dropFirst(4) + "_\(i)" }

    /// The content blocks of a choice: its text (when there is any), then one `tool_use` block per call.
    static func contentBlocks(_ messageID: String, _ choice: AnswerCheck.Choice) -> [JSONValue] {
        var blocks: [JSONValue] = []
        if let text = choice.content, !text.isEmpty { blocks.append(.object([JSONMember("type", .string("text")), JSONMember("text", .string(text))])) }
        for (i, call) in choice.toolCalls.enumerated() {
            let input = (try? JSONValue.parse(call.arguments)).flatMap { $0.objectValue == nil ? nil : $0 } ?? .object([])
            blocks.append(
                .object([
                    JSONMember("type", .string("tool_use")), JSONMember("id", .string(toolUseID(messageID, i))), JSONMember("name", .string(call.name)),
                    JSONMember("input", input),
                ]))
        }
        return blocks
    }

    /// Anthropic's usage object.
    static func anthropicUsage(input: Int, output: Int) -> JSONValue {
        .object([
            JSONMember("input_tokens", .integer(input)), JSONMember("output_tokens", .integer(output)),
            JSONMember("cache_creation_input_tokens", .integer(0)), JSONMember("cache_read_input_tokens", .integer(0)),
        ])
    }

    /// The message object of an answer.
    static func messageObject(id: String, chat: ChatRequest, response: GPTTaskResponse, choices: [AnswerCheck.Choice]) -> JSONValue {
        let choice = choices.first ?? AnswerCheck.Choice(index: 0, content: "", toolCalls: [], finishReason: "stop")
        let (reason, sequence) = stopReason(choice, raw: response.choices.first?.message.content ?? "", chat: chat)
        return .object([
            JSONMember("id", .string(id)), JSONMember("type", .string("message")), JSONMember("role", .string("assistant")),
            JSONMember("model", .string(chat.model)), JSONMember("content", .array(contentBlocks(id, choice))),
            JSONMember("stop_reason", .string(reason)), JSONMember("stop_sequence", sequence.map { .string($0) } ?? .null),
            JSONMember("usage", anthropicUsage(input: response.usage.promptTokens, output: response.usage.completionTokens)),
        ])
    }

    /// Messages streaming: `message_start` and a `ping` at once; the text block as the node writes
    /// (`content_block_start`, `content_block_delta` with `text_delta`), pings while waiting; then the rest of the text,
    /// `content_block_stop`, any `tool_use` blocks (`input_json_delta`), `message_delta` (stop reason, usage) and
    /// `message_stop`; a failure is an `error` event.
    func messageStream(_ chat: ChatRequest, id: String, inputTokens: Int?, work: Task<RunOutput, any Error>, runID: String, started: ContinuousClock.Instant)
        -> Response
    {
        let ping = SSEFrame.event("ping", .object([JSONMember("type", .string("ping"))]))
        let start = SSEFrame.event(
            "message_start",
            .object([
                JSONMember("type", .string("message_start")),
                JSONMember(
                    "message",
                    .object([
                        JSONMember("id", .string(id)), JSONMember("type", .string("message")), JSONMember("role", .string("assistant")),
                        JSONMember("model", .string(chat.model)), JSONMember("content", .array([])), JSONMember("stop_reason", .null),
                        JSONMember("stop_sequence", .null), JSONMember("usage", Self.anthropicUsage(input: inputTokens ?? 0, output: 0)),
                    ])),
            ]))
        struct Progress {
            var gate: TextGate
            var textOpen = false
        }
        let state = StreamState(Progress(gate: TextGate(for: chat)))
        @Sendable func event(_ type: String, _ members: [JSONMember]) -> SSEFrame { .event(type, .object([JSONMember("type", .string(type))] + members)) }
        @Sendable func textDelta(_ text: String) -> SSEFrame {
            event("content_block_delta", [JSONMember("index", .integer(0)), JSONMember("delta", .object([JSONMember("type", .string("text_delta")), JSONMember("text", .string(text))]))])
        }
        @Sendable func openText() -> [SSEFrame] {
            guard !state.value.textOpen else { return [] }
            state.value.textOpen = true
            return [event("content_block_start", [JSONMember("index", .integer(0)), JSONMember("content_block", .object([JSONMember("type", .string("text")), JSONMember("text", .string(""))]))])]
        }
        let progress: @Sendable ([Int: String]) -> [SSEFrame] = { texts in
            let new = state.value.gate.advance(texts[0] ?? "")
            return new.isEmpty ? [] : openText() + [textDelta(new)]
        }
        return eventStream(work: work, runID: runID, started: started, head: [start, ping], keepAlive: ping, progress: progress) { outcome in
            var frames: [SSEFrame] = []
            func add(_ type: String, _ members: [JSONMember]) { frames.append(event(type, members)) }
            switch Self.checkedAnswer(outcome, for: chat) {
            case .success(let (response, choices)):
                let message = Self.messageObject(id: id, chat: chat, response: response, choices: choices)
                var blocks = message["content"]?.arrayValue ?? []
                var index = 0
                if state.value.textOpen || blocks.first?["type"]?.stringValue == "text" {
                    // The text block (index 0): what the stream showed, then the rest.
                    let text = blocks.first?["type"]?.stringValue == "text" ? (blocks.first?["text"]?.stringValue ?? "") : ""
                    if blocks.first?["type"]?.stringValue == "text" { blocks.removeFirst() }
                    frames += openText()
                    if let rest = state.value.gate.rest(of: text), !rest.isEmpty { frames.append(textDelta(rest)) }
                    add("content_block_stop", [JSONMember("index", .integer(0))])
                    index = 1
                }
                for block in blocks {
                    let i = JSONMember("index", .integer(index))
                    let started = JSONValue.object([
                        JSONMember("type", .string("tool_use")), JSONMember("id", block["id"] ?? .null), JSONMember("name", block["name"] ?? .null),
                        JSONMember("input", .object([])),
                    ])
                    add("content_block_start", [i, JSONMember("content_block", started)])
                    let json = (block["input"] ?? .object([])).compactText
                    add("content_block_delta", [i, JSONMember("delta", .object([JSONMember("type", .string("input_json_delta")), JSONMember("partial_json", .string(json))]))])
                    add("content_block_stop", [i])
                    index += 1
                }
                add(
                    "message_delta",
                    [
                        JSONMember("delta", .object([JSONMember("stop_reason", message["stop_reason"] ?? .null), JSONMember("stop_sequence", message["stop_sequence"] ?? .null)])),
                        JSONMember("usage", .object([
                            JSONMember("input_tokens", .integer(response.usage.promptTokens)), JSONMember("output_tokens", .integer(response.usage.completionTokens)),
                        ])),
                    ])
                add("message_stop", [])
            case .failure(let error):
                frames.append(.event("error", AnthropicError.body(error)))
            }
            return frames
        }
    }
}
