import Foundation
import Testing
@testable import NodeKit

/// Writes GGUF images for tests, field by field as the format lays them out.
struct GGUFBuilder {
    var bytes: [UInt8] = []

    mutating func u8(_ v: UInt8) { bytes.append(v) }
    mutating func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { bytes += $0 } }
    mutating func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { bytes += $0 } }
    mutating func string(_ s: String) {
        u64(UInt64(s.utf8.count))
        bytes += Array(s.utf8)
    }

    /// A small valid file: every metadata type, a nested array, and two tensors (F32 and Q8_0).
    static func sample(alignment: UInt32? = nil, version: UInt32 = 3) -> [UInt8] {
        var b = GGUFBuilder()
        b.bytes += Array("GGUF".utf8)
        b.u32(version)
        b.u64(2)  // tensors
        b.u64(alignment == nil ? 15 : 16)  // metadata
        b.string("general.architecture"); b.u32(8); b.string("llama")
        b.string("u8"); b.u32(0); b.u8(200)
        b.string("i8"); b.u32(1); b.u8(0xFF)
        b.string("u16"); b.u32(2); b.u8(0x34); b.u8(0x12)
        b.string("i16"); b.u32(3); b.u8(0xFE); b.u8(0xFF)
        b.string("u32"); b.u32(4); b.u32(123_456)
        b.string("i32"); b.u32(5); b.u32(UInt32(bitPattern: -7))
        b.string("f32"); b.u32(6); b.u32(Float(1.5).bitPattern)
        b.string("bool"); b.u32(7); b.u8(1)
        b.string("u64"); b.u32(10); b.u64(1 << 40)
        b.string("i64"); b.u32(11); b.u64(UInt64(bitPattern: -9))
        b.string("f64"); b.u32(12); b.u64(Double(2.25).bitPattern)
        b.string("tokens"); b.u32(9); b.u32(8); b.u64(3); b.string("a"); b.string("<|im_start|>"); b.string("é")
        b.string("nested"); b.u32(9); b.u32(9); b.u64(2); b.u32(4); b.u64(1); b.u32(7); b.u32(4); b.u64(0)
        b.string("empty"); b.u32(8); b.string("")
        if let alignment { b.string("general.alignment"); b.u32(4); b.u32(alignment) }
        let align = Int(alignment ?? 32)
        // tensor infos
        b.string("a.weight"); b.u32(2); b.u64(4); b.u64(2); b.u32(0); b.u64(0)  // F32 4x2 = 32 bytes
        b.string("b.weight"); b.u32(1); b.u64(32); b.u32(8); b.u64(UInt64(align > 32 ? align : 32))  // Q8_0, 34 bytes
        while b.bytes.count % align != 0 { b.u8(0) }
        for i in 0..<8 { b.u32(Float(i).bitPattern) }
        while b.bytes.count % align != 0 { b.u8(0) }
        b.bytes += [UInt8](repeating: 7, count: 34)
        return b.bytes
    }
}

@Suite struct GGUFTests {
    @Test func readsEveryMetadataTypeAndTheTensorTable() throws {
        let file = try GGUFFile(bytes: GGUFBuilder.sample())
        #expect(file.version == 3)
        #expect(file.architecture == "llama")
        #expect(file["u8"] == .uint8(200) && file["i8"] == .int8(-1) && file["u16"] == .uint16(0x1234) && file["i16"] == .int16(-2))
        #expect(file["u32"]?.int == 123_456 && file["i32"]?.int == -7 && file["f32"]?.double == 1.5 && file["bool"]?.bool == true)
        #expect(file["u64"]?.int == 1 << 40 && file["i64"]?.int == -9 && file["f64"]?.double == 2.25 && file["empty"]?.string == "")
        #expect(file["tokens"]?.array?.compactMap(\.string) == ["a", "<|im_start|>", "é"])
        #expect(file["nested"] == .array([.array([.uint32(7)]), .array([])]))
        #expect(file.metadata.first?.key == "general.architecture")
        #expect(file.alignment == 32 && file.dataOffset % 32 == 0)
        let a = try #require(file.tensor("a.weight"))
        #expect(a.dimensions == [4, 2] && a.type == .f32 && a.elementCount == 8 && a.byteCount == 32)
        let values = file.data(of: a).withMemoryRebound(to: UInt32.self) { Array($0) }.map { Float(bitPattern: $0) }
        #expect(values == [0, 1, 2, 3, 4, 5, 6, 7])
        let b = try #require(file.tensor("b.weight"))
        #expect(b.type == .q8_0 && b.byteCount == 34 && Array(file.data(of: b)) == [UInt8](repeating: 7, count: 34))
    }

    @Test func honoursACustomAlignmentAndVersion2() throws {
        let file = try GGUFFile(bytes: GGUFBuilder.sample(alignment: 64))
        #expect(file.alignment == 64 && file.dataOffset % 64 == 0)
        #expect(try GGUFFile(bytes: GGUFBuilder.sample(version: 2)).version == 2)
    }

    @Test func mapsAFileFromDisk() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("t-\(UUID().uuidString).gguf").path
        #expect(FileManager.default.createFile(atPath: path, contents: Data(GGUFBuilder.sample())))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let file = try GGUFFile(path: path)
        #expect(file.tensors.count == 2)
        #expect(throws: GGUFError.self) { _ = try GGUFFile(path: path + ".missing") }
        #expect(throws: GGUFError.self) { _ = try GGUFFile(path: FileManager.default.temporaryDirectory.path) }
    }

    @Test func everyTruncationIsAnErrorNotACrash() {
        let full = GGUFBuilder.sample()
        for length in 0..<full.count {
            #expect(throws: GGUFError.self, "prefix of \(length) bytes") { _ = try GGUFFile(bytes: Array(full[0..<length])) }
        }
    }

    func patched(_ edit: (inout GGUFBuilder) -> Void) -> [UInt8] {
        var b = GGUFBuilder()
        edit(&b)
        return b.bytes
    }

    static func header(tensors: UInt64, kv: UInt64, version: UInt32 = 3) -> GGUFBuilder {
        var b = GGUFBuilder()
        b.bytes += Array("GGUF".utf8)
        b.u32(version)
        b.u64(tensors)
        b.u64(kv)
        return b
    }

    @Test func hostileHeadersAreRefusedWithAClearMessage() {
        func error(_ bytes: [UInt8]) -> String? {
            do { _ = try GGUFFile(bytes: bytes); return nil } catch { return error.message }
        }
        var wrongMagic = GGUFBuilder.sample()
        wrongMagic[0] = UInt8(ascii: "X")
        #expect(error(wrongMagic)?.contains("magic") == true)
        #expect(error(Self.header(tensors: 0, kv: 0, version: 1).bytes)?.contains("version") == true)
        #expect(error(Self.header(tensors: 1 << 60, kv: 0).bytes)?.contains("tensor count") == true)
        #expect(error(Self.header(tensors: 0, kv: 1 << 40).bytes)?.contains("metadata count") == true)
        var longString = Self.header(tensors: 0, kv: 1)
        longString.u64(1 << 50); longString.bytes += [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
        #expect(error(longString.bytes)?.contains("string") == true)
        var bigArray = Self.header(tensors: 0, kv: 1)
        bigArray.string("k"); bigArray.u32(9); bigArray.u32(8); bigArray.u64(1 << 40)
        #expect(error(bigArray.bytes)?.contains("array length") == true)
        var badType = Self.header(tensors: 0, kv: 1)
        badType.string("k"); badType.u32(99); badType.u64(0)
        #expect(error(badType.bytes)?.contains("unknown metadata type") == true)
        var badBool = Self.header(tensors: 0, kv: 1)
        badBool.string("k"); badBool.u32(7); badBool.u8(2)
        #expect(error(badBool.bytes)?.contains("bool") == true)
        var dupKey = Self.header(tensors: 0, kv: 2)
        dupKey.string("k"); dupKey.u32(0); dupKey.u8(1); dupKey.string("k"); dupKey.u32(0); dupKey.u8(2)
        #expect(error(dupKey.bytes)?.contains("twice") == true)
        var badAlign = Self.header(tensors: 0, kv: 1)
        badAlign.string("general.alignment"); badAlign.u32(4); badAlign.u32(48)
        #expect(error(badAlign.bytes)?.contains("power of two") == true)
        var deep = Self.header(tensors: 0, kv: 1)
        deep.string("k")
        deep.u32(9)
        for _ in 0..<20 { deep.u32(9); deep.u64(1) }
        deep.u32(0); deep.u64(0)
        #expect(error(deep.bytes + [UInt8](repeating: 0, count: 64)) != nil)
    }

    func tensorFile(name: String = "t", dims: [UInt64], type: UInt32, offset: UInt64, dataBytes: Int, extraTensor: Bool = false) -> [UInt8] {
        var b = Self.header(tensors: extraTensor ? 2 : 1, kv: 0)
        for _ in 0..<(extraTensor ? 2 : 1) {
            b.string(name); b.u32(UInt32(dims.count)); for d in dims { b.u64(d) }; b.u32(type); b.u64(offset)
        }
        while b.bytes.count % 32 != 0 { b.u8(0) }
        b.bytes += [UInt8](repeating: 0, count: dataBytes)
        return b.bytes
    }

    @Test func hostileTensorTablesAreRefused() {
        func error(_ bytes: [UInt8]) -> String? {
            do { _ = try GGUFFile(bytes: bytes); return nil } catch { return error.message }
        }
        #expect(error(tensorFile(dims: [4], type: 0, offset: 0, dataBytes: 16)) == nil)
        #expect(error(tensorFile(dims: [4], type: 0, offset: 0, dataBytes: 15))?.contains("past the end") == true)
        #expect(error(tensorFile(dims: [4], type: 0, offset: 1 << 62, dataBytes: 16))?.contains("past the end") == true)
        #expect(error(tensorFile(dims: [4], type: 0, offset: 64, dataBytes: 16))?.contains("past the end") == true)
        #expect(error(tensorFile(dims: [4], type: 0, offset: 8, dataBytes: 64))?.contains("aligned") == true)
        #expect(error(tensorFile(dims: [4], type: 77, offset: 0, dataBytes: 16))?.contains("unknown type") == true)
        #expect(error(tensorFile(dims: [], type: 0, offset: 0, dataBytes: 16))?.contains("dimensions") == true)
        #expect(error(tensorFile(dims: [1, 1, 1, 1, 1], type: 0, offset: 0, dataBytes: 16))?.contains("dimensions") == true)
        #expect(error(tensorFile(dims: [0], type: 0, offset: 0, dataBytes: 16))?.contains("dimension") == true)
        #expect(error(tensorFile(dims: [1 << 31, 1 << 31, 1 << 31], type: 0, offset: 0, dataBytes: 16)) != nil)
        #expect(error(tensorFile(dims: [33], type: 8, offset: 0, dataBytes: 64))?.contains("block size") == true)
        #expect(error(tensorFile(dims: [4], type: 0, offset: 0, dataBytes: 64, extraTensor: true))?.contains("twice") == true)
    }

    @Test func randomCorruptionNeverCrashes() {
        let original = GGUFBuilder.sample()
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next() -> UInt64 {
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            return state
        }
        var opened = 0
        for _ in 0..<3000 {
            var bytes = original
            for _ in 0..<(1 + Int(next() % 4)) {
                let i = Int(next() % UInt64(bytes.count))
                bytes[i] = UInt8(truncatingIfNeeded: next())
            }
            if let file = try? GGUFFile(bytes: bytes) {
                opened += 1
                for t in file.tensors { _ = Array(file.data(of: t)) }  // every accepted tensor is readable
            }
        }
        #expect(opened < 3000)
    }
}
