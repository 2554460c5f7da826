import CrynuxSDK

/// Task arguments as a node receives them → the three task types' parsers and checks: errors, never a crash.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTaskArgs(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    if let args = try? GPTTaskArgs(json: bytes) { _ = try? args.validate() }
    if let args = try? SDTaskArgs(json: bytes) { _ = try? args.withDefaults().validate() }
    if let args = try? FinetuneLoraTaskArgs(json: bytes) { _ = try? args.validate() }
    return 0
}
