#include "nn/im2col.h"

#include <string.h>

#include "internal.h"

/* The input columns under kernel column kj: output column ow reads input
 * column ow * stride + offset, which lies inside the input for ow in
 * [lo, hi). */
typedef struct tap_columns {
    int64_t offset, lo, hi;
} tap_columns;

static tap_columns columns_of_tap(const ln_patch_geometry *g, int64_t kj)
{
    tap_columns t;
    const int64_t stride = g->stride[1], out_size = g->out_width;
    t.offset = kj * g->dilation[1] - g->padding[1];
    int64_t first = t.offset >= 0 ? 0 : (-t.offset + stride - 1) / stride;
    int64_t end = g->width - t.offset <= 0 ? 0 : (g->width - 1 - t.offset) / stride + 1;
    t.lo = first < out_size ? first : out_size;
    t.hi = end < out_size ? end : out_size;
    if (t.hi < t.lo)
        t.hi = t.lo;
    return t;
}

/* The input row under kernel row ki for output row oh (maybe outside). */
static int64_t input_row(const ln_patch_geometry *g, int64_t oh, int64_t ki)
{
    return oh * g->stride[0] - g->padding[0] + ki * g->dilation[0];
}

/* Output columns [ow0, ow1) of one patch-matrix row for output row oh:
 * the input pixels under tap (ki, kj), 0 in the padding. */
static void patch_segment(float *out, const float *plane, const ln_patch_geometry *g,
                          const tap_columns *t, int64_t ki, int64_t oh, int64_t ow0, int64_t ow1)
{
    const int64_t sw = g->stride[1];
    int64_t ih = input_row(g, oh, ki);
    if (ih < 0 || ih >= g->height) {
        memset(out, 0, sizeof(float) * (ow1 - ow0));
        return;
    }
    int64_t lo = t->lo > ow0 ? t->lo : ow0, hi = t->hi < ow1 ? t->hi : ow1;
    if (hi < lo)
        lo = hi = ow1;
    const float *line = plane + ih * g->width;
    memset(out, 0, sizeof(float) * (lo - ow0));
    if (sw == 1) {
        memcpy(out + lo - ow0, line + lo + t->offset, sizeof(float) * (hi - lo));
    } else {
        for (int64_t ow = lo; ow < hi; ow++)
            out[ow - ow0] = line[ow * sw + t->offset];
    }
    memset(out + hi - ow0, 0, sizeof(float) * (ow1 - hi));
}

/* One row of the patch matrix: kernel tap (ki, kj) over one input plane. */
static void im2col_row(float *dst, const float *plane, const ln_patch_geometry *g, int64_t ki,
                       int64_t kj, int64_t first_row, int64_t row_count)
{
    const tap_columns t = columns_of_tap(g, kj);
    for (int64_t r = 0; r < row_count; r++)
        patch_segment(dst + r * g->out_width, plane, g, &t, ki, first_row + r, 0, g->out_width);
}

void ln_patch_row(float *dst, const float *plane, const ln_patch_geometry *g, int64_t ki,
                  int64_t kj, int64_t first, int64_t count)
{
    const tap_columns t = columns_of_tap(g, kj);
    for (int64_t p = first; p < first + count;) {
        int64_t oh = p / g->out_width, ow0 = p % g->out_width;
        int64_t ow1 = ow0 + (first + count - p);
        if (ow1 > g->out_width)
            ow1 = g->out_width;
        patch_segment(dst + (p - first), plane, g, &t, ki, oh, ow0, ow1);
        p += ow1 - ow0;
    }
}

void ln_im2col(float *col, const float *input, int64_t sample_stride, int64_t samples,
               const ln_patch_geometry *g, int64_t first_row, int64_t row_count)
{
    const int64_t taps = g->kernel[0] * g->kernel[1];
    const int64_t rows = g->channels * taps;
    const int64_t cols = row_count * g->out_width;
    const int64_t ld = samples * cols;

#pragma omp parallel for collapse(2) schedule(static) if (rows * ld >= LN_PARALLEL_GRAIN)
    for (int64_t s = 0; s < samples; s++) {
        for (int64_t q = 0; q < rows; q++) {
            int64_t c = q / taps, ki = q % taps / g->kernel[1], kj = q % g->kernel[1];
            const float *plane = input + s * sample_stride + c * g->height * g->width;
            im2col_row(col + q * ld + s * cols, plane, g, ki, kj, first_row, row_count);
        }
    }
}

/* Adds one row of the patch matrix back into its input plane. */
static void col2im_row(float *plane, const float *src, const ln_patch_geometry *g, int64_t ki,
                       int64_t kj, int64_t first_row, int64_t row_count)
{
    const int64_t ow_count = g->out_width, sw = g->stride[1];
    const tap_columns t = columns_of_tap(g, kj);

    for (int64_t r = 0; r < row_count; r++) {
        int64_t ih = input_row(g, first_row + r, ki);
        if (ih < 0 || ih >= g->height)
            continue;
        float *line = plane + ih * g->width;
        const float *in = src + r * ow_count;
        if (sw == 1) {
            for (int64_t ow = t.lo; ow < t.hi; ow++)
                line[ow + t.offset] += in[ow];
        } else {
            for (int64_t ow = t.lo; ow < t.hi; ow++)
                line[ow * sw + t.offset] += in[ow];
        }
    }
}

void ln_col2im(float *input, int64_t sample_stride, int64_t samples, const float *col,
               const ln_patch_geometry *g, int64_t first_row, int64_t row_count)
{
    const int64_t taps = g->kernel[0] * g->kernel[1];
    const int64_t cols = row_count * g->out_width;
    const int64_t ld = samples * cols;

    /* One thread per input plane: taps of one channel overlap in the input,
     * so they are added by the same thread, in order. */
#pragma omp parallel for collapse(2) schedule(static) \
    if (g->channels * taps * ld >= LN_PARALLEL_GRAIN)
    for (int64_t s = 0; s < samples; s++) {
        for (int64_t c = 0; c < g->channels; c++) {
            float *plane = input + s * sample_stride + c * g->height * g->width;
            for (int64_t t = 0; t < taps; t++)
                col2im_row(plane, col + (c * taps + t) * ld + s * cols, g, t / g->kernel[1],
                           t % g->kernel[1], first_row, row_count);
        }
    }
}
