import CrynuxSDK
import Foundation
import Hummingbird

extension BridgeService {
    /// OpenAI's Responses API: `POST /v1/responses` (whole, streamed or in the background), `GET`, `DELETE` and
    /// `POST …/cancel` on `/v1/responses/{id}`. Stored responses belong to the key that made them.
    func addResponseRoutes(to routes: some RouterMethods<BridgeRequestContext>) {
        routes.post("/v1/responses") { request, context in try await self.createResponse(request, context) }
        routes.get("/v1/responses/:id") { request, context in
            let key = try self.key(request)
            let stored = try self.storedResponse(context.parameters.get("id") ?? "", key: key)
            return Self.json(.ok, try self.responseObject(stored))
        }
        routes.delete("/v1/responses/:id") { request, context in
            let key = try self.key(request)
            let id = context.parameters.get("id") ?? ""
            guard try self.config.store.deleteResponse(id: id, keyID: key.id) else { throw Self.responseNotFound(id) }
            return Self.json(.ok, .object([JSONMember("id", .string(id)), JSONMember("object", .string("response")), JSONMember("deleted", .bool(true))]))
        }
        routes.post("/v1/responses/:id/cancel") { request, context in
            let key = try self.key(request)
            return Self.json(.ok, try await self.cancelResponse(try self.storedResponse(context.parameters.get("id") ?? "", key: key)))
        }
    }

    /// The 404 of an unknown (or another key's, or deleted) response id.
    static func responseNotFound(_ id: String) -> OpenAIError {
        OpenAIError(status: 404, message: "Response with id '\(id)' not found.", type: "invalid_request_error", param: nil, code: nil)
    }

    func storedResponse(_ id: String, key: BridgeStore.Key) throws -> BridgeStore.StoredResponse {
        guard id.count <= 128, let stored = try config.store.response(id: id, keyID: key.id) else { throw Self.responseNotFound(id) }
        return stored
    }

    /// `POST /v1/responses`.
    func createResponse(_ request: Request, _ context: BridgeRequestContext) async throws -> Response {
        let started = ContinuousClock.now
        let key = try key(request)
        let (json, bytes) = try await Self.body(request, context)
        let parsed = try ResponsesRequest(json: json, defaultMaxTokens: config.defaultMaxTokens) { id in try self.conversation(ofResponse: id, key: key) }
        let (admission, work, run) = try startLLM(parsed.chat, key: key, request: request, context: context, kind: "response", body: bytes)
        let stored = BridgeStore.StoredResponse(
            id: Self.responseID("resp_", run), keyID: key.id, runID: run.id, created: run.created, chat: parsed.chatBody, echo: parsed.echo,
            input: parsed.input, background: parsed.background)
        if parsed.store { try config.store.save(stored) }
        let headers = Self.rateHeaders(admission.limits)
        if parsed.stream { return Self.withHeaders(responseStream(stored, chat: parsed.chat, work: work, runID: run.id, started: started), headers) }
        if parsed.background { return Self.withHeaders(Self.json(.ok, try responseObject(stored)), headers) }
        let (response, choices, timing) = try await answer(work, for: parsed.chat)
        return Self.withHeaders(Self.json(.ok, Self.responseObject(stored, answer: (response, choices))), headers.merging(timing) { $1 })
    }

    /// The whole conversation of a stored, completed response of `key`: its input and its answer, as chat messages.
    func conversation(ofResponse id: String, key: BridgeStore.Key) throws -> [JSONValue] {
        guard id.count <= 128, let stored = try config.store.response(id: id, keyID: key.id) else {
            throw OpenAIError.invalid("previous_response_id", "Previous response with id '\(id)' not found.", code: "previous_response_not_found")
        }
        guard let run = try config.store.run(id: stored.runID), run.status == "done", let chat = try? ChatRequest(json: stored.chat),
            case .success(let (_, choices)) = Self.checkedAnswer(.success(RunOutput(files: run.files ?? [])), for: chat), let choice = choices.first
        else {
            throw OpenAIError.invalid("previous_response_id", "Previous response '\(id)' has not completed.", code: "previous_response_not_completed")
        }
        var messages = stored.input.arrayValue ?? []
        var assistant: [JSONMember] = [JSONMember("role", .string("assistant")), JSONMember("content", choice.content.map { .string($0) } ?? .null)]
        if !choice.toolCalls.isEmpty {
            assistant.append(
                JSONMember(
                    "tool_calls",
                    .array(choice.toolCalls.enumerated().map { i, c in
                        .object([
                            JSONMember("id", .string(Self.callID(stored.id, i))), JSONMember("type", .string("function")),
                            JSONMember("function", .object([JSONMember("name", .string(c.name)), JSONMember("arguments", .string(c.arguments))])),
                        ])
                    })))
        }
        messages.append(.object(assistant))
        return messages
    }

    /// The response object of a stored response as it stands: queued or in progress while its run is pending, then
    /// completed (or incomplete, failed, cancelled) with its output.
    func responseObject(_ stored: BridgeStore.StoredResponse) throws -> JSONValue {
        guard let run = try config.store.run(id: stored.runID) else { throw Self.responseNotFound(stored.id) }
        if stored.cancelled { return Self.responseObject(stored, status: "cancelled") }
        switch run.status {
        case "done":
            guard let chat = try? ChatRequest(json: stored.chat) else { return Self.responseObject(stored, failure: Self.networkFailure("unreadable request")) }
            switch Self.checkedAnswer(.success(RunOutput(files: run.files ?? [])), for: chat) {
            case .success(let answer): return Self.responseObject(stored, answer: answer)
            case .failure(let error): return Self.responseObject(stored, failure: error)
            }
        case "failed": return Self.responseObject(stored, failure: Self.networkFailure(run.error ?? "failed"))
        default: return Self.responseObject(stored, status: run.state == nil ? "queued" : "in_progress")
        }
    }

    /// `POST /v1/responses/{id}/cancel`: a background response whose task is still queued is cancelled (the relay
    /// refunds it); a finished one is returned as it is; one already running on a node cannot be stopped (409).
    func cancelResponse(_ stored: BridgeStore.StoredResponse) async throws -> JSONValue {
        guard stored.background else { throw OpenAIError.invalid("response_id", "Only responses created with background: true can be cancelled.") }
        let clock = ContinuousClock()
        let until = clock.now + .seconds(5)
        while !stored.cancelled, let run = try config.store.run(id: stored.runID), run.status == "pending" {
            if await config.client.cancelQueued(runID: run.id) {
                try config.store.markCancelled(responseID: stored.id)
                var cancelled = stored
                cancelled.cancelled = true
                return try responseObject(cancelled)
            }
            // A run whose task is not created yet gets a few more tries; a task on a node cannot be recalled.
            guard run.state?.attempts.allSatisfy({ $0.commitments.isEmpty }) ?? true, clock.now < until else {
                throw OpenAIError(
                    status: 409, message: "Response \(stored.id) is already running on a node and cannot be cancelled; it will complete.",
                    type: "invalid_request_error", param: nil, code: "response_already_running")
            }
            try await Task.sleep(for: .milliseconds(200))
        }
        return try responseObject(try config.store.response(id: stored.id, keyID: stored.keyID) ?? stored)
    }

    static func callID(_ responseID: String, _ i: Int) -> String { "call_" + responseID.dropFirst(5) + "_\(i)" }

    /// The output items of an answer: a message with the text, then one `function_call` per tool call. Their ids
    /// derive from the response id, so every read of a stored response gives the same ones.
    static func outputItems(_ responseID: String, _ choice: AnswerCheck.Choice, status: String) -> [JSONValue] {
        let suffix = responseID.dropFirst(5)
        var items: [JSONValue] = []
        if let text = choice.content, !text.isEmpty || choice.toolCalls.isEmpty {
            items.append(messageItem("msg_" + suffix, text: text, status: status))
        }
        for (i, call) in choice.toolCalls.enumerated() {
            items.append(functionCallItem("fc_\(suffix)_\(i)", callID: callID(responseID, i), name: call.name, arguments: call.arguments, status: "completed"))
        }
        if items.isEmpty { items.append(messageItem("msg_" + suffix, text: "", status: status)) }
        return items
    }

    static func messageItem(_ id: String, text: String?, status: String) -> JSONValue {
        .object([
            JSONMember("id", .string(id)), JSONMember("type", .string("message")), JSONMember("status", .string(status)),
            JSONMember("role", .string("assistant")),
            JSONMember("content", .array(text.map { [outputText($0)] } ?? [])),
        ])
    }

    static func outputText(_ text: String) -> JSONValue {
        .object([
            JSONMember("type", .string("output_text")), JSONMember("text", .string(text)), JSONMember("annotations", .array([])),
            JSONMember("logprobs", .array([])),
        ])
    }

    static func functionCallItem(_ id: String, callID: String, name: String, arguments: String, status: String) -> JSONValue {
        .object([
            JSONMember("id", .string(id)), JSONMember("type", .string("function_call")), JSONMember("status", .string(status)),
            JSONMember("call_id", .string(callID)), JSONMember("name", .string(name)), JSONMember("arguments", .string(arguments)),
        ])
    }

    /// The response object of a completed (or, when the token limit cut it, incomplete) answer.
    static func responseObject(_ stored: BridgeStore.StoredResponse, answer: (GPTTaskResponse, [AnswerCheck.Choice])) -> JSONValue {
        let (response, choices) = answer
        guard let choice = choices.first else { return responseObject(stored, failure: networkFailure("the network returned no choice")) }
        let cut = choice.finishReason == "length"
        let usage = JSONValue.object([
            JSONMember("input_tokens", .integer(response.usage.promptTokens)),
            JSONMember("input_tokens_details", .object([JSONMember("cached_tokens", .integer(0)), JSONMember("cache_write_tokens", .integer(0))])),
            JSONMember("output_tokens", .integer(response.usage.completionTokens)),
            JSONMember("output_tokens_details", .object([JSONMember("reasoning_tokens", .integer(0))])),
            JSONMember("total_tokens", .integer(response.usage.totalTokens)),
        ])
        return responseObject(
            stored, status: cut ? "incomplete" : "completed", output: outputItems(stored.id, choice, status: cut ? "incomplete" : "completed"), usage: usage,
            incomplete: cut ? .object([JSONMember("reason", .string("max_output_tokens"))]) : .null)
    }

    /// The response object of a run that failed.
    static func responseObject(_ stored: BridgeStore.StoredResponse, failure: OpenAIError) -> JSONValue {
        let code = failure.status == 429 ? "rate_limit_exceeded" : "server_error"
        return responseObject(
            stored, status: "failed", error: .object([JSONMember("code", .string(code)), JSONMember("message", .string(failure.message))]))
    }

    /// A response object with the stored request's fields echoed.
    static func responseObject(
        _ stored: BridgeStore.StoredResponse, status: String, output: [JSONValue] = [], usage: JSONValue = .null, error: JSONValue = .null,
        incomplete: JSONValue = .null
    ) -> JSONValue {
        let echo = stored.echo
        var members: [JSONMember] = [
            JSONMember("id", .string(stored.id)), JSONMember("object", .string("response")), JSONMember("created_at", .integer(stored.created)),
            JSONMember("status", .string(status)), JSONMember("background", echo["background"] ?? .bool(stored.background)), JSONMember("error", error),
            JSONMember("incomplete_details", incomplete),
        ]
        for key in ["instructions", "max_output_tokens", "metadata", "model"] { members.append(JSONMember(key, echo[key] ?? .null)) }
        members.append(JSONMember("output", .array(output)))
        for key in ["parallel_tool_calls", "previous_response_id"] { members.append(JSONMember(key, echo[key] ?? .null)) }
        members.append(JSONMember("reasoning", .object([JSONMember("effort", .null), JSONMember("summary", .null)])))
        members.append(JSONMember("service_tier", .string("default")))
        for key in ["store", "temperature", "text", "tool_choice", "tools", "top_p", "truncation"] { members.append(JSONMember(key, echo[key] ?? .null)) }
        members.append(JSONMember("usage", usage))
        members.append(JSONMember("user", echo["user"] ?? .null))
        return .object(members)
    }

    /// Responses streaming: `response.created` and `response.in_progress` at once; the message item and its text
    /// deltas as the node writes (`response.output_item.added`, `response.content_part.added`,
    /// `response.output_text.delta`); then the rest of the text, `response.output_text.done`,
    /// `response.content_part.done`, `response.output_item.done`, any `function_call` items
    /// (`response.function_call_arguments.delta`/`.done`) and `response.completed` (or `response.incomplete`); a
    /// failure is an `error` event followed by `response.failed`.
    func responseStream(
        _ stored: BridgeStore.StoredResponse, chat: ChatRequest, work: Task<RunOutput, any Error>, runID: String, started: ContinuousClock.Instant
    ) -> Response {
        struct Progress {
            var sequence = 2
            var gate: TextGate
            var messageOpen = false
        }
        let state = StreamState(Progress(gate: TextGate(for: chat)))
        @Sendable func frame(_ type: String, _ members: [JSONMember]) -> SSEFrame {
            defer { state.value.sequence += 1 }
            return .event(type, .object([JSONMember("type", .string(type)), JSONMember("sequence_number", .integer(state.value.sequence))] + members))
        }
        let pending = Self.responseObject(stored, status: "in_progress")
        let head: [SSEFrame] = [
            .event("response.created", .object([JSONMember("type", .string("response.created")), JSONMember("sequence_number", .integer(0)), JSONMember("response", pending)])),
            .event("response.in_progress", .object([JSONMember("type", .string("response.in_progress")), JSONMember("sequence_number", .integer(1)), JSONMember("response", pending)])),
        ]
        let messageID = JSONValue.string("msg_" + stored.id.dropFirst(5))
        let place = [JSONMember("item_id", messageID), JSONMember("output_index", .integer(0)), JSONMember("content_index", .integer(0))]
        @Sendable func openMessage() -> [SSEFrame] {
            guard !state.value.messageOpen else { return [] }
            state.value.messageOpen = true
            return [
                frame("response.output_item.added", [JSONMember("output_index", .integer(0)), JSONMember("item", Self.messageItem(messageID.stringValue ?? "", text: nil, status: "in_progress"))]),
                frame("response.content_part.added", place + [JSONMember("part", Self.outputText(""))]),
            ]
        }
        let progress: @Sendable ([Int: String]) -> [SSEFrame] = { texts in
            let new = state.value.gate.advance(texts[0] ?? "")
            guard !new.isEmpty else { return [] }
            return openMessage() + [frame("response.output_text.delta", place + [JSONMember("delta", .string(new)), JSONMember("logprobs", .array([]))])]
        }
        return eventStream(work: work, runID: runID, started: started, head: head, progress: progress) { outcome in
            var frames: [SSEFrame] = []
            func add(_ type: String, _ members: [JSONMember]) { frames.append(frame(type, members)) }
            switch Self.checkedAnswer(outcome, for: chat) {
            case .success(let answer):
                let final = Self.responseObject(stored, answer: answer)
                guard case .array(let items)? = final["output"] else { return frames }
                for (index, item) in items.enumerated() {
                    let itemID = item["id"] ?? .null
                    let output = JSONMember("output_index", .integer(index))
                    if item["type"]?.stringValue == "message" {
                        let text = item["content"]?.arrayValue?.first?["text"]?.stringValue
                        if index == 0, let text {
                            let rest = state.value.gate.rest(of: text) ?? ""
                            if !rest.isEmpty { frames += openMessage() }
                            if state.value.messageOpen || text.isEmpty {
                                frames += openMessage()
                                if !rest.isEmpty { add("response.output_text.delta", place + [JSONMember("delta", .string(rest)), JSONMember("logprobs", .array([]))]) }
                                add("response.output_text.done", place + [JSONMember("text", .string(text)), JSONMember("logprobs", .array([]))])
                                add("response.content_part.done", place + [JSONMember("part", Self.outputText(text))])
                            }
                        } else {
                            add("response.output_item.added", [output, JSONMember("item", Self.messageItem(itemID.stringValue ?? "", text: nil, status: "in_progress"))])
                        }
                    } else {
                        let arguments = item["arguments"]?.stringValue ?? ""
                        var started = item
                        if case .object(var m) = item {
                            for i in m.indices where m[i].key == "arguments" { m[i] = JSONMember("arguments", .string("")) }
                            for i in m.indices where m[i].key == "status" { m[i] = JSONMember("status", .string("in_progress")) }
                            started = .object(m)
                        }
                        add("response.output_item.added", [output, JSONMember("item", started)])
                        add("response.function_call_arguments.delta", [JSONMember("item_id", itemID), output, JSONMember("delta", .string(arguments))])
                        add(
                            "response.function_call_arguments.done",
                            [JSONMember("item_id", itemID), output, JSONMember("name", item["name"] ?? .null), JSONMember("arguments", .string(arguments))])
                    }
                    add("response.output_item.done", [output, JSONMember("item", item)])
                }
                add(final["status"]?.stringValue == "incomplete" ? "response.incomplete" : "response.completed", [JSONMember("response", final)])
            case .failure(let error):
                add("error", [JSONMember("code", error.code.map { .string($0) } ?? .string("server_error")), JSONMember("message", .string(error.message)), JSONMember("param", .null)])
                add("response.failed", [JSONMember("response", Self.responseObject(stored, failure: error))])
            }
            return frames
        }
    }
}
