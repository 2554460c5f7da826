import CrynuxSDK
import Foundation
import Hummingbird
import Logging

/// Request ids: a random prefix drawn once per process and a counter (unique, and no system call per request).
enum RequestIDs {
    static let prefix = BridgeService.randomID("req_").prefix(16)
    static let counter = Counter()

    final class Counter: @unchecked Sendable {
        // Guarded by `lock`.
        private let lock = NSLock()
        private var value: UInt64 = 0
        func next() -> UInt64 { lock.withLock { value &+= 1; return value } }
    }

    static func next() -> String {
        let n = String(counter.next(), radix: 16)
        return prefix + String(repeating: "0", count: max(0, 12 - n.count)) + n
    }
}

/// Request ids, error envelopes, logs and metrics for every route.
struct BridgeMiddleware: RouterMiddleware {
    typealias Context = BridgeRequestContext
    let metrics: BridgeMetrics
    let logger: Logger
    /// Where the Bridge is mounted ("" at the root), stripped before a path is named as a metrics route.
    let prefix: String

    static let routes = [
        "/v1/chat/completions", "/v1/llm/chat/completions", "/v1/completions", "/v1/images/generations", "/v1/images", "/v1/embeddings", "/v1/models",
        "/v1/llm", "/v1/responses", "/v1/messages", "/admin", "/health", "/metrics", "/openapi.json", "/chat.js", "/chat.css",
    ]

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let started = ContinuousClock.now
        var context = context
        let incoming = request.headers[.init("x-request-id")!] ?? ""
        context.requestID =
            (1...128).contains(incoming.count) && incoming.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-_.".contains($0)) })
            ? incoming : RequestIDs.next()
        var response: Response
        do {
            response = try await next(request, context)
        } catch let error as OpenAIError {
            response = BridgeService.withHeaders(BridgeService.json(HTTPResponse.Status(code: error.status), error.json), error.headers)
        } catch let error as BridgeService.AnthropicError {
            response = error.response()
        } catch let error as HTTPError {
            let status = error.status
            let code = status == .notFound ? "not_found" : nil
            let message = status == .notFound ? "Unknown path \(request.uri.path)" : "\(error.body ?? status.reasonPhrase)"
            response = BridgeService.json(status, OpenAIError(status: status.code, message: message, type: "invalid_request_error", param: nil, code: code).json)
        } catch {
            logger.error("internal error", metadata: ["request_id": "\(context.requestID)", "error": "\(error)"])
            response = BridgeService.json(
                .internalServerError, OpenAIError(status: 500, message: "Internal error.", type: "server_error", param: nil, code: nil).json)
        }
        response.headers[.init("x-request-id")!] = context.requestID
        let seconds = (ContinuousClock.now - started).seconds
        // Server-Timing: the whole request (to its head, for a stream), after the network's share when there is one.
        let total = String(format: "total;dur=%.3f", seconds * 1000)
        response.headers[.init("server-timing")!] = response.headers[.init("server-timing")!].map { $0 + ", " + total } ?? total
        let path = request.uri.path
        let local = prefix.isEmpty || !path.hasPrefix(prefix) ? path : String(path.dropFirst(prefix.count))
        let route = Self.routes.first { local == $0 || local.hasPrefix($0 + "/") } ?? (local == "/" || local.isEmpty ? "/" : "other")
        metrics.request(route: route, status: response.status.code, seconds: seconds, streaming: response.headers[.contentType] == "text/event-stream")
        if route != "/health" && route != "/metrics" {
            logger.info(
                "request",
                metadata: [
                    "request_id": "\(context.requestID)", "method": "\(request.method)", "path": "\(path)", "status": "\(response.status.code)",
                    "ms": "\(Int(seconds * 1000))",
                ])
        }
        return response
    }
}
