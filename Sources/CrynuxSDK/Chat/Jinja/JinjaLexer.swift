/// A position in a template's source: 1-based line and column (in Unicode scalars).
public struct SourceLocation: Sendable, Hashable, CustomStringConvertible {
    /// The 1-based line.
    public var line: Int
    /// The 1-based column.
    public var column: Int
    /// `line L, column C`.
    public var description: String { "line \(line), column \(column)" }
}

/// A lexical token of a Jinja template.
struct JinjaToken: Sendable {
    enum Kind: Sendable, Equatable {
        case data(String)
        case variableBegin, variableEnd, blockBegin, blockEnd
        case name(String)
        case string(String)
        case integer(Int)
        case float(Double)
        case op(String)
        case eof
    }

    var kind: Kind
    var location: SourceLocation
}

/// Splits a template into tokens the way Jinja2's lexer does with transformers' settings:
/// `trim_blocks`, `lstrip_blocks`, `-`/`+` whitespace control, no trailing newline kept.
struct JinjaLexer {
    let source: [Unicode.Scalar]
    /// The normalised source as UTF-8, and where each scalar starts in it (one extra entry for the end).
    let utf8: [UInt8]
    let byteOffsets: [Int]
    var position = 0
    var tokens: [JinjaToken] = []
    /// Line start offsets, for locations.
    var lineStarts: [Int] = [0]

    init(source text: String) {
        let normalized = Self.normalizeNewlines(text)
        source = Array(normalized.unicodeScalars)
        utf8 = Array(normalized.utf8)
        var offsets: [Int] = []
        offsets.reserveCapacity(source.count + 1)
        for (i, byte) in utf8.enumerated() where byte & 0xC0 != 0x80 { offsets.append(i) }
        offsets.append(utf8.count)
        byteOffsets = offsets
        for (i, c) in source.enumerated() where c == "\n" { lineStarts.append(i + 1) }
    }

    /// The source text between two scalar positions.
    func text(_ start: Int, _ end: Int) -> String {
        utf8.withUnsafeBufferPointer { String(decoding: UnsafeBufferPointer(rebasing: $0[byteOffsets[start]..<byteOffsets[end]]), as: UTF8.self) }
    }

    static func isNameStart(_ c: Unicode.Scalar) -> Bool {
        if c.value < 0x80 { return (c >= "a" && c <= "z") || (c >= "A" && c <= "Z") || c == "_" }
        return c.properties.isXIDStart
    }

    static func isNameContinue(_ c: Unicode.Scalar) -> Bool {
        if c.value < 0x80 { return (c >= "a" && c <= "z") || (c >= "A" && c <= "Z") || (c >= "0" && c <= "9") || c == "_" }
        return c.properties.isXIDContinue
    }

    /// Python's `"\n".join(source.splitlines())`: every line break becomes `\n`, one trailing break is dropped.
    static func normalizeNewlines(_ text: String) -> String {
        // Fast path: only "\n" breaks, so just one trailing newline goes.
        let special = text.utf8.contains { $0 == 0x0D || $0 == 0x0B || $0 == 0x0C || (0x1C...0x1E).contains($0) || $0 == 0x85 || $0 == 0xA8 || $0 == 0xA9 }
        if !special {
            return text.utf8.last == 0x0A ? String(text.utf8.dropLast())! : text
        }
        return JinjaFilters.pySplitlines(text).joined(separator: "\n")
    }

    func location(_ offset: Int) -> SourceLocation {
        var lo = 0
        var hi = lineStarts.count - 1
        while lo < hi {
            let mid = (lo + hi + 1) / 2
            if lineStarts[mid] <= offset { lo = mid } else { hi = mid - 1 }
        }
        return SourceLocation(line: lo + 1, column: offset - lineStarts[lo] + 1)
    }

    func error(_ message: String, at offset: Int) -> ChatTemplateError {
        ChatTemplateError(kind: .syntax, message: message, location: location(offset))
    }

    func matches(_ text: String, at offset: Int) -> Bool {
        var i = offset
        for c in text.unicodeScalars {
            guard i < source.count, source[i] == c else { return false }
            i += 1
        }
        return true
    }

    static func isSpace(_ c: Unicode.Scalar) -> Bool {
        switch c.value {
        case 0x09...0x0D, 0x1C...0x20, 0x85, 0xA0, 0x1680, 0x2000...0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000: return true
        default: return false
        }
    }

    static func rstrip(_ s: [Unicode.Scalar]) -> [Unicode.Scalar] {
        var end = s.count
        while end > 0, isSpace(s[end - 1]) { end -= 1 }
        return Array(s[0..<end])
    }

    mutating func tokenize() throws(ChatTemplateError) -> [JinjaToken] {
        var lineStarting = true
        while position < source.count {
            // Find the next tag start.
            var tagStart = -1
            var i = position
            while i + 1 < source.count {
                if source[i] == "{", source[i + 1] == "{" || source[i + 1] == "%" || source[i + 1] == "#" {
                    tagStart = i
                    break
                }
                i += 1
            }
            if tagStart < 0 {
                emitData(from: position, to: source.count)
                position = source.count
                break
            }
            var textEnd = tagStart
            let kind = source[tagStart + 1]
            var sign: Unicode.Scalar? = nil
            if tagStart + 2 < source.count, source[tagStart + 2] == "-" || source[tagStart + 2] == "+" { sign = source[tagStart + 2] }
            if sign == "-" {
                while textEnd > position, Self.isSpace(source[textEnd - 1]) { textEnd -= 1 }
            } else if sign != "+", kind != "{" {
                var lineStart = textEnd
                while lineStart > position, source[lineStart - 1] != "\n" { lineStart -= 1 }
                let afterNewline = lineStart > position
                if afterNewline || lineStarting {
                    if source[lineStart..<textEnd].allSatisfy({ Self.isSpace($0) && $0 != "\n" }) { textEnd = lineStart }
                }
            }
            emitData(from: position, to: textEnd)
            position = tagStart + 2 + (sign == nil ? 0 : 1)
            switch kind {
            case "#":
                lineStarting = try skipComment(from: tagStart)
            case "%":
                if let rawEnd = try rawBlock(tagStart: tagStart) {
                    lineStarting = rawEnd
                } else {
                    tokens.append(JinjaToken(kind: .blockBegin, location: location(tagStart)))
                    lineStarting = try lexInside(block: true, start: tagStart)
                }
            default:
                tokens.append(JinjaToken(kind: .variableBegin, location: location(tagStart)))
                lineStarting = try lexInside(block: false, start: tagStart)
            }
        }
        tokens.append(JinjaToken(kind: .eof, location: location(source.count)))
        return tokens
    }

    mutating func emitData(_ text: [Unicode.Scalar], at offset: Int) {
        guard !text.isEmpty else { return }
        var s = String.UnicodeScalarView()
        s.append(contentsOf: text)
        tokens.append(JinjaToken(kind: .data(String(s)), location: location(offset)))
    }

    /// Data that is exactly the source between two positions (the common case: no stripping changed it).
    mutating func emitData(from start: Int, to end: Int) {
        guard end > start else { return }
        tokens.append(JinjaToken(kind: .data(text(start, end)), location: location(start)))
    }

    /// Consumes the end of a block or comment (`%}`/`#}` with trim_blocks, or `-%}` eating whitespace).
    /// Returns whether what was consumed ends with a newline (Jinja's `line_starting`).
    mutating func finishTag(closer: Unicode.Scalar, dash: Bool) -> Bool {
        // position is just after the closing "%}" / "#}" / "}}".
        if dash {
            let start = position
            while position < source.count, Self.isSpace(source[position]) { position += 1 }
            return position > start && source[position - 1] == "\n"
        }
        if closer != "}", position < source.count, source[position] == "\n" {
            position += 1
            return true
        }
        return false
    }

    mutating func skipComment(from start: Int) throws(ChatTemplateError) -> Bool {
        var i = position
        while i + 1 < source.count {
            if source[i] == "#", source[i + 1] == "}" {
                let dash = i > position && source[i - 1] == "-"
                position = i + 2
                return finishTag(closer: "#", dash: dash)
            }
            i += 1
        }
        throw error("unterminated comment", at: start)
    }

    /// Handles `{% raw %}…{% endraw %}`; returns nil when the block is not `raw`.
    mutating func rawBlock(tagStart: Int) throws(ChatTemplateError) -> Bool? {
        var i = position
        while i < source.count, Self.isSpace(source[i]) { i += 1 }
        guard matches("raw", at: i) else { return nil }
        i += 3
        while i < source.count, Self.isSpace(source[i]) { i += 1 }
        var dash = false
        if i < source.count, source[i] == "-" { dash = true; i += 1 }
        guard matches("%}", at: i) else { return nil }
        position = i + 2
        _ = finishTag(closer: "%", dash: dash)
        // Find {%[-+]? endraw [-]?%}
        var j = position
        while j + 1 < source.count {
            if source[j] == "{", source[j + 1] == "%" {
                var k = j + 2
                var innerSign: Unicode.Scalar? = nil
                if k < source.count, source[k] == "-" || source[k] == "+" { innerSign = source[k]; k += 1 }
                while k < source.count, Self.isSpace(source[k]) { k += 1 }
                if matches("endraw", at: k) {
                    k += 6
                    while k < source.count, Self.isSpace(source[k]) { k += 1 }
                    var endDash = false
                    if k < source.count, source[k] == "-" { endDash = true; k += 1 }
                    if matches("%}", at: k) {
                        var body = Array(source[position..<j])
                        if innerSign == "-" { body = Self.rstrip(body) }
                        emitData(body, at: position)
                        position = k + 2
                        return finishTag(closer: "%", dash: endDash)
                    }
                }
            }
            j += 1
        }
        throw error("missing endraw", at: tagStart)
    }

    /// The operator starting at `i`, longest first (`//` before `/`).
    func operatorAt(_ i: Int) -> String? {
        let c = source[i]
        let next: Unicode.Scalar? = i + 1 < source.count ? source[i + 1] : nil
        switch c {
        case "/": return next == "/" ? "//" : "/"
        case "*": return next == "*" ? "**" : "*"
        case "=": return next == "=" ? "==" : "="
        case "!": return next == "=" ? "!=" : nil
        case ">": return next == "=" ? ">=" : ">"
        case "<": return next == "=" ? "<=" : "<"
        case "+", "-", "%", "~", "[", "]", "(", ")", "{", "}", ".", ":", "|", ",", ";": return String(c)
        default: return nil
        }
    }

    /// Lexes the inside of `{{ … }}` or `{% … %}` up to and including its end.
    mutating func lexInside(block: Bool, start: Int) throws(ChatTemplateError) -> Bool {
        var balance: [Unicode.Scalar] = []
        while true {
            while position < source.count, Self.isSpace(source[position]) { position += 1 }
            guard position < source.count else { throw error(block ? "unexpected end of template, expected '%}'" : "unexpected end of template, expected '}}'", at: start) }
            let c = source[position]
            if balance.isEmpty {
                let closer = block ? "%}" : "}}"
                if c == "-", matches(closer, at: position + 1) {
                    tokens.append(JinjaToken(kind: block ? .blockEnd : .variableEnd, location: location(position)))
                    position += 3
                    return finishTag(closer: block ? "%" : "}", dash: true)
                }
                if matches(closer, at: position) {
                    tokens.append(JinjaToken(kind: block ? .blockEnd : .variableEnd, location: location(position)))
                    position += 2
                    return finishTag(closer: block ? "%" : "}", dash: false)
                }
            }
            let here = position
            if c == "'" || c == "\"" {
                tokens.append(JinjaToken(kind: .string(try lexString(quote: c)), location: location(here)))
            } else if Self.isNameStart(c) {
                var end = position + 1
                while end < source.count, Self.isNameContinue(source[end]) { end += 1 }
                tokens.append(JinjaToken(kind: .name(text(position, end)), location: location(here)))
                position = end
            } else if c.properties.numericType == .decimal && c.isASCII {
                tokens.append(JinjaToken(kind: try lexNumber(), location: location(here)))
            } else if let op = operatorAt(position) {
                switch op {
                case "(", "[", "{": balance.append(op.unicodeScalars.first!)
                case ")", "]", "}":
                    let expected: Unicode.Scalar = op == ")" ? "(" : op == "]" ? "[" : "{"
                    guard balance.last == expected else { throw error("unexpected '\(op)'", at: position) }
                    balance.removeLast()
                default: break
                }
                tokens.append(JinjaToken(kind: .op(op), location: location(here)))
                position += op.unicodeScalars.count
            } else {
                throw error("unexpected character '\(c)'", at: position)
            }
        }
    }

    mutating func lexNumber() throws(ChatTemplateError) -> JinjaToken.Kind {
        let start = position
        func digits() {
            while position < source.count,
                (source[position].isASCII && source[position].properties.numericType == .decimal)
                    || (source[position] == "_" && position + 1 < source.count && source[position + 1].properties.numericType == .decimal)
            {
                position += 1
            }
        }
        digits()
        var isFloat = false
        if position + 1 < source.count, source[position] == ".", source[position + 1].isASCII,
            source[position + 1].properties.numericType == .decimal
        {
            isFloat = true
            position += 1
            digits()
        }
        if position < source.count, source[position] == "e" || source[position] == "E" {
            var k = position + 1
            if k < source.count, source[k] == "+" || source[k] == "-" { k += 1 }
            if k < source.count, source[k].isASCII, source[k].properties.numericType == .decimal {
                isFloat = true
                position = k
                digits()
            }
        }
        var s = String.UnicodeScalarView()
        s.append(contentsOf: source[start..<position].filter { $0 != "_" })
        let text = String(s)
        if isFloat {
            guard let d = Double(text) else { throw error("bad number \(text)", at: start) }
            return .float(d)
        }
        guard let v = Int(text) else { throw error("integer \(text) is too large", at: start) }
        return .integer(v)
    }

    /// A quoted string with Python's escape sequences.
    mutating func lexString(quote: Unicode.Scalar) throws(ChatTemplateError) -> String {
        let start = position
        position += 1
        var out = String.UnicodeScalarView()
        while true {
            guard position < source.count else { throw error("unterminated string", at: start) }
            let c = source[position]
            if c == quote {
                position += 1
                return String(out)
            }
            if c == "\\", position + 1 < source.count {
                let e = source[position + 1]
                position += 2
                switch e {
                case "n": out.append("\n")
                case "t": out.append("\t")
                case "r": out.append("\r")
                case "\\": out.append("\\")
                case "'": out.append("'")
                case "\"": out.append("\"")
                case "a": out.append("\u{07}")
                case "b": out.append("\u{08}")
                case "f": out.append("\u{0C}")
                case "v": out.append("\u{0B}")
                case "0"..."7":
                    var v = e.value - 48
                    var n = 1
                    while n < 3, position < source.count, ("0"..."7").contains(source[position]) {
                        v = v * 8 + source[position].value - 48
                        position += 1
                        n += 1
                    }
                    out.append(Unicode.Scalar(v) ?? "\u{FFFD}")
                case "x", "u", "U":
                    let width = e == "x" ? 2 : e == "u" ? 4 : 8
                    guard position + width <= source.count else { throw error("truncated \\\(e) escape", at: position) }
                    var v: UInt32 = 0
                    for k in 0..<width {
                        guard let d = Hex.value(of: UInt8(truncatingIfNeeded: source[position + k].value)), source[position + k].isASCII else {
                            throw error("bad \\\(e) escape", at: position)
                        }
                        v = v * 16 + UInt32(d)
                    }
                    position += width
                    guard let scalar = Unicode.Scalar(v) else { throw error("bad \\\(e) escape", at: position) }
                    out.append(scalar)
                case "\n": break
                default:
                    out.append("\\")
                    out.append(e)
                }
                continue
            }
            out.append(c)
            position += 1
        }
    }
}
