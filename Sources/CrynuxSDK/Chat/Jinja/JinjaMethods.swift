/// The Python methods templates call on strings and dicts (`x.strip()`, `d.get(k)`, …). Mutating
/// methods do not exist here, as in transformers' immutable sandbox.
enum JinjaMethods {
    static func method(_ value: JinjaValue, _ name: String) -> JinjaValue? {
        switch value {
        case .string(let s), .markup(let s): return stringMethod(s, name).map { .function($0) }
        case .dict(let d): return dictMethod(d, name).map { .function($0) }
        case .list(let a), .tuple(let a): return listMethod(a, name).map { .function($0) }
        default: return nil
        }
    }

    static func fn(_ name: String, _ body: @escaping @Sendable ([JinjaValue], [(String, JinjaValue)], JinjaInterpreter) throws(ChatTemplateError) -> JinjaValue) -> JinjaFunction {
        JinjaFunction(name: name, call: body)
    }

    static func stringMethod(_ s: String, _ name: String) -> JinjaFunction? {
        switch name {
        case "strip", "lstrip", "rstrip":
            return fn(name) { p, _, _ throws(ChatTemplateError) in
                .string(JinjaFilters.pyStrip(s, chars: p.first?.stringValue, left: name != "rstrip", right: name != "lstrip"))
            }
        case "upper": return fn(name) { _, _, _ throws(ChatTemplateError) in .string(s.uppercased()) }
        case "lower": return fn(name) { _, _, _ throws(ChatTemplateError) in .string(s.lowercased()) }
        case "title": return fn(name) { _, _, _ throws(ChatTemplateError) in .string(pyTitle(s)) }
        case "capitalize": return fn(name) { _, _, _ throws(ChatTemplateError) in .string(JinjaFilters.pyCapitalize(s)) }
        case "startswith", "endswith":
            return fn(name) { p, _, interp throws(ChatTemplateError) in
                guard let arg = p.first else { throw interp.fail(.type, "\(name)() takes at least 1 argument (0 given)") }
                let candidates: [JinjaValue]
                if case .tuple(let t) = arg { candidates = t } else { candidates = [arg] }
                for c in candidates {
                    guard let text = c.stringValue else {
                        throw interp.fail(.type, "\(name) first arg must be str or a tuple of str, not \(c.typeName)")
                    }
                    let hit = name == "startswith" ? s.unicodeScalars.starts(with: text.unicodeScalars)
                        : s.unicodeScalars.reversed().starts(with: text.unicodeScalars.reversed())
                    if hit { return .bool(true) }
                }
                return .bool(false)
            }
        case "split", "rsplit":
            return fn(name) { p, k, _ throws(ChatTemplateError) in
                let sep = JinjaFilters.arg(p, k, 0, "sep")?.stringValue
                let maxsplit = JinjaFilters.arg(p, k, 1, "maxsplit")?.integer ?? -1
                return .list(pySplit(s, sep: sep, maxsplit: maxsplit, fromRight: name == "rsplit").map { .string($0) })
            }
        case "splitlines":
            return fn(name) { _, _, _ throws(ChatTemplateError) in .list(JinjaFilters.pySplitlines(s).map { .string($0) }) }
        case "replace":
            return fn(name) { p, _, interp throws(ChatTemplateError) in
                guard p.count >= 2, let old = p[0].stringValue, let new = p[1].stringValue else {
                    throw interp.fail(.type, "replace() takes two string arguments")
                }
                return .string(JinjaFilters.pyReplace(s, old, new, count: p.count > 2 ? p[2].integer : nil))
            }
        case "join":
            return fn(name) { p, _, interp throws(ChatTemplateError) in
                guard let first = p.first, let items = try interp.iterate(first) else { throw interp.fail(.type, "can only join an iterable") }
                var parts: [String] = []
                for item in items {
                    guard let t = item.stringValue else {
                        throw interp.fail(.type, "sequence item \(parts.count): expected str instance, \(item.typeName) found")
                    }
                    parts.append(t)
                }
                return .string(parts.joined(separator: s))
            }
        case "find", "rfind", "index", "rindex", "count":
            return fn(name) { p, _, interp throws(ChatTemplateError) in
                guard let needle = p.first?.stringValue else { throw interp.fail(.type, "\(name)() needs a string") }
                let hay = Array(s.unicodeScalars)
                let n = Array(needle.unicodeScalars)
                var positions: [Int] = []
                if n.isEmpty {
                    positions = Array(0...hay.count)
                } else if hay.count >= n.count {
                    var i = 0
                    while i <= hay.count - n.count {
                        if Array(hay[i..<i + n.count]) == n {
                            positions.append(i)
                            if name == "count" { i += n.count; continue }
                        }
                        i += 1
                    }
                }
                switch name {
                case "count": return .int(positions.count)
                case "find": return .int(positions.first ?? -1)
                case "rfind": return .int(positions.last ?? -1)
                default:
                    guard let pos = name == "index" ? positions.first : positions.last else { throw interp.fail(.type, "substring not found") }
                    return .int(pos)
                }
            }
        case "isdigit", "isnumeric", "isdecimal":
            return fn(name) { _, _, _ throws(ChatTemplateError) in
                .bool(!s.isEmpty && s.unicodeScalars.allSatisfy { $0.properties.numericType != nil })
            }
        case "isalpha":
            return fn(name) { _, _, _ throws(ChatTemplateError) in .bool(!s.isEmpty && s.unicodeScalars.allSatisfy { $0.properties.isAlphabetic }) }
        case "isspace":
            return fn(name) { _, _, _ throws(ChatTemplateError) in .bool(!s.isEmpty && s.unicodeScalars.allSatisfy(isPythonSpace)) }
        case "isupper", "islower":
            return fn(name) { _, _, _ throws(ChatTemplateError) in
                let cased = s.unicodeScalars.filter { $0.properties.isCased }
                return .bool(!cased.isEmpty && (name == "isupper" ? s == s.uppercased() : s == s.lowercased()))
            }
        default: return nil
        }
    }

    static func dictMethod(_ d: JinjaDict, _ name: String) -> JinjaFunction? {
        switch name {
        case "items":
            return fn(name) { _, _, _ throws(ChatTemplateError) in .iterator(JinjaIterator(.view("dict_items"), d.entries.map { .tuple([$0.key, $0.value]) })) }
        case "keys": return fn(name) { _, _, _ throws(ChatTemplateError) in .iterator(JinjaIterator(.view("dict_keys"), d.entries.map(\.key))) }
        case "values": return fn(name) { _, _, _ throws(ChatTemplateError) in .iterator(JinjaIterator(.view("dict_values"), d.entries.map(\.value))) }
        case "get":
            return fn(name) { p, _, interp throws(ChatTemplateError) in
                guard let key = p.first else { throw interp.fail(.type, "get expected at least 1 argument, got 0") }
                return d.get(key) ?? (p.count > 1 ? p[1] : .none)
            }
        default: return nil
        }
    }

    static func listMethod(_ a: [JinjaValue], _ name: String) -> JinjaFunction? {
        switch name {
        case "index":
            return fn(name) { p, _, interp throws(ChatTemplateError) in
                guard let x = p.first, let i = a.firstIndex(where: { JinjaValue.equal($0, x) }) else { throw interp.fail(.type, "value is not in list") }
                return .int(i)
            }
        case "count":
            return fn(name) { p, _, _ throws(ChatTemplateError) in .int(a.filter { JinjaValue.equal($0, p.first ?? .none) }.count) }
        default: return nil
        }
    }

    /// Python's `str.split`.
    static func pySplit(_ s: String, sep: String?, maxsplit: Int, fromRight: Bool) -> [String] {
        let scalars = Array(s.unicodeScalars)
        func str(_ slice: ArraySlice<Unicode.Scalar>) -> String { String(String.UnicodeScalarView(slice)) }
        guard let sep, !sep.isEmpty else {
            // Runs of whitespace, no empty strings.
            var words: [ArraySlice<Unicode.Scalar>] = []
            var i = 0
            var start = -1
            while i <= scalars.count {
                if i == scalars.count || isPythonSpace(scalars[i]) {
                    if start >= 0 { words.append(scalars[start..<i]); start = -1 }
                } else if start < 0 {
                    start = i
                }
                i += 1
            }
            if maxsplit >= 0 && words.count > maxsplit + 1 {
                if fromRight {
                    let keep = words.suffix(maxsplit)
                    let headEnd = keep.first.map { $0.startIndex } ?? scalars.count
                    let head = JinjaFilters.pyStrip(str(scalars[0..<headEnd]), chars: nil, left: true, right: true)
                    return [head] + keep.map(str)
                }
                let headWords = words.prefix(maxsplit)
                let tailStart = words[maxsplit].startIndex
                return headWords.map(str) + [JinjaFilters.pyStrip(str(scalars[tailStart...]), chars: nil, left: false, right: true)]
            }
            return words.map(str)
        }
        var offsets = UTF8Search.occurrences(of: sep, in: s)
        if maxsplit >= 0 && offsets.count > maxsplit {
            offsets = fromRight ? Array(offsets.suffix(maxsplit)) : Array(offsets.prefix(maxsplit))
        }
        return UTF8Search.pieces(of: s, at: offsets, gap: sep.utf8.count)
    }

    /// Python's `str.title`.
    static func pyTitle(_ s: String) -> String {
        var out = ""
        var previousCased = false
        for c in s.unicodeScalars {
            if c.properties.isCased {
                out += previousCased ? c.properties.lowercaseMapping : c.properties.titlecaseMapping
                previousCased = true
            } else {
                out.unicodeScalars.append(c)
                previousCased = false
            }
        }
        return out
    }
}
