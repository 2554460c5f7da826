import Hummingbird

/// The request context of the Bridge: bodies up to 4 MiB, and the request's id.
public struct BridgeRequestContext: RequestContext {
    /// Hummingbird's per-request storage.
    public var coreContext: CoreRequestContextStorage
    /// The `x-request-id` of this request (set by the Bridge's middleware).
    public var requestID = ""
    /// Creates the context.
    public init(source: Source) { coreContext = .init(source: source) }
    /// 4 MiB.
    public var maxUploadSize: Int { 4 << 20 }
}
