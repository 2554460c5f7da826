import Foundation
import Hummingbird

/// The Bridge's web files (`Web/Assets/`, built into the binary by the EmbedAssets plugin), each decoded once into
/// a ready response body.
struct WebAsset: Sendable {
    /// The route, relative to where the Bridge is mounted.
    let path: String
    /// The `Content-Type`.
    let contentType: String
    /// The file's bytes.
    let body: ByteBuffer

    init(_ file: String, path: String, contentType: String) {
        guard let encoded = EmbeddedAssets.base64[file], let data = Data(base64Encoded: encoded) else {
            preconditionFailure("the web asset \(file) was not embedded at build time")
        }
        self.path = path
        self.contentType = contentType
        body = ByteBuffer(bytes: data)
    }

    /// The page's rules for the browser: its own script, style and API only, never inside another site's frame,
    /// no content-type guessing, no referrer.
    static let securityHeaders: HTTPFields = [
        .contentSecurityPolicy:
            "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; "
            + "frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
        .xContentTypeOptions: "nosniff", .init("Referrer-Policy")!: "no-referrer", .init("X-Frame-Options")!: "DENY",
    ]

    /// The asset as a 200 response (the buffer is shared, not copied).
    var response: Response {
        var headers: HTTPFields = [.contentType: contentType, .cacheControl: "no-cache"]
        headers.append(contentsOf: Self.securityHeaders)
        return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: body))
    }
}

/// Every web asset the Bridge serves.
enum WebAssets {
    /// The chat page at `/`.
    static let chatPage = WebAsset("chat.html", path: "/", contentType: "text/html; charset=utf-8")
    /// Its script.
    static let chatScript = WebAsset("chat.js", path: "/chat.js", contentType: "text/javascript; charset=utf-8")
    /// Its style sheet.
    static let chatStyle = WebAsset("chat.css", path: "/chat.css", contentType: "text/css; charset=utf-8")
    /// The OpenAPI 3.1 description of the Bridge's API.
    static let openAPI = WebAsset("openapi.json", path: "/openapi.json", contentType: "application/json")
}
