import CrynuxSDK
import Foundation
import Hummingbird

extension BridgeStore.Limits {
    /// Parses an expiry: `+90s`, `+30m`, `+12h`, `+7d` (from now), Unix seconds, or an ISO 8601 date-time.
    public static func parseExpiry(_ text: String, now: Int = Int(Date().timeIntervalSince1970)) -> Int? {
        if text.hasPrefix("+"), let unit = text.last, let n = Int(text.dropFirst().dropLast()), n >= 0 {
            switch unit {
            case "s": return now + n
            case "m": return now + n * 60
            case "h": return now + n * 3600
            case "d": return now + n * 86400
            default: return nil
            }
        }
        if let seconds = Int(text), seconds > 0 { return seconds }
        let iso = ISO8601DateFormatter()
        if let date = iso.date(from: text) { return Int(date.timeIntervalSince1970) }
        iso.formatOptions = [.withFullDate]
        return iso.date(from: text).map { Int($0.timeIntervalSince1970) }
    }

    /// Applies the limit fields present in an admin API body (`budget_cnx`, `rpm`, `tpm`, `models`, `expires_at`;
    /// `null` clears one), or says which field is wrong. `crynux keys` goes through it too.
    public mutating func apply(_ body: JSONValue) throws(OpenAIError) {
        func positive(_ key: String) throws(OpenAIError) -> Int?? {
            guard let v = body[key] else { return .none }
            if v == .null { return .some(nil) }
            guard let d = v.doubleValue, let i = Int(exactly: d), i >= 1 else { throw .invalid(key, "\(key) must be a positive integer or null.") }
            return .some(i)
        }
        if let v = body["budget_cnx"] {
            if v == .null {
                budget = nil
            } else {
                guard let text = v.stringValue ?? (v.doubleValue != nil ? v.compactText : nil), let wei = Wei(cnx: text) else {
                    throw .invalid("budget_cnx", "budget_cnx must be a CNX amount such as \"25\" or \"0.5\", or null.")
                }
                budget = wei
            }
        }
        if let v = try positive("rpm") { rpm = v }
        if let v = try positive("tpm") { tpm = v }
        if let v = body["models"] {
            switch v {
            case .null: models = nil
            case .array(let items) where items.allSatisfy({ $0.stringValue?.isEmpty == false }): models = items.compactMap(\.stringValue)
            default: throw .invalid("models", "models must be an array of model ids, or null.")
            }
        }
        if let v = body["expires_at"] {
            if v == .null {
                expires = nil
            } else {
                guard let at = v.stringValue.flatMap({ Self.parseExpiry($0) }) ?? v.doubleValue.flatMap({ Int(exactly: $0) }) else {
                    throw .invalid("expires_at", "expires_at is Unix seconds, an ISO 8601 date-time, +N{s,m,h,d}, or null.")
                }
                expires = at
            }
        }
    }
}

extension Bridge {
    /// The admin API, behind the admin token: keys, usage rollups, the wallet's balance, paid runs.
    func addAdminRoutes(_ router: Router<BridgeRequestContext>) {
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

    /// Checks the admin token.
    func admin(_ request: Request) throws {
        let token = Self.bearer(request)
        guard !token.isEmpty, token.count <= 256, try config.store.verifyAdmin(token) else {
            throw OpenAIError(
                status: 401, message: "The admin API needs the admin token (printed once by the first `crynux serve`, or `crynux keys admin-token`).",
                type: "invalid_request_error", param: nil, code: "invalid_admin_token")
        }
    }
}
