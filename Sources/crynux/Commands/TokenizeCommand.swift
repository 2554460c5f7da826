import ArgumentParser
import CrynuxSDK
import Foundation
import NodeKit

struct Tokenize: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Token ids of TEXT with a GGUF model's tokenizer (or a Hugging Face tokenizer.json).")
    @Option(help: "The .gguf file.") var model: String?
    @Option(name: .customLong("tokenizer-json"), help: "A Hugging Face tokenizer.json instead of a GGUF.") var tokenizerJSON: String?
    @Flag(help: "Print a JSON object with ids and token spellings.") var json = false
    @Flag(name: .customLong("no-parse-special"), help: "Treat control tokens in TEXT as plain text.") var noParseSpecial = false
    @Argument(help: "The text.") var text: String
    func run() throws {
        guard (model == nil) != (tokenizerJSON == nil) else { throw CLIError("give exactly one of --model and --tokenizer-json") }
        let tokenizer: BPETokenizer
        if let model {
            do { tokenizer = try BPETokenizer(gguf: try GGUFFile(path: model)) } catch { throw CLIError("\(model): \(error)") }
        } else {
            let path = tokenizerJSON!
            guard let data = FileManager.default.contents(atPath: path), data.count <= 256 << 20 else { throw CLIError("cannot read \(path)") }
            do { tokenizer = try BPETokenizer(tokenizerJSON: Array(data)) } catch { throw CLIError("\(path): \(error)") }
        }
        let ids = tokenizer.encode(text, parseSpecial: !noParseSpecial)
        if json {
            emit(CanonicalJSON.encode(.object([
                JSONMember("ids", .array(ids.map { .integer($0) })),
                JSONMember("tokens", .array(ids.map { .string(tokenizer.token($0) ?? "") })),
            ])))
        } else {
            emit(ids.map(String.init).joined(separator: " "))
        }
    }
}
