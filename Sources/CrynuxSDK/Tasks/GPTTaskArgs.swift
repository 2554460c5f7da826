import Foundation

/// The arguments of an LLM task (`gpt-task` `GPTTaskArgs`, schema `gpt-inference-task.json` v3.1.0).
///
/// Optional fields left `nil` are omitted from the JSON; the network then applies its defaults
/// (`seed` 0, `dtype` auto, `max_new_tokens` 256, `num_return_sequences` 1).
public struct GPTTaskArgs: TaskArguments {
    /// LLM tasks are task type 1.
    public static var taskType: TaskType { .llm }

    /// The Hugging Face model id, e.g. `Qwen/Qwen2.5-7B-Instruct`.
    public var model: String
    /// The conversation.
    public var messages: [ChatMessage]
    /// Tool (function) definitions in the OpenAI / Hugging Face form, passed to the chat template as-is.
    public var tools: [JSONValue]?
    /// Generation settings.
    public var generationConfig: GenerationConfig?
    /// Extra chat-template variables such as `enable_thinking` (a JSON object).
    public var templateArgs: JSONValue?
    /// The random seed (network default 0).
    public var seed: Int?
    /// The precision to run in (network default `auto`).
    public var dtype: TaskDType?
    /// Quantize the weights to 4 or 8 bits at load (bitsandbytes on the reference worker).
    public var quantizeBits: Int?

    /// The network's default seed.
    public static let defaultSeed = 0

    /// Creates LLM task arguments.
    public init(
        model: String, messages: [ChatMessage], tools: [JSONValue]? = nil, generationConfig: GenerationConfig? = nil,
        templateArgs: JSONValue? = nil, seed: Int? = nil, dtype: TaskDType? = nil, quantizeBits: Int? = nil
    ) {
        self.model = model
        self.messages = messages
        self.tools = tools
        self.generationConfig = generationConfig
        self.templateArgs = templateArgs
        self.seed = seed
        self.dtype = dtype
        self.quantizeBits = quantizeBits
    }

    enum CodingKeys: String, CodingKey {
        case model, messages, tools
        case generationConfig = "generation_config"
        case templateArgs = "template_args"
        case seed, dtype
        case quantizeBits = "quantize_bits"
    }

    /// Decodes, rejecting values of the wrong JSON type with the field's path.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        model = try c.decode(String.self, forKey: .model)
        messages = try c.decode([ChatMessage].self, forKey: .messages)
        if let tools = try c.decodeIfPresent([JSONValue].self, forKey: .tools) {
            for (i, tool) in tools.enumerated() {
                guard case .object = tool else {
                    throw DecodingError.typeMismatch(
                        JSONValue.self, .init(codingPath: c.codingPath + [CodingKeys.tools, IndexKey(i)], debugDescription: "expected an object"))
                }
            }
            self.tools = tools
        }
        generationConfig = try c.decodeIfPresent(GenerationConfig.self, forKey: .generationConfig)
        if let args = try c.decodeIfPresent(JSONValue.self, forKey: .templateArgs) {
            guard case .object = args else {
                throw DecodingError.typeMismatch(
                    JSONValue.self, .init(codingPath: c.codingPath + [CodingKeys.templateArgs], debugDescription: "expected an object"))
            }
            templateArgs = args
        }
        seed = try c.decodeNonNull(Int.self, forKey: .seed)
        dtype = try c.decodeChoice(TaskDType.allCases.map(\.rawValue), forKey: .dtype, nullable: false).flatMap(TaskDType.init)
        quantizeBits = try c.decodeIfPresent(Int.self, forKey: .quantizeBits)
    }

    /// Encodes the fields that are set, in the network's order.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(model, forKey: .model)
        try c.encode(messages, forKey: .messages)
        try c.encodeIfPresent(tools, forKey: .tools)
        try c.encodeIfPresent(generationConfig, forKey: .generationConfig)
        try c.encodeIfPresent(templateArgs, forKey: .templateArgs)
        try c.encodeIfPresent(seed, forKey: .seed)
        try c.encodeIfPresent(dtype, forKey: .dtype)
        try c.encodeIfPresent(quantizeBits, forKey: .quantizeBits)
    }

    /// Checks the arguments as the v3.1.0 schema (and the worker's base64 check) would.
    public func validate() throws(TaskArgsError) {
        let check = FieldCheck(prefix: "")
        try check.nonEmpty(model, "model")
        for (i, message) in messages.enumerated() {
            try message.validate(path: "messages[\(i)]")
        }
        if let q = quantizeBits, q != 4 && q != 8 {
            throw TaskArgsError(field: "quantize_bits", message: "must be 4, 8 or null, got \(q)")
        }
        if let tools {
            for (i, tool) in tools.enumerated() {
                guard case .object = tool else { throw TaskArgsError(field: "tools[\(i)]", message: "must be an object") }
            }
        }
        if let templateArgs, case .object = templateArgs {} else if templateArgs != nil {
            throw TaskArgsError(field: "template_args", message: "must be an object")
        }
    }
}

/// One message of an LLM conversation.
public struct ChatMessage: Codable, Sendable, Hashable {
    /// Who speaks. The schema makes it optional; every real message has one.
    public var role: Role?
    /// The text or content blocks; `nil` when the key is absent.
    public var content: MessageContent?
    /// The id of the tool call this `tool` message answers.
    public var toolCallID: String?
    /// The tool calls an `assistant` message makes, in the OpenAI form (arguments as an object or a string).
    public var toolCalls: [JSONValue]?
    /// Keys that were present with the value `null` (templates tell `null` from absent, so it survives a round trip).
    var explicitNulls: Set<String> = []

    /// The roles the network accepts.
    public enum Role: String, Sendable, Hashable, Codable, CaseIterable {
        /// System instructions.
        case system
        /// The user.
        case user
        /// The model.
        case assistant
        /// A tool's answer.
        case tool
    }

    /// Creates a message.
    public init(role: Role?, content: MessageContent?, toolCallID: String? = nil, toolCalls: [JSONValue]? = nil) {
        self.role = role
        self.content = content
        self.toolCallID = toolCallID
        self.toolCalls = toolCalls
    }

    /// A plain text message.
    public static func text(_ role: Role, _ text: String) -> ChatMessage { ChatMessage(role: role, content: .text(text)) }

    enum CodingKeys: String, CodingKey {
        case role, content
        case toolCallID = "tool_call_id"
        case toolCalls = "tool_calls"
    }

    /// Decodes one message.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        role = try c.decodeChoice(Role.allCases.map(\.rawValue), forKey: .role, nullable: false).flatMap(Role.init)
        for key in [CodingKeys.content, .toolCallID, .toolCalls] where c.contains(key) {
            if try c.decodeNil(forKey: key) { explicitNulls.insert(key.rawValue) }
        }
        content = try c.decodeIfPresent(MessageContent.self, forKey: .content)
        toolCallID = try c.decodeIfPresent(String.self, forKey: .toolCallID)
        if let calls = try c.decodeIfPresent([JSONValue].self, forKey: .toolCalls) {
            for (i, call) in calls.enumerated() {
                guard case .object = call else {
                    throw DecodingError.typeMismatch(
                        JSONValue.self, .init(codingPath: c.codingPath + [CodingKeys.toolCalls, IndexKey(i)], debugDescription: "expected an object"))
                }
            }
            toolCalls = calls
        }
    }

    /// Encodes the message; keys that arrived as `null` are written as `null` again.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encodeIfPresent(role, forKey: .role)
        if let content { try c.encode(content, forKey: .content) } else if explicitNulls.contains("content") { try c.encodeNil(forKey: .content) }
        if let toolCallID { try c.encode(toolCallID, forKey: .toolCallID) } else if explicitNulls.contains("tool_call_id") {
            try c.encodeNil(forKey: .toolCallID)
        }
        if let toolCalls { try c.encode(toolCalls, forKey: .toolCalls) } else if explicitNulls.contains("tool_calls") {
            try c.encodeNil(forKey: .toolCalls)
        }
    }

    func validate(path: String) throws(TaskArgsError) {
        guard case .blocks(let blocks)? = content else { return }
        for (j, block) in blocks.enumerated() {
            let field = "\(path).content[\(j)]"
            switch block {
            case .text(let text):
                if text.isEmpty { throw TaskArgsError(field: field + ".text", message: "must not be empty") }
            case .image(let base64):
                if base64.isEmpty { throw TaskArgsError(field: field + ".base64", message: "must not be empty") }
                if !ContentBlock.isStrictBase64(base64) {
                    throw TaskArgsError(field: field + ".base64", message: "must be valid base64 without a data: prefix or whitespace")
                }
            }
        }
    }
}

/// A message's content: text, a list of text and image blocks, or nothing.
public enum MessageContent: Codable, Sendable, Hashable {
    /// Plain text.
    case text(String)
    /// Text and image blocks.
    case blocks([ContentBlock])

    /// The text of all text blocks joined, as the worker flattens image-free content.
    public var text: String {
        switch self {
        case .text(let t): return t
        case .blocks(let blocks):
            return blocks.compactMap { if case .text(let t) = $0 { return t } else { return nil } }.joined(separator: "\n")
        }
    }

    /// Decodes a string or a list of blocks.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if (try? c.decode([JSONValue].self)) != nil {
            self = .blocks(try c.decode([ContentBlock].self))
        } else if let text = try? c.decode(String.self) {
            self = .text(text)
        } else {
            throw DecodingError.typeMismatch(
                MessageContent.self, .init(codingPath: decoder.codingPath, debugDescription: "expected a string, a list of content blocks or null"))
        }
    }

    /// Encodes a string or a list of blocks.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .text(let t): try c.encode(t)
        case .blocks(let b): try c.encode(b)
        }
    }
}

/// A block of a message's content.
public enum ContentBlock: Codable, Sendable, Hashable {
    /// `{"type":"text","text":…}`.
    case text(String)
    /// `{"type":"image","base64":…}`: raw base64 of the image file, no `data:` prefix.
    case image(base64: String)

    enum CodingKeys: String, CodingKey { case type, text, base64 }

    /// Decodes a block; keys other than `type` and the block's own field are refused, as the schema does.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: NameKey.self)
        let type = try c.decode(String.self, forKey: NameKey("type"))
        switch type {
        case "text":
            try c.rejectUnknownKeys(["type", "text"])
            self = .text(try c.decode(String.self, forKey: NameKey("text")))
        case "image":
            try c.rejectUnknownKeys(["type", "base64"])
            self = .image(base64: try c.decode(String.self, forKey: NameKey("base64")))
        default:
            throw DecodingError.dataCorrupted(
                .init(codingPath: c.codingPath + [NameKey("type")], debugDescription: "must be \"text\" or \"image\", got \"\(type)\""))
        }
    }

    /// Encodes the block.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        switch self {
        case .text(let t):
            try c.encode("text", forKey: .type)
            try c.encode(t, forKey: .text)
        case .image(let b):
            try c.encode("image", forKey: .type)
            try c.encode(b, forKey: .base64)
        }
    }

    /// Python's `base64.b64decode(s, validate=True)`: standard alphabet, correct padding, nothing else.
    static func isStrictBase64(_ s: String) -> Bool {
        let bytes = Array(s.utf8)
        guard bytes.count % 4 == 0 else { return false }
        var padding = 0
        for (i, b) in bytes.enumerated() {
            switch b {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "+"), UInt8(ascii: "/"):
                if padding > 0 { return false }
            case UInt8(ascii: "="):
                padding += 1
                if i < bytes.count - 2 || padding > 2 { return false }
            default:
                return false
            }
        }
        return Data(base64Encoded: s) != nil
    }
}

/// The generation settings of an LLM task; every field is optional.
public struct GenerationConfig: Codable, Sendable, Hashable {
    /// The most tokens to generate (network default 256).
    public var maxNewTokens: Int?
    /// Strings that end generation.
    public var stopStrings: [String]?
    /// Sample instead of greedy decoding.
    public var doSample: Bool?
    /// Beam count.
    public var numBeams: Int?
    /// Sampling temperature.
    public var temperature: Double?
    /// Typical-p sampling mass.
    public var typicalP: Double?
    /// Top-k sampling.
    public var topK: Int?
    /// Nucleus sampling mass.
    public var topP: Double?
    /// Min-p sampling threshold.
    public var minP: Double?
    /// Repetition penalty.
    public var repetitionPenalty: Double?
    /// How many answers to return (network default 1).
    public var numReturnSequences: Int?

    /// The network's default `max_new_tokens`.
    public static let defaultMaxNewTokens = 256

    /// Creates a generation config.
    public init(
        maxNewTokens: Int? = nil, stopStrings: [String]? = nil, doSample: Bool? = nil, numBeams: Int? = nil,
        temperature: Double? = nil, typicalP: Double? = nil, topK: Int? = nil, topP: Double? = nil, minP: Double? = nil,
        repetitionPenalty: Double? = nil, numReturnSequences: Int? = nil
    ) {
        self.maxNewTokens = maxNewTokens
        self.stopStrings = stopStrings
        self.doSample = doSample
        self.numBeams = numBeams
        self.temperature = temperature
        self.typicalP = typicalP
        self.topK = topK
        self.topP = topP
        self.minP = minP
        self.repetitionPenalty = repetitionPenalty
        self.numReturnSequences = numReturnSequences
    }

    enum CodingKeys: String, CodingKey {
        case maxNewTokens = "max_new_tokens"
        case stopStrings = "stop_strings"
        case doSample = "do_sample"
        case numBeams = "num_beams"
        case temperature
        case typicalP = "typical_p"
        case topK = "top_k"
        case topP = "top_p"
        case minP = "min_p"
        case repetitionPenalty = "repetition_penalty"
        case numReturnSequences = "num_return_sequences"
    }

    /// Decodes; a field given as `null` is refused, as the schema does.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        maxNewTokens = try c.decodeNonNull(Int.self, forKey: .maxNewTokens)
        stopStrings = try c.decodeNonNull([String].self, forKey: .stopStrings)
        doSample = try c.decodeNonNull(Bool.self, forKey: .doSample)
        numBeams = try c.decodeNonNull(Int.self, forKey: .numBeams)
        temperature = try c.decodeNonNull(Double.self, forKey: .temperature)
        typicalP = try c.decodeNonNull(Double.self, forKey: .typicalP)
        topK = try c.decodeNonNull(Int.self, forKey: .topK)
        topP = try c.decodeNonNull(Double.self, forKey: .topP)
        minP = try c.decodeNonNull(Double.self, forKey: .minP)
        repetitionPenalty = try c.decodeNonNull(Double.self, forKey: .repetitionPenalty)
        numReturnSequences = try c.decodeNonNull(Int.self, forKey: .numReturnSequences)
    }
}

/// The result of an LLM task, the `0.json` a node writes (`GPTTaskResponse`).
public struct GPTTaskResponse: Codable, Sendable, Hashable {
    /// The model id from the task.
    public var model: String
    /// One choice per returned sequence.
    public var choices: [Choice]
    /// Token counts.
    public var usage: Usage

    /// One generated answer.
    public struct Choice: Codable, Sendable, Hashable {
        /// `stop` when the model emitted its end token, `length` when it hit the token limit.
        public var finishReason: String
        /// The answer, role `assistant`.
        public var message: Message
        /// The choice's position.
        public var index: Int

        /// Creates a choice.
        public init(finishReason: String, message: Message, index: Int) {
            self.finishReason = finishReason
            self.message = message
            self.index = index
        }

        enum CodingKeys: String, CodingKey {
            case finishReason = "finish_reason"
            case message, index
        }
    }

    /// The answer message.
    public struct Message: Codable, Sendable, Hashable {
        /// Always `assistant`.
        public var role: String
        /// The generated text, special tokens removed and whitespace stripped.
        public var content: String

        /// Creates a message.
        public init(role: String = "assistant", content: String) {
            self.role = role
            self.content = content
        }
    }

    /// Token counts for the whole task.
    public struct Usage: Codable, Sendable, Hashable {
        /// Tokens in the rendered prompt.
        public var promptTokens: Int
        /// Generated tokens, summed over choices.
        public var completionTokens: Int
        /// The sum of both.
        public var totalTokens: Int

        /// Creates usage counts.
        public init(promptTokens: Int, completionTokens: Int, totalTokens: Int) {
            self.promptTokens = promptTokens
            self.completionTokens = completionTokens
            self.totalTokens = totalTokens
        }

        enum CodingKeys: String, CodingKey {
            case promptTokens = "prompt_tokens"
            case completionTokens = "completion_tokens"
            case totalTokens = "total_tokens"
        }
    }

    /// Creates a response.
    public init(model: String, choices: [Choice], usage: Usage) {
        self.model = model
        self.choices = choices
        self.usage = usage
    }
}
