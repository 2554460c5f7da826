@testable import Bridge
@testable import CrynuxSDK
import Foundation
import Hummingbird
import HummingbirdTesting
import Testing

/// The Bridge's link to a live relay, cut after the task is created (the relay and its node go on working) and
/// restored on demand: what a relay outage mid-run looks like from the Bridge.
final class OutageTransport: RelayTransport, @unchecked Sendable {
    private let lock = NSLock()
    private var down = false
    private let inner = HTTPClientTransport(timeout: 10)

    /// Restores the link.
    func restore() { lock.withLock { down = false } }

    func send(method: String, url: String, headers: [(String, String)], body: [UInt8]) async throws -> (status: Int, body: [UInt8]) {
        if lock.withLock({ down }) { throw RelayAPIError(kind: .transport, field: "", message: "connection refused", status: 0) }
        let answer = try await inner.send(method: method, url: url, headers: headers, body: body)
        // Once a task has been created, the relay goes away for this client.
        if method == "POST", url.contains("/v1/inference_tasks/0x"), !url.contains("/", after: "/v1/inference_tasks/") {
            lock.withLock { down = true }
        }
        return answer
    }
}

extension String {
    /// Whether `character` occurs after the first `marker`.
    func contains(_ character: Character, after marker: String) -> Bool {
        guard let range = range(of: marker) else { return false }
        return self[range.upperBound...].contains(character)
    }
}

@Suite struct RelayOutageTests {
    @Test func aRelayOutageMidRunKeepsTheRunInDoubtAndTheKeyPaysExactlyWhatTheRelayCharged() async throws {
        try await BridgeFixture.with { _, _, fixture in
            let (key, record) = try fixture.store.create(name: "outage")
            let wallet = fixture.wallet.address.checksummed
            let before = try await fixture.network.service.read { $0.balance(of: wallet) }
            let link = OutageTransport()
            let bridge = BridgeService(
                BridgeConfiguration(
                    client: CrynuxClient(relay: try #require(fixture.relayURL), wallet: fixture.wallet, transport: link, store: fixture.store, validationRatePercent: 0),
                    models: [BridgeFixture.model], store: fixture.store, balanceFloor: .zero))
            try await Application(router: bridge.router()).test(.router) { client in
                let headers = BridgeFixture.headers(key, [.init("Idempotency-Key")!: "outage-1"])
                let (status, code) = try await client.execute(uri: "/v1/chat/completions", method: .post, headers: headers, body: BridgeFixture.chat()) {
                    ($0.status, BridgeFixture.json($0.body)["error"]?["code"]?.stringValue)
                }
                // The relay holds the fee in escrow; the Bridge cannot know how the task ends, so it keeps the hold.
                #expect(status == .serviceUnavailable && code == "relay_unavailable")
                #expect(try fixture.store.runs(status: "pending").count == 1 && fixture.store.runs(status: "failed").isEmpty, "not refunded")
                #expect(try fixture.store.key(id: record.id)?.reserved == Wei(cnx: 15))
                // The relay comes back: the next reconciliation follows the run to its end and charges it once.
                link.restore()
                #expect(bridge.reconcilePendingRuns() == 1)
                await bridge.waitForRunsInFlight()
                #expect(bridge.reconcilePendingRuns() == 0)
                let after = try await fixture.network.service.read { $0.balance(of: wallet) }
                let charged = try #require(before.subtracting(after))
                let settled = try #require(try fixture.store.key(id: record.id))
                #expect(charged == Wei(cnx: 5) && settled.spent == charged && settled.reserved == .zero, "the key paid what the relay charged")
                // The client's retry with its Idempotency-Key gets the answer without paying again.
                let (retried, content) = try await client.execute(uri: "/v1/chat/completions", method: .post, headers: headers, body: BridgeFixture.chat()) {
                    ($0.status, BridgeFixture.json($0.body)["choices"]?[0]?["message"]?["content"]?.stringValue)
                }
                #expect(retried == .ok && content?.isEmpty == false)
                #expect(try fixture.store.key(id: record.id)?.spent == charged)
            }
        }
    }
}
