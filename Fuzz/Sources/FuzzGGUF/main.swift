import NodeKit

/// A GGUF file's bytes → its metadata and tensor table, then the tokenizer it describes: errors, never a crash.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzGGUF(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard let file = try? GGUFFile(bytes: Array(UnsafeBufferPointer(start: data, count: size))) else { return 0 }
    if let tokenizer = try? BPETokenizer(gguf: file) {
        _ = tokenizer.decode(tokenizer.encode("Hello, world! 123 héllo <|im_start|>"))
    }
    return 0
}
