import Foundation
import Testing
@testable import CrynuxSDK

/// One case of Fixtures/jinja-features.json (small templates rendered by jinja2 in transformers' setup).
struct FeatureCase: Sendable, CustomTestStringConvertible {
    var value: JSONValue
    var testDescription: String { "#\(value["id"]?.doubleValue.map { Int($0) } ?? -1) \(value.string("template").prefix(60))" }

    static let root: JSONValue? = {
        guard let url = Bundle.module.url(forResource: "jinja-features", withExtension: "json", subdirectory: "Fixtures"),
            let data = try? Data(contentsOf: url)
        else { return nil }
        return try? JSONValue.parse(Array(data))
    }()

    static let all: [FeatureCase] = {
        guard case .array(let cases)? = root?["cases"] else { return [] }
        return cases.map { FeatureCase(value: $0) }
    }()
}

@Suite struct JinjaFeatureTests {
    @Test func casesArePresent() { #expect(FeatureCase.all.count > 80) }

    @Test(arguments: FeatureCase.all)
    func matchesJinja2(_ c: FeatureCase) throws {
        let context = try #require(FeatureCase.root?["context"])
        guard case .object(let members) = context, case .array(let messages)? = context["messages"] else { return }
        var arguments: [String: JSONValue] = [:]
        for m in members where !["messages", "tools", "add_generation_prompt", "bos_token"].contains(m.key) { arguments[m.key] = m.value }
        var tools: [JSONValue]? = nil
        if case .array(let t)? = context["tools"] { tools = t }
        let result = Result { () throws(ChatTemplateError) -> String in
            let template = try ChatTemplate(source: c.value.string("template"))
            return try template.render(
                messagesJSON: messages, tools: tools, addGenerationPrompt: true, bosToken: "<s>", eosToken: nil, arguments: arguments,
                now: TemplateCase.fixedNow)
        }
        if let expected = c.value["expected"]?.stringValue {
            switch result {
            case .success(let text): #expect(text == expected)
            case .failure(let error): Issue.record("unexpected error: \(error)")
            }
        } else {
            switch result {
            case .success(let text): Issue.record("expected \(c.value.string("error_type")), got \(text.prefix(200))")
            case .failure(let error):
                switch c.value.string("error_type") {
                case "TemplateError": #expect(error.kind == .raised && error.message == c.value.string("error"))
                case "UndefinedError": #expect(error.kind == .undefined && error.message == c.value.string("error"))
                case "TemplateSyntaxError": #expect(error.kind == .syntax, "\(error)")
                default: #expect(error.kind == .type && error.message == c.value.string("error"), "\(error)")
                }
            }
        }
    }
}

@Suite struct ChatTemplateFrontTests {
    @Test func typedMessagesRenderAsTransformersPassesThem() throws {
        let template = try ChatTemplate(source: try TemplateCase.source("NousResearch-Hermes-3-Llama-3.1-8B-tool_use.jinja"))
        let call: JSONValue = .object([
            JSONMember("id", .string("call_1")), JSONMember("type", .string("function")),
            JSONMember("function", .object([JSONMember("name", .string("get_weather")), JSONMember("arguments", .string(#"{"city": "Paris"}"#))])),
        ])
        let messages = [
            ChatMessage.text(.user, "Weather in Paris?"),
            ChatMessage(role: .assistant, content: nil, toolCalls: [call]),
            ChatMessage(role: .tool, content: .text("22 C"), toolCallID: "call_1"),
        ]
        let tool = try JSONValue.parse(#"{"type": "function", "function": {"name": "get_weather", "description": "Weather now", "parameters": {"type": "object"}}}"#)
        let text = try template.render(messages: messages, tools: [tool], addGenerationPrompt: true, bosToken: "<|begin_of_text|>")
        // Arguments arrive as an object, so tojson writes them with Python's separators.
        #expect(text.contains(#"{"name": "get_weather", "arguments": {"city": "Paris"}}"#))
        #expect(text.hasSuffix("<|im_start|>assistant\n"))
    }

    @Test func raiseExceptionGivesTheTemplatesMessageAndLocation() throws {
        let template = try ChatTemplate(source: "line one\n{{ raise_exception('Conversation roles must alternate') }}")
        let error = #expect(throws: ChatTemplateError.self) { _ = try template.render(messages: []) }
        #expect(error?.kind == .raised)
        #expect(error?.message == "Conversation roles must alternate")
        #expect(error?.location == SourceLocation(line: 2, column: 4))
    }

    @Test func syntaxErrorsSayWhere() {
        let error = #expect(throws: ChatTemplateError.self) { _ = try ChatTemplate(source: "ok\n  {% if x %}\n  never closed") }
        #expect(error?.kind == .syntax)
        #expect(error?.location.line == 3 || error?.location.line == 2)
    }

    @Test func strftimeNowReadsTheGivenClock() throws {
        let template = try ChatTemplate(source: "{{ strftime_now('%d %B %Y') }}")
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone.current
        let date = calendar.date(from: DateComponents(year: 2024, month: 7, day: 26, hour: 12))!
        #expect(try template.render(messages: [], now: date) == "26 July 2024")
    }

    @Test func integersBeyond64BitsAreAnErrorNotAWrongAnswer() throws {
        let error = #expect(throws: ChatTemplateError.self) { _ = try ChatTemplate(source: "{{ 2**64 }}").render(messages: []) }
        #expect(error?.kind == .limit)
    }
}

@Suite struct HostileTemplateTests {
    func renderError(_ source: String, limits: ChatTemplateLimits = ChatTemplateLimits()) -> ChatTemplateError? {
        do {
            _ = try ChatTemplate(source: source, limits: limits).render(messages: [])
            return nil
        } catch { return error }
    }

    @Test func deepNestingIsRefusedAtCompileTime() {
        let ifs = String(repeating: "{% if true %}", count: 5000) + String(repeating: "{% endif %}", count: 5000)
        #expect(renderError(ifs)?.kind == .syntax)
        let parens = "{{ " + String(repeating: "(", count: 100_000) + "1" + String(repeating: ")", count: 100_000) + " }}"
        #expect(renderError(parens)?.kind == .syntax)
        let lists = "{{ " + String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000) + " }}"
        #expect(renderError(lists)?.kind == .syntax)
    }

    @Test func hugeLoopsHitTheStepLimit() {
        // The default limit is 2,000,000 steps; a tenth of it keeps this test quick in debug builds.
        let limits = ChatTemplateLimits(maximumSteps: 200_000)
        #expect(renderError("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}", limits: limits)?.kind == .limit)
        #expect(renderError("{% for i in range(10**9) %}{% endfor %}")?.kind == .limit)
    }

    @Test func runawayRecursionHitsTheCallDepthLimit() {
        #expect(renderError("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}")?.kind == .limit)
    }

    @Test func explosiveOutputHitsTheSizeLimit() {
        #expect(renderError("{{ 'x' * 10**12 }}")?.kind == .limit)
        #expect(renderError("{% set ns = namespace(s='ab') %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}")?.kind == .limit)
        #expect(renderError("{{ ('a' * 1000)|replace('a', 'b' * 100000) }}")?.kind == .limit)
        #expect(renderError("{% for i in range(100000) %}{{ 'y' * 1000 }}{% endfor %}")?.kind == .limit)
        #expect(renderError("{{ [1] * 10**12 }}")?.kind == .limit)
    }

    @Test func integerEdgesAreAnErrorNotACrash() throws {
        #expect(renderError("{{ -(-9223372036854775807 - 1) }}")?.kind == .limit)
        #expect(renderError("{{ (-9223372036854775807 - 1) // -1 }}")?.kind == .limit)
        #expect(renderError("{{ (-9223372036854775807 - 1)|abs }}")?.kind == .limit)
        #expect(try ChatTemplate(source: "{{ (-9223372036854775807 - 1) % -1 }}").render(messages: []) == "0")
        #expect(renderError("{{ 'x'|center(-5) }}{{ [1]|batch(-3)|list }}{{ [1]|slice(-2)|list }}{{ 5|round(-400) }}") == nil)
    }

    @Test func limitsAreConfigurable() {
        let small = ChatTemplateLimits(maximumSteps: 100)
        #expect(renderError("{% for i in range(1000) %}{{ i }}{% endfor %}", limits: small)?.kind == .limit)
        #expect(renderError("{% for i in range(10) %}{{ i }}{% endfor %}", limits: small) == nil)
    }
}
