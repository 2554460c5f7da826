#ifndef CKERNELS_H
#define CKERNELS_H
#include <stddef.h>

/// Dot products of one quantized row with f32 activations; n is a multiple of 32. Each function uses AVX2,
/// FMA and F16C when the CPU has them and a portable loop otherwise; either way the summation order is fixed, so the
/// result for a given input never changes between runs or thread counts.
float ck_dot_q4_1(const void *row, const float *x, int n);
float ck_dot_q8_0(const void *row, const float *x, int n);
float ck_dot_f32(const float *a, const float *b, int n);
/// Whether the AVX2 paths are in use.
int ck_has_avx2(void);

#endif
