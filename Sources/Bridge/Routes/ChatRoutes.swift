import CrynuxSDK
import Foundation
import Hummingbird

extension BridgeService {
    /// `POST /v1/chat/completions` (and the Crynux aliases `/v1/llm/chat/completions`, `/v1/llm/{vram_limit}/chat/completions`):
    /// a paid LLM task, answered whole or streamed.
    func chat(_ request: Request, _ context: BridgeRequestContext) async throws -> Response {
        let started = ContinuousClock.now
        let key = try key(request)
        let (json, bytes) = try await Self.body(request, context)
        let chat = try ChatRequest(json: json, defaultMaxTokens: config.defaultMaxTokens)
        let (admission, work, run) = try startLLM(
            chat, key: key, request: request, context: context, kind: "chat", body: bytes, pathVRAM: try Self.pathVRAM(context))
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
                        JSONMember("usage", Self.usage(response.usage)),
                    ])), headers.merging(timing) { $1 })
        }
        return Self.withHeaders(stream(chat, id: id, created: created, work: work, runID: run.id, started: started), headers)
    }

    /// Admits, records and starts the LLM run of `chat`. Its VRAM floor is resolved as the Crynux bridge does: the
    /// path's `vram_limit`, else the body's, else `defaultVRAM` (24).
    func startLLM(
        _ chat: ChatRequest, key: BridgeStore.Key, request: Request, context: BridgeRequestContext, kind: String, body: [UInt8], pathVRAM: Int? = nil
    ) throws -> (Admission, Task<RunOutput, any Error>, BridgeStore.Run) {
        let admission = try admit(key, model: chat.model, offered: config.models)
        let task = TaskRequest(
            taskType: .llm, taskArgs: chat.task.jsonString, modelIDs: ["base:" + chat.model], fee: config.fee,
            minVRAM: pathVRAM ?? chat.vramLimit ?? config.defaultVRAM)
        let (work, run) = try paidRun(admission, request: request, requestID: context.requestID, kind: kind, model: chat.model, body: body, task: task)
        return (admission, work, run)
    }

    /// The `{vram_limit}` segment of `/v1/llm/{vram_limit}/…`, or nil on the other paths; a 400 when it is not an
    /// integer in 1…4096 GB.
    static func pathVRAM(_ context: BridgeRequestContext) throws -> Int? {
        guard let text = context.parameters.get("vram_limit") else { return nil }
        guard let gb = Int(text), (1...ChatRequest.maxVRAM).contains(gb) else {
            throw OpenAIError.invalid("vram_limit", "vram_limit in the path must be an integer in 1...\(ChatRequest.maxVRAM) (GB).")
        }
        return gb
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
}
