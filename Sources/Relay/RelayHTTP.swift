import CrynuxSDK
import Foundation
import Hummingbird

/// The request context of the relay's routes: bodies up to 32 MiB, as the public relay allows.
public struct RelayRequestContext: RequestContext {
    /// Hummingbird's per-request storage.
    public var coreContext: CoreRequestContextStorage
    /// Creates the context.
    public init(source: Source) { coreContext = .init(source: source) }
    /// 32 MiB.
    public var maxUploadSize: Int { 32 << 20 }
}

/// The relay's HTTP API: the paths, envelopes, status codes and signature checks of `crynux-relay` (§2).
public enum RelayHTTP {
    /// The router for `service`; `dev` adds `POST /v1/dev/faucet`.
    public static func router(service: RelayService, dev: Bool) -> Router<RelayRequestContext> {
        let router = Router(context: RelayRequestContext.self)
        let api = API(service: service)
        router.get("/v1/now") { _, _ in success(.object([JSONMember("now", .integer(service.clock.now()))])) }

        // Applications.
        router.post("/v1/inference_tasks/validate") { request, context in await api.run { try await api.validate(request, context) } }
        router.post("/v1/inference_tasks/:commitment") { request, context in await api.run { try await api.createTask(request, context) } }
        router.get("/v1/inference_tasks/:commitment") { request, context in await api.run { try await api.getTask(request, context) } }
        router.get("/v1/inference_tasks/:commitment/results/:index") { request, context in
            await api.run { try await api.getResult(request, context) }
        }
        router.post("/v1/inference_tasks/:commitment/abort_reason") { request, context in await api.run { try await api.abort(request, context) } }
        router.get("/v1/inference_tasks/:commitment/selected_node") { request, context in
            await api.run { try await api.selectedNode(request, context) }
        }
        router.get("/v2/relay_account/:address/balance") { request, context in await api.run { try await api.balance(request, context) } }
        router.get("/v1/events") { request, _ in await api.run { try await api.events(request) } }
        router.get("/v1/events/current_id") { _, _ in
            await api.run { success(.integer(try await service.read { $0.events.count })) }
        }
        router.get("/v1/network") { _, _ in await api.run { try await api.network() } }
        router.get("/v1/network/nodes/number") { _, _ in
            await api.run {
                try await service.read { s in
                    let live = s.nodes.values.filter { $0.status != .quit }
                    return RelayHTTP.success(.object([
                        JSONMember("all_nodes", .integer(live.count)), JSONMember("busy_nodes", .integer(live.filter { $0.status == .busy }.count)),
                        JSONMember("active_nodes", .integer(live.filter { $0.status == .available || $0.status == .busy }.count)),
                    ]))
                }
            }
        }
        router.get("/v1/network/tasks/number") { _, _ in
            await api.run {
                try await service.read { s in
                    RelayHTTP.success(.object([
                        JSONMember("total_tasks", .integer(s.tasks.count)),
                        JSONMember("running_tasks", .integer(s.tasks.values.filter { !$0.status.isTerminal && $0.status != .queued }.count)),
                        JSONMember("queued_tasks", .integer(s.tasks.values.filter { $0.status == .queued }.count)),
                    ]))
                }
            }
        }
        router.get("/v2/loaded-models") { _, _ in
            await api.run {
                try await service.read { s in
                    var counts: [String: Int] = [:]
                    for node in s.nodes.values where node.status != .quit { for m in node.inUseModelIDs { counts[m, default: 0] += 1 } }
                    return RelayHTTP.success(.array(counts.sorted { $0.key < $1.key }.map {
                        .object([JSONMember("model_id", .string($0.key)), JSONMember("count", .integer($0.value))])
                    }))
                }
            }
        }
        router.get("/v1/stats/queue/count") { _, _ in
            await api.run { success(.integer(try await service.read { s in s.tasks.values.filter { $0.status == .queued }.count })) }
        }

        // Nodes.
        router.post("/v2/node/:address/join") { request, context in await api.run { try await api.join(request, context) } }
        router.post("/v2/node/:address/capabilities") { request, context in await api.run { try await api.capabilities(request, context) } }
        router.post("/v2/tasks/:commitment/node_error") { request, context in await api.run { try await api.nodeError(request, context) } }
        router.get("/v1/node/:address") { _, context in await api.run { try await api.node(context) } }
        router.get("/v1/node/:address/task") { _, context in await api.run { try await api.nodeTask(context) } }
        for action in ["pause", "resume", "quit"] {
            router.post("/v1/node/:address/\(action)") { request, context in
                await api.run { try await api.nodeAction(action, request, context) }
            }
        }
        router.post("/v1/node/:address/model") { request, context in await api.run { try await api.modelDownloaded(request, context) } }
        router.post("/v1/inference_tasks/:commitment/score") { request, context in await api.run { try await api.score(request, context) } }
        router.post("/v1/inference_tasks/:commitment/task_error") { request, context in
            await api.run { try await api.taskError(request, context) }
        }
        router.post("/v1/inference_tasks/:commitment/results") { request, context in
            await api.run { try await api.upload(request, context) }
        }
        if dev {
            router.post("/v1/dev/faucet") { request, context in await api.run { try await api.faucet(request, context) } }
        }
        return router
    }

    /// `{"message":"success","data":…}` with HTTP 200.
    static func success(_ data: JSONValue? = nil) -> Response {
        var members = [JSONMember("message", .string("success"))]
        if let data { members.append(JSONMember("data", data)) }
        return json(.ok, .object(members))
    }

    static func json(_ status: HTTPResponse.Status, _ value: JSONValue) -> Response {
        Response(
            status: status, headers: [.contentType: "application/json; charset=utf-8"],
            body: ResponseBody(byteBuffer: ByteBuffer(string: value.compactText)))
    }

    /// The relay's error shapes: 400 `validation_error` with `field_name`, 404/403 with a message, 500 otherwise.
    static func failure(_ error: any Error) -> Response {
        if let error = error as? RelayError {
            switch error.kind {
            case .validation:
                return json(.badRequest, .object([
                    JSONMember("message", .string("validation_error")),
                    JSONMember("data", .object([JSONMember("field_name", .string(error.field)), JSONMember("message", .string(error.message))])),
                ]))
            case .notFound: return json(.notFound, .object([JSONMember("message", .string(error.message))]))
            case .tooLarge: return json(.contentTooLarge, .object([JSONMember("message", .string(error.message))]))
            default: return json(.forbidden, .object([JSONMember("message", .string(error.message))]))
            }
        }
        return json(.internalServerError, .object([JSONMember("message", .string("internal error"))]))
    }
}

/// The route handlers.
struct API: Sendable {
    let service: RelayService

    func run(_ body: () async throws -> Response) async -> Response {
        do { return try await body() } catch { return RelayHTTP.failure(error) }
    }

    // MARK: Inputs

    /// The request's fields: query, then a JSON object, urlencoded or multipart body (repeated fields kept).
    struct Input {
        var fields: [String: [String]] = [:]
        var json: JSONValue?
        var files: [[UInt8]] = []

        func string(_ name: String) -> String? { json?[name]?.stringValue ?? fields[name]?.first }
        func int(_ name: String) -> Int? {
            if let number = json?[name]?.doubleValue { return Int(exactly: number) }
            return fields[name]?.first.flatMap { Int($0) }
        }
        func strings(_ name: String) -> [String] {
            if case .array(let items)? = json?[name] { return items.compactMap(\.stringValue) }
            return fields[name] ?? []
        }
        func required(_ name: String) throws(RelayError) -> String {
            guard let value = string(name), !value.isEmpty else { throw .validation(name, "is required") }
            return value
        }
        func requiredInt(_ name: String) throws(RelayError) -> Int {
            guard let value = int(name) else { throw .validation(name, "must be an integer") }
            return value
        }
    }

    func input(_ request: Request, _ context: RelayRequestContext) async throws -> Input {
        var input = Input()
        for (key, value) in request.uri.queryParameters { input.fields[String(key), default: []].append(String(value)) }
        guard request.method == .post else { return input }
        let buffer: ByteBuffer
        do { buffer = try await request.body.collect(upTo: context.maxUploadSize) } catch {
            throw RelayError(kind: .tooLarge, field: "body", message: "Request body too large (the limit is 32 MiB)")
        }
        let bytes = Array(buffer.readableBytesView)
        let type = request.headers[.contentType] ?? ""
        if type.hasPrefix("application/json") {
            guard let value = try? JSONValue.parse(bytes), case .object = value else { throw RelayError.validation("body", "must be a JSON object") }
            input.json = value
        } else if type.hasPrefix("application/x-www-form-urlencoded") {
            for (key, value) in FormData.urlencoded(String(decoding: bytes, as: UTF8.self)) { input.fields[key, default: []].append(value) }
        } else if type.hasPrefix("multipart/form-data") {
            guard let boundary = FormData.boundary(type) else { throw RelayError.validation("body", "multipart without a boundary") }
            for part in try FormData.multipart(bytes, boundary: boundary) {
                if part.filename != nil || part.name == "files" {
                    input.files.append(part.body)
                } else {
                    input.fields[part.name, default: []].append(String(decoding: part.body, as: UTF8.self))
                }
            }
        } else if !bytes.isEmpty {
            throw RelayError.validation("body", "unsupported content type")
        }
        return input
    }

    /// Checks `timestamp`/`signature` over `signed` and returns the signer's EIP-55 address; with `expected`,
    /// the signer must be that address.
    func signer(_ input: Input, signed: JSONValue, expected: String? = nil) throws(RelayError) -> String {
        guard let timestamp = input.int("timestamp").map(Int64.init) else { throw .validation("timestamp", "is required") }
        guard let signature = input.string("signature"), !signature.isEmpty else { throw .validation("signature", "is required") }
        let now = service.clock.now()
        guard abs(now - timestamp) <= RelaySignatureVerifier.defaultTolerance else { throw .validation("timestamp", "Timestamp expired") }
        let address: Address
        do {
            address = try RelaySignatureVerifier.recoverAddress(canonical: CanonicalJSON.encode(signed), timestamp: timestamp, signature: signature)
        } catch { throw .validation("signature", "Invalid signature") }
        if let expected, address.checksummed != expected { throw .validation("signature", "Invalid signature") }
        return address.checksummed
    }

    func param(_ context: RelayRequestContext, _ name: String) throws(RelayError) -> String {
        guard let value = context.parameters.get(name) else { throw .validation(name, "is required") }
        return value
    }

    // MARK: Applications

    func createTask(_ request: Request, _ context: RelayRequestContext) async throws -> Response {
        let commitment = try param(context, "commitment")
        let input = try await input(request, context)
        let taskType = try input.requiredInt("task_type")
        guard let type = TaskType(rawValue: taskType) else { throw RelayError.validation("task_type", "must be 0, 1 or 2") }
        let fee = try input.required("task_fee")
        guard let feeWei = Wei(decimal: fee) else { throw RelayError.validation("task_fee", "must be a decimal wei amount") }
        let timeout = input.int("timeout") ?? 0
        var signed: [JSONMember] = [
            JSONMember("task_id_commitment", .string(commitment)), JSONMember("task_args", .string(try input.required("task_args"))),
            JSONMember("task_type", .integer(taskType)), JSONMember("nonce", .string(try input.required("nonce"))),
            JSONMember("task_model_ids", .array(input.strings("task_model_ids").map { .string($0) })),
            JSONMember("min_vram", input.int("min_vram").map { .integer($0) } ?? .null),
            JSONMember("required_gpu", input.string("required_gpu").map { .string($0) } ?? .null),
            JSONMember("required_gpu_vram", input.int("required_gpu_vram").map { .integer($0) } ?? .null),
            JSONMember("task_version", .string(try input.required("task_version"))),
            JSONMember("task_size", input.int("task_size").map { .integer($0) } ?? .null), JSONMember("task_fee", .string(fee)),
        ]
        if timeout > 0 { signed.append(JSONMember("timeout", .integer(timeout))) }
        let creator = try signer(input, signed: .object(signed))
        let new = RelayState.NewTask(
            commitment: commitment, taskArgs: try input.required("task_args"), taskType: type, nonce: try input.required("nonce"),
            modelIDs: input.strings("task_model_ids"), minVRAM: try input.requiredInt("min_vram"), requiredGPU: input.string("required_gpu") ?? "",
            requiredGPUVRAM: try input.requiredInt("required_gpu_vram"), taskVersion: try input.required("task_version"),
            taskSize: try input.requiredInt("task_size"), fee: feeWei, timeout: timeout > 0 ? timeout : nil)
        let task = try await service.perform { state, now throws(RelayError) in try state.createTask(new, creator: creator, now: now) }
        _ = try? await service.tick()  // match at once instead of waiting for the next round
        return RelayHTTP.success(Self.record(try await service.read { $0.tasks[task.commitment] ?? task }))
    }

    func getTask(_ request: Request, _ context: RelayRequestContext) async throws -> Response {
        let commitment = try param(context, "commitment")
        let input = try await input(request, context)
        let address = try signer(input, signed: .object([JSONMember("task_id_commitment", .string(commitment))]))
        return RelayHTTP.success(Self.record(try await service.read { state throws(RelayError) in try state.task(commitment, for: address) }))
    }

    func getResult(_ request: Request, _ context: RelayRequestContext) async throws -> Response {
        let commitment = try param(context, "commitment")
        let indexText = try param(context, "index")
        guard let index = Int(indexText), index >= 0 else { throw RelayError.validation("index", "must be a number") }
        let input = try await input(request, context)
        let address = try signer(input, signed: .object([JSONMember("index", .string(indexText)), JSONMember("task_id_commitment", .string(commitment))]))
        let bytes = try await service.result(commitment, index: index, for: address)
        return Response(status: .ok, headers: [.contentType: "application/octet-stream"], body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    func validate(_ request: Request, _ context: RelayRequestContext) async throws -> Response {
        let input = try await input(request, context)
        let commitments = input.strings("task_id_commitments")
        let signed: JSONValue = .object([
            JSONMember("public_key", .string(try input.required("public_key"))), JSONMember("task_id", .string(try input.required("task_id"))),
            JSONMember("task_id_commitments", .array(commitments.map { .string($0) })), JSONMember("vrf_proof", .string(try input.required("vrf_proof"))),
        ])
        let creator = try signer(input, signed: signed)
        try await service.perform { state, now throws(RelayError) in
            try state.validate(
                commitments: commitments, taskID: try input.required("task_id"), vrfProof: try input.required("vrf_proof"),
                publicKey: try input.required("public_key"), by: creator, now: now)
        }
        _ = try? await service.tick()
        return RelayHTTP.success()
    }

    func abort(_ request: Request, _ context: RelayRequestContext) async throws -> Response {
        let commitment = try param(context, "commitment")
        let input = try await input(request, context)
        let reason = try input.requiredInt("abort_reason")
        let creator = try signer(input, signed: .object([JSONMember("abort_reason", .integer(reason)), JSONMember("task_id_commitment", .string(commitment))]))
        guard reason == Int(AbortReason.creatorCancelled.rawValue) else { throw RelayError.validation("abort_reason", "only 7 (cancelled) is allowed") }
        try await service.perform { state, now throws(RelayError) in try state.cancel(commitment, by: creator, now: now) }
        return RelayHTTP.success()
    }

    func selectedNode(_ request: Request, _ context: RelayRequestContext) async throws -> Response {
        let commitment = try param(context, "commitment")
        let input = try await input(request, context)
        let address = try signer(input, signed: .object([JSONMember("task_id_commitment", .string(commitment))]))
        let node = try await service.read { state throws(RelayError) -> RelayNode in
            let task = try state.task(commitment, for: address)
            guard let selected = task.selectedNode, let node = state.nodes[selected] else { throw .notFound("Node not selected") }
            return node
        }
        return RelayHTTP.success(.object([
            JSONMember("address", .string(node.address)), JSONMember("status", .integer(Int(node.status.rawValue))),
            JSONMember("gpu_name", .string(node.gpuName)), JSONMember("gpu_vram", .integer(node.gpuVRAM)),
            JSONMember("version", .string(node.version.map(String.init).joined(separator: "."))), JSONMember("network", .string(node.network)),
        ]))
    }

    func balance(_ request: Request, _ context: RelayRequestContext) async throws -> Response {
        let address = try param(context, "address")
        let input = try await input(request, context)
        _ = try signer(input, signed: .object([JSONMember("address", .string(address))]), expected: address)
        return RelayHTTP.success(.string(try await service.read { $0.balance(of: address).decimalString }))
    }

    func events(_ request: Request) async throws -> Response {
        let q = request.uri.queryParameters
        let start = q["start"].flatMap { Int(String($0)) } ?? 0
        let limit = min(max(q["limit"].flatMap { Int(String($0)) } ?? 50, 1), 1000)
        let type = q["event_type"].map(String.init), node = q["node_address"].map(String.init), task = q["task_id_commitment"].map(String.init)
        let events = try await service.read { state in
            state.events.filter { e in
                e.id >= start && (type == nil || e.type == type) && (node == nil || e.nodeAddress == node) && (task == nil || e.taskIDCommitment == task)
            }.prefix(limit).map { $0 }
        }
        return RelayHTTP.success(.array(events.map { e in
            .object([
                JSONMember("id", .integer(e.id)), JSONMember("type", .string(e.type)), JSONMember("node_address", .string(e.nodeAddress)),
                JSONMember("task_id_commitment", .string(e.taskIDCommitment)), JSONMember("args", .string(e.args.compactText)),
            ])
        }))
    }

    func network() async throws -> Response {
        try await service.read { state in
            let nodes = state.nodes.values
            return RelayHTTP.success(.object([
                JSONMember("all_nodes", .integer(nodes.filter { $0.status != .quit }.count)),
                JSONMember("available_nodes", .integer(nodes.filter { $0.status == .available }.count)),
                JSONMember("busy_nodes", .integer(nodes.filter { $0.status == .busy }.count)),
                JSONMember("queued_tasks", .integer(state.tasks.values.filter { $0.status == .queued }.count)),
                JSONMember("running_tasks", .integer(state.tasks.values.filter { !$0.status.isTerminal && $0.status != .queued }.count)),
                JSONMember("total_tasks", .integer(state.tasks.count)),
            ]))
        }
    }

    func faucet(_ request: Request, _ context: RelayRequestContext) async throws -> Response {
        let input = try await input(request, context)
        let text = try input.required("address")
        guard let address = try? Address(text) else { throw RelayError.validation("address", "not an Ethereum address") }
        guard let amount = Wei(decimal: try input.required("amount")) else { throw RelayError.validation("amount", "must be a decimal wei amount") }
        try await service.perform { state, now throws(RelayError) in try state.deposit(to: address.checksummed, amount: amount, now: now) }
        return RelayHTTP.success(.string(try await service.read { $0.balance(of: address.checksummed).decimalString }))
    }

    // MARK: Nodes

    func join(_ request: Request, _ context: RelayRequestContext) async throws -> Response {
        let address = try param(context, "address")
        let input = try await input(request, context)
        let staking = try input.required("staking")
        guard let stake = Wei(decimal: staking) else { throw RelayError.validation("staking", "must be a decimal wei amount") }
        let signed: JSONValue = .object([
            JSONMember("address", .string(address)), JSONMember("gpu_name", .string(try input.required("gpu_name"))),
            JSONMember("gpu_vram", .integer(try input.requiredInt("gpu_vram"))),
            JSONMember("model_ids", .array(input.strings("model_ids").map { .string($0) })), JSONMember("network", .string(input.string("network") ?? "")),
            JSONMember("staking", .string(staking)), JSONMember("version", .string(try input.required("version"))),
        ])
        _ = try signer(input, signed: signed, expected: address)
        let join = RelayState.Join(
            gpuName: try input.required("gpu_name"), gpuVRAM: try input.requiredInt("gpu_vram"), modelIDs: input.strings("model_ids"),
            version: try input.required("version"), staking: stake, network: input.string("network") ?? "")
        try await service.perform { state, now throws(RelayError) in try state.join(address, join, now: now) }
        _ = try? await service.tick()
        return RelayHTTP.success()
    }

    func capabilities(_ request: Request, _ context: RelayRequestContext) async throws -> Response {
        let address = try param(context, "address")
        let input = try await input(request, context)
        let signed: JSONValue = .object([
            JSONMember("address", .string(address)), JSONMember("gpu_name", .string(try input.required("gpu_name"))),
            JSONMember("gpu_vram", .integer(try input.requiredInt("gpu_vram"))),
            JSONMember("model_ids", .array(input.strings("model_ids").map { .string($0) })), JSONMember("version", .string(try input.required("version"))),
        ])
        _ = try signer(input, signed: signed, expected: address)
        try await service.perform { state, now throws(RelayError) in
            try state.updateCapabilities(
                address, gpuName: try input.required("gpu_name"), gpuVRAM: try input.requiredInt("gpu_vram"), modelIDs: input.strings("model_ids"),
                version: try input.required("version"), now: now)
        }
        _ = try? await service.tick()
        return RelayHTTP.success()
    }

    /// Diagnostics a node sends about a failed task: checked, logged, not stored.
    func nodeError(_ request: Request, _ context: RelayRequestContext) async throws -> Response {
        let commitment = try param(context, "commitment")
        let input = try await input(request, context)
        guard case .object(var members)? = input.json else { throw RelayError.validation("body", "must be a JSON object") }
        members.removeAll { $0.key == "timestamp" || $0.key == "signature" }
        if !members.contains(where: { $0.key == "task_id_commitment" }) { members.append(JSONMember("task_id_commitment", .string(commitment))) }
        let node = try signer(input, signed: .object(members))
        context.logger.warning("node error report", metadata: ["task": "\(commitment)", "node": "\(node)", "error_type": "\(input.string("error_type") ?? "")"])
        return RelayHTTP.success()
    }

    func node(_ context: RelayRequestContext) async throws -> Response {
        let address = try param(context, "address")
        let node = try await service.read { state throws(RelayError) -> RelayNode in
            guard let node = state.nodes[address] else { throw .notFound("Node not found") }
            return node
        }
        return RelayHTTP.success(.object([
            JSONMember("address", .string(node.address)), JSONMember("status", .integer(Int(node.status.rawValue))),
            JSONMember("gpu_name", .string(node.gpuName)), JSONMember("gpu_vram", .integer(node.gpuVRAM)),
            JSONMember("qos_score", .number(String(node.longTermQoS))),
            JSONMember("version", .string(node.version.map(String.init).joined(separator: "."))),
            JSONMember("in_use_model_ids", .array(node.inUseModelIDs.sorted().map { .string($0) })),
            JSONMember("model_ids", .array(node.modelIDs.sorted().map { .string($0) })), JSONMember("network", .string(node.network)),
        ]))
    }

    func nodeTask(_ context: RelayRequestContext) async throws -> Response {
        let address = try param(context, "address")
        let current = try await service.read { state throws(RelayError) in try state.currentTask(of: address) }
        return RelayHTTP.success(current.map { .string($0) } ?? .string(""))
    }

    func nodeAction(_ action: String, _ request: Request, _ context: RelayRequestContext) async throws -> Response {
        let address = try param(context, "address")
        let input = try await input(request, context)
        _ = try signer(input, signed: .object([JSONMember("address", .string(address))]), expected: address)
        try await service.perform { state, now throws(RelayError) in
            switch action {
            case "pause": try state.pause(address, now: now)
            case "resume": try state.resume(address, now: now)
            default: try state.quit(address, now: now)
            }
        }
        return RelayHTTP.success()
    }

    func modelDownloaded(_ request: Request, _ context: RelayRequestContext) async throws -> Response {
        let address = try param(context, "address")
        let input = try await input(request, context)
        let model = try input.required("model_id")
        _ = try signer(input, signed: .object([JSONMember("address", .string(address)), JSONMember("model_id", .string(model))]), expected: address)
        try await service.perform { state, now throws(RelayError) in try state.modelDownloaded(address, model: model, now: now) }
        _ = try? await service.tick()
        return RelayHTTP.success()
    }

    func score(_ request: Request, _ context: RelayRequestContext) async throws -> Response {
        let commitment = try param(context, "commitment")
        let input = try await input(request, context)
        let score = try input.required("score")
        let node = try signer(input, signed: .object([JSONMember("score", .string(score)), JSONMember("task_id_commitment", .string(commitment))]))
        try await service.perform { state, now throws(RelayError) in try state.submitScore(commitment, score: score, by: node, now: now) }
        return RelayHTTP.success()
    }

    func taskError(_ request: Request, _ context: RelayRequestContext) async throws -> Response {
        let commitment = try param(context, "commitment")
        let input = try await input(request, context)
        let code = try input.requiredInt("task_error")
        let node = try signer(input, signed: .object([JSONMember("task_error", .integer(code)), JSONMember("task_id_commitment", .string(commitment))]))
        guard code == 1 else { throw RelayError.validation("task_error", "only 1 (invalid parameters) is reported") }
        try await service.perform { state, now throws(RelayError) in try state.reportError(commitment, by: node, now: now) }
        return RelayHTTP.success()
    }

    func upload(_ request: Request, _ context: RelayRequestContext) async throws -> Response {
        let commitment = try param(context, "commitment")
        let input = try await input(request, context)
        let node = try signer(input, signed: .object([JSONMember("task_id_commitment", .string(commitment))]))
        try await service.uploadResults(commitment, files: input.files, by: node)
        _ = try? await service.tick()
        return RelayHTTP.success()
    }

    // MARK: Records

    /// The task record as the relay returns it.
    static func record(_ t: RelayTask) -> JSONValue {
        let formatter = ISO8601DateFormatter()
        func time(_ v: Int64?) -> JSONValue {
            guard let v else { return .null }
            return .string(formatter.string(from: Date(timeIntervalSince1970: TimeInterval(v))))
        }
        return .object([
            JSONMember("sequence", .integer(t.sequence)), JSONMember("task_args", .string(t.taskArgs)),
            JSONMember("task_id_commitment", .string(t.commitment)), JSONMember("creator", .string(t.creator)),
            JSONMember("sampling_seed", .string("0x" + Hex.encode(t.samplingSeed))), JSONMember("nonce", .string(t.nonce)),
            JSONMember("status", .integer(Int(t.status.rawValue))), JSONMember("task_type", .integer(t.taskType.rawValue)),
            JSONMember("task_version", .string(t.taskVersion)), JSONMember("timeout", .integer(t.timeout)),
            JSONMember("min_vram", .integer(t.minVRAM)), JSONMember("required_gpu", .string(t.requiredGPU)),
            JSONMember("required_gpu_vram", .integer(t.requiredGPUVRAM)), JSONMember("task_fee", .string(t.fee.decimalString)),
            JSONMember("task_size", .integer(t.taskSize)), JSONMember("model_ids", .array(t.modelIDs.map { .string($0) })),
            JSONMember("abort_reason", .integer(Int(t.abortReason.rawValue))), JSONMember("task_error", .integer(Int(t.taskError))),
            JSONMember("score", .string(t.score)), JSONMember("qos_score", t.qosScore.map { .integer($0) } ?? .integer(0)),
            JSONMember("selected_node", .string(t.selectedNode ?? "")), JSONMember("create_time", time(t.createTime)),
            JSONMember("start_time", time(t.startTime)), JSONMember("score_ready_time", time(t.scoreReadyTime)),
            JSONMember("validated_time", time(t.validatedTime)), JSONMember("result_uploaded_time", time(t.resultUploadedTime)),
        ])
    }
}

/// Form bodies: `application/x-www-form-urlencoded` and `multipart/form-data`.
enum FormData {
    /// Pairs in order (repeated names kept); `+` is a space, `%XX` a byte.
    static func urlencoded(_ text: String) -> [(String, String)] {
        text.split(separator: "&", omittingEmptySubsequences: true).map { pair in
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            return (decode(parts[0]), parts.count > 1 ? decode(parts[1]) : "")
        }
    }

    static func decode(_ s: Substring) -> String {
        var bytes: [UInt8] = []
        var i = s.utf8.startIndex
        let u = s.utf8
        while i < u.endIndex {
            let c = u[i]
            if c == UInt8(ascii: "+") {
                bytes.append(0x20)
            } else if c == UInt8(ascii: "%"), let j = u.index(i, offsetBy: 2, limitedBy: u.endIndex), j < u.endIndex,
                let v = UInt8(String(decoding: u[u.index(after: i)...j], as: UTF8.self), radix: 16)
            {
                bytes.append(v)
                i = j
            } else {
                bytes.append(c)
            }
            i = u.index(after: i)
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    static func boundary(_ contentType: String) -> String? {
        for parameter in contentType.split(separator: ";").dropFirst() {
            let kv = parameter.trimmingCharacters(in: .whitespaces).split(separator: "=", maxSplits: 1)
            if kv.count == 2, kv[0].lowercased() == "boundary" {
                let value = String(kv[1])
                return value.hasPrefix("\"") && value.hasSuffix("\"") && value.count >= 2 ? String(value.dropFirst().dropLast()) : value
            }
        }
        return nil
    }

    struct Part {
        var name: String
        var filename: String?
        var body: [UInt8]
    }

    /// The parts of a multipart body (RFC 7578).
    static func multipart(_ body: [UInt8], boundary: String) throws(RelayError) -> [Part] {
        let delimiter = Array("--\(boundary)".utf8)
        var parts: [Part] = []
        var positions: [Int] = []
        var i = 0
        while let found = search(body, delimiter, from: i) {
            positions.append(found)
            i = found + delimiter.count
        }
        guard positions.count >= 2 else { throw .validation("body", "malformed multipart body") }
        for (start, end) in zip(positions, positions.dropFirst()) {
            var p = start + delimiter.count
            guard p + 2 <= body.count, body[p] == 13, body[p + 1] == 10 else { continue }
            p += 2
            guard let headerEnd = search(body, [13, 10, 13, 10], from: p), headerEnd < end else { throw .validation("body", "malformed multipart part") }
            let headers = String(decoding: body[p..<headerEnd], as: UTF8.self)
            var contentEnd = end
            if contentEnd >= 2, body[contentEnd - 2] == 13, body[contentEnd - 1] == 10 { contentEnd -= 2 }
            var name = "", filename: String?
            for line in headers.components(separatedBy: "\r\n") where line.lowercased().hasPrefix("content-disposition:") {
                for item in line.split(separator: ";").dropFirst() {
                    let kv = item.trimmingCharacters(in: .whitespaces).split(separator: "=", maxSplits: 1)
                    guard kv.count == 2 else { continue }
                    let value = String(kv[1]).trimmingCharacters(in: CharacterSet(charactersIn: "\""))
                    if kv[0] == "name" { name = value } else if kv[0] == "filename" { filename = value }
                }
            }
            parts.append(Part(name: name, filename: filename, body: Array(body[(headerEnd + 4)..<max(headerEnd + 4, contentEnd)])))
        }
        return parts
    }

    static func search(_ haystack: [UInt8], _ needle: [UInt8], from: Int) -> Int? {
        guard !needle.isEmpty, haystack.count >= needle.count else { return nil }
        var i = from
        while i <= haystack.count - needle.count {
            if haystack[i] == needle[0], haystack[i..<(i + needle.count)].elementsEqual(needle) { return i }
            i += 1
        }
        return nil
    }
}
