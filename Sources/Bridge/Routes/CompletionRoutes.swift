import CrynuxSDK
import Foundation
import Hummingbird

extension BridgeService {
    /// `POST /v1/completions` (and the Crynux aliases `/v1/llm/completions`, `/v1/llm/{vram_limit}/completions`): the
    /// prompt becomes one user message (as the Crynux bridge maps it); the answer comes back as `text_completion`
    /// choices, whole or streamed.
    func completion(_ request: Request, _ context: BridgeRequestContext) async throws -> Response {
        let started = ContinuousClock.now
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
        // OpenAI's legacy default is 16 tokens; the Bridge's default_max_tokens applies as on chat.
        let chat = try ChatRequest(json: .object(members), defaultMaxTokens: config.defaultMaxTokens)
        let (admission, work, run) = try startLLM(
            chat, key: key, request: request, context: context, kind: "completion", body: bytes, pathVRAM: try Self.pathVRAM(context))
        guard !chat.stream else {
            return Self.withHeaders(
                completionStream(chat, id: Self.responseID("cmpl-", run), created: Int64(run.created), work: work, runID: run.id, started: started), Self.rateHeaders(admission.limits))
        }
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
}
