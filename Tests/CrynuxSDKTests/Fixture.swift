import Foundation
import Testing
@testable import CrynuxSDK

/// Loads a golden-vector file copied from ../shared/vectors into Fixtures/.
enum Fixture {
    static func data(_ name: String) throws -> Data {
        guard let url = Bundle.module.url(forResource: name, withExtension: "json", subdirectory: "Fixtures") else {
            throw FixtureError(message: "fixture \(name).json is missing")
        }
        return try Data(contentsOf: url)
    }

    /// The fixture's `cases` array, parsed losslessly (object key order kept).
    static func cases(_ name: String) throws -> [VectorCase] {
        let root = try JSONValue.parse(Array(try data(name)))
        guard case .array(let cases)? = root["cases"] else { throw FixtureError(message: "\(name) has no cases") }
        return cases.enumerated().map { VectorCase(index: $0.offset, value: $0.element) }
    }
}

struct FixtureError: Error { var message: String }

/// One golden-vector case, named in test output by its index and name instead of its whole JSON.
struct VectorCase: Sendable, CustomTestStringConvertible {
    var index: Int
    var value: JSONValue
    var testDescription: String { "#\(index) \(value["name"]?.stringValue ?? value["note"]?.stringValue ?? "")" }
    subscript(key: String) -> JSONValue? { value[key] }
    func string(_ key: String) -> String { value.string(key) }
    func bool(_ key: String) -> Bool { value.bool(key) }
}

extension JSONValue {
    /// A required string member, for fixtures.
    func string(_ key: String) -> String { self[key]?.stringValue ?? "" }
    /// A boolean member, for fixtures.
    func bool(_ key: String) -> Bool { if case .bool(let b)? = self[key] { return b } else { return false } }
}

/// A small deterministic generator so property tests are reproducible.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
