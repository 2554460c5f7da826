import CrynuxSDK
import Foundation
import Hummingbird

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

    /// Body limits by route: result uploads may be large, a task's creation holds its arguments, the rest is small.
    enum BodyLimit: Int {
        case small = 65_536
        case create = 4_194_304
        case upload = 33_554_432
    }

    /// Seconds a request body may take to arrive (a client dribbling a body cannot hold a connection for long).
    static let bodyDeadline: Duration = .seconds(120)

    /// The request's query fields, then (unless `readingBody` is false) its body's, read within `limit` bytes and
    /// `bodyDeadline`.
    func input(_ request: Request, _ context: RelayRequestContext, limit: BodyLimit = .small, readingBody: Bool = true) async throws -> Input {
        var input = Input()
        for (key, value) in request.uri.queryParameters { input.fields[String(key), default: []].append(String(value)) }
        guard request.method == .post, readingBody else { return input }
        let buffer: ByteBuffer
        do { buffer = try await collectBody(request.body, limit: limit.rawValue, deadline: .now + Self.bodyDeadline) } catch BodyReadError.tooSlow {
            throw RelayError.validation("body", "the request body did not arrive within \(Int(Self.bodyDeadline.components.seconds)) s")
        } catch {
            throw RelayError(kind: .tooLarge, field: "body", message: "Request body too large (the limit here is \(limit.rawValue) bytes)")
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
    /// the signer must be that address. `use` says whether the message may be presented again (`ReplayGuard`).
    func signer(_ input: Input, signed: JSONValue, expected: String? = nil, use: ReplayGuard.Use) throws(RelayError) -> String {
        guard let timestamp = input.int("timestamp").map(Int64.init) else { throw .validation("timestamp", "is required") }
        guard let signature = input.string("signature"), !signature.isEmpty else { throw .validation("signature", "is required") }
        let now = service.clock.now()
        guard abs(now - timestamp) <= RelaySignatureVerifier.defaultTolerance else { throw .validation("timestamp", "Timestamp expired") }
        let address: Address
        let canonical = CanonicalJSON.encode(signed)
        do {
            address = try RelaySignatureVerifier.recoverAddress(canonical: canonical, timestamp: timestamp, signature: signature)
        } catch { throw .validation("signature", "Invalid signature") }
        if let expected, address.checksummed != expected { throw .validation("signature", "Invalid signature") }
        try service.replayGuard.admit(signer: address.checksummed, canonical: canonical, timestamp: timestamp, use: use, now: now)
        return address.checksummed
    }

    func param(_ context: RelayRequestContext, _ name: String) throws(RelayError) -> String {
        guard let value = context.parameters.get(name) else { throw .validation(name, "is required") }
        return value
    }

    // MARK: Applications

    func createTask(_ request: Request, _ context: RelayRequestContext) async throws -> Response {
        let commitment = try param(context, "commitment")
        let input = try await input(request, context, limit: .create)
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
        let creator = try signer(input, signed: .object(signed), use: .write)
        let new = RelayState.NewTask(
            commitment: commitment, taskArgs: try input.required("task_args"), taskType: type, nonce: try input.required("nonce"),
            modelIDs: input.strings("task_model_ids"), minVRAM: try input.requiredInt("min_vram"), requiredGPU: input.string("required_gpu") ?? "",
            requiredGPUVRAM: try input.requiredInt("required_gpu_vram"), taskVersion: try input.required("task_version"),
            taskSize: try input.requiredInt("task_size"), fee: feeWei, timeout: timeout > 0 ? timeout : nil)
        let task = try await service.createTask(new, creator: creator)
        _ = try? await service.tick()  // match at once instead of waiting for the next round
        return RelayHTTP.success(Self.record(try await service.read { state throws(RelayError) in try state.lookup(task.commitment) ?? task }))
    }

    func getTask(_ request: Request, _ context: RelayRequestContext) async throws -> Response {
        let commitment = try param(context, "commitment")
        let input = try await input(request, context)
        let address = try signer(input, signed: .object([JSONMember("task_id_commitment", .string(commitment))]), use: .read)
        // Our long poll: with `wait_ms` and `unless_status`, answer once the status differs (or at the deadline).
        if let deadline = try waitDeadline(input), let unless = input.int("unless_status") {
            try await waitUntil(deadline) {
                try await service.read { state throws(RelayError) in Int(try state.task(commitment, for: address).status.rawValue) != unless }
            }
        }
        return RelayHTTP.success(Self.record(try await service.read { state throws(RelayError) in try state.task(commitment, for: address) }))
    }

    func getResult(_ request: Request, _ context: RelayRequestContext) async throws -> Response {
        let commitment = try param(context, "commitment")
        let indexText = try param(context, "index")
        guard let index = Int(indexText), index >= 0 else { throw RelayError.validation("index", "must be a number") }
        let input = try await input(request, context)
        let address = try signer(
            input, signed: .object([JSONMember("index", .string(indexText)), JSONMember("task_id_commitment", .string(commitment))]), use: .read)
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
        let creator = try signer(input, signed: signed, use: .write)
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
        let creator = try signer(
            input, signed: .object([JSONMember("abort_reason", .integer(reason)), JSONMember("task_id_commitment", .string(commitment))]), use: .write)
        guard reason == Int(AbortReason.creatorCancelled.rawValue) else { throw RelayError.validation("abort_reason", "only 7 (cancelled) is allowed") }
        try await service.perform { state, now throws(RelayError) in try state.cancel(commitment, by: creator, now: now) }
        return RelayHTTP.success()
    }

    func selectedNode(_ request: Request, _ context: RelayRequestContext) async throws -> Response {
        let commitment = try param(context, "commitment")
        let input = try await input(request, context)
        let address = try signer(input, signed: .object([JSONMember("task_id_commitment", .string(commitment))]), use: .read)
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
        _ = try signer(input, signed: .object([JSONMember("address", .string(address))]), expected: address, use: .read)
        return RelayHTTP.success(.string(try await service.read { $0.balance(of: address).decimalString }))
    }

    func events(_ request: Request) async throws -> Response {
        let q = request.uri.queryParameters
        let start = q["start"].flatMap { Int(String($0)) } ?? 0
        let limit = min(max(q["limit"].flatMap { Int(String($0)) } ?? 50, 1), 1000)
        let type = q["event_type"].map(String.init), node = q["node_address"].map(String.init), task = q["task_id_commitment"].map(String.init)
        let events = try await service.events(from: start, limit: limit, type: type, node: node, task: task)
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
                JSONMember("queued_tasks", .integer(state.tasks.queuedCount)),
                JSONMember("running_tasks", .integer(state.tasks.runningCount)),
                JSONMember("total_tasks", .integer(state.sequenceNumber)),
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
        _ = try signer(input, signed: signed, expected: address, use: .write)
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
        _ = try signer(input, signed: signed, expected: address, use: .write)
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
        let node = try signer(input, signed: .object(members), use: .write)
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

    func nodeTask(_ request: Request, _ context: RelayRequestContext) async throws -> Response {
        // Our long poll: with `wait_ms`, answer once the node's current (oldest) task is not `unless` (or at the deadline).
        let held = try await heldTasks(request, context) { $0.first ?? "" }
        return RelayHTTP.success(.string(held.first ?? ""))
    }

    func nodeAction(_ action: String, _ request: Request, _ context: RelayRequestContext) async throws -> Response {
        let address = try param(context, "address")
        let input = try await input(request, context)
        _ = try signer(input, signed: .object([JSONMember("address", .string(address))]), expected: address, use: .write)
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
        _ = try signer(
            input, signed: .object([JSONMember("address", .string(address)), JSONMember("model_id", .string(model))]), expected: address, use: .write)
        try await service.perform { state, now throws(RelayError) in try state.modelDownloaded(address, model: model, now: now) }
        _ = try? await service.tick()
        return RelayHTTP.success()
    }

    func score(_ request: Request, _ context: RelayRequestContext) async throws -> Response {
        let commitment = try param(context, "commitment")
        let input = try await input(request, context)
        let score = try input.required("score")
        let node = try signer(
            input, signed: .object([JSONMember("score", .string(score)), JSONMember("task_id_commitment", .string(commitment))]), use: .write)
        try await service.perform { state, now throws(RelayError) in try state.submitScore(commitment, score: score, by: node, now: now) }
        return RelayHTTP.success()
    }

    func taskError(_ request: Request, _ context: RelayRequestContext) async throws -> Response {
        let commitment = try param(context, "commitment")
        let input = try await input(request, context)
        let code = try input.requiredInt("task_error")
        let node = try signer(
            input, signed: .object([JSONMember("task_error", .integer(code)), JSONMember("task_id_commitment", .string(commitment))]), use: .write)
        guard code == 1 else { throw RelayError.validation("task_error", "only 1 (invalid parameters) is reported") }
        try await service.perform { state, now throws(RelayError) in try state.reportError(commitment, by: node, now: now) }
        return RelayHTTP.success()
    }

    func upload(_ request: Request, _ context: RelayRequestContext) async throws -> Response {
        let commitment = try param(context, "commitment")
        let signed: JSONValue = .object([JSONMember("task_id_commitment", .string(commitment))])
        // With the signature in the query (our node's way), the signer must be the task's node before a large
        // body is read at all; a reference node signs in the form, checked once the body is in.
        let query = try await input(request, context, limit: .small, readingBody: false)
        var early: String?
        if query.string("signature") != nil {
            let node = try signer(query, signed: signed, use: .writeAfterRead)
            try await service.read { state throws(RelayError) in
                guard let task = try state.lookup(commitment) else { throw .notFound("Task not found") }
                guard task.selectedNode == node else { throw .forbidden("Only the task's node may upload its results") }
            }
            early = node
        }
        let input = try await input(request, context, limit: .upload)
        let node = try early ?? signer(input, signed: signed, use: .writeAfterRead)
        try await service.uploadResults(commitment, files: input.files, by: node)
        _ = try? await service.tick()
        return RelayHTTP.success()
    }

    // MARK: Records

    /// `yyyy-MM-ddTHH:mm:ssZ` in UTC, as `ISO8601DateFormatter` writes it, without building a formatter per record.
    /// Clamped to the years 1583…9999 (Foundation switches to the Julian calendar before October 1582; the relay's
    /// times are Unix seconds from its clock, so only a hostile stored value gets there).
    static func iso8601(_ seconds: Int64) -> String {
        let t = min(max(seconds, -12_212_553_600), 253_402_300_799)
        let days = t >= 0 ? t / 86_400 : (t - 86_399) / 86_400
        let secondOfDay = t - days * 86_400
        // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yoe + era * 400 + (month <= 2 ? 1 : 0)
        func pad(_ n: Int64, _ width: Int) -> String {
            let digits = String(n)
            return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
        }
        return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))T\(pad(secondOfDay / 3_600, 2)):\(pad(secondOfDay / 60 % 60, 2)):\(pad(secondOfDay % 60, 2))Z"
    }

    /// The task record as the relay returns it.
    static func record(_ t: RelayTask) -> JSONValue {
        func time(_ v: Int64?) -> JSONValue { v.map { .string(iso8601($0)) } ?? .null }
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
