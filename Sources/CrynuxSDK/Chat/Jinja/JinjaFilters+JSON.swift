import Foundation

/// `tojson` as transformers defines it for chat templates.
extension JinjaFilters {
    // MARK: tojson (transformers: json.dumps(x, ensure_ascii=False, indent, separators, sort_keys))

    static func tojson(_ value: JinjaValue, _ p: [JinjaValue], _ k: Keyword, _ interp: JinjaInterpreter) throws(ChatTemplateError) -> String {
        var indent: String? = nil
        if let i = arg(p, k, 0, "indent"), !i.isNone {
            indent = i.stringValue ?? String(repeating: " ", count: max(0, i.integer ?? 0))
        }
        var itemSeparator = indent == nil ? ", " : ","
        var keySeparator = ": "
        if let seps = arg(p, k, 1, "separators"), let pair = seps.iterationItems, pair.count == 2 {
            itemSeparator = pair[0].str
            keySeparator = pair[1].str
        }
        let sortKeys = arg(p, k, 2, "sort_keys")?.truthy ?? false
        var out = ""
        try writeJSON(value, indent: indent, level: 0, itemSeparator: itemSeparator, keySeparator: keySeparator, sortKeys: sortKeys, into: &out, interp)
        return out
    }

    static func writeJSON(
        _ value: JinjaValue, indent: String?, level: Int, itemSeparator: String, keySeparator: String, sortKeys: Bool, into out: inout String,
        _ interp: JinjaInterpreter
    ) throws(ChatTemplateError) {
        try interp.step()
        func newline(_ l: Int) -> String {
            guard let indent else { return "" }
            return "\n" + String(repeating: indent, count: l)
        }
        switch value {
        case .none: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .int(let i): out += String(i)
        case .float(let d): out += d.isNaN ? "NaN" : d.isInfinite ? (d < 0 ? "-Infinity" : "Infinity") : pythonFloatRepr(d)
        case .string(let s), .markup(let s): out += jsonString(s)
        case .list(let items), .tuple(let items):
            if items.isEmpty { out += "[]"; return }
            out += "["
            for (i, item) in items.enumerated() {
                out += i == 0 ? newline(level + 1) : itemSeparator + newline(level + 1)
                try writeJSON(item, indent: indent, level: level + 1, itemSeparator: itemSeparator, keySeparator: keySeparator, sortKeys: sortKeys, into: &out, interp)
            }
            out += newline(level) + "]"
        case .dict(let d):
            if d.isEmpty { out += "{}"; return }
            var entries: [(String, JinjaValue)] = []
            for e in d.entries {
                let key: String
                switch e.key {
                case .string(let s), .markup(let s): key = s
                case .int(let i): key = String(i)
                case .float(let f): key = pythonFloatRepr(f)
                case .bool(let b): key = b ? "true" : "false"
                case .none: key = "null"
                default: throw interp.fail(.type, "keys must be str, int, float, bool or None, not \(e.key.typeName)")
                }
                entries.append((key, e.value))
            }
            if sortKeys { entries.sort { $0.0.unicodeScalars.lexicographicallyPrecedes($1.0.unicodeScalars) } }
            out += "{"
            for (i, (key, v)) in entries.enumerated() {
                out += i == 0 ? newline(level + 1) : itemSeparator + newline(level + 1)
                out += jsonString(key) + keySeparator
                try writeJSON(v, indent: indent, level: level + 1, itemSeparator: itemSeparator, keySeparator: keySeparator, sortKeys: sortKeys, into: &out, interp)
            }
            out += newline(level) + "}"
        case .undefined: throw interp.fail(.type, "Object of type Undefined is not JSON serializable")
        case .namespace: throw interp.fail(.type, "Object of type Namespace is not JSON serializable")
        case .function: throw interp.fail(.type, "Object of type function is not JSON serializable")
        case .loop: throw interp.fail(.type, "Object of type LoopContext is not JSON serializable")
        case .iterator(let it): throw interp.fail(.type, "Object of type \(it.typeName) is not JSON serializable")
        }
    }

    /// Python's `json.dumps` string with `ensure_ascii=False`.
    static func jsonString(_ s: String) -> String {
        var out = String.UnicodeScalarView()
        out.append("\"")
        for c in s.unicodeScalars {
            switch c {
            case "\"": out.append(contentsOf: "\\\"".unicodeScalars)
            case "\\": out.append(contentsOf: "\\\\".unicodeScalars)
            case "\n": out.append(contentsOf: "\\n".unicodeScalars)
            case "\r": out.append(contentsOf: "\\r".unicodeScalars)
            case "\t": out.append(contentsOf: "\\t".unicodeScalars)
            case "\u{08}": out.append(contentsOf: "\\b".unicodeScalars)
            case "\u{0C}": out.append(contentsOf: "\\f".unicodeScalars)
            default:
                if c.value < 0x20 {
                    let hex = String(c.value, radix: 16)
                    out.append(contentsOf: ("\\u" + String(repeating: "0", count: 4 - hex.count) + hex).unicodeScalars)
                } else {
                    out.append(c)
                }
            }
        }
        out.append("\"")
        return String(out)
    }
}
