@testable import Bridge
import CrynuxSDK
import EmbeddedNetwork
import Foundation
import Hummingbird
import HummingbirdTesting
import NodeKit
import TestSupport
import Testing
@testable import Relay

/// A Bridge over a live local network (relay on loopback, a node with the real engine), for one test.
struct BridgeFixture {
    static let model = "HuggingFaceTB/SmolLM2-135M-Instruct"
    let network: LocalNetwork
    let store: BridgeStore
    let wallet: PrivateKey
    /// The relay's base URL.
    let relayURL: String?

    /// Runs `body` with the Bridge's test client, the Bridge and this fixture (a live relay on loopback, one node).
    static func with(
        funds: UInt64 = 1_000, storePath: String? = nil, _ body: @Sendable (any TestClientProtocol, BridgeService, BridgeFixture) async throws -> Void
    ) async throws {
        let generator = try #require(EndToEndTests.generator, "the bundled model is needed (make test fetches it)")
        let network = try LocalNetwork.make(rate: 0)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("bridge-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try await network.run { running in
            let url = running.relayURL
            try await running.start(network.node(url, generator, dir: dir))
            let wallet = PrivateKey.generate()
            try await network.network.fund(wallet.address.checksummed, amount: Wei(cnx: funds))
            let store = try BridgeStore(path: storePath)
            let fixture = BridgeFixture(network: network, store: store, wallet: wallet, relayURL: url)
            let bridge = fixture.bridge(url)
            try await bridge.resumePendingRuns()
            try await Application(router: bridge.router()).test(.router) { client in try await body(client, bridge, fixture) }
            await bridge.waitForRunsInFlight()
        }
    }

    func bridge(_ url: String) -> BridgeService {
        BridgeService(
            BridgeConfiguration(
                client: CrynuxClient(relay: url, wallet: wallet, store: store, validationRatePercent: 0), models: [Self.model], store: store,
                keepAlive: .milliseconds(30), balanceFloor: .zero))
    }

    static func json(_ b: ByteBuffer) -> JSONValue { (try? JSONValue.parse(Array(b.readableBytesView))) ?? .null }
    static func headers(_ key: String, _ extra: HTTPFields = [:]) -> HTTPFields {
        var h: HTTPFields = [.authorization: "Bearer \(key)", .contentType: "application/json"]
        h.append(contentsOf: extra)
        return h
    }
    static func chat(_ content: String = "What is 2+2?", extra: String = "") -> ByteBuffer {
        ByteBuffer(string: #"{"model":"\#(model)","messages":[{"role":"user","content":"\#(content)"}],"temperature":0,"max_tokens":16\#(extra)}"#)
    }
}

/// The Bridge over a live local network: OpenAI shapes, honest streaming, errors with the right status,
/// budgets, idempotency, reconciliation, the admin API.
@Suite(.serialized) struct BridgeTests {
    static let model = BridgeFixture.model
    typealias F = BridgeFixture

    @Test func chatCompletionsStreamingAndErrorsAsOpenAIClientsExpect() async throws {
        try await F.with { client, _, fixture in
            let (key, record) = try fixture.store.create(name: "test")
            let auth = F.headers(key)
            try await client.execute(uri: "/v1/models", method: .get, headers: auth) { r in
                #expect(r.status == .ok)
                guard case .array(let data)? = F.json(r.body)["data"] else { Issue.record("no data"); return }
                #expect(data.first?["id"]?.stringValue == Self.model && r.headers[.init("x-request-id")!]?.hasPrefix("req_") == true)
            }
            try await client.execute(uri: "/v1/models", method: .get, headers: [.authorization: "Bearer sk-wrong"]) { r in
                #expect(r.status == .unauthorized && F.json(r.body)["error"]?["code"]?.stringValue == "invalid_api_key")
                #expect(r.headers[.init("x-request-id")!] != nil, "errors carry a request id too")
            }
            let question = #"{"model":"\#(Self.model)","messages":[{"role":"developer","content":"Answer briefly."},{"role":"user","content":"What is 2+2?"}],"temperature":0,"max_tokens":32"#
            try await client.execute(uri: "/v1/chat/completions", method: .post, headers: auth, body: ByteBuffer(string: question + "}")) { r in
                let body = F.json(r.body)
                #expect(r.status == .ok && body["object"]?.stringValue == "chat.completion")
                #expect(body["choices"]?[0]?["message"]?["content"]?.stringValue?.contains("4") == true)
                #expect(body["choices"]?[0]?["finish_reason"]?.stringValue == "stop" && body["usage"]?["total_tokens"]?.doubleValue ?? 0 > 0)
            }
            // Streaming: role chunk, content, terminal finish_reason, usage, [DONE] — in that order.
            try await client.execute(
                uri: "/v1/chat/completions", method: .post, headers: auth,
                body: ByteBuffer(string: question + #","stream":true,"stream_options":{"include_usage":true}}"#)
            ) { r in
                #expect(r.headers[.contentType] == "text/event-stream")
                let events = String(buffer: r.body).components(separatedBy: "\n\n").filter { $0.hasPrefix("data: ") }.map { String($0.dropFirst(6)) }
                #expect(events.last == "[DONE]")
                let chunks = events.dropLast().compactMap { try? JSONValue.parse(Array($0.utf8)) }
                // The role chunk, the tokens as the node wrote them, the finish chunk, the usage chunk.
                #expect(chunks.count > 4)
                #expect(chunks.first?["choices"]?[0]?["delta"]?["role"]?.stringValue == "assistant")
                let text = chunks.dropFirst().dropLast(2).compactMap { $0["choices"]?[0]?["delta"]?["content"]?.stringValue }.joined()
                #expect(text.contains("4") && chunks.dropFirst().dropLast(2).allSatisfy { $0["choices"]?[0]?["finish_reason"] == .null })
                #expect(chunks.dropLast().last?["choices"]?[0]?["finish_reason"]?.stringValue == "stop")
                #expect(chunks.last?["usage"]?["completion_tokens"]?.doubleValue ?? 0 > 0)
            }
            // Errors name the parameter, with OpenAI's envelope and status.
            for (body, param, status) in [
                (#"{"model":"\#(Self.model)","messages":[{"role":"user","content":"x"}],"frobnicate":1}"#, "frobnicate", HTTPResponse.Status.badRequest),
                (#"{"model":"\#(Self.model)","messages":[{"role":"user","content":"x"}],"frequency_penalty":0.5}"#, "frequency_penalty", .badRequest),
                (#"{"model":"\#(Self.model)","messages":[]}"#, "messages", .badRequest),
                (#"{"model":"no/model","messages":[{"role":"user","content":"x"}]}"#, "model", .notFound),
                (#"{"model":"\#(Self.model)","messages":[{"role":"user","content":"x"}],"response_format":{"type":"json_object"}}"#, "response_format", .badRequest),
                (#"{"model":"\#(Self.model)","messages":[{"role":"user","content":"x"}],"tools":[{"type":"retrieval"}]}"#, "tools", .badRequest),
                (
                    #"{"model":"\#(Self.model)","messages":[{"role":"user","content":"x"}],"tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":{"type":"function","function":{"name":"g"}}}"#,
                    "tool_choice", .badRequest
                ),
                ("not json", "body", .badRequest),
            ] {
                try await client.execute(uri: "/v1/chat/completions", method: .post, headers: auth, body: ByteBuffer(string: body)) { r in
                    #expect(r.status == status && F.json(r.body)["error"]?["param"]?.stringValue == param, "\(param)")
                }
            }
            // Legacy completions, embeddings (not a task type), images (no image model here), and a revoked key.
            try await client.execute(
                uri: "/v1/completions", method: .post, headers: auth,
                body: ByteBuffer(string: #"{"model":"\#(Self.model)","prompt":"What is 2+2?","temperature":0,"max_tokens":32}"#)
            ) { r in
                #expect(r.status == .ok && F.json(r.body)["object"]?.stringValue == "text_completion")
                #expect(F.json(r.body)["choices"]?[0]?["text"]?.stringValue?.contains("4") == true)
            }
            try await client.execute(uri: "/v1/embeddings", method: .post, headers: auth, body: ByteBuffer(string: #"{"model":"x","input":"hi"}"#)) { r in
                #expect(r.status == .notFound && F.json(r.body)["error"]?["code"]?.stringValue == "model_not_found")
            }
            try await client.execute(uri: "/v1/images/generations", method: .post, headers: auth, body: ByteBuffer(string: #"{"prompt":"a cat"}"#)) { r in
                #expect(r.status == .notFound && F.json(r.body)["error"]?["param"]?.stringValue == "model")
            }
            #expect(try fixture.store.revoke(id: record.id) && !fixture.store.revoke(id: record.id))
            try await Task.sleep(for: .milliseconds(1100))  // the key cache's second
            try await client.execute(uri: "/v1/models", method: .get, headers: auth) { r in #expect(r.status == .unauthorized) }
        }
    }

    @Test func toolCallsAndJSONOutputAreParsedAndChecked() async throws {
        try await F.with { client, _, fixture in
            let (key, _) = try fixture.store.create(name: "tools")
            // A few-shot conversation the small model follows with greedy decoding.
            let tools = #""tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}}]"#
            let call = #"<tool_call>{\"name\": \"get_weather\", \"arguments\": {\"city\": \"%@\"}}</tool_call>"#
            let messages = """
                [{"role":"system","content":"You call tools. Reply only with a tool call."},\
                {"role":"user","content":"What is the weather in Berlin?"},{"role":"assistant","content":"\(call.replacingOccurrences(of: "%@", with: "Berlin"))"},\
                {"role":"user","content":"What is the weather in Rome?"},{"role":"assistant","content":"\(call.replacingOccurrences(of: "%@", with: "Rome"))"},\
                {"role":"user","content":"What is the weather in Paris?"}]
                """
            for stream in [false, true] {
                let body = #"{"model":"\#(Self.model)","messages":\#(messages),"temperature":0,"max_tokens":40,\#(tools),"stream":\#(stream)}"#
                try await client.execute(uri: "/v1/chat/completions", method: .post, headers: F.headers(key), body: ByteBuffer(string: body)) { r in
                    #expect(r.status == .ok)
                    if stream {
                        let text = String(buffer: r.body)
                        #expect(text.contains(#""tool_calls":[{"index":0,"id":"call_"#) && text.contains(#""finish_reason":"tool_calls""#))
                    } else {
                        let choice = F.json(r.body)["choices"]?[0]
                        #expect(choice?["finish_reason"]?.stringValue == "tool_calls" && choice?["message"]?["content"] == .null)
                        let function = choice?["message"]?["tool_calls"]?[0]?["function"]
                        #expect(function?["name"]?.stringValue == "get_weather" && function?["arguments"]?.stringValue == #"{"city":"Paris"}"#)
                    }
                }
            }
            // json_schema: a matching answer passes; a schema it cannot meet is a 500 that must not be retried.
            let json = #"[{"role":"user","content":"Give a JSON object for the number 4."},{"role":"assistant","content":"{\"number\": 4}"},{"role":"user","content":"Give a JSON object for the number 7."}]"#
            for (schema, ok) in [
                (#"{"type":"object","properties":{"number":{"type":"integer"}},"required":["number"]}"#, true),
                (#"{"type":"object","properties":{"number":{"type":"string"}},"required":["number"]}"#, false),
            ] {
                let body = #"{"model":"\#(Self.model)","messages":\#(json),"temperature":0,"max_tokens":30,"response_format":{"type":"json_schema","json_schema":{"name":"n","schema":\#(schema)}}}"#
                try await client.execute(uri: "/v1/chat/completions", method: .post, headers: F.headers(key), body: ByteBuffer(string: body)) { r in
                    if ok {
                        #expect(r.status == .ok && F.json(r.body)["choices"]?[0]?["message"]?["content"]?.stringValue == #"{"number": 7}"#)
                    } else {
                        #expect(r.status == .internalServerError && F.json(r.body)["error"]?["code"]?.stringValue == "invalid_json_output")
                        #expect(r.headers[.init("x-should-retry")!] == "false")
                    }
                }
            }
        }
    }

    @Test func aBudgetHoldsUnderFiftyConcurrentRequestsAndTheKeyPaysWhatTheRelayCharged() async throws {
        try await F.with { client, _, fixture in
            let (key, record) = try fixture.store.create(name: "budget", limits: .init(budget: Wei(cnx: 35)))
            let wallet = fixture.wallet.address.checksummed
            let before = try await fixture.network.service.read { $0.balance(of: wallet) }
            var statuses: [(Int, String?)] = []
            try await withThrowingTaskGroup(of: (Int, String?).self) { group in
                for _ in 0..<50 {
                    group.addTask {
                        try await client.execute(uri: "/v1/chat/completions", method: .post, headers: F.headers(key), body: F.chat(extra: #","max_tokens":4"#)) {
                            r -> (Int, String?) in (r.status.code, F.json(r.body)["error"]?["code"]?.stringValue)
                        }
                    }
                }
                for try await s in group { statuses.append(s) }
            }
            // Each 5-CNX request holds 15 CNX (it may become a validation group of three) until it is settled, so
            // at most two run at once on 35 CNX; the rest are refused, none fails otherwise.
            let served = statuses.filter { $0.0 == 200 }.count
            #expect(served >= 2 && served <= 7, "\(statuses)")
            #expect(statuses.filter { $0.0 == 429 && $0.1 == "insufficient_quota" }.count == 50 - served)
            let after = try #require(try fixture.store.key(id: record.id))
            #expect(after.spent == Wei(cnx: 5) * UInt64(served) && after.spent <= Wei(cnx: 35) && after.reserved == .zero, "never more than the budget")
            #expect(try fixture.store.usage(groupBy: "key", since: nil, until: nil).first?.requests == served)
            // The relay charged the wallet exactly what the key was charged.
            let charged = try await fixture.network.service.read { $0.balance(of: wallet) }
            #expect(before.subtracting(charged) == after.spent, "the relay charged \(before.subtracting(charged).map(\.cnxString) ?? "?") CNX")
        }
    }

    @Test func anIdempotentRetryPaysOnce() async throws {
        try await F.with { client, _, fixture in
            let (key, record) = try fixture.store.create(name: "idem")
            let before = try await fixture.network.service.read { $0.balance(of: fixture.wallet.address.checksummed) }
            let retry = F.headers(key, [.init("Idempotency-Key")!: "order-42"])
            let body = F.chat("Name a colour.", extra: #","temperature":1"#)
            // Two at once and one later: one task, one fee, the same answer.
            async let a = client.execute(uri: "/v1/chat/completions", method: .post, headers: retry, body: body) { F.json($0.body) }
            async let b = client.execute(uri: "/v1/chat/completions", method: .post, headers: retry, body: body) { F.json($0.body) }
            let (first, second) = try await (a, b)
            let third = try await client.execute(uri: "/v1/chat/completions", method: .post, headers: retry, body: body) { F.json($0.body) }
            let content = first["choices"]?[0]?["message"]?["content"]
            #expect(content != nil && second["choices"]?[0]?["message"]?["content"] == content && third["choices"]?[0]?["message"]?["content"] == content)
            // A stream of the same request replays the stored answer.
            let streamed = F.chat("Name a colour.", extra: #","temperature":1,"stream":true"#)
            try await client.execute(uri: "/v1/chat/completions", method: .post, headers: F.headers(key, [.init("Idempotency-Key")!: "order-43"]), body: streamed) {
                #expect(String(buffer: $0.body).hasSuffix("data: [DONE]\n\n"))
            }
            // The same key with another body is refused.
            try await client.execute(uri: "/v1/chat/completions", method: .post, headers: retry, body: F.chat("Something else.")) { r in
                #expect(r.status == .badRequest && F.json(r.body)["error"]?["code"]?.stringValue == "idempotency_key_reused")
            }
            let after = try await fixture.network.service.read { $0.balance(of: fixture.wallet.address.checksummed) }
            #expect(before.subtracting(after) == Wei(cnx: 10), "two idempotency keys, two fees")
            #expect(try fixture.store.key(id: record.id)?.spent == Wei(cnx: 10))
            #expect(try await fixture.network.service.read { $0.sequenceNumber } == 2)
        }
    }

    @Test func aRestartedBridgeFinishesAndChargesEveryPendingRunOnce() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("bridge-\(UUID().uuidString).sqlite").path
        defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) } }
        try await F.with(storePath: path) { _, _, fixture in
            let (_, record) = try fixture.store.create(name: "crash")
            let args = GPTTaskArgs(model: Self.model, messages: [.text(.user, "What is 2+2?")], generationConfig: GenerationConfig(maxNewTokens: 8))
            let request = TaskRequest(taskType: .llm, taskArgs: args.jsonString, modelIDs: [BundledModel.modelID], fee: Wei(cnx: 5))
            // Run 1 was recorded but its process died before creating the task; run 2 died after creating it.
            func reserve() throws -> BridgeStore.Run {
                guard case .reserved(let run) = try fixture.store.reserve(keyID: record.id, idempotency: nil, fingerprint: "f", kind: "chat", model: Self.model, request: request) else {
                    throw BridgeError("not reserved")
                }
                return run
            }
            _ = try reserve()
            let second = try reserve()
            let dying = CrynuxClient(relay: try #require(fixture.relayURL), wallet: fixture.wallet, store: fixture.store, validationRatePercent: 0)
            let created = CreatedFlag()
            let crashed = Task {
                _ = try await dying.run(request, runID: second.id) { if case .created = $0 { created.set() } }
            }
            while !created.isSet { try await Task.sleep(for: .milliseconds(5)) }
            crashed.cancel()
            #expect(try fixture.store.key(id: record.id)?.reserved == Wei(cnx: 30), "two holds of three 5-CNX fees")
            // A new Bridge over the same database resumes both: two tasks on the relay, two fees, two ledger rows.
            let restarted = fixture.bridge(try #require(fixture.relayURL))
            #expect(try await restarted.resumePendingRuns() == 2)
            await restarted.waitForRunsInFlight()
            #expect(try fixture.store.runs(status: "done").count == 2 && fixture.store.runs(status: "pending").isEmpty)
            let key = try #require(try fixture.store.key(id: record.id))
            #expect(key.spent == Wei(cnx: 10) && key.reserved == .zero)
            #expect(try fixture.store.usage(groupBy: "key", since: nil, until: nil).first?.requests == 2)
            #expect(try await fixture.network.service.read { $0.sequenceNumber } == 2, "the task created before the crash was not created again")
        }
    }

    @Test func aRunStillInFlightWhenTheDrainRunsOutIsHandedToTheNextStartAndPaidOnce() async throws {
        try await F.with { client, _, fixture in
            let (key, record) = try fixture.store.create(name: "drain")
            // A Bridge that gives paid runs no time at all once its shutdown begins.
            let draining = BridgeService(
                BridgeConfiguration(
                    client: CrynuxClient(relay: try #require(fixture.relayURL), wallet: fixture.wallet, store: fixture.store, validationRatePercent: 0),
                    models: [Self.model], store: fixture.store, balanceFloor: .zero, drainTimeout: .milliseconds(1)))
            try await Application(router: draining.router()).test(.router) { drainingClient in
                let answered = Task {
                    try await drainingClient.execute(
                        uri: "/v1/chat/completions", method: .post, headers: F.headers(key, [.init("Idempotency-Key")!: "drain-1"]),
                        body: F.chat("Write a story about a cat.", extra: #","max_tokens":200"#)
                    ) { r in (r.status, F.json(r.body)["error"]?["code"]?.stringValue) }
                }
                while try fixture.store.runs(status: "pending").isEmpty { try await Task.sleep(for: .milliseconds(5)) }
                draining.beginDrain()
                let (status, code) = try await answered.value
                #expect(status == .serviceUnavailable && code == "bridge_restarting", "the client is told to retry after the restart")
                await draining.drainRuns()
            }
            #expect(try fixture.store.runs(status: "pending").count == 1, "the run was neither refunded nor failed")
            #expect(try fixture.store.key(id: record.id)?.reserved == Wei(cnx: 15))
            // The next start settles it once; the client's retry with its Idempotency-Key gets the answer without paying again.
            let next = fixture.bridge(try #require(fixture.relayURL))
            #expect(try await next.resumePendingRuns() == 1)
            await next.waitForRunsInFlight()
            try await Application(router: next.router()).test(.router) { nextClient in
                try await nextClient.execute(
                    uri: "/v1/chat/completions", method: .post, headers: F.headers(key, [.init("Idempotency-Key")!: "drain-1"]),
                    body: F.chat("Write a story about a cat.", extra: #","max_tokens":200"#)
                ) { r in #expect(r.status == .ok && F.json(r.body)["choices"]?[0]?["message"]?["content"]?.stringValue?.isEmpty == false) }
            }
            let settled = try #require(try fixture.store.key(id: record.id))
            #expect(settled.spent == Wei(cnx: 5) && settled.reserved == .zero)
            #expect(try await fixture.network.service.read { $0.sequenceNumber } == 1, "one relay task, created once")
        }
    }

    @Test func theAdminAPIManagesKeysAndReportsUsageBalanceAndTasks() async throws {
        try await F.with { client, _, fixture in
            let admin = try fixture.store.rotateAdminToken()
            let auth = F.headers(admin)
            try await client.execute(uri: "/admin/keys", method: .get, headers: F.headers("sk-not-admin")) { r in
                #expect(r.status == .unauthorized && F.json(r.body)["error"]?["code"]?.stringValue == "invalid_admin_token")
            }
            let created = try await client.execute(
                uri: "/admin/keys", method: .post, headers: auth,
                body: ByteBuffer(string: #"{"name":"team","budget_cnx":"20","rpm":100,"models":["\#(Self.model)"],"expires_at":"+1h"}"#)
            ) { r in
                #expect(r.status == .created)
                return F.json(r.body)
            }
            let key = try #require(created["key"]?.stringValue), id = try #require(created["record"]?["id"]?.stringValue)
            #expect(created["record"]?["budget_cnx"]?.stringValue == "20" && created["record"]?["rpm"]?.doubleValue == 100)
            try await client.execute(uri: "/admin/keys", method: .post, headers: auth, body: ByteBuffer(string: #"{"name":"x","rpm":0}"#)) { r in
                #expect(r.status == .badRequest && F.json(r.body)["error"]?["param"]?.stringValue == "rpm")
            }
            try await client.execute(uri: "/v1/chat/completions", method: .post, headers: F.headers(key), body: F.chat()) { #expect($0.status == .ok) }
            try await client.execute(uri: "/admin/keys/\(id)", method: .patch, headers: auth, body: ByteBuffer(string: #"{"rpm":null,"budget_cnx":"5"}"#)) { r in
                #expect(r.status == .ok && F.json(r.body)["rpm"] == .null && F.json(r.body)["spent_cnx"]?.stringValue == "5")
            }
            try await Task.sleep(for: .milliseconds(1100))
            try await client.execute(uri: "/v1/chat/completions", method: .post, headers: F.headers(key), body: F.chat()) { r in
                #expect(r.status == .tooManyRequests && F.json(r.body)["error"]?["code"]?.stringValue == "insufficient_quota")
            }
            for group in ["key", "model", "day"] {
                try await client.execute(uri: "/admin/usage?group_by=\(group)", method: .get, headers: auth) { r in
                    let row = F.json(r.body)["data"]?[0]
                    #expect(row?["requests"]?.doubleValue == 1 && row?["fees_cnx"]?.stringValue == "5", "\(group)")
                    if group == "key" { #expect(row?["group"]?.stringValue == id) }
                }
            }
            try await client.execute(uri: "/admin/balance", method: .get, headers: auth) { r in
                #expect(F.json(r.body)["balance_cnx"]?.stringValue == "995" && F.json(r.body)["accepting_paid_work"] == .bool(true))
            }
            try await client.execute(uri: "/admin/tasks?status=done", method: .get, headers: auth) { r in
                #expect(F.json(r.body)["data"]?[0]?["commitments"]?[0]?.stringValue?.hasPrefix("0x") == true)
            }
            try await client.execute(uri: "/admin/keys/\(id)", method: .delete, headers: auth) { r in
                #expect(r.status == .ok && F.json(r.body)["revoked"] != .null)
            }
            try await client.execute(uri: "/metrics", method: .get) { r in
                let text = String(buffer: r.body)
                #expect(text.contains(#"crynux_bridge_requests_total{route="/v1/chat/completions",status="200"} 1"#))
                #expect(text.contains("crynux_bridge_balance_cnx 995.0") && text.contains(#"crynux_bridge_runs{state="done"} 1.0"#))
            }
        }
    }

    @Test func aWalletBelowItsFloorRefusesPaidWorkAndBadBodiesLeaveTheServiceUp() async throws {
        try await F.with(funds: 8) { client, bridge, fixture in
            let (key, _) = try fixture.store.create(name: "floor")
            _ = bridge
            try await client.execute(uri: "/v1/chat/completions", method: .post, headers: F.headers(key), body: F.chat()) { r in
                #expect(r.status == .ok, "the floor is zero in the fixture")
            }
            let low = BridgeService(
                BridgeConfiguration(
                    client: CrynuxClient(relay: try #require(fixture.relayURL), wallet: fixture.wallet, store: fixture.store), models: [Self.model],
                    store: fixture.store, balanceFloor: Wei(cnx: 10)))
            try await low.resumePendingRuns()
            try await Application(router: low.router()).test(.router) { lowClient in
                try await lowClient.execute(uri: "/v1/chat/completions", method: .post, headers: F.headers(key), body: F.chat()) { r in
                    #expect(r.status == .serviceUnavailable && F.json(r.body)["error"]?["code"]?.stringValue == "insufficient_balance")
                }
            }
            try await client.execute(
                uri: "/v1/chat/completions", method: .post, headers: F.headers(key), body: ByteBuffer(repeating: UInt8(ascii: "a"), count: 5 << 20)
            ) { r in #expect(r.status == .contentTooLarge) }
            for junk in ["{", "[]", "\u{0}\u{1}", #"{"model":1}"#, #"{"model":"\#(Self.model)","messages":"hi"}"#] {
                try await client.execute(uri: "/v1/chat/completions", method: .post, headers: F.headers(key), body: ByteBuffer(string: junk)) { r in
                    #expect(r.status == .badRequest && F.json(r.body)["error"]?["type"]?.stringValue == "invalid_request_error", "\(junk)")
                }
            }
            try await client.execute(uri: "/nowhere", method: .get) { r in
                #expect(r.status == .notFound && F.json(r.body)["error"] != nil)
            }
            try await client.execute(uri: "/health", method: .get) { #expect($0.status == .ok) }
        }
    }
}

/// Set once, from any task.
final class CreatedFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    func set() { lock.withLock { value = true } }
    var isSet: Bool { lock.withLock { value } }
}

extension JSONValue {
    subscript(index: Int) -> JSONValue? {
        guard case .array(let items) = self, index >= 0, index < items.count else { return nil }
        return items[index]
    }
}

@Suite(.serialized) struct BridgeImageTests {
    @Test func imageGenerationsRunAStableDiffusionTaskAndAnswerBase64PNGs() async throws {
        let network = try LocalNetwork.make(rate: 0)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("bridge-img-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try await network.run { running in
            let url = running.relayURL
            try await running.start(try network.imageNode(url, dir: dir))
            let wallet = PrivateKey.generate()
            try await network.fund(wallet.address.checksummed)
            let store = try BridgeStore(path: nil)
            let (key, record) = try store.create(name: "images")
            let bridge = BridgeService(
                BridgeConfiguration(
                    client: CrynuxClient(relay: url, wallet: wallet, store: store, validationRatePercent: 0), models: [], imageModels: ["crynux-network/sdxl-turbo"],
                    store: store, balanceFloor: .zero))
            try await Application(router: bridge.router()).test(.router) { client in
                // The Crynux bridge's alias, two images, the OpenAI shape.
                let body = #"{"model":"stabilityai/sdxl-turbo","prompt":"a gradient","n":2,"size":"512x512","response_format":"b64_json","seed":1}"#
                try await client.execute(uri: "/v1/images/generations", method: .post, headers: BridgeFixture.headers(key), body: ByteBuffer(string: body)) { r in
                    #expect(r.status == .ok)
                    guard case .array(let data)? = BridgeFixture.json(r.body)["data"] else { Issue.record("no data"); return }
                    let pngs = data.compactMap { $0["b64_json"]?.stringValue.flatMap { Data(base64Encoded: $0) }.map { Array($0) } }
                    let args = try SDTaskArgs(json: Array(#"{"base_model": "crynux-network/sdxl-turbo", "prompt": "a gradient", "task_config": {"num_images": 2}}"#.utf8))
                    #expect(try await pngs == GradientImageEngine().generate(args))
                }
                for (body, param) in [
                    (#"{"prompt":"x","response_format":"url"}"#, "response_format"), (#"{"prompt":"x","size":"100x100"}"#, "size"),
                    (#"{"prompt":"x","n":9}"#, "n"), (#"{"prompt":""}"#, "prompt"), (#"{"prompt":"x","mask":"m"}"#, "mask"),
                ] {
                    try await client.execute(uri: "/v1/images", method: .post, headers: BridgeFixture.headers(key), body: ByteBuffer(string: body)) { r in
                        #expect(r.status == .badRequest && BridgeFixture.json(r.body)["error"]?["param"]?.stringValue == param, "\(param)")
                    }
                }
            }
            let task = try #require(try await network.service.allTasks().first)
            #expect(task.taskArgs.contains(#""variant":"fp16""#) && task.taskArgs.contains("EulerAncestralDiscreteScheduler") && task.minVRAM == 14)
            #expect(try store.key(id: record.id)?.spent == Wei(cnx: 2), "1 CNX per image")
        }
    }
}
