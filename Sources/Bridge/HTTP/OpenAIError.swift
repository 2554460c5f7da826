import CrynuxSDK
import Foundation

/// An OpenAI error the Bridge answers with: status, `type`, `param`, `code`.
public struct OpenAIError: Error, Sendable, Hashable, CustomStringConvertible {
    /// HTTP status.
    public var status: Int
    /// The message.
    public var message: String
    /// `invalid_request_error`, `authentication_error`, `server_error`, …
    public var type: String
    /// The request field at fault.
    public var param: String?
    /// `invalid_api_key`, `model_not_found`, `unsupported_parameter`, …
    public var code: String?
    /// Extra response headers (`retry-after`, `x-ratelimit-*`, `x-should-retry`).
    public var headers: [String: String] = [:]

    /// The 404 for a model the Bridge does not serve.
    public static func modelNotFound(_ model: String) -> OpenAIError {
        OpenAIError(status: 404, message: "The model '\(model)' does not exist", type: "invalid_request_error", param: "model", code: "model_not_found")
    }

    /// A 400 naming `param`.
    public static func invalid(_ param: String, _ message: String, code: String? = nil) -> OpenAIError {
        OpenAIError(status: 400, message: message, type: "invalid_request_error", param: param, code: code)
    }

    /// `{"error": {message, type, param, code}}`.
    public var json: JSONValue {
        .object([
            JSONMember("error", .object([
                JSONMember("message", .string(message)), JSONMember("type", .string(type)),
                JSONMember("param", param.map { .string($0) } ?? .null), JSONMember("code", code.map { .string($0) } ?? .null),
            ])),
        ])
    }

    /// The message.
    public var description: String { message }
}
