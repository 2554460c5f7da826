import CrynuxSDK

/// A keystore file → its fields (the key derivation, slow by design, is not run): errors, never a crash.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzKeystore(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    _ = try? Keystore(json: UnsafeBufferPointer(start: data, count: size))
    return 0
}
