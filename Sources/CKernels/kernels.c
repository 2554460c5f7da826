// Quantized dot-product kernels for the NodeKit engine. The engine itself is Swift; these are the few
// inner loops Swift's SIMD types cannot yet compile to good x86 code (integer widening to float).
#include "ckernels.h"
#include <stdint.h>
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#define CK_X86 1
#endif

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

static uint16_t load_u16(const uint8_t *p) { uint16_t v; memcpy(&v, p, 2); return v; }

// ---- portable versions ----

static float dot_q4_1_scalar(const void *row, const float *x, int n) {
    const uint8_t *p = (const uint8_t *)row;
    float total = 0;
    for (int b = 0; b < n / 32; b++, p += 20) {
        float d = half_to_float(load_u16(p)), m = half_to_float(load_u16(p + 2));
        float qx = 0, sx = 0;
        for (int j = 0; j < 16; j++) {
            qx += (float)(p[4 + j] & 0x0F) * x[b * 32 + j] + (float)(p[4 + j] >> 4) * x[b * 32 + 16 + j];
            sx += x[b * 32 + j] + x[b * 32 + 16 + j];
        }
        total += d * qx + m * sx;
    }
    return total;
}

static float dot_q8_0_scalar(const void *row, const float *x, int n) {
    const uint8_t *p = (const uint8_t *)row;
    float total = 0;
    for (int b = 0; b < n / 32; b++, p += 34) {
        float d = half_to_float(load_u16(p));
        float s = 0;
        for (int j = 0; j < 32; j++) s += (float)(int8_t)p[2 + j] * x[b * 32 + j];
        total += d * s;
    }
    return total;
}

static float dot_f32_scalar(const float *a, const float *b, int n) {
    float s = 0;
    for (int i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

#ifdef CK_X86
__attribute__((target("avx2,fma"))) static float hsum(__m256 v) {
    __m128 lo = _mm256_castps256_ps128(v), hi = _mm256_extractf128_ps(v, 1);
    lo = _mm_add_ps(lo, hi);
    __m128 sh = _mm_movehdup_ps(lo);
    __m128 sums = _mm_add_ps(lo, sh);
    sh = _mm_movehl_ps(sh, sums);
    sums = _mm_add_ss(sums, sh);
    return _mm_cvtss_f32(sums);
}

__attribute__((target("avx2,fma,f16c"))) static float dot_q4_1_avx2(const void *row, const float *x, int n) {
    const uint8_t *p = (const uint8_t *)row;
    __m256 total = _mm256_setzero_ps();
    const __m128i mask = _mm_set1_epi8(0x0F);
    for (int b = 0; b < n / 32; b++, p += 20) {
        // d and m, the block's two f16s, converted together.
        uint32_t dm;
        memcpy(&dm, p, 4);
        __m128 dmf = _mm_cvtph_ps(_mm_cvtsi32_si128((int)dm));
        __m128i qs = _mm_loadu_si128((const __m128i *)(p + 4));
        __m128i lo = _mm_and_si128(qs, mask);
        __m128i hi = _mm_and_si128(_mm_srli_epi16(qs, 4), mask);
        const float *xb = x + b * 32;
        __m256 q0 = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(lo));
        __m256 q1 = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_srli_si128(lo, 8)));
        __m256 q2 = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(hi));
        __m256 q3 = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_srli_si128(hi, 8)));
        __m256 x0 = _mm256_loadu_ps(xb), x1 = _mm256_loadu_ps(xb + 8), x2 = _mm256_loadu_ps(xb + 16), x3 = _mm256_loadu_ps(xb + 24);
        __m256 qx = _mm256_mul_ps(q0, x0);
        qx = _mm256_fmadd_ps(q1, x1, qx);
        qx = _mm256_fmadd_ps(q2, x2, qx);
        qx = _mm256_fmadd_ps(q3, x3, qx);
        __m256 sx = _mm256_add_ps(_mm256_add_ps(x0, x1), _mm256_add_ps(x2, x3));
        total = _mm256_fmadd_ps(_mm256_broadcastss_ps(dmf), qx, total);
        total = _mm256_fmadd_ps(_mm256_broadcastss_ps(_mm_movehdup_ps(dmf)), sx, total);
    }
    return hsum(total);
}

__attribute__((target("avx2,fma,f16c"))) static float dot_q8_0_avx2(const void *row, const float *x, int n) {
    const uint8_t *p = (const uint8_t *)row;
    __m256 total = _mm256_setzero_ps();
    for (int b = 0; b < n / 32; b++, p += 34) {
        const float *xb = x + b * 32;
        __m128i a = _mm_loadu_si128((const __m128i *)(p + 2)), c = _mm_loadu_si128((const __m128i *)(p + 18));
        __m256 s = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(a)), _mm256_loadu_ps(xb));
        s = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(a, 8))), _mm256_loadu_ps(xb + 8), s);
        s = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(c)), _mm256_loadu_ps(xb + 16), s);
        s = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(c, 8))), _mm256_loadu_ps(xb + 24), s);
        uint16_t h = load_u16(p);
        __m128 d = _mm_cvtph_ps(_mm_cvtsi32_si128(h));
        total = _mm256_fmadd_ps(_mm256_broadcastss_ps(d), s, total);
    }
    return hsum(total);
}

__attribute__((target("avx2,fma"))) static float dot_f32_avx2(const float *a, const float *b, int n) {
    __m256 acc = _mm256_setzero_ps();
    int i = 0;
    for (; i + 8 <= n; i += 8) acc = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc);
    float s = hsum(acc);
    for (; i < n; i++) s += a[i] * b[i];
    return s;
}

static int avx2_state = -1;
int ck_has_avx2(void) {
    if (avx2_state < 0) {
        __builtin_cpu_init();
        avx2_state = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
    }
    return avx2_state;
}
#else
int ck_has_avx2(void) { return 0; }
#endif

float ck_dot_q4_1(const void *row, const float *x, int n) {
#ifdef CK_X86
    if (ck_has_avx2()) return dot_q4_1_avx2(row, x, n);
#endif
    return dot_q4_1_scalar(row, x, n);
}

float ck_dot_q8_0(const void *row, const float *x, int n) {
#ifdef CK_X86
    if (ck_has_avx2()) return dot_q8_0_avx2(row, x, n);
#endif
    return dot_q8_0_scalar(row, x, n);
}

float ck_dot_f32(const float *a, const float *b, int n) {
#ifdef CK_X86
    if (ck_has_avx2()) return dot_f32_avx2(a, b, n);
#endif
    return dot_f32_scalar(a, b, n);
}
