import AsyncHTTPClient
import Crypto
import Foundation
import MultipartKit
import NIOCore

/// One HTTP exchange with a relay (the seam tests and other transports plug into).
public protocol RelayTransport: Sendable {
    /// Sends a request and returns the status and body.
    func send(method: String, url: String, headers: [(String, String)], body: [UInt8]) async throws -> (status: Int, body: [UInt8])
    /// Sends a GET and gives the status, then the body's bytes as they arrive (server-sent events).
    func stream(url: String, headers: [(String, String)]) async throws -> (status: Int, body: AsyncThrowingStream<[UInt8], any Error>)
}

extension RelayTransport {
    /// A transport that cannot stream gives the whole body as one piece.
    public func stream(url: String, headers: [(String, String)]) async throws -> (status: Int, body: AsyncThrowingStream<[UInt8], any Error>) {
        let (status, body) = try await send(method: "GET", url: url, headers: headers, body: [])
        return (status, AsyncThrowingStream { $0.yield(body); $0.finish() })
    }
}

/// The default transport: one process-wide AsyncHTTPClient with room for many connections to a relay, 32 MiB
/// response limit.
public struct HTTPClientTransport: RelayTransport {
    /// AsyncHTTPClient's shared client allows 8 connections per host; a client following many runs holds one long
    /// poll and one token stream per run, and must still create tasks meanwhile. This one allows 1,024 (it lives as
    /// long as the process).
    static let client: HTTPClient = {
        var configuration = HTTPClient.Configuration.singletonConfiguration
        configuration.connectionPool = .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: 1_024)
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }()

    /// Seconds before a request is abandoned.
    public var timeout: Int64

    /// A transport with `timeout` seconds per request.
    public init(timeout: Int64 = 60) { self.timeout = timeout }

    /// Sends the request.
    public func send(method: String, url: String, headers: [(String, String)], body: [UInt8]) async throws -> (status: Int, body: [UInt8]) {
        var request = HTTPClientRequest(url: url)
        request.method = .init(rawValue: method)
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if !body.isEmpty { request.body = .bytes(ByteBuffer(bytes: body)) }
        let response = try await Self.client.execute(request, timeout: .seconds(timeout))
        let buffer = try await response.body.collect(upTo: 32 << 20)
        return (Int(response.status.code), Array(buffer.readableBytesView))
    }

    /// Sends a GET and streams the body as it arrives (no overall timeout: the caller ends it).
    public func stream(url: String, headers: [(String, String)]) async throws -> (status: Int, body: AsyncThrowingStream<[UInt8], any Error>) {
        var request = HTTPClientRequest(url: url)
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        let response = try await Self.client.execute(request, timeout: .hours(2))
        let body = response.body
        return (
            Int(response.status.code),
            AsyncThrowingStream { continuation in
                let reader = Task {
                    do {
                        for try await piece in body { continuation.yield(Array(piece.readableBytesView)) }
                        continuation.finish()
                    } catch { continuation.finish(throwing: error) }
                }
                continuation.onTermination = { _ in reader.cancel() }
            }
        )
    }
}

/// A relay refused or failed a request.
public struct RelayAPIError: Error, Sendable, Hashable, CustomStringConvertible {
    /// How to treat the failure.
    public struct Kind: Sendable, Hashable {
        let name: String
        /// HTTP 400 `validation_error`: the request is wrong and repeating it will not help (permanent).
        public static let validation = Kind(name: "validation")
        /// HTTP 404 (permanent).
        public static let notFound = Kind(name: "notFound")
        /// HTTP 403 (permanent).
        public static let forbidden = Kind(name: "forbidden")
        /// HTTP 5xx or an unexpected answer (retryable).
        public static let server = Kind(name: "server")
        /// The relay could not be reached (retryable).
        public static let transport = Kind(name: "transport")
    }

    /// The kind.
    public var kind: Kind
    /// The relay's `field_name`, for validation errors.
    public var field: String
    /// The relay's message.
    public var message: String
    /// The HTTP status (0 when none came back).
    public var status: Int

    /// Whether trying again later may succeed.
    public var isRetryable: Bool { kind == .server || kind == .transport }

    /// A readable summary.
    public var description: String { field.isEmpty ? "relay: \(message) (HTTP \(status))" : "relay: \(field): \(message) (HTTP \(status))" }
}

/// The relay's task record, as `GET /v1/inference_tasks/{c}` returns it.
public struct RelayTaskRecord: Sendable, Hashable {
    /// The raw record.
    public var json: JSONValue
    /// `0x` commitment.
    public var commitment: String { json["task_id_commitment"]?.stringValue ?? "" }
    /// The status number (0 queued … 11 EndGroupSuccess).
    public var status: Int { Int(json["status"]?.doubleValue ?? -1) }
    /// The abort reason number.
    public var abortReason: Int { Int(json["abort_reason"]?.doubleValue ?? 0) }
    /// The sampling seed's 32 bytes.
    public var samplingSeed: [UInt8] { Hex.decode(json["sampling_seed"]?.stringValue ?? "") ?? [] }
    /// The selected node's address, or empty.
    public var selectedNode: String { json["selected_node"]?.stringValue ?? "" }
    /// The submitted score, or empty.
    public var score: String { json["score"]?.stringValue ?? "" }
    /// The creation order.
    public var sequence: Int { Int(json["sequence"]?.doubleValue ?? 0) }
}

/// A node as the relay describes it (`GET /v1/node/{address}`, `…/selected_node`).
public struct RelayNodeInfo: Sendable, Hashable {
    /// EIP-55 address.
    public var address: String
    /// `<name>+<platform>`.
    public var gpuName: String
    /// GB.
    public var gpuVRAM: Int
    /// The node status number.
    public var status: Int
}

/// The relay's HTTP API, signed with one wallet: what an application and a node call (docs/protocol.md §2, §7).
public struct RelayClient: Sendable {
    /// The relay's base URL, e.g. `http://127.0.0.1:8090`.
    public let baseURL: String
    /// The signing key.
    public let key: PrivateKey
    /// The transport.
    public let transport: any RelayTransport
    /// Seconds to add to the local clock to get the relay's (see `synchroniseClock`).
    public var clockOffset: Int64 = 0

    /// A client for `baseURL`, signing with `key`.
    public init(baseURL: String, key: PrivateKey, transport: any RelayTransport = HTTPClientTransport()) {
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.key = key
        self.transport = transport
    }

    /// The signer's EIP-55 address.
    public var address: String { key.address.checksummed }

    var timestamp: Int64 { Int64(Date().timeIntervalSince1970) + clockOffset }
    /// The timestamps this client (and its copies) signed with, so that no change reuses a signed message.
    let stamps = SignatureStamps()

    /// The timestamp to sign `members` with: now for a read; for a change, a second no earlier signature over the
    /// same members used, since relays accept a signed change once (`ReplayGuard`).
    func timestamp(signing members: [JSONMember], change: Bool) -> Int64 {
        stamps.next(for: CanonicalJSON.encode(.object(members)), now: timestamp, change: change)
    }

    /// Reads `/v1/now` and sets `clockOffset` so signatures carry the relay's time.
    public mutating func synchroniseClock() async throws(RelayAPIError) {
        let data = try await call("GET", "/v1/now")
        guard let now = data?["now"]?.doubleValue else { throw RelayAPIError(kind: .server, field: "", message: "bad /v1/now answer", status: 200) }
        clockOffset = Int64(now) - Int64(Date().timeIntervalSince1970)
    }

    // MARK: Transport

    static let unreserved = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "-._~"))

    static func percentEncode(_ s: String) -> String { s.addingPercentEncoding(withAllowedCharacters: unreserved) ?? s }

    /// Sends a request and unwraps the relay's envelope (`data`), mapping errors to `RelayAPIError`.
    func call(
        _ method: String, _ path: String, query: [(String, String)] = [], contentType: String? = nil, body: [UInt8] = [], raw: Bool = false
    ) async throws(RelayAPIError) -> JSONValue? {
        let (status, bytes) = try await exchange(method, path, query: query, contentType: contentType, body: body)
        guard (200..<300).contains(status) else { throw Self.error(status: status, body: bytes) }
        if raw { return .string(String(decoding: bytes, as: UTF8.self)) }
        guard let envelope = try? JSONValue.parse(bytes) else { throw RelayAPIError(kind: .server, field: "", message: "the relay's answer is not JSON", status: status) }
        return envelope["data"]
    }

    func exchange(
        _ method: String, _ path: String, query: [(String, String)] = [], contentType: String? = nil, body: [UInt8] = []
    ) async throws(RelayAPIError) -> (Int, [UInt8]) {
        var url = baseURL + path
        if !query.isEmpty { url += "?" + query.map { "\(Self.percentEncode($0.0))=\(Self.percentEncode($0.1))" }.joined(separator: "&") }
        do {
            return try await transport.send(method: method, url: url, headers: contentType.map { [("Content-Type", $0)] } ?? [], body: body)
        } catch {
            throw RelayAPIError(kind: .transport, field: "", message: "\(error)", status: 0)
        }
    }

    /// A long poll's `wait_ms`.
    static func milliseconds(_ wait: Duration) -> String {
        String(wait.components.seconds * 1000 + wait.components.attoseconds / 1_000_000_000_000_000)
    }

    static func error(status: Int, body: [UInt8]) -> RelayAPIError {
        let json = try? JSONValue.parse(body)
        let message = json?["data"]?["message"]?.stringValue ?? json?["message"]?.stringValue ?? String(decoding: body.prefix(200), as: UTF8.self)
        let field = json?["data"]?["field_name"]?.stringValue ?? ""
        switch status {
        case 400, 413: return RelayAPIError(kind: .validation, field: field, message: message, status: status)
        case 404: return RelayAPIError(kind: .notFound, field: "", message: message, status: status)
        case 401, 403: return RelayAPIError(kind: .forbidden, field: "", message: message, status: status)
        default: return RelayAPIError(kind: .server, field: "", message: message, status: status)
        }
    }

    /// A JSON body for a change: the signed members plus `timestamp` and `signature`.
    func signedJSON(_ members: [JSONMember]) -> [UInt8] {
        let ts = timestamp(signing: members, change: true)
        let signature = RelaySigner(key: key).signature(for: .object(members), timestamp: ts)
        return Array(JSONValue.object(members + [JSONMember("timestamp", .integer(ts)), JSONMember("signature", .string(signature))]).compactText.utf8)
    }

    /// Query items `timestamp` and `signature` over the signed members (`change` for a POST that changes state).
    func signedQuery(_ members: [JSONMember], change: Bool = false) -> [(String, String)] {
        let ts = timestamp(signing: members, change: change)
        return [("timestamp", String(ts)), ("signature", RelaySigner(key: key).signature(for: .object(members), timestamp: ts))]
    }

    // MARK: Applications

    /// The fields of a new task (docs/protocol.md §2.5).
    public struct NewTask: Sendable, Hashable {
        /// The identity (id, nonce, commitment).
        public var identity: TaskIdentity
        /// Task arguments (JSON text).
        public var taskArgs: String
        /// The type.
        public var taskType: TaskType
        /// Model ids (exactly one `base:`).
        public var modelIDs: [String]
        /// GB.
        public var minVRAM: Int = 0
        /// An exact GPU, or empty.
        public var requiredGPU: String = ""
        /// GB with `requiredGPU`.
        public var requiredGPUVRAM: Int = 0
        /// `major.minor.patch`.
        public var taskVersion: String = "3.1.0"
        /// Images, or 1.
        public var taskSize: Int = 1
        /// The fee.
        public var fee: Wei

        /// Creates the fields.
        public init(identity: TaskIdentity, taskArgs: String, taskType: TaskType, modelIDs: [String], fee: Wei) {
            self.identity = identity
            self.taskArgs = taskArgs
            self.taskType = taskType
            self.modelIDs = modelIDs
            self.fee = fee
        }
    }

    /// Creates a task (form-encoded, signed) and returns the relay's record.
    public func createTask(_ t: NewTask) async throws(RelayAPIError) -> RelayTaskRecord {
        let commitment = "0x" + Hex.encode(t.identity.commitment)
        let signed: [JSONMember] = [
            JSONMember("task_id_commitment", .string(commitment)), JSONMember("task_args", .string(t.taskArgs)),
            JSONMember("task_type", .integer(t.taskType.rawValue)), JSONMember("nonce", .string(t.identity.nonceHex)),
            JSONMember("task_model_ids", .array(t.modelIDs.map { .string($0) })), JSONMember("min_vram", .integer(t.minVRAM)),
            JSONMember("required_gpu", .string(t.requiredGPU)), JSONMember("required_gpu_vram", .integer(t.requiredGPUVRAM)),
            JSONMember("task_version", .string(t.taskVersion)), JSONMember("task_size", .integer(t.taskSize)),
            JSONMember("task_fee", .string(t.fee.decimalString)),
        ]
        let ts = timestamp(signing: signed, change: true)
        let signature = RelaySigner(key: key).signature(for: .object(signed), timestamp: ts)
        var form: [(String, String)] = [
            ("task_args", t.taskArgs), ("task_type", String(t.taskType.rawValue)), ("nonce", t.identity.nonceHex),
        ]
        form += t.modelIDs.map { ("task_model_ids", $0) }
        form += [
            ("min_vram", String(t.minVRAM)), ("required_gpu", t.requiredGPU), ("required_gpu_vram", String(t.requiredGPUVRAM)),
            ("task_version", t.taskVersion), ("task_size", String(t.taskSize)), ("task_fee", t.fee.decimalString), ("timestamp", String(ts)),
            ("signature", signature),
        ]
        let body = form.map { "\(Self.percentEncode($0.0))=\(Self.percentEncode($0.1))" }.joined(separator: "&")
        let data = try await call("POST", "/v1/inference_tasks/\(commitment)", contentType: "application/x-www-form-urlencoded", body: Array(body.utf8))
        return RelayTaskRecord(json: data ?? .null)
    }

    /// The task record (for its creator or its selected node).
    public func task(_ commitment: String) async throws(RelayAPIError) -> RelayTaskRecord {
        let data = try await call("GET", "/v1/inference_tasks/\(commitment)", query: signedQuery([JSONMember("task_id_commitment", .string(commitment))]))
        return RelayTaskRecord(json: data ?? .null)
    }

    /// The task once its status is no longer `status`, or at the latest after `wait` (our relay's long poll; a relay
    /// without it answers at once, as `task`).
    public func task(_ commitment: String, unlessStatus status: Int, wait: Duration) async throws(RelayAPIError) -> RelayTaskRecord {
        var query = signedQuery([JSONMember("task_id_commitment", .string(commitment))])
        query += [("wait_ms", Self.milliseconds(wait)), ("unless_status", String(status))]
        let data = try await call("GET", "/v1/inference_tasks/\(commitment)", query: query)
        return RelayTaskRecord(json: data ?? .null)
    }

    /// The relay's extensions of the public protocol (`token_stream`, `long_poll`); empty for a relay without them.
    public func extensions() async throws(RelayAPIError) -> Set<String> {
        do {
            guard case .object(let members)? = try await call("GET", "/v1/extensions") else { return [] }
            return Set(members.filter { $0.value.doubleValue == 1 }.map(\.key))
        } catch where error.kind == .notFound {
            return []
        }
    }

    /// Sends chunk `seq` of a running task's text (`deltas`: choice index and text), signed by its node.
    public func streamText(_ commitment: String, seq: Int, deltas: [StreamDelta]) async throws(RelayAPIError) {
        let members = [
            JSONMember("deltas", .array(deltas.map { .object([JSONMember("index", .integer($0.index)), JSONMember("text", .string($0.text))]) })),
            JSONMember("seq", .integer(seq)), JSONMember("task_id_commitment", .string(commitment)),
        ]
        _ = try await call("POST", "/v1/inference_tasks/\(commitment)/stream", contentType: "application/json", body: signedJSON(members))
    }

    /// Text of one choice in a token stream.
    public struct StreamDelta: Sendable, Hashable {
        /// The choice's index.
        public var index: Int
        /// The text it adds.
        public var text: String
        /// A delta.
        public init(index: Int, text: String) {
            self.index = index
            self.text = text
        }
    }

    /// One event of a task's token stream.
    public enum StreamEvent: Sendable, Hashable {
        /// Chunk `seq`: text for some choices.
        case deltas(seq: Int, [StreamDelta])
        /// The task stopped running with this status.
        case end(status: Int?)
    }

    /// Reads a task's token stream (its creator only) from after chunk `after`, as the relay sends it; ends after
    /// `.end`. Bounded: a line over 2 MiB ends the stream with an error.
    public func readStream(_ commitment: String, after: Int = -1) async throws -> AsyncThrowingStream<StreamEvent, any Error> {
        var query = signedQuery([JSONMember("task_id_commitment", .string(commitment))])
        query.append(("after", String(after)))
        let url = baseURL + "/v1/inference_tasks/\(commitment)/stream?" + query.map { "\(Self.percentEncode($0.0))=\(Self.percentEncode($0.1))" }.joined(separator: "&")
        let (status, body) = try await transport.stream(url: url, headers: [("Accept", "text/event-stream")])
        guard status == 200 else {
            var bytes: [UInt8] = []
            for try await piece in body where bytes.count < 4096 { bytes += piece }
            throw Self.error(status: status, body: bytes)
        }
        return AsyncThrowingStream { continuation in
            let reader = Task {
                var parser = SSEParser()
                do {
                    for try await piece in body {
                        for event in try parser.feed(piece) {
                            if event.name == "end" {
                                continuation.yield(.end(status: (try? JSONValue.parse(event.data))?["status"]?.doubleValue.map { Int($0) }))
                                continuation.finish()
                                return
                            }
                            guard let json = try? JSONValue.parse(event.data), let seq = json["seq"]?.doubleValue, case .array(let items)? = json["deltas"] else {
                                continue
                            }
                            let deltas = items.compactMap { item -> StreamDelta? in
                                guard let i = item["index"]?.doubleValue, let t = item["text"]?.stringValue else { return nil }
                                return StreamDelta(index: Int(i), text: t)
                            }
                            continuation.yield(.deltas(seq: Int(seq), deltas))
                        }
                    }
                    continuation.finish()
                } catch { continuation.finish(throwing: error) }
            }
            continuation.onTermination = { _ in reader.cancel() }
        }
    }

    /// Validates one task or a group of three with the VRF proof over the first task's sampling seed.
    public func validate(commitments: [String], taskID: String, vrfProof: [UInt8]) async throws(RelayAPIError) {
        let members: [JSONMember] = [
            JSONMember("public_key", .string(Hex.encode(key.publicKey.uncompressed.dropFirst(), prefix: true))),
            JSONMember("task_id", .string(taskID)), JSONMember("task_id_commitments", .array(commitments.map { .string($0) })),
            JSONMember("vrf_proof", .string(Hex.encode(vrfProof, prefix: true))),
        ]
        _ = try await call("POST", "/v1/inference_tasks/validate", contentType: "application/json", body: signedJSON(members))
    }

    /// Result file `index` (raw bytes).
    public func result(_ commitment: String, index: Int) async throws(RelayAPIError) -> [UInt8] {
        let query = signedQuery([JSONMember("index", .string(String(index))), JSONMember("task_id_commitment", .string(commitment))])
        let (status, bytes) = try await exchange("GET", "/v1/inference_tasks/\(commitment)/results/\(index)", query: query)
        guard status == 200 else { throw Self.error(status: status, body: bytes) }
        return bytes
    }

    /// Cancels a queued task.
    public func cancel(_ commitment: String) async throws(RelayAPIError) {
        let members = [JSONMember("abort_reason", .integer(7)), JSONMember("task_id_commitment", .string(commitment))]
        _ = try await call("POST", "/v1/inference_tasks/\(commitment)/abort_reason", contentType: "application/json", body: signedJSON(members))
    }

    /// The node running a task.
    public func selectedNode(_ commitment: String) async throws(RelayAPIError) -> RelayNodeInfo {
        let data = try await call(
            "GET", "/v1/inference_tasks/\(commitment)/selected_node", query: signedQuery([JSONMember("task_id_commitment", .string(commitment))]))
        return Self.nodeInfo(data)
    }

    /// A node's public record.
    public func node(_ address: String) async throws(RelayAPIError) -> RelayNodeInfo { Self.nodeInfo(try await call("GET", "/v1/node/\(address)")) }

    static func nodeInfo(_ data: JSONValue?) -> RelayNodeInfo {
        RelayNodeInfo(
            address: data?["address"]?.stringValue ?? "", gpuName: data?["gpu_name"]?.stringValue ?? "",
            gpuVRAM: Int(data?["gpu_vram"]?.doubleValue ?? 0), status: Int(data?["status"]?.doubleValue ?? 0))
    }

    /// This wallet's relay account balance.
    public func balance() async throws(RelayAPIError) -> Wei {
        let data = try await call("GET", "/v2/relay_account/\(address)/balance", query: signedQuery([JSONMember("address", .string(address))]))
        guard let text = data?.stringValue, let wei = Wei(decimal: text) else { throw RelayAPIError(kind: .server, field: "", message: "bad balance", status: 200) }
        return wei
    }

    // MARK: Nodes

    /// Joins the network (docs/protocol.md §7.1).
    public func join(gpuName: String, gpuVRAM: Int, modelIDs: [String], version: String, staking: Wei, network: String) async throws(RelayAPIError) {
        let members: [JSONMember] = [
            JSONMember("address", .string(address)), JSONMember("gpu_name", .string(gpuName)), JSONMember("gpu_vram", .integer(gpuVRAM)),
            JSONMember("model_ids", .array(modelIDs.map { .string($0) })), JSONMember("network", .string(network)),
            JSONMember("staking", .string(staking.decimalString)), JSONMember("version", .string(version)),
        ]
        _ = try await call("POST", "/v2/node/\(address)/join", contentType: "application/json", body: signedJSON(members))
    }

    /// The node's public record (its status), or nil when the relay has never seen it.
    public func ownNode() async throws(RelayAPIError) -> RelayNodeInfo? {
        do { return try await node(address) } catch where error.kind == .notFound { return nil }
    }

    /// The commitment of the task this node should run, or nil.
    public func currentTask() async throws(RelayAPIError) -> String? {
        let data = try await call("GET", "/v1/node/\(address)/task")
        guard let c = data?.stringValue, !c.isEmpty else { return nil }
        return c
    }

    /// The node's current task once it is not `known`, or at the latest after `wait` (our relay's long poll; a relay
    /// without it answers at once).
    public func currentTask(unless known: String?, wait: Duration) async throws(RelayAPIError) -> String? {
        let data = try await call("GET", "/v1/node/\(address)/task", query: [("wait_ms", Self.milliseconds(wait)), ("unless", known ?? "")])
        guard let c = data?.stringValue, !c.isEmpty else { return nil }
        return c
    }

    /// Declares how many tasks this node holds at once (our relay's `node_slots` extension, docs/slots.md).
    public func declareSlots(_ slots: Int) async throws(RelayAPIError) {
        let members = [JSONMember("address", .string(address)), JSONMember("slots", .integer(slots))]
        _ = try await call("POST", "/v1/node/\(address)/slots", contentType: "application/json", body: signedJSON(members))
    }

    /// Every task this node holds, oldest first, once the list is not `known`, or at the latest after `wait` (our
    /// relay's `node_slots` extension with its long poll).
    public func currentTasks(unless known: [String], wait: Duration) async throws(RelayAPIError) -> [String] {
        let data = try await call("GET", "/v1/node/\(address)/tasks", query: [("wait_ms", Self.milliseconds(wait)), ("unless", known.joined(separator: ","))])
        guard case .array(let items)? = data else { return [] }
        return items.compactMap(\.stringValue)
    }

    /// Submits a score.
    public func submitScore(_ commitment: String, score: String) async throws(RelayAPIError) {
        let members = [JSONMember("score", .string(score)), JSONMember("task_id_commitment", .string(commitment))]
        _ = try await call("POST", "/v1/inference_tasks/\(commitment)/score", contentType: "application/json", body: signedJSON(members))
    }

    /// Reports invalid task arguments.
    public func reportTaskError(_ commitment: String) async throws(RelayAPIError) {
        let members = [JSONMember("task_error", .integer(1)), JSONMember("task_id_commitment", .string(commitment))]
        _ = try await call("POST", "/v1/inference_tasks/\(commitment)/task_error", contentType: "application/json", body: signedJSON(members))
    }

    /// Uploads result files as multipart with repeated `files` fields.
    public func uploadResults(_ commitment: String, files: [(name: String, bytes: [UInt8])]) async throws(RelayAPIError) {
        let query = signedQuery([JSONMember("task_id_commitment", .string(commitment))], change: true)
        let boundary = "crynux-" + Hex.encode((0..<12).map { _ in UInt8.random(in: 0...255) })
        var parts = query.map { name, value in MultipartPart(headers: ["Content-Disposition": "form-data; name=\"\(name)\""], body: value) }
        for file in files {
            parts.append(MultipartPart(
                headers: ["Content-Disposition": "form-data; name=\"files\"; filename=\"\(file.name)\"", "Content-Type": "application/octet-stream"],
                body: file.bytes))
        }
        var buffer = ByteBuffer()
        do { try MultipartSerializer().serialize(parts: parts, boundary: boundary, into: &buffer) } catch {
            throw RelayAPIError(kind: .validation, field: "files", message: "cannot encode the upload: \(error)", status: 0)
        }
        let body = Array(buffer.readableBytesView)
        _ = try await call("POST", "/v1/inference_tasks/\(commitment)/results", contentType: "multipart/form-data; boundary=\(boundary)", body: body)
    }

    /// Asks a development relay (`crynux relay --dev`, the embedded network's) to credit `amount` to this wallet's
    /// account; returns the new balance. Public relays have no faucet (404).
    public func requestFaucet(amount: Wei) async throws(RelayAPIError) -> Wei {
        let data = try await call(
            "POST", "/v1/dev/faucet", contentType: "application/json",
            body: Array(JSONValue.object([JSONMember("address", .string(address)), JSONMember("amount", .string(amount.decimalString))]).compactText.utf8))
        guard let text = data?.stringValue, let balance = Wei(decimal: text) else {
            throw RelayAPIError(kind: .server, field: "", message: "bad faucet answer", status: 200)
        }
        return balance
    }

    /// Waits until the relay answers `/v1/now`, trying every `interval` for at most `timeout`; throws the last error.
    public func waitUntilReachable(timeout: Duration = .seconds(30), interval: Duration = .milliseconds(50)) async throws {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        while true {
            let failure: RelayAPIError
            do {
                _ = try await call("GET", "/v1/now")
                return
            } catch {
                failure = error
            }
            guard failure.isRetryable, clock.now < deadline else { throw failure }
            try await Task.sleep(for: interval)
        }
    }

    /// Pauses, resumes or quits the node.
    public func nodeAction(_ action: String) async throws(RelayAPIError) {
        _ = try await call("POST", "/v1/node/\(address)/\(action)", contentType: "application/json", body: signedJSON([JSONMember("address", .string(address))]))
    }
}

/// The last timestamp a client signed each message with (bounded to the signature window), shared by copies.
final class SignatureStamps: @unchecked Sendable {
    private let lock = NSLock()
    private var last: [SHA256Digest: Int64] = [:]
    private var prunedAt: Int64 = 0

    /// The timestamp for `canonical` at `now`: `now` for a read, otherwise later than any earlier use of it.
    func next(for canonical: String, now: Int64, change: Bool) -> Int64 {
        let key = SHA256.hash(data: Array(canonical.utf8))
        return lock.withLock {
            // Entries older than the signature window can no longer collide; forget them at most once a second.
            if last.count > 4096, now > prunedAt {
                last = last.filter { $0.value >= now - 2 * RelaySignatureVerifier.defaultTolerance }
                prunedAt = now
            }
            let previous = last[key]
            let stamp = change ? max(now, (previous ?? now - 1) + 1) : now
            last[key] = max(previous ?? stamp, stamp)
            return stamp
        }
    }
}

/// A server-sent events parser: bytes in, complete events (`event:` name and joined `data:` lines) out.
struct SSEParser {
    /// One event.
    struct Event {
        var name: String?
        var data: String
    }

    private var buffer: [UInt8] = []
    private var name: String?
    private var data: [String] = []

    /// Adds bytes and returns the events they complete; a line over 2 MiB is an error.
    mutating func feed(_ bytes: [UInt8]) throws -> [Event] {
        buffer += bytes
        var events: [Event] = []
        while let newline = buffer.firstIndex(of: 10) {
            var line = Array(buffer[..<newline])
            buffer.removeSubrange(...newline)
            if line.last == 13 { line.removeLast() }
            let text = String(decoding: line, as: UTF8.self)
            if text.isEmpty {
                if !data.isEmpty || name != nil { events.append(Event(name: name, data: data.joined(separator: "\n"))) }
                name = nil
                data = []
            } else if text.hasPrefix(":") {
                continue
            } else {
                let parts = text.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
                var value = parts.count > 1 ? String(parts[1]) : ""
                if value.hasPrefix(" ") { value.removeFirst() }
                switch parts[0] {
                case "event": name = value
                case "data": data.append(value)
                default: break
                }
            }
        }
        guard buffer.count <= 2 << 20 else { throw RelayAPIError(kind: .server, field: "", message: "a stream line is over 2 MiB", status: 200) }
        return events
    }
}
