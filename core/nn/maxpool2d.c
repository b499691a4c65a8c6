/* 2-d max pooling. Backward recomputes each window's argmax from the input
 * instead of keeping indices from forward: indices would not fit exactly in
 * float32 storage for planes above 2^24 cells, and recomputing cannot go
 * stale when forward ran on another input. */
#include <math.h>

#include "avx512.h"
#include "internal.h"
#include "nn/pool_plan.h"

/* The taps of one window along one dim: real positions first, first + step,
 * ..., count of them (count 0 when the window misses every real cell). */
typedef struct taps {
    int64_t first, step, count;
} taps;

static int64_t ceil_div(int64_t a, int64_t b)
{
    return (a + b - 1) / b;
}

/* Taps of output o along a dim of size in; the window starts below in, so
 * in - start > 0. */
static taps window_taps(int64_t o, int64_t in, int64_t kernel, int64_t stride, int64_t padding,
                        int64_t dilation)
{
    int64_t start = o * stride - padding;
    int64_t begin = start < 0 ? ceil_div(-start, dilation) : 0;
    int64_t end = ceil_div(in - start, dilation);
    if (end > kernel)
        end = kernel;
    taps t = {start + begin * dilation, dilation, end > begin ? end - begin : 0};
    return t;
}

/* Offset in the plane of the window's max: the first of equal maxima, or
 * the last NaN, as PyTorch picks. -1 when the window has no real cell. */
static int64_t window_argmax(const float *plane, int64_t in_w, taps rows, taps cols)
{
    if (rows.count == 0 || cols.count == 0)
        return -1;
    int64_t best_at = rows.first * in_w + cols.first;
    float best = -INFINITY;
    for (int64_t i = 0; i < rows.count; i++) {
        int64_t row = (rows.first + i * rows.step) * in_w;
        for (int64_t j = 0; j < cols.count; j++) {
            int64_t at = row + cols.first + j * cols.step;
            float v = plane[at];
            if (v > best || isnan(v)) {
                best = v;
                best_at = at;
            }
        }
    }
    return best_at;
}

static taps row_taps(const ln_pool_plan *plan, const ln_pool2d *pool, int64_t oh)
{
    return window_taps(oh, plan->in_h, pool->kernel_size[0], pool->stride[0], pool->padding[0],
                       pool->dilation[0]);
}

static taps col_taps(const ln_pool_plan *plan, const ln_pool2d *pool, int64_t ow)
{
    return window_taps(ow, plan->in_w, pool->kernel_size[1], pool->stride[1], pool->padding[1],
                       pool->dilation[1]);
}

/* VGG's 2x2 pooling with stride 2 and no padding or dilation, whose windows
 * away from a ceil_mode edge lie wholly inside the input, takes a
 * branch-light path over rows of such windows. */
static bool is_plain_2x2(const ln_pool2d *pool)
{
    return pool->kernel_size[0] == 2 && pool->kernel_size[1] == 2 && pool->stride[0] == 2 &&
           pool->stride[1] == 2 && pool->padding[0] == 0 && pool->padding[1] == 0 &&
           pool->dilation[0] == 1 && pool->dilation[1] == 1;
}

/* The max of a then b, where a NaN wins, as window_argmax's order gives. */
static inline float max_nan(float a, float b)
{
    return (b > a || b != b) ? b : a;
}

/* AVX-512 loops over 16 windows at a time --------------------------------- */

/* Picks the even and odd elements of the first 2 * windows (at most 32)
 * floats at p. */
__attribute__((target("avx512f"))) static void load_pairs(const float *p, int64_t windows,
                                                          __m512 *even, __m512 *odd)
{
    const __m512i evens = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26,
                                            28, 30);
    const __m512i odds = _mm512_add_epi32(evens, _mm512_set1_epi32(1));
    __m512 low = _mm512_maskz_loadu_ps(ln_first_lanes(2 * windows), p);
    __m512 high = _mm512_maskz_loadu_ps(ln_first_lanes(2 * windows - 16), p + 16);
    *even = _mm512_permutex2var_ps(low, evens, high);
    *odd = _mm512_permutex2var_ps(low, odds, high);
}

/* Stores the first 2 * windows floats at p, alternating even and odd. */
__attribute__((target("avx512f"))) static void store_pairs(float *p, int64_t windows,
                                                           __m512 even, __m512 odd)
{
    const __m512i low = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7,
                                          23);
    const __m512i high = _mm512_add_epi32(low, _mm512_set1_epi32(8));
    _mm512_mask_storeu_ps(p, ln_first_lanes(2 * windows), _mm512_permutex2var_ps(even, low, odd));
    _mm512_mask_storeu_ps(p + 16, ln_first_lanes(2 * windows - 16),
                          _mm512_permutex2var_ps(even, high, odd));
}

/* Lanes where v replaces best in window_argmax's order: larger, or NaN. */
__attribute__((target("avx512f"))) static __mmask16 replaces(__m512 v, __m512 best)
{
    return _mm512_cmp_ps_mask(v, best, _CMP_GT_OQ) | _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
}

/* Returns the max of up to 16 windows, and in *argmax the cell it came from
 * (0 to 3 for top left, top right, bottom left, bottom right). */
__attribute__((target("avx512f"))) static __m512 windows_max(const float *r0, const float *r1,
                                                             int64_t windows, __m512i *argmax)
{
    __m512 a, b, c, d;
    load_pairs(r0, windows, &a, &b);
    load_pairs(r1, windows, &c, &d);
    __m512i k = _mm512_setzero_si512();
    __m512 best = a;
    __mmask16 m = replaces(b, best);
    best = _mm512_mask_mov_ps(best, m, b);
    k = _mm512_mask_mov_epi32(k, m, _mm512_set1_epi32(1));
    m = replaces(c, best);
    best = _mm512_mask_mov_ps(best, m, c);
    k = _mm512_mask_mov_epi32(k, m, _mm512_set1_epi32(2));
    m = replaces(d, best);
    best = _mm512_mask_mov_ps(best, m, d);
    *argmax = _mm512_mask_mov_epi32(k, m, _mm512_set1_epi32(3));
    return best;
}

__attribute__((target("avx512f"))) static void forward_row_2x2_avx512(const float *r0,
                                                                     const float *r1, float *y,
                                                                     int64_t count)
{
    for (int64_t ow = 0; ow < count; ow += 16) {
        int64_t windows = count - ow < 16 ? count - ow : 16;
        __m512i argmax;
        __m512 max = windows_max(r0 + 2 * ow, r1 + 2 * ow, windows, &argmax);
        _mm512_mask_storeu_ps(y + ow, ln_first_lanes(windows), max);
    }
}

__attribute__((target("avx512f"))) static void backward_row_2x2_avx512(
    const float *r0, const float *r1, const float *gy, float *g0, float *g1, int64_t count)
{
    for (int64_t ow = 0; ow < count; ow += 16) {
        int64_t windows = count - ow < 16 ? count - ow : 16;
        __m512i argmax;
        windows_max(r0 + 2 * ow, r1 + 2 * ow, windows, &argmax);
        __m512 g = _mm512_maskz_loadu_ps(ln_first_lanes(windows), gy + ow);
        __m512 cell[4];
        for (int k = 0; k < 4; k++)
            cell[k] = _mm512_maskz_mov_ps(
                _mm512_cmpeq_epi32_mask(argmax, _mm512_set1_epi32(k)), g);
        store_pairs(g0 + 2 * ow, windows, cell[0], cell[1]);
        store_pairs(g1 + 2 * ow, windows, cell[2], cell[3]);
    }
}

/* Output columns [0, count) of a plain 2x2 row whose two input rows are r0
 * and r1. */
static void forward_row_2x2(const float *r0, const float *r1, float *y, int64_t count)
{
    if (ln_cpu_has_avx512()) {
        forward_row_2x2_avx512(r0, r1, y, count);
        return;
    }
    for (int64_t ow = 0; ow < count; ow++) {
        float top = max_nan(max_nan(-INFINITY, r0[2 * ow]), r0[2 * ow + 1]);
        y[ow] = max_nan(max_nan(top, r1[2 * ow]), r1[2 * ow + 1]);
    }
}

/* Full windows of a plain 2x2 row: those whose two rows and columns are in
 * the input. */
static int64_t full_2x2_columns(const ln_pool_plan *plan, int64_t oh)
{
    if (2 * oh + 1 >= plan->in_h)
        return 0;
    int64_t full = plan->in_w / 2;
    return full < plan->out_w ? full : plan->out_w;
}

/* Task i: output row i % out_h of plane i / out_h. */
static void forward_row(const ln_pool_plan *plan, int64_t i, const void *options)
{
    const ln_pool2d *pool = options;
    const float *plane = ln_data(&plan->input) + i / plan->out_h * plan->in_h * plan->in_w;
    float *y = plan->target + i * plan->out_w;
    int64_t oh = i % plan->out_h;

    int64_t first = 0;
    if (is_plain_2x2(pool)) {
        first = full_2x2_columns(plan, oh);
        const float *r0 = plane + 2 * oh * plan->in_w;
        forward_row_2x2(r0, r0 + plan->in_w, y, first);
    }
    if (first == plan->out_w)
        return;
    taps rows = row_taps(plan, pool, oh);
    for (int64_t ow = first; ow < plan->out_w; ow++) {
        int64_t at = window_argmax(plane, plan->in_w, rows, col_taps(plan, pool, ow));
        y[ow] = at < 0 ? -INFINITY : plane[at];
    }
}

/* Routes the grads of output columns [0, count) of a plain 2x2 row to the
 * input cell window_argmax would pick, and zero to the other three; row is
 * the window's first input row. The windows do not overlap, so each cell is
 * stored once. */
static void backward_row_2x2(const float *plane, int64_t in_w, int64_t row, const float *gy,
                             float *gx, int64_t count)
{
    const float *r0 = plane + row * in_w, *r1 = r0 + in_w;
    float *g0 = gx + row * in_w, *g1 = g0 + in_w;
    if (ln_cpu_has_avx512()) {
        backward_row_2x2_avx512(r0, r1, gy, g0, g1, count);
        return;
    }
    for (int64_t ow = 0; ow < count; ow++) {
        const float cells[4] = {r0[2 * ow], r0[2 * ow + 1], r1[2 * ow], r1[2 * ow + 1]};
        int k = 0;
        for (int j = 1; j < 4; j++)
            if (cells[j] > cells[k] || cells[j] != cells[j])
                k = j;

        float g = gy[ow];
        g0[2 * ow] = k == 0 ? g : 0.0f;
        g0[2 * ow + 1] = k == 1 ? g : 0.0f;
        g1[2 * ow] = k == 2 ? g : 0.0f;
        g1[2 * ow + 1] = k == 3 ? g : 0.0f;
    }
}

/* Task p: plane p, whose windows may overlap and add into one input cell. */
static void backward_plane(const ln_pool_plan *plan, int64_t p, const void *options)
{
    const ln_pool2d *pool = options;
    int64_t in_size = plan->in_h * plan->in_w;
    const float *plane = ln_data(&plan->input) + p * in_size;
    const float *gy = ln_data(&plan->grad_output) + p * plan->out_h * plan->out_w;
    float *gx = plan->target + p * in_size;

    for (int64_t oh = 0; oh < plan->out_h; oh++) {
        int64_t first = 0;
        if (is_plain_2x2(pool)) {
            first = full_2x2_columns(plan, oh);
            backward_row_2x2(plane, plan->in_w, 2 * oh, gy + oh * plan->out_w, gx, first);
        }
        if (first == plan->out_w)
            continue;
        taps rows = row_taps(plan, pool, oh);
        for (int64_t ow = first; ow < plan->out_w; ow++) {
            int64_t at = window_argmax(plane, plan->in_w, rows, col_taps(plan, pool, ow));
            if (at >= 0)
                gx[at] += gy[oh * plan->out_w + ow];
        }
    }
}

ln_status ln_max_pool2d_forward(ln_tensor *output, const ln_tensor *input, const ln_pool2d *pool)
{
    int64_t shape[4];
    ln_status status = ln_max_pool2d_shape(shape, input, pool);
    if (status)
        return status;
    return ln_pool_forward(output, input, shape, pool->kernel_size[0] * pool->kernel_size[1],
                           forward_row, pool);
}

ln_status ln_max_pool2d_backward(ln_tensor *grad_input, const ln_tensor *grad_output,
                                 const ln_tensor *input, const ln_pool2d *pool)
{
    int64_t shape[4];
    ln_status status = ln_max_pool2d_shape(shape, input, pool);
    if (status)
        return status;
    return ln_pool_backward(grad_input, grad_output, input, shape,
                            pool->kernel_size[0] * pool->kernel_size[1], backward_plane, pool);
}
