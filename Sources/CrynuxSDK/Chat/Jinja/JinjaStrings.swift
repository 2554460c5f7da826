import Foundation

/// Substring search on UTF-8 bytes: a byte match of valid UTF-8 is a match of Unicode scalars, which is
/// what Python compares, and it avoids the generic (slow) collection searchers.
enum UTF8Search {
    /// Byte offsets of the non-overlapping occurrences of `needle` in `haystack`, left to right, at most `limit`.
    static func occurrences(of needle: String, in haystack: String, limit: Int = .max) -> [Int] {
        var h = haystack
        var n = needle
        return h.withUTF8 { hb in
            n.withUTF8 { nb in
                var found: [Int] = []
                guard nb.count > 0, nb.count <= hb.count, limit > 0 else { return found }
                let first = nb[0]
                var i = 0
                let last = hb.count - nb.count
                while i <= last {
                    if hb[i] == first && (nb.count == 1 || memcmp(hb.baseAddress! + i, nb.baseAddress!, nb.count) == 0) {
                        found.append(i)
                        if found.count >= limit { break }
                        i += nb.count
                    } else {
                        i += 1
                    }
                }
                return found
            }
        }
    }

    /// Whether `needle` occurs in `haystack` (the empty string always does).
    static func contains(_ needle: String, in haystack: String) -> Bool {
        needle.isEmpty || !occurrences(of: needle, in: haystack, limit: 1).isEmpty
    }

    /// `haystack` split at byte offsets into pieces, skipping `gap` bytes after each offset.
    static func pieces(of haystack: String, at offsets: [Int], gap: Int) -> [String] {
        var h = haystack
        return h.withUTF8 { hb in
            var out: [String] = []
            var start = 0
            for o in offsets {
                out.append(String(decoding: UnsafeBufferPointer(rebasing: hb[start..<o]), as: UTF8.self))
                start = o + gap
            }
            out.append(String(decoding: UnsafeBufferPointer(rebasing: hb[start..<hb.count]), as: UTF8.self))
            return out
        }
    }
}
