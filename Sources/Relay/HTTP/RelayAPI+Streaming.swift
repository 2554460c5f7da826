import CrynuxSDK
import Foundation
import Hummingbird

/// Our extensions of the relay protocol (docs/protocol.md §8): token streams of running LLM tasks, and long polls
/// that answer as soon as a task's state or a node's current task changes. Relays without them answer 404, and our
/// clients fall back to polling and whole answers.
extension API {
    /// The longest a long poll may wait.
    static let maxWait: Duration = .seconds(30)

    /// `GET /v1/extensions`: what this relay adds to the public protocol.
    func extensions() -> Response {
        RelayHTTP.success(.object([
            JSONMember("token_stream", .integer(1)), JSONMember("long_poll", .integer(1)), JSONMember("node_slots", .integer(1)),
        ]))
    }

    /// The deadline of a long poll (`wait_ms`, at most 30 s), or nil when the request does not ask to wait.
    func waitDeadline(_ input: Input) throws(RelayError) -> ContinuousClock.Instant? {
        guard let text = input.string("wait_ms") else { return nil }
        guard let ms = Int(text), ms >= 0 else { throw .validation("wait_ms", "must be a number of milliseconds") }
        return .now + min(.milliseconds(ms), Self.maxWait)
    }

    /// Waits until `changed` reads true, re-checking after every committed change, until `deadline`.
    func waitUntil(_ deadline: ContinuousClock.Instant, _ changed: () async throws -> Bool) async throws {
        while true {
            let seen = service.changes.current
            if try await changed() || ContinuousClock.now >= deadline || service.changes.isClosed { return }
            await service.changes.wait(after: seen, until: deadline)
        }
    }

    /// `POST /v1/inference_tasks/{commitment}/stream`: the task's node sends chunk `seq` of text deltas
    /// (`[{index, text}]`, signed with the sequence number and the commitment).
    func streamPost(_ request: Request, _ context: RelayRequestContext) async throws -> Response {
        let commitment = try param(context, "commitment")
        let input = try await input(request, context)
        guard let seq = input.int("seq"), seq >= 0 else { throw RelayError.validation("seq", "must be a non-negative integer") }
        guard case .array(let items)? = input.json?["deltas"], !items.isEmpty, items.count <= 16 else {
            throw RelayError.validation("deltas", "must be 1–16 deltas {index, text}")
        }
        var bytes = 0
        for item in items {
            guard let index = item["index"]?.doubleValue, let i = Int(exactly: index), (0..<16).contains(i), let text = item["text"]?.stringValue else {
                throw RelayError.validation("deltas", "each delta is {index: 0–15, text: string}")
            }
            bytes += text.utf8.count
        }
        let signed: JSONValue = .object([
            JSONMember("deltas", .array(items)), JSONMember("seq", .integer(seq)), JSONMember("task_id_commitment", .string(commitment)),
        ])
        let node = try signer(input, signed: signed, use: .write)
        try await service.read { state throws(RelayError) in
            guard let task = try state.lookup(commitment) else { throw .notFound("Task not found") }
            guard task.selectedNode == node else { throw .forbidden("Only the task's node may stream its text") }
            guard task.taskType == .llm, task.status == .started || task.status == .parametersUploaded else {
                throw .validation("task_id_commitment", "Illegal task state")
            }
        }
        try service.streams.append(commitment, seq: seq, deltas: .array(items), bytes: bytes)
        service.changes.bump()
        return RelayHTTP.success()
    }

    /// `GET /v1/inference_tasks/{commitment}/stream`: the task's creator reads its deltas as server-sent events
    /// (`id: seq`, `data: {seq, deltas}`), from after `after` or `Last-Event-ID`, until the task stops running
    /// (`event: end`, `data: {status}`).
    func streamGet(_ request: Request, _ context: RelayRequestContext) async throws -> Response {
        let commitment = try param(context, "commitment")
        let input = try await input(request, context)
        let reader = try signer(input, signed: .object([JSONMember("task_id_commitment", .string(commitment))]), use: .read)
        let timeout = try await service.read { state throws(RelayError) -> Int in
            guard let task = try state.lookup(commitment) else { throw .notFound("Task not found") }
            guard task.creator == reader else { throw .forbidden("Only the task's creator may read its stream") }
            return task.timeout
        }
        var after = input.int("after") ?? -1
        if let last = request.headers[.init("Last-Event-ID")!].flatMap({ Int($0) }) { after = max(after, last) }
        let start = after
        let service = self.service
        let body = ResponseBody { writer in
            var last = start
            let clock = ContinuousClock()
            let end = clock.now + .seconds(min(max(timeout, 60), 3_600) + 60)
            while clock.now < end, !service.changes.isClosed {
                let seen = service.changes.current
                // The status first: chunks sent before the task stopped running are then all in the window.
                let status = try? await service.read { state throws(RelayError) in try state.lookup(commitment)?.status }
                for chunk in service.streams.chunks(commitment, after: last) {
                    let data = JSONValue.object([JSONMember("seq", .integer(chunk.seq)), JSONMember("deltas", chunk.deltas)])
                    try await writer.write(ByteBuffer(string: "id: \(chunk.seq)\ndata: \(data.compactText)\n\n"))
                    last = chunk.seq
                }
                guard let status, status == .started || status == .parametersUploaded || status == .queued else {
                    let code = status.map { JSONValue.integer(Int($0.rawValue)) } ?? .null
                    try await writer.write(ByteBuffer(string: "event: end\ndata: \(JSONValue.object([JSONMember("status", code)]).compactText)\n\n"))
                    break
                }
                let ping = clock.now + .seconds(15)
                await service.changes.wait(after: seen, until: min(ping, end))
                if clock.now >= ping { try await writer.write(ByteBuffer(string: ": keep-alive\n\n")) }
            }
            try await writer.finish(nil)
        }
        return Response(status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-cache"], body: body)
    }
}
