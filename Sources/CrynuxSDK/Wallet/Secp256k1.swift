import CSecp256k1

/// The process-wide libsecp256k1 context; libsecp256k1 documents concurrent use of a context as safe
/// for every call that takes it as `const`, which is every call made here.
final class Secp256k1Context: @unchecked Sendable {
    static let shared = Secp256k1Context()
    let pointer: OpaquePointer

    private init() {
        pointer = secp256k1_context_create(UInt32(SECP256K1_CONTEXT_NONE))!
        var seed = secureRandomBytes(32)
        _ = secp256k1_context_randomize(pointer, &seed)
    }

    deinit { secp256k1_context_destroy(pointer) }
}

/// `count` bytes from the system's cryptographically secure generator (getrandom on Linux).
func secureRandomBytes(_ count: Int) -> [UInt8] {
    var rng = SystemRandomNumberGenerator()
    return (0..<count).map { _ in UInt8.random(in: .min ... .max, using: &rng) }
}

/// A secp256k1 private key. Its description never shows the key.
public struct PrivateKey: Sendable, Hashable, CustomStringConvertible {
    /// The 32 big-endian bytes of the secret scalar.
    public let rawBytes: [UInt8]

    /// Wraps 32 bytes, checking that they are a valid secret (non-zero and below the curve order).
    public init(rawBytes: [UInt8]) throws(WalletError) {
        guard rawBytes.count == 32 else {
            throw WalletError(.invalidPrivateKey, "a private key is 32 bytes, got \(rawBytes.count)")
        }
        guard secp256k1_ec_seckey_verify(Secp256k1Context.shared.pointer, rawBytes) == 1 else {
            throw WalletError(.invalidPrivateKey, "the private key is zero or not below the secp256k1 order")
        }
        self.rawBytes = rawBytes
    }

    /// Reads a key written as 64 hex digits, with or without `0x`.
    public init(hex: String) throws(WalletError) {
        let trimmed = hex.trimmingWhitespace
        guard let bytes = Hex.decode(trimmed) else {
            throw WalletError(.invalidPrivateKey, "the private key is not hex")
        }
        try self.init(rawBytes: bytes)
    }

    /// A fresh key from the system CSPRNG.
    public static func generate() -> PrivateKey {
        while true {
            if let key = try? PrivateKey(rawBytes: secureRandomBytes(32)) { return key }
        }
    }

    /// The key as `0x` + 64 hex digits. Handle with care.
    public var hex: String { Hex.encode(rawBytes, prefix: true) }

    /// The matching public key.
    public var publicKey: PublicKey {
        var pub = secp256k1_pubkey()
        let ok = secp256k1_ec_pubkey_create(Secp256k1Context.shared.pointer, &pub, rawBytes)
        precondition(ok == 1, "a verified secret key always has a public key")
        return PublicKey(pub)
    }

    /// The Ethereum address of this key.
    public var address: Address { publicKey.address }

    /// A redacted description.
    public var description: String { "PrivateKey(\(address))" }

    /// Signs a 32-byte digest with an RFC 6979 deterministic nonce; `s` is always low.
    public func sign(digest: [UInt8]) -> RecoverableSignature {
        precondition(digest.count == 32, "the digest must be 32 bytes")
        let ctx = Secp256k1Context.shared.pointer
        var sig = secp256k1_ecdsa_recoverable_signature()
        let ok = secp256k1_ecdsa_sign_recoverable(ctx, &sig, digest, rawBytes, nil, nil)
        precondition(ok == 1, "signing with a verified key cannot fail")
        var compact = [UInt8](repeating: 0, count: 64)
        var recid: Int32 = 0
        secp256k1_ecdsa_recoverable_signature_serialize_compact(ctx, &compact, &recid, &sig)
        return RecoverableSignature(r: Array(compact[0..<32]), s: Array(compact[32..<64]), recoveryID: UInt8(recid))
    }
}

/// A secp256k1 public key.
public struct PublicKey: Sendable, Hashable {
    /// The 65-byte uncompressed SEC1 encoding, starting with 0x04.
    public let uncompressed: [UInt8]

    init(_ key: secp256k1_pubkey) {
        var out = [UInt8](repeating: 0, count: 65)
        var length = out.count
        var pub = key
        secp256k1_ec_pubkey_serialize(
            Secp256k1Context.shared.pointer, &out, &length, &pub, UInt32(SECP256K1_EC_UNCOMPRESSED))
        uncompressed = out
    }

    /// Parses a SEC1 key: 33 bytes compressed, 65 bytes uncompressed, or the 64-byte X‖Y form the relay uses.
    public init(bytes: [UInt8]) throws(WalletError) {
        let input = bytes.count == 64 ? [0x04] + bytes : bytes
        guard input.count == 33 || input.count == 65 else {
            throw WalletError(.invalidPublicKey, "a public key is 33, 64 or 65 bytes, got \(bytes.count)")
        }
        var pub = secp256k1_pubkey()
        guard secp256k1_ec_pubkey_parse(Secp256k1Context.shared.pointer, &pub, input, input.count) == 1 else {
            throw WalletError(.invalidPublicKey, "the public key is not a point on secp256k1")
        }
        self.init(pub)
    }

    /// The libsecp256k1 form of the point.
    var point: secp256k1_pubkey {
        var pub = secp256k1_pubkey()
        let ok = secp256k1_ec_pubkey_parse(Secp256k1Context.shared.pointer, &pub, uncompressed, 65)
        precondition(ok == 1, "a stored public key always parses")
        return pub
    }

    /// The 33-byte compressed SEC1 encoding.
    public var compressed: [UInt8] {
        var out = [UInt8](repeating: 0, count: 33)
        var length = out.count
        var pub = point
        secp256k1_ec_pubkey_serialize(
            Secp256k1Context.shared.pointer, &out, &length, &pub, UInt32(SECP256K1_EC_COMPRESSED))
        return out
    }

    /// X‖Y without the 0x04 prefix: the form the relay's validate call takes as `public_key`.
    public var raw64: [UInt8] { Array(uncompressed.dropFirst()) }

    /// The Ethereum address: the last 20 bytes of Keccak-256(X‖Y).
    public var address: Address { Address(rawBytes: Array(Keccak256.hash(raw64).suffix(20))) }
}

/// An ECDSA signature with the recovery id that lets a verifier find the signer's public key.
public struct RecoverableSignature: Sendable, Hashable {
    /// The 32-byte `r`.
    public var r: [UInt8]
    /// The 32-byte `s`.
    public var s: [UInt8]
    /// The recovery id, 0…3 (0 or 1 in practice).
    public var recoveryID: UInt8

    /// Creates a signature from its parts.
    public init(r: [UInt8], s: [UInt8], recoveryID: UInt8) {
        self.r = r
        self.s = s
        self.recoveryID = recoveryID
    }

    /// Reads 65 bytes r‖s‖v, where v is 0…3 or, when `allowEthereumV` is true, also 27…30.
    public init(bytes: [UInt8], allowEthereumV: Bool = false) throws(WalletError) {
        guard bytes.count == 65 else {
            throw WalletError(.invalidSignature, "a signature is 65 bytes (r‖s‖v), got \(bytes.count)")
        }
        var v = bytes[64]
        if allowEthereumV, v >= 27 { v -= 27 }
        guard v <= 3 else {
            throw WalletError(.invalidSignature, "the signature's v byte is \(bytes[64]), expected 0 or 1")
        }
        self.init(r: Array(bytes[0..<32]), s: Array(bytes[32..<64]), recoveryID: v)
    }

    /// r‖s‖v with v = the recovery id plus `vOffset` (0 for the relay, 27 for Ethereum's `personal_sign`).
    public func bytes(vOffset: UInt8 = 0) -> [UInt8] { r + s + [recoveryID + vOffset] }

    /// Recovers the public key that made this signature over `digest`.
    public func recoverPublicKey(digest: [UInt8]) throws(WalletError) -> PublicKey {
        guard digest.count == 32 else { throw WalletError(.invalidSignature, "the digest must be 32 bytes") }
        let ctx = Secp256k1Context.shared.pointer
        var sig = secp256k1_ecdsa_recoverable_signature()
        let compact = r + s
        guard secp256k1_ecdsa_recoverable_signature_parse_compact(ctx, &sig, compact, Int32(recoveryID)) == 1 else {
            throw WalletError(.invalidSignature, "the signature's r or s is out of range")
        }
        var pub = secp256k1_pubkey()
        guard secp256k1_ecdsa_recover(ctx, &pub, &sig, digest) == 1 else {
            throw WalletError(.invalidSignature, "the signature does not recover to a public key")
        }
        return PublicKey(pub)
    }
}

extension String {
    var trimmingWhitespace: String {
        // Hex, addresses and signatures almost never carry spaces: when both ends are visible ASCII there is nothing to trim.
        if let first = utf8.first, let last = utf8.last, (0x21..<0x7F).contains(first), (0x21..<0x7F).contains(last) { return self }
        guard let start = firstIndex(where: { !$0.isWhitespace }), let end = lastIndex(where: { !$0.isWhitespace }) else { return "" }
        return String(self[start...end])
    }
}
