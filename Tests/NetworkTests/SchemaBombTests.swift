import CrynuxSDK
import Foundation
import Testing
@testable import Bridge

/// `response_format` schemas cannot pin the Bridge's CPU: cycles are refused before anything is paid, validation
/// has a step budget, and patterns match in linear time (issue 13, point 4).
@Suite struct SchemaBombTests {
    func schema(_ text: String) throws -> JSONValue { try JSONValue.parse(text) }

    @Test func schemasThatCannotFinishAreRefusedBeforeAnythingIsPaid() throws {
        let bombs = [
            ##"{"oneOf":[{"$ref":"#"},{"$ref":"#"}]}"##,
            ##"{"$ref":"#"}"##,
            ##"{"$defs":{"a":{"allOf":[{"$ref":"#/$defs/b"}]},"b":{"not":{"$ref":"#/$defs/a"}}},"$ref":"#/$defs/a"}"##,
            ##"{"anyOf":[{"$ref":"#/$defs/missing"}]}"##,
            ##"{"pattern":"(a)\\1"}"##,
            ##"{"pattern":"(?=a)"}"##,
        ]
        for bomb in bombs {
            #expect(throws: JSONSchema.Mismatch.self, "\(bomb)") { try JSONSchema.check(try schema(bomb)) }
        }
        // Too many subschemas.
        let wide = "{\"anyOf\":[" + Array(repeating: #"{"type":"string"}"#, count: JSONSchema.maxSchemaNodes).joined(separator: ",") + "]}"
        #expect(throws: JSONSchema.Mismatch.self) { try JSONSchema.check(try schema(wide)) }
        // Through the chat request: a 400 naming response_format, before any run exists.
        let body = ##"{"model":"m","messages":[{"role":"user","content":"hi"}],"response_format":{"type":"json_schema","json_schema":{"name":"x","schema":{"oneOf":[{"$ref":"#"},{"$ref":"#"}]}}}}"##
        do {
            _ = try ChatRequest(json: try JSONValue.parse(body))
            Issue.record("a $ref cycle was accepted")
        } catch let error as OpenAIError {
            #expect(error.status == 400 && error.param == "response_format", "\(error)")
        }
    }

    @Test func recursionThatDescendsIntoTheValueIsStillAllowed() throws {
        let tree = ##"{"$defs":{"node":{"type":"object","properties":{"name":{"type":"string"},"children":{"type":"array","items":{"$ref":"#/$defs/node"}}},"required":["name"]}},"$ref":"#/$defs/node"}"##
        try JSONSchema.check(try schema(tree))
        try JSONSchema.validate(try JSONValue.parse(#"{"name":"a","children":[{"name":"b","children":[{"name":"c"}]}]}"#), against: try schema(tree))
        #expect(throws: JSONSchema.Mismatch.self) {
            try JSONSchema.validate(try JSONValue.parse(#"{"name":"a","children":[{"children":[]}]}"#), against: try schema(tree))
        }
    }

    @Test func validationStopsAtItsStepBudget() throws {
        // 40 levels, each an anyOf of the level below twice: no cycle, but 2^40 checks of a value that fails.
        var defs: [String] = [#""d0":{"type":"string"}"#]
        for i in 1...40 { defs.append(##""d\##(i)":{"anyOf":[{"$ref":"#/$defs/d\##(i - 1)"},{"$ref":"#/$defs/d\##(i - 1)"}]}"##) }
        let exponential = ##"{"$defs":{\##(defs.joined(separator: ","))},"$ref":"#/$defs/d40"}"##
        try JSONSchema.check(try schema(exponential))
        do {
            try JSONSchema.validate(.integer(1), against: try schema(exponential))
            Issue.record("validated")
        } catch let error as JSONSchema.Mismatch { #expect(error.reason.contains("steps"), "\(error)") }
        // The same schema on a value that passes takes one path down: well within the budget.
        try JSONSchema.validate(.string("ok"), against: try schema(exponential))
    }

    @Test func aCatastrophicPatternMatchesInLinearTime() throws {
        // A backtracking engine takes 2^n steps for each of these on n letters and a mismatch at the end.
        let text = String(repeating: "a", count: 20_000) + "!"
        for pattern in ["(a+)+$", "^(a|a)*$", "(a*)*b", "^(a|aa)+$", "(.*a){12}$"] {
            let regex = try SafeRegex(pattern)
            #expect(regex.firstMatch(in: text) == false, "\(pattern)")
        }
        #expect(try SafeRegex("(a+)+!$").firstMatch(in: text) == true)
    }

    @Test func theLinearMatcherAgreesWithFoundationsRegexOnEverydayPatterns() throws {
        let patterns = [
            "^[a-z]+$", "^\\d{3}-\\d{4}$", "colou?r", "^(?:[A-Z][a-z]*)( [A-Z][a-z]*)*$", "^[^@\\s]+@[^@\\s]+\\.[a-z]{2,}$", "x{2,3}",
            "^\\w+$", "\\s", "^(ab|cd)+e?$", "^.{0,5}$", "[\\-.]", "^\\S+$", "^(?<year>\\d{4})-(0[1-9]|1[0-2])$", "^$",
            "\\u0041", "[\\u0061-\\u0063]+", "^[+-]?\\d+(\\.\\d+)?$", "\\x41", "é+",
        ]
        var generator = SystemRandomNumberGenerator()
        // ECMAScript's \w is ASCII and its $ matches only at the end; ICU's \w is Unicode and its $ also matches
        // before a final newline. JSON Schema means ECMAScript, so the shared samples avoid those two differences.
        let alphabet = Array("abcdexAZ09 -.@_{},2".unicodeScalars)
        var samples = ["", "colour", "color", "555-1234", "ada@example.org", "Ada Lovelace", "2026-12", "2026-13", "abcde", "xx", "a{,2}", "-3.25", "A"]
        for _ in 0..<300 {
            samples.append(String(String.UnicodeScalarView((0..<Int.random(in: 0...12, using: &generator)).map { _ in alphabet.randomElement(using: &generator)! })))
        }
        for pattern in patterns {
            let ours = try SafeRegex(pattern)
            let reference = try NSRegularExpression(pattern: pattern)
            for s in samples {
                let expected = reference.firstMatch(in: s, range: NSRange(s.startIndex..., in: s)) != nil
                #expect(ours.firstMatch(in: s) == expected, "\(pattern) on \(s.debugDescription)")
            }
        }
        #expect(try SafeRegex("^\\w+$").firstMatch(in: "é") == false && SafeRegex("^a$").firstMatch(in: "a\n") == false)
        #expect(try SafeRegex("é+").firstMatch(in: "café") == true)
        #expect(try SafeRegex("a{,2}").firstMatch(in: "a{,2}") == true)  // not a quantifier: literal, as in ECMAScript
        #expect(try SafeRegex("[]").firstMatch(in: "abc") == false && SafeRegex("^[^]$").firstMatch(in: "\n") == true)
    }
}
