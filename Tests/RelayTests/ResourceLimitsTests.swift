import CrynuxSDK
import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
@testable import Relay

/// What one creator or node can make the relay hold is bounded (issue 13, point 6).
@Suite struct ResourceLimitsTests {
    func create(_ h: inout Harness, fee: Wei = Harness.fee, args: String = Harness.args) throws(RelayError) -> RelayTask {
        let id = TaskIdentity.random()
        return try h.relay.createTask(
            .init(commitment: id.commitmentHex, taskArgs: args, taskType: .llm, nonce: id.nonceHex, modelIDs: [Harness.model], minVRAM: 0,
                  requiredGPU: "", requiredGPUVRAM: 0, taskSize: 1, fee: fee, timeout: nil),
            creator: h.creator, now: h.now)
    }

    @Test func freeTasksAndHugeArgumentsAreRefused() throws {
        var h = Harness(rate: 0)
        #expect(throws: RelayError.validation("task_fee", "must be at least 1000000000 wei")) { _ = try create(&h, fee: .zero) }
        #expect(throws: RelayError.self) { _ = try create(&h, fee: Wei(999_999_999)) }
        let huge = #"{"model":"m","messages":[{"role":"user","content":""# + String(repeating: "a", count: 1 << 20) + #""}]}"#
        do {
            _ = try create(&h, args: huge)
            Issue.record("accepted")
        } catch { #expect(error.field == "task_args") }
        _ = try create(&h, fee: Wei(1_000_000_000))
        h.checkMoney()
    }

    @Test func aCreatorsQueuedTasksAreCapped() throws {
        var h = Harness(rate: 0)
        h.relay.config.maxQueuedPerCreator = 3
        for _ in 0..<3 { _ = try create(&h) }
        do {
            _ = try create(&h)
            Issue.record("accepted")
        } catch { #expect(error.kind == .busy) }
        // Once one leaves the queue there is room again.
        try h.join(1)
        _ = h.relay.dispatch(now: h.now)
        _ = try create(&h)
        h.checkMoney()
    }

    @Test func aStakeClaimCountsForNoMoreThanTheCapAndTheAllowListKeepsStrangersOut() throws {
        var h = Harness(rate: 0)
        try h.join(1, stake: 1_000_000_000)
        #expect(h.relay.nodes[Harness.node(1)]?.staking == Wei(cnx: 400))
        h.relay.config.allowedNodes = [Harness.node(2)]
        do {
            try h.join(3)
            Issue.record("a stranger joined")
        } catch let error as RelayError { #expect(error.kind == .forbidden) }
        try h.join(2)
    }

    @Test func bodiesAreSmallExceptUploadsAndAnUploadIsSignedBeforeItsBodyIsRead() async throws {
        let http = HTTPTests()
        let clock = ManualRelayClock(HTTPTests.start)
        let app = Application(router: RelayHTTP.router(service: try http.makeService(clock: clock), dev: false))
        try await app.test(.router) { client in
            // A score is small: 64 KiB + 1 is refused.
            try await client.execute(
                uri: "/v1/inference_tasks/0x12/score", method: .post, headers: [.contentType: "application/json"],
                body: ByteBuffer(repeating: UInt8(ascii: " "), count: 65_537)
            ) { r in #expect(r.status == .contentTooLarge) }
            // A stranger's upload signed in the query is refused before its 40 MiB body is read (403/404, not 413).
            let commitment = "0x" + String(repeating: "ab", count: 32)
            let (ts, sig) = http.signed(http.creatorKey, .object([JSONMember("task_id_commitment", .string(commitment))]), at: HTTPTests.start)
            try await client.execute(
                uri: "/v1/inference_tasks/\(commitment)/results?timestamp=\(ts)&signature=\(sig)", method: .post,
                headers: [.contentType: "multipart/form-data; boundary=x"], body: ByteBuffer(repeating: UInt8(ascii: "a"), count: 40 << 20)
            ) { r in #expect(r.status == .notFound, "\(r.status)") }
        }
    }
}
