/// JSON text as CPython's `json.dumps` writes it with its defaults — `ensure_ascii=True`, separators `", "` and
/// `": "`, no indent, keys in the order given — which is how a Crynux node writes an LLM result file (`0.json`),
/// whose SHA-256 is the task's score.
public enum PythonJSON {
    /// The text of `value`.
    public static func dumps(_ value: JSONValue) -> String {
        var out = ""
        write(value, into: &out)
        return out
    }

    static func write(_ value: JSONValue, into out: inout String) {
        switch value {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .number(let text): out += text
        case .string(let s): writeString(s, into: &out)
        case .array(let items):
            out += "["
            for (i, item) in items.enumerated() {
                if i > 0 { out += ", " }
                write(item, into: &out)
            }
            out += "]"
        case .object(let members):
            out += "{"
            for (i, member) in members.enumerated() {
                if i > 0 { out += ", " }
                writeString(member.key, into: &out)
                out += ": "
                write(member.value, into: &out)
            }
            out += "}"
        }
    }

    /// `"…"` with `\" \\ \n \r \t \b \f`, and every other character outside U+0020…U+007E as `\uxxxx`
    /// (lowercase hex; astral characters as UTF-16 surrogate pairs).
    static func writeString(_ s: String, into out: inout String) {
        out += "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            default:
                if scalar.value >= 0x20 && scalar.value <= 0x7E {
                    out.unicodeScalars.append(scalar)
                } else {
                    for unit in String(scalar).utf16 {
                        let hex = String(unit, radix: 16)
                        out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                    }
                }
            }
        }
        out += "\""
    }
}

extension GPTTaskResponse {
    /// The result file a node writes for this response (`json.dump` defaults), byte for byte.
    public var resultFile: [UInt8] {
        let choices: [JSONValue] = choices.map { c in
            .object([
                JSONMember("finish_reason", .string(c.finishReason)),
                JSONMember("message", .object([JSONMember("role", .string(c.message.role)), JSONMember("content", .string(c.message.content))])),
                JSONMember("index", .integer(c.index)),
            ])
        }
        let value: JSONValue = .object([
            JSONMember("model", .string(model)), JSONMember("choices", .array(choices)),
            JSONMember("usage", .object([
                JSONMember("prompt_tokens", .integer(usage.promptTokens)), JSONMember("completion_tokens", .integer(usage.completionTokens)),
                JSONMember("total_tokens", .integer(usage.totalTokens)),
            ])),
        ])
        return Array(PythonJSON.dumps(value).utf8)
    }
}
