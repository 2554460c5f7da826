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
            guard let items = try interp.iterate(value) else { throw interp.fail(.type, "'\(value.typeName)' object is not iterable") }
            return items
        }
        func flag(_ index: Int, _ key: String) -> Bool { arg(p, k, index, key)?.truthy ?? false }
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
            case .loop(let loop): return .int(loop.items.count)
            case .iterator(let it) where it.isSized: return .int(it.items.count)
            default: throw interp.fail(.type, "object of type '\(value.typeName)' has no len()")
            }
        case "join":
            let sep = arg(p, k, 0, "d")?.str ?? ""
            var seq = try items()
            if let attribute = arg(p, k, 1, "attribute"), !attribute.isNone {
                seq = try seq.map { (v: JinjaValue) throws(ChatTemplateError) in try attributeValue(v, attribute, interp) }
            }
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
            if value.isUndefined || (flag(1, "boolean") && !value.truthy) { return fallback }
            return value
        case "first":
            if case .iterator(let it) = value { return try it.next() ?? .undefined("No first item, sequence was empty.") }
            return try items().first ?? .undefined("No first item, sequence was empty.")
        case "last":
            // Python's reversed(): sequences, dicts, ranges and dict views, not generators.
            switch value {
            case .iterator(let it) where it.isOneShot: throw interp.fail(.type, "'\(it.typeName)' object is not reversible")
            case .list, .tuple, .string, .markup, .dict, .undefined, .iterator:
                return try items().last ?? .undefined("No last item, sequence was empty.")
            default: throw interp.fail(.type, "'\(value.typeName)' object is not reversible")
            }
        case "list": return .list(try items())
        case "reverse":
            if let s = value.stringValue { return .string(String(String.UnicodeScalarView(s.unicodeScalars.reversed()))) }
            // Python's reversed() where the value supports it, else the items in a reversed list.
            let iteratorName: String
            switch value {
            case .list: iteratorName = "list_reverseiterator"
            case .tuple, .undefined: iteratorName = "reversed"
            case .dict: iteratorName = "dict_reversekeyiterator"
            case .iterator(let it):
                switch it.kind {
                case .range: iteratorName = "range_iterator"
                case .view(let view):
                    iteratorName = view == "dict_items" ? "dict_reverseitemiterator" : view == "dict_keys" ? "dict_reversekeyiterator" : "dict_reversevalueiterator"
                case .generator, .reversed: return .list(try items().reversed())
                }
            default: throw interp.fail(.type, "argument must be iterable")
            }
            return .iterator(JinjaIterator(.reversed(iteratorName), try items().reversed()))
        case "items":
            switch value {
            case .undefined: return .iterator(JinjaIterator(.generator, []))
            case .dict(let d): return .iterator(JinjaIterator(.generator, d.entries.map { .tuple([$0.key, $0.value]) }))
            default: return .iterator(JinjaIterator(.generator, [], failure: interp.fail(.type, "Can only get item pairs from a mapping.")))
            }
        case "dictsort":
            let caseSensitive = flag(0, "case_sensitive")
            let by = arg(p, k, 1, "by")?.stringValue ?? "key"
            guard by == "key" || by == "value" else { throw interp.fail(.type, #"You can only sort by either "key" or "value""#) }
            let reverse = flag(2, "reverse")
            guard case .dict(let d) = value else {
                if value.isUndefined { throw interp.undefinedError(value) }
                throw interp.fail(.type, "'\(value.typeName)' object has no attribute 'items'")
            }
            var pairs = d.entries.map { ($0.key, $0.value) }
            try sortValues(&pairs, key: { by == "value" ? $0.1 : $0.0 }, caseSensitive: caseSensitive, reverse: reverse, interp)
            return .list(pairs.map { .tuple([$0.0, $0.1]) })
        case "sort":
            let seq = try items()
            let reverse = flag(0, "reverse")
            let caseSensitive = flag(1, "case_sensitive")
            let attribute = arg(p, k, 2, "attribute")
            // Keys as Jinja's multi-attribute getter makes them: one value per comma-separated attribute.
            var paths: [JinjaValue?] = [nil]
            if let attribute, !attribute.isNone {
                paths = attribute.stringValue.map { $0.split(separator: ",", omittingEmptySubsequences: false).map { .string(String($0)) } } ?? [attribute]
            }
            var keyed: [(JinjaValue, JinjaValue)] = []
            for v in seq {
                var key: [JinjaValue] = []
                for path in paths {
                    let part = try path.map { (a: JinjaValue) throws(ChatTemplateError) in try attributeValue(v, a, interp) } ?? v
                    key.append(caseSensitive ? part : ignoreCase(part))
                }
                keyed.append((key.count == 1 ? key[0] : .list(key), v))
            }
            try sortValues(&keyed, key: { $0.0 }, caseSensitive: true, reverse: reverse, interp)
            return .list(keyed.map(\.1))
        case "unique":
            let caseSensitive = flag(0, "case_sensitive")
            let attribute = arg(p, k, 1, "attribute")
            return try JinjaIterator.generator { (out: inout [JinjaValue]) throws(ChatTemplateError) in
                var seen = Set<String>()
                for v in try items() {
                    let key = try attributeValue(v, attribute, interp)
                    if seen.insert((caseSensitive ? key : ignoreCase(key)).dictKey).inserted { out.append(v) }
                }
            }
        case "map":
            return try JinjaIterator.generator { (out: inout [JinjaValue]) throws(ChatTemplateError) in
                guard value.truthy else { return }
                if p.isEmpty, let attribute = k.last(where: { $0.0 == "attribute" })?.1 {
                    if let other = k.first(where: { $0.0 != "attribute" && $0.0 != "default" }) {
                        throw interp.fail(.type, "Unexpected keyword argument \(pythonStringRepr(other.0))")
                    }
                    let fallback = k.last(where: { $0.0 == "default" })?.1
                    for v in try items() { out.append(try attributeValue(v, attribute, interp, default: fallback)) }
                    return
                }
                guard let filterName = p.first else { throw interp.fail(.type, "map requires a filter argument") }
                let rest = Array(p.dropFirst())
                for v in try items() { out.append(try apply(filterName.str, v, rest, k, interp)) }
            }
        case "select", "reject", "selectattr", "rejectattr":
            let keep = name == "select" || name == "selectattr"
            let byAttribute = name.hasSuffix("attr")
            return try JinjaIterator.generator { (out: inout [JinjaValue]) throws(ChatTemplateError) in
                guard value.truthy else { return }
                var attribute: JinjaValue? = nil
                if byAttribute {
                    guard let a = p.first else { throw interp.fail(.type, "Missing parameter for attribute name") }
                    attribute = a
                }
                let offset = byAttribute ? 1 : 0
                let testName = p.count > offset ? p[offset].str : nil
                let testArgs = Array(p.dropFirst(offset + 1)) + k.map(\.1)
                for v in try items() {
                    let x = try attribute.map { (a: JinjaValue) throws(ChatTemplateError) in try attributeValue(v, a, interp) } ?? v
                    let ok = try testName.map { (t: String) throws(ChatTemplateError) in try test(t, x, testArgs, interp) } ?? x.truthy
                    if ok == keep { out.append(v) }
                }
            }
        case "int":
            let fallback = arg(p, k, 0, "default") ?? .int(0)
            switch value {
            case .undefined: throw interp.undefinedError(value)
            case .int(let i): return .int(i)
            case .bool(let b): return .int(b ? 1 : 0)
            case .float(let d): return try floatToInt(d, interp) ?? fallback
            case .string(let s), .markup(let s):
                let base = arg(p, k, 1, "base")?.integer ?? 10
                if let i = pyParseInt(s, base: base) { return .int(i) }
                // The fallback int(float(text)) turns overflow into the default too.
                if let d = pyParseFloat(s), d.isFinite { return try floatToInt(d, interp) ?? fallback }
                return fallback
            default: return fallback
            }
        case "float":
            let fallback = arg(p, k, 0, "default") ?? .float(0)
            switch value {
            case .undefined: throw interp.undefinedError(value)
            case .string(let s), .markup(let s): return pyParseFloat(s).map { .float($0) } ?? fallback
            default: return value.numeric.map { .float($0) } ?? fallback
            }
        case "abs":
            switch value {
            case .int(let i):
                guard i != .min else { throw interp.fail(.limit, "integer overflow") }
                return .int(abs(i))
            case .float(let d): return .float(abs(d))
            case .bool(let b): return .int(b ? 1 : 0)
            default: throw interp.fail(.type, "bad operand type for abs(): '\(value.typeName)'")
            }
        case "round":
            let precision = arg(p, k, 0, "precision")?.integer ?? 0
            let method = arg(p, k, 1, "method")?.str ?? "common"
            guard method == "common" || method == "ceil" || method == "floor" else { throw interp.fail(.type, "method must be common, ceil or floor") }
            if method == "common" {
                // Python's round(): half to even; an integer stays an integer.
                switch value {
                case .int, .bool: return .int(try roundInteger(value.integer ?? 0, precision, interp))
                case .float(let d):
                    guard precision < 0 else {
                        let factor = pow(10.0, Double(precision))
                        return .float((d * factor).rounded(.toNearestOrEven) / factor)
                    }
                    let factor = pow(10.0, Double(-precision))
                    return .float((d / factor).rounded(.toNearestOrEven) * factor)
                default: throw interp.fail(.type, "type \(value.typeName) doesn't define __round__ method")
                }
            }
            guard let d = value.numeric else {
                if value.isUndefined { throw interp.undefinedError(value) }
                throw interp.fail(.type, "must be real number, not \(value.typeName)")
            }
            let factor = pow(10.0, Double(precision))
            return .float((d * factor).rounded(method == "ceil" ? .up : .down) / factor)
        case "indent":
            guard let text = value.stringValue else {
                if value.isUndefined { throw interp.undefinedError(value) }
                throw interp.fail(.type, "unsupported operand type(s) for +=: '\(value.typeName)' and 'str'")
            }
            let widthValue = arg(p, k, 0, "width") ?? .int(4)
            if let w = widthValue.integer { try interp.checkLength(w) }
            let indentation = widthValue.stringValue ?? String(repeating: " ", count: max(0, widthValue.integer ?? 4))
            let first = flag(1, "first")
            let blank = flag(2, "blank")
            let lines = pySplitlines(text + "\n")
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
            for v in try items() { total = try interp.binary("+", total, try attributeValue(v, attribute, interp)) }
            return total
        case "min", "max":
            let caseSensitive = flag(0, "case_sensitive")
            let attribute = arg(p, k, 1, "attribute")
            let seq = try items()
            guard var best = seq.first else { return .undefined("No aggregated item, sequence was empty.") }
            func key(_ v: JinjaValue) throws(ChatTemplateError) -> JinjaValue {
                let x = try attributeValue(v, attribute, interp)
                return caseSensitive ? x : ignoreCase(x)
            }
            var bestKey = try key(best)
            for v in seq.dropFirst() {
                let candidate = try key(v)
                if try interp.compare(name == "min" ? "<" : ">", candidate, bestKey) {
                    best = v
                    bestKey = candidate
                }
            }
            return best
        case "wordcount":
            // Jinja counts runs of `\w` characters.
            var count = 0
            var inWord = false
            for c in try requireString().unicodeScalars {
                let word = isWordCharacter(c)
                if word && !inWord { count += 1 }
                inWord = word
            }
            return .int(count)
        case "format":
            return .string(try printf(try requireString(), p.count == 1 ? p[0] : .tuple(p), interp))
        case "batch":
            let size = arg(p, k, 0, "linecount")?.integer ?? 1
            let fill = arg(p, k, 1, "fill_with").flatMap { $0.isNone ? nil : $0 }
            return try JinjaIterator.generator { (out: inout [JinjaValue]) throws(ChatTemplateError) in
                var group: [JinjaValue] = []
                for item in try items() {
                    if group.count == size {
                        out.append(.list(group))
                        group = []
                    }
                    group.append(item)
                }
                if !group.isEmpty {
                    if let fill, group.count < size {
                        try interp.checkLength(size)
                        group += Array(repeating: fill, count: size - group.count)
                    }
                    out.append(.list(group))
                }
            }
        case "slice":
            let slices = arg(p, k, 0, "slices")?.integer ?? 1
            let fill = arg(p, k, 1, "fill_with").flatMap { $0.isNone ? nil : $0 }
            return try JinjaIterator.generator { (out: inout [JinjaValue]) throws(ChatTemplateError) in
                let seq = try items()
                guard slices != 0 else { throw interp.fail(.type, "integer division or modulo by zero") }
                guard slices > 0 else { return }
                let perSlice = seq.count / slices
                let withExtra = seq.count % slices
                var offset = 0
                for number in 0..<slices {
                    try interp.step()
                    let start = min(seq.count, offset + number * perSlice)
                    if number < withExtra { offset += 1 }
                    let end = min(seq.count, offset + (number + 1) * perSlice)
                    var column = start < end ? Array(seq[start..<end]) : []
                    if let fill, number >= withExtra { column.append(fill) }
                    out.append(.list(column))
                }
            }
        case "attr":
            // Python's getattr: a dict's keys are not attributes.
            guard let attribute = arg(p, k, 0, "name")?.str else { throw interp.fail(.type, "attr() needs a name") }
            switch value {
            case .undefined: throw interp.undefinedError(value)
            case .dict: return JinjaMethods.method(value, attribute) ?? .undefined(.attribute(value.objectTypeRepr, attribute))
            default: return try interp.getAttribute(value, attribute)
            }
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

    /// Jinja's attribute getter for filters: `a.b.0`-style paths (all-digit parts are indexes); an undefined
    /// step becomes `default` when one is given. A nil or `none` attribute gives the value itself.
    static func attributeValue(_ value: JinjaValue, _ attribute: JinjaValue?, _ interp: JinjaInterpreter, default fallback: JinjaValue? = nil)
        throws(ChatTemplateError) -> JinjaValue
    {
        guard let attribute, !attribute.isNone else { return value }
        let fallback = fallback.flatMap { $0.isNone ? nil : $0 }
        guard let path = attribute.stringValue else {
            let v = try interp.getItem(value, attribute)
            return v.isUndefined ? fallback ?? v : v
        }
        var v = value
        for part in path.split(separator: ".", omittingEmptySubsequences: false) {
            let isIndex = !part.isEmpty && part.unicodeScalars.allSatisfy { $0.value >= 48 && $0.value <= 57 }
            if isIndex, let i = Int(part) { v = try interp.getItem(v, .int(i)) } else { v = try interp.getItem(v, .string(String(part))) }
            if v.isUndefined, let fallback { v = fallback }
        }
        return v
    }

    /// Jinja's `ignore_case`: strings lower-cased, other values as they are.
    static func ignoreCase(_ v: JinjaValue) -> JinjaValue {
        if let s = v.stringValue { return .string(s.lowercased()) }
        return v
    }

    /// Python's `int(float)`: nil for NaN (a `ValueError` the `int` filter catches), an error for infinity.
    static func floatToInt(_ d: Double, _ interp: JinjaInterpreter) throws(ChatTemplateError) -> JinjaValue? {
        if d.isNaN { return nil }
        if d.isInfinite { throw interp.fail(.type, "cannot convert float infinity to integer") }
        guard abs(d) < 9.2e18 else { throw interp.fail(.limit, "integer result too large") }
        return .int(Int(d))
    }

    /// Python's `round(int, ndigits)`: unchanged for ndigits ≥ 0, else half to even at 10**-ndigits.
    static func roundInteger(_ x: Int, _ precision: Int, _ interp: JinjaInterpreter) throws(ChatTemplateError) -> Int {
        guard precision < 0 else { return x }
        guard precision > -19 else { return 0 }
        var factor = 1
        for _ in 0..<(-precision) { factor *= 10 }
        var q = x / factor
        var r = x % factor
        if r < 0 {
            q -= 1
            r += factor
        }
        if r > factor - r || (r == factor - r && q % 2 != 0) { q += 1 }
        let (result, overflow) = q.multipliedReportingOverflow(by: factor)
        if overflow { throw interp.fail(.limit, "integer overflow") }
        return result
    }

    /// Python's `int(text, base)` for ASCII digits: surrounding whitespace, a sign, a base prefix, and single
    /// underscores between digits; nil where Python raises `ValueError`.
    static func pyParseInt(_ text: String, base: Int) -> Int? {
        guard base == 0 || (2...36).contains(base) else { return nil }
        var chars = Array(pyStrip(text, chars: nil, left: true, right: true).unicodeScalars)[...]
        var negative = false
        if let sign = chars.first, sign == "+" || sign == "-" {
            negative = sign == "-"
            chars = chars.dropFirst()
        }
        var radix = base
        var prefixed = false
        if chars.count >= 2, chars.first == "0", let marker = chars.dropFirst().first.map({ Character($0).lowercased() }) {
            let prefixBase = marker == "x" ? 16 : marker == "o" ? 8 : marker == "b" ? 2 : nil
            if let prefixBase, base == 0 || base == prefixBase {
                radix = prefixBase
                prefixed = true
                chars = chars.dropFirst(2)
            }
        }
        if radix == 0 { radix = 10 }
        var digits = ""
        var previousUnderscore = !prefixed
        for c in chars {
            if c == "_" {
                if previousUnderscore { return nil }
                previousUnderscore = true
                continue
            }
            guard c.isASCII, Int(String(c), radix: radix) != nil else { return nil }
            digits.unicodeScalars.append(c)
            previousUnderscore = false
        }
        guard !digits.isEmpty, !previousUnderscore else { return nil }
        // Base 0 refuses leading zeros in a decimal number ("010").
        if base == 0 && !prefixed && digits.count > 1 && digits.hasPrefix("0") && digits.contains(where: { $0 != "0" }) { return nil }
        return Int(negative ? "-" + digits : digits, radix: radix)
    }

    /// Python's `float(text)`: decimal digits (single underscores between them), a fraction, an exponent,
    /// or `inf`, `infinity`, `nan`; nil where Python raises `ValueError`.
    static func pyParseFloat(_ text: String) -> Double? {
        let trimmed = pyStrip(text, chars: nil, left: true, right: true)
        var body = Substring(trimmed)
        var sign = ""
        if let first = body.first, first == "+" || first == "-" {
            sign = String(first)
            body = body.dropFirst()
        }
        switch body.lowercased() {
        case "inf", "infinity": return sign == "-" ? -.infinity : .infinity
        case "nan": return .nan
        default: break
        }
        var cleaned = ""
        var sawDigit = false
        var sawPoint = false
        var sawExponent = false
        var digitsAfterExponent = false
        var previous: Character? = nil
        let chars = Array(body)
        for (i, c) in chars.enumerated() {
            if c == "_" {
                guard let before = previous, before.isASCII, before.isNumber, i + 1 < chars.count, chars[i + 1].isASCII, chars[i + 1].isNumber else { return nil }
                previous = c
                continue
            }
            if c.isASCII && c.isNumber {
                if sawExponent { digitsAfterExponent = true } else { sawDigit = true }
            } else if c == "." {
                guard !sawPoint, !sawExponent else { return nil }
                sawPoint = true
            } else if c == "e" || c == "E" {
                guard sawDigit, !sawExponent else { return nil }
                sawExponent = true
            } else if c == "+" || c == "-" {
                guard previous == "e" || previous == "E" else { return nil }
            } else {
                return nil
            }
            cleaned.append(c)
            previous = c
        }
        guard sawDigit, !sawExponent || digitsAfterExponent else { return nil }
        return Double(sign + cleaned)
    }

    /// Python's `\w` in a `str` pattern: letters, digits and the underscore.
    static func isWordCharacter(_ c: Unicode.Scalar) -> Bool {
        if c == "_" { return true }
        switch c.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter, .decimalNumber, .letterNumber, .otherNumber: return true
        default: return false
        }
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

    /// The names of Jinja's built-in filters (with transformers' `tojson`), for the `filter` test.
    static let filterNames: Set<String> = [
        "abs", "attr", "batch", "capitalize", "center", "count", "d", "default", "dictsort", "e", "escape", "filesizeformat", "first", "float",
        "forceescape", "format", "groupby", "indent", "int", "join", "last", "length", "list", "lower", "items", "map", "min", "max", "pprint",
        "random", "reject", "rejectattr", "replace", "reverse", "round", "safe", "select", "selectattr", "slice", "sort", "string", "striptags",
        "sum", "title", "trim", "truncate", "unique", "upper", "urlencode", "urlize", "wordcount", "wordwrap", "xmlattr", "tojson",
    ]

    /// The names of Jinja's built-in tests, for the `test` test.
    static let testNames: Set<String> = [
        "odd", "even", "divisibleby", "defined", "undefined", "filter", "test", "none", "boolean", "false", "true", "integer", "float", "lower",
        "upper", "string", "mapping", "number", "sequence", "iterable", "callable", "sameas", "escaped", "in", "==", "eq", "equalto", "!=", "ne",
        ">", "gt", "greaterthan", "ge", ">=", "<", "lt", "lessthan", "<=", "le",
    ]

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
            // Python: has a length and item access (an undefined value has both).
            switch value {
            case .string, .markup, .list, .tuple, .dict, .undefined: return true
            case .iterator(let it): if case .range = it.kind { return true } else { return false }
            default: return false
            }
        case "iterable":
            switch value {
            case .string, .markup, .list, .tuple, .dict, .undefined, .iterator, .loop: return true
            default: return false
            }
        case "callable":
            switch value {
            case .function, .undefined, .loop: return true
            default: return false
            }
        case "sameas":
            // Python's `is`: singletons and equal small values of one type are the same object; objects by identity.
            guard let other = args.first else { return false }
            switch (value, other) {
            case (.undefined, _), (_, .undefined), (.function, _): return false
            case (.namespace(let a), .namespace(let b)): return a === b
            case (.iterator(let a), .iterator(let b)): return a === b
            case (.loop(let a), .loop(let b)): return a === b
            default: return value.typeName == other.typeName && JinjaValue.equal(value, other)
            }
        case "eq", "equalto", "==": return JinjaValue.equal(value, args.first ?? .none)
        case "ne", "!=": return !JinjaValue.equal(value, args.first ?? .none)
        case "lt", "lessthan", "<": return try interp.compare("<", value, args.first ?? .none)
        case "le", "<=": return try interp.compare("<=", value, args.first ?? .none)
        case "gt", "greaterthan", ">": return try interp.compare(">", value, args.first ?? .none)
        case "ge", ">=": return try interp.compare(">=", value, args.first ?? .none)
        case "in": return try interp.contains(args.first ?? .none, value)
        case "divisibleby": return JinjaValue.equal(try interp.binary("%", value, args.first ?? .none), .int(0))
        case "even": return JinjaValue.equal(try interp.binary("%", value, .int(2)), .int(0))
        case "odd": return JinjaValue.equal(try interp.binary("%", value, .int(2)), .int(1))
        case "lower": return pyIsCased(value.str, upper: false)
        case "upper": return pyIsCased(value.str, upper: true)
        case "escaped": if case .markup = value { return true } else { return false }
        case "filter": return value.stringValue.map { filterNames.contains($0) } ?? false
        case "test": return value.stringValue.map { testNames.contains($0) } ?? false
        default: throw interp.fail(.syntax, "no test named '\(name)'")
        }
    }

    /// Python's `str.islower` / `str.isupper`: at least one cased character, and none of the other case.
    static func pyIsCased(_ s: String, upper: Bool) -> Bool {
        var cased = false
        for c in s.unicodeScalars {
            let p = c.properties
            let isUpper = p.isUppercase || p.generalCategory == .titlecaseLetter
            if upper ? (p.isLowercase || p.generalCategory == .titlecaseLetter) : isUpper { return false }
            if upper ? p.isUppercase : p.isLowercase { cased = true }
        }
        return cased
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
        // Python: unused arguments are an error unless the argument is a mapping or a list (item access).
        if mapping == nil && used < values.count {
            switch args {
            case .list: break
            default: throw interp.fail(.type, "not all arguments converted during string formatting")
            }
        }
        return out
    }
}
