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

/// Which text of a choice may be shown while the node is still writing: leading whitespace is dropped and trailing
/// whitespace held (the result trims both), text stops before a stop string or a tool-call tag, and a tail that
/// could begin one is held until it is known not to. What it lets through is always a beginning of the final
/// answer's content; `rest(of:)` gives what the final answer adds.
struct TextGate: Sendable {
    /// Stop strings and tool-call tags.
    let cuts: [String]
    /// Whether a stop string or tag was reached (nothing more is shown until the end).
    var closed = false
    /// The text shown so far.
    var shown = ""

    /// A gate for `chat`'s stop strings, and its tools' call tags when it has tools.
    init(for chat: ChatRequest) {
        var cuts = (chat.task.generationConfig?.stopStrings ?? []).filter { !$0.isEmpty }
        if !chat.tools.isEmpty { cuts += ["<tool_call>", "<function=", "✿FUNCTION✿"] }
        self.cuts = cuts
    }

    /// The new text to show, given all of the choice's text so far.
    mutating func advance(_ raw: String) -> String {
        guard !closed else { return "" }
        let text = Substring(raw).drop { $0.isWhitespace }
        var end = text.endIndex
        if let cut = cuts.compactMap({ text.range(of: $0)?.lowerBound }).min() {
            end = cut
            closed = true
        } else if let longest = cuts.map({ $0.count }).max(), longest > 1 {
            // Hold back the longest tail that could still grow into a cut.
            for length in stride(from: min(longest - 1, text.count), through: 1, by: -1) {
                let tail = text.suffix(length)
                if cuts.contains(where: { $0.hasPrefix(tail) }) {
                    end = tail.startIndex
                    break
                }
            }
        }
        var visible = text[..<end]
        while visible.last?.isWhitespace == true { visible = visible.dropLast() }
        let scalars = visible.unicodeScalars
        guard scalars.count > shown.unicodeScalars.count, scalars.starts(with: shown.unicodeScalars) else { return "" }
        let new = String(String.UnicodeScalarView(scalars.dropFirst(shown.unicodeScalars.count)))
        shown = String(visible)
        return new
    }

    /// What the final `content` adds to the text shown, or nil when the two differ (nothing more is then shown).
    func rest(of content: String) -> String? {
        guard content.unicodeScalars.starts(with: shown.unicodeScalars) else { return nil }
        return String(String.UnicodeScalarView(content.unicodeScalars.dropFirst(shown.unicodeScalars.count)))
    }
}

/// A stream's own mutable state, used only by its one writer task.
final class StreamState<Value>: @unchecked Sendable {
    /// The value.
    var value: Value
    /// Wraps `value`.
    init(_ value: Value) { self.value = value }
}

extension BridgeService {
    /// Honest streaming of a paid run: `head` at once; while the network works, what `progress` makes of the run's
    /// text so far (the node's tokens as they arrive, on relays that stream them) or `keepAlive` frames; then the
    /// frames `tail` makes of the run's outcome (it decodes and checks the answer, and turns failures into error
    /// frames). The time to the first text is recorded from `started`.
    func eventStream(
        work: Task<RunOutput, any Error>, runID: String? = nil, started: ContinuousClock.Instant = .now, head: [SSEFrame],
        keepAlive keepAliveFrame: SSEFrame = .keepAlive, progress: (@Sendable ([Int: String]) -> [SSEFrame])? = nil,
        tail: @escaping @Sendable (Result<RunOutput, any Error>) -> [SSEFrame]
    ) -> Response {
        let keepAlive = config.keepAlive, metrics = self.metrics, live = self.live
        let body = ResponseBody { writer in
            defer { metrics.streamFinished(seconds: (ContinuousClock.now - started).seconds) }
            for frame in head { try await writer.write(ByteBuffer(string: frame.text)) }
            let box = OutcomeBox()
            Task {
                do { box.set(.success(try await work.value)) } catch { box.set(.failure(error)) }
            }
            let clock = ContinuousClock()
            var lastWrite = clock.now
            var seen: [Int: String] = [:]
            var firstText = false
            func write(_ frames: [SSEFrame]) async throws {
                guard !frames.isEmpty else { return }
                if !firstText {
                    firstText = true
                    metrics.firstToken(seconds: (clock.now - started).seconds)
                }
                for frame in frames { try await writer.write(ByteBuffer(string: frame.text)) }
                lastWrite = clock.now
            }
            var outcome = box.value
            while outcome == nil {
                if let runID, let progress {
                    let now = live.snapshot(runID)
                    if now != seen {
                        seen = now
                        try await write(progress(now))
                    }
                }
                try await Task.sleep(for: .milliseconds(progress == nil ? 10 : 2))
                if clock.now - lastWrite >= keepAlive {
                    try await writer.write(ByteBuffer(string: keepAliveFrame.text))
                    lastWrite = clock.now
                }
                outcome = box.value
            }
            if let outcome { try await write(tail(outcome)) }
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
    func stream(_ chat: ChatRequest, id: String, created: Int64, work: Task<RunOutput, any Error>, runID: String, started: ContinuousClock.Instant) -> Response {
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
        let gates = StreamState(Array(repeating: TextGate(for: chat), count: n))
        let progress: @Sendable ([Int: String]) -> [SSEFrame] = { texts in
            texts.keys.sorted().filter { $0 < n }.compactMap { i in
                let new = gates.value[i].advance(texts[i] ?? "")
                return new.isEmpty ? nil : event([delta(i, [JSONMember("content", .string(new))], finish: nil)])
            }
        }
        return eventStream(work: work, runID: runID, started: started, head: [head], progress: progress) { outcome in
            var frames: [SSEFrame] = []
            switch Self.checkedAnswer(outcome, for: chat) {
            case .success(let (response, choices)):
                for c in choices {
                    let gate = c.index < n ? gates.value[c.index] : TextGate(for: chat)
                    if let text = gate.rest(of: c.content ?? ""), !text.isEmpty {
                        frames.append(event([delta(c.index, [JSONMember("content", .string(text))], finish: nil)]))
                    }
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
    func completionStream(
        _ chat: ChatRequest, id: String, created: Int64, work: Task<RunOutput, any Error>, runID: String, started: ContinuousClock.Instant
    ) -> Response {
        let includeUsage = chat.includeUsage, model = chat.model
        let n = chat.task.generationConfig?.numReturnSequences ?? 1
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
        let gates = StreamState(Array(repeating: TextGate(for: chat), count: n))
        let progress: @Sendable ([Int: String]) -> [SSEFrame] = { texts in
            texts.keys.sorted().filter { $0 < n }.compactMap { i in
                let new = gates.value[i].advance(texts[i] ?? "")
                return new.isEmpty ? nil : chunk([choice(i, new, finish: nil)])
            }
        }
        return eventStream(work: work, runID: runID, started: started, head: [], progress: progress) { outcome in
            var frames: [SSEFrame] = []
            switch Self.checkedAnswer(outcome, for: chat) {
            case .success(let (response, choices)):
                for c in choices {
                    let gate = c.index < n ? gates.value[c.index] : TextGate(for: chat)
                    if let text = gate.rest(of: c.content ?? ""), !text.isEmpty { frames.append(chunk([choice(c.index, text, finish: nil)])) }
                }
                for c in choices { frames.append(chunk([choice(c.index, "", finish: c.finishReason)])) }
                if includeUsage { frames.append(chunk([], usage: Self.usage(response.usage))) }
            case .failure(let error): frames.append(.data(error.json))
            }
            return frames + [.done]
        }
    }
}
