import Testing
@testable import CrynuxSDK

@Suite struct RelaySigningTests {
    static let cases = (try? Fixture.cases("relay-signing")) ?? []

    @Test func fixtureHasCases() { #expect(Self.cases.count >= 20) }

    @Test(arguments: cases)
    func canonicalJSONMatchesGo(_ c: VectorCase) throws {
        let input = try #require(c["input"])
        #expect(CanonicalJSON.encode(input) == c.string("canonical"), "\(c.string("name"))")
    }

    @Test(arguments: cases)
    func signatureMatchesReference(_ c: VectorCase) throws {
        let input = try #require(c["input"])
        let timestamp = Int64(try #require(c["timestamp"]?.doubleValue))
        let canonical = CanonicalJSON.encode(input)
        #expect(String(decoding: RelaySigner.message(canonical: canonical, timestamp: timestamp), as: UTF8.self) == c.string("message"))
        #expect(Hex.encode(RelaySigner.digest(canonical: canonical, timestamp: timestamp), prefix: true) == c.string("keccak"))
        let signer = RelaySigner(key: try PrivateKey(hex: c.string("private_key")))
        #expect(signer.address.checksummed == c.string("address"))
        let signature = signer.signature(for: input, timestamp: timestamp)
        #expect(signature == c.string("signature"), "\(c.string("name"))")
        #expect(signature.count == 132)
        let recovered = try RelaySignatureVerifier.recoverAddress(
            canonical: c.string("canonical"), timestamp: timestamp, signature: c.string("signature"))
        #expect(recovered.checksummed == c.string("address"))
        try RelaySignatureVerifier.verify(
            input: input, timestamp: timestamp, signature: signature, expectedAddress: c.string("address"),
            now: timestamp + 60)
    }

    @Test func verifierRejectsStaleForgedAndLowercase() throws {
        let key = try PrivateKey(hex: "0x420fcabfd5dbb55215490693062e6e530840c64de837d071f0d9da21aaac861e")
        let input = try JSONValue.parse(#"{"task_id":1}"#)
        let sig = RelaySigner(key: key).signature(for: input, timestamp: 1_692_446_475)
        #expect(sig == "0xdd78a14f5dcef6a57c5cfba8466baa1ac0ad2767e52eaf5a409895742e0475b4402acacaed2a2d7f158eac2f39849d653b45f207b0204858114cd38c415de5c700")
        let address = key.address.checksummed
        #expect(throws: WalletError.self) {
            try RelaySignatureVerifier.verify(input: input, timestamp: 1_692_446_475, signature: sig, expectedAddress: address, now: 1_692_446_536)
        }
        #expect(throws: WalletError.self) {
            try RelaySignatureVerifier.verify(input: input, timestamp: 1_692_446_475, signature: sig, expectedAddress: address.lowercased(), now: 1_692_446_475)
        }
        let other = try JSONValue.parse(#"{"task_id":2}"#)
        #expect(throws: WalletError.self) {
            try RelaySignatureVerifier.verify(input: other, timestamp: 1_692_446_475, signature: sig, expectedAddress: address, now: 1_692_446_475)
        }
        #expect(throws: WalletError.self) {
            _ = try RelaySignatureVerifier.recoverAddress(canonical: "{}", timestamp: 1, signature: String(sig.dropLast(2)))
        }
        #expect(throws: WalletError.self) {
            _ = try RelaySignatureVerifier.recoverAddress(canonical: "{}", timestamp: 1, signature: String(sig.dropLast(2)) + "07")
        }
    }

    @Test func signRecoverRoundTripsForRandomKeysAndInputs() throws {
        var rng = SplitMix64(seed: 42)
        for i in 0..<50 {
            let key = PrivateKey.generate()
            let input = JSONValue.object([
                JSONMember("task_id_commitment", .string(Hex.encode((0..<32).map { _ in UInt8.random(in: 0...255, using: &rng) }, prefix: true))),
                JSONMember("n", .integer(i)),
                JSONMember("text", .string("é <&> \u{2028} \(i)")),
            ])
            let ts = Int64.random(in: 1_600_000_000...1_900_000_000, using: &rng)
            let sig = RelaySigner(key: key).signature(for: input, timestamp: ts)
            let recovered = try RelaySignatureVerifier.recoverAddress(canonical: CanonicalJSON.encode(input), timestamp: ts, signature: sig)
            #expect(recovered == key.address)
        }
    }
}

@Suite struct EncodableSigningTests {
    struct AbortInput: Encodable {
        var taskIDCommitment: String
        var abortReason: Int
        enum CodingKeys: String, CodingKey {
            case taskIDCommitment = "task_id_commitment"
            case abortReason = "abort_reason"
        }
    }

    @Test func typedInputSignsLikeTheVector() throws {
        let c = try #require(try Fixture.cases("relay-signing").first { $0.string("name") == "abort_task_creator_cancelled" })
        let input = AbortInput(taskIDCommitment: try #require(c["input"]?["task_id_commitment"]?.stringValue), abortReason: 7)
        let signer = RelaySigner(key: try PrivateKey(hex: c.string("private_key")))
        #expect(try signer.signature(for: input, timestamp: Int64(try #require(c["timestamp"]?.doubleValue))) == c.string("signature"))
    }

    @Test func aClientNeverSignsTheSameChangeTwiceButMayRepeatAReadsSignature() {
        let stamps = SignatureStamps()
        let now: Int64 = 1_800_000_000
        let address = #"{"address":"0xA"}"#
        // A balance query, then pause, resume and quit in the same second: each change gets its own timestamp,
        // later than the read's, so a relay that accepts a signed change once takes all three.
        #expect(stamps.next(for: address, now: now, change: false) == now)
        #expect(stamps.next(for: address, now: now, change: false) == now)
        let changes = (0..<3).map { _ in stamps.next(for: address, now: now, change: true) }
        #expect(changes == [now + 1, now + 2, now + 3])
        // Other messages are independent, and a change after its time has passed uses the clock again.
        #expect(stamps.next(for: #"{"address":"0xB"}"#, now: now, change: true) == now)
        #expect(stamps.next(for: address, now: now + 10, change: true) == now + 10)
    }
}
