import CrynuxSDK
import Foundation
import MultipartKit

/// Form bodies: `application/x-www-form-urlencoded` and `multipart/form-data`.
enum FormData {
    /// Pairs in order (repeated names kept); `+` is a space, `%XX` a byte.
    static func urlencoded(_ text: String) -> [(String, String)] {
        text.split(separator: "&", omittingEmptySubsequences: true).map { pair in
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            return (decode(parts[0]), parts.count > 1 ? decode(parts[1]) : "")
        }
    }

    static func decode(_ s: Substring) -> String {
        var bytes: [UInt8] = []
        var i = s.utf8.startIndex
        let u = s.utf8
        while i < u.endIndex {
            let c = u[i]
            if c == UInt8(ascii: "+") {
                bytes.append(0x20)
            } else if c == UInt8(ascii: "%"), let j = u.index(i, offsetBy: 2, limitedBy: u.endIndex), j < u.endIndex,
                let v = UInt8(String(decoding: u[u.index(after: i)...j], as: UTF8.self), radix: 16)
            {
                bytes.append(v)
                i = j
            } else {
                bytes.append(c)
            }
            i = u.index(after: i)
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    static func boundary(_ contentType: String) -> String? {
        for parameter in contentType.split(separator: ";").dropFirst() {
            let kv = parameter.trimmingCharacters(in: .whitespaces).split(separator: "=", maxSplits: 1)
            if kv.count == 2, kv[0].lowercased() == "boundary" {
                let value = String(kv[1])
                return value.hasPrefix("\"") && value.hasSuffix("\"") && value.count >= 2 ? String(value.dropFirst().dropLast()) : value
            }
        }
        return nil
    }

    /// One part of a multipart body.
    struct Part {
        var name: String
        var filename: String?
        var body: [UInt8]
    }

    /// The parts of a multipart body (RFC 7578), parsed by MultipartKit; a body without a closing delimiter, a part
    /// without its end, or more than `maxParts` parts is malformed.
    static func multipart(_ body: [UInt8], boundary: String, maxParts: Int = 300) throws(RelayError) -> [Part] {
        guard !boundary.isEmpty, boundary.utf8.count <= 200 else { throw .validation("body", "malformed multipart boundary") }
        let parser = MultipartParser(boundary: boundary)
        var parts: [Part] = []
        var disposition: String?
        var bytes: [UInt8] = []
        var open = false
        var tooMany = false
        parser.onHeader = { name, value in
            open = true
            if name.lowercased() == "content-disposition" { disposition = value }
        }
        parser.onBody = { chunk in
            open = true
            bytes += chunk.readableBytesView
        }
        parser.onPartComplete = {
            let parameters = disposition.map(Self.dispositionParameters) ?? [:]
            if parts.count < maxParts {
                parts.append(Part(name: parameters["name"] ?? "", filename: parameters["filename"], body: bytes))
            } else {
                tooMany = true
            }
            disposition = nil
            bytes = []
            open = false
        }
        do { try parser.execute(body) } catch { throw .validation("body", "malformed multipart body") }
        guard !tooMany else { throw .validation("body", "more than \(maxParts) multipart parts") }
        guard !parts.isEmpty, !open else { throw .validation("body", "malformed multipart body") }
        return parts
    }

    /// The parameters of a `Content-Disposition` value (`form-data; name="files"; filename="0.json"`), quoted values
    /// unquoted (`\"` and `\\` unescaped); names are matched case-insensitively, as RFC 7578 asks.
    static func dispositionParameters(_ value: String) -> [String: String] {
        var result: [String: String] = [:]
        var chars = Substring(value)
        // Skip the disposition type.
        guard let semicolon = chars.firstIndex(of: ";") else { return result }
        chars = chars[chars.index(after: semicolon)...]
        while !chars.isEmpty {
            chars = chars.drop { $0 == " " || $0 == "\t" }
            guard let equals = chars.firstIndex(of: "=") else { break }
            let name = chars[..<equals].trimmingCharacters(in: .whitespaces).lowercased()
            chars = chars[chars.index(after: equals)...]
            var text = ""
            if chars.first == "\"" {
                chars = chars.dropFirst()
                var escaped = false
                var closed = false
                while let c = chars.first {
                    chars = chars.dropFirst()
                    if escaped {
                        text.append(c)
                        escaped = false
                    } else if c == "\\" {
                        escaped = true
                    } else if c == "\"" {
                        closed = true
                        break
                    } else {
                        text.append(c)
                    }
                }
                if !closed { break }
                if let next = chars.firstIndex(of: ";") { chars = chars[chars.index(after: next)...] } else { chars = "" }
            } else {
                let end = chars.firstIndex(of: ";") ?? chars.endIndex
                text = chars[..<end].trimmingCharacters(in: .whitespaces)
                chars = end < chars.endIndex ? chars[chars.index(after: end)...] : ""
            }
            if result[name] == nil { result[name] = text }
        }
        return result
    }
}
