@testable import CrynuxSDK
@testable import Relay

/// Relay request bodies: a urlencoded form, or (first byte odd) a multipart body whose first line is the
/// Content-Type header; or (first byte's two low bits set) a token stream's server-sent events, fed to the SDK's
/// parser in pieces whose sizes the following bytes choose: errors, never a crash.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzForms(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let first = bytes.first else { return 0 }
    if first & 3 == 3 {
        var parser = SSEParser()
        var rest = bytes.dropFirst()
        while !rest.isEmpty {
            let size = min(rest.count, Int(rest[rest.startIndex] % 17) + 1)
            guard (try? parser.feed(Array(rest.prefix(size)))) != nil else { return 0 }
            rest = rest.dropFirst(size)
        }
        return 0
    }
    if first & 1 == 0 {
        _ = FormData.urlencoded(String(decoding: bytes.dropFirst(), as: UTF8.self))
        return 0
    }
    let rest = bytes.dropFirst()
    let newline = rest.firstIndex(of: 0x0A) ?? rest.endIndex
    let header = String(decoding: rest[rest.startIndex..<newline], as: UTF8.self)
    guard let boundary = FormData.boundary(header) else { return 0 }
    let body = newline < rest.endIndex ? Array(rest[rest.index(after: newline)...]) : []
    _ = try? FormData.multipart(body, boundary: boundary)
    return 0
}
