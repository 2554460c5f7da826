import CSecp256k1
import Crypto

/// ECVRF-SECP256K1-SHA256-TAI, byte for byte as `vechain/go-ecvrf` (the relay's library) computes it:
/// the verifiable random function behind Crynux's secret validation sampling.
///
/// Suite byte 0xFE, try-and-increment hash to curve over `SHA256(0xFE‖0x01‖pk‖alpha‖ctr)`, an RFC 6979
/// (HMAC-SHA256) nonce over `SHA256(compressed H)`, a 16-byte challenge, an 81-byte proof
/// `Γ(33)‖c(16)‖s(32)` and the 32-byte output `SHA256(0xFE‖0x03‖Γ)`.
public enum ECVRF {
    /// A proof and the output it proves.
    public struct Proof: Sendable, Hashable {
        /// The 81-byte proof π.
        public var pi: [UInt8]
        /// The 32-byte output β.
        public var beta: [UInt8]

        /// Whether the relay will ask for a validation group: β as a big-endian integer mod 100 is 0.
        public var needsValidation: Bool { ECVRF.needsValidation(beta: beta) }
    }

    static let suite: UInt8 = 0xFE
    /// The secp256k1 group order n.
    static let order: [UInt8] = Hex.decode("fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141")!

    /// Proves `alpha` with `key`.
    public static func prove(key: PrivateKey, alpha: [UInt8]) throws(WalletError) -> Proof {
        let ctx = Secp256k1Context.shared.pointer
        let publicKey = key.publicKey
        let h = try hashToCurve(publicKey: publicKey, alpha: alpha)
        let hBytes = compress(h)
        var gamma = h
        guard secp256k1_ec_pubkey_tweak_mul(ctx, &gamma, key.rawBytes) == 1 else {
            throw WalletError(.invalidProof, "could not compute Γ")
        }
        let k = nonce(secret: key.rawBytes, message: Array(SHA256.hash(data: hBytes)))
        var kB = secp256k1_pubkey()
        var kH = h
        guard secp256k1_ec_pubkey_create(ctx, &kB, k) == 1, secp256k1_ec_pubkey_tweak_mul(ctx, &kH, k) == 1 else {
            throw WalletError(.invalidProof, "could not compute the proof's commitments")
        }
        let c = challenge(hBytes, compress(gamma), compress(kB), compress(kH))
        // s = k + c·x mod n
        var s = key.rawBytes
        guard secp256k1_ec_seckey_tweak_mul(ctx, &s, pad32(c)) == 1, secp256k1_ec_seckey_tweak_add(ctx, &s, k) == 1 else {
            throw WalletError(.invalidProof, "the proof's scalar is zero; retry with another input")
        }
        let gammaBytes = compress(gamma)
        return Proof(pi: gammaBytes + c + s, beta: output(gammaCompressed: gammaBytes))
    }

    /// Verifies `pi` for `alpha` under `publicKey` and returns β; throws `invalidProof` if it does not verify.
    public static func verify(publicKey: PublicKey, alpha: [UInt8], pi: [UInt8]) throws(WalletError) -> [UInt8] {
        let ctx = Secp256k1Context.shared.pointer
        guard pi.count == 81 else { throw WalletError(.invalidProof, "a VRF proof is 81 bytes, got \(pi.count)") }
        let gammaBytes = Array(pi[0..<33])
        let c = Array(pi[33..<49])
        let s = Array(pi[49..<81])
        var gamma = secp256k1_pubkey()
        guard secp256k1_ec_pubkey_parse(ctx, &gamma, gammaBytes, 33) == 1 else {
            throw WalletError(.invalidProof, "the proof's Γ is not a point on the curve")
        }
        guard secp256k1_ec_seckey_verify(ctx, s) == 1 else {
            throw WalletError(.invalidProof, "the proof's s is zero or not below the group order")
        }
        let h = try hashToCurve(publicKey: publicKey, alpha: alpha)
        // U = s·B − c·Y,  V = s·H − c·Γ
        var sB = secp256k1_pubkey()
        _ = secp256k1_ec_pubkey_create(ctx, &sB, s)
        var sH = h
        guard secp256k1_ec_pubkey_tweak_mul(ctx, &sH, s) == 1 else { throw WalletError(.invalidProof, "bad s") }
        guard let u = subtractMultiple(sB, c, publicKey.point), let v = subtractMultiple(sH, c, gamma) else {
            throw WalletError(.invalidProof, "the VRF proof does not verify")
        }
        let expected = challenge(compress(h), gammaBytes, compress(u), compress(v))
        guard constantTimeEqual(expected, c) else { throw WalletError(.invalidProof, "the VRF proof does not verify") }
        return output(gammaCompressed: gammaBytes)
    }

    /// The relay's sampling rule: β as a big-endian unsigned integer mod 100.
    public static func betaMod100(_ beta: [UInt8]) -> Int {
        beta.reduce(0) { ($0 * 256 + Int($1)) % 100 }
    }

    /// Whether β selects the task for a validation group (β mod 100 == 0, a 1% rate).
    public static func needsValidation(beta: [UInt8]) -> Bool { betaMod100(beta) == 0 }

    // MARK: - Pieces

    static func hashToCurve(publicKey: PublicKey, alpha: [UInt8]) throws(WalletError) -> secp256k1_pubkey {
        let prefix = [suite, 0x01] + publicKey.compressed + alpha
        for ctr in 0...255 {
            let digest = Array(SHA256.hash(data: prefix + [UInt8(ctr)]))
            var point = secp256k1_pubkey()
            if secp256k1_ec_pubkey_parse(Secp256k1Context.shared.pointer, &point, [0x02] + digest, 33) == 1 {
                return point
            }
        }
        throw WalletError(.invalidProof, "no curve point found for this input")
    }

    static func challenge(_ points: [UInt8]...) -> [UInt8] {
        var data: [UInt8] = [suite, 0x02]
        for p in points { data += p }
        return Array(Array(SHA256.hash(data: data)).prefix(16))
    }

    static func output(gammaCompressed: [UInt8]) -> [UInt8] {
        Array(SHA256.hash(data: [suite, 0x03] + gammaCompressed))
    }

    static func compress(_ point: secp256k1_pubkey) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 33)
        var length = 33
        var p = point
        secp256k1_ec_pubkey_serialize(Secp256k1Context.shared.pointer, &out, &length, &p, UInt32(SECP256K1_EC_COMPRESSED))
        return out
    }

    static func pad32(_ bytes: [UInt8]) -> [UInt8] { [UInt8](repeating: 0, count: 32 - bytes.count) + bytes }

    /// `a − c·p`, or nil when c·p is undefined or the result is the point at infinity.
    static func subtractMultiple(_ a: secp256k1_pubkey, _ c: [UInt8], _ p: secp256k1_pubkey) -> secp256k1_pubkey? {
        let ctx = Secp256k1Context.shared.pointer
        var cp = p
        guard secp256k1_ec_pubkey_tweak_mul(ctx, &cp, pad32(c)) == 1, secp256k1_ec_pubkey_negate(ctx, &cp) == 1 else {
            return nil
        }
        var lhs = a
        var out = secp256k1_pubkey()
        let ok = withUnsafePointer(to: &lhs) { pa in
            withUnsafePointer(to: &cp) { pb in
                var inputs: [UnsafePointer<secp256k1_pubkey>?] = [pa, pb]
                return secp256k1_ec_pubkey_combine(ctx, &out, &inputs, 2)
            }
        }
        return ok == 1 ? out : nil
    }

    /// RFC 6979 §3.2 deterministic nonce with HMAC-SHA256 for secret `x` and message hash `h1`.
    static func nonce(secret x: [UInt8], message h1: [UInt8]) -> [UInt8] {
        func hmac(_ key: [UInt8], _ data: [UInt8]) -> [UInt8] {
            Array(HMAC<SHA256>.authenticationCode(for: data, using: SymmetricKey(data: key)))
        }
        // bits2octets(h1) = int2octets(bits2int(h1) mod n); qlen = hlen = 256 so bits2int is the identity.
        var h = h1
        if !h.lexicographicallyPrecedes(order) { h = subtract(h, order) }
        var v = [UInt8](repeating: 0x01, count: 32)
        var k = [UInt8](repeating: 0x00, count: 32)
        k = hmac(k, v + [0x00] + x + h)
        v = hmac(k, v)
        k = hmac(k, v + [0x01] + x + h)
        v = hmac(k, v)
        while true {
            v = hmac(k, v)
            if secp256k1_ec_seckey_verify(Secp256k1Context.shared.pointer, v) == 1 { return v }
            k = hmac(k, v + [0x00])
            v = hmac(k, v)
        }
    }

    /// a − b for 32-byte big-endian numbers with a ≥ b.
    static func subtract(_ a: [UInt8], _ b: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 32)
        var borrow = 0
        for i in stride(from: 31, through: 0, by: -1) {
            var d = Int(a[i]) - Int(b[i]) - borrow
            borrow = d < 0 ? 1 : 0
            if d < 0 { d += 256 }
            out[i] = UInt8(d)
        }
        return out
    }
}
