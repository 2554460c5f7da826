/// The canonical JSON the Crynux relay signs: what Go's `encoding/json` writes after decoding the
/// request into `interface{}`.
///
/// That means object keys sorted by their UTF-8 bytes at every level (a repeated key keeps its last
/// value), no whitespace, raw UTF-8, `<` `>` `&` U+2028 U+2029 escaped as `\u003c` `\u003e` `\u0026`
/// `\u2028` `\u2029`, the control characters written as `\n` `\r` `\t` `\b` `\f` or `\u00xx`, and every
/// number passed through a float64 and printed in Go's shortest form (`1.0` → `1`, `1e-06` → `0.000001`,
/// `1e21` → `1e+21`).
public enum CanonicalJSON {
    /// The canonical text of a JSON value.
    public static func encode(_ value: JSONValue) -> String {
        var out: [UInt8] = []
        write(value, into: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// Parses JSON text and returns its canonical text.
    public static func canonicalize<Bytes: Collection>(_ json: Bytes) throws(JSONParseError) -> String
    where Bytes.Element == UInt8 {
        encode(try JSONValue.parse(json))
    }

    /// Parses JSON text and returns its canonical text.
    public static func canonicalize(_ json: String) throws(JSONParseError) -> String {
        try canonicalize(Array(json.utf8))
    }

    static func write(_ value: JSONValue, into out: inout [UInt8]) {
        switch value {
        case .null: out.append(contentsOf: "null".utf8)
        case .bool(let b): out.append(contentsOf: (b ? "true" : "false").utf8)
        case .number(let text): out.append(contentsOf: formatNumber(Double(text) ?? 0).utf8)
        case .string(let s): writeString(s, into: &out)
        case .array(let items):
            out.append(UInt8(ascii: "["))
            for (i, item) in items.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                write(item, into: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let members):
            // Go decodes into a map: the last of repeated keys wins, then keys are sorted bytewise.
            var byKey: [[UInt8]: JSONValue] = [:]
            for m in members { byKey[Array(m.key.utf8)] = m.value }
            let keys = byKey.keys.sorted { $0.lexicographicallyPrecedes($1) }
            out.append(UInt8(ascii: "{"))
            for (i, key) in keys.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                writeString(String(decoding: key, as: UTF8.self), into: &out)
                out.append(UInt8(ascii: ":"))
                write(byKey[key]!, into: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    static func writeString(_ s: String, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        // Byte by byte over the UTF-8 (a Swift string is always valid UTF-8): only ASCII bytes and U+2028/U+2029
        // (E2 80 A8/A9) are ever escaped, every other byte is copied as it is.
        let bytes = s.utf8
        var i = bytes.startIndex
        while i != bytes.endIndex {
            let b = bytes[i]
            switch b {
            case 0x22: out.append(contentsOf: [0x5C, 0x22])
            case 0x5C: out.append(contentsOf: [0x5C, 0x5C])
            case 0x0A: out.append(contentsOf: [0x5C, UInt8(ascii: "n")])
            case 0x0D: out.append(contentsOf: [0x5C, UInt8(ascii: "r")])
            case 0x09: out.append(contentsOf: [0x5C, UInt8(ascii: "t")])
            case 0x08: out.append(contentsOf: [0x5C, UInt8(ascii: "b")])
            case 0x0C: out.append(contentsOf: [0x5C, UInt8(ascii: "f")])
            case 0x00..<0x20, 0x3C, 0x3E, 0x26:
                out.append(contentsOf: "\\u00".utf8)
                out.append(hexDigits[Int(b >> 4)])
                out.append(hexDigits[Int(b & 0xF)])
            case 0xE2:
                let j = bytes.index(after: i)
                if j != bytes.endIndex, bytes[j] == 0x80 {
                    let k = bytes.index(after: j)
                    if k != bytes.endIndex, bytes[k] == 0xA8 || bytes[k] == 0xA9 {
                        out.append(contentsOf: (bytes[k] == 0xA8 ? "\\u2028" : "\\u2029").utf8)
                        i = bytes.index(after: k)
                        continue
                    }
                }
                out.append(b)
            default: out.append(b)
            }
            i = bytes.index(after: i)
        }
        out.append(UInt8(ascii: "\""))
    }

    /// Formats a float64 as Go's `encoding/json` does: the shortest text that reads back as the same
    /// float64, in plain notation for 1e-6 ≤ |x| < 1e21 and exponent notation (`1e-7`, `1e+21`) outside.
    public static func formatNumber(_ value: Double) -> String {
        let (negative, digits, pointPosition) = shortestDigits(value)
        let sign = negative ? "-" : ""
        let magnitude = abs(value)
        if magnitude != 0 && (magnitude < 1e-6 || magnitude >= 1e21) {
            // d.ddde±XX, then Go's json clean-up of a single leading exponent zero for negative exponents.
            let exponent = pointPosition - 1
            var mantissa = String(digits.first!)
            if digits.count > 1 { mantissa += "." + digits.dropFirst() }
            let expDigits = String(abs(exponent))
            let expText: String
            if exponent < 0 {
                expText = "-" + expDigits
            } else {
                expText = "+" + (expDigits.count < 2 ? "0" + expDigits : expDigits)
            }
            return sign + mantissa + "e" + expText
        }
        if pointPosition <= 0 {
            return sign + "0." + String(repeating: "0", count: -pointPosition) + digits
        }
        if pointPosition >= digits.count {
            return sign + digits + String(repeating: "0", count: pointPosition - digits.count)
        }
        let cut = digits.index(digits.startIndex, offsetBy: pointPosition)
        return sign + digits[..<cut] + "." + digits[cut...]
    }

    /// The shortest round-tripping decimal digits of `value` (no leading or trailing zeros, "0" for zero)
    /// and the position of the decimal point relative to the first digit.
    static func shortestDigits(_ value: Double) -> (negative: Bool, digits: String, pointPosition: Int) {
        let negative = value.sign == .minus
        // Swift's description is the shortest round-trip representation, e.g. "1.5", "1e-07", "1.2345e+20".
        var text = Substring(abs(value).description)
        var exponent = 0
        if let e = text.firstIndex(where: { $0 == "e" || $0 == "E" }) {
            exponent = Int(text[text.index(after: e)...])!
            text = text[..<e]
        }
        var intPart = text
        var fracPart: Substring = ""
        if let dot = text.firstIndex(of: ".") {
            intPart = text[..<dot]
            fracPart = text[text.index(after: dot)...]
        }
        var digits = String(intPart) + fracPart
        var point = intPart.count + exponent
        while digits.hasPrefix("0") && digits.count > 1 {
            digits.removeFirst()
            point -= 1
        }
        while digits.hasSuffix("0") && digits.count > 1 { digits.removeLast() }
        if digits == "0" { point = 1 }
        return (negative, digits, point)
    }
}
