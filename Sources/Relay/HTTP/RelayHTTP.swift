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

/// The relay's HTTP API: the paths, envelopes, status codes and signature checks of `crynux-relay` (docs/protocol.md §2).
public enum RelayHTTP {
    /// The router for `service`; `dev` adds `POST /v1/dev/faucet`.
    public static func router(service: RelayService, dev: Bool) -> Router<RelayRequestContext> {
        let router = Router(context: RelayRequestContext.self)
        router.add(middleware: RelayMetricsMiddleware(metrics: service.metrics))
        let api = API(service: service)
        router.get("/metrics") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: ResponseBody(byteBuffer: ByteBuffer(bytes: await service.metricsExposition())))
        }
        router.get("/v1/now") { _, _ in success(.object([JSONMember("now", .integer(service.clock.now()))])) }
        router.get("/v1/extensions") { _, _ in api.extensions() }
        router.post("/v1/inference_tasks/:commitment/stream") { request, context in await api.run { try await api.streamPost(request, context) } }
        router.get("/v1/inference_tasks/:commitment/stream") { request, context in await api.run { try await api.streamGet(request, context) } }

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
            await api.run { success(.integer(try await service.read { $0.eventCount })) }
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
                        JSONMember("total_tasks", .integer(s.sequenceNumber)),
                        JSONMember("running_tasks", .integer(s.tasks.runningCount)),
                        JSONMember("queued_tasks", .integer(s.tasks.queuedCount)),
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
            await api.run { success(.integer(try await service.read { s in s.tasks.queuedCount })) }
        }

        // Nodes.
        router.post("/v2/node/:address/join") { request, context in await api.run { try await api.join(request, context) } }
        router.post("/v2/node/:address/capabilities") { request, context in await api.run { try await api.capabilities(request, context) } }
        router.post("/v2/tasks/:commitment/node_error") { request, context in await api.run { try await api.nodeError(request, context) } }
        router.get("/v1/node/:address") { _, context in await api.run { try await api.node(context) } }
        router.get("/v1/node/:address/task") { request, context in await api.run { try await api.nodeTask(request, context) } }
        router.get("/v1/node/:address/tasks") { request, context in await api.run { try await api.nodeTasks(request, context) } }
        router.post("/v1/node/:address/slots") { request, context in await api.run { try await api.declareSlots(request, context) } }
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

    /// The relay's error shapes: 400 `validation_error` with `field_name`, 404/403/413/429 with a message, 500 otherwise.
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
            case .busy: return json(.tooManyRequests, .object([JSONMember("message", .string(error.message))]))
            case .storage: return json(.internalServerError, .object([JSONMember("message", .string("internal error"))]))
            default: return json(.forbidden, .object([JSONMember("message", .string(error.message))]))
            }
        }
        return json(.internalServerError, .object([JSONMember("message", .string("internal error"))]))
    }
}
