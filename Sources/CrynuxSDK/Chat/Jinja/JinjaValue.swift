import Foundation

/// A runtime value of the template language, with Python's semantics for the operations templates use.
enum JinjaValue: Sendable {
    /// Jinja2's default `Undefined`; the hint becomes the message raised when it is used in a way that fails.
    case undefined(UndefinedHint)
    case none
    case bool(Bool)
    case int(Int)
    case float(Double)
    case string(String)
    case list([JinjaValue])
    case tuple([JinjaValue])
    case dict(JinjaDict)
    case namespace(JinjaNamespace)
    case function(JinjaFunction)
    /// A rendered macro result or `safe` string (behaves as a string).
    case markup(String)
    /// The `loop` variable of a `for` loop; its attributes are computed on access.
    case loop(JinjaLoop)
    /// A lazy Python iterable that is not a list: a generator (one pass), a reverse iterator, a `range`, or a
    /// dict view (`d.items()`).
    case iterator(JinjaIterator)

    static func undefinedName(_ name: String) -> JinjaValue { .undefined(.name(name)) }

    /// An undefined value with a fixed message.
    static func undefined(_ message: String) -> JinjaValue { .undefined(.message(message)) }

    var isUndefined: Bool { if case .undefined = self { return true } else { return false } }

    /// Python's type name, for error messages.
    var typeName: String {
        switch self {
        case .undefined: return "Undefined"
        case .none: return "NoneType"
        case .bool: return "bool"
        case .int: return "int"
        case .float: return "float"
        case .string, .markup: return "str"
        case .list: return "list"
        case .tuple: return "tuple"
        case .dict: return "dict"
        case .namespace: return "Namespace"
        case .function: return "function"
        case .loop: return "LoopContext"
        case .iterator(let it): return it.typeName
        }
    }

    /// Jinja's `object_type_repr`, as used in undefined hints: `dict object`, `list object`, `None`.
    var objectTypeRepr: String {
        switch self {
        case .none: return "None"
        case .undefined: return "jinja2.runtime.Undefined object"
        case .namespace: return "jinja2.utils.Namespace object"
        case .bool: return "bool object"
        case .int: return "int object"
        case .float: return "float object"
        case .string, .markup: return "str object"
        case .list: return "list object"
        case .tuple: return "tuple object"
        case .dict: return "dict object"
        case .function: return "function object"
        case .loop: return "jinja2.runtime.LoopContext object"
        case .iterator(let it): return it.typeName + " object"
        }
    }

    /// Python truthiness.
    var truthy: Bool {
        switch self {
        case .undefined, .none: return false
        case .bool(let b): return b
        case .int(let i): return i != 0
        case .float(let d): return d != 0
        case .string(let s), .markup(let s): return !s.isEmpty
        case .list(let a), .tuple(let a): return !a.isEmpty
        case .dict(let d): return !d.isEmpty
        case .namespace, .function, .loop: return true
        case .iterator(let it): return it.isSized ? !it.items.isEmpty : true
        }
    }

    var stringValue: String? {
        switch self {
        case .string(let s), .markup(let s): return s
        default: return nil
        }
    }

    /// Python's `str()`.
    var str: String {
        switch self {
        case .undefined: return ""
        case .string(let s), .markup(let s): return s
        default: return repr
        }
    }

    /// Python's `repr()` (an undefined value inside a container prints as `Undefined`).
    var repr: String {
        var active: [ObjectIdentifier] = []
        return repr(&active)
    }

    /// `repr()` inside the namespaces being written (`active`): a namespace that holds itself writes
    /// `{...}` the second time, as Python does, instead of recursing for ever.
    func repr(_ active: inout [ObjectIdentifier]) -> String {
        func all(_ values: [JinjaValue], _ active: inout [ObjectIdentifier]) -> [String] {
            var out: [String] = []
            for v in values { out.append(v.repr(&active)) }
            return out
        }
        switch self {
        case .undefined: return "Undefined"
        case .none: return "None"
        case .bool(let b): return b ? "True" : "False"
        case .int(let i): return String(i)
        case .float(let d): return pythonFloatRepr(d)
        case .string(let s), .markup(let s): return pythonStringRepr(s)
        case .list(let a): return "[" + all(a, &active).joined(separator: ", ") + "]"
        case .tuple(let a): return a.count == 1 ? "(" + a[0].repr(&active) + ",)" : "(" + all(a, &active).joined(separator: ", ") + ")"
        case .dict(let d):
            var parts: [String] = []
            for e in d.entries { parts.append(e.key.repr(&active) + ": " + e.value.repr(&active)) }
            return "{" + parts.joined(separator: ", ") + "}"
        case .namespace(let ns):
            let id = ObjectIdentifier(ns)
            if active.contains(id) { return "<Namespace {...}>" }
            active.append(id)
            defer { active.removeLast() }
            return "<Namespace " + JinjaValue.dict(ns.attributes).repr(&active) + ">"
        case .function(let f): return "<function \(f.name)>"
        case .loop(let l): return "<LoopContext \(l.index + 1)/\(l.items.count)>"
        case .iterator(let it): return it.repr(&active)
        }
    }

    /// The items of an iterable, or nil if it is not iterable (Python's `iter()`); iterators, which may be
    /// consumed or fail, go through `JinjaInterpreter.iterate` instead.
    var iterationItems: [JinjaValue]? {
        switch self {
        case .undefined: return []
        case .list(let a), .tuple(let a): return a
        case .dict(let d): return d.entries.map(\.key)
        case .string(let s), .markup(let s): return s.unicodeScalars.map { .string(String($0)) }
        default: return nil
        }
    }

    /// Python `==`.
    static func equal(_ a: JinjaValue, _ b: JinjaValue) -> Bool {
        switch (a, b) {
        case (.undefined, .undefined), (.none, .none): return true
        case (.string(let x), .string(let y)), (.string(let x), .markup(let y)), (.markup(let x), .string(let y)), (.markup(let x), .markup(let y)):
            return sameScalars(x, y)
        case (.list(let x), .list(let y)), (.tuple(let x), .tuple(let y)):
            return x.count == y.count && zip(x, y).allSatisfy { equal($0, $1) }
        case (.dict(let x), .dict(let y)):
            return x.count == y.count && x.entries.allSatisfy { e in y.get(e.key).map { equal($0, e.value) } ?? false }
        case (.namespace(let x), .namespace(let y)): return x === y
        case (.iterator(let x), .iterator(let y)): return JinjaIterator.equal(x, y)
        default:
            if let x = a.numeric, let y = b.numeric { return x == y }
            return false
        }
    }

    /// The value as a number (bools are ints, as in Python).
    var numeric: Double? {
        switch self {
        case .bool(let b): return b ? 1 : 0
        case .int(let i): return Double(i)
        case .float(let d): return d
        default: return nil
        }
    }

    var integer: Int? {
        switch self {
        case .bool(let b): return b ? 1 : 0
        case .int(let i): return i
        default: return nil
        }
    }

    /// Hashable key form for dict lookups (strings and numbers; others by repr).
    var dictKey: String {
        switch self {
        case .string(let s), .markup(let s): return "s" + s
        case .bool(let b): return "n" + (b ? "1" : "0")
        case .int(let i): return "n" + String(i)
        case .float(let d): return d == d.rounded() && abs(d) < 1e18 ? "n" + String(Int(d)) : "f" + String(d)
        case .none: return "N"
        default: return "r" + repr
        }
    }
}

/// Why a value is undefined; the message is built only when the template fails on it.
enum UndefinedHint: Sendable {
    case message(String)
    /// A variable that was never set.
    case name(String)
    /// An attribute or string key missing from an object of the given `object_type_repr`.
    case attribute(String, String)
    /// A non-string key missing from an object (the key already in its repr form).
    case element(String, String)

    /// Jinja2's wording.
    var message: String {
        switch self {
        case .message(let m): return m
        case .name(let n): return "'\(n)' is undefined"
        case .attribute(let owner, let name): return "\(pythonStringRepr(owner)) has no attribute \(pythonStringRepr(name))"
        case .element(let owner, let key): return "\(owner) has no element \(key)"
        }
    }
}

/// An insertion-ordered dictionary with Python key semantics (`1`, `1.0` and `true` are one key).
/// Small dicts (every chat message) are searched linearly; larger ones get a hash index.
struct JinjaDict: Sendable {
    private(set) var entries: [(key: JinjaValue, value: JinjaValue)] = []
    private var index: [String: Int]? = nil
    static let indexThreshold = 12

    init() {}

    init(_ pairs: [(JinjaValue, JinjaValue)]) {
        entries.reserveCapacity(pairs.count)
        for (k, v) in pairs { set(k, v) }
    }

    var count: Int { entries.count }
    var isEmpty: Bool { entries.isEmpty }

    private func position(_ key: JinjaValue) -> Int? {
        if let index { return index[key.dictKey] }
        if case .string(let k) = key { return position(k) }
        return entries.firstIndex { JinjaValue.equal($0.key, key) }
    }

    private func position(_ key: String) -> Int? {
        if let index { return index["s" + key] }
        for i in entries.indices {
            switch entries[i].key {
            case .string(let k), .markup(let k): if sameScalars(k, key) { return i }
            default: continue
            }
        }
        return nil
    }

    func get(_ key: JinjaValue) -> JinjaValue? { position(key).map { entries[$0].value } }

    func get(_ key: String) -> JinjaValue? { position(key).map { entries[$0].value } }

    mutating func set(_ key: JinjaValue, _ value: JinjaValue) {
        if let i = position(key) {
            entries[i].value = value
            return
        }
        entries.append((key, value))
        if index != nil {
            index![key.dictKey] = entries.count - 1
        } else if entries.count > Self.indexThreshold {
            var built: [String: Int] = [:]
            for (i, e) in entries.enumerated() where built[e.key.dictKey] == nil { built[e.key.dictKey] = i }
            index = built
        }
    }
}

/// Whether two strings hold the same Unicode scalars (Python's string equality; Swift's `==` would also
/// equate canonically equivalent strings).
@inline(__always)
func sameScalars(_ a: String, _ b: String) -> Bool {
    var a = a
    var b = b
    return a.withUTF8 { pa in
        b.withUTF8 { pb in
            pa.count == pb.count && (pa.count == 0 || memcmp(pa.baseAddress!, pb.baseAddress!, pa.count) == 0)
        }
    }
}

/// A Python iterable that is not a list, with the behaviour templates can see: generators are consumed by
/// one pass, have no length, cannot be reversed or indexed and are always true; ranges and dict views can be
/// iterated again and have a length. The items are produced when the iterator is made; an error met while
/// producing them is raised when iteration reaches it, as a generator raises it.
final class JinjaIterator: @unchecked Sendable {
    // Created and consumed by the single render that made it.
    enum Kind {
        /// A generator from a filter (`map`, `select`, `unique`, `batch`, `items`, …).
        case generator
        /// A one-pass reverse iterator, with its Python type name (`list_reverseiterator`).
        case reversed(String)
        /// `range(start, stop, step)`.
        case range(Int, Int, Int)
        /// `dict_items`, `dict_keys` or `dict_values`.
        case view(String)
    }

    let kind: Kind
    let items: [JinjaValue]
    private var failure: ChatTemplateError?
    private var position = 0

    init(_ kind: Kind, _ items: [JinjaValue], failure: ChatTemplateError? = nil) {
        self.kind = kind
        self.items = items
        self.failure = failure
    }

    /// Runs `body` to produce a generator's items; an error it throws is kept for whoever iterates
    /// (resource limits end the render at once).
    static func generator(_ body: (inout [JinjaValue]) throws(ChatTemplateError) -> Void) throws(ChatTemplateError) -> JinjaValue {
        var items: [JinjaValue] = []
        do {
            try body(&items)
        } catch {
            if error.kind == .limit { throw error }
            return .iterator(JinjaIterator(.generator, items, failure: error))
        }
        return .iterator(JinjaIterator(.generator, items))
    }

    /// Whether one pass consumes it.
    var isOneShot: Bool {
        switch kind {
        case .generator, .reversed: return true
        case .range, .view: return false
        }
    }

    /// Whether it has a length and can be reversed (ranges and dict views).
    var isSized: Bool { !isOneShot }

    var typeName: String {
        switch kind {
        case .generator: return "generator"
        case .reversed(let name), .view(let name): return name
        case .range: return "range"
        }
    }

    func repr(_ active: inout [ObjectIdentifier]) -> String {
        switch kind {
        case .generator, .reversed: return "<\(typeName) object>"
        case .range(let start, let stop, let step): return step == 1 ? "range(\(start), \(stop))" : "range(\(start), \(stop), \(step))"
        case .view(let name): return name + "(" + JinjaValue.list(items).repr(&active) + ")"
        }
    }

    /// The items still to come; a one-pass iterator is used up, and a kept error is raised.
    func drain() throws(ChatTemplateError) -> [JinjaValue] {
        guard isOneShot else { return items }
        let rest = Array(items[min(position, items.count)...])
        position = items.count
        if let failure {
            self.failure = nil
            throw failure
        }
        return rest
    }

    /// `range.start`, `.stop` and `.step`; nil for other names and iterators.
    func attribute(_ name: String) -> JinjaValue? {
        guard case .range(let start, let stop, let step) = kind else { return nil }
        switch name {
        case "start": return .int(start)
        case "stop": return .int(stop)
        case "step": return .int(step)
        default: return nil
        }
    }

    /// The next item (nil at the end); only a one-pass iterator advances.
    func next() throws(ChatTemplateError) -> JinjaValue? {
        guard isOneShot else { return items.first }
        if position < items.count {
            position += 1
            return items[position - 1]
        }
        if let failure {
            self.failure = nil
            throw failure
        }
        return nil
    }

    /// Python's `in`: a one-pass iterator is consumed up to and including the match.
    func contains(_ item: JinjaValue) throws(ChatTemplateError) -> Bool {
        guard isOneShot else { return items.contains { JinjaValue.equal($0, item) } }
        while let v = try next() {
            if JinjaValue.equal(v, item) { return true }
        }
        return false
    }

    /// Python `==`: ranges by their items, key and item views as sets, everything else by identity.
    static func equal(_ a: JinjaIterator, _ b: JinjaIterator) -> Bool {
        if a === b { return true }
        switch (a.kind, b.kind) {
        case (.range, .range):
            return a.items.count == b.items.count && zip(a.items, b.items).allSatisfy { JinjaValue.equal($0, $1) }
        case (.view(let x), .view(let y)) where x == y && x != "dict_values":
            return a.items.count == b.items.count && a.items.allSatisfy { v in b.items.contains { JinjaValue.equal($0, v) } }
        default:
            return false
        }
    }
}

/// The state behind `loop` in one iteration of a `for` loop.
final class JinjaLoop: @unchecked Sendable {
    // Created per iteration and read by the same render only.
    let items: [JinjaValue]
    let index: Int

    init(items: [JinjaValue], index: Int) {
        self.items = items
        self.index = index
    }

    /// `loop.<name>`, or nil when the loop has no such attribute.
    func attribute(_ name: String) -> JinjaValue? {
        let n = items.count
        switch name {
        case "index": return .int(index + 1)
        case "index0": return .int(index)
        case "revindex": return .int(n - index)
        case "revindex0": return .int(n - index - 1)
        case "first": return .bool(index == 0)
        case "last": return .bool(index == n - 1)
        case "length": return .int(n)
        case "depth": return .int(1)
        case "depth0": return .int(0)
        case "previtem": return index > 0 ? items[index - 1] : .undefined("there is no previous item")
        case "nextitem": return index < n - 1 ? items[index + 1] : .undefined("there is no next item")
        case "cycle":
            let i = index
            return .function(JinjaFunction(name: "cycle") { args, _, interpreter throws(ChatTemplateError) in
                guard !args.isEmpty else { throw interpreter.fail(.type, "no items for cycling given") }
                return args[i % args.count]
            })
        default: return nil
        }
    }
}

/// `namespace()`: the one mutable object templates may assign attributes to.
final class JinjaNamespace: @unchecked Sendable {
    // Mutated only by the single render that created it; never shared across threads.
    var attributes = JinjaDict()
    init() {}
}

/// A callable: a global, a macro, a bound method, `caller`, or `loop.cycle`.
struct JinjaFunction: Sendable {
    var name: String
    var call: @Sendable (_ positional: [JinjaValue], _ keyword: [(String, JinjaValue)], _ interpreter: JinjaInterpreter) throws(ChatTemplateError) -> JinjaValue
}

/// Python's `repr(float)`: the shortest round-trip digits, `1.0` for integral values, exponent form
/// outside 1e-4 ≤ |x| < 1e16 (`1e-05`, `1e+16`).
func pythonFloatRepr(_ d: Double) -> String {
    if d.isNaN { return "nan" }
    if d.isInfinite { return d < 0 ? "-inf" : "inf" }
    let (negative, digits, point) = CanonicalJSON.shortestDigits(d)
    let sign = negative ? "-" : ""
    let exponent = point - 1
    if d != 0 && (exponent < -4 || exponent >= 16) {
        var mantissa = String(digits.first!)
        if digits.count > 1 { mantissa += "." + digits.dropFirst() }
        let e = abs(exponent)
        return sign + mantissa + "e" + (exponent < 0 ? "-" : "+") + (e < 10 ? "0" : "") + String(e)
    }
    if point <= 0 { return sign + "0." + String(repeating: "0", count: -point) + digits }
    if point >= digits.count { return sign + digits + String(repeating: "0", count: point - digits.count) + ".0" }
    let cut = digits.index(digits.startIndex, offsetBy: point)
    return sign + digits[..<cut] + "." + digits[cut...]
}

/// Python's `repr(str)`.
func pythonStringRepr(_ s: String) -> String {
    let quote: Unicode.Scalar = s.unicodeScalars.contains("'") && !s.unicodeScalars.contains("\"") ? "\"" : "'"
    var out = String.UnicodeScalarView()
    out.append(quote)
    for c in s.unicodeScalars {
        switch c {
        case "\\": out.append(contentsOf: "\\\\".unicodeScalars)
        case "\n": out.append(contentsOf: "\\n".unicodeScalars)
        case "\r": out.append(contentsOf: "\\r".unicodeScalars)
        case "\t": out.append(contentsOf: "\\t".unicodeScalars)
        default:
            if c == quote {
                out.append("\\")
                out.append(c)
            } else if isPythonPrintable(c) {
                out.append(c)
            } else {
                let hex = String(c.value, radix: 16)
                let text = c.value < 0x100 ? "\\x" + String(repeating: "0", count: 2 - hex.count) + hex
                    : c.value < 0x10000 ? "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                    : "\\U" + String(repeating: "0", count: 8 - hex.count) + hex
                out.append(contentsOf: text.unicodeScalars)
            }
        }
    }
    out.append(quote)
    return String(out)
}

/// Python's `str.isprintable` for one character: not a control, format, separator (other than space),
/// surrogate, private-use or unassigned character.
func isPythonPrintable(_ c: Unicode.Scalar) -> Bool {
    if c == " " { return true }
    switch c.properties.generalCategory {
    case .control, .format, .surrogate, .privateUse, .unassigned, .lineSeparator, .paragraphSeparator, .spaceSeparator: return false
    default: return true
    }
}

/// Python's `str.isspace` for one character.
func isPythonSpace(_ c: Unicode.Scalar) -> Bool { JinjaLexer.isSpace(c) }
