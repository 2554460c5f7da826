import CrynuxSDK
import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
@testable import Relay

/// A signature works once for a change and never on an endpoint it was not made for (issue 13, point 3).
@Suite struct SignatureReplayTests {
    let http = HTTPTests()

    /// The node joins at `HTTPTests.start`; `body` then runs against the same relay.
    func withJoinedNode(_ body: @escaping @Sendable (any TestClientProtocol, RelayService, ManualRelayClock) async throws -> Void) async throws {
        let clock = ManualRelayClock(HTTPTests.start)
        let service = try http.makeService(clock: clock)
        let app = Application(router: RelayHTTP.router(service: service, dev: true))
        let node = http.nodeKey.address.checksummed
        try await app.test(.router) { client in
            let join: [JSONMember] = [
                JSONMember("address", .string(node)), JSONMember("gpu_name", .string("NVIDIA GeForce RTX 4090+Linux")),
                JSONMember("gpu_vram", .integer(24)), JSONMember("model_ids", .array([.string("base:HuggingFaceTB/SmolLM2-135M-Instruct")])),
                JSONMember("network", .string("dymension")), JSONMember("staking", .string("400000000000000000000")),
                JSONMember("version", .string("3.5.0")),
            ]
            try await client.execute(
                uri: "/v2/node/\(node)/join", method: .post, headers: [.contentType: "application/json"],
                body: HTTPTests.body(signedBody(join, at: HTTPTests.start - 5))
            ) { r in #expect(r.status == .ok, "\(HTTPTests.text(r.body))") }
            try await body(client, service, clock)
        }
    }

    func signedBody(_ members: [JSONMember], at time: Int64) -> String {
        let (ts, sig) = http.signed(http.nodeKey, .object(members), at: time)
        return JSONValue.object(members + [JSONMember("timestamp", .integer(Int(ts)!)), JSONMember("signature", .string(sig))]).compactText
    }

    func action(_ client: any TestClientProtocol, _ name: String, body: String) async throws -> (HTTPResponse.Status, String) {
        let node = http.nodeKey.address.checksummed
        return try await client.execute(uri: "/v1/node/\(node)/\(name)", method: .post, headers: [.contentType: "application/json"], body: HTTPTests.body(body)) {
            ($0.status, HTTPTests.text($0.body))
        }
    }

    func status(_ service: RelayService) async throws -> NodeStatus? {
        let address = http.nodeKey.address.checksummed
        return try await service.read { $0.nodes[address]?.status }
    }

    @Test func aBalanceQuerySignatureCannotPauseTheNode() async throws {
        try await withJoinedNode { client, service, _ in
            let node = http.nodeKey.address.checksummed
            let address = [JSONMember("address", .string(node))]
            let (ts, sig) = http.signed(http.nodeKey, .object(address), at: HTTPTests.start)
            // The owner's balance query, twice with the same signature (reads may repeat one).
            for _ in 0..<2 {
                try await client.execute(uri: "/v2/relay_account/\(node)/balance?timestamp=\(ts)&signature=\(sig)", method: .get) { r in
                    #expect(r.status == .ok)
                }
            }
            // Someone who saw that URL presents its signature to pause the node: refused, the node stays available.
            let stolen = JSONValue.object(address + [JSONMember("timestamp", .integer(Int(ts)!)), JSONMember("signature", .string(sig))]).compactText
            let (code, text) = try await action(client, "pause", body: stolen)
            #expect(code == .badRequest && text.contains("already used"), "\(text)")
            let available = try await status(service)
            #expect(available == .available)
            // The owner's own pause, signed for it, works.
            let (okCode, okText) = try await action(client, "pause", body: signedBody(address, at: HTTPTests.start + 1))
            #expect(okCode == .ok, "\(okText)")
            let paused = try await status(service)
            #expect(paused == .paused)
        }
    }

    @Test func aSignedChangeIsAcceptedOnceWithinTheWindow() async throws {
        try await withJoinedNode { client, service, clock in
            let address = [JSONMember("address", .string(http.nodeKey.address.checksummed))]
            let pause = signedBody(address, at: HTTPTests.start)
            let first = try await action(client, "pause", body: pause).0
            #expect(first == .ok)
            let resumed = try await action(client, "resume", body: signedBody(address, at: HTTPTests.start + 1)).0
            #expect(resumed == .ok)
            // Replaying the pause on pause, or on quit, changes nothing.
            let replayed = try await action(client, "pause", body: pause).0, quit = try await action(client, "quit", body: pause).0
            #expect(replayed == .badRequest && quit == .badRequest)
            let available = try await status(service)
            #expect(available == .available)
            // Once its timestamp has left the window the message is forgotten, and it is refused as expired.
            clock.advance(RelaySignatureVerifier.defaultTolerance + 1)
            let late = try await action(client, "pause", body: pause).1
            #expect(late.contains("expired"), "\(late)")
            let stillAvailable = try await status(service)
            #expect(stillAvailable == .available)
        }
    }

    @Test func theGuardLetsReadsRepeatAndAnUploadFollowItsOwnReadOnce() throws {
        let guardian = ReplayGuard(tolerance: 60, capacity: 3)
        let now: Int64 = 1_000
        try guardian.admit(signer: "0xA", canonical: #"{"task_id_commitment":"0x1"}"#, timestamp: now, use: .read, now: now)
        try guardian.admit(signer: "0xA", canonical: #"{"task_id_commitment":"0x1"}"#, timestamp: now, use: .read, now: now)
        try guardian.admit(signer: "0xA", canonical: #"{"task_id_commitment":"0x1"}"#, timestamp: now, use: .writeAfterRead, now: now)
        #expect(throws: RelayError.self) {
            try guardian.admit(signer: "0xA", canonical: #"{"task_id_commitment":"0x1"}"#, timestamp: now, use: .writeAfterRead, now: now)
        }
        // Another signer's identical message is a different message.
        try guardian.admit(signer: "0xB", canonical: #"{"task_id_commitment":"0x1"}"#, timestamp: now, use: .write, now: now)
        // A plain write refuses a message first seen on a read.
        try guardian.admit(signer: "0xA", canonical: #"{"address":"0xA"}"#, timestamp: now, use: .read, now: now)
        #expect(throws: RelayError.self) { try guardian.admit(signer: "0xA", canonical: #"{"address":"0xA"}"#, timestamp: now, use: .write, now: now) }
        // Full: new messages are refused as busy (429) until the window moves on; then the old ones are forgotten.
        do {
            try guardian.admit(signer: "0xC", canonical: "{}", timestamp: now, use: .read, now: now)
            Issue.record("accepted over capacity")
        } catch { #expect(error.kind == .busy) }
        try guardian.admit(signer: "0xC", canonical: "{}", timestamp: now + 61, use: .read, now: now + 61)
        #expect(guardian.count == 1)
    }
}
