/// The float64 constants of goimagehash v1.1.0's Lee DCT (`2·cos((i+0.5)·π/N)` as Go computes them), by bit
/// pattern, from `Tests/TestSupport/Fixtures/phash/dct-constants.json`: 21 of the 63 differ by one ulp from C's `cos`.
enum GoDCTConstants {
    static let dct64: [Double] = [
        Double(bitPattern: 0x3ffffd886084cd0c), Double(bitPattern: 0x3fffe9cdad01883a), Double(bitPattern: 0x3fffc26470e19fd4),
        Double(bitPattern: 0x3fff8764fa714ba9), Double(bitPattern: 0x3fff38f3ac64e589), Double(bitPattern: 0x3ffed740e7684963),
        Double(bitPattern: 0x3ffe6288ec48e112), Double(bitPattern: 0x3ffddb13b6ccc23c), Double(bitPattern: 0x3ffd4134d14dc93a),
        Double(bitPattern: 0x3ffc954b213411f5), Double(bitPattern: 0x3ffbd7c0ac6f9529), Double(bitPattern: 0x3ffb090a58150200),
        Double(bitPattern: 0x3ffa29a7a0462782), Double(bitPattern: 0x3ff93a22499263fc), Double(bitPattern: 0x3ff83b0e0bff976e),
        Double(bitPattern: 0x3ff72d0837efff97), Double(bitPattern: 0x3ff610b7551d2cdf), Double(bitPattern: 0x3ff4e6cabbe3e5ea),
        Double(bitPattern: 0x3ff3affa292050ba), Double(bitPattern: 0x3ff26d054cdd12e0), Double(bitPattern: 0x3ff11eb3541b4b24),
        Double(bitPattern: 0x3fef8ba4dbf89abc), Double(bitPattern: 0x3fecc66e9931c45e), Double(bitPattern: 0x3fe9ef7943a8ed89),
        Double(bitPattern: 0x3fe7088530fa45a1), Double(bitPattern: 0x3fe4135c94176602), Double(bitPattern: 0x3fe111d262b1f678),
        Double(bitPattern: 0x3fdc0b826a7e4f62), Double(bitPattern: 0x3fd5e214448b3fcb), Double(bitPattern: 0x3fcf564e56a97314),
        Double(bitPattern: 0x3fc2d52092ce19f8), Double(bitPattern: 0x3fa92155f7a36678),
    ]
    static let dct32: [Double] = [
        Double(bitPattern: 0x3ffff621e3796d7e), Double(bitPattern: 0x3fffa7557f08a517), Double(bitPattern: 0x3fff0a7efb9230d8),
        Double(bitPattern: 0x3ffe212104f686e5), Double(bitPattern: 0x3ffced7af43cc773), Double(bitPattern: 0x3ffb728345196e3e),
        Double(bitPattern: 0x3ff9b3e047f38741), Double(bitPattern: 0x3ff7b5df226aafaf), Double(bitPattern: 0x3ff57d69348ceca0),
        Double(bitPattern: 0x3ff30ff7fce17036), Double(bitPattern: 0x3ff073879922ffee), Double(bitPattern: 0x3feb5d1009e15cc2),
        Double(bitPattern: 0x3fe58f9a75ab1fdd), Double(bitPattern: 0x3fdf19f97b215f1e), Double(bitPattern: 0x3fd2c8106e8e613a),
        Double(bitPattern: 0x3fb91f65f10dd825),
    ]
    static let dct16: [Double] = [
        Double(bitPattern: 0x3fffd88da3d12525), Double(bitPattern: 0x3ffe9f4156c62dda), Double(bitPattern: 0x3ffc38b2f180bdb1),
        Double(bitPattern: 0x3ff8bc806b151741), Double(bitPattern: 0x3ff44cf325091dd7), Double(bitPattern: 0x3fee2b5d3806f63e),
        Double(bitPattern: 0x3fe294062ed59f04), Double(bitPattern: 0x3fc917a6bc29b438),
    ]
    static let dct8: [Double] = [
        Double(bitPattern: 0x3fff6297cff75cb0), Double(bitPattern: 0x3ffa9b66290ea1a4), Double(bitPattern: 0x3ff1c73b39ae68c9),
        Double(bitPattern: 0x3fd8f8b83c69a60c),
    ]
    static let dct4: [Double] = [
        Double(bitPattern: 0x3ffd906bcf328d46), Double(bitPattern: 0x3fe87de2a6aea964),
    ]
    static let dct2: [Double] = [
        Double(bitPattern: 0x3ff6a09e667f3bcd),
    ]
}
