import Crypto
import Foundation
import TestSupport
import Testing
@testable import CrynuxSDK

/// The shared pHash vectors (TestSupport's Fixtures/phash, see docs/vectors.md): PNGs and the hashes (with
/// checkpoints) Go's decoder and goimagehash v1.1.0 give them.
struct PHashCase: Sendable, CustomTestStringConvertible {
    var value: JSONValue
    var testDescription: String { value["file"]?.stringValue ?? "?" }

    static let directory = SharedFixtures.url("phash")
    static let all: [PHashCase] = {
        guard let url = directory?.appendingPathComponent("phash.json"), let data = try? Data(contentsOf: url),
            case .array(let cases)? = (try? JSONValue.parse(Array(data)))?["cases"]
        else { return [] }
        return cases.map { PHashCase(value: $0) }
    }()

    func png() throws -> [UInt8] {
        let name = try #require(value["file"]?.stringValue)
        return Array(try Data(contentsOf: try #require(Self.directory).appendingPathComponent(name)))
    }
}

@Suite struct PerceptionHashTests {
    @Test func theVectorsArePresent() { #expect(PHashCase.all.count == 26) }

    @Test(arguments: PHashCase.all)
    func hashesBitForBitWithGoAndEveryCheckpointAgrees(_ c: PHashCase) throws {
        let image = try PNGImage.decode(try c.png())
        #expect(image.width == Int(c.value["width"]?.doubleValue ?? 0) && image.height == Int(c.value["height"]?.doubleValue ?? 0))
        let goType: [PNGImage.Layout: String] = [
            .rgba: "*image.RGBA", .nrgba: "*image.NRGBA", .gray: "*image.Gray", .paletted: "*image.Paletted",
            .rgba64: "*image.RGBA64", .nrgba64: "*image.NRGBA64", .gray16: "*image.Gray16",
        ]
        #expect(goType[image.layout] == c.value["go_decoded_type"]?.stringValue)
        // The 64×64 grey matrix, as big-endian float64s.
        let gray = PerceptionHash.grayscale64(image)
        var bytes: [UInt8] = []
        for v in gray { withUnsafeBytes(of: v.bitPattern.bigEndian) { bytes += $0 } }
        #expect(SHA256.hash(data: bytes).map { String(format: "%02x", $0) }.joined() == c.value["gray64_sha256"]?.stringValue)
        var pixels = gray
        PerceptionHash.dct2D(&pixels)
        let flat = PerceptionHash.lowFrequencies(pixels)
        if case .array(let bits)? = c.value["dct8x8_bits"] {
            #expect(flat.map { PerceptionHash.hex($0.bitPattern) } == bits.compactMap(\.stringValue))
        }
        #expect(PerceptionHash.hex(PerceptionHash.median(flat).bitPattern) == c.value["median_bits"]?.stringValue)
        let hash = PerceptionHash.hash(image)
        #expect(PerceptionHash.hex(hash) == c.value["phash_hex"]?.stringValue)
        #expect(try PerceptionHash.score(pngs: [try c.png()]) == c.value["score"]?.stringValue)
    }

    @Test func brokenPNGsAreErrorsNotCrashes() throws {
        let good = try #require(PHashCase.all.first).png()
        #expect(throws: PNGError.self) { _ = try PNGImage.decode(Array(good.prefix(40))) }
        #expect(throws: PNGError.self) { _ = try PNGImage.decode(Array("not a png".utf8)) }
        for i in stride(from: 8, to: good.count, by: max(1, good.count / 50)) {
            var bad = good
            bad[i] ^= 0x40
            // A flipped bit anywhere fails a CRC (or the zlib check): an error, never a crash.
            #expect(throws: PNGError.self) { _ = try PNGImage.decode(bad) }
        }
    }
}

@Suite struct PNGEncoderTests {
    @Test func encodedImagesDecodeToTheSamePixelsAndHashTheSameAsTheOriginal() throws {
        // Re-encode a vector image (RGB) through our encoder: same pixels, same pHash as the original file.
        let c = try #require(PHashCase.all.first { $0.value["png_mode"]?.stringValue == "RGB" })
        let original = try PNGImage.decode(try c.png())
        var rgb: [UInt8] = []
        for p in 0..<(original.width * original.height) { rgb += original.bytes[(4 * p)..<(4 * p + 3)] }
        let encoded = try PNGImage.encode(width: original.width, height: original.height, pixels: rgb, alpha: false)
        let decoded = try PNGImage.decode(encoded)
        #expect(decoded.layout == .rgba && decoded.bytes == original.bytes)
        #expect(PerceptionHash.hash(decoded) == PerceptionHash.hash(original))
        // RGBA keeps its alpha (straight, as Go's NRGBA).
        var random = SystemRandomNumberGenerator()
        let rgba = (0..<(5 * 3 * 4)).map { _ in UInt8.random(in: 0...255, using: &random) }
        let small = try PNGImage.decode(try PNGImage.encode(width: 5, height: 3, pixels: rgba, alpha: true))
        #expect(small.layout == .nrgba && small.bytes == rgba)
        #expect(throws: PNGError.self) { _ = try PNGImage.encode(width: 2, height: 2, pixels: [1, 2, 3], alpha: false) }
    }
}
