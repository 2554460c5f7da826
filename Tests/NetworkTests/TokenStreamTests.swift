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

/// The token-stream extension end to end: a real node streams its engine's tokens through a relay on loopback to the
/// task's creator, and the SDK checks them against the validated result.
@Suite(.serialized) struct TokenStreamTests {
    static let model = BridgeFixture.model

    /// Deltas as received, with the time of each and whether the run had reported a score yet.
    final class Received: @unchecked Sendable {
        private let lock = NSLock()
        private var deltas: [RelayClient.StreamDelta] = []
        private var beforeScore = 0
        private var scored = false
        private var created: String?

        func add(_ d: RelayClient.StreamDelta) {
            lock.withLock {
                deltas.append(d)
                if !scored { beforeScore += 1 }
            }
        }
        func event(_ e: TaskEvent) {
            lock.withLock {
                if case .scored = e { scored = true }
                if case .created(_, let c) = e { created = c }
            }
        }
        var all: [RelayClient.StreamDelta] { lock.withLock { deltas } }
        var receivedBeforeTheScore: Int { lock.withLock { beforeScore } }
        var commitment: String? { lock.withLock { created } }
        func text(_ index: Int) -> String { lock.withLock { deltas.filter { $0.index == index }.map(\.text).joined() } }
    }

    /// Runs `body` on a local network with one node (`makeNode`'s, else an honest one) and a funded client using
    /// `transport`.
    func onNetwork(
        node makeNode: ((LocalNetwork, String, TextGenerator, String) -> NodeWorker)? = nil, transport: any RelayTransport = HTTPClientTransport(),
        _ body: (String, CrynuxClient, LocalNetwork) async throws -> Void
    ) async throws {
        let generator = try #require(EndToEndTests.generator, "the bundled model is needed (make test fetches it)")
        let network = try LocalNetwork.make(rate: 0)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("stream-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try await network.run { running in
            let url = running.relayURL
            try await running.start(makeNode?(network, url, generator, dir) ?? network.node(url, generator, dir: dir))
            let app = CrynuxClient(relay: url, wallet: .generate(), transport: transport, validationRatePercent: 0)
            try await network.fund(app.address)
            try await body(url, app, network)
        }
    }

    func request(_ messages: [ChatMessage], maxTokens: Int = 48, n: Int = 1, stop: [String]? = nil, seed: Int? = nil) -> TaskRequest {
        var config = GenerationConfig(maxNewTokens: maxTokens)
        if n > 1 {
            config.numReturnSequences = n
            config.doSample = true
            config.temperature = 1
        }
        config.stopStrings = stop
        var args = GPTTaskArgs(model: Self.model, messages: messages, generationConfig: config)
        args.seed = seed
        return TaskRequest(taskType: .llm, taskArgs: args.jsonString, modelIDs: [BundledModel.modelID], fee: Wei(cnx: 5))
    }

    static func choices(_ result: TaskResult) throws -> [GPTTaskResponse.Choice] {
        try JSONValueDecoder().decode(GPTTaskResponse.self, fromJSON: result.files[0]).choices
    }

    @Test func streamedTextAddsUpToTheResultForOneAndSeveralChoicesWithStopStrings() async throws {
        try await onNetwork { _, app, _ in
            #expect(await app.extensions() == ["token_stream", "long_poll", "node_slots"])
            for (label, req) in [
                ("one choice", request([.text(.user, "Write a story about a dragon.")], maxTokens: 48)),
                ("two choices", request([.text(.user, "Write a story about a dragon.")], maxTokens: 24, n: 2, seed: 3)),
                ("a stop string", request([.text(.user, "Write a story about a dragon.")], maxTokens: 48, stop: [" the "])),
            ] {
                let received = Received()
                let result = try await app.run(req, onEvent: { received.event($0) }, onText: { received.add($0) })
                for choice in try Self.choices(result) {
                    #expect(received.text(choice.index).trimmingCharacters(in: .whitespacesAndNewlines) == choice.message.content, "\(label), choice \(choice.index)")
                }
                #expect(received.receivedBeforeTheScore > 0, "\(label): text arrived while the node was writing, before its score")
                #expect(result.streamed != nil, "\(label): the run read the relay's stream")
            }
        }
    }

    @Test func aReaderThatReconnectsMidStreamMissesNothing() async throws {
        try await onNetwork { url, app, _ in
            let received = Received()
            let run = Task { try await app.run(request([.text(.user, "Write a long story about a dragon.")], maxTokens: 64), onEvent: { received.event($0) }) }
            while received.commitment == nil { try await Task.sleep(for: .milliseconds(2)) }
            let commitment = try #require(received.commitment)
            let relay = await app.relay
            // Read two chunks, drop the connection, then reconnect after the last chunk read.
            var text = "", last = -1, ended = false
            for try await event in try await relay.readStream(commitment) {
                if case .deltas(let seq, let deltas) = event {
                    text += deltas.map(\.text).joined()
                    last = seq
                    if seq == 1 { break }
                }
            }
            #expect(last == 1)
            for try await event in try await relay.readStream(commitment, after: last) {
                switch event {
                case .deltas(let seq, let deltas):
                    #expect(seq == last + 1, "chunks arrive in order, none repeated")
                    text += deltas.map(\.text).joined()
                    last = seq
                case .end: ended = true
                }
            }
            #expect(ended)
            let result = try await run.value
            #expect(text.trimmingCharacters(in: .whitespacesAndNewlines) == (try Self.choices(result).first?.message.content))
            // Only the creator reads a task's stream.
            let stranger = RelayClient(baseURL: url, key: .generate())
            await #expect(throws: RelayAPIError.self) { _ = try await stranger.readStream(commitment) }
        }
    }

    @Test func aNodeThatStreamsOneThingAndSubmitsAnotherIsCaught() async throws {
        let liar: (LocalNetwork, String, TextGenerator, String) -> NodeWorker = { network, url, generator, dir in
            network.node(url, generator, dir: dir) { response in
                var r = response
                r.choices[0].message.content = "Something else entirely."
                return r
            }
        }
        try await onNetwork(node: liar) { _, app, _ in
            let received = Received()
            do {
                _ = try await app.run(request([.text(.user, "Write a story about a dragon.")]), onText: { received.add($0) })
                Issue.record("the mismatch went unnoticed")
            } catch let error as TokenStreamMismatch {
                #expect(error.result == "Something else entirely." && !error.streamed.isEmpty)
            }
            // Without onText the run does not read the stream, and the (consistent, validated) result is returned.
            let whole = try await app.run(request([.text(.user, "Write a story about a dragon.")]))
            #expect(try Self.choices(whole).first?.message.content == "Something else entirely.")
        }
    }

    /// A transport for which the relay has none of our extensions (as the public relay today).
    struct PublicRelayTransport: RelayTransport {
        let inner = HTTPClientTransport()
        static func hidden(_ url: String) -> Bool { url.contains("/v1/extensions") || url.contains("/stream") || url.contains("wait_ms=") }
        func send(method: String, url: String, headers: [(String, String)], body: [UInt8]) async throws -> (status: Int, body: [UInt8]) {
            if Self.hidden(url) { return (404, Array(#"{"message":"Not Found"}"#.utf8)) }
            return try await inner.send(method: method, url: url, headers: headers, body: body)
        }
    }

    @Test func aRelayWithoutTheExtensionStillAnswersWhole() async throws {
        let node: (LocalNetwork, String, TextGenerator, String) -> NodeWorker = { _, url, generator, dir in
            NodeWorker(
                client: RelayClient(baseURL: url, key: .generate(), transport: PublicRelayTransport()), engines: [BundledModel.modelID: generator],
                hardware: NodeHardware(gpuName: "CPU test+Linux", gpuVRAM: 24), dataDirectory: dir, pollInterval: .milliseconds(25))
        }
        try await onNetwork(node: node, transport: PublicRelayTransport()) { _, app, network in
            #expect(await app.extensions().isEmpty)
            let received = Received()
            let result = try await app.run(request([.text(.user, "What is 2+2?")]), onEvent: { received.event($0) }, onText: { received.add($0) })
            let content = try Self.choices(result).first?.message.content
            #expect(content == "The answer to this classic math problem is 4.")
            #expect(received.all == [RelayClient.StreamDelta(index: 0, text: content ?? "")], "the text arrives once, whole, after the result")
            #expect(result.streamed == nil && network.network.relay.streams.count == 0, "nothing was streamed")
        }
    }

    @Test func theBridgeStreamsTokensWithStopStringsAndToolCallsHeldBack() async throws {
        try await BridgeFixture.with { client, _, fixture in
            let (key, _) = try fixture.store.create(name: "stream")
            let auth = BridgeFixture.headers(key)
            func events(_ body: String) async throws -> [JSONValue] {
                try await client.execute(uri: "/v1/chat/completions", method: .post, headers: auth, body: ByteBuffer(string: body)) { r in
                    String(buffer: r.body).components(separatedBy: "\n\n").filter { $0.hasPrefix("data: {") }.compactMap { try? JSONValue.parse(String($0.dropFirst(6))) }
                }
            }
            func whole(_ body: String) async throws -> JSONValue {
                try await client.execute(uri: "/v1/chat/completions", method: .post, headers: auth, body: ByteBuffer(string: body)) { BridgeFixture.json($0.body) }
            }
            func content(_ chunks: [JSONValue], _ index: Int) -> [String] {
                chunks.compactMap { c in
                    guard case .array(let choices)? = c["choices"] else { return nil }
                    return choices.first { $0["index"]?.doubleValue == Double(index) }?["delta"]?["content"]?.stringValue
                }.filter { !$0.isEmpty }
            }
            let story = #"{"model":"\#(Self.model)","messages":[{"role":"user","content":"Write a story about a dragon."}],"temperature":0,"max_tokens":48"#
            // Tokens as they come: many content chunks that add up to the whole answer.
            let streamed = try await events(story + #","stream":true}"#)
            let answer = try await whole(story + "}")["choices"]?[0]?["message"]?["content"]?.stringValue
            #expect(content(streamed, 0).count > 5 && content(streamed, 0).joined() == answer)
            // A stop string is never shown, not even in part.
            let stop = #","stop":[" dragon"]"#
            let cut = try await events(story + stop + #","stream":true}"#)
            #expect(content(cut, 0).joined() == (try await whole(story + stop + "}"))["choices"]?[0]?["message"]?["content"]?.stringValue)
            #expect(!content(cut, 0).joined().contains(" dragon") && content(cut, 0).count > 1)
            // Two choices, each adding up.
            let two = #"{"model":"\#(Self.model)","messages":[{"role":"user","content":"Write a story."}],"temperature":1,"seed":5,"n":2,"max_tokens":24"#
            let twoStreamed = try await events(two + #","stream":true}"#)
            let twoWhole = try await whole(two + "}")
            for i in 0..<2 {
                let expected = twoWhole["choices"]?.arrayValue?.first { $0["index"]?.doubleValue == Double(i) }?["message"]?["content"]?.stringValue
                #expect(content(twoStreamed, i).joined() == expected, "choice \(i)")
            }
            // A tool call's tag is held back: the call arrives as tool_calls, the tag never as content.
            let call = #"<tool_call>{\"name\": \"get_weather\", \"arguments\": {\"city\": \"%@\"}}</tool_call>"#
            let fewShot = #"{"model":"\#(Self.model)","temperature":0,"max_tokens":64,"stream":true,"tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}}],"messages":[{"role":"system","content":"You call tools. Reply only with a tool call."},{"role":"user","content":"What is the weather in Berlin?"},{"role":"assistant","content":"\#(call.replacingOccurrences(of: "%@", with: "Berlin"))"},{"role":"user","content":"What is the weather in Rome?"},{"role":"assistant","content":"\#(call.replacingOccurrences(of: "%@", with: "Rome"))"},{"role":"user","content":"What is the weather in Paris?"}]}"#
            let tool = try await events(fewShot)
            #expect(content(tool, 0).allSatisfy { !$0.contains("<") }, "\(content(tool, 0))")
            #expect(tool.contains { $0["choices"]?[0]?["delta"]?["tool_calls"]?[0]?["function"]?["name"]?.stringValue == "get_weather" })
            #expect(tool.contains { $0["choices"]?[0]?["finish_reason"]?.stringValue == "tool_calls" })
        }
    }
}
