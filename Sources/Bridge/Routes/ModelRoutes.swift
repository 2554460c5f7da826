import CrynuxSDK
import Foundation
import Hummingbird

extension BridgeService {
    /// `GET /v1/models`, `GET /v1/models/{id}` (ids with `/` work, `%2F` too) and the honest 404 of `/v1/embeddings`.
    func addModelRoutes(to routes: some RouterMethods<BridgeRequestContext>) {
        let offered = config.models + config.imageModels
        let allModels = ByteBuffer(string: Self.modelList(offered).compactText)
        routes.get("/v1/models") { request, _ in
            let key = try self.key(request)
            guard key.limits.models != nil else {
                return Response(status: .ok, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: allModels))
            }
            return Self.json(.ok, Self.modelList(offered.filter(key.allows)))
        }
        routes.get("/v1/models/**") { request, context in
            let key = try self.key(request)
            let raw = context.parameters.getCatchAll().joined(separator: "/")
            let id = raw.removingPercentEncoding ?? raw
            guard offered.contains(id), key.allows(id) else { throw OpenAIError.modelNotFound(id) }
            return Self.json(.ok, Self.model(id))
        }
        routes.post("/v1/embeddings") { request, _ -> Response in
            _ = try self.key(request)
            throw OpenAIError(
                status: 404, message: "Embeddings are not available: the Crynux Network has no embedding task type yet.", type: "invalid_request_error",
                param: "model", code: "model_not_found")
        }
    }

    /// OpenAI's model list.
    static func modelList(_ ids: [String]) -> JSONValue {
        .object([JSONMember("object", .string("list")), JSONMember("data", .array(ids.map(Self.model)))])
    }

    /// OpenAI's model object.
    static func model(_ id: String) -> JSONValue {
        .object([
            JSONMember("id", .string(id)), JSONMember("object", .string("model")), JSONMember("created", .integer(1_735_689_600)),
            JSONMember("owned_by", .string("crynux")),
        ])
    }
}
