import Testing
@testable import CrynuxSDK

@Suite struct VRFTests {
    static let cases = (try? Fixture.cases("vrf")) ?? []

    @Test func fixtureHasCases() { #expect(Self.cases.count == 60) }

    @Test(arguments: cases)
    func proveAndVerifyMatchGoECVRF(_ c: VectorCase) throws {
        let key = try PrivateKey(hex: c.string("sk"))
        #expect(Hex.encode(key.publicKey.compressed) == c.string("pk_compressed"))
        #expect(Hex.encode(key.publicKey.raw64) == c.string("pk_uncompressed_64"))
        #expect(key.address.checksummed == c.string("address"))
        let alpha = try #require(Hex.decode(c.string("alpha")))
        let proof = try ECVRF.prove(key: key, alpha: alpha)
        #expect(Hex.encode(proof.pi) == c.string("pi"))
        #expect(Hex.encode(proof.beta) == c.string("beta"))
        #expect(proof.needsValidation == c.bool("needs_validation"))
        #expect(Double(ECVRF.betaMod100(proof.beta)) == c["beta_mod_100"]?.doubleValue)
        let publicKey = try PublicKey(bytes: try #require(Hex.decode(c.string("pk_uncompressed_64"))))
        let beta = try ECVRF.verify(publicKey: publicKey, alpha: alpha, pi: try #require(Hex.decode(c.string("pi"))))
        #expect(Hex.encode(beta) == c.string("beta"))
    }

    @Test func someCasesNeedValidation() { #expect(Self.cases.filter { $0.bool("needs_validation") }.count >= 1) }

    @Test func tamperedProofsAndWrongKeysFail() throws {
        let key = PrivateKey.generate()
        let alpha = Array("sampling seed".utf8)
        let proof = try ECVRF.prove(key: key, alpha: alpha)
        _ = try ECVRF.verify(publicKey: key.publicKey, alpha: alpha, pi: proof.pi)
        for index in [0, 1, 20, 33, 40, 49, 60, 80] {
            var bad = proof.pi
            bad[index] ^= 0x01
            #expect(throws: WalletError.self) { _ = try ECVRF.verify(publicKey: key.publicKey, alpha: alpha, pi: bad) }
        }
        #expect(throws: WalletError.self) { _ = try ECVRF.verify(publicKey: PrivateKey.generate().publicKey, alpha: alpha, pi: proof.pi) }
        #expect(throws: WalletError.self) { _ = try ECVRF.verify(publicKey: key.publicKey, alpha: alpha + [0], pi: proof.pi) }
        #expect(throws: WalletError.self) { _ = try ECVRF.verify(publicKey: key.publicKey, alpha: alpha, pi: Array(proof.pi.dropLast())) }
    }
}
