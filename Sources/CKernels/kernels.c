// Matrix kernels for the NodeKit engine. The engine itself is Swift; these are the inner loops Swift's
// SIMD types cannot yet compile to good x86 code (widening integers to floats, 512-bit registers).
// See ckernels.h for the canonical summation order every path follows.
#pragma STDC FP_CONTRACT OFF
#include "ckernels.h"
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#define CK_X86 1
#endif

enum { T_F32 = 0, T_F16 = 1, T_Q4_0 = 2, T_Q4_1 = 3, T_Q5_0 = 6, T_Q8_0 = 8, T_Q4_K = 12, T_Q6_K = 14, T_BF16 = 30 };

// ---- scalar helpers ----

static float half_to_float(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1F;
    uint32_t mant = h & 0x3FF;
    uint32_t bits;
    if (exp == 0) {
        if (mant == 0) {
            bits = sign;
        } else {
            exp = 127 - 15 + 1;
            while ((mant & 0x400) == 0) { mant <<= 1; exp--; }
            mant &= 0x3FF;
            bits = sign | (exp << 23) | (mant << 13);
        }
    } else if (exp == 31) {
        bits = sign | 0x7F800000 | (mant << 13);
    } else {
        bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

// Round to nearest even, as F16C and ggml's reference conversion do.
static uint16_t float_to_half(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000;
    uint32_t absx = x & 0x7FFFFFFF;
    if (absx > 0x7F800000) return (uint16_t)(sign | 0x7E00);  // NaN
    if (absx >= 0x477FF000) return (uint16_t)(sign | 0x7C00);  // rounds to infinity
    if (absx < 0x38800000) {  // subnormal half (or zero)
        if (absx < 0x33000000) return (uint16_t)sign;
        uint32_t mant = (absx & 0x7FFFFF) | 0x800000;
        int shift = 126 - (int)(absx >> 23);  // 14 .. 24
        uint32_t half = mant >> shift;
        uint32_t rem = mant & ((1u << shift) - 1), mid = 1u << (shift - 1);
        if (rem > mid || (rem == mid && (half & 1))) half++;
        return (uint16_t)(sign | half);
    }
    uint32_t h = ((absx >> 13) - ((127 - 15) << 10));
    uint32_t rem = absx & 0x1FFF;
    if (rem > 0x1000 || (rem == 0x1000 && (h & 1))) h++;
    return (uint16_t)(sign | h);
}

static uint16_t load_u16(const uint8_t *p) { uint16_t v; memcpy(&v, p, 2); return v; }
static float load_f16(const uint8_t *p) { return half_to_float(load_u16(p)); }

static size_t block_bytes(int type) {
    switch (type) {
    case T_F32: return 128;
    case T_F16: case T_BF16: return 64;
    case T_Q4_0: return 18;
    case T_Q4_1: return 20;
    case T_Q5_0: return 22;
    case T_Q8_0: return 34;
    case T_Q4_K: return 144;
    case T_Q6_K: return 210;
    default: return 0;
    }
}

int ck_supports(int type) { return block_bytes(type) != 0; }

// ---- portable dequantization (the reference values) ----

static void dq_block_scalar(int type, const uint8_t *p, float *w) {
    switch (type) {
    case T_F32: memcpy(w, p, 128); break;
    case T_F16: for (int j = 0; j < 32; j++) w[j] = load_f16(p + 2 * j); break;
    case T_BF16:
        for (int j = 0; j < 32; j++) {
            uint32_t bits = (uint32_t)load_u16(p + 2 * j) << 16;
            memcpy(&w[j], &bits, 4);
        }
        break;
    case T_Q4_0: {
        float d = load_f16(p);
        for (int j = 0; j < 16; j++) {
            w[j] = (float)((int)(p[2 + j] & 0x0F) - 8) * d;
            w[j + 16] = (float)((int)(p[2 + j] >> 4) - 8) * d;
        }
        break;
    }
    case T_Q4_1: {
        float d = load_f16(p), m = load_f16(p + 2);
        for (int j = 0; j < 16; j++) {
            w[j] = fmaf((float)(p[4 + j] & 0x0F), d, m);
            w[j + 16] = fmaf((float)(p[4 + j] >> 4), d, m);
        }
        break;
    }
    case T_Q5_0: {
        float d = load_f16(p);
        uint32_t qh;
        memcpy(&qh, p + 2, 4);
        for (int j = 0; j < 16; j++) {
            int x0 = (int)((p[6 + j] & 0x0F) | (((qh >> j) << 4) & 0x10)) - 16;
            int x1 = (int)((p[6 + j] >> 4) | ((qh >> (j + 12)) & 0x10)) - 16;
            w[j] = (float)x0 * d;
            w[j + 16] = (float)x1 * d;
        }
        break;
    }
    case T_Q8_0: {
        float d = load_f16(p);
        for (int j = 0; j < 32; j++) w[j] = (float)(int8_t)p[2 + j] * d;
        break;
    }
    }
}

static void scale_min_k4(int j, const uint8_t *q, int *d, int *m) {
    if (j < 4) {
        *d = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *d = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
        *m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
    }
}

// One 256-weight super-block of a K-quant.
static void dq_superblock(int type, const uint8_t *p, float *y) {
    if (type == T_Q4_K) {
        float d = load_f16(p), dmin = load_f16(p + 2);
        const uint8_t *scales = p + 4, *q = p + 16;
        for (int j = 0, is = 0; j < 256; j += 64, is += 2, q += 32) {
            int sc, m;
            scale_min_k4(is, scales, &sc, &m);
            float d1 = d * (float)sc, m1 = dmin * (float)m;
            scale_min_k4(is + 1, scales, &sc, &m);
            float d2 = d * (float)sc, m2 = dmin * (float)m;
            for (int l = 0; l < 32; l++) *y++ = d1 * (float)(q[l] & 0xF) - m1;
            for (int l = 0; l < 32; l++) *y++ = d2 * (float)(q[l] >> 4) - m2;
        }
    } else {  // Q6_K: ql[128], qh[64], scales[16] (int8), d
        const uint8_t *ql = p, *qh = p + 128;
        const int8_t *sc = (const int8_t *)(p + 192);
        float d = load_f16(p + 208);
        for (int half = 0; half < 2; half++, y += 128, ql += 64, qh += 32, sc += 8) {
            for (int l = 0; l < 32; l++) {
                int is = l / 16;
                int q1 = (int)((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
                int q2 = (int)((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
                int q3 = (int)((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
                int q4 = (int)((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
                y[l] = d * (float)sc[is] * (float)q1;
                y[l + 32] = d * (float)sc[is + 2] * (float)q2;
                y[l + 64] = d * (float)sc[is + 4] * (float)q3;
                y[l + 96] = d * (float)sc[is + 6] * (float)q4;
            }
        }
    }
}

static void dequantize_scalar(int type, const uint8_t *row, int n, float *out) {
    if (type == T_Q4_K || type == T_Q6_K) {
        for (int b = 0; b < n / 256; b++) dq_superblock(type, row + (size_t)b * block_bytes(type), out + 256 * b);
        return;
    }
    size_t bb = block_bytes(type);
    for (int b = 0; b < n / 32; b++) dq_block_scalar(type, row + (size_t)b * bb, out + 32 * b);
}

// The canonical accumulation and reduction, lane by lane.
static float dot_canonical_scalar(const float *w, const float *x, int n) {
    float a[4][16] = {{0}};
    int nb = n / 32;
    for (int b = 0; b < nb; b++) {
        float *lo = a[2 * (b & 1)], *hi = a[2 * (b & 1) + 1];
        const float *wb = w + 32 * b, *xb = x + 32 * b;
        for (int i = 0; i < 16; i++) {
            lo[i] = fmaf(wb[i], xb[i], lo[i]);
            hi[i] = fmaf(wb[16 + i], xb[16 + i], hi[i]);
        }
    }
    float s[16], s8[8], s4[4];
    for (int i = 0; i < 16; i++) s[i] = (a[0][i] + a[1][i]) + (a[2][i] + a[3][i]);
    for (int i = 0; i < 8; i++) s8[i] = s[i] + s[i + 8];
    for (int i = 0; i < 4; i++) s4[i] = s8[i] + s8[i + 4];
    float r = (s4[0] + s4[1]) + (s4[2] + s4[3]);
    for (int i = nb * 32; i < n; i++) r = fmaf(w[i], x[i], r);
    return r;
}

// ---- instruction set selection ----

static int best_level = -1, current_level = -1;

static int detect(void) {
#ifdef CK_X86
    __builtin_cpu_init();
    if (!(__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c"))) return 0;
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
        __builtin_cpu_supports("avx512vl"))
        return 2;
    return 1;
#else
    return 0;
#endif
}

int ck_level(void) {
    if (current_level < 0) {
        best_level = detect();
        current_level = best_level;
    }
    return current_level;
}

int ck_set_level(int level) {
    ck_level();
    current_level = level < 0 ? 0 : level > best_level ? best_level : level;
    return current_level;
}

#ifdef CK_X86
// ---- AVX2 (16 canonical lanes as two 8-lane halves) ----
#define T256 __attribute__((target("avx2,fma,f16c")))

typedef struct { __m256 l0, l1, h0, h1; } w256;

static inline T256 float hsum8(__m256 v) {
    __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    __m128 sh = _mm_movehdup_ps(s4);
    __m128 p = _mm_add_ps(s4, sh);
    __m128 hi = _mm_movehl_ps(sh, p);
    return _mm_cvtss_f32(_mm_add_ss(p, hi));
}

static inline T256 float f16_1(const uint8_t *p) { return _cvtsh_ss(load_u16(p)); }

static inline T256 w256 dq256(int type, const uint8_t *p) {
    w256 w;
    switch (type) {
    case T_Q4_1: {
        __m128i qs = _mm_loadu_si128((const __m128i *)(p + 4)), mask = _mm_set1_epi8(0x0F);
        __m128i lo = _mm_and_si128(qs, mask), hi = _mm_and_si128(_mm_srli_epi16(qs, 4), mask);
        uint32_t dm;
        memcpy(&dm, p, 4);
        __m128 dmf = _mm_cvtph_ps(_mm_cvtsi32_si128((int)dm));
        __m256 d = _mm256_broadcastss_ps(dmf), m = _mm256_broadcastss_ps(_mm_movehdup_ps(dmf));
        w.l0 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(lo)), d, m);
        w.l1 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_srli_si128(lo, 8))), d, m);
        w.h0 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(hi)), d, m);
        w.h1 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_srli_si128(hi, 8))), d, m);
        break;
    }
    case T_Q4_0: {
        __m128i qs = _mm_loadu_si128((const __m128i *)(p + 2)), mask = _mm_set1_epi8(0x0F), eight = _mm_set1_epi8(8);
        __m128i lo = _mm_sub_epi8(_mm_and_si128(qs, mask), eight), hi = _mm_sub_epi8(_mm_and_si128(_mm_srli_epi16(qs, 4), mask), eight);
        __m256 d = _mm256_set1_ps(f16_1(p));
        w.l0 = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(lo)), d);
        w.l1 = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(lo, 8))), d);
        w.h0 = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(hi)), d);
        w.h1 = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(hi, 8))), d);
        break;
    }
    case T_Q8_0: {
        __m128i a = _mm_loadu_si128((const __m128i *)(p + 2)), c = _mm_loadu_si128((const __m128i *)(p + 18));
        __m256 d = _mm256_set1_ps(f16_1(p));
        w.l0 = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(a)), d);
        w.l1 = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(a, 8))), d);
        w.h0 = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(c)), d);
        w.h1 = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(c, 8))), d);
        break;
    }
    case T_F16:
        w.l0 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p));
        w.l1 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(p + 16)));
        w.h0 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(p + 32)));
        w.h1 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(p + 48)));
        break;
    default: {  // F32, and dequantized rows
        const float *f = (const float *)p;
        w.l0 = _mm256_loadu_ps(f);
        w.l1 = _mm256_loadu_ps(f + 8);
        w.h0 = _mm256_loadu_ps(f + 16);
        w.h1 = _mm256_loadu_ps(f + 24);
    }
    }
    return w;
}

// `type` is a compile-time constant at every call site after inlining, so the switch disappears.
static inline __attribute__((always_inline)) T256 float dot256(int type, size_t bb, const uint8_t *p, const float *x, int n) {
    __m256 a00 = _mm256_setzero_ps(), a01 = a00, a10 = a00, a11 = a00, a20 = a00, a21 = a00, a30 = a00, a31 = a00;
    int nb = n / 32, b = 0;
    for (; b + 1 < nb; b += 2) {
        const float *xb = x + 32 * b;
        w256 w = dq256(type, p + (size_t)b * bb);
        a00 = _mm256_fmadd_ps(w.l0, _mm256_loadu_ps(xb), a00);
        a01 = _mm256_fmadd_ps(w.l1, _mm256_loadu_ps(xb + 8), a01);
        a10 = _mm256_fmadd_ps(w.h0, _mm256_loadu_ps(xb + 16), a10);
        a11 = _mm256_fmadd_ps(w.h1, _mm256_loadu_ps(xb + 24), a11);
        w = dq256(type, p + (size_t)(b + 1) * bb);
        a20 = _mm256_fmadd_ps(w.l0, _mm256_loadu_ps(xb + 32), a20);
        a21 = _mm256_fmadd_ps(w.l1, _mm256_loadu_ps(xb + 40), a21);
        a30 = _mm256_fmadd_ps(w.h0, _mm256_loadu_ps(xb + 48), a30);
        a31 = _mm256_fmadd_ps(w.h1, _mm256_loadu_ps(xb + 56), a31);
    }
    if (b < nb) {
        const float *xb = x + 32 * b;
        w256 w = dq256(type, p + (size_t)b * bb);
        a00 = _mm256_fmadd_ps(w.l0, _mm256_loadu_ps(xb), a00);
        a01 = _mm256_fmadd_ps(w.l1, _mm256_loadu_ps(xb + 8), a01);
        a10 = _mm256_fmadd_ps(w.h0, _mm256_loadu_ps(xb + 16), a10);
        a11 = _mm256_fmadd_ps(w.h1, _mm256_loadu_ps(xb + 24), a11);
    }
    __m256 s0 = _mm256_add_ps(_mm256_add_ps(a00, a10), _mm256_add_ps(a20, a30));
    __m256 s1 = _mm256_add_ps(_mm256_add_ps(a01, a11), _mm256_add_ps(a21, a31));
    return hsum8(_mm256_add_ps(s0, s1));
}

static T256 float dot256_q4_1(const uint8_t *p, const float *x, int n) { return dot256(T_Q4_1, 20, p, x, n); }
static T256 float dot256_q4_0(const uint8_t *p, const float *x, int n) { return dot256(T_Q4_0, 18, p, x, n); }
static T256 float dot256_q8_0(const uint8_t *p, const float *x, int n) { return dot256(T_Q8_0, 34, p, x, n); }
static T256 float dot256_f16(const uint8_t *p, const float *x, int n) { return dot256(T_F16, 64, p, x, n); }
static T256 float dot256_f32(const uint8_t *p, const float *x, int n) { return dot256(T_F32, 128, p, x, n); }

static T256 void dq256_row(int type, const uint8_t *row, int n, float *out) {
    size_t bb = block_bytes(type);
    for (int b = 0; b < n / 32; b++) {
        w256 w;
        switch (type) {
        case T_Q4_1: w = dq256(T_Q4_1, row + (size_t)b * bb); break;
        case T_Q4_0: w = dq256(T_Q4_0, row + (size_t)b * bb); break;
        case T_Q8_0: w = dq256(T_Q8_0, row + (size_t)b * bb); break;
        default: w = dq256(T_F16, row + (size_t)b * bb); break;
        }
        _mm256_storeu_ps(out + 32 * b, w.l0);
        _mm256_storeu_ps(out + 32 * b + 8, w.l1);
        _mm256_storeu_ps(out + 32 * b + 16, w.h0);
        _mm256_storeu_ps(out + 32 * b + 24, w.h1);
    }
}

// One dequantized row against two tokens, sharing the row's loads: even blocks first, then odd blocks. Each
// accumulator still sees its blocks in order and the sums are dot256's, so the results are dot256_f32's bits.
static T256 void dot256_1x2(const float *w, const float *x0, const float *x1, int n, float *y0, float *y1) {
    int nb = n / 32;
    __m256 e[8], o[8];
    for (int pass = 0; pass < 2; pass++) {
        __m256 a0l0 = _mm256_setzero_ps(), a0l1 = a0l0, a0h0 = a0l0, a0h1 = a0l0, a1l0 = a0l0, a1l1 = a0l0, a1h0 = a0l0, a1h1 = a0l0;
        for (int b = pass; b < nb; b += 2) {
            const float *wb = w + 32 * (size_t)b, *p0 = x0 + 32 * (size_t)b, *p1 = x1 + 32 * (size_t)b;
            __m256 wl0 = _mm256_loadu_ps(wb), wl1 = _mm256_loadu_ps(wb + 8), wh0 = _mm256_loadu_ps(wb + 16), wh1 = _mm256_loadu_ps(wb + 24);
            a0l0 = _mm256_fmadd_ps(wl0, _mm256_loadu_ps(p0), a0l0);
            a0l1 = _mm256_fmadd_ps(wl1, _mm256_loadu_ps(p0 + 8), a0l1);
            a0h0 = _mm256_fmadd_ps(wh0, _mm256_loadu_ps(p0 + 16), a0h0);
            a0h1 = _mm256_fmadd_ps(wh1, _mm256_loadu_ps(p0 + 24), a0h1);
            a1l0 = _mm256_fmadd_ps(wl0, _mm256_loadu_ps(p1), a1l0);
            a1l1 = _mm256_fmadd_ps(wl1, _mm256_loadu_ps(p1 + 8), a1l1);
            a1h0 = _mm256_fmadd_ps(wh0, _mm256_loadu_ps(p1 + 16), a1h0);
            a1h1 = _mm256_fmadd_ps(wh1, _mm256_loadu_ps(p1 + 24), a1h1);
        }
        __m256 *out = pass == 0 ? e : o;
        out[0] = a0l0; out[1] = a0l1; out[2] = a0h0; out[3] = a0h1;
        out[4] = a1l0; out[5] = a1l1; out[6] = a1h0; out[7] = a1h1;
    }
    for (int t = 0; t < 2; t++) {
        // dot256: s0 = (a00 + a10) + (a20 + a30), s1 = (a01 + a11) + (a21 + a31), then hsum8(s0 + s1).
        __m256 s0 = _mm256_add_ps(_mm256_add_ps(e[4 * t], e[4 * t + 2]), _mm256_add_ps(o[4 * t], o[4 * t + 2]));
        __m256 s1 = _mm256_add_ps(_mm256_add_ps(e[4 * t + 1], e[4 * t + 3]), _mm256_add_ps(o[4 * t + 1], o[4 * t + 3]));
        *(t == 0 ? y0 : y1) = hsum8(_mm256_add_ps(s0, s1));
    }
}

// ---- AVX-512 (16 canonical lanes in one register) ----
#define T512 __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,avx2,fma,f16c")))

typedef struct { __m512 lo, hi; } w512;

static inline T512 float reduce512(__m512 a0, __m512 a1, __m512 a2, __m512 a3) {
    __m512 s = _mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3));
    __m256 s8 = _mm256_add_ps(_mm512_castps512_ps256(s), _mm512_extractf32x8_ps(s, 1));
    __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(s8), _mm256_extractf128_ps(s8, 1));
    __m128 sh = _mm_movehdup_ps(s4);
    __m128 p = _mm_add_ps(s4, sh);
    __m128 hi = _mm_movehl_ps(sh, p);
    return _mm_cvtss_f32(_mm_add_ss(p, hi));
}

static inline T512 __m512 iota16(void) { return _mm512_setr_ps(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15); }

static inline __attribute__((always_inline)) T512 w512 dq512(int type, const uint8_t *p) {
    w512 w;
    switch (type) {
    // 4-bit formats: the block's 16 possible weights as a table, looked up by vpermps (which reads only
    // the low 4 bits of each index lane, so the high nibble needs no masking).
    case T_Q4_1: {
        uint32_t dm;
        memcpy(&dm, p, 4);
        __m128 dmf = _mm_cvtph_ps(_mm_cvtsi32_si128((int)dm));
        __m512 table = _mm512_fmadd_ps(iota16(), _mm512_broadcastss_ps(dmf), _mm512_broadcastss_ps(_mm_movehdup_ps(dmf)));
        __m512i q32 = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(p + 4)));
        w.lo = _mm512_permutexvar_ps(q32, table);
        w.hi = _mm512_permutexvar_ps(_mm512_srli_epi32(q32, 4), table);
        break;
    }
    case T_Q4_0: {
        __m512 table = _mm512_mul_ps(_mm512_sub_ps(iota16(), _mm512_set1_ps(8.0f)), _mm512_set1_ps(_cvtsh_ss(load_u16(p))));
        __m512i q32 = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(p + 2)));
        w.lo = _mm512_permutexvar_ps(q32, table);
        w.hi = _mm512_permutexvar_ps(_mm512_srli_epi32(q32, 4), table);
        break;
    }
    case T_Q8_0: {
        __m512 d = _mm512_set1_ps(_cvtsh_ss(load_u16(p)));
        w.lo = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(p + 2)))), d);
        w.hi = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(p + 18)))), d);
        break;
    }
    case T_F16:
        w.lo = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)p));
        w.hi = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(p + 32)));
        break;
    default:
        w.lo = _mm512_loadu_ps((const float *)p);
        w.hi = _mm512_loadu_ps((const float *)p + 16);
    }
    return w;
}

static inline __attribute__((always_inline)) T512 float dot512(int type, size_t bb, const uint8_t *p, const float *x, int n) {
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    int nb = n / 32, b = 0;
    for (; b + 1 < nb; b += 2) {
        const float *xb = x + 32 * b;
        w512 w = dq512(type, p + (size_t)b * bb);
        a0 = _mm512_fmadd_ps(w.lo, _mm512_loadu_ps(xb), a0);
        a1 = _mm512_fmadd_ps(w.hi, _mm512_loadu_ps(xb + 16), a1);
        w = dq512(type, p + (size_t)(b + 1) * bb);
        a2 = _mm512_fmadd_ps(w.lo, _mm512_loadu_ps(xb + 32), a2);
        a3 = _mm512_fmadd_ps(w.hi, _mm512_loadu_ps(xb + 48), a3);
    }
    if (b < nb) {
        w512 w = dq512(type, p + (size_t)b * bb);
        a0 = _mm512_fmadd_ps(w.lo, _mm512_loadu_ps(x + 32 * b), a0);
        a1 = _mm512_fmadd_ps(w.hi, _mm512_loadu_ps(x + 32 * b + 16), a1);
    }
    return reduce512(a0, a1, a2, a3);
}

static T512 float dot512_q4_1(const uint8_t *p, const float *x, int n) { return dot512(T_Q4_1, 20, p, x, n); }
static T512 float dot512_q4_0(const uint8_t *p, const float *x, int n) { return dot512(T_Q4_0, 18, p, x, n); }
static T512 float dot512_q8_0(const uint8_t *p, const float *x, int n) { return dot512(T_Q8_0, 34, p, x, n); }
static T512 float dot512_f16(const uint8_t *p, const float *x, int n) { return dot512(T_F16, 64, p, x, n); }
static T512 float dot512_f32(const uint8_t *p, const float *x, int n) { return dot512(T_F32, 128, p, x, n); }

static T512 void dq512_row(int type, const uint8_t *row, int n, float *out) {
    size_t bb = block_bytes(type);
    for (int b = 0; b < n / 32; b++) {
        w512 w;
        switch (type) {
        case T_Q4_1: w = dq512(T_Q4_1, row + (size_t)b * bb); break;
        case T_Q4_0: w = dq512(T_Q4_0, row + (size_t)b * bb); break;
        case T_Q8_0: w = dq512(T_Q8_0, row + (size_t)b * bb); break;
        default: w = dq512(T_F16, row + (size_t)b * bb); break;
        }
        _mm512_storeu_ps(out + 32 * b, w.lo);
        _mm512_storeu_ps(out + 32 * b + 16, w.hi);
    }
}

// Two dequantized rows against four tokens: eight dot products sharing every load. Even blocks are summed
// first, then odd blocks; each canonical accumulator still sees its blocks in order, so the results are
// the same bits as dot512's.
#define FMA8(A, OFF)                                                                                          \
    do {                                                                                                     \
        __m512 w0l = _mm512_loadu_ps(w0 + (OFF)), w0h = _mm512_loadu_ps(w0 + (OFF) + 16);                    \
        __m512 w1l = _mm512_loadu_ps(w1 + (OFF)), w1h = _mm512_loadu_ps(w1 + (OFF) + 16);                    \
        __m512 xl, xh;                                                                                       \
        xl = _mm512_loadu_ps(x0 + (OFF)); xh = _mm512_loadu_ps(x0 + (OFF) + 16);                             \
        A##00l = _mm512_fmadd_ps(w0l, xl, A##00l); A##00h = _mm512_fmadd_ps(w0h, xh, A##00h);               \
        A##10l = _mm512_fmadd_ps(w1l, xl, A##10l); A##10h = _mm512_fmadd_ps(w1h, xh, A##10h);               \
        xl = _mm512_loadu_ps(x1 + (OFF)); xh = _mm512_loadu_ps(x1 + (OFF) + 16);                             \
        A##01l = _mm512_fmadd_ps(w0l, xl, A##01l); A##01h = _mm512_fmadd_ps(w0h, xh, A##01h);               \
        A##11l = _mm512_fmadd_ps(w1l, xl, A##11l); A##11h = _mm512_fmadd_ps(w1h, xh, A##11h);               \
        xl = _mm512_loadu_ps(x2 + (OFF)); xh = _mm512_loadu_ps(x2 + (OFF) + 16);                             \
        A##02l = _mm512_fmadd_ps(w0l, xl, A##02l); A##02h = _mm512_fmadd_ps(w0h, xh, A##02h);               \
        A##12l = _mm512_fmadd_ps(w1l, xl, A##12l); A##12h = _mm512_fmadd_ps(w1h, xh, A##12h);               \
        xl = _mm512_loadu_ps(x3 + (OFF)); xh = _mm512_loadu_ps(x3 + (OFF) + 16);                             \
        A##03l = _mm512_fmadd_ps(w0l, xl, A##03l); A##03h = _mm512_fmadd_ps(w0h, xh, A##03h);               \
        A##13l = _mm512_fmadd_ps(w1l, xl, A##13l); A##13h = _mm512_fmadd_ps(w1h, xh, A##13h);               \
    } while (0)

#define ZERO8(A) __m512 A##00l = _mm512_setzero_ps(), A##00h = A##00l, A##01l = A##00l, A##01h = A##00l, \
    A##02l = A##00l, A##02h = A##00l, A##03l = A##00l, A##03h = A##00l, A##10l = A##00l, A##10h = A##00l, \
    A##11l = A##00l, A##11h = A##00l, A##12l = A##00l, A##12h = A##00l, A##13l = A##00l, A##13h = A##00l

static T512 void dot512_2x4(const float *w0, const float *w1, const float *x, int n, float *y, size_t y_stride) {
    const float *x0 = x, *x1 = x + n, *x2 = x + 2 * (size_t)n, *x3 = x + 3 * (size_t)n;
    int nb = n / 32;
    __m512 even[8];
    {
        ZERO8(e);
        for (int b = 0; b < nb; b += 2) FMA8(e, 32 * (size_t)b);
        even[0] = _mm512_add_ps(e00l, e00h); even[1] = _mm512_add_ps(e01l, e01h);
        even[2] = _mm512_add_ps(e02l, e02h); even[3] = _mm512_add_ps(e03l, e03h);
        even[4] = _mm512_add_ps(e10l, e10h); even[5] = _mm512_add_ps(e11l, e11h);
        even[6] = _mm512_add_ps(e12l, e12h); even[7] = _mm512_add_ps(e13l, e13h);
    }
    ZERO8(o);
    for (int b = 1; b < nb; b += 2) FMA8(o, 32 * (size_t)b);
    __m512 odd[8] = {
        _mm512_add_ps(o00l, o00h), _mm512_add_ps(o01l, o01h), _mm512_add_ps(o02l, o02h), _mm512_add_ps(o03l, o03h),
        _mm512_add_ps(o10l, o10h), _mm512_add_ps(o11l, o11h), _mm512_add_ps(o12l, o12h), _mm512_add_ps(o13l, o13h)};
    for (int i = 0; i < 8; i++) {
        // reduce512(a0, a1, a2, a3) computes (a0 + a1) + (a2 + a3) first; do the same from the two halves.
        __m512 s = _mm512_add_ps(even[i], odd[i]);
        __m256 s8 = _mm256_add_ps(_mm512_castps512_ps256(s), _mm512_extractf32x8_ps(s, 1));
        __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(s8), _mm256_extractf128_ps(s8, 1));
        __m128 sh = _mm_movehdup_ps(s4);
        __m128 p = _mm_add_ps(s4, sh);
        __m128 hi = _mm_movehl_ps(sh, p);
        y[(size_t)(i & 3) * y_stride + (size_t)(i >> 2)] = _mm_cvtss_f32(_mm_add_ss(p, hi));
    }
}
#endif

// ---- dispatch ----

typedef float (*dot_fn)(const uint8_t *, const float *, int);

static float dot_f32_row_scalar(const uint8_t *w, const float *x, int n) { return dot_canonical_scalar((const float *)w, x, n); }

// The fused (dequantize in registers) dot product for this type, or NULL when the row must be dequantized first.
static dot_fn fused(int type, int level) {
#ifdef CK_X86
    if (level == 2) {
        switch (type) {
        case T_Q4_1: return dot512_q4_1;
        case T_Q4_0: return dot512_q4_0;
        case T_Q8_0: return dot512_q8_0;
        case T_F16: return dot512_f16;
        case T_F32: return dot512_f32;
        }
    } else if (level == 1) {
        switch (type) {
        case T_Q4_1: return dot256_q4_1;
        case T_Q4_0: return dot256_q4_0;
        case T_Q8_0: return dot256_q8_0;
        case T_F16: return dot256_f16;
        case T_F32: return dot256_f32;
        }
    }
#endif
    (void)type;
    (void)level;
    return NULL;
}

// The dot product of a dequantized (f32) row.
static dot_fn f32_dot(int level) {
#ifdef CK_X86
    if (level == 2) return dot512_f32;
    if (level == 1) return dot256_f32;
#endif
    (void)level;
    return dot_f32_row_scalar;
}

void ck_dequantize_row(int type, const void *row, int n, float *out) {
    int level = ck_level();
#ifdef CK_X86
    if (fused(type, level) != NULL && type != T_F32) {
        if (level == 2) dq512_row(type, (const uint8_t *)row, n, out);
        else dq256_row(type, (const uint8_t *)row, n, out);
        return;
    }
#endif
    (void)level;
    dequantize_scalar(type, (const uint8_t *)row, n, out);
}

float ck_dot_f32(const float *a, const float *b, int n) {
    int full = n - n % 32;
    float r = full > 0 ? f32_dot(ck_level())((const uint8_t *)a, b, full) : 0.0f;
    for (int i = full; i < n; i++) r = fmaf(a[i], b[i], r);
    return r;
}

void ck_matmul(int type, const void *w, size_t row_bytes, int r0, int r1, int n, const float *x, int ntok, float *y, size_t y_stride) {
    const uint8_t *base = (const uint8_t *)w;
    int level = ck_level();
    dot_fn f = fused(type, level), g = f32_dot(level);
    if (ntok == 1 && f != NULL) {
        for (int r = r0; r < r1; r++) y[r] = f(base + (size_t)r * row_bytes, x, n);
        return;
    }
    // Dequantize a tile of rows once, then run every token over it.
    int tile = (int)(262144 / ((size_t)n * sizeof(float)));
    if (tile < 1) tile = 1;
    if (tile > 32) tile = 32;
    if (tile > r1 - r0) tile = r1 - r0;
    if (tile <= 0) return;
    float *buf = (float *)malloc((size_t)tile * (size_t)n * sizeof(float));
    if (buf == NULL) abort();
    for (int rt = r0; rt < r1; rt += tile) {
        int rows = r1 - rt < tile ? r1 - rt : tile;
        for (int i = 0; i < rows; i++) {
            if (type == T_F32) memcpy(buf + (size_t)i * n, base + (size_t)(rt + i) * row_bytes, (size_t)n * sizeof(float));
            else ck_dequantize_row(type, base + (size_t)(rt + i) * row_bytes, n, buf + (size_t)i * n);
        }
        int t = 0;
#ifdef CK_X86
        if (level == 2) {
            for (; t + 4 <= ntok; t += 4) {
                int i = 0;
                for (; i + 2 <= rows; i += 2)
                    dot512_2x4(buf + (size_t)i * n, buf + (size_t)(i + 1) * n, x + (size_t)t * n, n, y + t * y_stride + rt + i, y_stride);
                for (; i < rows; i++)
                    for (int k = 0; k < 4; k++) y[(t + k) * y_stride + rt + i] = g((const uint8_t *)(buf + (size_t)i * n), x + (size_t)(t + k) * n, n);
            }
        }
#endif
        // Up to 8 tokens against each row in turn: the row and the tokens stay in L1 while their products are taken
        // (the tile of rows does not fit there), two tokens per pass over the row with AVX2. Each product is the same
        // canonical dot product, in any order.
        for (; t < ntok; t += 8) {
            int tn = ntok - t < 8 ? ntok - t : 8;
            for (int i = 0; i < rows; i++) {
                const float *wr = buf + (size_t)i * n;
                int k = 0;
#ifdef CK_X86
                if (level == 1)
                    for (; k + 2 <= tn; k += 2)
                        dot256_1x2(wr, x + (size_t)(t + k) * n, x + (size_t)(t + k + 1) * n, n, y + (t + k) * y_stride + rt + i,
                                   y + (t + k + 1) * y_stride + rt + i);
#endif
                for (; k < tn; k++) y[(t + k) * y_stride + rt + i] = g((const uint8_t *)wr, x + (size_t)(t + k) * n, n);
            }
        }
    }
    free(buf);
}

// ---- quantization (ggml's reference rules) ----

void ck_quantize_row_q8_0(const float *x, int n, void *out) {
    uint8_t *p = (uint8_t *)out;
    for (int b = 0; b < n / 32; b++, p += 34, x += 32) {
        float amax = 0;
        for (int j = 0; j < 32; j++) amax = fmaxf(amax, fabsf(x[j]));
        float d = amax / 127.0f, id = d != 0 ? 1.0f / d : 0.0f;
        uint16_t h = float_to_half(d);
        memcpy(p, &h, 2);
        for (int j = 0; j < 32; j++) p[2 + j] = (uint8_t)(int8_t)(int)roundf(x[j] * id);
    }
}

void ck_quantize_row_q4_1(const float *x, int n, void *out) {
    uint8_t *p = (uint8_t *)out;
    for (int b = 0; b < n / 32; b++, p += 20, x += 32) {
        float lo = FLT_MAX, hi = -FLT_MAX;
        for (int j = 0; j < 32; j++) {
            if (x[j] < lo) lo = x[j];
            if (x[j] > hi) hi = x[j];
        }
        float d = (hi - lo) / 15.0f, id = d != 0 ? 1.0f / d : 0.0f;
        uint16_t hd = float_to_half(d), hm = float_to_half(lo);
        memcpy(p, &hd, 2);
        memcpy(p + 2, &hm, 2);
        for (int j = 0; j < 16; j++) {
            int q0 = (int)((x[j] - lo) * id + 0.5f), q1 = (int)((x[16 + j] - lo) * id + 0.5f);
            if (q0 > 15) q0 = 15;
            if (q1 > 15) q1 = 15;
            p[4 + j] = (uint8_t)(q0 | (q1 << 4));
        }
    }
}
