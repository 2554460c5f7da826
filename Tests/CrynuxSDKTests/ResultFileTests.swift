import Crypto
import Foundation
import Testing
@testable import CrynuxSDK

/// Fixtures/gpt-response.json: LLM result files byte for byte as the Python node writes them, and their scores.
@Suite struct ResultFileTests {
    static let cases: [JSONValue] = {
        guard let url = Bundle.module.url(forResource: "gpt-response", withExtension: "json", subdirectory: "Fixtures"),
            let data = try? Data(contentsOf: url), case .array(let cases)? = (try? JSONValue.parse(Array(data)))?["cases"]
        else { return [] }
        return cases
    }()

    @Test func resultFilesAreByteExactWithPythonsJSONDump() throws {
        #expect(Self.cases.count == 12)
        for c in Self.cases {
            let name = c["name"]?.stringValue ?? "?"
            let expected = try #require(c["bytes"]?.stringValue)
            let response = try JSONValueDecoder().decode(GPTTaskResponse.self, from: try #require(c["response"]))
            let file = response.resultFile
            #expect(String(decoding: file, as: UTF8.self) == expected, "\(name)")
            #expect(file.count == Int(c["length"]?.doubleValue ?? -1), "\(name)")
            #expect("0x" + SHA256.hash(data: file).map { String(format: "%02x", $0) }.joined() == c["score"]?.stringValue, "\(name)")
            // The generic writer gives the same text for the parsed response object.
            #expect(PythonJSON.dumps(try #require(c["response"])) == expected, "\(name)")
        }
    }
}
