import CrynuxSDK

/// PNG bytes → pixels and their perceptual hash: errors, never a crash.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzPNG(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard let image = try? PNGImage.decode(Array(UnsafeBufferPointer(start: data, count: size))) else { return 0 }
    if image.width * image.height <= 1 << 20 { _ = PerceptionHash.hash(image) }
    return 0
}
