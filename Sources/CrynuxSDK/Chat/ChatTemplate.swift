import Foundation

/// Why a chat template could not be compiled or rendered, and where.
public struct ChatTemplateError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The kind of failure.
    public enum Kind: String, Sendable, Hashable {
        /// The template does not parse.
        case syntax
        /// The template called `raise_exception(message)`.
        case raised
        /// An undefined value was used where that fails (Jinja2's `UndefinedError`).
        case undefined
        /// An operation on values of the wrong type (Python's `TypeError`).
        case type
        /// A resource limit was hit (steps, output size, nesting, recursion).
        case limit
    }

    /// The kind of failure.
    public var kind: Kind
    /// What went wrong; for `raised`, exactly the template's message.
    public var message: String
    /// Where in the template.
    public var location: SourceLocation

    /// Creates an error.
    public init(kind: Kind, message: String, location: SourceLocation) {
        self.kind = kind
        self.message = message
        self.location = location
    }

    /// `message (line L, column C)`.
    public var description: String { "\(message) (\(location))" }
}

/// A Hugging Face chat template compiled once and rendered many times, byte for byte as transformers'
/// `apply_chat_template(tokenize=False)` renders it (Jinja2 with `trim_blocks`, `lstrip_blocks` and loop
/// controls, transformers' `tojson`, `raise_exception` and `strftime_now`).
public struct ChatTemplate: Sendable {
    let nodes: [Node]
    /// The resource limits renders run under.
    public var limits: ChatTemplateLimits

    /// Compiles a template.
    public init(source: String, limits: ChatTemplateLimits = ChatTemplateLimits()) throws(ChatTemplateError) {
        var lexer = JinjaLexer(source: source)
        var parser = JinjaParser(tokens: try lexer.tokenize())
        nodes = try parser.parseTemplate()
        self.limits = limits
    }

    /// Renders typed messages (converted as transformers passes them: absent and `null` fields omitted,
    /// tool-call `arguments` given as JSON text turned into objects).
    ///
    /// - Parameters:
    ///   - messages: the conversation.
    ///   - tools: tool definitions, or nil (the template then sees `tools` as none).
    ///   - addGenerationPrompt: open an assistant turn at the end.
    ///   - bosToken: the tokenizer's BOS token; nil leaves `bos_token` undefined.
    ///   - eosToken: the tokenizer's EOS token; nil leaves `eos_token` undefined.
    ///   - arguments: extra template variables (`template_args`, e.g. `enable_thinking`).
    ///   - now: the time `strftime_now` reads (default: the local time now).
    public func render(
        messages: [ChatMessage], tools: [JSONValue]? = nil, addGenerationPrompt: Bool = false, bosToken: String? = nil,
        eosToken: String? = nil, arguments: [String: JSONValue] = [:], now: Date = Date()
    ) throws(ChatTemplateError) -> String {
        let jsonMessages = messages.map { m -> JSONValue in
            var members: [JSONMember] = []
            if let role = m.role { members.append(JSONMember("role", .string(role.rawValue))) }
            switch m.content {
            case .text(let t)?: members.append(JSONMember("content", .string(t)))
            case .blocks(let blocks)?:
                members.append(JSONMember("content", .array(blocks.map { block in
                    switch block {
                    case .text(let t): return .object([JSONMember("type", .string("text")), JSONMember("text", .string(t))])
                    case .image(let b): return .object([JSONMember("type", .string("image")), JSONMember("base64", .string(b))])
                    }
                })))
            case nil: break
            }
            if let calls = m.toolCalls { members.append(JSONMember("tool_calls", .array(calls.map(Self.argumentsAsObject)))) }
            if let id = m.toolCallID { members.append(JSONMember("tool_call_id", .string(id))) }
            return .object(members)
        }
        return try render(
            messagesJSON: jsonMessages, tools: tools, addGenerationPrompt: addGenerationPrompt, bosToken: bosToken, eosToken: eosToken,
            arguments: arguments, now: Self.localComponents(now))
    }

    /// Renders messages given as JSON (as in a conversation file): keys whose value is `null` are removed
    /// first, as `apply_chat_template` does.
    public func render(
        messagesJSON: [JSONValue], tools: [JSONValue]?, addGenerationPrompt: Bool, bosToken: String?, eosToken: String?,
        arguments: [String: JSONValue], now: DateComponents
    ) throws(ChatTemplateError) -> String {
        let interpreter = JinjaInterpreter(limits: limits, now: now)
        let root = JinjaScope(parent: nil)
        Self.installGlobals(root)
        for (k, v) in arguments { root.variables[k] = Self.jinjaValue(v) }
        root.variables["messages"] = .list(messagesJSON.map { Self.jinjaValue(Self.droppingNullKeys($0)) })
        root.variables["tools"] = tools.map { .list($0.map(Self.jinjaValue)) } ?? JinjaValue.none
        root.variables["documents"] = JinjaValue.none
        root.variables["add_generation_prompt"] = .bool(addGenerationPrompt)
        if let bosToken { root.variables["bos_token"] = .string(bosToken) }
        if let eosToken { root.variables["eos_token"] = .string(eosToken) }
        var out = ""
        _ = try interpreter.render(nodes, root, into: &out)
        return out
    }

    static func droppingNullKeys(_ v: JSONValue) -> JSONValue {
        guard case .object(let members) = v else { return v }
        return .object(members.filter { $0.value != .null })
    }

    /// `{"function": {"arguments": "<json>"}}` → arguments as an object, as the Crynux bridge and
    /// transformers' chat format expect; text that is not a JSON object is left as it is.
    static func argumentsAsObject(_ call: JSONValue) -> JSONValue {
        guard case .object(var members) = call, let fi = members.firstIndex(where: { $0.key == "function" }),
            case .object(var fn) = members[fi].value, let ai = fn.firstIndex(where: { $0.key == "arguments" }),
            case .string(let text) = fn[ai].value, let parsed = try? JSONValue.parse(text), case .object = parsed
        else { return call }
        fn[ai].value = parsed
        members[fi].value = .object(fn)
        return .object(members)
    }

    static func jinjaValue(_ v: JSONValue) -> JinjaValue {
        switch v {
        case .null: return .none
        case .bool(let b): return .bool(b)
        case .number(let text):
            if let i = Int(text) { return .int(i) }
            return .float(Double(text) ?? 0)
        case .string(let s): return .string(s)
        case .array(let items): return .list(items.map(jinjaValue))
        case .object(let members): return .dict(JinjaDict(members.map { (.string($0.key), jinjaValue($0.value)) }))
        }
    }

    static func localComponents(_ date: Date) -> DateComponents {
        Calendar(identifier: .gregorian).dateComponents(in: TimeZone.current, from: date)
    }

    static func installGlobals(_ root: JinjaScope) {
        root.variables["raise_exception"] = .function(JinjaFunction(name: "raise_exception") { p, _, interp throws(ChatTemplateError) in
            throw interp.fail(.raised, p.first?.str ?? "")
        })
        root.variables["strftime_now"] = .function(JinjaFunction(name: "strftime_now") { p, _, interp throws(ChatTemplateError) in
            .string(strftime(p.first?.str ?? "", interp.now))
        })
        root.variables["namespace"] = .function(JinjaFunction(name: "namespace") { p, k, interp throws(ChatTemplateError) in
            let ns = JinjaNamespace()
            for v in p {
                guard case .dict(let d) = v else { throw interp.fail(.type, "namespace() takes a mapping") }
                for e in d.entries { ns.attributes.set(e.key, e.value) }
            }
            for (key, v) in k { ns.attributes.set(.string(key), v) }
            return .namespace(ns)
        })
        root.variables["dict"] = .function(JinjaFunction(name: "dict") { p, k, interp throws(ChatTemplateError) in
            var d = JinjaDict()
            if let first = p.first {
                if case .dict(let given) = first {
                    d = given
                } else {
                    // An iterable of key-value pairs, such as `d.items()`.
                    guard let pairs = try interp.iterate(first) else { throw interp.fail(.type, "'\(first.typeName)' object is not iterable") }
                    for pair in pairs {
                        guard let kv = try interp.iterate(pair), kv.count == 2 else {
                            throw interp.fail(.type, "dictionary update sequence element has the wrong length; 2 is required")
                        }
                        d.set(kv[0], kv[1])
                    }
                }
            }
            for (key, v) in k { d.set(.string(key), v) }
            return .dict(d)
        })
        root.variables["range"] = .function(JinjaFunction(name: "range") { p, _, interp throws(ChatTemplateError) in
            let ints = p.compactMap(\.integer)
            guard ints.count == p.count, (1...3).contains(ints.count) else { throw interp.fail(.type, "range() takes 1 to 3 integers") }
            let (start, stop, step) = ints.count == 1 ? (0, ints[0], 1) : (ints[0], ints[1], ints.count == 3 ? ints[2] : 1)
            guard step != 0 else { throw interp.fail(.type, "range() arg 3 must not be zero") }
            let count = step > 0 ? max(0, (stop - start + step - 1) / step) : max(0, (start - stop - step - 1) / -step)
            guard count <= interp.limits.maximumRange else {
                throw interp.fail(.limit, "range() of \(count) items is longer than the limit of \(interp.limits.maximumRange)")
            }
            return .iterator(JinjaIterator(.range(start, stop, step), (0..<count).map { .int(start + $0 * step) }))
        })
    }

    /// C `strftime` over the given wall-clock time (Python's `datetime.strftime` calls the C library too).
    static func strftime(_ format: String, _ c: DateComponents) -> String {
        var t = tm()
        t.tm_year = Int32((c.year ?? 1970) - 1900)
        t.tm_mon = Int32((c.month ?? 1) - 1)
        t.tm_mday = Int32(c.day ?? 1)
        t.tm_hour = Int32(c.hour ?? 0)
        t.tm_min = Int32(c.minute ?? 0)
        t.tm_sec = Int32(c.second ?? 0)
        t.tm_isdst = -1
        // Day of week and of year, computed from the date itself (no time zone involved).
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        if let date = calendar.date(from: DateComponents(year: c.year, month: c.month, day: c.day)) {
            t.tm_wday = Int32(calendar.component(.weekday, from: date) - 1)
            t.tm_yday = Int32(calendar.ordinality(of: .day, in: .year, for: date)! - 1)
        }
        var buffer = [Int8](repeating: 0, count: 512)
        let n = Foundation.strftime(&buffer, buffer.count, format, &t)
        return String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
