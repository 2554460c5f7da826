import CrynuxSDK
import Foundation
import TestSupport
import Testing
@testable import Relay

/// The relay's signature check against the shared signing vectors (TestSupport's relay-signing.json): every
/// vector's signer is recovered from its input, timestamp and signature, and any tampering is refused.
@Suite struct SignatureTests {
    static let cases: [JSONValue] = {
        guard let bytes = try? SharedFixtures.bytes("relay-signing.json"), case .array(let cases)? = (try? JSONValue.parse(bytes))?["cases"]
        else { return [] }
        return cases
    }()

    @Test func everyGoldenVectorVerifiesAndTamperingFails() async throws {
        #expect(Self.cases.count == 26)
        for c in Self.cases {
            let name = c["name"]?.stringValue ?? "?"
            let input = try #require(c["input"]), address = try #require(c["address"]?.stringValue)
            let timestamp = try #require(c["timestamp"]?.doubleValue).rounded()
            let clock = ManualRelayClock(Int64(timestamp) + 30)
            let service = try RelayService(store: RelayStore(path: nil), clock: clock, seed: 1, dataDirectory: nil)
            let api = API(service: service)
            var request = API.Input()
            request.fields = ["timestamp": [String(Int64(timestamp))], "signature": [try #require(c["signature"]?.stringValue)]]
            #expect(try api.signer(request, signed: input, use: .read) == address, "\(name)")
            #expect(try api.signer(request, signed: input, expected: address, use: .read) == address, "\(name)")
            // A changed field, another timestamp, or the lowercase address are all refused.
            guard case .object(var members) = input, !members.isEmpty else { continue }
            members[0].value = .string("tampered")
            #expect(throws: RelayError.self, "\(name)") { _ = try api.signer(request, signed: .object(members), expected: address, use: .read) }
            var shifted = request
            shifted.fields["timestamp"] = [String(Int64(timestamp) + 1)]
            #expect(throws: RelayError.self, "\(name)") { _ = try api.signer(shifted, signed: input, expected: address, use: .read) }
            #expect(throws: RelayError.self, "\(name)") { _ = try api.signer(request, signed: input, expected: address.lowercased(), use: .read) }
            // Stale: more than 60 s from the relay's clock.
            clock.advance(31)
            #expect(throws: RelayError.self, "\(name)") { _ = try api.signer(request, signed: input, use: .read) }
        }
    }
}
