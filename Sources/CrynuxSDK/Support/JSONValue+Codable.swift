/// Decodes `Decodable` types from a `JSONValue`, strictly: numbers only from numbers (an integer field
/// accepts `5` and `5.0`, not `5.5` or `"5"`), strings only from strings, and key order visible to
/// `allKeys`. Errors carry the coding path, which `JSONValueDecoder.fieldPath` turns into `a.b[2].c`.
public struct JSONValueDecoder: Sendable {
    /// Creates a decoder.
    public init() {}

    /// Decodes `type` from `value`.
    public func decode<T: Decodable>(_ type: T.Type, from value: JSONValue) throws -> T {
        try T(from: ValueDecoder(value: value, codingPath: []))
    }

    /// Decodes `type` from JSON text.
    public func decode<T: Decodable>(_ type: T.Type, fromJSON bytes: [UInt8]) throws -> T {
        try decode(type, from: try JSONValue.parse(bytes))
    }

    /// A coding path written as `generation_config.stop_strings[1]`.
    public static func fieldPath(_ path: [any CodingKey]) -> String {
        var out = ""
        for key in path {
            if let i = key.intValue, key.stringValue == "Index \(i)" || key.stringValue == String(i) {
                out += "[\(i)]"
            } else {
                out += out.isEmpty ? key.stringValue : "." + key.stringValue
            }
        }
        return out
    }
}

/// Encodes `Encodable` types into a `JSONValue`, keeping object keys in the order they were encoded.
public struct JSONValueEncoder: Sendable {
    /// Creates an encoder.
    public init() {}

    /// Encodes `value`.
    public func encode<T: Encodable>(_ value: T) throws -> JSONValue {
        let root = EncodingBox()
        try value.encode(to: ValueEncoder(box: root, codingPath: []))
        return root.value
    }
}

struct IndexKey: CodingKey {
    var intValue: Int?
    var stringValue: String
    init(_ i: Int) { intValue = i; stringValue = "Index \(i)" }
    init?(intValue: Int) { self.init(intValue) }
    init?(stringValue: String) { return nil }
}

struct NameKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(_ s: String) { stringValue = s }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { return nil }
}

// MARK: - Decoding

private struct ValueDecoder: Decoder {
    let value: JSONValue
    let codingPath: [any CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func mismatch(_ expected: String) -> DecodingError {
        DecodingError.typeMismatch(Any.self, .init(codingPath: codingPath, debugDescription: "expected \(expected)"))
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        guard case .object(let members) = value else { throw mismatch("an object") }
        return KeyedDecodingContainer(KeyedDecoder<Key>(members: members, codingPath: codingPath))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        guard case .array(let items) = value else { throw mismatch("an array") }
        return UnkeyedDecoder(items: items, codingPath: codingPath)
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer { SingleDecoder(decoder: self) }

    func decodeScalar<T: Decodable>(_ type: T.Type) throws -> T {
        switch value {
        case .bool(let b):
            if let v = b as? T { return v }
            throw mismatch(Self.name(of: type))
        case .string(let s):
            if let v = s as? T { return v }
            throw mismatch(Self.name(of: type))
        case .number(let text):
            guard let d = Double(text) else { throw mismatch("a number") }
            if T.self == Double.self { return d as! T }
            if T.self == Float.self { return Float(d) as! T }
            if let v = try integer(text, d, type) { return v }
            throw mismatch(Self.name(of: type))
        case .null:
            throw DecodingError.valueNotFound(type, .init(codingPath: codingPath, debugDescription: "null is not allowed here"))
        case .array, .object:
            throw mismatch(Self.name(of: type))
        }
    }

    func integer<T>(_ text: String, _ d: Double, _ type: T.Type) throws -> T? {
        guard d == d.rounded() else { throw mismatch("an integer") }
        func make<I: FixedWidthInteger>(_: I.Type) throws -> I {
            if let exact = I(text) { return exact }
            guard let v = I(exactly: d) else { throw mismatch("an integer in range") }
            return v
        }
        switch type {
        case is Int.Type: return try make(Int.self) as? T
        case is Int64.Type: return try make(Int64.self) as? T
        case is Int32.Type: return try make(Int32.self) as? T
        case is UInt.Type: return try make(UInt.self) as? T
        case is UInt64.Type: return try make(UInt64.self) as? T
        case is UInt32.Type: return try make(UInt32.self) as? T
        case is UInt8.Type: return try make(UInt8.self) as? T
        default: return nil
        }
    }

    static func name(of type: Any.Type) -> String {
        switch type {
        case is String.Type: return "a string"
        case is Bool.Type: return "a boolean"
        default: return "a number"
        }
    }
}

private struct SingleDecoder: SingleValueDecodingContainer {
    let decoder: ValueDecoder
    var codingPath: [any CodingKey] { decoder.codingPath }
    func decodeNil() -> Bool { decoder.value == .null }
    func decode<T: Decodable>(_ type: T.Type) throws -> T {
        if T.self == JSONValue.self { return decoder.value as! T }
        switch type {
        case is Bool.Type, is String.Type, is Double.Type, is Float.Type, is Int.Type, is Int64.Type, is Int32.Type,
            is UInt.Type, is UInt64.Type, is UInt32.Type, is UInt8.Type:
            return try decoder.decodeScalar(type)
        default:
            return try T(from: decoder)
        }
    }
}

private struct KeyedDecoder<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let members: [JSONMember]
    let codingPath: [any CodingKey]

    var allKeys: [Key] {
        var seen = Set<[UInt8]>()
        return members.compactMap { m in seen.insert(Array(m.key.utf8)).inserted ? Key(stringValue: m.key) : nil }
    }

    func find(_ key: Key) -> JSONValue? {
        let bytes = Array(key.stringValue.utf8)
        return members.last(where: { Array($0.key.utf8) == bytes })?.value
    }

    func contains(_ key: Key) -> Bool { find(key) != nil }

    func decodeNil(forKey key: Key) throws -> Bool { find(key) == .null }

    func decoder(for key: Key) throws -> ValueDecoder {
        guard let v = find(key) else {
            throw DecodingError.keyNotFound(key, .init(codingPath: codingPath + [key], debugDescription: "is required"))
        }
        return ValueDecoder(value: v, codingPath: codingPath + [key])
    }

    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
        try SingleDecoder(decoder: try decoder(for: key)).decode(type)
    }

    func decodeIfPresent<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T? {
        guard let v = find(key), v != .null else { return nil }
        return try SingleDecoder(decoder: ValueDecoder(value: v, codingPath: codingPath + [key])).decode(type)
    }

    func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws
        -> KeyedDecodingContainer<NestedKey>
    {
        try decoder(for: key).container(keyedBy: type)
    }

    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
        try decoder(for: key).unkeyedContainer()
    }

    func superDecoder() throws -> any Decoder { ValueDecoder(value: .object(members), codingPath: codingPath) }
    func superDecoder(forKey key: Key) throws -> any Decoder { try decoder(for: key) }
}

private struct UnkeyedDecoder: UnkeyedDecodingContainer {
    let items: [JSONValue]
    let codingPath: [any CodingKey]
    var currentIndex = 0
    var count: Int? { items.count }
    var isAtEnd: Bool { currentIndex >= items.count }

    init(items: [JSONValue], codingPath: [any CodingKey]) {
        self.items = items
        self.codingPath = codingPath
    }

    mutating func next() throws -> ValueDecoder {
        guard !isAtEnd else {
            throw DecodingError.valueNotFound(Any.self, .init(codingPath: codingPath, debugDescription: "array too short"))
        }
        defer { currentIndex += 1 }
        return ValueDecoder(value: items[currentIndex], codingPath: codingPath + [IndexKey(currentIndex)])
    }

    mutating func decodeNil() throws -> Bool {
        if !isAtEnd, items[currentIndex] == .null {
            currentIndex += 1
            return true
        }
        return false
    }

    mutating func decode<T: Decodable>(_ type: T.Type) throws -> T { try SingleDecoder(decoder: try next()).decode(type) }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws
        -> KeyedDecodingContainer<NestedKey>
    {
        try next().container(keyedBy: type)
    }

    mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer { try next().unkeyedContainer() }
    mutating func superDecoder() throws -> any Decoder { try next() }
}

// MARK: - Encoding

/// A mutable node of the value being encoded; containers write into boxes owned by their parent.
private final class EncodingBox {
    enum Storage {
        case value(JSONValue)
        case object([(String, EncodingBox)])
        case array([EncodingBox])
    }
    var storage: Storage = .value(.null)

    var value: JSONValue {
        switch storage {
        case .value(let v): return v
        case .object(let members): return .object(members.map { JSONMember($0.0, $0.1.value) })
        case .array(let items): return .array(items.map(\.value))
        }
    }

    func child(forKey key: String) -> EncodingBox {
        if case .object(var members) = storage {
            if let existing = members.first(where: { $0.0 == key }) { return existing.1 }
            let box = EncodingBox()
            members.append((key, box))
            storage = .object(members)
            return box
        }
        let box = EncodingBox()
        storage = .object([(key, box)])
        return box
    }

    func appendChild() -> EncodingBox {
        let box = EncodingBox()
        if case .array(var items) = storage {
            items.append(box)
            storage = .array(items)
        } else {
            storage = .array([box])
        }
        return box
    }

    func makeObject() { if case .object = storage {} else { storage = .object([]) } }
    func makeArray() { if case .array = storage {} else { storage = .array([]) } }
}

private func scalarValue<T: Encodable>(_ value: T) -> JSONValue? {
    switch value {
    case let v as JSONValue: return v
    case let v as Bool: return .bool(v)
    case let v as String: return .string(v)
    case let v as Double: return .number(CanonicalJSON.formatNumber(v))
    case let v as Float: return .number(CanonicalJSON.formatNumber(Double(v)))
    case let v as Int: return .integer(v)
    case let v as Int64: return .integer(v)
    case let v as Int32: return .integer(v)
    case let v as UInt: return .integer(v)
    case let v as UInt64: return .integer(v)
    case let v as UInt32: return .integer(v)
    case let v as UInt8: return .integer(v)
    default: return nil
    }
}

private func encodeAny<T: Encodable>(_ value: T, into box: EncodingBox, path: [any CodingKey]) throws {
    if let scalar = scalarValue(value) {
        if case .number(let text) = scalar, text == "NaN" || text.contains("inf") {
            throw EncodingError.invalidValue(value, .init(codingPath: path, debugDescription: "non-finite number"))
        }
        box.storage = .value(scalar)
    } else {
        try value.encode(to: ValueEncoder(box: box, codingPath: path))
    }
}

private struct ValueEncoder: Encoder {
    let box: EncodingBox
    let codingPath: [any CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        box.makeObject()
        return KeyedEncodingContainer(KeyedEncoder<Key>(box: box, codingPath: codingPath))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        box.makeArray()
        return UnkeyedEncoder(box: box, codingPath: codingPath)
    }

    func singleValueContainer() -> any SingleValueEncodingContainer { SingleEncoder(box: box, codingPath: codingPath) }
}

private struct SingleEncoder: SingleValueEncodingContainer {
    let box: EncodingBox
    let codingPath: [any CodingKey]
    mutating func encodeNil() throws { box.storage = .value(.null) }
    mutating func encode<T: Encodable>(_ value: T) throws { try encodeAny(value, into: box, path: codingPath) }
}

private struct KeyedEncoder<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let box: EncodingBox
    let codingPath: [any CodingKey]

    mutating func encodeNil(forKey key: Key) throws { box.child(forKey: key.stringValue).storage = .value(.null) }
    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
        try encodeAny(value, into: box.child(forKey: key.stringValue), path: codingPath + [key])
    }
    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key)
        -> KeyedEncodingContainer<NestedKey>
    {
        ValueEncoder(box: box.child(forKey: key.stringValue), codingPath: codingPath + [key]).container(keyedBy: keyType)
    }
    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        ValueEncoder(box: box.child(forKey: key.stringValue), codingPath: codingPath + [key]).unkeyedContainer()
    }
    mutating func superEncoder() -> any Encoder { ValueEncoder(box: box.child(forKey: "super"), codingPath: codingPath) }
    mutating func superEncoder(forKey key: Key) -> any Encoder {
        ValueEncoder(box: box.child(forKey: key.stringValue), codingPath: codingPath + [key])
    }
}

private struct UnkeyedEncoder: UnkeyedEncodingContainer {
    let box: EncodingBox
    let codingPath: [any CodingKey]
    var count: Int {
        if case .array(let items) = box.storage { return items.count }
        return 0
    }
    mutating func encodeNil() throws { box.appendChild().storage = .value(.null) }
    mutating func encode<T: Encodable>(_ value: T) throws {
        let path = codingPath + [IndexKey(count)]
        try encodeAny(value, into: box.appendChild(), path: path)
    }
    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
        ValueEncoder(box: box.appendChild(), codingPath: codingPath).container(keyedBy: keyType)
    }
    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
        ValueEncoder(box: box.appendChild(), codingPath: codingPath).unkeyedContainer()
    }
    mutating func superEncoder() -> any Encoder { ValueEncoder(box: box.appendChild(), codingPath: codingPath) }
}

// MARK: - JSONValue as Codable and as text

extension JSONValue: Codable {
    /// Decodes any JSON value (key order is kept only through `JSONValueDecoder`).
    public init(from decoder: any Decoder) throws {
        if let d = decoder as? ValueDecoder {
            self = d.value
            return
        }
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let b = try? container.decode(Bool.self) {
            self = .bool(b)
        } else if let i = try? container.decode(Int64.self) {
            self = .integer(i)
        } else if let d = try? container.decode(Double.self) {
            self = .number(CanonicalJSON.formatNumber(d))
        } else if let s = try? container.decode(String.self) {
            self = .string(s)
        } else if let a = try? container.decode([JSONValue].self) {
            self = .array(a)
        } else {
            let o = try decoder.container(keyedBy: NameKey.self)
            self = .object(try o.allKeys.map { JSONMember($0.stringValue, try o.decode(JSONValue.self, forKey: $0)) })
        }
    }

    /// Encodes the value (numbers through their literal text only with `JSONValueEncoder`).
    public func encode(to encoder: any Encoder) throws {
        if let e = encoder as? ValueEncoder {
            e.box.storage = .value(self)
            return
        }
        switch self {
        case .null:
            var c = encoder.singleValueContainer()
            try c.encodeNil()
        case .bool(let b):
            var c = encoder.singleValueContainer()
            try c.encode(b)
        case .number(let text):
            var c = encoder.singleValueContainer()
            if let i = Int64(text) { try c.encode(i) } else { try c.encode(Double(text) ?? 0) }
        case .string(let s):
            var c = encoder.singleValueContainer()
            try c.encode(s)
        case .array(let items):
            var c = encoder.unkeyedContainer()
            for item in items { try c.encode(item) }
        case .object(let members):
            var c = encoder.container(keyedBy: NameKey.self)
            for m in members { try c.encode(m.value, forKey: NameKey(m.key)) }
        }
    }

    /// Compact JSON text in document order, with Go's escaping and numbers as written.
    public var compactText: String {
        var out: [UInt8] = []
        Self.writeCompact(self, into: &out)
        return String(decoding: out, as: UTF8.self)
    }

    private static func writeCompact(_ value: JSONValue, into out: inout [UInt8]) {
        switch value {
        case .number(let text): out.append(contentsOf: text.utf8)
        case .array(let items):
            out.append(UInt8(ascii: "["))
            for (i, item) in items.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                writeCompact(item, into: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let members):
            out.append(UInt8(ascii: "{"))
            for (i, m) in members.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                CanonicalJSON.writeString(m.key, into: &out)
                out.append(UInt8(ascii: ":"))
                writeCompact(m.value, into: &out)
            }
            out.append(UInt8(ascii: "}"))
        default: CanonicalJSON.write(value, into: &out)
        }
    }
}
