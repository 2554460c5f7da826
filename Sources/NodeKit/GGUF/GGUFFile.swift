import Foundation

/// A tensor's entry in a GGUF file's table.
public struct GGUFTensorInfo: Sendable, Hashable {
    /// The tensor's name, e.g. `blk.0.attn_q.weight`.
    public var name: String
    /// Dimensions, innermost (contiguous) first: `[576, 192]` is 192 rows of 576.
    public var dimensions: [Int]
    /// The element type.
    public var type: GGMLType
    /// Offset of the data from the start of the tensor-data section.
    public var offset: Int
    /// The number of elements.
    public var elementCount: Int
    /// The size of the data in bytes.
    public var byteCount: Int
}

/// A GGUF model file, memory-mapped and fully validated on open: every metadata value, the tensor table,
/// alignment and the bounds of every tensor, so a truncated or hostile file is a `GGUFError`, never a crash
/// or an out-of-bounds read.
public struct GGUFFile: Sendable {
    /// The format version (2 or 3).
    public let version: UInt32
    /// Metadata in file order.
    public let metadata: [(key: String, value: GGUFValue)]
    /// Tensors in file order.
    public let tensors: [GGUFTensorInfo]
    /// The data alignment (`general.alignment`, default 32).
    public let alignment: Int
    /// Where the tensor-data section starts in the file.
    public let dataOffset: Int
    let storage: GGUFStorage
    let metadataIndex: [String: Int]
    let tensorIndex: [String: Int]

    /// The most metadata entries or tensors a file may declare.
    public static let maximumCount = 1 << 24
    /// The deepest nesting of arrays accepted.
    public static let maximumArrayDepth = 8

    /// Maps and reads the file at `path`.
    public init(path: String) throws(GGUFError) {
        try self.init(storage: try GGUFStorage(path: path))
    }

    /// Reads a GGUF image held in memory (tests, downloads).
    public init(bytes: [UInt8]) throws(GGUFError) {
        try self.init(storage: GGUFStorage(bytes: bytes))
    }

    init(storage: GGUFStorage) throws(GGUFError) {
        self.storage = storage
        var reader = GGUFReader(buffer: storage.buffer)
        guard storage.buffer.count >= 4, Array(storage.buffer[0..<4]) == Array("GGUF".utf8) else {
            throw GGUFError("not a GGUF file (the magic is not \"GGUF\")", offset: 0)
        }
        reader.offset = 4
        version = try reader.u32()
        guard version == 2 || version == 3 else {
            throw GGUFError("unsupported GGUF version \(version) (only 2 and 3 are read)", offset: 4)
        }
        let tensorCount = try reader.count("tensor count", minimumItemSize: 8 + 4 + 8 + 4 + 8)
        let kvCount = try reader.count("metadata count", minimumItemSize: 8 + 4 + 1)
        var metadata: [(key: String, value: GGUFValue)] = []
        var metadataIndex: [String: Int] = [:]
        metadata.reserveCapacity(kvCount)
        for _ in 0..<kvCount {
            let at = reader.offset
            let key = try reader.string()
            let type = try reader.u32()
            let value = try reader.value(type: type, depth: 0)
            guard metadataIndex[key] == nil else { throw GGUFError("metadata key \"\(key)\" appears twice", offset: at) }
            metadataIndex[key] = metadata.count
            metadata.append((key, value))
        }
        var alignment = 32
        if let i = metadataIndex["general.alignment"] {
            guard case .uint32(let a) = metadata[i].value, a > 0, a & (a - 1) == 0, a <= 1 << 20 else {
                throw GGUFError("general.alignment must be a power of two (u32)")
            }
            alignment = Int(a)
        }
        var infos: [(String, [Int], GGMLType, UInt64, Int)] = []
        infos.reserveCapacity(tensorCount)
        for _ in 0..<tensorCount {
            let at = reader.offset
            let name = try reader.string()
            let nDims = Int(try reader.u32())
            guard (1...4).contains(nDims) else { throw GGUFError("tensor \"\(name)\" has \(nDims) dimensions (1…4 allowed)", offset: at) }
            var dims: [Int] = []
            for _ in 0..<nDims {
                let d = try reader.u64()
                guard d >= 1, d <= UInt64(Int32.max) else { throw GGUFError("tensor \"\(name)\" has a dimension of \(d)", offset: at) }
                dims.append(Int(d))
            }
            let rawType = try reader.u32()
            guard let type = GGMLType(rawValue: rawType) else { throw GGUFError("tensor \"\(name)\" has unknown type \(rawType)", offset: at) }
            let offset = try reader.u64()
            infos.append((name, dims, type, offset, at))
        }
        let headerEnd = reader.offset
        let (padded, overflow) = headerEnd.addingReportingOverflow(alignment - 1)
        guard !overflow else { throw GGUFError("header too large") }
        dataOffset = padded / alignment * alignment
        guard dataOffset <= storage.buffer.count || tensorCount == 0 else {
            throw GGUFError("the file ends before its tensor data (truncated?)", offset: storage.buffer.count)
        }
        let dataSize = max(0, storage.buffer.count - dataOffset)
        var tensors: [GGUFTensorInfo] = []
        var tensorIndex: [String: Int] = [:]
        for (name, dims, type, offset, at) in infos {
            var elements = 1
            for d in dims {
                let (m, o) = elements.multipliedReportingOverflow(by: d)
                guard !o else { throw GGUFError("tensor \"\(name)\" is impossibly large", offset: at) }
                elements = m
            }
            guard dims[0] % type.blockSize == 0 else {
                throw GGUFError("tensor \"\(name)\": row length \(dims[0]) is not a multiple of the \(type) block size \(type.blockSize)", offset: at)
            }
            let (bytes, o) = (elements / type.blockSize).multipliedReportingOverflow(by: type.typeSize)
            guard !o else { throw GGUFError("tensor \"\(name)\" is impossibly large", offset: at) }
            guard offset % UInt64(alignment) == 0 else {
                throw GGUFError("tensor \"\(name)\" is not aligned to \(alignment) bytes", offset: at)
            }
            guard offset <= UInt64(dataSize), UInt64(bytes) <= UInt64(dataSize) - offset else {
                throw GGUFError("tensor \"\(name)\" extends past the end of the file (truncated?)", offset: at)
            }
            guard tensorIndex[name] == nil else { throw GGUFError("tensor \"\(name)\" appears twice", offset: at) }
            tensorIndex[name] = tensors.count
            tensors.append(GGUFTensorInfo(name: name, dimensions: dims, type: type, offset: Int(offset), elementCount: elements, byteCount: bytes))
        }
        self.metadata = metadata
        self.metadataIndex = metadataIndex
        self.alignment = alignment
        self.tensors = tensors
        self.tensorIndex = tensorIndex
    }

    /// The metadata value for `key`.
    public subscript(key: String) -> GGUFValue? { metadataIndex[key].map { metadata[$0].value } }

    /// The tensor named `name`.
    public func tensor(_ name: String) -> GGUFTensorInfo? { tensorIndex[name].map { tensors[$0] } }

    /// The raw bytes of a tensor, valid as long as this file value (or a copy) lives.
    public func data(of tensor: GGUFTensorInfo) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: storage.buffer[(dataOffset + tensor.offset)..<(dataOffset + tensor.offset + tensor.byteCount)])
    }

    /// The model architecture (`general.architecture`), e.g. `llama`.
    public var architecture: String? { self["general.architecture"]?.string }
}

/// The bytes of a GGUF file: a read-only memory map, or an owned copy.
final class GGUFStorage: @unchecked Sendable {
    // Immutable after init; the mapping is read-only and released in deinit.
    let buffer: UnsafeRawBufferPointer
    private let mapped: Bool

    init(path: String) throws(GGUFError) {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw GGUFError("cannot open \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw GGUFError("cannot stat \(path)") }
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw GGUFError("\(path) is not a regular file") }
        let size = Int(st.st_size)
        guard size > 0 else { throw GGUFError("\(path) is empty", offset: 0) }
        guard let p = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), p != MAP_FAILED else {
            throw GGUFError("cannot map \(path): \(String(cString: strerror(errno)))")
        }
        buffer = UnsafeRawBufferPointer(start: p, count: size)
        mapped = true
    }

    init(bytes: [UInt8]) {
        let p = UnsafeMutableRawBufferPointer.allocate(byteCount: max(1, bytes.count), alignment: 64)
        p.copyBytes(from: bytes)
        buffer = UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(p)[0..<bytes.count])
        mapped = false
    }

    deinit {
        if mapped {
            munmap(UnsafeMutableRawPointer(mutating: buffer.baseAddress), buffer.count)
        } else {
            buffer.baseAddress.map { UnsafeMutableRawPointer(mutating: $0).deallocate() }
        }
    }
}

/// A bounds-checked little-endian cursor over the file.
struct GGUFReader {
    let buffer: UnsafeRawBufferPointer
    var offset = 0

    func need(_ n: Int) throws(GGUFError) {
        guard n >= 0, n <= buffer.count - offset else {
            throw GGUFError("the file ends in the middle of the header (truncated?)", offset: offset)
        }
    }

    mutating func scalar<T: FixedWidthInteger>(_: T.Type) throws(GGUFError) -> T {
        try need(MemoryLayout<T>.size)
        let v = buffer.loadUnaligned(fromByteOffset: offset, as: T.self)
        offset += MemoryLayout<T>.size
        return T(littleEndian: v)
    }

    mutating func u32() throws(GGUFError) -> UInt32 { try scalar(UInt32.self) }
    mutating func u64() throws(GGUFError) -> UInt64 { try scalar(UInt64.self) }

    /// A u64 count, refused when the rest of the file could not hold that many items.
    mutating func count(_ what: String, minimumItemSize: Int) throws(GGUFError) -> Int {
        let at = offset
        let n = try u64()
        let remaining = UInt64(buffer.count - offset)
        guard n <= UInt64(GGUFFile.maximumCount), n * UInt64(minimumItemSize) <= remaining else {
            throw GGUFError("\(what) of \(n) is more than the file can hold", offset: at)
        }
        return Int(n)
    }

    mutating func string() throws(GGUFError) -> String {
        let at = offset
        let n = try u64()
        guard n <= UInt64(buffer.count - offset) else { throw GGUFError("a string of \(n) bytes runs past the end of the file", offset: at) }
        let bytes = UnsafeRawBufferPointer(rebasing: buffer[offset..<(offset + Int(n))])
        offset += Int(n)
        return String(decoding: bytes, as: UTF8.self)
    }

    static func elementSize(_ type: UInt32) -> Int? {
        switch type {
        case 0, 1, 7: return 1
        case 2, 3: return 2
        case 4, 5, 6: return 4
        case 10, 11, 12: return 8
        case 8: return 8
        case 9: return 12
        default: return nil
        }
    }

    mutating func value(type: UInt32, depth: Int) throws(GGUFError) -> GGUFValue {
        let at = offset
        switch type {
        case 0: return .uint8(try scalar(UInt8.self))
        case 1: return .int8(try scalar(Int8.self))
        case 2: return .uint16(try scalar(UInt16.self))
        case 3: return .int16(try scalar(Int16.self))
        case 4: return .uint32(try scalar(UInt32.self))
        case 5: return .int32(try scalar(Int32.self))
        case 6: return .float32(Float(bitPattern: try scalar(UInt32.self)))
        case 7:
            let b = try scalar(UInt8.self)
            guard b <= 1 else { throw GGUFError("a bool holds \(b)", offset: at) }
            return .bool(b == 1)
        case 8: return .string(try string())
        case 9:
            guard depth < GGUFFile.maximumArrayDepth else { throw GGUFError("arrays nested too deeply", offset: at) }
            let elementType = try u32()
            guard let size = Self.elementSize(elementType) else { throw GGUFError("unknown array element type \(elementType)", offset: at) }
            let n = try count("array length", minimumItemSize: size)
            var items: [GGUFValue] = []
            items.reserveCapacity(n)
            for _ in 0..<n { items.append(try value(type: elementType, depth: depth + 1)) }
            return .array(items)
        case 10: return .uint64(try u64())
        case 11: return .int64(try scalar(Int64.self))
        case 12: return .float64(Double(bitPattern: try u64()))
        default: throw GGUFError("unknown metadata type \(type)", offset: at)
        }
    }
}

extension GGUFFile {
    /// A human-readable summary: version, metadata (long arrays abbreviated) and tensor counts by type.
    public var summary: String {
        var lines = ["GGUF v\(version): \(metadata.count) metadata entries, \(tensors.count) tensors, alignment \(alignment)"]
        for (key, value) in metadata {
            lines.append("  \(key) = \(Self.describe(value))")
        }
        var byType: [String: Int] = [:]
        for t in tensors { byType[t.type.name, default: 0] += 1 }
        lines.append("  tensors by type: " + byType.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
        return lines.joined(separator: "\n")
    }

    static func describe(_ value: GGUFValue) -> String {
        switch value {
        case .string(let s): return s.count > 120 ? "\"\(s.prefix(117))...\" (\(s.count) characters)" : "\"\(s)\""
        case .array(let items):
            let shown = items.prefix(4).map(describe).joined(separator: ", ")
            return items.count > 4 ? "[\(shown), … \(items.count) items]" : "[\(shown)]"
        case .bool(let b): return String(b)
        default:
            if let i = value.int { return String(i) }
            return value.double.map { String($0) } ?? "?"
        }
    }
}
