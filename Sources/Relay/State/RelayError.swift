import CrynuxSDK
import Foundation

/// A relay operation refused, in the relay's terms.
public struct RelayError: Error, Sendable, Hashable, CustomStringConvertible {
    /// How the HTTP layer answers it.
    public struct Kind: Sendable, Hashable {
        let name: String
        /// HTTP 400 `validation_error` with `field_name`.
        public static let validation = Kind(name: "validation")
        /// HTTP 404.
        public static let notFound = Kind(name: "notFound")
        /// HTTP 403.
        public static let forbidden = Kind(name: "forbidden")
        /// HTTP 413: the body is over the size limit.
        public static let tooLarge = Kind(name: "tooLarge")
        /// HTTP 429: a quota or the relay's capacity is reached; trying again later may succeed.
        public static let busy = Kind(name: "busy")
        /// HTTP 500: the relay's database could not be read or written.
        public static let storage = Kind(name: "storage")
    }

    /// The kind.
    public var kind: Kind
    /// The field at fault (validation errors).
    public var field: String
    /// What was wrong.
    public var message: String

    /// A validation error naming `field`.
    public static func validation(_ field: String, _ message: String) -> RelayError { RelayError(kind: .validation, field: field, message: message) }
    /// Not found.
    public static func notFound(_ message: String) -> RelayError { RelayError(kind: .notFound, field: "", message: message) }
    /// Not allowed for this signer.
    public static func forbidden(_ message: String) -> RelayError { RelayError(kind: .forbidden, field: "", message: message) }

    /// Over a quota or capacity (HTTP 429).
    public static func busy(_ message: String) -> RelayError { RelayError(kind: .busy, field: "", message: message) }

    /// The database failed (`error` is kept out of the message the client sees).
    public static func storage(_ error: any Error) -> RelayError { RelayError(kind: .storage, field: "", message: "storage: \(error)") }

    /// `field: message`.
    public var description: String { field.isEmpty ? message : "\(field): \(message)" }
}
