import CKernels
import CrynuxSDK
import Foundation
import Testing
@testable import NodeKit

/// Fixtures/quant-blocks.json: gguf-py's dequantization and quantization (scripts/gen-quant-fixtures.py).
enum QuantFixture {
    static let root: JSONValue? = {
        guard let url = Bundle.module.url(forResource: "quant-blocks", withExtension: "json", subdirectory: "Fixtures"),
            let data = try? Data(contentsOf: url)
        else { return nil }
        return try? JSONValue.parse(Array(data))
    }()

    static func cases(_ key: String) -> [JSONValue] {
        guard case .array(let cases)? = root?[key] else { return [] }
        return cases
    }

    static func bytes(_ hex: String) -> [UInt8] {
        var out: [UInt8] = []
        var index = hex.startIndex
        while index < hex.endIndex {
            let next = hex.index(index, offsetBy: 2)
            out.append(UInt8(hex[index..<next], radix: 16)!)
            index = next
        }
        return out
    }

    static func floats(_ value: JSONValue?) -> [Float] {
        guard case .array(let items)? = value else { return [] }
        return items.map { Float($0.doubleValue ?? .nan) }
    }
}

/// Runs `body` at every instruction-set level this CPU has (portable, AVX2, AVX-512), restoring the best.
func atEveryKernelLevel(_ body: (Int) throws -> Void) rethrows {
    let best = ck_set_level(99)
    defer { ck_set_level(best) }
    for level in 0...Int(best) {
        ck_set_level(Int32(level))
        try body(level)
    }
}

@Suite(.serialized) struct KernelTests {
    @Test func dequantizationMatchesGGUFPyForEveryFormat() throws {
        let cases = QuantFixture.cases("dequantize")
        #expect(cases.count == 8)
        for c in cases {
            let type = Int32(c["type"]?.doubleValue ?? -1)
            let name = c["name"]?.stringValue ?? "?"
            let bytes = QuantFixture.bytes(c["hex"]?.stringValue ?? "")
            let expected = QuantFixture.floats(c["values"])
            #expect(ck_supports(type) != 0, "\(name)")
            atEveryKernelLevel { level in
                var out = [Float](repeating: .nan, count: expected.count)
                bytes.withUnsafeBytes { raw in ck_dequantize_row(type, raw.baseAddress!, Int32(expected.count), &out) }
                for (i, (a, b)) in zip(out, expected).enumerated() {
                    // gguf-py computes Q4_1 as d·q + m with two roundings; the engine uses one fused multiply-add.
                    let tolerance = name == "Q4_1" ? max(abs(b), 1e-3) * 3e-7 : 0
                    if abs(a - b) > tolerance {
                        Issue.record("\(name) level \(level) weight \(i): \(a) != \(b)")
                        return
                    }
                }
            }
        }
    }

    @Test func quantizationMatchesGGUFPyByteForByte() {
        let cases = QuantFixture.cases("quantize")
        #expect(cases.count == 2)
        for c in cases {
            let input = QuantFixture.floats(c["input"])
            let expected = QuantFixture.bytes(c["hex"]?.stringValue ?? "")
            var out = [UInt8](repeating: 0, count: expected.count)
            if c["name"]?.stringValue == "Q8_0" {
                ck_quantize_row_q8_0(input, Int32(input.count), &out)
            } else {
                ck_quantize_row_q4_1(input, Int32(input.count), &out)
            }
            #expect(out == expected, "\(c["name"]?.stringValue ?? "")")
        }
    }

    /// Rows for a weight format built from the fixture's blocks (so every scale is realistic).
    static func weights(type: Int32, rows: Int, columns: Int) -> (bytes: [UInt8], rowBytes: Int)? {
        guard let c = QuantFixture.cases("dequantize").first(where: { Int32($0["type"]?.doubleValue ?? -1) == type }) else { return nil }
        let blocks = QuantFixture.bytes(c["hex"]?.stringValue ?? "")
        let values = QuantFixture.floats(c["values"]).count
        let blockWeights = values >= 256 && values % 256 == 0 && (type == 12 || type == 14) ? 256 : 32
        let blockCount = values / blockWeights
        let blockBytes = blocks.count / blockCount
        let rowBytes = columns / blockWeights * blockBytes
        var out: [UInt8] = []
        var random = EngineRandom(seed: UInt64(type))
        for _ in 0..<(rows * columns / blockWeights) {
            let b = Int(random.next() % UInt64(blockCount))
            out += blocks[(b * blockBytes)..<((b + 1) * blockBytes)]
        }
        return (out, rowBytes)
    }

    @Test(arguments: [Int32(0), 1, 2, 3, 6, 8, 12, 14, 30])
    func everyLevelAndBatchSizeGivesTheSameBits(type: Int32) throws {
        let rows = 7, columns = 512, tokens = 6
        var random = EngineRandom(seed: 7)
        let x = (0..<(tokens * columns)).map { _ in Float(random.unit() * 2 - 1) }
        let w: (bytes: [UInt8], rowBytes: Int)
        if type == 0 {
            let floats = (0..<(rows * columns)).map { _ in Float(random.unit() - 0.5) }
            w = (floats.withUnsafeBytes { Array($0) }, columns * 4)
        } else {
            w = try #require(Self.weights(type: type, rows: rows, columns: columns))
        }
        var results: [[UInt32]] = []
        try atEveryKernelLevel { _ in
            var batched = [Float](repeating: .nan, count: tokens * rows)
            w.bytes.withUnsafeBytes { raw in
                ck_matmul(type, raw.baseAddress!, w.rowBytes, 0, Int32(rows), Int32(columns), x, Int32(tokens), &batched, rows)
            }
            var single = [Float](repeating: .nan, count: tokens * rows)
            for t in 0..<tokens {
                w.bytes.withUnsafeBytes { raw in
                    x.withUnsafeBufferPointer { xs in
                        single.withUnsafeMutableBufferPointer { ys in
                            // Rows split in two calls, as a thread pool would.
                            ck_matmul(type, raw.baseAddress!, w.rowBytes, 0, 3, Int32(columns), xs.baseAddress! + t * columns, 1, ys.baseAddress! + t * rows, 0)
                            ck_matmul(type, raw.baseAddress!, w.rowBytes, 3, Int32(rows), Int32(columns), xs.baseAddress! + t * columns, 1, ys.baseAddress! + t * rows, 0)
                        }
                    }
                }
            }
            results.append(batched.map(\.bitPattern))
            results.append(single.map(\.bitPattern))
            try #require(!batched.contains { !$0.isFinite })
        }
        #expect(Set(results).count == 1, "results differ between levels or batch sizes")
        // And they are the dot products of the dequantized weights (checked in double precision).
        var row = [Float](repeating: 0, count: columns)
        let y = results[0].map(Float.init(bitPattern:))
        for r in 0..<rows {
            w.bytes.withUnsafeBytes { raw in ck_dequantize_row(type, raw.baseAddress! + r * w.rowBytes, Int32(columns), &row) }
            for t in 0..<tokens {
                var exact = 0.0, magnitude = 0.0
                for i in 0..<columns {
                    exact += Double(row[i]) * Double(x[t * columns + i])
                    magnitude += abs(Double(row[i]) * Double(x[t * columns + i]))
                }
                #expect(abs(Double(y[t * rows + r]) - exact) <= magnitude * 1e-6 + 1e-30, "row \(r) token \(t)")
            }
        }
    }

    @Test func f32DotHandlesAnyLengthTheSameAtEveryLevel() throws {
        var random = EngineRandom(seed: 3)
        let a = (0..<100).map { _ in Float(random.unit() - 0.5) }, b = (0..<100).map { _ in Float(random.unit() - 0.5) }
        for n in [0, 1, 31, 32, 33, 64, 100] {
            var seen: Set<UInt32> = []
            atEveryKernelLevel { _ in seen.insert(ck_dot_f32(a, b, Int32(n)).bitPattern) }
            #expect(seen.count == 1, "n = \(n)")
            let exact = (0..<n).reduce(0.0) { $0 + Double(a[$1]) * Double(b[$1]) }
            #expect(abs(Double(Float(bitPattern: seen.first!)) - exact) < 1e-5)
        }
    }
}
