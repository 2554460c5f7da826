import CrynuxSDK
import Foundation

/// Tool calls found in a model's text, in the Hermes form (`<tool_call>{"name": …, "arguments": …}</tool_call>`,
/// which Qwen2/2.5/3 and Hermes models write), Qwen3-Coder's XML inside the same tags
/// (`<function=name><parameter=key>value</parameter></function>`), or qwen-agent's `✿FUNCTION✿:`/`✿ARGS✿:` lines.
public struct ToolCallParser: Sendable {
    /// One call, in OpenAI's shape (arguments as a JSON string).
    public struct Call: Sendable, Hashable {
        /// The function's name.
        public var name: String
        /// The arguments, as compact JSON text.
        public var arguments: String
    }

    /// Names the model may call; a call to anything else is left as text.
    public var names: Set<String>

    /// A parser accepting calls to `names`.
    public init(names: Set<String>) { self.names = names }

    /// Splits `text` into the prose before the calls and the calls; no calls means `text` is plain content.
    public func parse(_ text: String) -> (content: String, calls: [Call]) {
        if let hermes = hermes(text), !hermes.calls.isEmpty { return hermes }
        if let qwen = qwen(text), !qwen.calls.isEmpty { return qwen }
        return (text, [])
    }

    func call(_ value: JSONValue?) -> Call? {
        guard let value, let name = value["name"]?.stringValue, names.contains(name) else { return nil }
        let args = value["arguments"] ?? value["parameters"] ?? .object([])
        switch args {
        case .object: return Call(name: name, arguments: args.compactText)
        case .string(let s):
            // Some models write the arguments as a JSON string; keep it only if it is JSON.
            guard (try? JSONValue.parse(s)) != nil else { return nil }
            return Call(name: name, arguments: s)
        default: return nil
        }
    }

    func hermes(_ text: String) -> (content: String, calls: [Call])? {
        guard let first = text.range(of: "<tool_call>") else { return nil }
        var calls: [Call] = []
        var rest = text[first.lowerBound...]
        while let open = rest.range(of: "<tool_call>") {
            let after = rest[open.upperBound...]
            let close = after.range(of: "</tool_call>")
            let body = close.map { after[..<$0.lowerBound] } ?? after
            let inner = body.trimmingCharacters(in: .whitespacesAndNewlines)
            if inner.hasPrefix("<function=") {
                guard let c = qwenXML(inner) else { return nil }
                calls.append(c)
            } else {
                guard let parsed = try? JSONValue.parse(inner), let c = call(parsed) else { return nil }
                calls.append(c)
            }
            guard let close else { break }
            rest = after[close.upperBound...]
        }
        // Anything but whitespace after the last call means the text was not a tool-call answer.
        if let lastClose = text.range(of: "</tool_call>", options: .backwards),
            !text[lastClose.upperBound...].trimmingCharacters(in: .whitespacesAndNewlines).isEmpty
        {
            return nil
        }
        return (String(text[..<first.lowerBound]).trimmingCharacters(in: .whitespacesAndNewlines), calls)
    }

    /// Qwen3-Coder's XML call: `<function=NAME><parameter=KEY>VALUE</parameter>…</function>`; a value that parses
    /// as JSON is taken as JSON, anything else as a string.
    func qwenXML(_ text: String) -> Call? {
        guard let nameEnd = text.firstIndex(of: ">") else { return nil }
        let name = String(text[text.index(text.startIndex, offsetBy: 10)..<nameEnd]).trimmingCharacters(in: .whitespaces)
        var members: [JSONMember] = []
        var rest = text[nameEnd...]
        while let open = rest.range(of: "<parameter=") {
            guard let keyEnd = rest[open.upperBound...].firstIndex(of: ">"), let close = rest[keyEnd...].range(of: "</parameter>") else { return nil }
            let key = String(rest[open.upperBound..<keyEnd]).trimmingCharacters(in: .whitespaces)
            var raw = String(rest[rest.index(after: keyEnd)..<close.lowerBound])
            if raw.hasPrefix("\n") { raw.removeFirst() }
            if raw.hasSuffix("\n") { raw.removeLast() }
            members.append(JSONMember(key, (try? JSONValue.parse(raw)) ?? .string(raw)))
            rest = rest[close.upperBound...]
        }
        guard rest.contains("</function>") || rest.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else { return nil }
        return call(.object([JSONMember("name", .string(name)), JSONMember("arguments", .object(members))]))
    }

    func qwen(_ text: String) -> (content: String, calls: [Call])? {
        let marker = "✿FUNCTION✿:"
        guard let first = text.range(of: marker) else { return nil }
        var calls: [Call] = []
        for block in text[first.lowerBound...].components(separatedBy: marker).dropFirst() {
            guard let argsMark = block.range(of: "✿ARGS✿:") else { return nil }
            let name = block[..<argsMark.lowerBound].trimmingCharacters(in: .whitespacesAndNewlines)
            var args = String(block[argsMark.upperBound...])
            for end in ["✿RESULT✿", "✿RETURN✿"] { if let r = args.range(of: end) { args = String(args[..<r.lowerBound]) } }
            guard let parsed = try? JSONValue.parse(args.trimmingCharacters(in: .whitespacesAndNewlines)),
                let c = call(.object([JSONMember("name", .string(name)), JSONMember("arguments", parsed)]))
            else { return nil }
            calls.append(c)
        }
        return (String(text[..<first.lowerBound]).trimmingCharacters(in: .whitespacesAndNewlines), calls)
    }
}

/// The JSON Schema subset `response_format` is checked with: `type` (one or a list), `enum`, `const`,
/// `properties`, `required`, `additionalProperties`, `items`, `prefixItems`, `minItems`/`maxItems`,
/// `minLength`/`maxLength`, `pattern`, `minimum`/`maximum` and their exclusive forms, `anyOf`/`oneOf`/`allOf`/`not`,
/// and local `$ref`s (`#/$defs/…`, `#/definitions/…`).
public enum JSONSchema {
    /// A value that does not match, with where (a JSON pointer) and why.
    public struct Mismatch: Error, Sendable, Hashable, CustomStringConvertible {
        /// Where in the value.
        public var path: String
        /// Why.
        public var reason: String
        /// `path: reason`.
        public var description: String { "\(path.isEmpty ? "/" : path): \(reason)" }
    }

    static let keywords: Set<String> = [
        "type", "enum", "const", "properties", "required", "additionalProperties", "items", "prefixItems", "minItems", "maxItems", "minLength",
        "maxLength", "pattern", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "anyOf", "oneOf", "allOf", "not", "$ref", "$defs",
        "definitions", "title", "description", "default", "examples", "strict", "$schema", "$id", "format", "uniqueItems", "nullable",
    ]

    /// The most schema objects a `response_format` schema may hold.
    static let maxSchemaNodes = 2_000
    /// The most validation steps one answer may take (each schema applied to each value is a step).
    static let maxSteps = 200_000

    /// Checks that a schema only uses what this validator understands, so nothing is silently unchecked, that
    /// every `$ref` resolves, that no `$ref` leads back to itself without descending into the value (which no
    /// value can satisfy in finite time, and `{"oneOf":[{"$ref":"#"},{"$ref":"#"}]}` doubles at every turn),
    /// that its patterns compile for the linear-time matcher, and that it is not too large.
    public static func check(_ schema: JSONValue) throws(Mismatch) {
        var nodes = 0
        try check(schema, path: "", root: schema, nodes: &nodes)
        try checkRefCycles(schema)
    }

    static func check(_ schema: JSONValue, path: String, root: JSONValue, nodes: inout Int) throws(Mismatch) {
        guard case .object(let members) = schema else {
            if case .bool = schema { return }
            throw Mismatch(path: path, reason: "a schema must be an object")
        }
        nodes += 1
        guard nodes <= maxSchemaNodes else { throw Mismatch(path: path, reason: "the schema has more than \(maxSchemaNodes) subschemas") }
        guard path.count < 4_096 else { throw Mismatch(path: "", reason: "the schema nests too deeply") }
        for m in members {
            guard keywords.contains(m.key) else { throw Mismatch(path: path, reason: "the keyword \(m.key) is not supported") }
            switch m.key {
            case "properties", "$defs", "definitions":
                guard case .object(let subs) = m.value else { throw Mismatch(path: path, reason: "\(m.key) must be an object") }
                for s in subs { try check(s.value, path: path + "/\(m.key)/\(escape(s.key))", root: root, nodes: &nodes) }
            case "items", "additionalProperties", "not":
                try check(m.value, path: path + "/\(m.key)", root: root, nodes: &nodes)
            case "anyOf", "oneOf", "allOf", "prefixItems":
                guard case .array(let subs) = m.value else { throw Mismatch(path: path, reason: "\(m.key) must be an array") }
                for (i, s) in subs.enumerated() { try check(s, path: path + "/\(m.key)/\(i)", root: root, nodes: &nodes) }
            case "pattern":
                guard let p = m.value.stringValue else { throw Mismatch(path: path, reason: "pattern must be a string") }
                do { _ = try SafeRegex(p) } catch { throw Mismatch(path: path, reason: "pattern: \(error)") }
            case "$ref":
                guard let ref = m.value.stringValue else { throw Mismatch(path: path, reason: "$ref must be a string") }
                guard resolve(ref, in: root) != nil else { throw Mismatch(path: path, reason: "$ref \(ref) does not resolve (only local $refs are supported)") }
            default: break
            }
        }
    }

    /// A JSON pointer's token for `key`.
    static func escape(_ key: String) -> String { key.replacingOccurrences(of: "~", with: "~0").replacingOccurrences(of: "/", with: "~1") }

    /// The pointer of a local `$ref` (`#`, `#/$defs/x`), normalised to its tokens joined by `/`.
    static func pointer(_ ref: String) -> String? {
        guard ref.hasPrefix("#") else { return nil }
        let rest = ref.dropFirst()
        guard rest.isEmpty || rest.hasPrefix("/") else { return nil }
        return String(rest)
    }

    /// The schema a local `$ref` points at inside `root`.
    static func resolve(_ ref: String, in root: JSONValue) -> JSONValue? {
        guard let pointer = pointer(ref) else { return nil }
        var target: JSONValue? = root
        for part in pointer.split(separator: "/", omittingEmptySubsequences: false).dropFirst() {
            var token = String(part)
            if token.contains("~") { token = token.replacingOccurrences(of: "~1", with: "/").replacingOccurrences(of: "~0", with: "~") }
            if case .array(let items)? = target, let i = Int(token) {
                target = i >= 0 && i < items.count ? items[i] : nil
            } else {
                target = target?[token]
            }
        }
        return target
    }

    /// Refuses a `$ref` that reaches itself through `$ref`, `allOf`, `anyOf`, `oneOf` and `not` alone: those apply
    /// to the same value, so such a loop never ends (recursion through `properties` or `items` is fine).
    static func checkRefCycles(_ root: JSONValue) throws(Mismatch) {
        // Depth-first search over subschemas by pointer, following same-value edges; gray = on the stack.
        var state: [String: Bool] = [:]  // false: on the stack, true: done
        func visit(_ pointer: String, _ schema: JSONValue) throws(Mismatch) {
            if let done = state[pointer] {
                if !done { throw Mismatch(path: pointer, reason: "a $ref leads back to itself without descending into the value") }
                return
            }
            state[pointer] = false
            if let ref = schema["$ref"]?.stringValue, let target = resolve(ref, in: root), let p = Self.pointer(ref) {
                try visit(p, target)
            }
            for key in ["allOf", "anyOf", "oneOf"] {
                if case .array(let subs)? = schema[key] {
                    for (i, s) in subs.enumerated() { try visit(pointer + "/\(key)/\(i)", s) }
                }
            }
            if let not = schema["not"] { try visit(pointer + "/not", not) }
            state[pointer] = true
        }
        // Every subschema is a starting point.
        func walk(_ pointer: String, _ schema: JSONValue) throws(Mismatch) {
            guard case .object = schema else { return }
            try visit(pointer, schema)
            for key in ["properties", "$defs", "definitions"] {
                if case .object(let subs)? = schema[key] { for s in subs { try walk(pointer + "/\(key)/\(escape(s.key))", s.value) } }
            }
            for key in ["items", "additionalProperties", "not"] { if let s = schema[key] { try walk(pointer + "/\(key)", s) } }
            for key in ["anyOf", "oneOf", "allOf", "prefixItems"] {
                if case .array(let subs)? = schema[key] { for (i, s) in subs.enumerated() { try walk(pointer + "/\(key)/\(i)", s) } }
            }
        }
        try walk("", root)
    }

    /// Validates `value` against `schema` (whose `$ref`s resolve inside `root`) within `maxSteps` steps.
    public static func validate(_ value: JSONValue, against schema: JSONValue, root: JSONValue? = nil) throws(Mismatch) {
        var steps = 0
        try validate(value, against: schema, root: root ?? schema, path: "", depth: 0, steps: &steps)
    }

    static func validate(_ value: JSONValue, against schema: JSONValue, root: JSONValue, path: String, depth: Int, steps: inout Int) throws(Mismatch) {
        steps += 1
        guard steps <= maxSteps else { throw Mismatch(path: path, reason: "the schema takes more than \(maxSteps) steps to check on this value") }
        guard depth < 256 else { throw Mismatch(path: path, reason: "the schema and value nest too deeply") }
        if case .bool(let b) = schema {
            if !b { throw Mismatch(path: path, reason: "no value is allowed here") }
            return
        }
        if let ref = schema["$ref"]?.stringValue {
            guard let target = resolve(ref, in: root) else { throw Mismatch(path: path, reason: "$ref \(ref) does not resolve") }
            try validate(value, against: target, root: root, path: path, depth: depth + 1, steps: &steps)
        }
        if let types = schema["type"] {
            let allowed: [String]
            switch types {
            case .string(let t): allowed = [t]
            case .array(let ts): allowed = ts.compactMap(\.stringValue)
            default: allowed = []
            }
            var names = allowed
            if schema["nullable"]?.boolValue == true { names.append("null") }
            guard names.contains(where: { matches(value, type: $0) }) else {
                throw Mismatch(path: path, reason: "expected \(names.joined(separator: " or ")), found \(typeName(value))")
            }
        }
        if case .array(let options)? = schema["enum"], !options.contains(where: { equal($0, value) }) {
            throw Mismatch(path: path, reason: "not one of the enum values")
        }
        if let c = schema["const"], !equal(c, value) { throw Mismatch(path: path, reason: "not the const value") }
        switch value {
        case .object(let members):
            var seen: Set<String> = []
            for m in members {
                seen.insert(m.key)
                if let sub = schema["properties"]?[m.key] {
                    try validate(m.value, against: sub, root: root, path: path + "/" + m.key, depth: depth + 1, steps: &steps)
                } else if let extra = schema["additionalProperties"] {
                    try validate(m.value, against: extra, root: root, path: path + "/" + m.key, depth: depth + 1, steps: &steps)
                }
            }
            if case .array(let required)? = schema["required"] {
                for r in required.compactMap(\.stringValue) where !seen.contains(r) {
                    throw Mismatch(path: path, reason: "the required property \(r) is missing")
                }
            }
        case .array(let items):
            if let min = schema["minItems"]?.doubleValue, Double(items.count) < min { throw Mismatch(path: path, reason: "fewer than \(Int(min)) items") }
            if let max = schema["maxItems"]?.doubleValue, Double(items.count) > max { throw Mismatch(path: path, reason: "more than \(Int(max)) items") }
            var prefix = 0
            if case .array(let firsts)? = schema["prefixItems"] {
                for (i, s) in firsts.enumerated() where i < items.count {
                    try validate(items[i], against: s, root: root, path: path + "/\(i)", depth: depth + 1, steps: &steps)
                }
                prefix = firsts.count
            }
            if let each = schema["items"] {
                for (i, item) in items.enumerated() where i >= prefix {
                    try validate(item, against: each, root: root, path: path + "/\(i)", depth: depth + 1, steps: &steps)
                }
            }
        case .string(let s):
            let length = s.unicodeScalars.count
            if let min = schema["minLength"]?.doubleValue, Double(length) < min { throw Mismatch(path: path, reason: "shorter than \(Int(min))") }
            if let max = schema["maxLength"]?.doubleValue, Double(length) > max { throw Mismatch(path: path, reason: "longer than \(Int(max))") }
            if let p = schema["pattern"]?.stringValue {
                guard let regex = try? SafeRegex(p) else { throw Mismatch(path: path, reason: "the pattern \(p) is not supported") }
                switch regex.firstMatch(in: s) {
                case true?: break
                case false?: throw Mismatch(path: path, reason: "does not match the pattern \(p)")
                case nil: throw Mismatch(path: path, reason: "the pattern \(p) takes too long to check on this value")
                }
            }
        case .number:
            let d = value.doubleValue ?? 0
            if let v = schema["minimum"]?.doubleValue, d < v { throw Mismatch(path: path, reason: "below the minimum \(v)") }
            if let v = schema["maximum"]?.doubleValue, d > v { throw Mismatch(path: path, reason: "above the maximum \(v)") }
            if let v = schema["exclusiveMinimum"]?.doubleValue, d <= v { throw Mismatch(path: path, reason: "not above \(v)") }
            if let v = schema["exclusiveMaximum"]?.doubleValue, d >= v { throw Mismatch(path: path, reason: "not below \(v)") }
        default: break
        }
        // A subschema that fails is an answer for anyOf/oneOf/not; running out of steps is not.
        func passes(_ sub: JSONValue) throws(Mismatch) -> Bool {
            do {
                try validate(value, against: sub, root: root, path: path, depth: depth + 1, steps: &steps)
                return true
            } catch {
                if steps > maxSteps { throw error }
                return false
            }
        }
        if case .array(let all)? = schema["allOf"] {
            for s in all { try validate(value, against: s, root: root, path: path, depth: depth + 1, steps: &steps) }
        }
        if case .array(let any)? = schema["anyOf"] {
            var matched = false
            for s in any where try passes(s) {
                matched = true
                break
            }
            guard matched else { throw Mismatch(path: path, reason: "matches none of anyOf") }
        }
        if case .array(let one)? = schema["oneOf"] {
            var n = 0
            for s in one where try passes(s) { n += 1 }
            guard n == 1 else { throw Mismatch(path: path, reason: "matches \(n) of oneOf, not exactly one") }
        }
        if let not = schema["not"], try passes(not) {
            throw Mismatch(path: path, reason: "matches the schema under not")
        }
    }

    static func matches(_ v: JSONValue, type: String) -> Bool {
        switch (type, v) {
        case ("null", .null), ("boolean", .bool), ("number", .number), ("string", .string), ("array", .array), ("object", .object): return true
        case ("integer", .number): return v.doubleValue.map { $0 == $0.rounded() && $0.isFinite } ?? false
        default: return false
        }
    }

    static func typeName(_ v: JSONValue) -> String {
        switch v {
        case .null: "null"
        case .bool: "boolean"
        case .number: "number"
        case .string: "string"
        case .array: "array"
        case .object: "object"
        }
    }

    /// JSON equality (numbers by value, objects regardless of key order).
    static func equal(_ a: JSONValue, _ b: JSONValue) -> Bool {
        switch (a, b) {
        case (.number, .number): return a.doubleValue == b.doubleValue
        case (.array(let x), .array(let y)): return x.count == y.count && zip(x, y).allSatisfy { equal($0, $1) }
        case (.object(let x), .object(let y)):
            return x.count == y.count && x.allSatisfy { m in y.first { $0.key == m.key }.map { equal($0.value, m.value) } ?? false }
        default: return a == b
        }
    }
}

/// The checks a chat answer must pass before it is returned: tool calls parsed out of the text, and the
/// requested JSON format.
enum AnswerCheck {
    /// The final shape of one choice.
    struct Choice {
        var index: Int
        var content: String?
        var toolCalls: [ToolCallParser.Call]
        var finishReason: String
    }

    /// A checked answer that does not satisfy the request (the fee is already paid: not retryable).
    static func failure(_ message: String, code: String) -> OpenAIError {
        OpenAIError(status: 500, message: message, type: "server_error", param: nil, code: code)
    }

    /// Turns the network's choices into OpenAI choices for `chat`, or says why the answer breaks the request.
    static func choices(_ response: GPTTaskResponse, for chat: ChatRequest) throws(OpenAIError) -> [Choice] {
        var out: [Choice] = []
        let stops = (chat.task.generationConfig?.stopStrings ?? []).filter { !$0.isEmpty }
        for c in response.choices {
            var choice = Choice(index: c.index, content: c.message.content, toolCalls: [], finishReason: c.finishReason)
            // The network stops after a stop string and keeps it (finish "length"); OpenAI excludes it and says "stop".
            if let cut = stops.compactMap({ c.message.content.range(of: $0)?.lowerBound }).min() {
                choice.content = String(c.message.content[..<cut]).trimmingCharacters(in: .whitespacesAndNewlines)
                choice.finishReason = "stop"
            }
            let text = choice.content ?? ""
            if !chat.tools.isEmpty {
                let names = Set(chat.tools.compactMap { $0["function"]?["name"]?.stringValue })
                let parsed = ToolCallParser(names: names).parse(text)
                if !parsed.calls.isEmpty {
                    choice.content = parsed.content.isEmpty ? nil : parsed.content
                    choice.toolCalls = parsed.calls
                    choice.finishReason = "tool_calls"
                }
                switch chat.toolChoice {
                case .required where parsed.calls.isEmpty:
                    throw failure("tool_choice is required, but the model answered without a tool call.", code: "tool_call_missing")
                case .function(let name) where !parsed.calls.contains(where: { $0.name == name }):
                    throw failure("tool_choice names \(name), but the model did not call it.", code: "tool_call_missing")
                default: break
                }
            }
            if choice.toolCalls.isEmpty, let text = choice.content {
                switch chat.responseFormat {
                case .text: break
                case .jsonObject:
                    let json = extractJSON(text)
                    guard case .object? = json.value else {
                        throw failure("response_format json_object: the model's answer is not a JSON object.", code: "invalid_json_output")
                    }
                    choice.content = json.text
                case .jsonSchema(_, let schema):
                    let json = extractJSON(text)
                    guard let value = json.value else {
                        throw failure("response_format json_schema: the model's answer is not JSON.", code: "invalid_json_output")
                    }
                    do { try JSONSchema.validate(value, against: schema) } catch {
                        throw failure("response_format json_schema: the model's answer does not match the schema at \(error)", code: "invalid_json_output")
                    }
                    choice.content = json.text
                }
            }
            out.append(choice)
        }
        return out
    }

    /// The JSON in a model's answer: the whole text, or the inside of one fenced ```json block.
    static func extractJSON(_ text: String) -> (value: JSONValue?, text: String) {
        var body = text.trimmingCharacters(in: .whitespacesAndNewlines)
        if body.hasPrefix("```"), body.hasSuffix("```"), body.count >= 6 {
            body = String(body.dropFirst(3).dropLast(3))
            if body.hasPrefix("json") { body = String(body.dropFirst(4)) }
            body = body.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        return ((try? JSONValue.parse(body)), body)
    }
}
