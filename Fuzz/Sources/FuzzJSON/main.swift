import CrynuxSDK

/// JSON text → `JSONValue`: never a crash, and what it writes back parses again to the same value.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzJSON(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = UnsafeBufferPointer(start: data, count: size)
    guard let value = try? JSONValue.parse(bytes) else { return 0 }
    let text = value.compactText
    guard let again = try? JSONValue.parse(text) else { fatalError("its own output does not parse: \(text.prefix(200))") }
    precondition(again.compactText == text, "the written form is not stable")
    _ = CanonicalJSON.encode(value)
    return 0
}
