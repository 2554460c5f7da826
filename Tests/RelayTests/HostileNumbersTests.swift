import CrynuxSDK
import Foundation
import Testing
@testable import Relay

/// Numbers from requests are range-checked before arithmetic, and deadlines never overflow.
@Suite struct HostileNumbersTests {
    static let finetuneArgs =
        #"{"model":{"name":"runwayml/stable-diffusion-v1-5"},"dataset":{"name":"lambdalabs/naruto-blip-captions"},"validation":{"num_images":1},"train_args":{"num_train_steps":10}}"#

    func create(_ h: inout Harness, type: TaskType = .llm, args: String = Harness.args, minVRAM: Int = 0, gpuVRAM: Int = 0, gpu: String = "",
                size: Int = 1, timeout: Int? = nil) throws(RelayError) -> RelayTask {
        let id = TaskIdentity.random()
        return try h.relay.createTask(
            .init(commitment: id.commitmentHex, taskArgs: args, taskType: type, nonce: id.nonceHex, modelIDs: [Harness.model], minVRAM: minVRAM,
                  requiredGPU: gpu, requiredGPUVRAM: gpuVRAM, taskSize: size, fee: Harness.fee, timeout: timeout),
            creator: h.creator, now: h.now)
    }

    @Test func absurdTaskNumbersAreAValidationErrorNamingTheField() throws {
        var h = Harness(rate: 0)
        func refused(_ field: String, _ attempt: (inout Harness) throws(RelayError) -> RelayTask) {
            do {
                _ = try attempt(&h)
                Issue.record("\(field): accepted")
            } catch { #expect(error.field == field) }
        }
        refused("timeout") { h throws(RelayError) in try create(&h, type: .sdFinetuneLora, args: Self.finetuneArgs, timeout: Int.max - 10) }
        refused("timeout") { h throws(RelayError) in try create(&h, type: .sdFinetuneLora, args: Self.finetuneArgs, timeout: 604_801) }
        refused("min_vram") { h throws(RelayError) in try create(&h, minVRAM: Int.max) }
        refused("required_gpu_vram") { h throws(RelayError) in try create(&h, gpuVRAM: Int.max, gpu: "X+Linux") }
        refused("task_size") { h throws(RelayError) in try create(&h, size: Int.max) }
        refused("task_size") { h throws(RelayError) in try create(&h, size: 0) }
        // A fine-tuning task within the bounds is accepted; the books still balance.
        _ = try create(&h, type: .sdFinetuneLora, args: Self.finetuneArgs, timeout: 7_200)
        h.checkMoney()
    }

    @Test func aNodeCannotDeclareAbsurdVRAM() throws {
        var h = Harness(rate: 0)
        #expect(throws: RelayError.self) { try h.join(1, vram: Int.max) }
        try h.join(2, vram: 80)
    }

    @Test func deadlinesFromHugeStoredNumbersSaturateInsteadOfTrapping() throws {
        var h = Harness(rate: 0)
        try h.join(1)
        let task = try create(&h)
        _ = h.relay.dispatch(now: h.now)
        // A task whose stored numbers are as large as they can be (an older relay's data, say): no trap, no expiry.
        h.relay.tasks[task.commitment]?.timeout = Int.max
        h.relay.tasks[task.commitment]?.startTime = Int64.max - 5
        #expect(h.relay.expireDeadlines(now: Int64.max - 1).isEmpty)
        #expect(RelayState.adding(.max - 1, 10) == .max && RelayState.adding(.min + 1, -10) == .min && RelayState.adding(2, 3) == 5)
    }
}
