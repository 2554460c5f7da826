/// A GGUF metadata value.
public enum GGUFValue: Sendable, Hashable {
    /// Type 0.
    case uint8(UInt8)
    /// Type 1.
    case int8(Int8)
    /// Type 2.
    case uint16(UInt16)
    /// Type 3.
    case int16(Int16)
    /// Type 4.
    case uint32(UInt32)
    /// Type 5.
    case int32(Int32)
    /// Type 6.
    case float32(Float)
    /// Type 7.
    case bool(Bool)
    /// Type 8: UTF-8 text (invalid UTF-8 is repaired with U+FFFD).
    case string(String)
    /// Type 9: an array of one element type.
    case array([GGUFValue])
    /// Type 10.
    case uint64(UInt64)
    /// Type 11.
    case int64(Int64)
    /// Type 12.
    case float64(Double)

    /// The value as an integer, if it is one of the integer types and fits.
    public var int: Int? {
        switch self {
        case .uint8(let v): return Int(v)
        case .int8(let v): return Int(v)
        case .uint16(let v): return Int(v)
        case .int16(let v): return Int(v)
        case .uint32(let v): return Int(v)
        case .int32(let v): return Int(v)
        case .uint64(let v): return Int(exactly: v)
        case .int64(let v): return Int(v)
        default: return nil
        }
    }

    /// The value as a floating-point number, if it is numeric.
    public var double: Double? {
        switch self {
        case .float32(let v): return Double(v)
        case .float64(let v): return v
        default: return int.map(Double.init)
        }
    }

    /// The string, if this is a string.
    public var string: String? { if case .string(let s) = self { return s } else { return nil } }

    /// The boolean, if this is a bool.
    public var bool: Bool? { if case .bool(let b) = self { return b } else { return nil } }

    /// The elements, if this is an array.
    public var array: [GGUFValue]? { if case .array(let a) = self { return a } else { return nil } }
}
