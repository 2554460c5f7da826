import CrynuxSDK
import Foundation
import Testing

@testable import Bridge

/// The Bridge's parts without a network: tool-call parsing, the JSON Schema subset, rate limits, settings, the store.
struct BridgePartsTests {
    @Test func hermesAndQwenToolCallsAreParsedAndAnythingElseStaysText() {
        let parser = ToolCallParser(names: ["get_weather", "search"])
        var r = parser.parse("<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>")
        #expect(r.calls == [.init(name: "get_weather", arguments: #"{"city":"Paris"}"#)] && r.content.isEmpty)
        r = parser.parse(#"Let me look.<tool_call>{"name":"search","arguments":{"q":"a"}}</tool_call> <tool_call>{"name":"get_weather","parameters":{"city":"Rome"}}</tool_call>"#)
        #expect(r.calls.map(\.name) == ["search", "get_weather"] && r.content == "Let me look.")
        // A call cut off at the end (stop sequence or max_tokens) still counts when its JSON is whole.
        r = parser.parse(#"<tool_call>{"name":"search","arguments":"{\"q\": \"b\"}"}"#)
        #expect(r.calls == [.init(name: "search", arguments: #"{"q": "b"}"#)])
        r = parser.parse("<tool_call>\n<function=get_weather>\n<parameter=city>\nLima\n</parameter>\n<parameter=days>\n3\n</parameter>\n</function>\n</tool_call>")
        #expect(r.calls == [.init(name: "get_weather", arguments: #"{"city":"Lima","days":3}"#)], "Qwen3-Coder XML")
        r = parser.parse("✿FUNCTION✿: get_weather\n✿ARGS✿: {\"city\": \"Oslo\"}\n✿RESULT✿")
        #expect(r.calls == [.init(name: "get_weather", arguments: #"{"city":"Oslo"}"#)])
        for text in [
            #"<tool_call>{"name":"delete_everything","arguments":{}}</tool_call>"#,  // not an offered tool
            #"<tool_call>{"name":"search","arguments":{}}</tool_call> and then some prose"#,  // text after the call
            #"<tool_call>{"name": "search", "arguments": {</tool_call>"#,  // broken JSON
            "The weather is fine.",
        ] {
            r = parser.parse(text)
            #expect(r.calls.isEmpty && r.content == text, "\(text)")
        }
    }

    @Test func assistantToolCallArgumentsBecomeObjectsForChatTemplatesExceptDeepSeekV3() throws {
        let body = { (model: String) in
            try JSONValue.parse(#"{"model":"\#(model)","messages":[{"role":"user","content":"w?"},{"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{\"a\": 1}"}}]},{"role":"tool","tool_call_id":"c1","content":"ok"}]}"#)
        }
        let qwen = try ChatRequest(json: try body("Qwen/Qwen2.5-7B-Instruct"))
        #expect(qwen.task.messages[1].toolCalls?[0]["function"]?["arguments"]?["a"]?.doubleValue == 1 && qwen.task.messages[2].toolCallID == "c1")
        let deepseek = try ChatRequest(json: try body("deepseek-ai/DeepSeek-V3"))
        #expect(deepseek.task.messages[1].toolCalls?[0]["function"]?["arguments"]?.stringValue == #"{"a": 1}"#)
        #expect(throws: OpenAIError.self) {
            try ChatRequest(json: try JSONValue.parse(#"{"model":"m","messages":[{"role":"tool","content":"ok"}]}"#))
        }
    }

    func valid(_ value: String, _ schema: String) -> Bool {
        (try? JSONSchema.validate(try JSONValue.parse(value), against: try JSONValue.parse(schema))) != nil
    }

    @Test func theJSONSchemaSubsetValidatesWhatItClaims() throws {
        let person = #"{"type":"object","properties":{"name":{"type":"string","minLength":1},"age":{"type":"integer","minimum":0},"tags":{"type":"array","items":{"enum":["a","b"]},"maxItems":2}},"required":["name"],"additionalProperties":false}"#
        #expect(valid(#"{"name":"Ada","age":36,"tags":["a"]}"#, person))
        #expect(!valid(#"{"age":36}"#, person))
        #expect(!valid(#"{"name":"Ada","age":36.5}"#, person))
        #expect(!valid(#"{"name":"Ada","age":-1}"#, person))
        #expect(!valid(#"{"name":"Ada","tags":["c"]}"#, person))
        #expect(!valid(#"{"name":"Ada","tags":["a","b","a"]}"#, person))
        #expect(!valid(#"{"name":"Ada","extra":1}"#, person))
        #expect(!valid(#"{"name":""}"#, person))
        #expect(valid(#"{"name":"Ada","age":36.0}"#, person), "36.0 is an integer in JSON Schema")
        let refs = ##"{"$defs":{"p":{"type":"object","properties":{"x":{"type":["number","null"]}}}},"anyOf":[{"$ref":"#/$defs/p"},{"type":"string","pattern":"^ok$"}]}"##
        #expect(valid(#"{"x":null}"#, refs) && valid(#""ok""#, refs) && !valid(#""no""#, refs) && !valid(#"{"x":"1"}"#, refs))
        #expect(valid(#"3"#, #"{"oneOf":[{"type":"integer"},{"type":"string"}]}"#))
        #expect(!valid(#"3"#, #"{"oneOf":[{"type":"integer"},{"type":"number"}]}"#))
        #expect(valid(#""x""#, #"{"const":"x"}"#) && !valid(#""y""#, #"{"not":{"type":"string"}}"#))
        #expect(throws: JSONSchema.Mismatch.self) { try JSONSchema.check(try JSONValue.parse(#"{"type":"string","format":"email","contentEncoding":"base64"}"#)) }
        #expect(throws: JSONSchema.Mismatch.self) { try JSONSchema.check(try JSONValue.parse(#"{"pattern":"("}"#)) }
        try JSONSchema.check(try JSONValue.parse(person))
        #expect(!valid("1", ##"{"$ref":"#"}"##), "a self-reference ends at the depth limit, without a crash")
    }

    @Test func rateLimitsCountRequestsAndTokensPerMinute() {
        let limiter = RateLimiter()
        let key = BridgeStore.Key(
            id: "k", name: "k", prefix: "", created: 0, revoked: nil, limits: .init(rpm: 2, tpm: 100), spent: .zero, reserved: .zero)
        #expect(limiter.admit(key, now: 1000).retryAfter == nil)
        let second = limiter.admit(key, now: 1010)
        #expect(second.retryAfter == nil && second.requestsRemaining == 0)
        let third = limiter.admit(key, now: 1020)
        #expect(third.retryAfter == 40 && third.refusedBy == "requests", "the oldest request leaves the window at 1060")
        #expect(limiter.admit(key, now: 1061).retryAfter == nil)
        limiter.record(tokens: 150, for: "k", now: 1062)
        let tokens = limiter.admit(key, now: 1090)
        #expect(tokens.refusedBy == "tokens" && tokens.retryAfter == 32, "150 tokens at 1062 leave the window at 1122")
        let later = limiter.admit(key, now: 1125)
        #expect(later.refusedBy == nil, "the tokens of 1062 are out of the window at 1122")
    }

    @Test func settingsComeFromFileThenEnvironmentWithClearErrors() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("bridge-\(UUID().uuidString).json").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Data(#"{"port": 9000, "fee_cnx": "2.5", "image_models": ["sdxl", "sd15"], "log_level": "debug"}"#.utf8).write(to: URL(fileURLWithPath: path))
        var s = BridgeSettings(environment: [:])
        try s.apply(configFile: path)
        #expect(s.port == 9000 && s.fee == Wei(cnx: "2.5") && s.imageModels == ["sdxl", "sd15"] && s.logLevel == "debug")
        try s.apply(environment: ["CRYNUX_BRIDGE_PORT": "9100", "CRYNUX_BRIDGE_MODELS": "a/b, c/d", "UNRELATED": "x"])
        #expect(s.port == 9100 && s.models == ["a/b", "c/d"])
        #expect(throws: BridgeError.self) { try s.apply(environment: ["CRYNUX_BRIDGE_PORT": "99999"]) }
        #expect(throws: BridgeError.self) { try s.set("fee_cnx", "five") }
        #expect(throws: BridgeError.self) { try s.set("colour", "blue") }
        #expect(BridgeStore.Limits.parseExpiry("+2h", now: 100) == 7300 && BridgeStore.Limits.parseExpiry("2030-01-01T00:00:00Z") == 1_893_456_000)
        #expect(BridgeStore.Limits.parseExpiry("soon") == nil && BridgeStore.Limits.parseExpiry("+3w") == nil)
    }

    @Test func settingsLayerDefaultsThenTheDataDirectorysFileThenEnvironmentThenFlags() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("bridge-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Data(#"{"port": 9200, "fee_cnx": "3", "host": "10.0.0.1"}"#.utf8).write(to: URL(fileURLWithPath: dir + "/bridge.json"))
        let s = try BridgeSettings.load(
            configFile: nil, environment: ["CRYNUX_BRIDGE_FEE_CNX": "4", "CRYNUX_BRIDGE_HOST": "10.0.0.2", "XDG_DATA_HOME": "/elsewhere"],
            flags: [("data_dir", dir), ("host", "0.0.0.0")])
        #expect(s.port == 9200, "from the data directory's bridge.json")
        #expect(s.fee == Wei(cnx: 4), "the environment over the file")
        #expect(s.host == "0.0.0.0" && s.dataDirectory == dir, "flags over everything")
        #expect(BridgeSettings(environment: ["XDG_DATA_HOME": "/x"]).dataDirectory == "/x/crynux/serve")
        #expect(BridgeSettings(environment: [:]).dataDirectory.hasSuffix("/.local/share/crynux/serve"))
        #expect(throws: BridgeError.self) { try BridgeSettings.load(configFile: dir + "/missing.json", environment: [:], flags: []) }
    }

    @Test func theStoreHoldsTheMostARunCanCostChargesWhatTheRelayChargedAndKeepsAnAppendOnlyLedger() throws {
        let store = try BridgeStore(path: nil)
        let (secret, key) = try store.create(name: "a", limits: .init(budget: Wei(cnx: 13)))
        #expect(try store.verify(secret)?.id == key.id && store.verify(secret + "x") == nil && key.prefix.hasPrefix("sk-crynux-"))
        // A 2 CNX task may become a validation group of three: 6 CNX are held until the relay says what it cost.
        let request = TaskRequest(taskType: .llm, taskArgs: "{}", modelIDs: ["base:m"], fee: Wei(cnx: 2))
        #expect(request.maximumCost == Wei(cnx: 6))
        func reserve(_ idem: String?, _ fingerprint: String = "f") throws -> BridgeStore.ReserveOutcome {
            try store.reserve(keyID: key.id, idempotency: idem, fingerprint: fingerprint, kind: "chat", model: "m", request: request)
        }
        guard case .reserved(let one) = try reserve("a"), case .reserved(let two) = try reserve(nil) else { Issue.record("not reserved"); return }
        #expect(try store.key(id: key.id)?.reserved == Wei(cnx: 12))
        guard case .existing(let again) = try reserve("a"), again.id == one.id else { Issue.record("idempotency"); return }
        guard case .insufficientBudget(let left) = try reserve(nil) else { Issue.record("budget"); return }
        #expect(left == Wei(cnx: 1))
        // The first run's answer cost one fee; completing it again changes nothing.
        try store.complete(runID: one.id, files: [[1, 2, 3]], usage: .init(promptTokens: 3, completionTokens: 4, commitment: "0x01"), charged: Wei(cnx: 2))
        try store.complete(runID: one.id, files: [[9]], usage: .init(promptTokens: 3, completionTokens: 4, commitment: "0x01"), charged: Wei(cnx: 2))
        // The second failed, but the relay kept the fee of an invalidated task: charged although no answer came;
        // a claim above the hold is cut to the hold.
        try store.fail(runID: two.id, error: "gone", charged: Wei(cnx: 2))
        let after = try #require(try store.key(id: key.id))
        #expect(after.spent == Wei(cnx: 4) && after.reserved == .zero, "charged what the relay charged, holds released")
        #expect(try store.run(id: one.id)?.files == [[1, 2, 3]] && store.run(id: two.id)?.status == "failed")
        guard case .reserved(let three) = try reserve(nil) else { Issue.record("not reserved"); return }
        try store.complete(runID: three.id, files: [[1]], usage: .init(promptTokens: 1, completionTokens: 1, commitment: "0x03"), charged: Wei(cnx: 100))
        #expect(try store.key(id: key.id)?.spent == Wei(cnx: 10))
        let rollup = try store.usage(groupBy: "model", since: nil, until: nil)
        #expect(rollup.count == 1 && rollup[0].requests == 2 && rollup[0].promptTokens == 4 && rollup[0].fees == Wei(cnx: 8))
        #expect(throws: (any Error).self) { try store.queue.write { try $0.execute(sql: "UPDATE usage SET fee = '0'") } }
        #expect(throws: (any Error).self) { try store.queue.write { try $0.execute(sql: "DELETE FROM usage") } }
        let admin = try store.rotateAdminToken()
        #expect(try store.verifyAdmin(admin) && !store.verifyAdmin(secret))
        #expect(try store.rotateAdminToken() != admin && !store.verifyAdmin(admin), "rotating replaces the old token")
    }
}
