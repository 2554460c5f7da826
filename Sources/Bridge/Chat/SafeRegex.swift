/// A regular expression for JSON Schema's `pattern` (ECMA-262 syntax, without backreferences and lookaround)
/// that matches in time linear in the text: compiled to an NFA and run as a Pike VM, so a user's pattern like
/// `(a+)+$` cannot pin the Bridge the way a backtracking engine can.
struct SafeRegex: Sendable {
    /// A pattern this engine refuses, with why.
    struct SyntaxError: Error, Sendable, CustomStringConvertible {
        /// Why.
        var description: String
    }

    /// The longest pattern accepted, in Unicode scalars.
    static let maxPatternLength = 1_000
    /// The most NFA instructions a pattern may compile to (counted repetition is expanded).
    static let maxProgramSize = 5_000
    /// The most thread steps one search may take before it gives up (about a few milliseconds of work).
    static let maxSteps = 20_000_000

    /// One range of Unicode scalar values (inclusive).
    struct Range: Sendable { var low: UInt32, high: UInt32 }

    /// A set of scalars: ranges, possibly negated.
    struct CharSet: Sendable {
        var ranges: [Range] = []
        var negated = false

        func contains(_ c: UInt32) -> Bool {
            var found = false
            for r in ranges where c >= r.low && c <= r.high {
                found = true
                break
            }
            return found != negated
        }
    }

    enum Instruction: Sendable {
        case char(CharSet)
        case split(Int, Int)
        case jump(Int)
        case lineStart
        case lineEnd
        case match
    }

    private indirect enum Node {
        case empty
        case set(CharSet)
        case start, end
        case concat([Node])
        case alternate([Node])
        case repeated(Node, min: Int, max: Int?)
    }

    let program: [Instruction]

    /// Compiles `pattern`, or throws why it is not supported.
    init(_ pattern: String) throws(SyntaxError) {
        let scalars = Array(pattern.unicodeScalars)
        guard scalars.count <= Self.maxPatternLength else { throw SyntaxError(description: "the pattern is longer than \(Self.maxPatternLength) characters") }
        var parser = Parser(scalars: scalars)
        let node = try parser.parseAlternation()
        guard parser.position == scalars.count else { throw SyntaxError(description: "unbalanced parenthesis") }
        var program: [Instruction] = []
        try Self.emit(node, into: &program)
        program.append(.match)
        self.program = program
    }

    private static func emit(_ node: Node, into p: inout [Instruction]) throws(SyntaxError) {
        guard p.count <= maxProgramSize else { throw SyntaxError(description: "the pattern expands to more than \(maxProgramSize) steps") }
        switch node {
        case .empty: break
        case .set(let s): p.append(.char(s))
        case .start: p.append(.lineStart)
        case .end: p.append(.lineEnd)
        case .concat(let nodes): for n in nodes { try emit(n, into: &p) }
        case .alternate(let options):
            // split L1, next; L1: a; jump end; next: split L2, … ; last option inline.
            var jumps: [Int] = []
            for (i, option) in options.enumerated() {
                if i < options.count - 1 {
                    let split = p.count
                    p.append(.split(split + 1, 0))
                    try emit(option, into: &p)
                    jumps.append(p.count)
                    p.append(.jump(0))
                    p[split] = .split(split + 1, p.count)
                } else {
                    try emit(option, into: &p)
                }
            }
            for j in jumps { p[j] = .jump(p.count) }
        case .repeated(let inner, let min, let max):
            for _ in 0..<min { try emit(inner, into: &p) }
            if let max {
                // Optional copies: split over each.
                var splits: [Int] = []
                for _ in min..<max {
                    splits.append(p.count)
                    p.append(.split(p.count + 1, 0))
                    try emit(inner, into: &p)
                }
                for s in splits { p[s] = .split(s + 1, p.count) }
            } else {
                let loop = p.count
                p.append(.split(loop + 1, 0))
                try emit(inner, into: &p)
                p.append(.jump(loop))
                p[loop] = .split(loop + 1, p.count)
            }
        }
        guard p.count <= maxProgramSize else { throw SyntaxError(description: "the pattern expands to more than \(maxProgramSize) steps") }
    }

    /// Whether the pattern matches somewhere in `text` (JSON Schema's `pattern` is not anchored), or nil when the
    /// search would take more than `maxSteps` steps.
    func firstMatch(in text: String) -> Bool? {
        let input = text.unicodeScalars.map(\.value)
        let n = program.count
        var current: [Int] = [], next: [Int] = []
        var mark = [Int](repeating: -1, count: n)
        var generation = 0
        var steps = 0

        // Adds `pc` and everything reachable from it without consuming a character, at position `at`.
        func add(_ pc: Int, at: Int, to list: inout [Int]) -> Bool {
            var stack = [pc]
            while let pc = stack.popLast() {
                if mark[pc] == generation { continue }
                mark[pc] = generation
                steps += 1
                switch program[pc] {
                case .jump(let target): stack.append(target)
                case .split(let a, let b):
                    stack.append(b)
                    stack.append(a)
                case .lineStart: if at == 0 { stack.append(pc + 1) }
                case .lineEnd: if at == input.count { stack.append(pc + 1) }
                case .match: return true
                case .char: list.append(pc)
                }
            }
            return false
        }

        for position in 0...input.count {
            generation += 1
            // Threads carried over from the previous character first, then a new start here (unanchored search).
            let carried = current
            current.removeAll(keepingCapacity: true)
            for pc in carried where add(pc, at: position, to: &current) { return true }
            if add(0, at: position, to: &current) { return true }
            guard steps <= Self.maxSteps else { return nil }
            guard position < input.count else { break }
            let c = input[position]
            next.removeAll(keepingCapacity: true)
            for pc in current {
                steps += 1
                if case .char(let set) = program[pc], set.contains(c) { next.append(pc + 1) }
            }
            swap(&current, &next)
        }
        return false
    }

    // MARK: Parsing

    private struct Parser {
        let scalars: [Unicode.Scalar]
        var position = 0

        var peek: Unicode.Scalar? { position < scalars.count ? scalars[position] : nil }

        mutating func parseAlternation() throws(SyntaxError) -> Node {
            var options = [try parseConcatenation()]
            while peek == "|" {
                position += 1
                options.append(try parseConcatenation())
            }
            return options.count == 1 ? options[0] : .alternate(options)
        }

        mutating func parseConcatenation() throws(SyntaxError) -> Node {
            var items: [Node] = []
            while let c = peek, c != "|", c != ")" {
                var atom = try parseAtom()
                while let q = try parseQuantifier() {
                    if case .start = atom { throw SyntaxError(description: "nothing to repeat") }
                    if case .end = atom { throw SyntaxError(description: "nothing to repeat") }
                    atom = .repeated(atom, min: q.min, max: q.max)
                }
                items.append(atom)
            }
            return items.count == 1 ? items[0] : (items.isEmpty ? .empty : .concat(items))
        }

        /// `*`, `+`, `?` or `{n}`, `{n,}`, `{n,m}`, each optionally lazy (`?`); nil when none follows.
        mutating func parseQuantifier() throws(SyntaxError) -> (min: Int, max: Int?)? {
            guard let c = peek else { return nil }
            var result: (min: Int, max: Int?)
            switch c {
            case "*": result = (0, nil); position += 1
            case "+": result = (1, nil); position += 1
            case "?": result = (0, 1); position += 1
            case "{":
                guard let braced = bracedQuantifier() else { return nil }
                result = braced
            default: return nil
            }
            if peek == "?" { position += 1 }  // lazy: the same set of matches
            if let max = result.max, max < result.min { throw SyntaxError(description: "numbers out of order in {} quantifier") }
            guard result.min <= 1_000, (result.max ?? 0) <= 1_000 else { throw SyntaxError(description: "a {} quantifier above 1000") }
            return result
        }

        /// A `{n}`, `{n,}` or `{n,m}` at the current position (consumed), or nil (then `{` is a literal).
        mutating func bracedQuantifier() -> (min: Int, max: Int?)? {
            var i = position + 1
            func number() -> Int? {
                var value = 0, digits = 0
                while i < scalars.count, let d = Int(String(scalars[i])), scalars[i].isASCII {
                    value = Swift.min(value * 10 + d, 100_000)
                    digits += 1
                    i += 1
                }
                return digits > 0 ? value : nil
            }
            guard let low = number() else { return nil }
            var high: Int? = low
            if i < scalars.count, scalars[i] == "," {
                i += 1
                high = number()
            }
            guard i < scalars.count, scalars[i] == "}" else { return nil }
            position = i + 1
            return (low, high)
        }

        mutating func parseAtom() throws(SyntaxError) -> Node {
            guard let c = peek else { throw SyntaxError(description: "unexpected end") }
            position += 1
            switch c {
            case "(":
                if peek == "?" {
                    let rest = scalars[position...].prefix(3).map(String.init).joined()
                    if rest.hasPrefix("?:") {
                        position += 2
                    } else if rest.hasPrefix("?<") && !rest.hasPrefix("?<=") && !rest.hasPrefix("?<!") {
                        // A named group: skip the name.
                        while let n = peek, n != ">" { position += 1 }
                        guard peek == ">" else { throw SyntaxError(description: "unterminated group name") }
                        position += 1
                    } else {
                        throw SyntaxError(description: "lookahead and lookbehind are not supported")
                    }
                }
                let inner = try parseAlternation()
                guard peek == ")" else { throw SyntaxError(description: "unbalanced parenthesis") }
                position += 1
                return inner
            case ")": throw SyntaxError(description: "unbalanced parenthesis")
            case "*", "+", "?": throw SyntaxError(description: "nothing to repeat")
            case "^": return .start
            case "$": return .end
            case ".":
                return .set(CharSet(ranges: [Range(low: 0x0A, high: 0x0A), Range(low: 0x0D, high: 0x0D), Range(low: 0x2028, high: 0x2029)], negated: true))
            case "[": return .set(try parseClass())
            case "\\": return .set(try parseEscape(inClass: false))
            default: return .set(CharSet(ranges: [Range(low: c.value, high: c.value)]))
            }
        }

        mutating func parseClass() throws(SyntaxError) -> CharSet {
            var set = CharSet()
            if peek == "^" {
                set.negated = true
                position += 1
            }
            while true {
                guard let c = peek else { throw SyntaxError(description: "unterminated character class") }
                if c == "]" {  // "[]" matches nothing, "[^]" anything, as in ECMAScript
                    position += 1
                    break
                }
                position += 1
                var low: CharSet
                if c == "\\" { low = try parseEscape(inClass: true) } else { low = CharSet(ranges: [Range(low: c.value, high: c.value)]) }
                // A range a-b (only between single characters).
                if peek == "-", position + 1 < scalars.count, scalars[position + 1] != "]", low.ranges.count == 1, !low.negated,
                    low.ranges[0].low == low.ranges[0].high
                {
                    position += 1
                    let h = scalars[position]
                    position += 1
                    let high: CharSet = h == "\\" ? try parseEscape(inClass: true) : CharSet(ranges: [Range(low: h.value, high: h.value)])
                    guard high.ranges.count == 1, !high.negated, high.ranges[0].low == high.ranges[0].high else {
                        throw SyntaxError(description: "a class range must be between two characters")
                    }
                    guard low.ranges[0].low <= high.ranges[0].low else { throw SyntaxError(description: "a class range out of order") }
                    set.ranges.append(Range(low: low.ranges[0].low, high: high.ranges[0].low))
                    continue
                }
                if low.negated {
                    // \D, \W, \S inside a class: add the complement as ranges.
                    set.ranges += Self.complement(low.ranges)
                } else {
                    set.ranges += low.ranges
                }
            }
            return set
        }

        static func complement(_ ranges: [Range]) -> [Range] {
            var out: [Range] = []
            var next: UInt32 = 0
            for r in ranges.sorted(by: { $0.low < $1.low }) {
                if r.low > next { out.append(Range(low: next, high: r.low - 1)) }
                next = Swift.max(next, r.high &+ 1)
            }
            if next <= 0x10FFFF { out.append(Range(low: next, high: 0x10FFFF)) }
            return out
        }

        static let digit = [Range(low: 0x30, high: 0x39)]
        static let word = [Range(low: 0x30, high: 0x39), Range(low: 0x41, high: 0x5A), Range(low: 0x5F, high: 0x5F), Range(low: 0x61, high: 0x7A)]
        static let space = [
            Range(low: 0x09, high: 0x0D), Range(low: 0x20, high: 0x20), Range(low: 0xA0, high: 0xA0), Range(low: 0x1680, high: 0x1680),
            Range(low: 0x2000, high: 0x200A), Range(low: 0x2028, high: 0x2029), Range(low: 0x202F, high: 0x202F), Range(low: 0x205F, high: 0x205F),
            Range(low: 0x3000, high: 0x3000), Range(low: 0xFEFF, high: 0xFEFF),
        ]

        mutating func hex(_ count: Int) throws(SyntaxError) -> UInt32 {
            guard position + count <= scalars.count, let v = UInt32(String(String.UnicodeScalarView(scalars[position..<(position + count)])), radix: 16)
            else { throw SyntaxError(description: "a bad hexadecimal escape") }
            position += count
            return v
        }

        mutating func parseEscape(inClass: Bool) throws(SyntaxError) -> CharSet {
            guard let c = peek else { throw SyntaxError(description: "a trailing backslash") }
            position += 1
            func one(_ v: UInt32) -> CharSet { CharSet(ranges: [Range(low: v, high: v)]) }
            switch c {
            case "d": return CharSet(ranges: Self.digit)
            case "D": return CharSet(ranges: Self.digit, negated: true)
            case "w": return CharSet(ranges: Self.word)
            case "W": return CharSet(ranges: Self.word, negated: true)
            case "s": return CharSet(ranges: Self.space)
            case "S": return CharSet(ranges: Self.space, negated: true)
            case "t": return one(0x09)
            case "n": return one(0x0A)
            case "r": return one(0x0D)
            case "f": return one(0x0C)
            case "v": return one(0x0B)
            case "0": return one(0)
            case "b" where inClass: return one(0x08)
            case "x": return one(try hex(2))
            case "u":
                if peek == "{" {
                    position += 1
                    var digits = ""
                    while let d = peek, d != "}" { digits.unicodeScalars.append(d); position += 1 }
                    guard peek == "}", let v = UInt32(digits, radix: 16), v <= 0x10FFFF else { throw SyntaxError(description: "a bad \\u{} escape") }
                    position += 1
                    return one(v)
                }
                return one(try hex(4))
            case "1"..."9": throw SyntaxError(description: "backreferences are not supported")
            case "b", "B": throw SyntaxError(description: "word boundaries are not supported")
            case "p", "P": throw SyntaxError(description: "Unicode property escapes are not supported")
            default:
                guard !c.properties.isAlphabetic || !c.isASCII else { throw SyntaxError(description: "the escape \\\(c) is not supported") }
                return one(c.value)
            }
        }
    }
}
