import CrynuxSDK
import Foundation

/// An entry of the relay's event stream (`GET /v1/events`).
public struct RelayEvent: Sendable, Hashable {
    /// From 1, in order.
    public var id: Int
    /// `TaskStarted`, `TaskEndAborted`, `NodeJoin`, …
    public var type: String
    /// The node concerned, or empty.
    public var nodeAddress: String
    /// The task concerned, or empty.
    public var taskIDCommitment: String
    /// Extra fields (as the `args` JSON string on the wire).
    public var args: JSONValue
}
