import CrynuxSDK

/// A BPE tokenizer as llama.cpp and Hugging Face build it, from a GGUF or a `tokenizer.json`:
///
/// - byte-level BPE (GPT-2 style): added/control tokens are split out of the text first, the rest is
///   pre-tokenized with the model's rule (`gpt2`, `smollm`, `llama-bpe`, `qwen2`), mapped to GPT-2's byte
///   alphabet, and merged by rank;
/// - SentencePiece BPE (Llama/Mistral style): spaces become `▁` (with one prepended as the model asks), the
///   text is merged by rank (or by token score when a GGUF has no merges), and characters outside the
///   vocabulary fall back to `<0xXX>` byte tokens.
public struct BPETokenizer: Sendable {
    /// The two BPE families.
    public enum Model: String, Sendable, Hashable {
        /// GPT-2 style byte-level BPE (`tokenizer.ggml.model = gpt2`).
        case byteLevel = "gpt2"
        /// SentencePiece-style BPE with byte fallback (`tokenizer.ggml.model = llama`).
        case sentencePiece = "llama"
    }

    /// When SentencePiece text gets its leading `▁`.
    enum SpacePrefix: Sendable, Hashable {
        /// Never.
        case never
        /// Only the segment that starts the text, unless it starts with a space (Metaspace `prepend_scheme: first`).
        case first
        /// Every segment between added tokens, unless it starts with a space (Metaspace `always`).
        case always
        /// Every segment between added tokens (a `Prepend("▁")` normalizer).
        case prepend
        /// At the start and after each control token (llama.cpp's `add_space_prefix`).
        case startOrAfterSpecial
    }

    /// The BPE family.
    public let model: Model
    /// Token strings by id (byte-level alphabet, or SentencePiece pieces).
    public let tokens: [String]
    let ids: [String: Int]
    let mergeRanks: [String: Int]
    let scores: [Float]
    /// Ids of the control tokens, skipped when decoding with `skipSpecial`.
    public let specialIDs: Set<Int>
    private(set) var specials: [(text: [Unicode.Scalar], id: Int)]
    /// The pre-tokenizer rule name (`tokenizer.ggml.pre`; `spm` for SentencePiece).
    public let pre: String
    let rule: PreTokenizer.Rule
    let spacePrefix: SpacePrefix
    let unknownID: Int?
    /// Beginning-of-sequence id.
    public let bosID: Int?
    /// End-of-sequence id.
    public let eosID: Int?

    /// The byte-level pre-tokenizers implemented, by llama.cpp's names.
    public static let supportedPreTokenizers: Set<String> = [
        "default", "gpt2", "gpt-2", "smollm", "llama-bpe", "llama3", "llama-v3", "smaug-bpe", "falcon3", "qwen2", "deepseek-r1-qwen", "megrez",
    ]

    /// Builds the tokenizer from a GGUF's `tokenizer.ggml.*` metadata.
    public init(gguf: GGUFFile) throws(TokenizerError) {
        let kind = gguf["tokenizer.ggml.model"]?.string ?? "none"
        guard let model = Model(rawValue: kind) else {
            throw TokenizerError("tokenizer.ggml.model \(kind) is not supported (gpt2 and llama are)")
        }
        guard let tokenValues = gguf["tokenizer.ggml.tokens"]?.array else { throw TokenizerError("the GGUF has no tokenizer.ggml.tokens") }
        let tokens = tokenValues.map { $0.string ?? "" }
        let merges = (gguf["tokenizer.ggml.merges"]?.array ?? []).map { $0.string ?? "" }
        let types = (gguf["tokenizer.ggml.token_type"]?.array ?? []).map { $0.int ?? 1 }
        let scores = (gguf["tokenizer.ggml.scores"]?.array ?? []).map { Float($0.double ?? 0) }
        try self.init(
            model: model, tokens: tokens, merges: merges, scores: scores, specialIDs: Set(types.indices.filter { types[$0] == 3 }),
            pre: model == .sentencePiece ? "spm" : gguf["tokenizer.ggml.pre"]?.string ?? "default",
            spacePrefix: model == .sentencePiece && (gguf["tokenizer.ggml.add_space_prefix"]?.bool ?? true) ? .startOrAfterSpecial : .never,
            unknownID: gguf["tokenizer.ggml.unknown_token_id"]?.int, bosID: gguf["tokenizer.ggml.bos_token_id"]?.int,
            eosID: gguf["tokenizer.ggml.eos_token_id"]?.int)
    }

    /// Builds a byte-level tokenizer from its parts.
    public init(tokens: [String], merges: [String], tokenTypes: [Int], pre: String, bosID: Int?, eosID: Int?) throws(TokenizerError) {
        try self.init(
            model: .byteLevel, tokens: tokens, merges: merges, scores: [], specialIDs: Set(tokenTypes.indices.filter { tokenTypes[$0] == 3 }),
            pre: pre, spacePrefix: .never, unknownID: nil, bosID: bosID, eosID: eosID)
    }

    init(
        model: Model, tokens: [String], merges: [String], scores: [Float], specialIDs: Set<Int>, pre: String, spacePrefix: SpacePrefix,
        unknownID: Int?, bosID: Int?, eosID: Int?
    ) throws(TokenizerError) {
        guard let rule = model == .sentencePiece ? .gpt2 : PreTokenizer.Rule(name: pre) else {
            throw TokenizerError("pre-tokenizer \"\(pre)\" is not supported yet")
        }
        guard model == .byteLevel || !merges.isEmpty || scores.count == tokens.count else {
            throw TokenizerError("a SentencePiece tokenizer needs merges or one score per token")
        }
        self.model = model
        self.tokens = tokens
        self.pre = pre
        self.rule = rule
        self.scores = scores
        self.spacePrefix = spacePrefix
        self.unknownID = unknownID
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
        let special = specialIDs.filter { $0 >= 0 && $0 < tokens.count && !tokens[$0].isEmpty }
        self.specialIDs = special
        specials = special.map { (Array(tokens[$0].unicodeScalars), $0) }.sorted { $0.0.count > $1.0.count || ($0.0.count == $1.0.count && $0.1 < $1.1) }
    }

    /// Builds the tokenizer from a Hugging Face `tokenizer.json` (a BPE model with a byte-level pre-tokenizer
    /// of a known pattern, or SentencePiece-style Metaspace / `▁` normalizer with byte fallback). Added tokens
    /// are split out of the text first; the special ones are skipped by `decode(skipSpecial:)`.
    public init(tokenizerJSON bytes: [UInt8], bosToken: String? = nil, eosToken: String? = nil) throws(TokenizerError) {
        let root: JSONValue
        do { root = try JSONValue.parse(bytes) } catch { throw TokenizerError("tokenizer.json is not JSON: \(error)") }
        guard let modelJSON = root["model"], modelJSON["type"]?.stringValue == "BPE" || modelJSON["type"] == nil,
            case .object(let vocab)? = modelJSON["vocab"]
        else { throw TokenizerError("tokenizer.json: only BPE models are supported") }
        var pairs: [(String, Int)] = []
        for member in vocab {
            guard let id = member.value.doubleValue.map({ Int($0) }), id >= 0, id < 1 << 22 else { throw TokenizerError("tokenizer.json: bad id for \(member.key)") }
            pairs.append((member.key, id))
        }
        var added: [(String, Int, Bool)] = []
        if case .array(let list)? = root["added_tokens"] {
            for item in list {
                guard let content = item["content"]?.stringValue, let id = item["id"]?.doubleValue.map({ Int($0) }), id >= 0, id < 1 << 22 else {
                    throw TokenizerError("tokenizer.json: malformed added token")
                }
                added.append((content, id, item["special"]?.boolValue ?? false))
            }
        }
        let count = (pairs.map(\.1) + added.map(\.1)).max().map { $0 + 1 } ?? 0
        var tokens = [String](repeating: "", count: count)
        for (token, id) in pairs { tokens[id] = token }
        for (token, id, _) in added { tokens[id] = token }
        var merges: [String] = []
        if case .array(let list)? = modelJSON["merges"] {
            for item in list {
                if let text = item.stringValue {
                    merges.append(text)
                } else if case .array(let pair) = item, pair.count == 2, let a = pair[0].stringValue, let b = pair[1].stringValue {
                    merges.append(a + " " + b)
                } else {
                    throw TokenizerError("tokenizer.json: malformed merge")
                }
            }
        }
        // Which family and rule: read from the pre-tokenizer (and normalizer) description.
        let preJSON = root["pre_tokenizer"] ?? .null
        let normalizer = root["normalizer"] ?? .null
        func describes(_ v: JSONValue, _ type: String) -> [JSONValue] {
            if v["type"]?.stringValue == type { return [v] }
            guard case .array(let inner)? = v["pretokenizers"] ?? v["normalizers"] else { return [] }
            return inner.flatMap { describes($0, type) }
        }
        let model: Model
        var pre = "default"
        var prefix = SpacePrefix.never
        if let meta = describes(preJSON, "Metaspace").first {
            model = .sentencePiece
            pre = "spm"
            switch meta["prepend_scheme"]?.stringValue ?? ((meta["add_prefix_space"]?.boolValue ?? true) ? "always" : "never") {
            case "first": prefix = .first
            case "never": prefix = .never
            default: prefix = .always
            }
        } else if modelJSON["byte_fallback"]?.boolValue == true || !describes(normalizer, "Replace").isEmpty {
            model = .sentencePiece
            pre = "spm"
            prefix = describes(normalizer, "Prepend").isEmpty ? .never : .prepend
        } else {
            model = .byteLevel
            pre = "gpt2"
            let splits = describes(preJSON, "Split").compactMap { $0["pattern"]?["Regex"]?.stringValue }
            if let pattern = splits.first {
                guard let name = PreTokenizer.knownPatterns[pattern] else {
                    throw TokenizerError("tokenizer.json: the pre-tokenizer pattern \(pattern) is not one the engine implements")
                }
                pre = name
            } else if !describes(preJSON, "Digits").isEmpty {
                pre = "smollm"
            } else if describes(preJSON, "ByteLevel").first?["use_regex"]?.boolValue == false {
                throw TokenizerError("tokenizer.json: a byte-level pre-tokenizer without a pattern is not supported")
            }
            if describes(preJSON, "ByteLevel").first?["add_prefix_space"]?.boolValue == true {
                throw TokenizerError("tokenizer.json: ByteLevel add_prefix_space is not supported")
            }
        }
        let unknown = modelJSON["unk_token"]?.stringValue.flatMap { u in tokens.firstIndex(of: u) }
        try self.init(
            model: model, tokens: tokens, merges: merges, scores: [], specialIDs: Set(added.filter(\.2).map(\.1)), pre: pre, spacePrefix: prefix,
            unknownID: unknown, bosID: bosToken.flatMap { tokens.firstIndex(of: $0) }, eosID: eosToken.flatMap { tokens.firstIndex(of: $0) })
        // Hugging Face splits every added token out of the text, special or not.
        var matched = specials
        for (content, id, special) in added where !special && !content.isEmpty {
            matched.append((Array(content.unicodeScalars), id))
        }
        specials = matched.sorted { $0.0.count > $1.0.count || ($0.0.count == $1.0.count && $0.1 < $1.1) }
    }

    // MARK: Encoding

    /// Token ids of `text`; control tokens written in the text are recognised unless `parseSpecial` is false.
    public func encode(_ text: String, parseSpecial: Bool = true) -> [Int] {
        var out: [Int] = []
        let scalars = Array(text.unicodeScalars)
        var start = 0
        var i = 0
        var afterSpecial = true
        if parseSpecial && !specials.isEmpty {
            while i < scalars.count {
                if let match = specials.first(where: { s in s.text.count <= scalars.count - i && s.text.elementsEqual(scalars[i..<(i + s.text.count)]) }) {
                    encodeOrdinary(scalars[start..<i], atStart: start == 0, afterSpecial: afterSpecial, into: &out)
                    out.append(match.id)
                    i += match.text.count
                    start = i
                    afterSpecial = true
                } else {
                    i += 1
                }
            }
        }
        encodeOrdinary(scalars[start..<scalars.count], atStart: start == 0, afterSpecial: afterSpecial, into: &out)
        return out
    }

    func encodeOrdinary(_ text: ArraySlice<Unicode.Scalar>, atStart: Bool, afterSpecial: Bool, into out: inout [Int]) {
        guard !text.isEmpty else { return }
        if model == .sentencePiece {
            let prefix: Bool
            switch spacePrefix {
            case .never: prefix = false
            case .first: prefix = atStart && text.first != " "
            case .always: prefix = text.first != " "
            case .prepend: prefix = true
            case .startOrAfterSpecial: prefix = afterSpecial
            }
            var symbols = prefix ? ["▁"] : []
            for c in text { symbols.append(c == " " ? "▁" : String(c)) }
            bpe(&symbols)
            for s in symbols { appendPiece(s, into: &out) }
            return
        }
        for piece in PreTokenizer.split(text, rule: rule) {
            var symbols = ByteLevel.encode(piece)
            bpe(&symbols)
            for s in symbols { appendPiece(s, into: &out) }
        }
    }

    /// A merged symbol's id; unknown symbols fall back to their bytes (`<0xXX>` pieces for SentencePiece, the
    /// byte-level characters otherwise), then to the unknown token.
    private func appendPiece(_ s: String, into out: inout [Int]) {
        if let id = ids[s] {
            out.append(id)
            return
        }
        if model == .sentencePiece {
            for byte in s.utf8 {
                if let id = ids[String(format: "<0x%02X>", byte)] {
                    out.append(id)
                } else if let unknownID {
                    out.append(unknownID)
                }
            }
        } else {
            for c in s.unicodeScalars {
                if let id = ids[String(c)] { out.append(id) } else if let unknownID { out.append(unknownID) }
            }
        }
    }

    /// Merges adjacent symbols until no known pair remains: the lowest merge rank first, or (a SentencePiece
    /// GGUF without merges) the highest-scoring resulting token; ties go to the leftmost pair. One merge at a
    /// time from a priority queue over a linked list, as Hugging Face's tokenizers and llama.cpp do: O(n log n)
    /// in the symbols of a piece, so a long run of letters costs no more than its length. Returns the number of
    /// pairs looked up (the work done).
    @discardableResult
    func bpe(_ symbols: inout [String]) -> Int {
        let n = symbols.count
        guard n > 1 else { return 0 }
        var lookups = 0
        let byScore = mergeRanks.isEmpty && !scores.isEmpty
        func priority(_ a: String, _ b: String) -> Float? {
            if byScore {
                guard let id = ids[a + b] else { return nil }
                return -scores[id]
            }
            return mergeRanks[a + " " + b].map(Float.init)
        }
        var next = Array(1...n), prev = Array(-1..<(n - 1)), version = [Int](repeating: 0, count: n)
        var queue = PairQueue()
        func consider(_ left: Int) {
            let right = next[left]
            lookups += 1
            guard left >= 0, right < n, let p = priority(symbols[left], symbols[right]) else { return }
            queue.push(.init(priority: p, left: left, right: right, leftVersion: version[left], rightVersion: version[right]))
        }
        for i in 0..<(n - 1) { consider(i) }
        while let pair = queue.pop() {
            // Stale: one side has merged since, or the two are no longer neighbours.
            guard next[pair.left] == pair.right, version[pair.left] == pair.leftVersion, version[pair.right] == pair.rightVersion else { continue }
            symbols[pair.left] += symbols[pair.right]
            version[pair.left] += 1
            version[pair.right] = -1
            next[pair.left] = next[pair.right]
            if next[pair.right] < n { prev[next[pair.right]] = pair.left }
            if prev[pair.left] >= 0 { consider(prev[pair.left]) }
            consider(pair.left)
        }
        var merged: [String] = []
        var i = 0
        while i < n {
            merged.append(symbols[i])
            i = next[i]
        }
        symbols = merged
        return lookups
    }

    // MARK: Decoding

    /// The text of `ids`; control tokens are kept unless `skipSpecial`. Invalid UTF-8 (a split character)
    /// becomes U+FFFD, as transformers decodes. SentencePiece text loses the one leading space its prefix added.
    public func decode(_ ids: [Int], skipSpecial: Bool = false) -> String {
        var bytes: [UInt8] = []
        for id in ids where id >= 0 && id < tokens.count {
            if skipSpecial && specialIDs.contains(id) { continue }
            bytes += tokenBytes(id)
        }
        if model == .sentencePiece, spacePrefix != .never, bytes.first == UInt8(ascii: " ") { bytes.removeFirst() }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The bytes token `id` stands for.
    public func tokenBytes(_ id: Int) -> [UInt8] {
        guard id >= 0, id < tokens.count else { return [] }
        let token = tokens[id]
        guard model == .sentencePiece else { return specialIDs.contains(id) ? Array(token.utf8) : ByteLevel.decode(token) }
        let scalars = Array(token.unicodeScalars)
        if scalars.count == 6, token.hasPrefix("<0x"), token.hasSuffix(">"), let byte = UInt8(String(token.dropFirst(3).prefix(2)), radix: 16) {
            return [byte]
        }
        return Array(token.replacingOccurrences(of: "▁", with: " ").utf8)
    }

    /// The spelling of a token (`Ġcapital`, `▁capital`).
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

/// Pre-tokenizer patterns written as scanners. GPT-2's is
/// `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`, written as a scanner.
enum PreTokenizer {
    /// `Split` patterns of Hugging Face tokenizer.json files that these scanners implement, by rule name.
    static let knownPatterns: [String: String] = [
        #"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"#: "gpt2",
        #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#: "llama-bpe",
        #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#: "qwen2",
    ]

    enum Class { case letter, number, space, other }

    static func classify(_ c: Unicode.Scalar) -> Class {
        if c.properties.isWhitespace { return .space }
        switch c.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: return .letter
        case .decimalNumber, .letterNumber, .otherNumber: return .number
        default: return .other
        }
    }

    /// The pre-tokenizer rules implemented, by llama.cpp's `tokenizer.ggml.pre` names.
    enum Rule: Sendable, Hashable {
        /// GPT-2's pattern.
        case gpt2
        /// Every number character alone, then GPT-2's pattern (SmolLM).
        case smollm
        /// Llama 3's pattern (numbers in groups of up to 3); with `maxDigits` 1, Qwen2's.
        case llama3(maxDigits: Int)

        init?(name: String) {
            switch name {
            case "default", "gpt2", "gpt-2": self = .gpt2
            case "smollm": self = .smollm
            case "llama-bpe", "llama3", "llama-v3", "smaug-bpe", "falcon3": self = .llama3(maxDigits: 3)
            case "qwen2", "deepseek-r1-qwen", "megrez": self = .llama3(maxDigits: 1)
            default: return nil
            }
        }
    }

    static func split(_ text: ArraySlice<Unicode.Scalar>, rule: Rule) -> [ArraySlice<Unicode.Scalar>] {
        switch rule {
        case .gpt2: return gpt2(text)
        case .llama3(let maxDigits): return llama3(text, maxDigits: maxDigits)
        case .smollm:
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
    }

    /// Llama 3's pattern as a scanner (Qwen2's is the same with single digits):
    /// `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`.
    static func llama3(_ text: ArraySlice<Unicode.Scalar>, maxDigits: Int) -> [ArraySlice<Unicode.Scalar>] {
        var pieces: [ArraySlice<Unicode.Scalar>] = []
        var i = text.startIndex
        let end = text.endIndex
        func cls(_ j: Int) -> Class? { j < end ? classify(text[j]) : nil }
        func isNewline(_ c: Unicode.Scalar) -> Bool { c == "\r" || c == "\n" }
        func lower(_ j: Int) -> Unicode.Scalar? { j < end ? (text[j].properties.lowercaseMapping.unicodeScalars.first) : nil }
        while i < end {
            let c = text[i]
            // (?i:'s|'t|'re|'ve|'m|'ll|'d)
            if c == "'" {
                if let a = lower(i + 1), let b = lower(i + 2),
                    (a == "r" && b == "e") || (a == "v" && b == "e") || (a == "l" && b == "l")
                {
                    pieces.append(text[i..<(i + 3)])
                    i += 3
                    continue
                }
                if let a = lower(i + 1), a == "s" || a == "t" || a == "m" || a == "d" {
                    pieces.append(text[i..<(i + 2)])
                    i += 2
                    continue
                }
            }
            let kind = classify(c)
            // [^\r\n\p{L}\p{N}]?\p{L}+
            if kind == .letter || (kind != .number && !isNewline(c) && cls(i + 1) == .letter) {
                var j = i + 1
                while j < end, classify(text[j]) == .letter { j += 1 }
                pieces.append(text[i..<j])
                i = j
                continue
            }
            // \p{N}{1,maxDigits}
            if kind == .number {
                var j = i + 1
                while j < end, j - i < maxDigits, classify(text[j]) == .number { j += 1 }
                pieces.append(text[i..<j])
                i = j
                continue
            }
            // ` ?[^\s\p{L}\p{N}]+[\r\n]*`
            let otherStart = c == " " && cls(i + 1) == .other ? i + 1 : i
            if cls(otherStart) == .other {
                var j = otherStart
                while j < end, classify(text[j]) == .other { j += 1 }
                while j < end, isNewline(text[j]) { j += 1 }
                pieces.append(text[i..<j])
                i = j
                continue
            }
            // Whitespace. \s*[\r\n]+ ends after the run's last newline; else \s+(?!\S) keeps the last space
            // for the next piece; else \s+.
            var k = i
            while k < end, classify(text[k]) == .space { k += 1 }
            if let lastNewline = (i..<k).last(where: { isNewline(text[$0]) }) {
                pieces.append(text[i...lastNewline])
                i = lastNewline + 1
                continue
            }
            let j = k == end || k - i < 2 ? k : k - 1
            pieces.append(text[i..<j])
            i = j
        }
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

/// A binary min-heap of candidate merges ordered by priority, then by position (leftmost first).
struct PairQueue {
    /// A possible merge of the symbols at `left` and `right`, valid while both keep their versions.
    struct Pair {
        var priority: Float
        var left: Int
        var right: Int
        var leftVersion: Int
        var rightVersion: Int

        func precedes(_ other: Pair) -> Bool { priority < other.priority || (priority == other.priority && left < other.left) }
    }

    private var heap: [Pair] = []

    /// Adds a candidate.
    mutating func push(_ pair: Pair) {
        heap.append(pair)
        var child = heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard heap[child].precedes(heap[parent]) else { break }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    /// Removes and returns the first candidate, or nil when empty.
    mutating func pop() -> Pair? {
        guard let first = heap.first else { return nil }
        let last = heap.removeLast()
        if !heap.isEmpty {
            heap[0] = last
            var parent = 0
            while true {
                let left = 2 * parent + 1, right = left + 1
                var best = parent
                if left < heap.count, heap[left].precedes(heap[best]) { best = left }
                if right < heap.count, heap[right].precedes(heap[best]) { best = right }
                if best == parent { break }
                heap.swapAt(parent, best)
                parent = best
            }
        }
        return first
    }
}
