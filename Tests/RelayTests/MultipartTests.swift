import CrynuxSDK
import Foundation
import MultipartKit
import NIOCore
import Testing
@testable import Relay

/// The relay's own multipart parser (RFC 7578): what MultipartKit writes it reads back, malformed bodies are errors,
/// and the fuzzer's finds stay fixed.
@Suite struct MultipartTests {
    static func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }

    @Test func whatMultipartKitWritesIsReadBackPartForPart() throws {
        // Binary bodies that contain the boundary text without the line break before it, empty bodies, many files.
        let png: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + Array("--b0undary not a delimiter \r\n-".utf8) + [0xFF, 0x00, 0x80]
        let files: [[UInt8]] = [png, [], Array("{\"a\":1}".utf8), [UInt8](repeating: 0x2D, count: 300)]
        var parts = [MultipartPart(headers: ["Content-Disposition": "form-data; name=\"timestamp\""], body: "1800000000")]
        for (i, f) in files.enumerated() {
            parts.append(MultipartPart(
                headers: ["Content-Disposition": "form-data; name=\"files\"; filename=\"\(i).png\"", "Content-Type": "image/png"], body: ByteBuffer(bytes: f)))
        }
        var buffer = ByteBuffer()
        try MultipartSerializer().serialize(parts: parts, boundary: "b0undary", into: &buffer)
        let read = try FormData.multipart(Array(buffer.readableBytesView), boundary: "b0undary")
        #expect(read.count == 5 && read[0].name == "timestamp" && read[0].filename == nil && read[0].body == Self.bytes("1800000000"))
        #expect(read.dropFirst().map(\.body) == files && read.dropFirst().map(\.filename) == ["0.png", "1.png", "2.png", "3.png"])
        #expect(read.dropFirst().allSatisfy { $0.name == "files" })
    }

    @Test func aPreambleAndTransportPaddingAreSkipped() throws {
        let body = "ignored preamble\r\n--x  \r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n--x\r\n\r\nno headers\r\n--x--\r\nepilogue"
        let read = try FormData.multipart(Self.bytes(body), boundary: "x")
        #expect(read.map(\.name) == ["a", ""] && read.map(\.body) == [Self.bytes("1"), Self.bytes("no headers")])
    }

    @Test func malformedBodiesAreValidationErrors() {
        let bad = [
            "", "--x--", "no delimiter at all", "--x\r\nContent-Disposition: form-data; name=a\r\n\r\nunterminated",
            "--x\r\nno colon here\r\n\r\nbody\r\n--x--", "--x\r\n: empty name\r\n\r\nbody\r\n--x--", "--xgarbage\r\n\r\n\r\n--x--",
            "--x\r\nContent-Disposition: form-data; name=a\r\nheaders never end",
        ]
        for body in bad {
            #expect(throws: RelayError.self, "\(body.debugDescription)") { _ = try FormData.multipart(Self.bytes(body), boundary: "x") }
        }
        let many = String(repeating: "--x\r\n\r\n\r\n", count: 301) + "--x--"
        #expect(throws: RelayError.validation("body", "more than 300 multipart parts")) { _ = try FormData.multipart(Self.bytes(many), boundary: "x") }
    }

    /// libFuzzer's first find (FuzzForms, 2026-12-05): a header name byte ≥ 0x80 made MultipartKit's parser index
    /// past its 128-entry table and trap, stopping the relay on one request. Now a 400.
    @Test func aHeaderNameByteAbove127IsAnErrorNotATrap() throws {
        let input = Hex.decode(
            "016d756c7469706172742f016d756c7469726170742f666f726d2d646174613b20626f756e646172793d2278797a220a" +
            "2d2d78797a0d0a436f6e74656e8cd2446973706f736974696f6e3a20666f726d2d646174613b206e616d653d22666f72" +
            "6d2d6764256174613b20"
        )!
        // The fuzz target's framing: byte 0 chooses multipart, the first line is the Content-Type.
        let rest = input.dropFirst()
        let newline = rest.firstIndex(of: 0x0A)!
        let boundary = try #require(FormData.boundary(String(decoding: rest[..<newline], as: UTF8.self)))
        #expect(throws: RelayError.self) { _ = try FormData.multipart(Array(rest[(newline + 1)...]), boundary: boundary) }
        let high = "--x\r\nCont\u{e9}nt-Disposition: form-data; name=a\r\n\r\n1\r\n--x--"
        #expect(throws: RelayError.self) { _ = try FormData.multipart(Self.bytes(high), boundary: "x") }
    }
}
