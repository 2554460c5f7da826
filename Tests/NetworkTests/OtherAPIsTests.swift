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

/// The APIs besides Chat Completions over a live local network: the Crynux bridge's `vram_limit`, OpenAI's Responses
/// API (background runs included) and Anthropic's Messages, paid once and charged once like chat.
@Suite(.serialized) struct OtherAPIsTests {
    static let model = BridgeFixture.model
    typealias F = BridgeFixture

    @Test func vramLimitComesFromThePathThenTheBodyThenTheDefaultOf24() async throws {
        try await F.with { client, _, fixture in
            let (key, _) = try fixture.store.create(name: "vram")
            let auth = F.headers(key)
            for (uri, extra) in [
                ("/v1/chat/completions", ""), ("/v1/chat/completions", #","vram_limit":16"#), ("/v1/llm/20/chat/completions", #","vram_limit":16"#),
                ("/v1/llm/12/completions", ""),
            ] {
                let body = uri.hasSuffix("/completions") && !uri.contains("chat")
                    ? ByteBuffer(string: #"{"model":"\#(Self.model)","prompt":"Hi","max_tokens":2\#(extra)}"#) : F.chat("Hi", extra: extra)
                try await client.execute(uri: uri, method: .post, headers: auth, body: body) { r in #expect(r.status == .ok, "\(uri)") }
            }
            let floors = try await fixture.network.service.allTasks().map(\.minVRAM).sorted()
            #expect(floors == [12, 16, 20, 24])
            for (uri, extra, param) in [
                ("/v1/chat/completions", #","vram_limit":"24""#, "vram_limit"), ("/v1/chat/completions", #","vram_limit":0"#, "vram_limit"),
                ("/v1/llm/big/chat/completions", "", "vram_limit"), ("/v1/llm/99999/chat/completions", "", "vram_limit"),
            ] {
                try await client.execute(uri: uri, method: .post, headers: auth, body: F.chat("Hi", extra: extra)) { r in
                    #expect(r.status == .badRequest && F.json(r.body)["error"]?["param"]?.stringValue == param, "\(uri) \(extra)")
                }
            }
            #expect(try await fixture.network.service.read { $0.sequenceNumber } == 4, "refused requests create no task")
        }
    }

    static func response(_ extra: String = "") -> ByteBuffer {
        ByteBuffer(string: #"{"model":"\#(model)","input":"What is 2+2?","temperature":0,"max_output_tokens":32\#(extra)}"#)
    }

    static func message(_ extra: String = "") -> ByteBuffer {
        ByteBuffer(string: #"{"model":"\#(model)","messages":[{"role":"user","content":"What is 2+2?"}],"temperature":0,"max_tokens":32\#(extra)}"#)
    }

    @Test func responsesMessagesAndBackgroundRunsArePaidOnceAndChargedOnce() async throws {
        try await F.with { client, _, fixture in
            let (key, record) = try fixture.store.create(name: "apis")
            let wallet = fixture.wallet.address.checksummed
            let before = try await fixture.network.service.read { $0.balance(of: wallet) }
            func retry(_ id: String) -> HTTPFields { F.headers(key, [.init("Idempotency-Key")!: id]) }
            // A Responses request sent twice at once and once more later: one task, one id, one answer.
            async let a = client.execute(uri: "/v1/responses", method: .post, headers: retry("r-1"), body: Self.response()) { F.json($0.body) }
            async let b = client.execute(uri: "/v1/responses", method: .post, headers: retry("r-1"), body: Self.response()) { F.json($0.body) }
            let (first, second) = try await (a, b)
            let third = try await client.execute(uri: "/v1/responses", method: .post, headers: retry("r-1"), body: Self.response()) { F.json($0.body) }
            let text = first["output"]?[0]?["content"]?[0]?["text"]?.stringValue
            #expect(first["status"]?.stringValue == "completed" && text?.contains("4") == true)
            #expect(first["id"] == second["id"] && first["id"] == third["id"] && second["output"] == first["output"] && third["output"] == first["output"])
            // A Messages request twice: one task, the same message.
            let m1 = try await client.execute(uri: "/v1/messages", method: .post, headers: retry("m-1"), body: Self.message()) { F.json($0.body) }
            let m2 = try await client.execute(uri: "/v1/messages", method: .post, headers: retry("m-1"), body: Self.message()) { F.json($0.body) }
            #expect(m1["type"]?.stringValue == "message" && m1["content"]?[0]?["text"]?.stringValue == text && m1 == m2)
            // A background response: answered at once, completed later, its retry joins the same run.
            let queued = try await client.execute(uri: "/v1/responses", method: .post, headers: retry("bg-1"), body: Self.response(#","background":true"#)) {
                F.json($0.body)
            }
            let id = try #require(queued["id"]?.stringValue)
            #expect(["queued", "in_progress"].contains(queued["status"]?.stringValue ?? "") && queued["output"] == .array([]))
            var done = queued
            for _ in 0..<600 where ["queued", "in_progress"].contains(done["status"]?.stringValue ?? "") {
                try await Task.sleep(for: .milliseconds(50))
                done = try await client.execute(uri: "/v1/responses/\(id)", method: .get, headers: F.headers(key)) { F.json($0.body) }
            }
            #expect(done["status"]?.stringValue == "completed" && done["output"]?[0]?["content"]?[0]?["text"]?.stringValue == text)
            let again = try await client.execute(uri: "/v1/responses", method: .post, headers: retry("bg-1"), body: Self.response(#","background":true"#)) {
                F.json($0.body)
            }
            #expect(again["id"]?.stringValue == id && again["status"]?.stringValue == "completed")
            // Three paid runs: three tasks, three fees on the relay, the same three on the key.
            let after = try await fixture.network.service.read { $0.balance(of: wallet) }
            #expect(before.subtracting(after) == Wei(cnx: 15))
            #expect(try fixture.store.key(id: record.id)?.spent == Wei(cnx: 15) && fixture.store.key(id: record.id)?.reserved == .zero)
            #expect(try await fixture.network.service.read { $0.sequenceNumber } == 3)
            let endpoints = try fixture.store.usage(groupBy: "key", since: nil, until: nil).first?.requests
            #expect(endpoints == 3)
        }
    }

    @Test func aBackgroundResponseSurvivesARestartAndCompletes() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("bridge-\(UUID().uuidString).sqlite").path
        defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) } }
        try await F.with(storePath: path) { _, _, fixture in
            let (key, record) = try fixture.store.create(name: "background")
            // A Bridge that stops at once: its background run is left pending for the next start.
            let stopping = BridgeService(
                BridgeConfiguration(
                    client: CrynuxClient(relay: try #require(fixture.relayURL), wallet: fixture.wallet, store: fixture.store, validationRatePercent: 0),
                    models: [Self.model], store: fixture.store, balanceFloor: .zero, drainTimeout: .milliseconds(1)))
            let id = try await Application(router: stopping.router()).test(.router) { client in
                let id = try await client.execute(
                    uri: "/v1/responses", method: .post, headers: F.headers(key), body: Self.response(#","background":true,"max_output_tokens":200"#)
                ) { r in F.json(r.body)["id"]?.stringValue ?? "" }
                stopping.beginDrain()
                await stopping.drainRuns()
                return id
            }
            #expect(!id.isEmpty)
            #expect(try fixture.store.runs(status: "pending").count == 1, "the background run was neither refunded nor failed")
            // The next start resumes it; the response completes and is charged once.
            let next = fixture.bridge(try #require(fixture.relayURL))
            #expect(try await next.resumePendingRuns() == 1)
            await next.waitForRunsInFlight()
            try await Application(router: next.router()).test(.router) { client in
                try await client.execute(uri: "/v1/responses/\(id)", method: .get, headers: F.headers(key)) { r in
                    let body = F.json(r.body)
                    #expect(["completed", "incomplete"].contains(body["status"]?.stringValue ?? ""), "\(body)")
                    #expect(body["output"]?[0]?["content"]?[0]?["text"]?.stringValue?.isEmpty == false)
                }
                // Another key does not see it; its owner deletes it.
                let (other, _) = try fixture.store.create(name: "other")
                try await client.execute(uri: "/v1/responses/\(id)", method: .get, headers: F.headers(other)) { r in #expect(r.status == .notFound) }
                try await client.execute(uri: "/v1/responses/\(id)", method: .delete, headers: F.headers(key)) { r in
                    #expect(r.status == .ok && F.json(r.body)["deleted"] == .bool(true))
                }
                try await client.execute(uri: "/v1/responses/\(id)", method: .get, headers: F.headers(key)) { r in #expect(r.status == .notFound) }
            }
            let settled = try #require(try fixture.store.key(id: record.id))
            #expect(settled.spent == Wei(cnx: 5) && settled.reserved == .zero)
            #expect(try await fixture.network.service.read { $0.sequenceNumber } == 1, "one relay task, created once")
        }
    }

    @Test func messagesAnswerWithAnthropicsEnvelopeAndStatuses() async throws {
        try await F.with { client, _, fixture in
            let (key, _) = try fixture.store.create(name: "anthropic")
            var apiKey: HTTPFields = [.init("x-api-key")!: key, .contentType: "application/json"]
            apiKey[.init("anthropic-version")!] = "2023-06-01"
            try await client.execute(uri: "/v1/messages", method: .post, headers: apiKey, body: Self.message()) { r in
                let body = F.json(r.body)
                #expect(r.status == .ok && body["stop_reason"]?.stringValue == "end_turn" && r.headers[.init("request-id")!] != nil)
                #expect(body["usage"]?["input_tokens"]?.doubleValue ?? 0 > 0)
            }
            for (headers, body, status, type) in [
                ([.init("x-api-key")!: "sk-wrong", .contentType: "application/json"], Self.message(), HTTPResponse.Status.unauthorized, "authentication_error"),
                (apiKey, ByteBuffer(string: #"{"model":"no/model","max_tokens":4,"messages":[{"role":"user","content":"x"}]}"#), .notFound, "not_found_error"),
                (apiKey, ByteBuffer(string: #"{"model":"\#(Self.model)","messages":[{"role":"user","content":"x"}]}"#), .badRequest, "invalid_request_error"),
                (apiKey, Self.message(#","temperature":1.5"#), .badRequest, "invalid_request_error"),
                (apiKey, ByteBuffer(string: "not json"), .badRequest, "invalid_request_error"),
            ] as [(HTTPFields, ByteBuffer, HTTPResponse.Status, String)] {
                try await client.execute(uri: "/v1/messages", method: .post, headers: headers, body: body) { r in
                    let error = F.json(r.body)
                    #expect(r.status == status && error["type"]?.stringValue == "error" && error["error"]?["type"]?.stringValue == type, "\(error)")
                }
            }
        }
    }
}
