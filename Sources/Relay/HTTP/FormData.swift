import CrynuxSDK
import Foundation

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

    /// The parts of a multipart body (RFC 7578 / RFC 2046 §5.1.1): a preamble, then parts each opened by
    /// `--boundary` and a line break, headers up to an empty line, the body up to `CRLF--boundary`, and the closing
    /// `--boundary--`. A body without its closing delimiter, a part without its end, a header that is not
    /// `name: value` with an ASCII token name, or more than `maxParts` parts is malformed. Linear in the body: every
    /// byte is looked at a bounded number of times. (MultipartKit's parser traps on a header name byte ≥ 0x80, found
    /// by fuzzing: one request could stop the relay, so the relay parses multipart itself.)
    static func multipart(_ body: [UInt8], boundary: String, maxParts: Int = 300) throws(RelayError) -> [Part] {
        guard !boundary.isEmpty, boundary.utf8.count <= 200 else { throw .validation("body", "malformed multipart boundary") }
        let malformed = RelayError.validation("body", "malformed multipart body")
        let dash = Array("--".utf8) + Array(boundary.utf8)
        let delimiter = Array("\r\n".utf8) + dash
        // The first delimiter: at the very start, or after the preamble's line break.
        var i: Int
        if body.starts(with: dash) {
            i = dash.count
        } else if let found = Self.find(delimiter, in: body, from: 0) {
            i = found + delimiter.count
        } else {
            throw malformed
        }
        var parts: [Part] = []
        while true {
            // After a delimiter: "--" closes the body; otherwise optional spaces, then the line break.
            if body[i...].starts(with: Array("--".utf8)) {
                guard !parts.isEmpty else { throw malformed }
                return parts
            }
            while i < body.count, body[i] == 0x20 || body[i] == 0x09 { i += 1 }
            if body[i...].starts(with: [0x0D, 0x0A]) { i += 2 } else if body[i...].starts(with: [0x0A]) { i += 1 } else { throw malformed }
            guard parts.count < maxParts else { throw .validation("body", "more than \(maxParts) multipart parts") }
            // Headers, up to the empty line.
            guard let headerEnd = Self.find([0x0D, 0x0A, 0x0D, 0x0A], in: body, from: i - 2) else { throw malformed }
            var name = "", filename: String?
            if headerEnd > i {
                for line in body[i..<headerEnd].split(separator: 0x0A, omittingEmptySubsequences: false) {
                    let text = line.last == 0x0D ? line.dropLast() : line[...]
                    guard let colon = text.firstIndex(of: UInt8(ascii: ":")), colon > text.startIndex,
                        text[..<colon].allSatisfy({ $0 > 0x20 && $0 < 0x7F })
                    else { throw malformed }
                    let field = String(decoding: text[..<colon], as: UTF8.self).lowercased()
                    if field == "content-disposition" {
                        let parameters = Self.dispositionParameters(
                            String(decoding: text[text.index(after: colon)...], as: UTF8.self).trimmingCharacters(in: .whitespaces))
                        name = parameters["name"] ?? ""
                        filename = parameters["filename"]
                    }
                }
            }
            let bodyStart = headerEnd + 4
            guard let bodyEnd = Self.find(delimiter, in: body, from: bodyStart) else { throw malformed }
            parts.append(Part(name: name, filename: filename, body: Array(body[bodyStart..<bodyEnd])))
            i = bodyEnd + delimiter.count
        }
    }

    /// The first index at or after `start` where `needle` occurs in `haystack`.
    static func find(_ needle: [UInt8], in haystack: [UInt8], from start: Int) -> Int? {
        guard let first = needle.first, needle.count <= haystack.count else { return nil }
        var i = max(start, 0)
        let last = haystack.count - needle.count
        while i <= last {
            guard let hit = haystack[i...last].firstIndex(of: first) else { return nil }
            if haystack[hit..<(hit + needle.count)].elementsEqual(needle) { return hit }
            i = hit + 1
        }
        return nil
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
