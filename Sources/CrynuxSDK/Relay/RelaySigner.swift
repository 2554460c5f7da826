import Foundation

/// Signs relay requests the way the Crynux relay verifies them: Keccak-256 of the canonical JSON of
/// the signed input followed by the decimal Unix timestamp, signed with RFC 6979, written as
/// `0x` + r‖s‖v with v ∈ {0, 1} (132 characters).
public struct RelaySigner: Sendable {
    /// The signing key.
    public let key: PrivateKey

    /// Creates a signer for `key`.
    public init(key: PrivateKey) { self.key = key }

    /// The address the relay will recover from this signer's signatures.
    public var address: Address { key.address }

    /// The bytes that are hashed: canonical JSON immediately followed by the timestamp's digits.
    public static func message(canonical: String, timestamp: Int64) -> [UInt8] {
        Array(canonical.utf8) + Array(String(timestamp).utf8)
    }

    /// The digest that is signed.
    public static func digest(canonical: String, timestamp: Int64) -> [UInt8] {
        Keccak256.hash(message(canonical: canonical, timestamp: timestamp))
    }

    /// Signs an already-canonical JSON text.
    public func signature(canonical: String, timestamp: Int64) -> String {
        let sig = key.sign(digest: Self.digest(canonical: canonical, timestamp: timestamp))
        return Hex.encode(sig.bytes(), prefix: true)
    }

    /// Signs a JSON value (canonicalised first).
    public func signature(for input: JSONValue, timestamp: Int64) -> String {
        signature(canonical: CanonicalJSON.encode(input), timestamp: timestamp)
    }

    /// Signs an `Encodable` input object, encoded to JSON and then canonicalised as the relay does.
    public func signature<Input: Encodable>(for input: Input, timestamp: Int64) throws -> String {
        signature(for: try JSONValueEncoder().encode(input), timestamp: timestamp)
    }
}

/// Checks relay request signatures as the relay does.
public enum RelaySignatureVerifier {
    /// How far a request's timestamp may be from the relay's clock, in seconds.
    public static let defaultTolerance: Int64 = 60

    /// The address that produced `signature` (hex, `0x` optional, 65 bytes with v ∈ {0, 1}) over
    /// `canonical` and `timestamp`.
    public static func recoverAddress(canonical: String, timestamp: Int64, signature: String) throws(WalletError)
        -> Address
    {
        guard let bytes = Hex.decode(signature.trimmingWhitespace) else {
            throw WalletError(.invalidSignature, "the signature is not hex")
        }
        guard bytes.count == 65 else {
            throw WalletError(.invalidSignature, "a relay signature is 65 bytes (0x + 130 hex digits), got \(bytes.count)")
        }
        let sig = try RecoverableSignature(bytes: bytes)
        return try sig.recoverPublicKey(digest: RelaySigner.digest(canonical: canonical, timestamp: timestamp)).address
    }

    /// Verifies a request as the relay does: the timestamp within `tolerance` seconds of `now`, and the
    /// recovered address's EIP-55 text equal to `expectedAddress` exactly (a lowercase address fails).
    public static func verify(
        input: JSONValue, timestamp: Int64, signature: String, expectedAddress: String,
        now: Int64 = Int64(Date().timeIntervalSince1970), tolerance: Int64 = defaultTolerance
    ) throws(WalletError) {
        guard abs(now - timestamp) <= tolerance else {
            throw WalletError(.staleTimestamp, "the timestamp is more than \(tolerance) s from the relay's clock")
        }
        let signer = try recoverAddress(canonical: CanonicalJSON.encode(input), timestamp: timestamp, signature: signature)
        guard signer.checksummed == expectedAddress else {
            throw WalletError(.signerMismatch, "the request is signed by \(signer), not \(expectedAddress)")
        }
    }
}
