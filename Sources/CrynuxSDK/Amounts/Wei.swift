import BigInt

/// An amount of CNX in wei (10⁻¹⁸ CNX), exact, encoded in JSON as a decimal string.
public struct Wei: Sendable, Hashable, Comparable, Codable, CustomStringConvertible, ExpressibleByIntegerLiteral {
    /// The number of wei.
    public var value: BigUInt

    /// Wei per CNX (10¹⁸).
    public static let perCNX = BigUInt(10).power(18)
    /// Zero.
    public static let zero = Wei(BigUInt(0))

    /// Wraps a number of wei.
    public init(_ value: BigUInt) { self.value = value }

    /// A literal number of wei.
    public init(integerLiteral value: UInt64) { self.value = BigUInt(value) }

    /// Parses a decimal string of wei (digits only, no sign, no exponent); nil otherwise.
    public init?(decimal text: String) {
        guard !text.isEmpty, text.utf8.count <= 100, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
            let v = BigUInt(text, radix: 10)
        else { return nil }
        value = v
    }

    /// Parses an amount of CNX such as `"5"`, `"0.25"` or `"1.000000000000000001"` (at most 18 decimals).
    public init?(cnx text: String) {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count <= 2 else { return nil }
        let whole = parts[0]
        let fraction = parts.count == 2 ? parts[1] : ""
        guard !(whole.isEmpty && fraction.isEmpty), fraction.count <= 18, !(parts.count == 2 && fraction.isEmpty),
            (whole + fraction).utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), whole.utf8.count <= 60
        else { return nil }
        let wholeValue = whole.isEmpty ? BigUInt(0) : BigUInt(String(whole), radix: 10)!
        let padded = fraction + String(repeating: "0", count: 18 - fraction.count)
        value = wholeValue * Self.perCNX + BigUInt(String(padded), radix: 10)!
    }

    /// A whole number of CNX.
    public init(cnx: UInt64) { value = BigUInt(cnx) * Self.perCNX }

    /// A number of gwei (10⁻⁹ CNX), the unit the Go bridge stores fees in.
    public init(gwei: UInt64) { value = BigUInt(gwei) * BigUInt(1_000_000_000) }

    /// The decimal string of wei, as the relay sends and expects it.
    public var decimalString: String { String(value) }

    /// The amount in CNX with the trailing zeros of the fraction removed, e.g. `"5"` or `"0.25"`.
    public var cnxString: String {
        let (whole, fraction) = value.quotientAndRemainder(dividingBy: Self.perCNX)
        if fraction.isZero { return String(whole) }
        var digits = String(fraction)
        digits = String(repeating: "0", count: 18 - digits.count) + digits
        while digits.hasSuffix("0") { digits.removeLast() }
        return "\(whole).\(digits)"
    }

    /// The amount in CNX followed by the unit, e.g. `"5.5 CNX"`.
    public var description: String { "\(cnxString) CNX" }

    /// The sum.
    public static func + (a: Wei, b: Wei) -> Wei { Wei(a.value + b.value) }

    /// `a − b`, or nil if `b` is larger (amounts are never negative).
    public func subtracting(_ other: Wei) -> Wei? { other.value > value ? nil : Wei(value - other.value) }

    /// The amount times a count.
    public static func * (a: Wei, n: UInt64) -> Wei { Wei(a.value * BigUInt(n)) }

    /// Orders by value.
    public static func < (a: Wei, b: Wei) -> Bool { a.value < b.value }

    /// Decodes a decimal string (or a non-negative JSON integer).
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let text = try? container.decode(String.self) {
            guard let wei = Wei(decimal: text) else {
                throw DecodingError.dataCorruptedError(in: container, debugDescription: "not a decimal wei amount: \(text)")
            }
            self = wei
        } else {
            self = Wei(BigUInt(try container.decode(UInt64.self)))
        }
    }

    /// Encodes the decimal string.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(decimalString)
    }
}
