import CrynuxSDK
import Foundation
import Hummingbird

/// One server-sent event frame: `data: <json>` (OpenAI chat and completions) or `event: <name>` + `data: <json>`
/// (Responses, Messages).
struct SSEFrame: Sendable {
    /// The frame's bytes, blank line included.
    var text: String

    /// `data: <json>`.
    static func data(_ value: JSONValue) -> SSEFrame { SSEFrame(text: "data: \(value.compactText)\n\n") }
    /// `event: <name>` + `data: <json>`.
    static func event(_ name: String, _ value: JSONValue) -> SSEFrame { SSEFrame(text: "event: \(name)\ndata: \(value.compactText)\n\n") }
    /// OpenAI's end of stream.
    static let done = SSEFrame(text: "data: [DONE]\n\n")
    /// A comment that keeps proxies from closing an idle stream.
    static let keepAlive = SSEFrame(text: ": keep-alive\n\n")
}

extension BridgeService {
    /// Honest streaming of a paid run: `head` at once, `keepAlive` frames while the network works, then the frames
    /// `tail` makes of the run's outcome (it decodes and checks the answer, and turns failures into error frames).
    func eventStream(
        work: Task<RunOutput, any Error>, head: [SSEFrame], keepAlive keepAliveFrame: SSEFrame = .keepAlive,
        tail: @escaping @Sendable (Result<RunOutput, any Error>) -> [SSEFrame]
    ) -> Response {
        let keepAlive = config.keepAlive, metrics = self.metrics
        let started = ContinuousClock.now
        let body = ResponseBody { writer in
            defer { metrics.streamFinished(seconds: (ContinuousClock.now - started).seconds) }
            for frame in head { try await writer.write(ByteBuffer(string: frame.text)) }
            let box = OutcomeBox()
            Task {
                do { box.set(.success(try await work.value)) } catch { box.set(.failure(error)) }
            }
            let clock = ContinuousClock()
            var lastPing = clock.now
            var outcome = box.value
            while outcome == nil {
                try await Task.sleep(for: .milliseconds(10))
                if clock.now - lastPing >= keepAlive {
                    try await writer.write(ByteBuffer(string: keepAliveFrame.text))
                    lastPing = clock.now
                }
                outcome = box.value
            }
            if let outcome { for frame in tail(outcome) { try await writer.write(ByteBuffer(string: frame.text)) } }
            try await writer.finish(nil)
        }
        return Response(status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-cache"], body: body)
    }

    /// The checked answer of a finished run, or the error to report in its place.
    static func checkedAnswer(_ outcome: Result<RunOutput, any Error>, for chat: ChatRequest) -> Result<(GPTTaskResponse, [AnswerCheck.Choice]), OpenAIError> {
        do {
            let output = try outcome.get()
            let response = try JSONValueDecoder().decode(GPTTaskResponse.self, fromJSON: output.files[0])
            return .success((response, try AnswerCheck.choices(response, for: chat)))
        } catch {
            return .failure((error as? OpenAIError) ?? networkFailure("\(error)"))
        }
    }

    /// Chat Completions streaming: the role chunk at once, then the content and tool calls, the terminal
    /// `finish_reason` chunk, usage when asked, and `[DONE]`; failures as an `error` event before `[DONE]`.
    func stream(_ chat: ChatRequest, id: String, created: Int64, work: Task<RunOutput, any Error>) -> Response {
        let includeUsage = chat.includeUsage, model = chat.model
        let n = chat.task.generationConfig?.numReturnSequences ?? 1
        @Sendable func event(_ choices: [JSONValue], usage: JSONValue? = nil) -> SSEFrame {
            var members: [JSONMember] = [
                JSONMember("id", .string(id)), JSONMember("object", .string("chat.completion.chunk")), JSONMember("created", .integer(created)),
                JSONMember("model", .string(model)), JSONMember("choices", .array(choices)),
            ]
            if includeUsage { members.append(JSONMember("usage", usage ?? .null)) }
            return .data(.object(members))
        }
        @Sendable func delta(_ index: Int, _ delta: [JSONMember], finish: String?) -> JSONValue {
            .object([
                JSONMember("index", .integer(index)), JSONMember("delta", .object(delta)), JSONMember("logprobs", .null),
                JSONMember("finish_reason", finish.map { .string($0) } ?? .null),
            ])
        }
        let head = event((0..<n).map { delta($0, [JSONMember("role", .string("assistant")), JSONMember("content", .string(""))], finish: nil) })
        return eventStream(work: work, head: [head]) { outcome in
            var frames: [SSEFrame] = []
            switch Self.checkedAnswer(outcome, for: chat) {
            case .success(let (response, choices)):
                for c in choices {
                    if let text = c.content, !text.isEmpty { frames.append(event([delta(c.index, [JSONMember("content", .string(text))], finish: nil)])) }
                    if !c.toolCalls.isEmpty {
                        frames.append(event([delta(c.index, [JSONMember("tool_calls", Self.toolCallsJSON(c.toolCalls, streaming: true))], finish: nil)]))
                    }
                }
                frames.append(event(choices.map { delta($0.index, [], finish: $0.finishReason) }))
                if includeUsage { frames.append(event([], usage: Self.usage(response.usage))) }
            case .failure(let error): frames.append(.data(error.json))
            }
            return frames + [.done]
        }
    }

    /// Legacy completions streaming: `text_completion` chunks with each choice's text, then one chunk per choice with
    /// its `finish_reason`, usage when asked (`choices: []`), and `[DONE]`; failures as an `error` event.
    func completionStream(_ chat: ChatRequest, id: String, created: Int64, work: Task<RunOutput, any Error>) -> Response {
        let includeUsage = chat.includeUsage, model = chat.model
        @Sendable func chunk(_ choices: [JSONValue], usage: JSONValue? = nil) -> SSEFrame {
            var members: [JSONMember] = [
                JSONMember("id", .string(id)), JSONMember("object", .string("text_completion")), JSONMember("created", .integer(created)),
                JSONMember("model", .string(model)), JSONMember("choices", .array(choices)),
            ]
            if let usage { members.append(JSONMember("usage", usage)) }
            return .data(.object(members))
        }
        @Sendable func choice(_ index: Int, _ text: String, finish: String?) -> JSONValue {
            .object([
                JSONMember("text", .string(text)), JSONMember("index", .integer(index)), JSONMember("logprobs", .null),
                JSONMember("finish_reason", finish.map { .string($0) } ?? .null),
            ])
        }
        return eventStream(work: work, head: []) { outcome in
            var frames: [SSEFrame] = []
            switch Self.checkedAnswer(outcome, for: chat) {
            case .success(let (response, choices)):
                for c in choices { if let text = c.content, !text.isEmpty { frames.append(chunk([choice(c.index, text, finish: nil)])) } }
                for c in choices { frames.append(chunk([choice(c.index, "", finish: c.finishReason)])) }
                if includeUsage { frames.append(chunk([], usage: Self.usage(response.usage))) }
            case .failure(let error): frames.append(.data(error.json))
            }
            return frames + [.done]
        }
    }
}
