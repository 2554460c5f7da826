import CKernels

/// A weight matrix kept in its file format (F32, F16, BF16, Q8_0, Q4_0, Q4_1): `rows` rows of `columns`
/// weights each, dequantized on the fly inside the dot products.
struct WeightMatrix: @unchecked Sendable {
    // Points into the memory-mapped GGUF, which the model keeps alive; never written.
    let base: UnsafeRawPointer
    let type: GGMLType
    let rows: Int
    let columns: Int
    let rowBytes: Int

    static let supported: Set<UInt32> = [GGMLType.f32.rawValue, GGMLType.f16.rawValue, GGMLType.bf16.rawValue, GGMLType.q8_0.rawValue, GGMLType.q4_0.rawValue, GGMLType.q4_1.rawValue]

    init(file: GGUFFile, tensor: GGUFTensorInfo) throws(EngineError) {
        guard Self.supported.contains(tensor.type.rawValue) else {
            throw EngineError("tensor \(tensor.name) has type \(tensor.type), which the engine does not run yet")
        }
        guard tensor.dimensions.count <= 2 else { throw EngineError("tensor \(tensor.name) is not a matrix") }
        base = file.data(of: tensor).baseAddress!
        type = tensor.type
        columns = tensor.dimensions[0]
        rows = tensor.dimensions.count == 2 ? tensor.dimensions[1] : 1
        rowBytes = columns / type.blockSize * type.typeSize
    }

    @inline(__always)
    static func half(_ p: UnsafeRawPointer, _ offset: Int) -> Float {
        Float(Float16(bitPattern: p.loadUnaligned(fromByteOffset: offset, as: UInt16.self)))
    }

    /// Row `r` as 32-bit floats.
    func row(_ r: Int, into out: UnsafeMutablePointer<Float>) {
        let p = base + r * rowBytes
        switch type.rawValue {
        case GGMLType.f32.rawValue:
            for j in 0..<columns { out[j] = p.loadUnaligned(fromByteOffset: 4 * j, as: Float.self) }
        case GGMLType.f16.rawValue:
            for j in 0..<columns { out[j] = Self.half(p, 2 * j) }
        case GGMLType.bf16.rawValue:
            for j in 0..<columns { out[j] = Float(bitPattern: UInt32(p.loadUnaligned(fromByteOffset: 2 * j, as: UInt16.self)) << 16) }
        case GGMLType.q8_0.rawValue:
            for b in 0..<(columns / 32) {
                let block = p + b * 34
                let d = Self.half(block, 0)
                for j in 0..<32 { out[b * 32 + j] = Float(Int8(bitPattern: block.load(fromByteOffset: 2 + j, as: UInt8.self))) * d }
            }
        case GGMLType.q4_0.rawValue:
            for b in 0..<(columns / 32) {
                let block = p + b * 18
                let d = Self.half(block, 0)
                for j in 0..<16 {
                    let q = block.load(fromByteOffset: 2 + j, as: UInt8.self)
                    out[b * 32 + j] = Float(Int(q & 0x0F) - 8) * d
                    out[b * 32 + j + 16] = Float(Int(q >> 4) - 8) * d
                }
            }
        default:  // Q4_1
            for b in 0..<(columns / 32) {
                let block = p + b * 20
                let d = Self.half(block, 0)
                let m = Self.half(block, 2)
                for j in 0..<16 {
                    let q = block.load(fromByteOffset: 4 + j, as: UInt8.self)
                    out[b * 32 + j] = Float(q & 0x0F) * d + m
                    out[b * 32 + j + 16] = Float(q >> 4) * d + m
                }
            }
        }
    }

    /// `out[r] = row r · x` for rows in `range`.
    func multiply(_ x: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>, rows range: Range<Int>) {
        let n = Int32(columns)
        switch type.rawValue {
        case GGMLType.q4_1.rawValue:
            for r in range { out[r] = ck_dot_q4_1(base + r * rowBytes, x, n) }
        case GGMLType.q8_0.rawValue:
            for r in range { out[r] = ck_dot_q8_0(base + r * rowBytes, x, n) }
        case GGMLType.f32.rawValue:
            for r in range { out[r] = ck_dot_f32((base + r * rowBytes).assumingMemoryBound(to: Float.self), x, n) }
        default:
            let buffer = UnsafeMutablePointer<Float>.allocate(capacity: columns)
            defer { buffer.deallocate() }
            for r in range {
                row(r, into: buffer)
                out[r] = ck_dot_f32(buffer, x, n)
            }
        }
    }
}

/// Why the engine cannot load or run a model.
public struct EngineError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What was wrong.
    public var message: String
    /// Creates an error.
    public init(_ message: String) { self.message = message }
    /// The message.
    public var description: String { message }
}
