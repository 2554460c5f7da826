/// A 20-byte Ethereum address, written with its EIP-55 checksum.
public struct Address: Sendable, Hashable, CustomStringConvertible, Codable {
    /// The 20 address bytes.
    public let rawBytes: [UInt8]

    /// Wraps 20 bytes.
    public init(rawBytes: [UInt8]) {
        precondition(rawBytes.count == 20, "an address is 20 bytes")
        self.rawBytes = rawBytes
    }

    /// Parses `0x` + 40 hex digits (the `0x` is optional). All-lowercase or all-uppercase text is taken
    /// as it is; mixed case must carry a correct EIP-55 checksum.
    public init(_ text: String) throws(WalletError) {
        let trimmed = text.trimmingWhitespace
        guard let bytes = Hex.decode(trimmed, count: 20) else {
            throw WalletError(.invalidAddress, "an address is 0x followed by 40 hex digits")
        }
        self.init(rawBytes: bytes)
        let body = trimmed.hasPrefix("0x") || trimmed.hasPrefix("0X") ? String(trimmed.dropFirst(2)) : trimmed
        let hasLower = body.contains(where: { $0.isLowercase })
        let hasUpper = body.contains(where: { $0.isUppercase })
        if hasLower && hasUpper && "0x" + body != checksummed {
            throw WalletError(.invalidAddress, "the address's mixed case does not match its EIP-55 checksum")
        }
    }

    /// The EIP-55 checksummed form, `0x` + 40 hex digits.
    public var checksummed: String {
        let lower = Hex.encode(rawBytes)
        let hash = Keccak256.hash(lower)
        var out = "0x"
        for (i, ch) in lower.enumerated() {
            let nibble = (hash[i / 2] >> (i % 2 == 0 ? 4 : 0)) & 0x0F
            out.append(ch.isLetter && nibble >= 8 ? Character(ch.uppercased()) : ch)
        }
        return out
    }

    /// The all-lowercase form, `0x` + 40 hex digits.
    public var lowercased: String { Hex.encode(rawBytes, prefix: true) }

    /// The EIP-55 form.
    public var description: String { checksummed }

    /// Decodes from a hex string.
    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        do {
            try self.init(text)
        } catch {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: error.message))
        }
    }

    /// Encodes the EIP-55 form.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(checksummed)
    }
}
