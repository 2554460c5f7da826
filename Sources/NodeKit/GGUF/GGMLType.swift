/// A ggml tensor element type: how many weights a block holds and how many bytes it takes.
public struct GGMLType: Sendable, Hashable, CustomStringConvertible {
    /// The type id stored in GGUF.
    public let rawValue: UInt32
    /// The type's name in ggml (`Q4_1`, `F32`, …).
    public let name: String
    /// Weights per block.
    public let blockSize: Int
    /// Bytes per block.
    public let typeSize: Int

    /// `name`.
    public var description: String { name }

    /// The type with this id, or nil if ggml has no such (supported-for-reading) type.
    public init?(rawValue: UInt32) {
        guard let entry = Self.table[rawValue] else { return nil }
        self = entry
    }

    init(_ rawValue: UInt32, _ name: String, _ blockSize: Int, _ typeSize: Int) {
        self.rawValue = rawValue
        self.name = name
        self.blockSize = blockSize
        self.typeSize = typeSize
    }

    /// ggml's type table (`ggml_type_traits`): id → block size and bytes per block.
    static let table: [UInt32: GGMLType] = {
        let all = [
            GGMLType(0, "F32", 1, 4), GGMLType(1, "F16", 1, 2), GGMLType(2, "Q4_0", 32, 18), GGMLType(3, "Q4_1", 32, 20),
            GGMLType(6, "Q5_0", 32, 22), GGMLType(7, "Q5_1", 32, 24), GGMLType(8, "Q8_0", 32, 34), GGMLType(9, "Q8_1", 32, 36),
            GGMLType(10, "Q2_K", 256, 84), GGMLType(11, "Q3_K", 256, 110), GGMLType(12, "Q4_K", 256, 144),
            GGMLType(13, "Q5_K", 256, 176), GGMLType(14, "Q6_K", 256, 210), GGMLType(15, "Q8_K", 256, 292),
            GGMLType(16, "IQ2_XXS", 256, 66), GGMLType(17, "IQ2_XS", 256, 74), GGMLType(18, "IQ3_XXS", 256, 98),
            GGMLType(19, "IQ1_S", 256, 50), GGMLType(20, "IQ4_NL", 32, 18), GGMLType(21, "IQ3_S", 256, 110),
            GGMLType(22, "IQ2_S", 256, 82), GGMLType(23, "IQ4_XS", 256, 136), GGMLType(24, "I8", 1, 1), GGMLType(25, "I16", 1, 2),
            GGMLType(26, "I32", 1, 4), GGMLType(27, "I64", 1, 8), GGMLType(28, "F64", 1, 8), GGMLType(29, "IQ1_M", 256, 56),
            GGMLType(30, "BF16", 1, 2), GGMLType(34, "TQ1_0", 256, 54), GGMLType(35, "TQ2_0", 256, 66),
        ]
        return Dictionary(uniqueKeysWithValues: all.map { ($0.rawValue, $0) })
    }()

    /// 32-bit floats.
    public static let f32 = table[0]!
    /// IEEE half floats.
    public static let f16 = table[1]!
    /// 4-bit, one f16 scale per 32.
    public static let q4_0 = table[2]!
    /// 4-bit, f16 scale and minimum per 32.
    public static let q4_1 = table[3]!
    /// 5-bit, one f16 scale per 32.
    public static let q5_0 = table[6]!
    /// 8-bit, one f16 scale per 32.
    public static let q8_0 = table[8]!
    /// 4-bit K-quant, 256-weight super-blocks.
    public static let q4_K = table[12]!
    /// 6-bit K-quant, 256-weight super-blocks.
    public static let q6_K = table[14]!
    /// bfloat16.
    public static let bf16 = table[30]!
}
