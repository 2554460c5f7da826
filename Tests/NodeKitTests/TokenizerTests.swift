import Foundation
import Testing
@testable import CrynuxSDK
@testable import NodeKit
import TestSupport

extension BundledModel {
    /// The bundled model's GGUF file, or a clear error when `crynux model fetch` (run by `make test`) has not run.
    static func load() throws -> GGUFFile {
        guard isPresent else { throw FixtureMissing(message: "the bundled model is not at \(path): run `crynux model fetch` (make test does)") }
        return try GGUFFile(path: path)
    }
}

struct FixtureMissing: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}

struct TokenizerCase: Sendable, CustomTestStringConvertible {
    var value: JSONValue
    var testDescription: String { "\(value["id"]?.stringValue ?? "") \(value["category"]?.stringValue ?? "")" }

    static let root: JSONValue? = {
        guard let url = Bundle.module.url(forResource: "tokenizer-smollm2", withExtension: "json", subdirectory: "Fixtures"),
            let data = try? Data(contentsOf: url)
        else { return nil }
        return try? JSONValue.parse(Array(data))
    }()

    static func cases(_ key: String) -> [TokenizerCase] {
        guard case .array(let items)? = root?[key] else { return [] }
        return items.map { TokenizerCase(value: $0) }
    }
}

func intArray(_ v: JSONValue?) -> [Int] {
    guard case .array(let items)? = v else { return [] }
    return items.compactMap { $0.doubleValue.map { Int($0) } }
}

@Suite struct TokenizerTests {
    static let tokenizer: BPETokenizer? = try? BPETokenizer(gguf: BundledModel.load())

    @Test func modelAndVectorsArePresent() throws {
        _ = try BundledModel.load()
        #expect(TokenizerCase.cases("cases").count == 52)
        #expect(Self.tokenizer?.tokens.count == 49152 && Self.tokenizer?.specialIDs.count == 17)
    }

    @Test(arguments: TokenizerCase.cases("cases"))
    func encodesAsTransformers(_ c: TokenizerCase) throws {
        let tokenizer = try #require(TokenizerTests.tokenizer)
        let text = c.value["text"]?.stringValue ?? ""
        let ids = tokenizer.encode(text)
        #expect(ids == intArray(c.value["ids"]))
        if case .array(let spellings)? = c.value["tokens"] {
            #expect(ids.map { tokenizer.token($0) ?? "" } == spellings.compactMap(\.stringValue))
        }
        #expect(tokenizer.decode(ids) == c.value["decoded"]?.stringValue)
        if c.value["ids_special_as_text"] != nil {
            #expect(tokenizer.encode(text, parseSpecial: false) == intArray(c.value["ids_special_as_text"]))
        }
    }

    @Test(arguments: TokenizerCase.cases("decode_cases"))
    func decodesAsTransformers(_ c: TokenizerCase) throws {
        let tokenizer = try #require(TokenizerTests.tokenizer)
        let skip = { if case .bool(true)? = c.value["skip_special_tokens"] { return true } else { return false } }()
        #expect(tokenizer.decode(intArray(c.value["ids"]), skipSpecial: skip) == c.value["text"]?.stringValue)
    }
}

@Suite struct StreamingDetokenizerTests {
    @Test func holdsBackSplitCharactersAndEndsLikeTheFullDecode() throws {
        #expect(StreamingDetokenizer.incompleteSuffix(Array("é".utf8).dropLast().map { $0 }) == 1)
        #expect(StreamingDetokenizer.incompleteSuffix(Array("日".utf8).dropLast().map { $0 }) == 2)
        #expect(StreamingDetokenizer.incompleteSuffix(Array("a日".utf8)) == 0)
        #expect(StreamingDetokenizer.incompleteSuffix(Array("🙂".utf8).dropLast().map { $0 }) == 3)
        #expect(StreamingDetokenizer.incompleteSuffix([0x80, 0x80]) == 0)  // stray continuation bytes are not held
        let tokenizer = try BPETokenizer(gguf: GGUFFile(path: BundledModel.path))
        for text in ["Bonjour, ça va? 日本語 🙂 done", "<|im_start|>user\nhi<|im_end|>"] {
            let ids = tokenizer.encode(text)
            var detokenizer = StreamingDetokenizer(tokenizer: tokenizer)
            var streamed = ""
            for id in ids { streamed += detokenizer.append(id) }
            streamed += detokenizer.flush()
            #expect(streamed == tokenizer.decode(ids, skipSpecial: true))
        }
    }
}

/// Fixtures/tokenizers/*.json: tokenizers trained with Hugging Face `tokenizers` 0.23.3 for each pre-tokenizer
/// the engine implements, and the ids that library gives (scripts/gen-tokenizer-fixtures.py).
struct TokenizerJSONCase: Sendable, CustomTestStringConvertible {
    var flavour: String
    var testDescription: String { flavour }

    var document: JSONValue? {
        guard let url = Bundle.module.url(forResource: flavour, withExtension: "json", subdirectory: "Fixtures/tokenizers"),
            let data = try? Data(contentsOf: url)
        else { return nil }
        return try? JSONValue.parse(Array(data))
    }

    static let all = ["gpt2", "llama-bpe", "qwen2", "spm"].map { TokenizerJSONCase(flavour: $0) }
}

@Suite struct TokenizerJSONTests {
    @Test(arguments: TokenizerJSONCase.all)
    func encodesAndDecodesAsHuggingFace(_ c: TokenizerJSONCase) throws {
        let document = try #require(c.document)
        let json = try #require(document["tokenizer"])
        let tokenizer = try BPETokenizer(tokenizerJSON: Array(json.compactText.utf8))
        #expect(tokenizer.model == (c.flavour == "spm" ? .sentencePiece : .byteLevel))
        #expect(tokenizer.pre == (c.flavour == "spm" ? "spm" : c.flavour))
        guard case .array(let cases)? = document["cases"] else { Issue.record("no cases"); return }
        #expect(cases.count == 15)
        for probe in cases {
            let text = try #require(probe["text"]?.stringValue)
            let ids = intArray(probe["ids"])
            #expect(tokenizer.encode(text) == ids, "\(c.flavour): \(text.debugDescription)")
            #expect(tokenizer.decode(ids) == probe["decoded"]?.stringValue, "\(c.flavour) decode: \(text.debugDescription)")
            var stream = StreamingDetokenizer(tokenizer: tokenizer)
            let streamed = ids.map { stream.append($0) }.joined() + stream.flush()
            #expect(streamed == tokenizer.decode(ids, skipSpecial: true), "\(c.flavour) streaming: \(text.debugDescription)")
        }
    }

    @Test func aSentencePieceGGUFVocabularyMergesByScore() throws {
        // The same vocabulary as a llama.cpp SentencePiece GGUF would carry it: no merges, a score per token
        // (higher merges first; here minus the rank of the merge that made the token).
        let document = try #require(TokenizerJSONCase(flavour: "spm").document)
        let json = try #require(document["tokenizer"])
        let reference = try BPETokenizer(tokenizerJSON: Array(json.compactText.utf8))
        var scores = [Float](repeating: -1e9, count: reference.tokens.count)
        guard case .array(let merges)? = json["model"]?["merges"] else { Issue.record("no merges"); return }
        for (rank, merge) in merges.enumerated() {
            guard case .array(let pair) = merge, let a = pair[0].stringValue, let b = pair[1].stringValue, let id = reference.id(of: a + b) else { continue }
            scores[id] = max(scores[id], -Float(rank))
        }
        let gguf = try BPETokenizer(
            model: .sentencePiece, tokens: reference.tokens, merges: [], scores: scores, specialIDs: reference.specialIDs, pre: "spm",
            spacePrefix: .startOrAfterSpecial, unknownID: 0, bosID: 1, eosID: 2)
        for text in ["Hello world", "It's 2026; they'RE here", "unknown ☃ snowman", "Ünïcödé naïve café"] {
            #expect(gguf.encode(text) == reference.encode(text), "\(text)")
            #expect(gguf.decode(gguf.encode(text)) == text)
        }
        // llama.cpp's rule: the prefix comes back after a control token.
        let after = gguf.encode("<|im_start|>hi")
        #expect(after.count >= 2 && gguf.token(after[1])?.hasPrefix("▁") == true)
    }

    @Test func unsupportedTokenizersAreClearErrors() {
        #expect(throws: TokenizerError.self) { _ = try BPETokenizer(tokenizerJSON: Array("not json".utf8)) }
        #expect(throws: TokenizerError.self) { _ = try BPETokenizer(tokenizerJSON: Array(#"{"model": {"type": "Unigram", "vocab": []}}"#.utf8)) }
        let odd = #"{"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}, "pre_tokenizer": {"type": "Split", "pattern": {"Regex": "\\w+"}}}"#
        #expect(throws: TokenizerError.self) { _ = try BPETokenizer(tokenizerJSON: Array(odd.utf8)) }
    }

    /// The merge loop the first wave shipped (GPT-2's: find the best pair, merge every occurrence, rescan), which
    /// matched transformers on every vector but is quadratic: the reference for the queue-based merge.
    static func rescanningBPE(_ symbols: [String], ranks: [String: Int]) -> [String] {
        var symbols = symbols
        while symbols.count > 1 {
            var best = Int.max, bestIndex = -1
            for i in 0..<(symbols.count - 1) {
                if let r = ranks[symbols[i] + " " + symbols[i + 1]], r < best { (best, bestIndex) = (r, i) }
            }
            guard bestIndex >= 0 else { break }
            let (left, right) = (symbols[bestIndex], symbols[bestIndex + 1])
            var merged: [String] = [], i = 0
            while i < symbols.count {
                if i >= bestIndex, i < symbols.count - 1, symbols[i] == left, symbols[i + 1] == right {
                    merged.append(left + right)
                    i += 2
                } else {
                    merged.append(symbols[i])
                    i += 1
                }
            }
            symbols = merged
        }
        return symbols
    }

    @Test func theQueueMergeAgreesWithTheRescanningMergeOnRandomWords() throws {
        let tokenizer = try #require(TokenizerTests.tokenizer)
        var generator = SystemRandomNumberGenerator()
        let alphabet = Array("aaabbnnst eé".unicodeScalars)
        for _ in 0..<300 {
            let word = String(String.UnicodeScalarView((0..<Int.random(in: 1...40, using: &generator)).map { _ in alphabet.randomElement(using: &generator)! }))
            let symbols = ByteLevel.encode(ArraySlice(word.unicodeScalars))
            var merged = symbols
            tokenizer.bpe(&merged)
            #expect(merged == Self.rescanningBPE(symbols, ranks: tokenizer.mergeRanks), "\(word)")
        }
    }

    /// `count` lowercase letters from a fixed linear congruential sequence: one pre-tokenizer piece that needs
    /// thousands of different merges (a run of one letter needs only a few, each applied everywhere at once).
    static func letters(_ count: Int) -> String {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        return String(String.UnicodeScalarView((0..<count).map { _ in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Unicode.Scalar(UInt8(ascii: "a") + UInt8((state >> 33) % 26))
        }))
    }

    @Test func aLongRunOfLettersCostsWorkLinearInItsLength() throws {
        let tokenizer = try #require(TokenizerTests.tokenizer)
        func lookups(_ n: Int) -> Int {
            var symbols = ByteLevel.encode(ArraySlice(Self.letters(n).unicodeScalars))
            return tokenizer.bpe(&symbols)
        }
        // Every merge looks up at most two new pairs after the first pass: at most 3n lookups at any length (the
        // rescanning merge rescanned the whole run after each kind of merge: thousands of passes).
        let short = lookups(4_000), long = lookups(64_000)
        #expect(short <= 3 * 4_000 && long <= 3 * 64_000, "\(short) \(long)")
        // And the encoder as a whole takes a megabyte of letters in one piece.
        #expect(tokenizer.encode(Self.letters(1 << 20)).count > 100_000)
    }
}
