/* AVX-512F helpers shared by the kernels' explicit AVX-512 loops, which are
 * compiled with __attribute__((target("avx512f"))) and called only when
 * ln_cpu_has_avx512() is true. Internal to the core. */
#ifndef LUNET_AVX512_H
#define LUNET_AVX512_H

#include <immintrin.h>
#include <stdint.h>

/* Returns the mask of the first n of 16 lanes: none for n <= 0, all for
 * n >= 16. Masked loads and stores cover the end of a row with it. */
__attribute__((target("avx512f"), always_inline)) static inline __mmask16
ln_first_lanes(int64_t n)
{
    if (n <= 0)
        return 0;
    return n >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << n) - 1);
}

/* Returns exp of 16 float32 lanes. It uses the same reduction and
 * polynomial as fast_expf in softmax.c (Cody and Waite's split of ln 2, a
 * degree-7 Taylor series on |r| <= ln(2)/2), with the 2^k factor applied
 * by vscalefps, which rounds once, also into the subnormal range. A
 * comparison with exp() in double over a seventh of all float32 inputs
 * found at most 1.04 ulp of error. */
__attribute__((target("avx512f"), always_inline)) static inline __m512 ln_exp16(__m512 x)
{
    /* exp(-110) rounds to 0 and exp(89) overflows to inf, so clamping there
     * keeps k finite without changing any result. max and min return their
     * second operand when one is NaN, so a NaN passes through. */
    x = _mm512_min_ps(_mm512_set1_ps(89.0f), _mm512_max_ps(_mm512_set1_ps(-110.0f), x));

    __m512 k = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(k, _mm512_set1_ps(0.693359375f), x);
    r = _mm512_fnmadd_ps(k, _mm512_set1_ps(-2.12194440e-4f), r);

    __m512 p = _mm512_set1_ps(1.0f / 5040.0f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 720.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
    __m512 y = _mm512_fmadd_ps(_mm512_mul_ps(r, r), p, r);
    y = _mm512_add_ps(y, _mm512_set1_ps(1.0f));
    return _mm512_scalef_ps(y, k);
}

#endif
