import CrynuxSDK
import Foundation
import Hummingbird

extension BridgeService {
    /// The request's `Authorization: Bearer` token, or "".
    static func bearer(_ request: Request) -> String {
        let auth = request.headers[.authorization] ?? ""
        return auth.hasPrefix("Bearer ") ? String(auth.dropFirst(7)).trimmingCharacters(in: .whitespaces) : ""
    }

    /// The 401 for a missing, unknown or revoked key.
    static let invalidKey = OpenAIError(
        status: 401, message: "Incorrect API key provided. Keys are created with `crynux keys create` or POST /admin/keys.",
        type: "invalid_request_error", param: nil, code: "invalid_api_key")

    /// The live key of the request's bearer token, or a 401.
    func key(_ request: Request) throws -> BridgeStore.Key { try key(token: Self.bearer(request)) }

    /// The live key of `token`, or a 401.
    func key(token: String) throws -> BridgeStore.Key {
        let invalid = Self.invalidKey
        guard !token.isEmpty, token.count <= 256, let key = try keyCache.key(for: token, store: config.store) else { throw invalid }
        let now = Int(Date().timeIntervalSince1970)
        guard key.revoked == nil else { throw invalid }
        guard key.isLive(at: now) else {
            throw OpenAIError(status: 401, message: "This API key has expired.", type: "invalid_request_error", param: nil, code: "invalid_api_key")
        }
        return key
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
