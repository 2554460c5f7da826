import CrynuxSDK
import Foundation

/// A parsed `POST /v1/chat/completions` body, checked field by field; what the network cannot honour is a 400
/// naming the parameter, never silently ignored.
public struct ChatRequest: Sendable {
    /// The requested model id.
    public var model: String
    /// The task arguments it maps to.
    public var task: GPTTaskArgs
    /// `stream`.
    public var stream: Bool
    /// `stream_options.include_usage`.
    public var includeUsage: Bool
    /// The function tools offered to the model (also passed to its chat template).
    public var tools: [JSONValue]
    /// `tool_choice`.
    public var toolChoice: ToolChoice
    /// `response_format`.
    public var responseFormat: ResponseFormat
    /// `vram_limit`: the task's VRAM floor in GB (a Crynux extension; nil when the body has none).
    public var vramLimit: Int?

    /// The most VRAM (GB) a request may ask for (the relay's own ceiling).
    public static let maxVRAM = 4096

    /// What `tool_choice` asks for.
    public enum ToolChoice: Sendable, Hashable {
        /// The model may answer or call tools (the default with tools).
        case auto
        /// No tools: they are not shown to the model.
        case none
        /// The answer must be a tool call.
        case required
        /// The answer must call this function.
        case function(String)
    }

    /// What `response_format` asks for.
    public enum ResponseFormat: Sendable, Hashable {
        /// Free text.
        case text
        /// Any JSON object.
        case jsonObject
        /// JSON valid against a schema.
        case jsonSchema(name: String, schema: JSONValue)
    }

    static let ignored: Set<String> = ["user", "metadata", "store", "safety_identifier", "prompt_cache_key", "service_tier", "parallel_tool_calls"]
    static let known: Set<String> = [
        "model", "messages", "max_tokens", "max_completion_tokens", "n", "temperature", "top_p", "seed", "stop", "stream", "stream_options",
        "frequency_penalty", "presence_penalty", "logprobs", "top_logprobs", "tools", "tool_choice", "response_format", "top_k", "min_p",
        "repetition_penalty", "vram_limit",
    ]

    /// A tool call whose `function.arguments` JSON string is replaced by the object it holds (left alone if it is not JSON).
    static func argumentsAsObject(_ call: JSONValue) -> JSONValue {
        guard case .object(var members) = call, let fi = members.firstIndex(where: { $0.key == "function" }),
            case .object(var function) = members[fi].value, let ai = function.firstIndex(where: { $0.key == "arguments" }),
            let text = function[ai].value.stringValue, let parsed = try? JSONValue.parse(text)
        else { return call }
        function[ai] = JSONMember("arguments", parsed)
        members[fi] = JSONMember("function", .object(function))
        return .object(members)
    }

    /// Parses and checks a request body.
    public init(json body: JSONValue, defaultMaxTokens: Int = 256) throws(OpenAIError) {
        guard case .object(let members) = body else { throw .invalid("body", "The request body must be a JSON object.") }
        for m in members where !Self.known.contains(m.key) && !Self.ignored.contains(m.key) {
            throw .invalid(m.key, "Unrecognized request argument supplied: \(m.key)", code: "unsupported_parameter")
        }
        func int(_ key: String, _ range: ClosedRange<Int>) throws(OpenAIError) -> Int? {
            guard let v = body[key], v != .null else { return nil }
            guard let d = v.doubleValue, let i = Int(exactly: d), range.contains(i) else {
                throw .invalid(key, "\(key) must be an integer in \(range.lowerBound)...\(range.upperBound).")
            }
            return i
        }
        func number(_ key: String, _ range: ClosedRange<Double>) throws(OpenAIError) -> Double? {
            guard let v = body[key], v != .null else { return nil }
            guard let d = v.doubleValue, range.contains(d) else { throw .invalid(key, "\(key) must be a number in \(range.lowerBound)...\(range.upperBound).") }
            return d
        }
        guard let model = body["model"]?.stringValue, !model.isEmpty else { throw .invalid("model", "You must provide a model parameter.") }
        self.model = model
        guard case .array(let rawMessages)? = body["messages"], !rawMessages.isEmpty else {
            throw .invalid("messages", "messages must be a non-empty array.")
        }
        var messages: [ChatMessage] = []
        for (i, m) in rawMessages.enumerated() {
            guard var role = m["role"]?.stringValue else { throw .invalid("messages[\(i)].role", "Each message needs a role.") }
            if role == "developer" { role = "system" }
            guard let chatRole = ChatMessage.Role(rawValue: role) else {
                throw .invalid("messages[\(i)].role", "Unsupported role \(role): use system, developer, user, assistant or tool.")
            }
            var text: String
            switch m["content"] {
            case .string(let s)?: text = s
            case .array(let parts)?:
                text = ""
                for (j, part) in parts.enumerated() {
                    guard part["type"]?.stringValue == "text", let t = part["text"]?.stringValue else {
                        throw .invalid("messages[\(i)].content[\(j)]", "Only text content parts are supported.", code: "unsupported_parameter")
                    }
                    text += t
                }
            case .null?, nil:
                guard chatRole == .assistant else { throw .invalid("messages[\(i)].content", "content is required.") }
                text = ""
            default:
                throw .invalid("messages[\(i)].content", "content must be a string or an array of parts.")
            }
            var message = ChatMessage.text(chatRole, text)
            if chatRole == .assistant, let calls = m["tool_calls"], calls != .null {
                guard case .array(let items) = calls, items.allSatisfy({ $0["function"]?["name"]?.stringValue != nil }) else {
                    throw .invalid("messages[\(i)].tool_calls", "tool_calls must be an array of {id, type: function, function: {name, arguments}}.")
                }
                // Hugging Face chat templates want the arguments as an object; DeepSeek V3/R1's want the string.
                let keepStrings = model.lowercased().contains("deepseek-v3") || model.lowercased().contains("deepseek-r1")
                message.toolCalls = keepStrings ? items : items.map(Self.argumentsAsObject)
            }
            if chatRole == .tool {
                guard let id = m["tool_call_id"]?.stringValue else {
                    throw .invalid("messages[\(i)].tool_call_id", "A tool message needs the tool_call_id it answers.")
                }
                message.toolCallID = id
            }
            messages.append(message)
        }
        var config = GenerationConfig()
        let maxCompletion = try int("max_completion_tokens", 1...32_768)
        let maxTokens = try int("max_tokens", 1...32_768)
        config.maxNewTokens = maxCompletion ?? maxTokens ?? defaultMaxTokens
        let n = try int("n", 1...8) ?? 1
        if n > 1 { config.numReturnSequences = n }
        let temperature = try number("temperature", 0...2) ?? 1
        if temperature > 0 {
            config.doSample = true
            config.temperature = temperature
        }
        if let topP = try number("top_p", 0...1), topP < 1 {
            config.doSample = temperature > 0 ? true : config.doSample
            config.topP = topP
        }
        if let k = try int("top_k", 0...100_000), k > 0 { config.topK = k }
        if let p = try number("min_p", 0...1), p > 0 { config.minP = p }
        if let r = try number("repetition_penalty", 0.01...10), r != 1 { config.repetitionPenalty = r }
        for key in ["frequency_penalty", "presence_penalty"] {
            if let v = try number(key, -2...2), v != 0 {
                throw .invalid(key, "\(key) is not supported by the Crynux engines; use repetition_penalty instead.", code: "unsupported_parameter")
            }
        }
        if body["logprobs"]?.boolValue == true || body["top_logprobs"] != nil && body["top_logprobs"] != .null {
            throw .invalid("logprobs", "logprobs are not available from the network.", code: "unsupported_parameter")
        }
        var tools: [JSONValue] = []
        var names: Set<String> = []
        switch body["tools"] {
        case .array(let items)?:
            for (i, tool) in items.enumerated() {
                guard tool["type"]?.stringValue == "function", let name = tool["function"]?["name"]?.stringValue,
                    name.range(of: "^[A-Za-z0-9_-]{1,64}$", options: .regularExpression) != nil
                else {
                    throw .invalid("tools", "tools[\(i)] must be {\"type\": \"function\", \"function\": {\"name\": …}} with a name of 1–64 letters, digits, _ or -.")
                }
                if let p = tool["function"]?["parameters"], p != .null {
                    guard case .object = p else { throw .invalid("tools", "tools[\(i)].function.parameters must be a JSON Schema object.") }
                }
                names.insert(name)
                tools.append(tool)
            }
            guard tools.count <= 128 else { throw .invalid("tools", "At most 128 tools.") }
        case .null?, nil: break
        default: throw .invalid("tools", "tools must be an array of function tools.")
        }
        switch body["tool_choice"] {
        case .null?, nil: toolChoice = .auto
        case .string("auto")?: toolChoice = .auto
        case .string("none")?: toolChoice = .none
        case .string("required")?: toolChoice = .required
        case .object? where body["tool_choice"]?["type"]?.stringValue == "function":
            guard let name = body["tool_choice"]?["function"]?["name"]?.stringValue, names.contains(name) else {
                throw .invalid("tool_choice", "tool_choice names a function that is not in tools.")
            }
            toolChoice = .function(name)
        default: throw .invalid("tool_choice", "tool_choice is \"none\", \"auto\", \"required\" or {\"type\": \"function\", \"function\": {\"name\": …}}.")
        }
        if tools.isEmpty, toolChoice == .required {
            throw .invalid("tool_choice", "tool_choice \"required\" needs tools.")
        }
        self.tools = toolChoice == .none ? [] : tools
        switch body["response_format"]?["type"]?.stringValue {
        case nil where body["response_format"] == nil || body["response_format"] == .null: responseFormat = .text
        case "text"?: responseFormat = .text
        case "json_object"?:
            let mentionsJSON = messages.contains { m in
                if case .text(let t)? = m.content { return t.lowercased().contains("json") }
                return false
            }
            guard mentionsJSON else {
                throw .invalid("response_format", "'messages' must contain the word 'json' in some form, to use 'response_format' of type 'json_object'.")
            }
            responseFormat = .jsonObject
        case "json_schema"?:
            let spec = body["response_format"]?["json_schema"]
            guard let name = spec?["name"]?.stringValue, name.range(of: "^[A-Za-z0-9_-]{1,64}$", options: .regularExpression) != nil else {
                throw .invalid("response_format", "response_format.json_schema.name is required: 1–64 letters, digits, _ or -.")
            }
            guard let schema = spec?["schema"], case .object = schema else {
                throw .invalid("response_format", "response_format.json_schema.schema must be a JSON Schema object.")
            }
            do { try JSONSchema.check(schema) } catch { throw .invalid("response_format", "response_format.json_schema.schema: \(error)") }
            responseFormat = .jsonSchema(name: name, schema: schema)
        default: throw .invalid("response_format", "response_format.type is text, json_object or json_schema.")
        }
        switch body["stop"] {
        case .string(let s)?: config.stopStrings = [s]
        case .array(let items)?:
            let stops = items.compactMap(\.stringValue)
            guard stops.count == items.count, stops.count <= 4 else { throw .invalid("stop", "stop is a string or up to 4 strings.") }
            if !stops.isEmpty { config.stopStrings = stops }
        case .null?, nil: break
        default: throw .invalid("stop", "stop is a string or up to 4 strings.")
        }
        vramLimit = try int("vram_limit", 1...Self.maxVRAM)
        stream = body["stream"]?.boolValue ?? false
        includeUsage = body["stream_options"]?["include_usage"]?.boolValue ?? false
        var task = GPTTaskArgs(model: model, messages: messages, tools: self.tools.isEmpty ? nil : self.tools, generationConfig: config)
        if let seed = body["seed"], seed != .null {
            guard let d = seed.doubleValue, let s = Int(exactly: d) else { throw .invalid("seed", "seed must be an integer.") }
            task.seed = s
        }
        do { try task.validate() } catch { throw .invalid("messages", "\(error)") }
        self.task = task
    }
}
