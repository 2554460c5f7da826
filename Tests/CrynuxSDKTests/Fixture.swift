import Foundation
import TestSupport
import Testing
@testable import CrynuxSDK

/// Loads a golden-vector file: a byte-identical copy of the shared vectors (docs/vectors.md) in Fixtures/, or in
/// TestSupport's fixtures for those other test targets read too.
enum Fixture {
    static func data(_ name: String) throws -> Data {
        if let shared = SharedFixtures.url(name + ".json"), let data = try? Data(contentsOf: shared) { return data }
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
