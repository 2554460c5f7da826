import Foundation
import Testing
@testable import CrynuxSDK

/// One case of Fixtures/chat-templates/cases.json (transformers 5.23.0 + jinja2 3.1.6 renderings).
struct TemplateCase: Sendable, CustomTestStringConvertible {
    var value: JSONValue
    var testDescription: String { value.string("id") }

    static let directory = Bundle.module.url(forResource: "chat-templates", withExtension: nil, subdirectory: "Fixtures")

    static let root: JSONValue? = {
        guard let url = directory?.appendingPathComponent("cases.json"), let data = try? Data(contentsOf: url) else { return nil }
        return try? JSONValue.parse(Array(data))
    }()

    static let conversations: [String: JSONValue] = {
        guard let url = directory?.appendingPathComponent("conversations.json"), let data = try? Data(contentsOf: url),
            let root = try? JSONValue.parse(Array(data)), case .array(let cases)? = root["cases"]
        else { return [:] }
        return Dictionary(cases.map { ($0.string("id"), $0) }, uniquingKeysWith: { a, _ in a })
    }()

    static let all: [TemplateCase] = {
        guard case .array(let cases)? = root?["cases"] else { return [] }
        return cases.map { TemplateCase(value: $0) }
    }()

    static func source(_ name: String) throws -> String {
        guard let url = directory?.appendingPathComponent(name) else { throw FixtureError(message: "no \(name)") }
        return try String(contentsOf: url, encoding: .utf8)
    }

    /// 2026-11-22T00:00:00, the clock the vectors were rendered with.
    static let fixedNow = DateComponents(year: 2026, month: 11, day: 22, hour: 0, minute: 0, second: 0)
}

@Suite struct ChatTemplateVectorTests {
    @Test func allCasesArePresent() { #expect(TemplateCase.all.count == 560) }

    @Test(arguments: TemplateCase.all)
    func rendersExactlyAsTransformers(_ c: TemplateCase) throws {
        let v = c.value
        let template = try ChatTemplate(source: try TemplateCase.source(v.string("template")))
        let conversation = try #require(TemplateCase.conversations[v.string("conversation")])
        guard case .array(let messages)? = conversation["messages"] else { Issue.record("no messages"); return }
        var tools: [JSONValue]? = nil
        if case .array(let t)? = conversation["tools"] { tools = t }
        var arguments: [String: JSONValue] = [:]
        if case .object(let members)? = v["extra_kwargs"] { for m in members { arguments[m.key] = m.value } }
        let result = Result { () throws(ChatTemplateError) -> String in
            try template.render(
                messagesJSON: messages, tools: tools, addGenerationPrompt: v.bool("add_generation_prompt"),
                bosToken: v["bos_token"]?.stringValue, eosToken: v["eos_token"]?.stringValue, arguments: arguments,
                now: TemplateCase.fixedNow)
        }
        if let expected = v["expected"]?.stringValue {
            switch result {
            case .success(let text): #expect(text == expected)
            case .failure(let error): Issue.record("unexpected error: \(error)")
            }
        } else {
            switch result {
            case .success(let text): Issue.record("expected \(v.string("error_type")): \(v.string("error")), got \(text.prefix(200))")
            case .failure(let error):
                if v.string("error_type") == "jinja2.exceptions.TemplateError" {
                    #expect(error.kind == .raised && error.message == v.string("error"))
                } else {
                    #expect(error.kind != .raised && error.kind != .syntax, "\(error)")
                }
            }
        }
    }
}
