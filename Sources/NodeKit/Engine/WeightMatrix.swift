import CKernels

/// A weight matrix kept in its block format (F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q4_K, Q6_K): `rows`
/// rows of `columns` weights each, dequantized on the fly inside the kernels.
struct WeightMatrix: @unchecked Sendable {
    // Points into the memory-mapped GGUF (kept alive by the model) or into `owned`; never written.
    let base: UnsafeRawPointer
    let type: GGMLType
    let rows: Int
    let columns: Int
    let rowBytes: Int
    /// A re-quantized copy this matrix owns (see `requantized(to:)`).
    let owned: OwnedBytes?

    static let supported: Set<UInt32> = [0, 1, 2, 3, 6, 8, 12, 14, 30]

    init(file: GGUFFile, tensor: GGUFTensorInfo) throws(EngineError) {
        guard Self.supported.contains(tensor.type.rawValue), ck_supports(Int32(tensor.type.rawValue)) != 0 else {
            throw EngineError("tensor \(tensor.name) has type \(tensor.type), which the engine does not run yet")
        }
        guard tensor.dimensions.count <= 2 else { throw EngineError("tensor \(tensor.name) is not a matrix") }
        let unit = tensor.type.blockSize == 1 ? 32 : tensor.type.blockSize
        guard tensor.dimensions[0] % unit == 0 else {
            throw EngineError("tensor \(tensor.name) has rows of \(tensor.dimensions[0]) weights, not a multiple of \(unit)")
        }
        base = file.data(of: tensor).baseAddress!
        type = tensor.type
        columns = tensor.dimensions[0]
        rows = tensor.dimensions.count == 2 ? tensor.dimensions[1] : 1
        rowBytes = columns / type.blockSize * type.typeSize
        owned = nil
    }

    private init(base: UnsafeRawPointer, type: GGMLType, rows: Int, columns: Int, owned: OwnedBytes) {
        self.base = base
        self.type = type
        self.rows = rows
        self.columns = columns
        rowBytes = columns / type.blockSize * type.typeSize
        self.owned = owned
    }

    /// Whether `requantized(to:)` converts this matrix (float sources only; quantized weights stay as they are).
    var isFloat: Bool { type == .f32 || type == .f16 || type == .bf16 }

    /// This matrix quantized to Q8_0 or Q4_1 with ggml's reference rules, in memory the copy owns.
    func requantized(to target: GGMLType) -> WeightMatrix {
        precondition(isFloat && (target == .q8_0 || target == .q4_1))
        let outRow = columns / 32 * target.typeSize
        let bytes = OwnedBytes(count: rows * outRow)
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: columns)
        defer { scratch.deallocate() }
        for r in 0..<rows {
            row(r, into: scratch)
            if target == .q8_0 {
                ck_quantize_row_q8_0(scratch, Int32(columns), bytes.pointer + r * outRow)
            } else {
                ck_quantize_row_q4_1(scratch, Int32(columns), bytes.pointer + r * outRow)
            }
        }
        return WeightMatrix(base: UnsafeRawPointer(bytes.pointer), type: target, rows: rows, columns: columns, owned: bytes)
    }

    /// Row `r` as 32-bit floats (the exact values the kernels multiply with).
    func row(_ r: Int, into out: UnsafeMutablePointer<Float>) {
        ck_dequantize_row(Int32(type.rawValue), base + r * rowBytes, Int32(columns), out)
    }

    /// `y[t * yStride + r] = row r · x[t * columns ..< (t + 1) * columns]` for rows in `range`, `tokens` tokens.
    func multiply(_ x: UnsafePointer<Float>, tokens: Int, into y: UnsafeMutablePointer<Float>, yStride: Int, rows range: Range<Int>) {
        ck_matmul(
            Int32(type.rawValue), base, rowBytes, Int32(range.lowerBound), Int32(range.upperBound), Int32(columns), x, Int32(tokens), y, yStride)
    }
}

/// A heap buffer freed with its last owner (weights re-quantized at load).
final class OwnedBytes: @unchecked Sendable {
    // Written once while quantizing, read-only afterwards.
    let pointer: UnsafeMutableRawPointer
    let count: Int

    init(count: Int) {
        self.count = count
        pointer = UnsafeMutableRawPointer.allocate(byteCount: max(1, count), alignment: 64)
    }

    deinit { pointer.deallocate() }
}

/// Why the engine cannot load or run a model.
public struct EngineError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What kind of failure this is.
    public struct Kind: Sendable, Hashable {
        let name: String
        /// The model or the machine failed (the default).
        public static let failure = Kind(name: "failure")
        /// The request itself is invalid (a node reports these as task errors).
        public static let invalidArgument = Kind(name: "invalidArgument")
        /// The caller stopped the generation.
        public static let cancelled = Kind(name: "cancelled")
    }

    /// What was wrong.
    public var message: String
    /// The kind of failure.
    public var kind: Kind
    /// Creates an error.
    public init(_ message: String, kind: Kind = .failure) {
        self.message = message
        self.kind = kind
    }
    /// The message.
    public var description: String { message }
}
