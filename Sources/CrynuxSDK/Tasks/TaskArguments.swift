/// Why task arguments were refused: the field (as a path such as `task_config.steps`) and the reason.
public struct TaskArgsError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The offending field, e.g. `messages[2].content[0].text`; empty for the document itself.
    public var field: String
    /// What is wrong with it.
    public var message: String

    /// Creates an error.
    public init(field: String, message: String) {
        self.field = field
        self.message = message
    }

    /// `field: message`.
    public var description: String { field.isEmpty ? message : "\(field): \(message)" }
}

/// The arguments of one kind of Crynux task: JSON in the network's field names, checked like the
/// v3.1.0 JSON schemas the relay validates with.
public protocol TaskArguments: Codable, Sendable, Hashable {
    /// The relay's task type for these arguments.
    static var taskType: TaskType { get }
    /// Throws the first problem the v3.1.0 schema would reject, naming the field.
    func validate() throws(TaskArgsError)
}

/// The relay's task types.
public enum TaskType: Int, Sendable, Hashable, Codable, CaseIterable {
    /// Stable Diffusion image generation.
    case sd = 0
    /// LLM text generation.
    case llm = 1
    /// Stable Diffusion LoRA fine-tuning.
    case sdFinetuneLora = 2
}

extension TaskArguments {
    /// Decodes arguments from JSON text (the relay's `task_args` string), reporting the field at fault.
    public init<Bytes: Collection>(json: Bytes) throws(TaskArgsError) where Bytes.Element == UInt8 {
        let value: JSONValue
        do { value = try JSONValue.parse(json) } catch { throw TaskArgsError(field: "", message: error.description) }
        try self.init(jsonValue: value)
    }

    /// Decodes arguments from JSON text.
    public init(json: String) throws(TaskArgsError) { try self.init(json: Array(json.utf8)) }

    /// Decodes arguments from a parsed JSON value.
    public init(jsonValue: JSONValue) throws(TaskArgsError) {
        do {
            self = try JSONValueDecoder().decode(Self.self, from: jsonValue)
        } catch let error as TaskArgsError {
            throw error
        } catch let error as DecodingError {
            throw TaskArgsError(decoding: error)
        } catch {
            throw TaskArgsError(field: "", message: "\(error)")
        }
    }

    /// The arguments as a JSON value, fields in the network's declaration order.
    public var jsonValue: JSONValue {
        // Encoding these plain value types into a JSONValue cannot fail.
        (try? JSONValueEncoder().encode(self)) ?? .null
    }

    /// The arguments as compact JSON text: the `task_args` string sent to the relay.
    public var jsonString: String { jsonValue.compactText }
}

extension TaskArgsError {
    init(decoding error: DecodingError) {
        switch error {
        case .keyNotFound(let key, let context):
            self.init(field: JSONValueDecoder.fieldPath(context.codingPath.isEmpty ? [key] : context.codingPath), message: "is required")
        case .typeMismatch(_, let context), .dataCorrupted(let context):
            self.init(field: JSONValueDecoder.fieldPath(context.codingPath), message: context.debugDescription)
        case .valueNotFound(_, let context):
            self.init(field: JSONValueDecoder.fieldPath(context.codingPath), message: context.debugDescription)
        @unknown default:
            self.init(field: "", message: "\(error)")
        }
    }
}

// MARK: - Helpers shared by the task types

extension KeyedDecodingContainer {
    /// An optional field that, when present, must not be `null` (the schema's non-nullable defaults).
    func decodeNonNull<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T? {
        guard contains(key) else { return nil }
        if try decodeNil(forKey: key) {
            throw DecodingError.valueNotFound(type, .init(codingPath: codingPath + [key], debugDescription: "must not be null"))
        }
        return try decode(type, forKey: key)
    }

    /// A string field restricted to `allowed` values.
    func decodeChoice(_ allowed: [String], forKey key: Key, nullable: Bool) throws -> String? {
        let value = nullable ? try decodeIfPresent(String.self, forKey: key) : try decodeNonNull(String.self, forKey: key)
        if let value, !allowed.contains(value) {
            throw DecodingError.dataCorruptedError(
                forKey: key, in: self, debugDescription: "must be one of \(allowed.map { "\"\($0)\"" }.joined(separator: ", ")), got \"\(value)\"")
        }
        return value
    }

    /// Rejects keys other than `allowed` (the schema's `additionalProperties: false`).
    func rejectUnknownKeys(_ allowed: Set<String>) throws {
        for key in allKeys where !allowed.contains(key.stringValue) {
            throw DecodingError.dataCorrupted(
                .init(codingPath: codingPath + [key], debugDescription: "is not allowed here"))
        }
    }
}

/// Collects range checks with field names.
struct FieldCheck {
    var prefix: String

    func path(_ field: String) -> String { prefix.isEmpty ? field : prefix + "." + field }

    func nonEmpty(_ value: String?, _ field: String) throws(TaskArgsError) {
        if let value, value.isEmpty { throw TaskArgsError(field: path(field), message: "must not be empty") }
    }

    func range<T: Comparable>(_ value: T?, _ field: String, min: T? = nil, above: T? = nil, max: T? = nil, below: T? = nil)
        throws(TaskArgsError)
    {
        guard let value else { return }
        var ok = true
        if let min, value < min { ok = false }
        if let above, value <= above { ok = false }
        if let max, value > max { ok = false }
        if let below, value >= below { ok = false }
        guard ok else {
            var parts: [String] = []
            if let min { parts.append("≥ \(min)") }
            if let above { parts.append("> \(above)") }
            if let max { parts.append("≤ \(max)") }
            if let below { parts.append("< \(below)") }
            throw TaskArgsError(field: path(field), message: "must be \(parts.joined(separator: " and ")), got \(value)")
        }
    }

    func oneOf(_ value: String?, _ field: String, _ allowed: [String]) throws(TaskArgsError) {
        if let value, !allowed.contains(value) {
            throw TaskArgsError(
                field: path(field), message: "must be one of \(allowed.map { "\"\($0)\"" }.joined(separator: ", ")), got \"\(value)\"")
        }
    }

    func nested(_ field: String) -> FieldCheck { FieldCheck(prefix: path(field)) }
}

/// The precisions a task may ask the worker to run in.
public enum TaskDType: String, Sendable, Hashable, Codable, CaseIterable {
    /// 16-bit IEEE floats.
    case float16
    /// bfloat16.
    case bfloat16
    /// 32-bit floats.
    case float32
    /// The model's own precision (the default).
    case auto
}
