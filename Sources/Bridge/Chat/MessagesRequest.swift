import CrynuxSDK
import Foundation

/// A parsed `POST /v1/messages` body (Anthropic's Messages API), checked field by field and turned into the Chat
/// Completions request the network runs; what the network cannot honour is a 400 naming the field.
struct MessagesRequest: Sendable {
    /// The Chat Completions body the request became.
    var chatBody: JSONValue
    /// `chatBody` parsed and checked.
    var chat: ChatRequest
    /// `stream`.
    var stream: Bool

    static let known: Set<String> = [
        "model", "messages", "max_tokens", "system", "stop_sequences", "temperature", "top_p", "top_k", "stream", "tools", "tool_choice", "metadata",
        "service_tier", "thinking", "vram_limit",
    ]

    /// Parses `body`; `countingOnly` is `count_tokens`' body, which has no `max_tokens`.
    init(json body: JSONValue, countingOnly: Bool = false) throws {
        guard case .object(let members) = body else { throw OpenAIError.invalid("body", "The request body must be a JSON object.") }
        for m in members where !Self.known.contains(m.key) {
            throw OpenAIError.invalid(m.key, "\(m.key): Extra inputs are not permitted", code: "unsupported_parameter")
        }
        guard let model = body["model"]?.stringValue, !model.isEmpty else { throw OpenAIError.invalid("model", "model: Field required") }
        if let thinking = body["thinking"], thinking != .null, thinking["type"]?.stringValue != "disabled" {
            throw OpenAIError.invalid("thinking", "thinking is not supported by the network's models.", code: "unsupported_parameter")
        }
        var chatMembers: [JSONMember] = [JSONMember("model", .string(model))]
        if countingOnly {
            chatMembers.append(JSONMember("max_tokens", .integer(1)))
        } else {
            guard let v = body["max_tokens"], let d = v.doubleValue, let n = Int(exactly: d), n >= 1 else {
                throw OpenAIError.invalid("max_tokens", "max_tokens: Field required (an integer of at least 1).")
            }
            chatMembers.append(JSONMember("max_tokens", .integer(n)))
        }
        var messages: [JSONValue] = []
        switch body["system"] {
        case .string(let s)? where !s.isEmpty: messages.append(Self.message("system", .string(s)))
        case .array(let blocks)?:
            let text = try blocks.enumerated().map { j, b throws -> String in
                guard b["type"]?.stringValue == "text", let t = b["text"]?.stringValue else {
                    throw OpenAIError.invalid("system.\(j)", "system blocks must be text blocks.", code: "unsupported_parameter")
                }
                return t
            }.joined(separator: "\n")
            if !text.isEmpty { messages.append(Self.message("system", .string(text))) }
        case .string?, .null?, nil: break
        default: throw OpenAIError.invalid("system", "system must be a string or an array of text blocks.")
        }
        guard case .array(let raw)? = body["messages"], !raw.isEmpty else { throw OpenAIError.invalid("messages", "messages: at least one message is required.") }
        for (i, m) in raw.enumerated() {
            guard let role = m["role"]?.stringValue, role == "user" || role == "assistant" else {
                throw OpenAIError.invalid("messages.\(i).role", "messages.\(i).role: Input should be 'user' or 'assistant'")
            }
            switch m["content"] {
            case .string(let s)?: messages.append(Self.message(role, .string(s)))
            case .array(let blocks)?:
                var text = ""
                var calls: [JSONValue] = []
                for (j, block) in blocks.enumerated() {
                    let at = "messages.\(i).content.\(j)"
                    switch block["type"]?.stringValue {
                    case "text"?:
                        guard let t = block["text"]?.stringValue else { throw OpenAIError.invalid(at, "\(at).text: Field required") }
                        text += t
                    case "tool_use"? where role == "assistant":
                        guard let id = block["id"]?.stringValue, let name = block["name"]?.stringValue else {
                            throw OpenAIError.invalid(at, "\(at): a tool_use block needs id, name and input.")
                        }
                        let input = block["input"] ?? .object([])
                        calls.append(
                            .object([
                                JSONMember("id", .string(id)), JSONMember("type", .string("function")),
                                JSONMember("function", .object([JSONMember("name", .string(name)), JSONMember("arguments", .string(input.compactText))])),
                            ]))
                    case "tool_result"? where role == "user":
                        guard let id = block["tool_use_id"]?.stringValue else { throw OpenAIError.invalid(at, "\(at).tool_use_id: Field required") }
                        var result: String
                        switch block["content"] {
                        case .string(let s)?: result = s
                        case .array(let parts)?:
                            result = try parts.map { p throws -> String in
                                guard p["type"]?.stringValue == "text", let t = p["text"]?.stringValue else {
                                    throw OpenAIError.invalid(at, "\(at).content: only text blocks are supported.", code: "unsupported_parameter")
                                }
                                return t
                            }.joined(separator: "\n")
                        case .null?, nil: result = ""
                        default: throw OpenAIError.invalid(at, "\(at).content must be a string or text blocks.")
                        }
                        if block["is_error"]?.boolValue == true { result = "Error: " + result }
                        // Tool results answer the previous assistant turn's calls: they come before any text of this turn.
                        if !text.isEmpty {
                            messages.append(Self.message("user", .string(text)))
                            text = ""
                        }
                        messages.append(
                            .object([JSONMember("role", .string("tool")), JSONMember("tool_call_id", .string(id)), JSONMember("content", .string(result))]))
                    case let type?:
                        throw OpenAIError.invalid(at, "\(at): content blocks of type \(type) are not supported here.", code: "unsupported_parameter")
                    case nil: throw OpenAIError.invalid(at, "\(at).type: Field required")
                    }
                }
                if role == "assistant" {
                    var message: [JSONMember] = [JSONMember("role", .string("assistant")), JSONMember("content", text.isEmpty && !calls.isEmpty ? .null : .string(text))]
                    if !calls.isEmpty { message.append(JSONMember("tool_calls", .array(calls))) }
                    messages.append(.object(message))
                } else if !text.isEmpty || blocks.isEmpty {
                    messages.append(Self.message("user", .string(text)))
                }
            default: throw OpenAIError.invalid("messages.\(i).content", "messages.\(i).content must be a string or an array of content blocks.")
            }
        }
        chatMembers.append(JSONMember("messages", .array(messages)))
        var toolNames: [String] = []
        switch body["tools"] {
        case .array(let items)?:
            var tools: [JSONValue] = []
            for (i, tool) in items.enumerated() {
                if let type = tool["type"]?.stringValue, type != "custom" {
                    throw OpenAIError.invalid("tools.\(i)", "tools.\(i): server tools (\(type)) are not supported; give client tools {name, description, input_schema}.", code: "unsupported_parameter")
                }
                guard let name = tool["name"]?.stringValue else { throw OpenAIError.invalid("tools.\(i).name", "tools.\(i).name: Field required") }
                guard let schema = tool["input_schema"], case .object = schema else {
                    throw OpenAIError.invalid("tools.\(i).input_schema", "tools.\(i).input_schema: Field required (a JSON Schema object)")
                }
                var function: [JSONMember] = [JSONMember("name", .string(name))]
                if let d = tool["description"], d != .null { function.append(JSONMember("description", d)) }
                function.append(JSONMember("parameters", schema))
                tools.append(.object([JSONMember("type", .string("function")), JSONMember("function", .object(function))]))
                toolNames.append(name)
            }
            if !tools.isEmpty { chatMembers.append(JSONMember("tools", .array(tools))) }
        case .null?, nil: break
        default: throw OpenAIError.invalid("tools", "tools must be an array of tools.")
        }
        switch body["tool_choice"] {
        case .null?, nil: break
        case .object? :
            switch body["tool_choice"]?["type"]?.stringValue {
            case "auto"?: chatMembers.append(JSONMember("tool_choice", .string("auto")))
            case "any"?: chatMembers.append(JSONMember("tool_choice", .string("required")))
            case "none"?: chatMembers.append(JSONMember("tool_choice", .string("none")))
            case "tool"?:
                guard let name = body["tool_choice"]?["name"]?.stringValue else { throw OpenAIError.invalid("tool_choice.name", "tool_choice.name: Field required") }
                chatMembers.append(
                    JSONMember("tool_choice", .object([JSONMember("type", .string("function")), JSONMember("function", .object([JSONMember("name", .string(name))]))])))
            default: throw OpenAIError.invalid("tool_choice", "tool_choice.type is auto, any, tool or none.")
            }
        default: throw OpenAIError.invalid("tool_choice", "tool_choice must be an object {type: auto|any|tool|none}.")
        }
        if let t = body["temperature"], t != .null {
            guard let d = t.doubleValue, (0...1).contains(d) else { throw OpenAIError.invalid("temperature", "temperature: Input should be between 0 and 1") }
            chatMembers.append(JSONMember("temperature", t))
        }
        switch body["stop_sequences"] {
        case .array(let items)? where !items.isEmpty: chatMembers.append(JSONMember("stop", .array(items)))
        case .array?, .null?, nil: break
        default: throw OpenAIError.invalid("stop_sequences", "stop_sequences must be an array of strings.")
        }
        for key in ["top_p", "top_k", "vram_limit"] { if let v = body[key], v != .null { chatMembers.append(JSONMember(key, v)) } }
        stream = countingOnly ? false : (body["stream"]?.boolValue ?? false)
        chatBody = .object(chatMembers)
        do { chat = try ChatRequest(json: chatBody) } catch {
            var e = error
            if e.param == "stop" { e.param = "stop_sequences"; e.message = "stop_sequences holds at most 4 strings on this Bridge." }
            if let p = e.param, p.hasPrefix("messages[") { e.param = "messages" }
            throw e
        }
    }

    static func message(_ role: String, _ content: JSONValue) -> JSONValue {
        .object([JSONMember("role", .string(role)), JSONMember("content", content)])
    }
}
