import CrynuxSDK
import Foundation
import Hummingbird

extension BridgeService {
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

}
