import Bridge
import CrynuxSDK
import Foundation
import Hummingbird
import HummingbirdTesting
import NodeKit
import Testing
@testable import Relay

/// The Bridge over a live local network: OpenAI shapes, honest streaming, errors with the right status.
@Suite(.serialized) struct BridgeTests {
    static let model = "HuggingFaceTB/SmolLM2-135M-Instruct"

    @Test func chatCompletionsStreamingAndErrorsAsOpenAIClientsExpect() async throws {
        let generator = try #require(EndToEndTests.generator)
        let network = try LocalNetwork.start(rate: 0)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("bridge-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try await network.app.test(.live) { relayClient in
            let url = "http://127.0.0.1:\(try #require(relayClient.port))"
            let node = network.node(url, generator, dir: dir)
            let serving = Task { try await node.run() }
            defer { serving.cancel() }
            let wallet = PrivateKey.generate()
            try await network.fund(wallet.address.checksummed)
            let keys = try APIKeyStore(path: nil)
            let (key, record) = try keys.create(name: "test")
            let config = BridgeConfiguration(
                client: CrynuxClient(relay: url, wallet: wallet, validationRatePercent: 0), models: [Self.model], keys: keys, keepAlive: .milliseconds(30))
            let bridge = Application(router: BridgeHTTP.router(config))
            try await bridge.test(.router) { client in
                let auth: HTTPFields = [.authorization: "Bearer \(key)", .contentType: "application/json"]
                func json(_ b: ByteBuffer) -> JSONValue { (try? JSONValue.parse(Array(b.readableBytesView))) ?? .null }
                try await client.execute(uri: "/v1/models", method: .get, headers: auth) { r in
                    #expect(r.status == .ok)
                    guard case .array(let data)? = json(r.body)["data"] else { Issue.record("no data"); return }
                    #expect(data.first?["id"]?.stringValue == Self.model && r.headers[.init("x-request-id")!] != nil)
                }
                try await client.execute(uri: "/v1/models", method: .get, headers: [.authorization: "Bearer sk-wrong"]) { r in
                    #expect(r.status == .unauthorized && json(r.body)["error"]?["code"]?.stringValue == "invalid_api_key")
                }
                let question = #"{"model":"\#(Self.model)","messages":[{"role":"developer","content":"Answer briefly."},{"role":"user","content":"What is 2+2?"}],"temperature":0,"max_tokens":32"#
                try await client.execute(uri: "/v1/chat/completions", method: .post, headers: auth, body: ByteBuffer(string: question + "}")) { r in
                    let body = json(r.body)
                    #expect(r.status == .ok && body["object"]?.stringValue == "chat.completion")
                    guard case .array(let choices)? = body["choices"] else { Issue.record("no choices"); return }
                    #expect(choices.first?["message"]?["content"]?.stringValue?.contains("4") == true)
                    #expect(choices.first?["finish_reason"]?.stringValue == "stop" && body["usage"]?["total_tokens"]?.doubleValue ?? 0 > 0)
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
                    #expect(chunks.count == 4)
                    #expect(chunks.first?["choices"]?[0]?["delta"]?["role"]?.stringValue == "assistant")
                    #expect(chunks.dropFirst().first?["choices"]?[0]?["delta"]?["content"]?.stringValue?.contains("4") == true)
                    #expect(chunks.dropFirst(2).first?["choices"]?[0]?["finish_reason"]?.stringValue == "stop")
                    #expect(chunks.last?["usage"]?["completion_tokens"]?.doubleValue ?? 0 > 0)
                }
                // Errors name the parameter, with OpenAI's envelope and status.
                for (body, param, status) in [
                    (#"{"model":"\#(Self.model)","messages":[{"role":"user","content":"x"}],"frobnicate":1}"#, "frobnicate", HTTPResponse.Status.badRequest),
                    (#"{"model":"\#(Self.model)","messages":[{"role":"user","content":"x"}],"frequency_penalty":0.5}"#, "frequency_penalty", .badRequest),
                    (#"{"model":"\#(Self.model)","messages":[]}"#, "messages", .badRequest),
                    (#"{"model":"no/model","messages":[{"role":"user","content":"x"}]}"#, "model", .notFound),
                    ("not json", "body", .badRequest),
                ] {
                    try await client.execute(uri: "/v1/chat/completions", method: .post, headers: auth, body: ByteBuffer(string: body)) { r in
                        #expect(r.status == status && json(r.body)["error"]?["param"]?.stringValue == param, "\(param)")
                    }
                }
                // Legacy completions, embeddings (not a task type), and a revoked key.
                try await client.execute(
                    uri: "/v1/completions", method: .post, headers: auth,
                    body: ByteBuffer(string: #"{"model":"\#(Self.model)","prompt":"What is 2+2?","temperature":0,"max_tokens":32}"#)
                ) { r in
                    #expect(r.status == .ok && json(r.body)["object"]?.stringValue == "text_completion")
                    #expect(json(r.body)["choices"]?[0]?["text"]?.stringValue?.contains("4") == true)
                }
                try await client.execute(uri: "/v1/embeddings", method: .post, headers: auth, body: ByteBuffer(string: #"{"model":"x","input":"hi"}"#)) { r in
                    #expect(r.status == .notFound && json(r.body)["error"]?["code"]?.stringValue == "model_not_found")
                }
                #expect(try keys.list().count == 1 && keys.revoke(id: record.id) && !keys.revoke(id: record.id))
                try await client.execute(uri: "/v1/models", method: .get, headers: auth) { r in #expect(r.status == .unauthorized) }
            }
            await node.stop()
        }
    }
}

extension JSONValue {
    subscript(index: Int) -> JSONValue? {
        guard case .array(let items) = self, index >= 0, index < items.count else { return nil }
        return items[index]
    }
}
