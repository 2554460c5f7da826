/// Why a key, signature, keystore or proof operation failed. Messages never contain secret material.
public struct WalletError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The kind of failure; compare with the static members.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        let name: String
        /// The code's name.
        public var description: String { name }

        /// A private key that is not 32 bytes, or is zero or not below the curve order.
        public static let invalidPrivateKey = Code(name: "invalidPrivateKey")
        /// A public key that is malformed or not on the curve.
        public static let invalidPublicKey = Code(name: "invalidPublicKey")
        /// A signature that is malformed or does not recover to a key.
        public static let invalidSignature = Code(name: "invalidSignature")
        /// An address that is not 20 bytes of hex, or whose mixed case fails the EIP-55 checksum.
        public static let invalidAddress = Code(name: "invalidAddress")
        /// A keystore file that is malformed or uses an unsupported cipher or KDF.
        public static let invalidKeystore = Code(name: "invalidKeystore")
        /// The keystore's MAC does not match: the password is wrong or the file was altered.
        public static let wrongPassword = Code(name: "wrongPassword")
        /// A signed request whose timestamp is too far from now.
        public static let staleTimestamp = Code(name: "staleTimestamp")
        /// A signature from an address other than the expected one.
        public static let signerMismatch = Code(name: "signerMismatch")
        /// A VRF proof that is malformed or does not verify.
        public static let invalidProof = Code(name: "invalidProof")
        /// No keystore password was given, or its file cannot be read.
        public static let missingPassword = Code(name: "missingPassword")
    }

    /// The kind of failure.
    public var code: Code
    /// A human-readable explanation.
    public var message: String

    /// Creates an error.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    /// The message.
    public var description: String { message }
}
