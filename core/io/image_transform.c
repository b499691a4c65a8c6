/* Resize, center crop and normalize over the last dims of a tensor; see
 * image.h. Each works on contiguous planes (copying a strided input first)
 * and spreads rows or planes over OpenMP threads. */
#include "image.h"

#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* Shapes -------------------------------------------------------------------- */

/* Checks that out and in have the same rank (at least min_rank) and the same
 * sizes except the last `free_dims`. */
static ln_status check_leading(const ln_tensor *out, const ln_tensor *in, int min_rank,
                               int free_dims, const char *what)
{
    char a[256], b[256];
    if (in->ndim < min_rank)
        return ln_fail(LN_EINVAL, "%s needs a tensor of at least %d dims, got shape %s", what,
                       min_rank, ln_shape_string(in, a, sizeof a));
    bool same = out->ndim == in->ndim;
    for (int d = 0; same && d < in->ndim - free_dims; d++)
        same = out->shape[d] == in->shape[d];
    if (!same)
        return ln_fail(LN_EINVAL, "%s: output shape %s does not fit input shape %s", what,
                       ln_shape_string(out, a, sizeof a), ln_shape_string(in, b, sizeof b));
    return LN_OK;
}

static int64_t leading_count(const ln_tensor *t, int trailing)
{
    int64_t count = 1;
    for (int d = 0; d < t->ndim - trailing; d++)
        count *= t->shape[d];
    return count;
}

/* out must be contiguous, which every caller's freshly allocated output is;
 * in may be strided and is read through a contiguous copy then. */
static ln_status contiguous_input(ln_tensor *copy, const ln_tensor *in, const ln_tensor *out)
{
    if (!ln_is_contiguous(out))
        return ln_fail(LN_EINVAL, "the output tensor must be contiguous");
    return ln_contiguous(copy, in, false);
}

void ln_image_resized_shape(int64_t height, int64_t width, int64_t size, int64_t *out_height,
                            int64_t *out_width)
{
    int64_t shorter = height < width ? height : width;
    int64_t longer = height < width ? width : height;
    /* Python's int(size * long / short): the exact product, one rounding in
     * the division, then truncation. */
    int64_t new_longer = (int64_t)((double)(size * longer) / (double)shorter);
    if (width <= height) {
        *out_width = size;
        *out_height = new_longer;
    } else {
        *out_height = size;
        *out_width = new_longer;
    }
}

/* Resize ------------------------------------------------------------------- */

/* Source indices and weights of each output position along one axis, as
 * PyTorch's upsample_bilinear2d computes them in float32. */
typedef struct axis_weights {
    int64_t *first, *second;
    float *first_weight, *second_weight;
} axis_weights;

static ln_status axis_weights_new(axis_weights *w, int64_t in, int64_t out)
{
    w->first = malloc((size_t)out * 2 * sizeof(int64_t));
    w->first_weight = malloc((size_t)out * 2 * sizeof(float));
    if (!w->first || !w->first_weight) {
        /* Cleared so that the caller's axis_weights_free does not free
         * them again. */
        free(w->first);
        free(w->first_weight);
        w->first = NULL;
        w->first_weight = NULL;
        return ln_fail(LN_ENOMEM, "out of memory for resize weights");
    }
    w->second = w->first + out;
    w->second_weight = w->first_weight + out;

    float scale = (float)in / (float)out;
    for (int64_t o = 0; o < out; o++) {
        if (in == out) {
            w->first[o] = w->second[o] = o;
            w->first_weight[o] = 1.0f;
            w->second_weight[o] = 0.0f;
            continue;
        }
        /* The centre of output pixel o, in input pixel coordinates. */
        float source = (float)(scale * (o + 0.5) - 0.5);
        if (source < 0.0f)
            source = 0.0f;
        int64_t index = (int64_t)source;
        if (index > in - 1)
            index = in - 1;
        float lambda = source - (float)index;
        if (lambda > 1.0f)
            lambda = 1.0f;
        w->first[o] = index;
        w->second[o] = index + (index < in - 1 ? 1 : 0);
        w->second_weight[o] = lambda;
        w->first_weight[o] = 1.0f - lambda;
    }
    return LN_OK;
}

static void axis_weights_free(axis_weights *w)
{
    free(w->first);
    free(w->first_weight);
}

ln_status ln_image_resize(ln_tensor *out, const ln_tensor *in)
{
    ln_status status = check_leading(out, in, 2, 2, "resize");
    if (status)
        return status;
    int last = in->ndim - 1;
    int64_t in_h = in->shape[last - 1], in_w = in->shape[last];
    int64_t out_h = out->shape[last - 1], out_w = out->shape[last];
    if (in_h <= 0 || in_w <= 0 || out_h <= 0 || out_w <= 0) {
        char a[256], b[256];
        return ln_fail(LN_EINVAL, "resize needs positive heights and widths, got input %s and "
                       "output %s", ln_shape_string(in, a, sizeof a),
                       ln_shape_string(out, b, sizeof b));
    }
    int64_t planes = leading_count(in, 2);
    if (planes == 0)
        return LN_OK;

    ln_tensor source;
    status = contiguous_input(&source, in, out);
    if (status)
        return status;
    axis_weights rows = {0}, columns = {0};
    status = axis_weights_new(&rows, in_h, out_h);
    if (!status)
        status = axis_weights_new(&columns, in_w, out_w);
    if (status) {
        axis_weights_free(&rows);
        ln_tensor_release(&source);
        return status;
    }

    const float *x = ln_data(&source);
    float *y = ln_data(out);
    int64_t total_rows = planes * out_h;
    #pragma omp parallel for if (total_rows * out_w >= LN_PARALLEL_GRAIN)
    for (int64_t r = 0; r < total_rows; r++) {
        int64_t p = r / out_h, oy = r % out_h;
        const float *top = x + (p * in_h + rows.first[oy]) * in_w;
        const float *bottom = x + (p * in_h + rows.second[oy]) * in_w;
        float wt = rows.first_weight[oy], wb = rows.second_weight[oy];
        float *row = y + r * out_w;
        for (int64_t ox = 0; ox < out_w; ox++) {
            int64_t left = columns.first[ox], right = columns.second[ox];
            float wl = columns.first_weight[ox], wr = columns.second_weight[ox];
            /* The same order of operations as PyTorch's CPU kernel: each
             * row is blended along x first, then the rows along y. */
            float upper = top[left] * wl + top[right] * wr;
            float lower = bottom[left] * wl + bottom[right] * wr;
            row[ox] = upper * wt + lower * wb;
        }
    }

    axis_weights_free(&rows);
    axis_weights_free(&columns);
    ln_tensor_release(&source);
    return LN_OK;
}

/* Center crop --------------------------------------------------------------- */

/* The input index of output index 0 along an axis: negative where the crop
 * is larger than the image and zero padding comes first. */
static int64_t crop_offset(int64_t size, int64_t crop)
{
    if (crop > size)
        return -((crop - size) / 2);
    /* round((size - crop) / 2) with ties to even, as Python's round */
    int64_t difference = size - crop, half = difference / 2;
    if (difference % 2 == 1 && half % 2 == 1)
        half++;
    return half;
}

ln_status ln_image_center_crop(ln_tensor *out, const ln_tensor *in)
{
    ln_status status = check_leading(out, in, 2, 2, "center_crop");
    if (status)
        return status;
    int last = in->ndim - 1;
    int64_t in_h = in->shape[last - 1], in_w = in->shape[last];
    int64_t out_h = out->shape[last - 1], out_w = out->shape[last];
    int64_t planes = leading_count(in, 2);
    if (planes == 0 || out_h == 0 || out_w == 0)
        return LN_OK;

    ln_tensor source;
    status = contiguous_input(&source, in, out);
    if (status)
        return status;
    int64_t top = crop_offset(in_h, out_h), left = crop_offset(in_w, out_w);
    /* Output columns [first, end) come from the image; the rest are zero. */
    int64_t first = left < 0 ? -left : 0;
    int64_t end = in_w - left < out_w ? in_w - left : out_w;

    const float *x = ln_data(&source);
    float *y = ln_data(out);
    int64_t total_rows = planes * out_h;
    #pragma omp parallel for if (total_rows * out_w >= LN_PARALLEL_GRAIN)
    for (int64_t r = 0; r < total_rows; r++) {
        int64_t p = r / out_h, iy = r % out_h + top;
        float *row = y + r * out_w;
        if (iy < 0 || iy >= in_h || end <= first) {
            memset(row, 0, (size_t)out_w * sizeof(float));
            continue;
        }
        memset(row, 0, (size_t)first * sizeof(float));
        memcpy(row + first, x + (p * in_h + iy) * in_w + first + left,
               (size_t)(end - first) * sizeof(float));
        memset(row + end, 0, (size_t)(out_w - end) * sizeof(float));
    }
    ln_tensor_release(&source);
    return LN_OK;
}

/* Normalize ---------------------------------------------------------------- */

ln_status ln_image_normalize(ln_tensor *out, const ln_tensor *in, const float *mean,
                             const float *std)
{
    ln_status status = check_leading(out, in, 3, 0, "normalize");
    if (status)
        return status;
    int channel_dim = in->ndim - 3;
    int64_t channels = in->shape[channel_dim];
    for (int64_t c = 0; c < channels; c++)
        if (std[c] == 0.0f)
            return ln_fail(LN_EINVAL, "normalize: std of channel %lld is 0, which would divide "
                           "by zero", (long long)c + 1);
    int64_t planes = leading_count(in, 2);
    int64_t plane = in->shape[in->ndim - 2] * in->shape[in->ndim - 1];
    if (planes == 0 || plane == 0)
        return LN_OK;

    ln_tensor source;
    status = contiguous_input(&source, in, out);
    if (status)
        return status;
    const float *x = ln_data(&source);
    float *y = ln_data(out);
    #pragma omp parallel for if (planes * plane >= LN_PARALLEL_GRAIN)
    for (int64_t p = 0; p < planes; p++) {
        /* As torchvision: subtract, then divide (not multiply by 1 / std). */
        float m = mean[p % channels], s = std[p % channels];
        for (int64_t i = 0; i < plane; i++)
            y[p * plane + i] = (x[p * plane + i] - m) / s;
    }
    ln_tensor_release(&source);
    return LN_OK;
}
