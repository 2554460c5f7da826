import Crypto
import Foundation
import _CryptoExtras

/// The key-derivation function of a keystore and its work factor.
public enum KeystoreKDF: Sendable, Hashable {
    /// scrypt with cost `n`, block size `r` and parallelism `p`.
    case scrypt(n: Int, r: Int, p: Int)
    /// PBKDF2 with HMAC-SHA256 and `iterations` rounds.
    case pbkdf2(iterations: Int)

    /// What geth and eth-account write by default: scrypt n = 262144, r = 8, p = 1 (256 MiB, about a second).
    public static let standard = KeystoreKDF.scrypt(n: 262_144, r: 8, p: 1)
}

/// A Web3 Secret Storage v3 keystore: a private key encrypted with AES-128-CTR under a password-derived
/// key, with a Keccak-256 MAC, readable and writable by geth, eth-account, MetaMask and other wallets.
public struct Keystore: Sendable, Hashable {
    /// The address recorded in the file (unverified until decryption), if the file has one.
    public var address: Address?
    /// The file's id (a UUID).
    public var id: String
    /// The key-derivation function.
    public var kdf: KeystoreKDF
    /// The KDF salt.
    public var salt: [UInt8]
    /// The AES-128-CTR initial counter block (16 bytes).
    public var iv: [UInt8]
    /// The encrypted private key.
    public var ciphertext: [UInt8]
    /// Keccak-256(derivedKey[16..<32] ‖ ciphertext).
    public var mac: [UInt8]
    /// The derived key length in bytes (32 in every real wallet).
    public var derivedKeyLength: Int

    /// Encrypts `key` under `password` with a fresh random salt, IV and id.
    public static func encrypt(_ key: PrivateKey, password: String, kdf: KeystoreKDF = .standard) throws(WalletError)
        -> Keystore
    {
        let salt = secureRandomBytes(32)
        let iv = secureRandomBytes(16)
        let derived = try deriveKey(password: password, kdf: kdf, salt: salt, length: 32)
        let ciphertext = try aesCTR(key: Array(derived[0..<16]), iv: iv, data: key.rawBytes)
        return Keystore(
            address: key.address, id: UUID().uuidString.lowercased(), kdf: kdf, salt: salt, iv: iv,
            ciphertext: ciphertext, mac: Keccak256.hash(derived[16..<32] + ciphertext), derivedKeyLength: 32)
    }

    /// Decrypts the key. A wrong password (or an altered file) fails the MAC check with `wrongPassword`.
    public func decrypt(password: String) throws(WalletError) -> PrivateKey {
        let derived = try Self.deriveKey(password: password, kdf: kdf, salt: salt, length: derivedKeyLength)
        guard constantTimeEqual(Keccak256.hash(derived[16..<32] + ciphertext), mac) else {
            throw WalletError(.wrongPassword, "wrong password for this keystore (or the file is corrupt)")
        }
        let plain = try Self.aesCTR(key: Array(derived[0..<16]), iv: iv, data: ciphertext)
        let key = try PrivateKey(rawBytes: plain)
        if let address, address != key.address {
            throw WalletError(.invalidKeystore, "the keystore's key does not match its address field")
        }
        return key
    }

    static func deriveKey(password: String, kdf: KeystoreKDF, salt: [UInt8], length: Int) throws(WalletError) -> [UInt8] {
        let pw = Array(password.utf8)
        switch kdf {
        case .scrypt(let n, let r, let p):
            return try Scrypt.derive(password: pw, salt: salt, n: n, r: r, p: p, length: length)
        case .pbkdf2(let iterations):
            guard iterations >= 1, iterations <= 100_000_000 else {
                throw WalletError(.invalidKeystore, "pbkdf2 iteration count is out of range")
            }
            return Scrypt.pbkdf2(password: pw, salt: salt, length: length, rounds: iterations)
        }
    }

    static func aesCTR(key: [UInt8], iv: [UInt8], data: [UInt8]) throws(WalletError) -> [UInt8] {
        do {
            let nonce = try AES._CTR.Nonce(nonceBytes: iv)
            return Array(try AES._CTR.encrypt(data, using: SymmetricKey(data: key), nonce: nonce))
        } catch {
            throw WalletError(.invalidKeystore, "AES-128-CTR failed: the key or IV has the wrong size")
        }
    }
}

extension Keystore {
    /// The largest keystore file read, in bytes.
    public static let maximumFileSize = 64 * 1024

    /// Reads a keystore from its JSON text.
    public init<Bytes: Collection>(json: Bytes) throws(WalletError) where Bytes.Element == UInt8 {
        guard json.count <= Self.maximumFileSize else { throw WalletError(.invalidKeystore, "the keystore file is too large") }
        let root: JSONValue
        do { root = try JSONValue.parse(json) } catch {
            throw WalletError(.invalidKeystore, "the keystore is not valid JSON (\(error))")
        }
        func bad(_ what: String) -> WalletError { WalletError(.invalidKeystore, "keystore: \(what)") }
        guard case .object = root else { throw bad("not a JSON object") }
        guard let version = root["version"]?.doubleValue, version == 3 else { throw bad("only version 3 is supported") }
        guard let crypto = root["crypto"] ?? root["Crypto"], case .object = crypto else { throw bad("missing crypto") }
        guard crypto["cipher"]?.stringValue == "aes-128-ctr" else { throw bad("only the aes-128-ctr cipher is supported") }
        func hexField(_ value: JSONValue?, _ name: String, count: Int? = nil) throws(WalletError) -> [UInt8] {
            guard let text = value?.stringValue, let bytes = Hex.decode(text) else { throw bad("\(name) is not hex") }
            if let count, bytes.count != count { throw bad("\(name) must be \(count) bytes") }
            return bytes
        }
        func intField(_ params: JSONValue, _ name: String) throws(WalletError) -> Int {
            guard let d = params[name]?.doubleValue, d == d.rounded(), d >= 1, d <= Double(1 << 40) else {
                throw bad("kdfparams.\(name) must be a positive integer")
            }
            return Int(d)
        }
        guard let params = crypto["kdfparams"], case .object = params else { throw bad("missing kdfparams") }
        let kdf: KeystoreKDF
        switch crypto["kdf"]?.stringValue {
        case "scrypt":
            kdf = .scrypt(n: try intField(params, "n"), r: try intField(params, "r"), p: try intField(params, "p"))
        case "pbkdf2":
            guard params["prf"]?.stringValue == "hmac-sha256" else { throw bad("only pbkdf2 with hmac-sha256 is supported") }
            kdf = .pbkdf2(iterations: try intField(params, "c"))
        default:
            throw bad("kdf must be scrypt or pbkdf2")
        }
        let dklen = try intField(params, "dklen")
        guard dklen >= 32, dklen <= 1024 else { throw bad("kdfparams.dklen must be at least 32") }
        var address: Address? = nil
        if let text = root["address"]?.stringValue, !text.isEmpty {
            guard let bytes = Hex.decode(text, count: 20) else { throw bad("address is not 20 bytes of hex") }
            address = Address(rawBytes: bytes)
        }
        let ciphertext = try hexField(crypto["ciphertext"], "ciphertext", count: 32)
        self.init(
            address: address, id: root["id"]?.stringValue ?? "", kdf: kdf, salt: try hexField(params["salt"], "salt"),
            iv: try hexField(crypto["cipherparams"]?["iv"], "cipherparams.iv", count: 16), ciphertext: ciphertext,
            mac: try hexField(crypto["mac"], "mac", count: 32), derivedKeyLength: dklen)
    }

    /// The keystore as a JSON value, in the layout geth writes (address lowercase without `0x`).
    public var jsonValue: JSONValue {
        var kdfName: String
        var params: [JSONMember] = [JSONMember("dklen", .integer(derivedKeyLength))]
        switch kdf {
        case .scrypt(let n, let r, let p):
            kdfName = "scrypt"
            params += [JSONMember("n", .integer(n)), JSONMember("r", .integer(r)), JSONMember("p", .integer(p))]
        case .pbkdf2(let c):
            kdfName = "pbkdf2"
            params += [JSONMember("c", .integer(c)), JSONMember("prf", .string("hmac-sha256"))]
        }
        params.append(JSONMember("salt", .string(Hex.encode(salt))))
        var members: [JSONMember] = []
        if let address { members.append(JSONMember("address", .string(Hex.encode(address.rawBytes)))) }
        members += [
            JSONMember(
                "crypto",
                .object([
                    JSONMember("cipher", .string("aes-128-ctr")),
                    JSONMember("cipherparams", .object([JSONMember("iv", .string(Hex.encode(iv)))])),
                    JSONMember("ciphertext", .string(Hex.encode(ciphertext))),
                    JSONMember("kdf", .string(kdfName)),
                    JSONMember("kdfparams", .object(params)),
                    JSONMember("mac", .string(Hex.encode(mac))),
                ])),
            JSONMember("id", .string(id)),
            JSONMember("version", .integer(3)),
        ]
        return .object(members)
    }

    /// The keystore's JSON text.
    public var json: String { CanonicalJSON.encode(jsonValue) }

    /// Reads a keystore file.
    public static func read(from path: String) throws(WalletError) -> Keystore {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw WalletError(.invalidKeystore, "cannot read keystore file \(path)")
        }
        return try Keystore(json: Array(data))
    }

    /// Writes the keystore to `path` with owner-only permissions, atomically; refuses to replace a file.
    public func write(to path: String) throws(WalletError) {
        guard !FileManager.default.fileExists(atPath: path) else {
            throw WalletError(.invalidKeystore, "\(path) already exists; not overwriting a keystore")
        }
        let temp = path + ".tmp-\(UUID().uuidString)"
        let ok = FileManager.default.createFile(
            atPath: temp, contents: Data((json + "\n").utf8), attributes: [.posixPermissions: 0o600])
        guard ok else { throw WalletError(.invalidKeystore, "cannot write \(temp)") }
        guard link(temp, path) == 0 else {
            unlink(temp)
            throw WalletError(.invalidKeystore, "cannot create \(path): \(String(cString: strerror(errno)))")
        }
        unlink(temp)
    }
}
