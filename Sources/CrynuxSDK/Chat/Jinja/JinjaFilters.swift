import Foundation

/// Jinja2's built-in filters and tests, with transformers' `tojson`.
enum JinjaFilters {
    typealias Keyword = [(String, JinjaValue)]

    /// Positional-or-keyword argument lookup.
    static func arg(_ positional: [JinjaValue], _ keyword: Keyword, _ index: Int, _ name: String) -> JinjaValue? {
        if let kv = keyword.last(where: { $0.0 == name }) { return kv.1 }
        return index < positional.count ? positional[index] : nil
    }

    static func apply(_ name: String, _ value: JinjaValue, _ p: [JinjaValue], _ k: Keyword, _ interp: JinjaInterpreter) throws(ChatTemplateError) -> JinjaValue {
        func requireString() throws(ChatTemplateError) -> String {
            if case .undefined = value { return "" }
            return value.str
        }
        func items() throws(ChatTemplateError) -> [JinjaValue] {
            guard let items = value.iterationItems else { throw interp.fail(.type, "'\(value.typeName)' object is not iterable") }
            return items
        }
        switch name {
        case "safe", "string", "e", "escape", "forceescape":
            if name == "safe" { return .markup(value.str) }
            if name == "string" { return value.stringValue.map { JinjaValue.string($0) } ?? .string(value.str) }
            if case .markup = value, name != "forceescape" { return value }
            return .markup(htmlEscape(value.str))
        case "tojson":
            return .markup(try tojson(value, p, k, interp))
        case "trim":
            let chars = arg(p, k, 0, "chars")
            return .string(pyStrip(try requireString(), chars: chars?.stringValue, left: true, right: true))
        case "length", "count":
            switch value {
            case .undefined: return .int(0)
            case .string(let s), .markup(let s): return .int(s.unicodeScalars.count)
            case .list(let a), .tuple(let a): return .int(a.count)
            case .dict(let d): return .int(d.count)
            case .namespace(let ns): return .int(ns.attributes.count)
            default: throw interp.fail(.type, "object of type '\(value.typeName)' has no len()")
            }
        case "join":
            let sep = arg(p, k, 0, "d")?.str ?? ""
            var seq = try items()
            if let attribute = arg(p, k, 1, "attribute") { seq = try seq.map { (v: JinjaValue) throws(ChatTemplateError) in try lookupPath(v, attribute, interp) } }
            return .string(seq.map(\.str).joined(separator: sep))
        case "upper": return .string(try requireString().uppercased())
        case "lower": return .string(try requireString().lowercased())
        case "capitalize": return .string(pyCapitalize(try requireString()))
        case "title": return .string(jinjaTitle(try requireString()))
        case "replace":
            guard let old = arg(p, k, 0, "old")?.str, let new = arg(p, k, 1, "new")?.str else {
                throw interp.fail(.type, "replace() needs the old and new strings")
            }
            let count = arg(p, k, 2, "count")?.integer
            let text = try requireString()
            // Refuse before building a result past the output limit.
            var occurrences = old.isEmpty ? text.unicodeScalars.count + 1 : UTF8Search.occurrences(of: old, in: text).count
            if let count, count >= 0 { occurrences = min(occurrences, count) }
            let (grown, overflow) = occurrences.multipliedReportingOverflow(by: new.utf8.count)
            if overflow { try interp.checkLength(Int.max) }
            try interp.checkLength(text.utf8.count + grown)
            return .string(pyReplace(text, old, new, count: count))
        case "default", "d":
            let fallback = arg(p, k, 0, "default_value") ?? .string("")
            let boolean = arg(p, k, 1, "boolean")?.truthy ?? false
            if value.isUndefined || (boolean && !value.truthy) { return fallback }
            return value
        case "first":
            let seq = try items()
            return seq.first ?? .undefined("No first item, sequence was empty.")
        case "last":
            let seq = try items()
            return seq.last ?? .undefined("No last item, sequence was empty.")
        case "list": return .list(try items())
        case "reverse":
            if let s = value.stringValue { return .string(String(String.UnicodeScalarView(s.unicodeScalars.reversed()))) }
            return .list(try items().reversed())
        case "items":
            switch value {
            case .undefined: return .list([])
            case .dict(let d): return .list(d.entries.map { .tuple([$0.key, $0.value]) })
            default: throw interp.fail(.type, "Can only get item pairs from a mapping.")
            }
        case "dictsort":
            guard case .dict(let d) = value else { throw interp.fail(.type, "dictsort: expected a mapping") }
            let caseSensitive = arg(p, k, 0, "case_sensitive")?.truthy ?? false
            let byValue = arg(p, k, 1, "by")?.stringValue == "value"
            let reverse = arg(p, k, 2, "reverse")?.truthy ?? false
            var pairs = d.entries.map { ($0.key, $0.value) }
            try sortValues(&pairs, key: { byValue ? $0.1 : $0.0 }, caseSensitive: caseSensitive, reverse: reverse, interp)
            return .list(pairs.map { .tuple([$0.0, $0.1]) })
        case "sort":
            var seq = try items()
            let reverse = arg(p, k, 0, "reverse")?.truthy ?? false
            let caseSensitive = arg(p, k, 1, "case_sensitive")?.truthy ?? false
            let attribute = arg(p, k, 2, "attribute")
            var keyed = try seq.map { (v: JinjaValue) throws(ChatTemplateError) in (try attribute.map { (a: JinjaValue) throws(ChatTemplateError) in try lookupPath(v, a, interp) } ?? v, v) }
            try sortValues(&keyed, key: { $0.0 }, caseSensitive: caseSensitive, reverse: reverse, interp)
            seq = keyed.map(\.1)
            return .list(seq)
        case "unique":
            let caseSensitive = arg(p, k, 0, "case_sensitive")?.truthy ?? false
            let attribute = arg(p, k, 1, "attribute")
            var seen = Set<String>()
            var out: [JinjaValue] = []
            for v in try items() {
                var key = try attribute.map { (a: JinjaValue) throws(ChatTemplateError) in try lookupPath(v, a, interp) } ?? v
                if !caseSensitive, let s = key.stringValue { key = .string(s.lowercased()) }
                if seen.insert(key.dictKey).inserted { out.append(v) }
            }
            return .list(out)
        case "map":
            let seq = try items()
            if let attribute = k.first(where: { $0.0 == "attribute" })?.1 {
                let fallback = k.first(where: { $0.0 == "default" })?.1
                return .list(try seq.map { (v: JinjaValue) throws(ChatTemplateError) in
                    let r = try lookupPath(v, attribute, interp)
                    if r.isUndefined, let fallback { return fallback }
                    return r
                })
            }
            guard let filterName = p.first?.stringValue else { throw interp.fail(.type, "map() needs a filter name or attribute=") }
            let rest = Array(p.dropFirst())
            return .list(try seq.map { (v: JinjaValue) throws(ChatTemplateError) in try apply(filterName, v, rest, k, interp) })
        case "select", "reject":
            let keep = name == "select"
            var out: [JinjaValue] = []
            for v in try items() {
                let ok = p.isEmpty ? v.truthy : try test(p[0].str, v, Array(p.dropFirst()), interp)
                if ok == keep { out.append(v) }
            }
            return .list(out)
        case "selectattr", "rejectattr":
            let keep = name == "selectattr"
            guard let attribute = p.first else { throw interp.fail(.type, "\(name)() needs an attribute name") }
            var out: [JinjaValue] = []
            for v in try items() {
                let a = try lookupPath(v, attribute, interp)
                let ok = p.count < 2 ? a.truthy : try test(p[1].str, a, Array(p.dropFirst(2)), interp)
                if ok == keep { out.append(v) }
            }
            return .list(out)
        case "int":
            let fallback = arg(p, k, 0, "default") ?? .int(0)
            switch value {
            case .int, .bool: return .int(value.integer!)
            case .float(let d): return d.isFinite && abs(d) < 9.2e18 ? .int(Int(d)) : fallback
            case .string(let s), .markup(let s):
                let t = pyStrip(s, chars: nil, left: true, right: true).replacingOccurrences(of: "_", with: "")
                if let i = Int(t) { return .int(i) }
                if let d = Double(t), d.isFinite, abs(d) < 9.2e18 { return .int(Int(d)) }
                return fallback
            default: return fallback
            }
        case "float":
            let fallback = arg(p, k, 0, "default") ?? .float(0)
            if let d = value.numeric { return .float(d) }
            if let s = value.stringValue, let d = Double(pyStrip(s, chars: nil, left: true, right: true)) { return .float(d) }
            return fallback
        case "abs":
            switch value {
            case .int(let i): return .int(abs(i))
            case .float(let d): return .float(abs(d))
            case .bool(let b): return .int(b ? 1 : 0)
            default: throw interp.fail(.type, "bad operand type for abs(): '\(value.typeName)'")
            }
        case "round":
            let precision = arg(p, k, 0, "precision")?.integer ?? 0
            let method = arg(p, k, 1, "method")?.stringValue ?? "common"  // "common" is Python's round(): half to even
            guard let d = value.numeric else { throw interp.fail(.type, "round: expected a number") }
            let factor = pow(10.0, Double(precision))
            let x = d * factor
            let r: Double = method == "ceil" ? x.rounded(.up) : method == "floor" ? x.rounded(.down) : x.rounded(.toNearestOrEven)
            return .float(r / factor)
        case "indent":
            let widthValue = arg(p, k, 0, "width") ?? .int(4)
            if let w = widthValue.integer { try interp.checkLength(w) }
            let indentation = widthValue.stringValue ?? String(repeating: " ", count: max(0, widthValue.integer ?? 4))
            let first = arg(p, k, 1, "first")?.truthy ?? false
            let blank = arg(p, k, 2, "blank")?.truthy ?? false
            let s = try requireString() + "\n"
            let lines = pySplitlines(s)
            var rv: String
            if blank {
                rv = lines.joined(separator: "\n" + indentation)
            } else {
                rv = lines.first ?? ""
                if lines.count > 1 {
                    rv += "\n" + lines.dropFirst().map { $0.isEmpty ? $0 : indentation + $0 }.joined(separator: "\n")
                }
            }
            if first { rv = indentation + rv }
            return .markup(rv)
        case "sum":
            let attribute = arg(p, k, 0, "attribute")
            var total = arg(p, k, 1, "start") ?? .int(0)
            for v in try items() {
                let x = try attribute.map { (a: JinjaValue) throws(ChatTemplateError) in try lookupPath(v, a, interp) } ?? v
                total = try interp.binary("+", total, x)
            }
            return total
        case "min", "max":
            let seq = try items()
            guard var best = seq.first else { return .undefined("No \(name) item, sequence was empty.") }
            for v in seq.dropFirst() where try interp.compare(name == "min" ? "<" : ">", v, best) { best = v }
            return best
        case "wordcount":
            return .int(try requireString().split(whereSeparator: { $0.isWhitespace }).count)
        case "format":
            return .string(try printf(try requireString(), p.count == 1 ? p[0] : .tuple(p), interp))
        case "batch", "slice":
            let n = max(1, p.first?.integer ?? 1)
            let seq = try items()
            var groups: [JinjaValue] = []
            var i = 0
            while i < seq.count {
                groups.append(.list(Array(seq[i..<min(i + n, seq.count)])))
                i += n
            }
            return .list(groups)
        case "attr":
            guard let attribute = p.first?.stringValue else { throw interp.fail(.type, "attr() needs a name") }
            return try interp.getAttribute(value, attribute)
        case "center":
            let width = arg(p, k, 0, "width")?.integer ?? 80
            try interp.checkLength(width)
            let s = try requireString()
            let n = s.unicodeScalars.count
            guard width > n else { return .string(s) }
            let left = (width - n) / 2 + ((width - n) % 2 == 1 && width % 2 == 1 ? 1 : 0)
            return .string(String(repeating: " ", count: left) + s + String(repeating: " ", count: width - n - left))
        case "striptags":
            return .string(try requireString().replacingOccurrences(of: "<[^>]*>", with: "", options: .regularExpression))
        default:
            throw interp.fail(.syntax, "no filter named '\(name)'")
        }
    }

    /// `a.b.0`-style lookups used by `map`, `selectattr`, `sort`, `join` and friends.
    static func lookupPath(_ value: JinjaValue, _ attribute: JinjaValue, _ interp: JinjaInterpreter) throws(ChatTemplateError) -> JinjaValue {
        if let i = attribute.integer { return try interp.getItem(value, .int(i)) }
        var v = value
        for part in attribute.str.split(separator: ".", omittingEmptySubsequences: false) {
            if let i = Int(part) { v = try interp.getItem(v, .int(i)) } else { v = try interp.getItem(v, .string(String(part))) }
        }
        return v
    }

    static func sortValues<T>(_ items: inout [T], key: (T) -> JinjaValue, caseSensitive: Bool, reverse: Bool, _ interp: JinjaInterpreter) throws(ChatTemplateError) {
        func norm(_ v: JinjaValue) -> JinjaValue {
            if !caseSensitive, let s = v.stringValue { return .string(s.lowercased()) }
            return v
        }
        var failure: ChatTemplateError? = nil
        // A stable merge sort, as Python's sorted() is stable.
        let indexed = items.enumerated().map { ($0.offset, $0.element) }
        let sorted = indexed.sorted { a, b in
            if failure != nil { return false }
            do {
                let x = norm(key(a.1))
                let y = norm(key(b.1))
                if JinjaValue.equal(x, y) { return a.0 < b.0 }
                let less = try interp.compare("<", x, y)
                return reverse ? !less : less
            } catch let error as ChatTemplateError {
                failure = error
                return false
            } catch {
                return false
            }
        }
        if let failure { throw failure }
        items = sorted.map { $0.1 }
    }

    // MARK: Tests

    static func test(_ name: String, _ value: JinjaValue, _ args: [JinjaValue], _ interp: JinjaInterpreter) throws(ChatTemplateError) -> Bool {
        switch name {
        case "defined": return !value.isUndefined
        case "undefined": return value.isUndefined
        case "none": return value.isNone
        case "boolean": if case .bool = value { return true } else { return false }
        case "true": if case .bool(true) = value { return true } else { return false }
        case "false": if case .bool(false) = value { return true } else { return false }
        case "integer": if case .int = value { return true } else { return false }
        case "float": if case .float = value { return true } else { return false }
        case "number": return value.numeric != nil
        case "string": return value.stringValue != nil
        case "mapping": if case .dict = value { return true } else { return false }
        case "sequence":
            switch value {
            case .string, .markup, .list, .tuple, .dict: return true
            default: return false
            }
        case "iterable":
            switch value {
            case .string, .markup, .list, .tuple, .dict, .undefined: return true
            default: return false
            }
        case "callable": if case .function = value { return true } else { return false }
        case "sameas":
            guard let other = args.first else { return false }
            switch (value, other) {
            case (.none, .none): return true
            case (.bool(let a), .bool(let b)): return a == b
            case (.namespace(let a), .namespace(let b)): return a === b
            default: return false
            }
        case "eq", "equalto", "==": return JinjaValue.equal(value, args.first ?? .none)
        case "ne", "!=": return !JinjaValue.equal(value, args.first ?? .none)
        case "lt", "lessthan", "<": return try interp.compare("<", value, args.first ?? .none)
        case "le", "<=": return try interp.compare("<=", value, args.first ?? .none)
        case "gt", "greaterthan", ">": return try interp.compare(">", value, args.first ?? .none)
        case "ge", ">=": return try interp.compare(">=", value, args.first ?? .none)
        case "in": return try interp.contains(args.first ?? .none, value)
        case "divisibleby":
            guard let a = value.integer, let b = args.first?.integer, b != 0 else { return false }
            return a % b == 0
        case "even": return (value.integer ?? 1) % 2 == 0
        case "odd": return (value.integer ?? 0) % 2 != 0
        case "lower": return value.stringValue.map { $0 == $0.lowercased() } ?? false
        case "upper": return value.stringValue.map { $0 == $0.uppercased() } ?? false
        case "escaped": if case .markup = value { return true } else { return false }
        case "filter", "test": return true
        default: throw interp.fail(.syntax, "no test named '\(name)'")
        }
    }

    // MARK: Python string helpers

    static func pyStrip(_ s: String, chars: String?, left: Bool, right: Bool) -> String {
        let set = chars.map { Set($0.unicodeScalars) }
        func strip(_ c: Unicode.Scalar) -> Bool { set.map { $0.contains(c) } ?? isPythonSpace(c) }
        let scalars = s.unicodeScalars
        var start = scalars.startIndex
        var end = scalars.endIndex
        if left { while start < end, strip(scalars[start]) { start = scalars.index(after: start) } }
        if right {
            while end > start {
                let before = scalars.index(before: end)
                guard strip(scalars[before]) else { break }
                end = before
            }
        }
        if start == scalars.startIndex && end == scalars.endIndex { return s }
        return String(scalars[start..<end])
    }

    static func pyReplace(_ s: String, _ old: String, _ new: String, count: Int?) -> String {
        let limit = count.map { $0 < 0 ? Int.max : $0 } ?? Int.max
        if old.isEmpty {
            var out = String.UnicodeScalarView()
            var n = 0
            for c in s.unicodeScalars {
                if n < limit { out.append(contentsOf: new.unicodeScalars); n += 1 }
                out.append(c)
            }
            if n < limit { out.append(contentsOf: new.unicodeScalars) }
            return String(out)
        }
        let offsets = UTF8Search.occurrences(of: old, in: s, limit: limit)
        if offsets.isEmpty { return s }
        return UTF8Search.pieces(of: s, at: offsets, gap: old.utf8.count).joined(separator: new)
    }

    static func pySplitlines(_ s: String) -> [String] {
        // The text was normalised by the lexer only for template source; values may hold any breaks.
        var lines: [String] = []
        var current = String.UnicodeScalarView()
        let scalars = Array(s.unicodeScalars)
        var i = 0
        while i < scalars.count {
            let c = scalars[i]
            switch c.value {
            case 0x0A, 0x0B, 0x0C, 0x1C, 0x1D, 0x1E, 0x85, 0x2028, 0x2029:
                lines.append(String(current))
                current = String.UnicodeScalarView()
            case 0x0D:
                lines.append(String(current))
                current = String.UnicodeScalarView()
                if i + 1 < scalars.count, scalars[i + 1] == "\n" { i += 1 }
            default:
                current.append(c)
            }
            i += 1
        }
        if !current.isEmpty { lines.append(String(current)) }
        return lines
    }

    static func pyCapitalize(_ s: String) -> String {
        guard let first = s.unicodeScalars.first else { return s }
        var rest = String.UnicodeScalarView()
        rest.append(contentsOf: s.unicodeScalars.dropFirst())
        return first.properties.titlecaseMapping + String(rest).lowercased()
    }

    /// Jinja's `title`: each word (split before `-`, whitespace and opening brackets) capitalised.
    static func jinjaTitle(_ s: String) -> String {
        var out = ""
        var word = String.UnicodeScalarView()
        var separators = String.UnicodeScalarView()
        func isSeparator(_ c: Unicode.Scalar) -> Bool { c == "-" || c == "(" || c == "{" || c == "[" || c == "<" || isPythonSpace(c) }
        func flushWord() {
            if !word.isEmpty {
                let first = word.first!
                var rest = String.UnicodeScalarView()
                rest.append(contentsOf: word.dropFirst())
                out += first.properties.uppercaseMapping + String(rest).lowercased()
                word = String.UnicodeScalarView()
            }
        }
        for c in s.unicodeScalars {
            if isSeparator(c) {
                flushWord()
                separators.append(c)
            } else {
                if !separators.isEmpty {
                    // A separator run is itself an item: its first character is upper-cased (a no-op).
                    out += String(separators)
                    separators = String.UnicodeScalarView()
                }
                word.append(c)
            }
        }
        flushWord()
        out += String(separators)
        return out
    }

    static func htmlEscape(_ s: String) -> String {
        var out = ""
        for c in s.unicodeScalars {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&#34;"
            case "'": out += "&#39;"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }

    /// Python's `format % args` for `%s %r %d %i %f %x %%` (with width and precision).
    static func printf(_ format: String, _ args: JinjaValue, _ interp: JinjaInterpreter) throws(ChatTemplateError) -> String {
        var values: [JinjaValue]
        var mapping: JinjaDict? = nil
        switch args {
        case .tuple(let a): values = a
        case .dict(let d): values = [args]; mapping = d
        default: values = [args]
        }
        var out = ""
        var it = Array(format.unicodeScalars)[...]
        var used = 0
        while let c = it.first {
            it = it.dropFirst()
            guard c == "%" else { out.unicodeScalars.append(c); continue }
            var key: String? = nil
            if it.first == "(" {
                guard let close = it.firstIndex(of: ")") else { throw interp.fail(.type, "incomplete format key") }
                key = String(String.UnicodeScalarView(it[it.index(after: it.startIndex)..<close]))
                it = it[it.index(after: close)...]
            }
            var spec = ""
            while let f = it.first, "-+ #0123456789.".unicodeScalars.contains(f) { spec.unicodeScalars.append(f); it = it.dropFirst() }
            guard let conv = it.first else { throw interp.fail(.type, "incomplete format") }
            it = it.dropFirst()
            if conv == "%" { out += "%"; continue }
            let v: JinjaValue
            if let key, let mapping { v = mapping.get(key) ?? .none } else {
                guard used < values.count else { throw interp.fail(.type, "not enough arguments for format string") }
                v = values[used]
                used += 1
            }
            let width = Int(spec.filter { $0.isNumber || $0 == "." }.split(separator: ".", omittingEmptySubsequences: false).first.map(String.init) ?? "") ?? 0
            try interp.checkLength(width)
            let precision = spec.contains(".") ? Int(spec.split(separator: ".").last.map(String.init) ?? "") : nil
            var text: String
            switch conv {
            case "s": text = v.str
            case "r": text = v.repr
            case "d", "i":
                guard let n = v.numeric else { throw interp.fail(.type, "%\(conv) format: a number is required, not \(v.typeName)") }
                text = String(Int(n))
            case "f", "F":
                guard let n = v.numeric else { throw interp.fail(.type, "must be real number, not \(v.typeName)") }
                text = String(format: "%.\(precision ?? 6)f", n)
            case "x": text = String(v.integer ?? 0, radix: 16)
            default: throw interp.fail(.type, "unsupported format character '\(conv)'")
            }
            if spec.hasPrefix("-") {
                text += String(repeating: " ", count: max(0, width - text.unicodeScalars.count))
            } else {
                text = String(repeating: spec.hasPrefix("0") && conv != "s" ? "0" : " ", count: max(0, width - text.unicodeScalars.count)) + text
            }
            out += text
        }
        if mapping == nil && used < values.count, case .tuple = args {
            throw interp.fail(.type, "not all arguments converted during string formatting")
        }
        return out
    }
}
