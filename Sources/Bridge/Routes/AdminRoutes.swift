import CrynuxSDK
import Foundation
import Hummingbird

extension BridgeService {
    /// The admin API, behind the admin token: keys, usage rollups, the wallet's balance, paid runs.
    func addAdminRoutes(to router: some RouterMethods<BridgeRequestContext>) {
        router.get("/admin/keys") { request, _ in
            try self.admin(request)
            return Self.json(.ok, .object([JSONMember("object", .string("list")), JSONMember("data", .array(try self.config.store.list().map(\.json)))]))
        }
        router.post("/admin/keys") { request, context in
            try self.admin(request)
            let (body, _) = try await Self.body(request, context)
            guard let name = body["name"]?.stringValue, (1...100).contains(name.count) else {
                throw OpenAIError.invalid("name", "name must be 1–100 characters.")
            }
            var limits = BridgeStore.Limits()
            try limits.apply(body)
            let (secret, record) = try self.config.store.create(name: name, limits: limits)
            self.logger.info("api key created", metadata: ["key_id": "\(record.id)", "name": "\(name)"])
            return Self.json(.created, .object([JSONMember("key", .string(secret)), JSONMember("record", record.json)]))
        }
        router.patch("/admin/keys/:id") { request, context in
            try self.admin(request)
            let id = context.parameters.get("id") ?? ""
            guard let key = try self.config.store.key(id: id) else { throw Self.noKey(id) }
            let (body, _) = try await Self.body(request, context)
            var limits = key.limits
            try limits.apply(body)
            try self.config.store.update(id: id, limits: limits)
            return Self.json(.ok, try self.config.store.key(id: id)?.json ?? .null)
        }
        router.delete("/admin/keys/:id") { request, context in
            try self.admin(request)
            let id = context.parameters.get("id") ?? ""
            guard try self.config.store.revoke(id: id) else { throw Self.noKey(id) }
            self.logger.info("api key revoked", metadata: ["key_id": "\(id)"])
            return Self.json(.ok, try self.config.store.key(id: id)?.json ?? .null)
        }
        router.get("/admin/usage") { request, _ in
            try self.admin(request)
            let query = request.uri.queryParameters
            let group = query.get("group_by") ?? "key"
            guard ["key", "model", "day"].contains(group) else { throw OpenAIError.invalid("group_by", "group_by is key, model or day.") }
            func time(_ name: String) throws -> Int? {
                guard let text = query.get(name) else { return nil }
                guard let t = Int(text) else { throw OpenAIError.invalid(name, "\(name) is Unix seconds.") }
                return t
            }
            let rows = try self.config.store.usage(groupBy: group, since: try time("since"), until: try time("until"))
            return Self.json(.ok, .object([
                JSONMember("object", .string("list")), JSONMember("group_by", .string(group)),
                JSONMember("data", .array(rows.map { r in
                    .object([
                        JSONMember("group", .string(r.group)), JSONMember("requests", .integer(r.requests)),
                        JSONMember("prompt_tokens", .integer(r.promptTokens)), JSONMember("completion_tokens", .integer(r.completionTokens)),
                        JSONMember("fees_cnx", .string(r.fees.cnxString)),
                    ])
                })),
            ]))
        }
        router.get("/admin/balance") { request, _ in
            try self.admin(request)
            await self.balance.refresh(self.config.client)
            let current = self.balance.current
            return Self.json(.ok, .object([
                JSONMember("address", .string(self.config.client.address)),
                JSONMember("balance_cnx", current.map { .string($0.balance.cnxString) } ?? .null),
                JSONMember("floor_cnx", .string(self.config.balanceFloor.cnxString)),
                JSONMember("accepting_paid_work", .bool(current.map { !($0.balance < self.config.balanceFloor) } ?? true)),
                JSONMember("checked_at", current.map { .integer($0.at) } ?? .null),
            ]))
        }
        router.get("/admin/tasks") { request, _ in
            try self.admin(request)
            let status = request.uri.queryParameters.get("status")
            if let status, !["pending", "done", "failed"].contains(status) {
                throw OpenAIError.invalid("status", "status is pending, done or failed.")
            }
            let runs = try self.config.store.runs(status: status, limit: 500)
            return Self.json(.ok, .object([
                JSONMember("object", .string("list")),
                JSONMember("data", .array(runs.map { run in
                    .object([
                        JSONMember("id", .string(run.id)), JSONMember("key_id", .string(run.keyID)), JSONMember("kind", .string(run.kind)),
                        JSONMember("model", .string(run.model)), JSONMember("status", .string(run.status)), JSONMember("created", .integer(run.created)),
                        JSONMember("fee_cnx", .string(run.fee.cnxString)),
                        JSONMember("commitments", .array((run.state?.attempts.flatMap(\.commitments) ?? []).map { .string($0) })),
                        JSONMember("error", run.error.map { .string($0) } ?? .null),
                    ])
                })),
            ]))
        }
    }

    static func noKey(_ id: String) -> OpenAIError {
        OpenAIError(status: 404, message: "No API key with id \(id).", type: "invalid_request_error", param: "id", code: "not_found")
    }
}
