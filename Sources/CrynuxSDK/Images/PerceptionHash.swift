import Foundation

/// The perceptual hash the Crynux relay computes for image results: goimagehash v1.1.0 `PerceptionHash` over
/// Go's PNG decoding, bit for bit — nfnt/resize's bilinear resize to 64×64 (fixed-point weights, two
/// transposing passes, per pixel layout), goimagehash's grey conversion (with its `/256` on blue), Lee's fast
/// DCT-II with Go's constants, the 8×8 low frequencies, and the threshold from goimagehash's own quickselect.
public enum PerceptionHash {
    /// The 64-bit hash of a PNG file.
    public static func hash(png: [UInt8]) throws(PNGError) -> UInt64 { hash(try PNGImage.decode(png)) }

    /// An SD score: `0x` + each image's hash as 16 hex digits, in order.
    public static func score(pngs: [[UInt8]]) throws(PNGError) -> String {
        var out = "0x"
        for png in pngs { out += hex(try hash(png: png)) }
        return out
    }

    /// 16 lowercase hex digits, big-endian.
    public static func hex(_ hash: UInt64) -> String {
        let digits = String(hash, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }

    /// The hash of a decoded image.
    public static func hash(_ image: PNGImage) -> UInt64 {
        var pixels = grayscale64(image)
        dct2D(&pixels)
        let flat = lowFrequencies(pixels)
        let threshold = median(flat)
        var hash: UInt64 = 0
        for (i, v) in flat.enumerated() where v > threshold { hash |= 1 << UInt64(63 - i) }
        return hash
    }

    /// The 8×8 low-frequency block, `flat[8·row + col]`.
    static func lowFrequencies(_ pixels: [Double]) -> [Double] {
        var flat = [Double](repeating: 0, count: 64)
        for i in 0..<8 { for j in 0..<8 { flat[8 * i + j] = pixels[i * 64 + j] } }
        return flat
    }

    // MARK: Resize and grey

    /// The 64×64 grey matrix (row-major) goimagehash hashes.
    static func grayscale64(_ image: PNGImage) -> [Double] {
        func gray(_ r: UInt32, _ g: UInt32, _ b: UInt32) -> Double {
            0.299 * Double(r / 257) + 0.587 * Double(g / 257) + 0.114 * Double(b / 256)
        }
        var out = [Double](repeating: 0, count: 4096)
        if image.width == 64 && image.height == 64 {
            // nfnt/resize returns the image itself; the colours come through Go's RGBA().
            for y in 0..<64 {
                for x in 0..<64 {
                    let c = image.rgba16(x, y)
                    out[y * 64 + x] = gray(c.r, c.g, c.b)
                }
            }
            return out
        }
        let (values, channels, wide) = resizeInput(image)
        let scaleX = Double(image.width) / 64, scaleY = Double(image.height) / 64
        let temp = resizePass(values, rows: image.height, length: image.width, channels: channels, newLength: 64, scale: scaleX, wide: wide)
        let result = resizePass(temp, rows: 64, length: image.height, channels: channels, newLength: 64, scale: scaleY, wide: wide)
        // Result pixels are 8-bit (RGBA, Gray) or 16-bit (RGBA64, Gray16); RGBA() widens 8-bit by ×0x101.
        let widen: (Int64) -> UInt32 = { wide ? UInt32($0) : UInt32($0) * 0x101 }
        for i in 0..<4096 {
            let o = i * channels
            out[i] = channels == 1 ? gray(widen(result[o]), widen(result[o]), widen(result[o])) : gray(widen(result[o]), widen(result[o + 1]), widen(result[o + 2]))
        }
        return out
    }

    /// The samples nfnt/resize's first pass reads for this layout (premultiplied as it premultiplies them),
    /// the channel count, and whether it takes the 16-bit path.
    static func resizeInput(_ image: PNGImage) -> ([Int64], Int, Bool) {
        let n = image.width * image.height
        switch image.layout {
        case .rgba:
            return (image.bytes.map(Int64.init), 4, false)
        case .nrgba:
            return (premultiplied(image.bytes.map(Int64.init), maximum: 0xff), 4, false)
        case .gray:
            return (image.bytes.map(Int64.init), 1, false)
        case .rgba64:
            return (image.words.map(Int64.init), 4, true)
        case .nrgba64:
            return (premultiplied(image.words.map(Int64.init), maximum: 0xffff), 4, true)
        case .gray16:
            return (image.words.map(Int64.init), 1, true)
        case .paletted:
            // No special case in nfnt/resize: the generic path through RGBA(), 16-bit.
            var v = [Int64](repeating: 0, count: n * 4)
            for y in 0..<image.height {
                for x in 0..<image.width {
                    let c = image.rgba16(x, y), p = y * image.width + x
                    v[4 * p] = Int64(c.r)
                    v[4 * p + 1] = Int64(c.g)
                    v[4 * p + 2] = Int64(c.b)
                    v[4 * p + 3] = Int64(c.a)
                }
            }
            return (v, 4, true)
        }
    }

    /// Straight-alpha RGBA samples premultiplied as nfnt/resize does (`c·a / max`, truncating).
    static func premultiplied(_ samples: [Int64], maximum: Int64) -> [Int64] {
        var v = samples
        for p in stride(from: 0, to: v.count, by: 4) {
            for c in 0..<3 { v[p + c] = v[p + c] * v[p + 3] / maximum }
        }
        return v
    }

    /// One nfnt/resize pass: `rows` input rows of `length` pixels → `newLength` output rows of `rows` pixels
    /// (transposed), bilinear weights in fixed point (×256, or ×65536 on the 16-bit path), integer sums,
    /// truncating division by the weight sum, clamped to the sample range.
    static func resizePass(_ input: [Int64], rows: Int, length: Int, channels: Int, newLength: Int, scale: Double, wide: Bool) -> [Int64] {
        let filterLength = 2 * Int(max((1.0 * scale).rounded(.up), 1))
        let filterFactor = min(1 / (1.0 * scale), 1)
        let unit: Double = wide ? 65536 : 256
        var coeffs = [Int64](repeating: 0, count: newLength * filterLength)
        var starts = [Int](repeating: 0, count: newLength)
        for y in 0..<newLength {
            var interp = scale * (Double(y) + 0.5) - 0.5
            starts[y] = Int(interp) - filterLength / 2 + 1
            interp -= Double(starts[y])
            for i in 0..<filterLength {
                let t = abs((interp - Double(i)) * filterFactor)
                let k = t <= 1 ? 1 - t : 0
                coeffs[y * filterLength + i] = Int64(k * unit)  // truncation, as Go's int16()/int32()
            }
        }
        let maximum: Int64 = wide ? 65535 : 255
        var out = [Int64](repeating: 0, count: newLength * rows * channels)
        var acc = [Int64](repeating: 0, count: channels)
        for r in 0..<rows {
            let rowBase = r * length * channels
            for y in 0..<newLength {
                for c in 0..<channels { acc[c] = 0 }
                var sum: Int64 = 0
                for i in 0..<filterLength {
                    let coeff = coeffs[y * filterLength + i]
                    guard coeff != 0 else { continue }
                    let xi = min(max(starts[y] + i, 0), length - 1)
                    for c in 0..<channels { acc[c] += coeff * input[rowBase + xi * channels + c] }
                    sum += coeff
                }
                let o = (y * rows + r) * channels
                for c in 0..<channels { out[o + c] = min(max(sum == 0 ? 0 : acc[c] / sum, 0), maximum) }
            }
        }
        return out
    }

    // MARK: DCT and threshold

    /// goimagehash's `DCT2DFast64`: every row, then the columns (only the 8 the hash reads).
    static func dct2D(_ pixels: inout [Double]) {
        for i in 0..<64 {
            var row = Array(pixels[(i * 64)..<(i * 64 + 64)])
            dct1D(&row[...])
            pixels.replaceSubrange((i * 64)..<(i * 64 + 64), with: row)
        }
        for i in 0..<8 {
            var column = (0..<64).map { pixels[i + $0 * 64] }
            dct1D(&column[...])
            for j in 0..<64 { pixels[i + j * 64] = column[j] }
        }
    }

    /// Lee's fast DCT-II (unscaled), recursive, dividing by Go's constant tables.
    static func dct1D(_ input: inout ArraySlice<Double>) {
        let n = input.count
        guard n > 1 else { return }
        let half = n / 2
        let table: [Double]
        switch n {
        case 64: table = GoDCTConstants.dct64
        case 32: table = GoDCTConstants.dct32
        case 16: table = GoDCTConstants.dct16
        case 8: table = GoDCTConstants.dct8
        case 4: table = GoDCTConstants.dct4
        default: table = GoDCTConstants.dct2
        }
        let base = input.startIndex
        var temp = [Double](repeating: 0, count: n)
        for i in 0..<half {
            let x = input[base + i], y = input[base + n - 1 - i]
            temp[i] = x + y
            temp[i + half] = (x - y) / table[i]
        }
        dct1D(&temp[0..<half])
        dct1D(&temp[half..<n])
        for i in 0..<(half - 1) {
            input[base + 2 * i] = temp[i]
            input[base + 2 * i + 1] = temp[i + half] + temp[i + half + 1]
        }
        input[base + n - 2] = temp[half - 1]
        input[base + n - 1] = temp[n - 1]
    }

    /// goimagehash's `MedianOfPixelsFast64`: its quickselect (Lomuto partition, pivot `low/2 + hi/2`) for
    /// k = 32, then `s[k-1]/2 + s[k]/2` of the partially partitioned array.
    static func median(_ values: [Double]) -> Double {
        var s = values
        let k = s.count / 2
        var low = 0, hi = s.count - 1
        if low == hi { return s[k] }
        while low < hi {
            let pivot = low / 2 + hi / 2
            let pivotValue = s[pivot]
            var store = low
            s.swapAt(pivot, hi)
            for i in low..<hi where s[i] < pivotValue {
                s.swapAt(store, i)
                store += 1
            }
            s.swapAt(hi, store)
            if k <= store { hi = store } else { low = store + 1 }
        }
        return s.count % 2 == 0 ? s[k - 1] / 2 + s[k] / 2 : s[k]
    }
}
