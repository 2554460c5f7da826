/// A byte-level BPE tokenizer (GPT-2 style) as llama.cpp and Hugging Face build it from a GGUF:
/// control tokens are split out of the text first, the rest is pre-tokenized with the model's rule
/// (`smollm`: single digits, then the GPT-2 pattern), mapped to GPT-2's byte alphabet, and merged by rank.
public struct BPETokenizer: Sendable {
    /// Token strings by id (in the byte-level alphabet).
    public let tokens: [String]
    let ids: [String: Int]
    let mergeRanks: [String: Int]
    /// Ids of the control tokens (GGUF token type 3) that are matched whole in the text.
    public let specialIDs: Set<Int>
    let specials: [(text: [Unicode.Scalar], id: Int)]
    /// The pre-tokenizer rule (`tokenizer.ggml.pre`).
    public let pre: String
    /// Beginning-of-sequence id.
    public let bosID: Int?
    /// End-of-sequence id.
    public let eosID: Int?

    /// The pre-tokenizers implemented: GPT-2's pattern, optionally after splitting single digits.
    public static let supportedPreTokenizers: Set<String> = ["smollm", "gpt2", "default"]

    /// Builds the tokenizer from a GGUF's `tokenizer.ggml.*` metadata.
    public init(gguf: GGUFFile) throws(TokenizerError) {
        guard gguf["tokenizer.ggml.model"]?.string == "gpt2" else {
            throw TokenizerError("only byte-level BPE (tokenizer.ggml.model = gpt2) is supported so far, not \(gguf["tokenizer.ggml.model"]?.string ?? "none")")
        }
        guard let tokenValues = gguf["tokenizer.ggml.tokens"]?.array else { throw TokenizerError("the GGUF has no tokenizer.ggml.tokens") }
        let tokens = tokenValues.map { $0.string ?? "" }
        let merges = (gguf["tokenizer.ggml.merges"]?.array ?? []).map { $0.string ?? "" }
        let types = (gguf["tokenizer.ggml.token_type"]?.array ?? []).map { $0.int ?? 1 }
        let pre = gguf["tokenizer.ggml.pre"]?.string ?? "default"
        try self.init(
            tokens: tokens, merges: merges, tokenTypes: types, pre: pre, bosID: gguf["tokenizer.ggml.bos_token_id"]?.int,
            eosID: gguf["tokenizer.ggml.eos_token_id"]?.int)
    }

    /// Builds the tokenizer from its parts.
    public init(tokens: [String], merges: [String], tokenTypes: [Int], pre: String, bosID: Int?, eosID: Int?) throws(TokenizerError) {
        guard Self.supportedPreTokenizers.contains(pre) else { throw TokenizerError("pre-tokenizer \"\(pre)\" is not supported yet") }
        self.tokens = tokens
        self.pre = pre
        self.bosID = bosID
        self.eosID = eosID
        var ids: [String: Int] = [:]
        ids.reserveCapacity(tokens.count)
        for (i, t) in tokens.enumerated() where ids[t] == nil { ids[t] = i }
        self.ids = ids
        var ranks: [String: Int] = [:]
        ranks.reserveCapacity(merges.count)
        for (i, m) in merges.enumerated() where ranks[m] == nil { ranks[m] = i }
        mergeRanks = ranks
        var specialIDs = Set<Int>()
        for (i, type) in tokenTypes.enumerated() where type == 3 && i < tokens.count && !tokens[i].isEmpty { specialIDs.insert(i) }
        self.specialIDs = specialIDs
        specials = specialIDs.map { (Array(tokens[$0].unicodeScalars), $0) }.sorted { $0.0.count > $1.0.count }
    }

    // MARK: Encoding

    /// Token ids of `text`; control tokens written in the text are recognised unless `parseSpecial` is false.
    public func encode(_ text: String, parseSpecial: Bool = true) -> [Int] {
        var out: [Int] = []
        let scalars = Array(text.unicodeScalars)
        var start = 0
        var i = 0
        if parseSpecial && !specials.isEmpty {
            while i < scalars.count {
                if let match = specials.first(where: { s in s.text.count <= scalars.count - i && s.text.elementsEqual(scalars[i..<(i + s.text.count)]) }) {
                    encodeOrdinary(scalars[start..<i], into: &out)
                    out.append(match.id)
                    i += match.text.count
                    start = i
                } else {
                    i += 1
                }
            }
        }
        encodeOrdinary(scalars[start..<scalars.count], into: &out)
        return out
    }

    func encodeOrdinary(_ text: ArraySlice<Unicode.Scalar>, into out: inout [Int]) {
        guard !text.isEmpty else { return }
        for piece in PreTokenizer.split(text, digitsFirst: pre == "smollm") {
            var symbols = ByteLevel.encode(piece)
            bpe(&symbols)
            for s in symbols {
                if let id = ids[s] {
                    out.append(id)
                } else {
                    // A symbol missing from the vocabulary: fall back to its single byte characters.
                    for c in s.unicodeScalars { if let id = ids[String(c)] { out.append(id) } }
                }
            }
        }
    }

    /// Merges adjacent symbols by rank until no known pair remains.
    func bpe(_ symbols: inout [String]) {
        while symbols.count > 1 {
            var best = Int.max
            var bestIndex = -1
            for i in 0..<(symbols.count - 1) {
                if let r = mergeRanks[symbols[i] + " " + symbols[i + 1]], r < best {
                    best = r
                    bestIndex = i
                }
            }
            guard bestIndex >= 0 else { return }
            let left = symbols[bestIndex]
            let right = symbols[bestIndex + 1]
            var merged: [String] = []
            merged.reserveCapacity(symbols.count)
            var i = 0
            while i < symbols.count {
                if i < symbols.count - 1, symbols[i] == left, symbols[i + 1] == right {
                    merged.append(left + right)
                    i += 2
                } else {
                    merged.append(symbols[i])
                    i += 1
                }
            }
            symbols = merged
        }
    }

    // MARK: Decoding

    /// The text of `ids`; control tokens are kept unless `skipSpecial`. Invalid UTF-8 (a split character)
    /// becomes U+FFFD, as transformers decodes.
    public func decode(_ ids: [Int], skipSpecial: Bool = false) -> String {
        var bytes: [UInt8] = []
        for id in ids where id >= 0 && id < tokens.count {
            if skipSpecial && specialIDs.contains(id) { continue }
            bytes += ByteLevel.decode(tokens[id])
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The byte-level spelling of a token (`Ġcapital`).
    public func token(_ id: Int) -> String? { id >= 0 && id < tokens.count ? tokens[id] : nil }

    /// The id of a token spelling.
    public func id(of token: String) -> Int? { ids[token] }
}

/// Why a tokenizer could not be built.
public struct TokenizerError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What was wrong.
    public var message: String
    /// Creates an error.
    public init(_ message: String) { self.message = message }
    /// The message.
    public var description: String { message }
}

/// GPT-2's reversible map between bytes and printable characters.
enum ByteLevel {
    static let byteToScalar: [Unicode.Scalar] = {
        var table = [Unicode.Scalar](repeating: "\0", count: 256)
        var n: UInt32 = 0
        for b in 0..<256 {
            let printable = (33...126).contains(b) || (161...172).contains(b) || (174...255).contains(b)
            if printable {
                table[b] = Unicode.Scalar(UInt32(b))!
            } else {
                table[b] = Unicode.Scalar(256 + n)!
                n += 1
            }
        }
        return table
    }()

    static let scalarToByte: [UInt32: UInt8] = {
        var m: [UInt32: UInt8] = [:]
        for (b, s) in byteToScalar.enumerated() { m[s.value] = UInt8(b) }
        return m
    }()

    /// The UTF-8 bytes of `piece`, one byte-level character (as a String) each.
    static func encode(_ piece: ArraySlice<Unicode.Scalar>) -> [String] {
        var out: [String] = []
        for scalar in piece {
            for byte in String(scalar).utf8 { out.append(String(byteToScalar[Int(byte)])) }
        }
        return out
    }

    static func decode(_ token: String) -> [UInt8] {
        var bytes: [UInt8] = []
        for s in token.unicodeScalars {
            if let b = scalarToByte[s.value] { bytes.append(b) } else { bytes += Array(String(s).utf8) }
        }
        return bytes
    }
}

/// GPT-2's pre-tokenizer pattern,
/// `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`, written as a scanner.
enum PreTokenizer {
    enum Class { case letter, number, space, other }

    static func classify(_ c: Unicode.Scalar) -> Class {
        if c.properties.isWhitespace { return .space }
        switch c.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: return .letter
        case .decimalNumber, .letterNumber, .otherNumber: return .number
        default: return .other
        }
    }

    static func split(_ text: ArraySlice<Unicode.Scalar>, digitsFirst: Bool) -> [ArraySlice<Unicode.Scalar>] {
        guard digitsFirst else { return gpt2(text) }
        // llama.cpp's smollm rule: every single number character is its own piece, then GPT-2 on the rest.
        var pieces: [ArraySlice<Unicode.Scalar>] = []
        var start = text.startIndex
        for i in text.indices where classify(text[i]) == .number {
            if start < i { pieces += gpt2(text[start..<i]) }
            pieces.append(text[i...i])
            start = i + 1
        }
        if start < text.endIndex { pieces += gpt2(text[start..<text.endIndex]) }
        return pieces
    }

    static func gpt2(_ text: ArraySlice<Unicode.Scalar>) -> [ArraySlice<Unicode.Scalar>] {
        var pieces: [ArraySlice<Unicode.Scalar>] = []
        var i = text.startIndex
        let end = text.endIndex
        func cls(_ j: Int) -> Class? { j < end ? classify(text[j]) : nil }
        while i < end {
            let c = text[i]
            // 's 't 're 've 'm 'll 'd
            if c == "'", i + 1 < end {
                let rest = text[(i + 1)...].prefix(2)
                let two = String(String.UnicodeScalarView(rest))
                if ["re", "ve", "ll"].contains(two) {
                    pieces.append(text[i..<(i + 3)])
                    i += 3
                    continue
                }
                if let first = rest.first, ["s", "t", "m", "d"].contains(first) {
                    pieces.append(text[i..<(i + 2)])
                    i += 2
                    continue
                }
            }
            let spaceLead = c == " " ? 1 : 0
            let head = cls(i + spaceLead)
            if spaceLead == 0 || i + 1 < end {
                if let head, head != .space, spaceLead == 1 || classify(c) != .space {
                    var j = i + spaceLead
                    if head == .letter || head == .number {
                        while j < end, classify(text[j]) == head { j += 1 }
                    } else {
                        while j < end, classify(text[j]) == .other { j += 1 }
                    }
                    pieces.append(text[i..<j])
                    i = j
                    continue
                }
            }
            // Whitespace: \s+(?!\S) leaves the last space for the next piece; otherwise \s+.
            var j = i
            while j < end, classify(text[j]) == .space { j += 1 }
            if j < end && j - i > 1 { j -= 1 }
            if j == i { j = i + 1 }
            pieces.append(text[i..<j])
            i = j
        }
        return pieces
    }
}
