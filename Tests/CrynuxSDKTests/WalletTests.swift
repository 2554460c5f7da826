import Foundation
import Testing
@testable import CrynuxSDK

@Suite struct KeccakTests {
    @Test(arguments: [
        ("", "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"),
        ("abc", "4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45"),
        ("The quick brown fox jumps over the lazy dog", "4d741b6f1eb29cb2a9b9911c82f56fa8d73b04959d3d9d222895df6c0b28aa15"),
    ])
    func knownAnswers(_ input: String, _ expected: String) {
        #expect(Hex.encode(Keccak256.hash(input)) == expected)
    }

    @Test func incrementalEqualsOneShotAcrossBlockBoundaries() {
        let data = (0..<1000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        for split in [0, 1, 135, 136, 137, 272, 999] {
            var h = Keccak256()
            h.update(data[..<split])
            h.update(data[split...])
            #expect(h.finalize() == Keccak256.hash(data))
        }
        // 136 bytes is exactly one rate block: the padding goes into a second block.
        #expect(Hex.encode(Keccak256.hash([UInt8](repeating: 0x61, count: 136))) != Hex.encode(Keccak256.hash([UInt8](repeating: 0x61, count: 135))))
    }
}

@Suite struct AddressTests {
    // The EIP-55 specification's examples.
    @Test(arguments: [
        "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
        "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB", "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
        "0x52908400098527886E0F7030069857D2E4169EE7", "0xde709f2102306220921060314715629080e2fb77",
    ])
    func eip55(_ text: String) throws {
        let address = try Address(text)
        #expect(address.checksummed == text)
        #expect(try Address(text.lowercased()) == address)
    }

    @Test func badChecksumAndLengthAreRejected() {
        #expect(throws: WalletError.self) { _ = try Address("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD") }
        #expect(throws: WalletError.self) { _ = try Address("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeA") }
        #expect(throws: WalletError.self) { _ = try Address("hello") }
    }

    @Test func keysAndSignatures() throws {
        let key = try PrivateKey(hex: "0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318")
        #expect(key.address.checksummed == "0x2c7536E3605D9C16a7a3D7b1898e529396a65c23")
        #expect(!key.description.contains("4c0883a6"))
        // web3.js accounts.sign("Some data") documentation vector.
        let sig = PersonalSign.sign(message: Array("Some data".utf8), with: key)
        #expect(Hex.encode(sig.bytes(vOffset: 27), prefix: true) == "0xb91467e570a6466aa9e9876cbcd013baba02900b8979d43fe208a4a4f339f5fd6007e74cd82e037b800186422fc2da167c747ef045e5d18a5f5d4300f8e1a0291c")
        #expect(try PersonalSign.recoverAddress(message: Array("Some data".utf8), signature: sig.bytes(vOffset: 27)) == key.address)
        #expect(try PersonalSign.recoverAddress(message: Array("Other".utf8), signature: sig.bytes(vOffset: 27)) != key.address)
    }

    @Test func invalidPrivateKeysAreRejected() {
        #expect(throws: WalletError.self) { _ = try PrivateKey(hex: "0x" + String(repeating: "11", count: 31)) }
        #expect(throws: WalletError.self) { _ = try PrivateKey(hex: "0x" + String(repeating: "00", count: 32)) }
        #expect(throws: WalletError.self) { _ = try PrivateKey(hex: "0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141") }
        #expect(throws: WalletError.self) { _ = try PrivateKey(hex: "not hex") }
    }

    @Test func generatedKeysDiffer() {
        let keys = (0..<16).map { _ in PrivateKey.generate() }
        #expect(Set(keys.map(\.rawBytes)).count == 16)
    }
}

@Suite struct ScryptTests {
    // RFC 7914 §12 test vectors.
    @Test(arguments: [
        ("", "", 16, 1, 1, "77d6576238657b203b19ca42c18a0497f16b4844e3074ae8dfdffa3fede21442fcd0069ded0948f8326a753a0fc81f17e8d3e0fb2e0d3628cf35e20c38d18906"),
        ("password", "NaCl", 1024, 8, 16, "fdbabe1c9d3472007856e7190d01e9fe7c6ad7cbc8237830e77376634b3731622eaf30d92e22a3886ff109279d9830dac727afb94a83ee6d8360cbdfa2cc0640"),
        ("pleaseletmein", "SodiumChloride", 16384, 8, 1, "7023bdcb3afd7348461c06cd81fd38ebfda8fbba904f8e3ea9b543f6545da1f2d5432955613f0fcf62d49705242a9af9e61e85dc0d651e40dfcf017b45575887"),
    ])
    func rfc7914(_ password: String, _ salt: String, _ n: Int, _ r: Int, _ p: Int, _ expected: String) throws {
        let out = try Scrypt.derive(password: Array(password.utf8), salt: Array(salt.utf8), n: n, r: r, p: p, length: 64)
        #expect(Hex.encode(out) == expected)
    }

    // RFC 7914's fourth vector needs 1 GiB and about 80 s in a debug build: run with CRYNUX_SLOW_TESTS=1.
    @Test(.enabled(if: ProcessInfo.processInfo.environment["CRYNUX_SLOW_TESTS"] != nil))
    func rfc7914OneGiB() throws {
        let out = try Scrypt.derive(password: Array("pleaseletmein".utf8), salt: Array("SodiumChloride".utf8), n: 1 << 20, r: 8, p: 1, length: 64)
        #expect(Hex.encode(out) == "2101cb9b6a511aaeaddbbe09cf70f881ec568d574a2ffd4dabe5ee9820adaa478e56fd8f4ba5d09ffa1c6d927c40f4c337304049e8a952fbcbf45c6fa77a41a4")
    }

    @Test func rfc7914PBKDF2() {
        #expect(Hex.encode(Scrypt.pbkdf2(password: Array("passwd".utf8), salt: Array("salt".utf8), length: 64)) == "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc49ca9cccf179b645991664b39d77ef317c71b845b1e30bd509112041d3a19783")
    }

    @Test func hostileParametersAreRefused() {
        for (n, r, p) in [(0, 8, 1), (3, 8, 1), (1 << 30, 8, 1), (1024, 0, 1), (1024, 8, 0), (1 << 21, 8, 1)] {
            #expect(throws: WalletError.self) { _ = try Scrypt.derive(password: [], salt: [], n: n, r: r, p: p, length: 32) }
        }
    }
}

@Suite struct KeystoreTests {
    @Test(arguments: (try? Fixture.cases("keystore")) ?? [])
    func decryptsEthAccountKeystores(_ c: VectorCase) throws {
        let json = CanonicalJSON.encode(try #require(c["keystore"]))
        let keystore = try Keystore(json: Array(json.utf8))
        let key = try keystore.decrypt(password: c.string("password"))
        #expect(key.hex == c.string("private_key"))
        #expect(key.address.checksummed == c.string("address"))
        if !c.bool("slow") {  // the slow case costs ~20 s per derivation in debug builds; the others cover this
            #expect(throws: WalletError.self) { _ = try keystore.decrypt(password: c.string("password") + "x") }
        }
    }

    @Test func fixtureCoversBothKDFs() throws {
        let kdfs = Set(try Fixture.cases("keystore").map { $0.string("kdf") })
        #expect(kdfs == ["scrypt", "pbkdf2"])
    }

    @Test(arguments: [KeystoreKDF.scrypt(n: 1024, r: 8, p: 1), .pbkdf2(iterations: 1000)])
    func writeThenReadRoundTrips(_ kdf: KeystoreKDF) throws {
        let key = PrivateKey.generate()
        let written = try Keystore.encrypt(key, password: "pässwörd 🔑", kdf: kdf)
        let read = try Keystore(json: Array(written.json.utf8))
        #expect(read == written)
        #expect(try read.decrypt(password: "pässwörd 🔑") == key)
        let error = #expect(throws: WalletError.self) { _ = try read.decrypt(password: "password") }
        #expect(error?.code == .wrongPassword)
        #expect(!(error?.message.contains(key.hex) ?? true))
    }

    @Test func fileIsPrivateAndNeverOverwritten() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ks-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("key.json").path
        let key = PrivateKey.generate()
        try Keystore.encrypt(key, password: "pw", kdf: .scrypt(n: 1024, r: 8, p: 1)).write(to: path)
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
        #expect(try Keystore.read(from: path).decrypt(password: "pw") == key)
        #expect(throws: WalletError.self) { try Keystore.encrypt(key, password: "pw", kdf: .pbkdf2(iterations: 10)).write(to: path) }
    }

    @Test(arguments: [
        "", "[]", "{\"version\":3}", "{\"version\":1,\"crypto\":{}}",
        #"{"version":3,"crypto":{"cipher":"aes-256-gcm","kdf":"scrypt","kdfparams":{"n":2,"r":1,"p":1,"dklen":32,"salt":"00"},"ciphertext":"00","cipherparams":{"iv":"00"},"mac":"00"}}"#,
        #"{"version":3,"crypto":{"cipher":"aes-128-ctr","kdf":"scrypt","kdfparams":{"n":1073741824,"r":8,"p":1,"dklen":32,"salt":"00"},"ciphertext":"0000000000000000000000000000000000000000000000000000000000000000","cipherparams":{"iv":"00000000000000000000000000000000"},"mac":"0000000000000000000000000000000000000000000000000000000000000000"}}"#,
    ])
    func malformedKeystoresGiveClearErrors(_ text: String) {
        #expect(throws: WalletError.self) {
            let ks = try Keystore(json: Array(text.utf8))
            _ = try ks.decrypt(password: "x")
        }
    }
}

@Suite struct WeiTests {
    @Test(arguments: ["0", "1", "1000000000000000000000000000000"])
    func decimalStringRoundTrips(_ text: String) throws {
        let wei = try #require(Wei(decimal: text))
        #expect(wei.decimalString == text)
        let encoded = try JSONEncoder().encode([wei])
        #expect(String(decoding: encoded, as: UTF8.self) == "[\"\(text)\"]")
        #expect(try JSONDecoder().decode([Wei].self, from: encoded) == [wei])
    }

    @Test func cnxConversion() throws {
        #expect(Wei(cnx: 5).decimalString == "5000000000000000000")
        #expect(Wei(cnx: "0.25")?.decimalString == "250000000000000000")
        #expect(Wei(cnx: "1.000000000000000001")?.decimalString == "1000000000000000001")
        #expect(Wei(cnx: ".5")?.cnxString == "0.5")
        #expect(Wei(gwei: 5_000_000_000) == Wei(cnx: 5))
        #expect(Wei(decimal: "1500000000000000000")?.cnxString == "1.5")
        #expect(Wei(decimal: "1")?.description == "0.000000000000000001 CNX")
        for bad in ["", ".", "1.", "-1", "1e18", "0.0000000000000000001", "1.2.3", "abc", " 1"] {
            #expect(Wei(cnx: bad) == nil, "\(bad)")
        }
        #expect(Wei(decimal: "-1") == nil && Wei(decimal: "1.5") == nil && Wei(decimal: "") == nil)
        #expect(Wei(cnx: 1).subtracting(Wei(cnx: 2)) == nil)
        #expect((Wei(cnx: 2) + 1).subtracting(Wei(cnx: 1)) == Wei(decimal: "1000000000000000001"))
        #expect(Wei(cnx: 2) * 3 == Wei(cnx: 6))
    }
}
