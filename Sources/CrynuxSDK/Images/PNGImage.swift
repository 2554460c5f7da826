import CCrynuxZlib
import Foundation

/// A decoded image in the pixel layout Go's `image/png` decoder picks for the file, which decides how the
/// relay's pHash resizes and converts it: 8-bit RGB → `rgba`, 8-bit RGBA or grey+alpha (or any 8-bit with a
/// `tRNS` key) → `nrgba`, 8-bit grey → `gray`, the 16-bit forms likewise, palettes → `paletted`.
public struct PNGImage: Sendable, Hashable {
    /// How the samples are stored.
    public enum Layout: Sendable, Hashable {
        /// 4 bytes per pixel, alpha-premultiplied (Go `*image.RGBA`).
        case rgba
        /// 4 bytes per pixel, not premultiplied (Go `*image.NRGBA`).
        case nrgba
        /// 1 byte per pixel (Go `*image.Gray`).
        case gray
        /// 4 × 16-bit samples per pixel, premultiplied (Go `*image.RGBA64`).
        case rgba64
        /// 4 × 16-bit samples per pixel, not premultiplied (Go `*image.NRGBA64`).
        case nrgba64
        /// 1 × 16-bit sample per pixel (Go `*image.Gray16`).
        case gray16
        /// 1 byte index per pixel into `palette` (Go `*image.Paletted`).
        case paletted
    }

    /// A palette entry: opaque (`color.RGBA`) or with a `tRNS` alpha (`color.NRGBA`).
    public struct PaletteColor: Sendable, Hashable {
        /// Red, green, blue, alpha (8-bit).
        public var r, g, b, a: UInt8
        /// Whether the colour came with a `tRNS` alpha (so it is not premultiplied).
        public var straightAlpha: Bool
    }

    /// Width in pixels.
    public let width: Int
    /// Height in pixels.
    public let height: Int
    /// The layout.
    public let layout: Layout
    /// 8-bit samples (rgba, nrgba, gray, paletted indices); empty for the 16-bit layouts.
    public let bytes: [UInt8]
    /// 16-bit samples (rgba64, nrgba64, gray16); empty for the 8-bit layouts.
    public let words: [UInt16]
    /// The palette (paletted only), extended with opaque black up to the largest index used.
    public let palette: [PaletteColor]

    /// Channels per pixel in `bytes`/`words`.
    var channels: Int {
        switch layout {
        case .rgba, .nrgba, .rgba64, .nrgba64: 4
        default: 1
        }
    }

    /// The pixel's colour as Go's `color.Color.RGBA()` returns it: 16-bit, alpha-premultiplied.
    public func rgba16(_ x: Int, _ y: Int) -> (r: UInt32, g: UInt32, b: UInt32, a: UInt32) {
        let i = (y * width + x) * channels
        func straight8(_ r: UInt8, _ g: UInt8, _ b: UInt8, _ a: UInt8) -> (UInt32, UInt32, UInt32, UInt32) {
            let a32 = UInt32(a)
            func channel(_ v: UInt8) -> UInt32 { (UInt32(v) | UInt32(v) << 8) * a32 / 0xff }
            return (channel(r), channel(g), channel(b), a32 | a32 << 8)
        }
        switch layout {
        case .rgba:
            return (UInt32(bytes[i]) * 0x101, UInt32(bytes[i + 1]) * 0x101, UInt32(bytes[i + 2]) * 0x101, UInt32(bytes[i + 3]) * 0x101)
        case .nrgba:
            return straight8(bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3])
        case .gray:
            let v = UInt32(bytes[i]) * 0x101
            return (v, v, v, 0xffff)
        case .rgba64:
            return (UInt32(words[i]), UInt32(words[i + 1]), UInt32(words[i + 2]), UInt32(words[i + 3]))
        case .nrgba64:
            let a = UInt32(words[i + 3])
            return (UInt32(words[i]) * a / 0xffff, UInt32(words[i + 1]) * a / 0xffff, UInt32(words[i + 2]) * a / 0xffff, a)
        case .gray16:
            let v = UInt32(words[i])
            return (v, v, v, 0xffff)
        case .paletted:
            let c = palette[Int(bytes[i])]
            if c.straightAlpha { return straight8(c.r, c.g, c.b, c.a) }
            return (UInt32(c.r) * 0x101, UInt32(c.g) * 0x101, UInt32(c.b) * 0x101, UInt32(c.a) * 0x101)
        }
    }

    init(width: Int, height: Int, layout: Layout, bytes: [UInt8] = [], words: [UInt16] = [], palette: [PaletteColor] = []) {
        self.width = width
        self.height = height
        self.layout = layout
        self.bytes = bytes
        self.words = words
        self.palette = palette
    }

    /// The largest image `decode` accepts, in pixels (a decompression-bomb guard).
    public static let maximumPixels = 1 << 26

    /// Decodes a PNG as Go's `image/png` does (every colour type and bit depth, `tRNS`, Adam7), checking
    /// chunk CRCs and the zlib stream. Anything else is a `PNGError`.
    public static func decode(_ data: [UInt8]) throws(PNGError) -> PNGImage {
        var reader = PNGChunks(data: data)
        try reader.header()
        var ihdr: (width: Int, height: Int, depth: Int, colorType: Int, interlace: Bool)?
        var palette: [PaletteColor] = []
        var transparent: [UInt8]?
        var idat: [UInt8] = []
        var seenIDAT = false, ended = false
        while !ended {
            let (type, body) = try reader.next()
            switch type {
            case "IHDR":
                guard ihdr == nil, body.count == 13 else { throw PNGError("bad IHDR") }
                let w = Int(Self.be32(body, 0)), h = Int(Self.be32(body, 4))
                guard w > 0, h > 0, w <= Int(Int32.max), h <= Int(Int32.max) else { throw PNGError("non-positive or huge dimension") }
                guard w * h <= maximumPixels else { throw PNGError("\(w)×\(h) is larger than \(maximumPixels) pixels") }
                guard body[10] == 0, body[11] == 0 else { throw PNGError("unsupported compression or filter method") }
                guard body[12] <= 1 else { throw PNGError("invalid interlace method") }
                let depth = Int(body[8]), ct = Int(body[9])
                let valid: [Int: Set<Int>] = [0: [1, 2, 4, 8, 16], 2: [8, 16], 3: [1, 2, 4, 8], 4: [8, 16], 6: [8, 16]]
                guard valid[ct]?.contains(depth) == true else { throw PNGError("unsupported bit depth \(depth) with colour type \(ct)") }
                ihdr = (w, h, depth, ct, body[12] == 1)
            case "PLTE":
                guard let header = ihdr, palette.isEmpty, !seenIDAT else { throw PNGError("chunk out of order") }
                let count = body.count / 3
                guard body.count % 3 == 0, count > 0, count <= 256 else { throw PNGError("bad PLTE length") }
                if header.colorType == 3 {
                    guard count <= 1 << header.depth else { throw PNGError("bad PLTE length") }
                    palette = (0..<count).map { PaletteColor(r: body[3 * $0], g: body[3 * $0 + 1], b: body[3 * $0 + 2], a: 0xff, straightAlpha: false) }
                } else if header.colorType != 2 && header.colorType != 6 {
                    throw PNGError("PLTE, color type mismatch")
                }
            case "tRNS":
                guard let header = ihdr, !seenIDAT else { throw PNGError("chunk out of order") }
                switch header.colorType {
                case 0:
                    guard body.count == 2 else { throw PNGError("bad tRNS length") }
                    var t = body
                    switch header.depth {
                    case 1: t[1] = t[1] &* 0xff
                    case 2: t[1] = t[1] &* 0x55
                    case 4: t[1] = t[1] &* 0x11
                    default: break
                    }
                    transparent = t
                case 2:
                    guard body.count == 6 else { throw PNGError("bad tRNS length") }
                    transparent = body
                case 3:
                    guard !palette.isEmpty, body.count <= 256 else { throw PNGError("bad tRNS") }
                    if palette.count < body.count {
                        palette += [PaletteColor](repeating: PaletteColor(r: 0, g: 0, b: 0, a: 0xff, straightAlpha: false), count: body.count - palette.count)
                    }
                    for (i, alpha) in body.enumerated() { palette[i].a = alpha; palette[i].straightAlpha = true }
                default:
                    throw PNGError("tRNS, color type mismatch")
                }
            case "IDAT":
                guard let header = ihdr else { throw PNGError("chunk out of order") }
                guard header.colorType != 3 || !palette.isEmpty else { throw PNGError("missing PLTE") }
                seenIDAT = true
                idat += body
            case "IEND":
                guard seenIDAT else { throw PNGError("no image data") }
                ended = true
            default:
                break  // other chunks are skipped, as Go's decoder does
            }
        }
        guard let header = ihdr else { throw PNGError("missing IHDR") }
        return try Self.decodePixels(
            Self.inflate(idat, limit: Self.rawSize(header.width, header.height, header.depth, header.colorType, header.interlace)),
            width: header.width, height: header.height, depth: header.depth, colorType: header.colorType, interlace: header.interlace,
            palette: palette, transparent: transparent)
    }

    static func be32(_ d: [UInt8], _ i: Int) -> UInt32 { UInt32(d[i]) << 24 | UInt32(d[i + 1]) << 16 | UInt32(d[i + 2]) << 8 | UInt32(d[i + 3]) }

    static func bitsPerPixel(_ depth: Int, _ colorType: Int) -> Int {
        switch colorType {
        case 2: 3 * depth
        case 4: 2 * depth
        case 6: 4 * depth
        default: depth
        }
    }

    static let adam7: [(xf: Int, yf: Int, xo: Int, yo: Int)] = [(8, 8, 0, 0), (8, 8, 4, 0), (4, 8, 0, 4), (4, 4, 2, 0), (2, 4, 0, 2), (2, 2, 1, 0), (1, 2, 0, 1)]

    static func passSizes(_ width: Int, _ height: Int, _ interlace: Bool) -> [(w: Int, h: Int)] {
        guard interlace else { return [(width, height)] }
        return adam7.map { p in ((width - p.xo + p.xf - 1) / p.xf, (height - p.yo + p.yf - 1) / p.yf) }
    }

    /// Bytes the filtered scanlines take, the exact size the zlib stream must inflate to.
    static func rawSize(_ width: Int, _ height: Int, _ depth: Int, _ colorType: Int, _ interlace: Bool) -> Int {
        let bpp = bitsPerPixel(depth, colorType)
        return passSizes(width, height, interlace).reduce(0) { total, pass in
            pass.w == 0 || pass.h == 0 ? total : total + pass.h * (1 + (bpp * pass.w + 7) / 8)
        }
    }

    /// Inflates a zlib stream that must produce exactly `limit` bytes.
    static func inflate(_ input: [UInt8], limit: Int) throws(PNGError) -> [UInt8] {
        var stream = z_stream()
        guard inflateInit_(&stream, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else { throw PNGError("zlib failed to start") }
        defer { inflateEnd(&stream) }
        var output = [UInt8](repeating: 0, count: limit + 1)
        var input = input
        let status = input.withUnsafeMutableBufferPointer { inBuffer in
            output.withUnsafeMutableBufferPointer { outBuffer -> Int32 in
                stream.next_in = inBuffer.baseAddress
                stream.avail_in = uInt(inBuffer.count)
                stream.next_out = outBuffer.baseAddress
                stream.avail_out = uInt(outBuffer.count)
                return CCrynuxZlib.inflate(&stream, Z_FINISH)
            }
        }
        let produced = output.count - Int(stream.avail_out)
        guard status == Z_STREAM_END else {
            throw PNGError(produced > limit ? "too much pixel data" : status == Z_BUF_ERROR ? "not enough pixel data" : "corrupt image data (zlib \(status))")
        }
        guard produced == limit else { throw PNGError(produced > limit ? "too much pixel data" : "not enough pixel data") }
        output.removeLast()
        return output
    }

    static func decodePixels(
        _ raw: [UInt8], width: Int, height: Int, depth: Int, colorType: Int, interlace: Bool, palette: [PaletteColor], transparent: [UInt8]?
    ) throws(PNGError) -> PNGImage {
        let layout: Layout
        switch (colorType, depth) {
        case (0, 16): layout = transparent == nil ? .gray16 : .nrgba64
        case (0, _): layout = transparent == nil ? .gray : .nrgba
        case (2, 8): layout = transparent == nil ? .rgba : .nrgba
        case (2, _): layout = transparent == nil ? .rgba64 : .nrgba64
        case (3, _): layout = .paletted
        case (4, 8), (6, 8): layout = .nrgba
        default: layout = .nrgba64
        }
        let channels = [.rgba, .nrgba, .rgba64, .nrgba64].contains(layout) ? 4 : 1
        let wide = layout == .rgba64 || layout == .nrgba64 || layout == .gray16
        var bytes = wide ? [] : [UInt8](repeating: 0, count: width * height * channels)
        var words = wide ? [UInt16](repeating: 0, count: width * height * channels) : []
        var palette = palette
        let bpp = bitsPerPixel(depth, colorType)
        let bytesPerPixel = (bpp + 7) / 8
        var offset = 0
        for (pass, size) in passSizes(width, height, interlace).enumerated() where size.w > 0 && size.h > 0 {
            let (xf, yf, xo, yo) = interlace ? adam7[pass] : (1, 1, 0, 0)
            let rowSize = (bpp * size.w + 7) / 8
            var previous = [UInt8](repeating: 0, count: rowSize)
            for y in 0..<size.h {
                let filter = raw[offset]
                var row = Array(raw[(offset + 1)..<(offset + 1 + rowSize)])
                offset += 1 + rowSize
                try unfilter(&row, previous, filter, bytesPerPixel)
                previous = row
                let py = y * yf + yo
                for x in 0..<size.w {
                    let px = x * xf + xo
                    let o = (py * width + px) * channels
                    func sample(_ i: Int) -> Int {  // i-th sample of this pixel in the row, any bit depth
                        let bit = x * bpp + i * depth
                        if depth == 16 { return Int(row[bit / 8]) << 8 | Int(row[bit / 8 + 1]) }
                        if depth == 8 { return Int(row[bit / 8]) }
                        return Int(row[bit / 8] >> (8 - depth - bit % 8)) & ((1 << depth) - 1)
                    }
                    switch colorType {
                    case 0:
                        let scale = depth == 1 ? 0xff : depth == 2 ? 0x55 : depth == 4 ? 0x11 : 1
                        let v = sample(0) * scale
                        if let t = transparent {
                            if depth == 16 {
                                let alpha: UInt16 = v == Int(t[0]) << 8 | Int(t[1]) ? 0 : 0xffff
                                words.replaceSubrange(o..<(o + 4), with: [UInt16(v), UInt16(v), UInt16(v), alpha])
                            } else {
                                bytes.replaceSubrange(o..<(o + 4), with: [UInt8(v), UInt8(v), UInt8(v), UInt8(v) == t[1] ? 0 : 0xff])
                            }
                        } else if depth == 16 {
                            words[o] = UInt16(v)
                        } else {
                            bytes[o] = UInt8(v)
                        }
                    case 2:
                        let r = sample(0), g = sample(1), b = sample(2)
                        if depth == 16 {
                            var alpha: UInt16 = 0xffff
                            if let t = transparent, r == Int(t[0]) << 8 | Int(t[1]), g == Int(t[2]) << 8 | Int(t[3]), b == Int(t[4]) << 8 | Int(t[5]) { alpha = 0 }
                            words.replaceSubrange(o..<(o + 4), with: [UInt16(r), UInt16(g), UInt16(b), alpha])
                        } else {
                            var alpha: UInt8 = 0xff
                            if let t = transparent, r == Int(t[1]), g == Int(t[3]), b == Int(t[5]) { alpha = 0 }
                            bytes.replaceSubrange(o..<(o + 4), with: [UInt8(r), UInt8(g), UInt8(b), alpha])
                        }
                    case 3:
                        let index = sample(0)
                        if index >= palette.count {
                            palette += [PaletteColor](repeating: PaletteColor(r: 0, g: 0, b: 0, a: 0xff, straightAlpha: false), count: index + 1 - palette.count)
                        }
                        bytes[o] = UInt8(index)
                    case 4:
                        let v = sample(0), a = sample(1)
                        if depth == 16 {
                            words.replaceSubrange(o..<(o + 4), with: [UInt16(v), UInt16(v), UInt16(v), UInt16(a)])
                        } else {
                            bytes.replaceSubrange(o..<(o + 4), with: [UInt8(v), UInt8(v), UInt8(v), UInt8(a)])
                        }
                    default:
                        if depth == 16 {
                            words.replaceSubrange(o..<(o + 4), with: [UInt16(sample(0)), UInt16(sample(1)), UInt16(sample(2)), UInt16(sample(3))])
                        } else {
                            bytes.replaceSubrange(o..<(o + 4), with: [UInt8(sample(0)), UInt8(sample(1)), UInt8(sample(2)), UInt8(sample(3))])
                        }
                    }
                }
            }
        }
        return PNGImage(width: width, height: height, layout: layout, bytes: bytes, words: words, palette: palette)
    }

    static func unfilter(_ row: inout [UInt8], _ previous: [UInt8], _ filter: UInt8, _ bpp: Int) throws(PNGError) {
        switch filter {
        case 0:
            break
        case 1:
            for i in bpp..<max(bpp, row.count) { row[i] = row[i] &+ row[i - bpp] }
        case 2:
            for i in 0..<row.count { row[i] = row[i] &+ previous[i] }
        case 3:
            for i in 0..<min(bpp, row.count) { row[i] = row[i] &+ previous[i] / 2 }
            for i in bpp..<max(bpp, row.count) { row[i] = row[i] &+ UInt8((Int(row[i - bpp]) + Int(previous[i])) / 2) }
        case 4:
            for i in 0..<row.count {
                let a = i >= bpp ? Int(row[i - bpp]) : 0, b = Int(previous[i]), c = i >= bpp ? Int(previous[i - bpp]) : 0
                let p = a + b - c
                let pa = abs(p - a), pb = abs(p - b), pc = abs(p - c)
                row[i] = row[i] &+ UInt8(pa <= pb && pa <= pc ? a : pb <= pc ? b : c)
            }
        default:
            throw PNGError("bad filter type \(filter)")
        }
    }
}

/// Reads PNG chunks, checking each CRC.
struct PNGChunks {
    let data: [UInt8]
    var position = 0

    mutating func header() throws(PNGError) {
        guard data.count >= 8, data[0..<8].elementsEqual([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) else { throw PNGError("not a PNG file") }
        position = 8
    }

    mutating func next() throws(PNGError) -> (String, [UInt8]) {
        guard position + 12 <= data.count else { throw PNGError("truncated") }
        let length = Int(PNGImage.be32(data, position))
        guard length <= 0x7fff_ffff, position + 12 + length <= data.count else { throw PNGError("truncated or bad chunk length") }
        let typeBytes = data[(position + 4)..<(position + 8)]
        guard typeBytes.allSatisfy({ (65...90).contains($0) || (97...122).contains($0) }) else { throw PNGError("bad chunk type") }
        let body = Array(data[(position + 8)..<(position + 8 + length)])
        let crc = data[(position + 4)..<(position + 8 + length)].withContiguousStorageIfAvailable { buffer in
            UInt32(truncatingIfNeeded: crc32(0, buffer.baseAddress, uInt(buffer.count)))
        } ?? 0
        guard crc == PNGImage.be32(data, position + 8 + length) else { throw PNGError("invalid checksum") }
        position += 12 + length
        return (String(decoding: typeBytes, as: UTF8.self), body)
    }
}

/// Why an image could not be decoded.
public struct PNGError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What was wrong.
    public var message: String
    /// Creates an error.
    public init(_ message: String) { self.message = message }
    /// `png: message`.
    public var description: String { "png: \(message)" }
}

extension PNGImage {
    /// An 8-bit RGB (3 bytes per pixel) or RGBA (4) image, row-major, as a PNG file: one IDAT, every row
    /// filtered with Sub, deflated by the system zlib at level 6.
    public static func encode(width: Int, height: Int, pixels: [UInt8], alpha: Bool) throws(PNGError) -> [UInt8] {
        let channels = alpha ? 4 : 3
        guard width > 0, height > 0, width * height <= maximumPixels, pixels.count == width * height * channels else {
            throw PNGError("the pixel buffer does not match \(width)×\(height)×\(channels)")
        }
        var raw = [UInt8]()
        raw.reserveCapacity(height * (1 + width * channels))
        for y in 0..<height {
            raw.append(1)  // Sub
            let row = y * width * channels
            for i in 0..<(width * channels) {
                raw.append(pixels[row + i] &- (i >= channels ? pixels[row + i - channels] : 0))
            }
        }
        var bound = compressBound(uLong(raw.count))
        var compressed = [UInt8](repeating: 0, count: Int(bound))
        let status = compress2(&compressed, &bound, raw, uLong(raw.count), 6)
        guard status == Z_OK else { throw PNGError("zlib failed (\(status))") }
        compressed.removeSubrange(Int(bound)...)
        func chunk(_ type: String, _ body: [UInt8]) -> [UInt8] {
            var out = Self.be(UInt32(body.count))
            let typed = Array(type.utf8) + body
            out += typed
            out += Self.be(UInt32(truncatingIfNeeded: crc32(0, typed, uInt(typed.count))))
            return out
        }
        var header = Self.be(UInt32(width)) + Self.be(UInt32(height))
        header += [8, alpha ? 6 : 2, 0, 0, 0]
        return [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + chunk("IHDR", header) + chunk("IDAT", compressed) + chunk("IEND", [])
    }

    static func be(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)] }
}
