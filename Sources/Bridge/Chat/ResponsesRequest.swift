import CrynuxSDK
import Foundation

/// A parsed `POST /v1/responses` body (OpenAI's Responses API), checked field by field and turned into the Chat
/// Completions request the network runs; what the network cannot honour is a 400 naming the field.
struct ResponsesRequest: Sendable {
    /// The Chat Completions body the request became.
    var chatBody: JSONValue
    /// `chatBody` parsed and checked.
    var chat: ChatRequest
    /// The conversation before the answer as chat messages, without `instructions` (stored for `previous_response_id`).
    var input: JSONValue
    /// The request's own fields, echoed in the response object.
    var echo: JSONValue
    /// `stream`.
    var stream: Bool
    /// `store` (default true).
    var store: Bool
    /// `background`.
    var background: Bool

    static let known: Set<String> = [
        "model", "input", "instructions", "tools", "tool_choice", "text", "max_output_tokens", "temperature", "top_p", "stream", "store",
        "previous_response_id", "background", "metadata", "user", "parallel_tool_calls", "truncation", "reasoning", "include", "service_tier",
        "prompt_cache_key", "safety_identifier", "top_logprobs", "stream_options", "vram_limit", "top_k", "min_p", "repetition_penalty",
        "max_tool_calls", "conversation", "prompt",
    ]

    /// Parses `body`; `previous` gives the whole conversation (chat messages) of a stored response of the same key.
    init(json body: JSONValue, defaultMaxTokens: Int, previous: (String) throws -> [JSONValue]) throws {
        guard case .object(let members) = body else { throw OpenAIError.invalid("body", "The request body must be a JSON object.") }
        for m in members where !Self.known.contains(m.key) {
            throw OpenAIError.invalid(m.key, "Unrecognized request argument supplied: \(m.key)", code: "unsupported_parameter")
        }
        func absent(_ key: String) -> Bool { body[key] == nil || body[key] == .null }
        for key in ["conversation", "prompt"] where !absent(key) {
            throw OpenAIError.invalid(key, "\(key) is not supported: send the conversation in input, or continue one with previous_response_id.", code: "unsupported_parameter")
        }
        if let n = body["max_tool_calls"], n != .null, n.doubleValue == nil {
            throw OpenAIError.invalid("max_tool_calls", "max_tool_calls must be an integer.")
        }
        if let v = body["top_logprobs"], v != .null, v.doubleValue != 0 {
            throw OpenAIError.invalid("top_logprobs", "logprobs are not available from the network.", code: "unsupported_parameter")
        }
        if case .object(let reasoning)? = body["reasoning"], reasoning.contains(where: { $0.value != .null }) {
            throw OpenAIError.invalid("reasoning", "reasoning options are not supported by the network's models.", code: "unsupported_parameter")
        } else if let r = body["reasoning"], r != .null, r.objectValue == nil {
            throw OpenAIError.invalid("reasoning", "reasoning must be an object.")
        }
        if let t = body["truncation"], t != .null, t != .string("disabled"), t != .string("auto") {
            throw OpenAIError.invalid("truncation", "truncation is \"auto\" or \"disabled\".")
        }
        if let i = body["include"], i != .null, i.arrayValue == nil { throw OpenAIError.invalid("include", "include must be an array of strings.") }
        guard let model = body["model"]?.stringValue, !model.isEmpty else { throw OpenAIError.invalid("model", "You must provide a model parameter.") }
        stream = body["stream"]?.boolValue ?? false
        store = body["store"]?.boolValue ?? true
        background = body["background"]?.boolValue ?? false
        if background && !store { throw OpenAIError.invalid("background", "background responses need store: true (they are read back with GET /v1/responses/{id}).") }

        // The conversation: the previous response's, then this input.
        var conversation: [JSONValue] = []
        var previousID: String?
        if let p = body["previous_response_id"], p != .null {
            guard let id = p.stringValue, !id.isEmpty else { throw OpenAIError.invalid("previous_response_id", "previous_response_id must be a response id.") }
            previousID = id
            conversation = try previous(id)
        }
        conversation += try Self.messages(from: body["input"])
        guard !conversation.isEmpty else { throw OpenAIError.invalid("input", "input must be a non-empty string or array of items.") }
        input = .array(conversation)
        var messages = conversation
        var instructions: String?
        switch body["instructions"] {
        case .string(let s)?:
            instructions = s
            if !s.isEmpty { messages.insert(.object([JSONMember("role", .string("system")), JSONMember("content", .string(s))]), at: 0) }
        case .null?, nil: break
        default: throw OpenAIError.invalid("instructions", "instructions must be a string.")
        }

        var chatMembers: [JSONMember] = [JSONMember("model", .string(model)), JSONMember("messages", .array(messages))]
        var tools: [JSONValue] = []
        switch body["tools"] {
        case .array(let items)?:
            for (i, tool) in items.enumerated() {
                guard tool["type"]?.stringValue == "function" else {
                    throw OpenAIError.invalid(
                        "tools", "tools[\(i)]: only function tools are supported (type \(tool["type"]?.stringValue ?? "missing")).", code: "unsupported_parameter")
                }
                guard let name = tool["name"]?.stringValue else { throw OpenAIError.invalid("tools", "tools[\(i)].name is required.") }
                var function: [JSONMember] = [JSONMember("name", .string(name))]
                for key in ["description", "parameters", "strict"] { if let v = tool[key], v != .null { function.append(JSONMember(key, v)) } }
                tools.append(.object([JSONMember("type", .string("function")), JSONMember("function", .object(function))]))
            }
            if !tools.isEmpty { chatMembers.append(JSONMember("tools", .array(tools))) }
        case .null?, nil: break
        default: throw OpenAIError.invalid("tools", "tools must be an array of function tools.")
        }
        switch body["tool_choice"] {
        case .null?, nil: break
        case .string(let s)?: chatMembers.append(JSONMember("tool_choice", .string(s)))
        case .object? where body["tool_choice"]?["type"]?.stringValue == "function":
            guard let name = body["tool_choice"]?["name"]?.stringValue else { throw OpenAIError.invalid("tool_choice", "tool_choice.name is required.") }
            chatMembers.append(
                JSONMember("tool_choice", .object([JSONMember("type", .string("function")), JSONMember("function", .object([JSONMember("name", .string(name))]))])))
        default:
            throw OpenAIError.invalid("tool_choice", "tool_choice is \"none\", \"auto\", \"required\" or {\"type\": \"function\", \"name\": …}.", code: "unsupported_parameter")
        }
        if let text = body["text"], text != .null {
            guard case .object(let textMembers) = text else { throw OpenAIError.invalid("text", "text must be an object.") }
            for m in textMembers where m.key != "format" && m.key != "verbosity" {
                throw OpenAIError.invalid("text.\(m.key)", "Unrecognized request argument supplied: text.\(m.key)", code: "unsupported_parameter")
            }
            if let format = text["format"], format != .null {
                switch format["type"]?.stringValue {
                case "text"?: chatMembers.append(JSONMember("response_format", .object([JSONMember("type", .string("text"))])))
                case "json_object"?: chatMembers.append(JSONMember("response_format", .object([JSONMember("type", .string("json_object"))])))
                case "json_schema"?:
                    var spec: [JSONMember] = []
                    for key in ["name", "schema", "strict", "description"] { if let v = format[key], v != .null { spec.append(JSONMember(key, v)) } }
                    chatMembers.append(
                        JSONMember("response_format", .object([JSONMember("type", .string("json_schema")), JSONMember("json_schema", .object(spec))])))
                default: throw OpenAIError.invalid("text.format", "text.format.type is text, json_object or json_schema.")
                }
            }
        }
        let pass: [(String, String)] = [
            ("max_output_tokens", "max_completion_tokens"), ("temperature", "temperature"), ("top_p", "top_p"), ("vram_limit", "vram_limit"),
            ("top_k", "top_k"), ("min_p", "min_p"), ("repetition_penalty", "repetition_penalty"),
        ]
        for (from, to) in pass { if let v = body[from], v != .null { chatMembers.append(JSONMember(to, v)) } }
        chatBody = .object(chatMembers)
        do { chat = try ChatRequest(json: chatBody, defaultMaxTokens: defaultMaxTokens) } catch { throw Self.renamed(error) }

        func echoed(_ key: String, _ fallback: JSONValue) -> JSONValue { body[key].flatMap { $0 == .null ? nil : $0 } ?? fallback }
        var toolsEcho: [JSONValue] = []
        if case .array(let items)? = body["tools"] {
            toolsEcho = items.map { tool in
                var m: [JSONMember] = [JSONMember("type", .string("function")), JSONMember("name", tool["name"] ?? .null)]
                m.append(JSONMember("description", tool["description"] ?? .null))
                m.append(JSONMember("parameters", tool["parameters"] ?? .null))
                m.append(JSONMember("strict", tool["strict"] ?? .bool(true)))
                return .object(m)
            }
        }
        var format: JSONValue = .object([JSONMember("type", .string("text"))])
        if let f = body["text"]?["format"], f != .null { format = f }
        echo = .object([
            JSONMember("model", .string(model)), JSONMember("instructions", instructions.map { .string($0) } ?? .null),
            JSONMember("max_output_tokens", echoed("max_output_tokens", .null)), JSONMember("metadata", echoed("metadata", .object([]))),
            JSONMember("parallel_tool_calls", echoed("parallel_tool_calls", .bool(true))),
            JSONMember("previous_response_id", previousID.map { .string($0) } ?? .null), JSONMember("temperature", echoed("temperature", .number("1"))),
            JSONMember("top_p", echoed("top_p", .number("1"))), JSONMember("tools", .array(toolsEcho)),
            JSONMember("tool_choice", echoed("tool_choice", .string("auto"))), JSONMember("text", .object([JSONMember("format", format)])),
            JSONMember("truncation", echoed("truncation", .string("disabled"))), JSONMember("user", echoed("user", .null)),
            JSONMember("store", .bool(store)), JSONMember("background", .bool(background)),
        ])
    }

    /// A chat request's 400 with the parameter named as the Responses API names it.
    static func renamed(_ error: OpenAIError) -> OpenAIError {
        var e = error
        switch e.param {
        case "response_format"?: e.param = "text.format"
        case "max_completion_tokens"?: e.param = "max_output_tokens"
        case let p? where p.hasPrefix("messages"): e.param = "input"
        default: break
        }
        e.message = e.message.replacingOccurrences(of: "'messages'", with: "'input'").replacingOccurrences(of: "response_format", with: "text.format")
            .replacingOccurrences(of: "max_completion_tokens", with: "max_output_tokens")
        return e
    }

    /// The chat messages of an `input`: a string (one user message) or items (messages, `function_call`,
    /// `function_call_output`; `reasoning` items carry nothing the network's models use and are skipped).
    static func messages(from input: JSONValue?) throws -> [JSONValue] {
        switch input {
        case .string(let s)?: return [.object([JSONMember("role", .string("user")), JSONMember("content", .string(s))])]
        case .null?, nil: return []
        case .array(let items)?:
            var out: [JSONValue] = []
            for (i, item) in items.enumerated() {
                let type = item["type"]?.stringValue ?? (item["role"] != nil ? "message" : "")
                switch type {
                case "message":
                    guard let role = item["role"]?.stringValue, ["user", "assistant", "system", "developer"].contains(role) else {
                        throw OpenAIError.invalid("input[\(i)].role", "A message's role is user, assistant, system or developer.")
                    }
                    out.append(.object([JSONMember("role", .string(role)), JSONMember("content", .string(try text(of: item["content"], at: "input[\(i)].content")))]))
                case "function_call":
                    guard let callID = item["call_id"]?.stringValue, let name = item["name"]?.stringValue, let arguments = item["arguments"]?.stringValue else {
                        throw OpenAIError.invalid("input[\(i)]", "A function_call item needs call_id, name and arguments (a JSON string).")
                    }
                    let call = JSONValue.object([
                        JSONMember("id", .string(callID)), JSONMember("type", .string("function")),
                        JSONMember("function", .object([JSONMember("name", .string(name)), JSONMember("arguments", .string(arguments))])),
                    ])
                    // Calls that follow an assistant message (or each other) belong to that assistant turn.
                    if case .object(var last)? = out.last, last.first(where: { $0.key == "role" })?.value == .string("assistant") {
                        if let ci = last.firstIndex(where: { $0.key == "tool_calls" }), case .array(let calls) = last[ci].value {
                            last[ci] = JSONMember("tool_calls", .array(calls + [call]))
                        } else {
                            last.append(JSONMember("tool_calls", .array([call])))
                        }
                        out[out.count - 1] = .object(last)
                    } else {
                        out.append(.object([JSONMember("role", .string("assistant")), JSONMember("content", .null), JSONMember("tool_calls", .array([call]))]))
                    }
                case "function_call_output":
                    guard let callID = item["call_id"]?.stringValue else {
                        throw OpenAIError.invalid("input[\(i)].call_id", "A function_call_output item needs the call_id it answers.")
                    }
                    out.append(
                        .object([
                            JSONMember("role", .string("tool")), JSONMember("tool_call_id", .string(callID)),
                            JSONMember("content", .string(try text(of: item["output"], at: "input[\(i)].output"))),
                        ]))
                case "reasoning": continue
                default:
                    throw OpenAIError.invalid(
                        "input[\(i)].type", "Input items of type \(type.isEmpty ? "(none)" : type) are not supported: use messages, function_call and function_call_output.",
                        code: "unsupported_parameter")
                }
            }
            return out
        default: throw OpenAIError.invalid("input", "input must be a string or an array of items.")
        }
    }

    /// The text of a content value: a string, or `input_text` / `output_text` parts.
    static func text(of content: JSONValue?, at param: String) throws -> String {
        switch content {
        case .string(let s)?: return s
        case .array(let parts)?:
            var text = ""
            for (j, part) in parts.enumerated() {
                guard let type = part["type"]?.stringValue, ["input_text", "output_text", "text"].contains(type), let t = part["text"]?.stringValue else {
                    throw OpenAIError.invalid("\(param)[\(j)]", "Only text content parts (input_text, output_text) are supported.", code: "unsupported_parameter")
                }
                text += t
            }
            return text
        default: throw OpenAIError.invalid(param, "content must be a string or an array of text parts.")
        }
    }
}

extension JSONValue {
    /// The members when this is an object.
    var objectValue: [JSONMember]? {
        if case .object(let m) = self { return m }
        return nil
    }

    /// The items when this is an array.
    var arrayValue: [JSONValue]? {
        if case .array(let a) = self { return a }
        return nil
    }
}
