import CrynuxSDK
import Foundation
import Hummingbird

/// Our `node_slots` extension (docs/slots.md): a node declares how many tasks it holds at once, the relay dispatches up
/// to that many, and the node reads all of them (with a long poll).
extension API {
    /// `POST /v1/node/{address}/slots`: the node declares its slots (`{"slots": n}`, signed with its address).
    func declareSlots(_ request: Request, _ context: RelayRequestContext) async throws -> Response {
        let address = try param(context, "address")
        let input = try await input(request, context)
        guard let slots = input.int("slots") else { throw RelayError.validation("slots", "must be an integer") }
        _ = try signer(
            input, signed: .object([JSONMember("address", .string(address)), JSONMember("slots", .integer(slots))]), expected: address, use: .write)
        try await service.perform { state, now throws(RelayError) in try state.declareSlots(address, slots: slots, now: now) }
        _ = try? await service.tick()
        return RelayHTTP.success()
    }

    /// `GET /v1/node/{address}/tasks`: every task the node holds, oldest first; with `wait_ms`, answers once the list is
    /// not `unless` (the commitments joined by commas) or at the deadline.
    func nodeTasks(_ request: Request, _ context: RelayRequestContext) async throws -> Response {
        let held = try await heldTasks(request, context) { $0.joined(separator: ",") }
        return RelayHTTP.success(.array(held.map { .string($0) }))
    }

    /// The tasks the path's node holds, oldest first. With `wait_ms`, read once `describe` of them is not the query's
    /// `unless`, or at the deadline.
    func heldTasks(
        _ request: Request, _ context: RelayRequestContext, describe: @escaping @Sendable ([String]) -> String
    ) async throws -> [String] {
        let address = try param(context, "address")
        let input = try await input(request, context, readingBody: false)
        if let deadline = try waitDeadline(input) {
            let unless = input.string("unless") ?? ""
            try await waitUntil(deadline) {
                try await service.read { state throws(RelayError) in describe(try state.currentTasks(of: address)) != unless }
            }
        }
        return try await service.read { state throws(RelayError) in try state.currentTasks(of: address) }
    }
}
