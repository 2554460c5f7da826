@testable import Bridge
import CrynuxSDK
import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
@testable import Relay

/// A paid request has a deadline while it waits for a node, and a key has a cap on runs in progress.
@Suite struct PaidRunLimitsTests {
    typealias F = BridgeFixture

    func bridge(_ fixture: F, queueTimeout: Duration = .seconds(300), keyConcurrency: Int = 16) throws -> BridgeService {
        BridgeService(
            BridgeConfiguration(
                client: CrynuxClient(relay: try #require(fixture.relayURL), wallet: fixture.wallet, store: fixture.store, validationRatePercent: 0),
                models: [F.model], store: fixture.store, balanceFloor: .zero, queueTimeout: queueTimeout, keyConcurrency: keyConcurrency))
    }

    @Test func aTaskStillQueuedAtTheDeadlineIsCancelledRefundedAndAnswered504() async throws {
        try await F.with { _, _, fixture in
            let (lateKey, late) = try fixture.store.create(name: "late")
            let wallet = fixture.wallet.address.checksummed
            let bridge = try bridge(fixture, queueTimeout: .milliseconds(300))
            // The one node is paused, so the task waits in the relay's queue.
            let node = try #require(try await fixture.network.service.read { $0.nodes.keys.first })
            try await fixture.network.service.perform { state, now throws(RelayError) in try state.pause(node, now: now) }
            try await Application(router: bridge.router()).test(.router) { client in
                let before = try await fixture.network.service.read { $0.balance(of: wallet) }
                let (status, code) = try await client.execute(uri: "/v1/chat/completions", method: .post, headers: F.headers(lateKey), body: F.chat()) {
                    ($0.status, F.json($0.body)["error"]?["code"]?.stringValue)
                }
                #expect(status == .gatewayTimeout && code == "timeout")
                let key = try #require(try fixture.store.key(id: late.id))
                #expect(key.spent == .zero && key.reserved == .zero, "nothing charged, the hold released")
                // The relay refunded the cancelled task: the wallet is back where it was.
                let after = try await fixture.network.service.read { $0.balance(of: wallet) }
                #expect(after == before)
                let aborted = try await fixture.network.service.allTasks().map(\.status)
                #expect(aborted == [.endAborted])
            }
            try await fixture.network.service.perform { state, now throws(RelayError) in try state.resume(node, now: now) }
        }
    }

    @Test func aKeyWithTooManyRunsInProgressGets429() async throws {
        try await F.with { _, _, fixture in
            let (key, _) = try fixture.store.create(name: "one-at-a-time")
            let bridge = try bridge(fixture, keyConcurrency: 1)
            try await Application(router: bridge.router()).test(.router) { client in
                let long = Task {
                    try await client.execute(
                        uri: "/v1/chat/completions", method: .post, headers: F.headers(key), body: F.chat("Write a story.", extra: #","max_tokens":100"#)
                    ) { $0.status }
                }
                while try fixture.store.runs(status: "pending").isEmpty { try await Task.sleep(for: .milliseconds(5)) }
                let (status, code) = try await client.execute(uri: "/v1/chat/completions", method: .post, headers: F.headers(key), body: F.chat()) {
                    ($0.status, F.json($0.body)["error"]?["code"]?.stringValue)
                }
                #expect(status == .tooManyRequests && code == "rate_limit_exceeded")
                #expect(try await long.value == .ok)
                // Once it is settled the key may run again.
                try await client.execute(uri: "/v1/chat/completions", method: .post, headers: F.headers(key), body: F.chat()) { #expect($0.status == .ok) }
            }
        }
    }
}
