import CrynuxSDK
import Foundation
import Hummingbird

extension BridgeService {
    /// The chat page and its files, `/openapi.json`, `/health` and `/metrics`.
    func addSystemRoutes(to routes: some RouterMethods<BridgeRequestContext>) {
        routes.get("/") { request, _ in
            // The page loads `chat.css`, `chat.js` and the API by relative URLs, so it works mounted under a path too:
            // that path must end in a slash.
            let path = request.uri.path
            guard path.hasSuffix("/") else {
                return Response(status: .permanentRedirect, headers: [.location: path + "/"])
            }
            return WebAssets.chatPage.response
        }
        for asset in [WebAssets.chatScript, WebAssets.chatStyle] {
            routes.get(RouterPath(asset.path)) { _, _ in asset.response }
        }
        routes.get("/openapi.json") { _, _ in WebAssets.openAPI.response }
        routes.get("/health") { _, _ in Self.json(.ok, .object([JSONMember("status", .string("ok"))])) }
        routes.get("/metrics") { _, _ in
            let runs = (try? self.config.store.runCounts()) ?? [:]
            let text = self.metrics.exposition(balance: self.balance.current?.balance, floor: self.config.balanceFloor, runs: runs)
            return Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(bytes: text)))
        }
    }
}
