import Foundation
import Testing
@testable import CrynuxSDK

@Suite struct CanonicalJSONTests {
    /// Strings are written byte by byte; the escapes equal a scalar-by-scalar writer of Go's rules (quote,
    /// backslash, control characters, <, >, &, U+2028, U+2029) on random text rich in those and in other E2 80 xx
    /// characters.
    @Test func stringEscapesMatchAScalarByScalarWriter() {
        func reference(_ s: String) -> String {
            var out = "\""
            for scalar in s.unicodeScalars {
                switch scalar.value {
                case 0x22: out += "\\\""
                case 0x5C: out += "\\\\"
                case 0x0A: out += "\\n"
                case 0x0D: out += "\\r"
                case 0x09: out += "\\t"
                case 0x08: out += "\\b"
                case 0x0C: out += "\\f"
                case 0x00..<0x20, 0x3C, 0x3E, 0x26: out += String(format: "\\u%04x", scalar.value)
                case 0x2028, 0x2029: out += String(format: "\\u%04x", scalar.value)
                default: out.unicodeScalars.append(scalar)
                }
            }
            return out + "\""
        }
        let alphabet: [UInt32] = [0x00, 0x01, 0x08, 0x09, 0x0A, 0x0C, 0x0D, 0x1F, 0x20, 0x22, 0x26, 0x2F, 0x3C, 0x3E, 0x41, 0x5C, 0x7F, 0xE9,
                                  0x2000, 0x2027, 0x2028, 0x2029, 0x202A, 0x20AC, 0x4E2D, 0x1F600]
        var rng = SplitMix64(seed: 2028)
        for _ in 0..<3_000 {
            var s = ""
            for _ in 0..<Int(rng.next() % 12) { s.unicodeScalars.append(Unicode.Scalar(alphabet[Int(rng.next() % UInt64(alphabet.count))])!) }
            var out: [UInt8] = []
            CanonicalJSON.writeString(s, into: &out)
            #expect(String(decoding: out, as: UTF8.self) == reference(s), "\(Array(s.unicodeScalars))")
        }
    }

    @Test func stableUnderKeyReordering() throws {
        var rng = SplitMix64(seed: 7)
        for c in try Fixture.cases("relay-signing") {
            let input = try #require(c["input"])
            for _ in 0..<5 {
                #expect(CanonicalJSON.encode(shuffled(input, &rng)) == c.string("canonical"))
            }
        }
    }

    func shuffled(_ v: JSONValue, _ rng: inout SplitMix64) -> JSONValue {
        switch v {
        case .object(let members): return .object(members.map { JSONMember($0.key, shuffled($0.value, &rng)) }.shuffled(using: &rng))
        case .array(let items): return .array(items.map { shuffled($0, &rng) })
        default: return v
        }
    }

    @Test(arguments: [
        ("1.0", "1"), ("1e-06", "0.000001"), ("1e-07", "1e-7"), ("1e21", "1e+21"), ("1e20", "100000000000000000000"),
        ("-0.0", "-0"), ("0", "0"), ("2.5e-05", "0.000025"), ("123456789.125", "123456789.125"),
        ("9007199254740993", "9007199254740992"), ("1.5e300", "1.5e+300"), ("5e-324", "5e-324"),
        ("1.7976931348623157e308", "1.7976931348623157e+308"), ("0.1", "0.1"), ("100", "100"), ("-1.25e-10", "-1.25e-10"),
        ("123e-2", "1.23"), ("0.000001", "0.000001"), ("999999999999999999999", "1e+21"),
    ])
    func numbersFollowGoFloat64Formatting(_ input: String, _ expected: String) throws {
        #expect(try CanonicalJSON.canonicalize(input) == expected)
    }

    @Test func repeatedKeysKeepTheLastValue() throws {
        #expect(try CanonicalJSON.canonicalize(#"{"b":1,"a":2,"b":3}"#) == #"{"a":2,"b":3}"#)
    }

    @Test func unicodeNormalisationFormsStayDistinctKeys() throws {
        // U+00E9 and e + U+0301 are equal Swift Strings but different Go map keys.
        let out = try CanonicalJSON.canonicalize("{\"\u{E9}\":1,\"e\u{301}\":2}")
        #expect(out == "{\"e\u{301}\":2,\"\u{E9}\":1}")
    }

    @Test func stringsDecodeAsGoDoes() throws {
        #expect(try CanonicalJSON.canonicalize(#""\ud83d\ude00 \/ \u00e9""#) == "\"😀 / é\"")
        #expect(try CanonicalJSON.canonicalize(#""\ud83d x""#) == "\"\u{FFFD} x\"")
        #expect(try CanonicalJSON.canonicalize(#""\ude00\ud83d\ude00""#) == "\"\u{FFFD}😀\"")
        #expect(try CanonicalJSON.canonicalize(#""\u007f\u001f""#) == "\"\u{7F}\\u001f\"")
        // Invalid UTF-8 becomes one U+FFFD per bad byte, as Go's decoder does.
        #expect(try CanonicalJSON.canonicalize([0x22, 0xE2, 0x82, 0x61, 0xFF, 0x22]) == "\"\u{FFFD}\u{FFFD}a\u{FFFD}\"")
    }

    @Test(arguments: [
        "", "{", "{\"a\":}", "[1,]", "01", "1.", ".5", "+1", "1e", "tru", "\"\u{01}\"", "\"\\x\"", "{\"a\" 1}",
        "1 2", "1e400", "-", "[", "\"abc", "{'a':1}", "NaN", "\u{FEFF}{}",
    ])
    func malformedJSONIsRejected(_ text: String) {
        #expect(throws: JSONParseError.self) { _ = try JSONValue.parse(text) }
    }

    @Test func deepNestingIsBoundedNotACrash() throws {
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        #expect(throws: JSONParseError.self) { _ = try JSONValue.parse(deep) }
        let ok = String(repeating: "[", count: 500) + String(repeating: "]", count: 500)
        #expect(try CanonicalJSON.canonicalize(ok) == ok)
    }

    @Test func whitespaceIsDropped() throws {
        #expect(try CanonicalJSON.canonicalize(" {\n\t\"z\" : [ 1 , true , null ] ,\r\"a\":{ }} ") == #"{"a":{},"z":[1,true,null]}"#)
    }
}
