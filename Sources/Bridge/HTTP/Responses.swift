import CrynuxSDK
import Foundation
import Hummingbird

extension BridgeService {
    /// A JSON response.
    static func json(_ status: HTTPResponse.Status, _ value: JSONValue) -> Response {
        Response(status: status, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: ByteBuffer(string: value.compactText)))
    }

    /// Seconds a request body may take to arrive.
    static let bodyDeadline: Duration = .seconds(30)

    /// The request's JSON object body (at most `maxUploadSize`, within `bodyDeadline`) and its bytes, or the
    /// 400/408/413 saying what is wrong.
    static func body(_ request: Request, _ context: BridgeRequestContext) async throws -> (JSONValue, [UInt8]) {
        let buffer: ByteBuffer
        do { buffer = try await collectBody(request.body, limit: context.maxUploadSize, deadline: .now + bodyDeadline) } catch BodyReadError.tooSlow {
            throw OpenAIError(status: 408, message: "The request body did not arrive within 30 s.", type: "invalid_request_error", param: nil, code: "timeout")
        } catch {
            throw OpenAIError(status: 413, message: "The request body is over 4 MiB.", type: "invalid_request_error", param: nil, code: nil)
        }
        let bytes = Array(buffer.readableBytesView)
        guard let body = try? JSONValue.parse(bytes) else { throw OpenAIError.invalid("body", "The body is not valid JSON.") }
        guard case .object = body else { throw OpenAIError.invalid("body", "The request body must be a JSON object.") }
        return (body, bytes)
    }

    /// OpenAI's `usage` object.
    static func usage(_ u: GPTTaskResponse.Usage) -> JSONValue {
        .object([
            JSONMember("prompt_tokens", .integer(u.promptTokens)), JSONMember("completion_tokens", .integer(u.completionTokens)),
            JSONMember("total_tokens", .integer(u.totalTokens)),
        ])
    }

    /// `prefix` + 24 random hex digits (two draws from the system generator, not one per byte: this runs per request).
    static func randomID(_ prefix: String) -> String {
        var generator = SystemRandomNumberGenerator()
        let a: UInt64 = generator.next(), b: UInt64 = generator.next()
        var bytes: [UInt8] = []
        bytes.reserveCapacity(12)
        for i: UInt64 in 0..<8 { bytes.append(UInt8(truncatingIfNeeded: a >> (8 * i))) }
        for i: UInt64 in 0..<4 { bytes.append(UInt8(truncatingIfNeeded: b >> (8 * i))) }
        return prefix + Hex.encode(bytes)
    }

    /// `response` with `headers` added.
    static func withHeaders(_ response: Response, _ headers: [String: String]) -> Response {
        var r = response
        for (k, v) in headers { r.headers[.init(k)!] = v }
        return r
    }
}

extension Duration {
    /// The duration in seconds.
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
