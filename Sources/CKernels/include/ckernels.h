#ifndef CKERNELS_H
#define CKERNELS_H
#include <stddef.h>
#include <stdint.h>

// Matrix kernels of the NodeKit engine. Weight types use ggml's ids: F32 0, F16 1, Q4_0 2, Q4_1 3, Q5_0 6,
// Q8_0 8, Q4_K 12, Q6_K 14, BF16 30.
//
// Every dot product follows one canonical order, whichever instruction set runs it: weights are
// dequantized to f32 (fused multiply-add where the format has an offset), then accumulated with fused
// multiply-adds into four 16-lane accumulators (block b of 32 weights: its first 16 into accumulator
// 2*(b%2), its last 16 into 2*(b%2)+1), which are summed as (a0+a1)+(a2+a3) and reduced by a fixed tree.
// The AVX-512, AVX2 and portable paths therefore return bit-identical results, and so do one token and a
// batch of tokens.

/// Whether ck_matmul and ck_dequantize_row accept this weight type.
int ck_supports(int type);

/// y[t * y_stride + r] = (row r of w) · x[t * n ..< (t + 1) * n] for rows r0 ..< r1 and tokens t < ntok.
/// Rows are row_bytes apart; n is a multiple of the type's block size (32, or 256 for K-quants).
void ck_matmul(int type, const void *w, size_t row_bytes, int r0, int r1, int n, const float *x, int ntok, float *y,
               size_t y_stride);

/// One row of n weights as f32 (the exact values the dot products use).
void ck_dequantize_row(int type, const void *row, int n, float *out);

/// The canonical dot product of two f32 vectors of any length (a tail past the last 32 is added in order).
float ck_dot_f32(const float *a, const float *b, int n);

/// Quantizes n floats (a multiple of 32) to Q8_0 blocks as ggml does (scale = max |x| / 127, round half away).
void ck_quantize_row_q8_0(const float *x, int n, void *out);
/// Quantizes n floats (a multiple of 32) to Q4_1 blocks as ggml does (scale = (max - min) / 15, minimum).
void ck_quantize_row_q4_1(const float *x, int n, void *out);

/// Selects the instruction set: 0 portable, 1 AVX2+FMA+F16C, 2 AVX-512; capped at what the CPU has.
/// Returns the level in use. For tests and benchmarks; the default is the best available.
int ck_set_level(int level);
/// The instruction set level in use (see ck_set_level).
int ck_level(void);

#endif
