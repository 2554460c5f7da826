import Crypto
import _CryptoExtras

/// scrypt (RFC 7914): PBKDF2-HMAC-SHA256 around the memory-hard ROMix of Salsa20/8 BlockMix.
public enum Scrypt {
    /// The most memory one derivation may use (128·r·N bytes); keystores asking for more are refused.
    public static let maximumMemory = 1 << 30

    /// Derives `length` bytes from `password` and `salt` with cost `n` (a power of two > 1), block size
    /// `r` and parallelism `p`.
    public static func derive(password: [UInt8], salt: [UInt8], n: Int, r: Int, p: Int, length: Int) throws(WalletError)
        -> [UInt8]
    {
        guard n > 1, n & (n - 1) == 0 else { throw WalletError(.invalidKeystore, "scrypt n must be a power of two above 1") }
        guard r >= 1, p >= 1, r <= 1 << 20, p <= 1 << 20, r * p < 1 << 30 else {
            throw WalletError(.invalidKeystore, "scrypt r and p are out of range")
        }
        guard length >= 1, length <= 1 << 20 else { throw WalletError(.invalidKeystore, "scrypt dklen is out of range") }
        guard n <= maximumMemory / (128 * r) else {
            throw WalletError(.invalidKeystore, "scrypt parameters need more than \(maximumMemory >> 20) MiB")
        }
        let blockBytes = 128 * r
        var b = pbkdf2(password: password, salt: salt, length: p * blockBytes)
        let words = 32 * r
        var x = [UInt32](repeating: 0, count: words)
        var y = [UInt32](repeating: 0, count: words)
        var v = [UInt32](repeating: 0, count: words * n)
        for block in 0..<p {
            let offset = block * blockBytes
            for i in 0..<words {
                let o = offset + 4 * i
                x[i] = UInt32(b[o]) | UInt32(b[o + 1]) << 8 | UInt32(b[o + 2]) << 16 | UInt32(b[o + 3]) << 24
            }
            x.withUnsafeMutableBufferPointer { xp in
                y.withUnsafeMutableBufferPointer { yp in
                    v.withUnsafeMutableBufferPointer { vp in
                        roMix(x: xp.baseAddress!, y: yp.baseAddress!, v: vp.baseAddress!, n: n, r: r)
                    }
                }
            }
            for i in 0..<words {
                let o = offset + 4 * i
                b[o] = UInt8(truncatingIfNeeded: x[i])
                b[o + 1] = UInt8(truncatingIfNeeded: x[i] >> 8)
                b[o + 2] = UInt8(truncatingIfNeeded: x[i] >> 16)
                b[o + 3] = UInt8(truncatingIfNeeded: x[i] >> 24)
            }
        }
        return pbkdf2(password: password, salt: b, length: length)
    }

    static func pbkdf2(password: [UInt8], salt: [UInt8], length: Int, rounds: Int = 1) -> [UInt8] {
        // BoringSSL's PBKDF2 only fails on allocation failure or absurd parameters, both excluded above.
        let key = try! KDF.Insecure.PBKDF2.deriveKey(
            from: password, salt: salt, using: .sha256, outputByteCount: length, unsafeUncheckedRounds: rounds)
        return key.withUnsafeBytes { Array($0) }
    }

    private static func roMix(
        x: UnsafeMutablePointer<UInt32>, y: UnsafeMutablePointer<UInt32>, v: UnsafeMutablePointer<UInt32>, n: Int, r: Int
    ) {
        let words = 32 * r
        for i in 0..<n {
            (v + i * words).update(from: x, count: words)
            blockMix(x, y, r)
        }
        for _ in 0..<n {
            let j = Int(x[words - 16] & UInt32(n - 1))
            let vj = v + j * words
            for k in 0..<words { x[k] ^= vj[k] }
            blockMix(x, y, r)
        }
    }

    /// BlockMix: B is 2r 64-byte blocks; y is scratch. The result replaces B.
    private static func blockMix(_ b: UnsafeMutablePointer<UInt32>, _ y: UnsafeMutablePointer<UInt32>, _ r: Int) {
        var t = SIMD16<UInt32>(UnsafeBufferPointer(start: b + (2 * r - 1) * 16, count: 16))
        for i in 0..<(2 * r) {
            let bi = SIMD16<UInt32>(UnsafeBufferPointer(start: b + i * 16, count: 16))
            t = salsa8(t ^ bi)
            // Even blocks go to the first half, odd blocks to the second.
            let dest = y + ((i & 1) * r + (i >> 1)) * 16
            for k in 0..<16 { dest[k] = t[k] }
        }
        b.update(from: y, count: 32 * r)
    }

    private static func salsa8(_ input: SIMD16<UInt32>) -> SIMD16<UInt32> {
        var x = input
        @inline(__always) func rotl(_ a: UInt32, _ s: UInt32) -> UInt32 { (a << s) | (a >> (32 - s)) }
        for _ in 0..<4 {
            x[4] ^= rotl(x[0] &+ x[12], 7); x[8] ^= rotl(x[4] &+ x[0], 9)
            x[12] ^= rotl(x[8] &+ x[4], 13); x[0] ^= rotl(x[12] &+ x[8], 18)
            x[9] ^= rotl(x[5] &+ x[1], 7); x[13] ^= rotl(x[9] &+ x[5], 9)
            x[1] ^= rotl(x[13] &+ x[9], 13); x[5] ^= rotl(x[1] &+ x[13], 18)
            x[14] ^= rotl(x[10] &+ x[6], 7); x[2] ^= rotl(x[14] &+ x[10], 9)
            x[6] ^= rotl(x[2] &+ x[14], 13); x[10] ^= rotl(x[6] &+ x[2], 18)
            x[3] ^= rotl(x[15] &+ x[11], 7); x[7] ^= rotl(x[3] &+ x[15], 9)
            x[11] ^= rotl(x[7] &+ x[3], 13); x[15] ^= rotl(x[11] &+ x[7], 18)
            x[1] ^= rotl(x[0] &+ x[3], 7); x[2] ^= rotl(x[1] &+ x[0], 9)
            x[3] ^= rotl(x[2] &+ x[1], 13); x[0] ^= rotl(x[3] &+ x[2], 18)
            x[6] ^= rotl(x[5] &+ x[4], 7); x[7] ^= rotl(x[6] &+ x[5], 9)
            x[4] ^= rotl(x[7] &+ x[6], 13); x[5] ^= rotl(x[4] &+ x[7], 18)
            x[11] ^= rotl(x[10] &+ x[9], 7); x[8] ^= rotl(x[11] &+ x[10], 9)
            x[9] ^= rotl(x[8] &+ x[11], 13); x[10] ^= rotl(x[9] &+ x[8], 18)
            x[12] ^= rotl(x[15] &+ x[14], 7); x[13] ^= rotl(x[12] &+ x[15], 9)
            x[14] ^= rotl(x[13] &+ x[12], 13); x[15] ^= rotl(x[14] &+ x[13], 18)
        }
        return x &+ input
    }
}
