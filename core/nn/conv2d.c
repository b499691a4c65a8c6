#include "nn/conv2d.h"

#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "nn/im2col.h"
#include "parallel.h"

/* Upper bound on the patch matrix of one block, in floats (8 MiB). Blocks of
 * a few output rows keep the workspace small even for a VGG layer at
 * 224x224, whose whole patch matrix would take 115 MB, while each GEMM still
 * has thousands of columns. A single output row may exceed the bound. */
#define PATCH_BLOCK_FLOATS ((int64_t)1 << 21)

/* Sizes derived from the arguments, shared by forward and backward. */
typedef struct plan {
    int64_t batch, groups;
    int64_t group_channels, group_out_channels;  /* C / groups, OC / groups */
    int64_t patch;                 /* rows of the patch matrix: C / groups * KH * KW */
    int64_t in_plane, out_plane;   /* H * W and OH * OW */
    int64_t block_rows;            /* output rows per patch-matrix block */
    bool direct;                   /* 1x1, stride 1, no padding: no patch matrix */
    int out_ndim;
    int64_t out_shape[4];
    ln_patch_geometry geometry;
} plan;

/* "3" for (3, 3), "(3, 2)" otherwise: the form the layer's tostring uses. */
static const char *pair_string(const int64_t *pair, char *buffer, size_t size)
{
    if (pair[0] == pair[1])
        snprintf(buffer, size, "%lld", (long long)pair[0]);
    else
        snprintf(buffer, size, "(%lld, %lld)", (long long)pair[0], (long long)pair[1]);
    return buffer;
}

ln_status ln_conv2d_check_options(const ln_conv2d_options *options)
{
    const struct {
        const char *name;
        const int64_t *pair;
        int64_t min;
    } pairs[] = {
        {"stride", options->stride, 1},
        {"padding", options->padding, 0},
        {"dilation", options->dilation, 1},
    };
    char text[64];
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
        for (int d = 0; d < 2; d++) {
            if (pairs[i].pair[d] < pairs[i].min)
                return ln_fail(LN_EINVAL, "%s must be >= %lld, got %s", pairs[i].name,
                               (long long)pairs[i].min,
                               pair_string(pairs[i].pair, text, sizeof text));
            if (pairs[i].pair[d] > LN_CONV2D_MAX_OPTION)
                return ln_fail(LN_EINVAL, "%s must be at most %d, got %s", pairs[i].name,
                               LN_CONV2D_MAX_OPTION,
                               pair_string(pairs[i].pair, text, sizeof text));
        }
    }
    if (options->groups < 1 || options->groups > LN_CONV2D_MAX_OPTION)
        return ln_fail(LN_EINVAL, "groups must be between 1 and %d, got %lld",
                       LN_CONV2D_MAX_OPTION, (long long)options->groups);
    return LN_OK;
}

static ln_status check_channels(const ln_tensor *input, const ln_tensor *weight,
                                const ln_tensor *bias, int64_t groups)
{
    char ti[256], tw[256], tb[256];
    int64_t out_channels = weight->shape[0], expected;

    if (out_channels % groups != 0)
        return ln_fail(LN_EINVAL, "groups %lld does not divide out_channels %lld (weight %s)",
                       (long long)groups, (long long)out_channels,
                       ln_shape_string(weight, tw, sizeof tw));
    if (__builtin_mul_overflow(weight->shape[1], groups, &expected) ||
        input->shape[input->ndim - 3] != expected)
        return ln_fail(LN_EINVAL, "input has %lld channels but weight expects %lld (input %s, "
                       "weight %s)", (long long)input->shape[input->ndim - 3],
                       (long long)weight->shape[1] * groups,
                       ln_shape_string(input, ti, sizeof ti),
                       ln_shape_string(weight, tw, sizeof tw));
    if (bias && (bias->ndim != 1 || bias->shape[0] != out_channels))
        return ln_fail(LN_EINVAL, "bias has shape %s but weight %s needs %lld values",
                       ln_shape_string(bias, tb, sizeof tb),
                       ln_shape_string(weight, tw, sizeof tw), (long long)out_channels);
    return LN_OK;
}

/* Output height and width; fails when the dilated kernel does not fit in the
 * padded input. */
static ln_status output_size(const ln_tensor *input, const ln_tensor *weight,
                             const ln_conv2d_options *options, int64_t *out)
{
    int64_t extent[2];
    bool too_small = false;
    for (int d = 0; d < 2; d++) {
        int64_t size = input->shape[input->ndim - 2 + d];
        int64_t padded = size + 2 * options->padding[d];
        if (__builtin_mul_overflow(options->dilation[d], weight->shape[2 + d] - 1, &extent[d]) ||
            extent[d] >= padded) {
            too_small = true;
            continue;
        }
        extent[d] += 1;
        out[d] = (padded - extent[d]) / options->stride[d] + 1;
    }
    if (!too_small)
        return LN_OK;

    char ti[256], tp[64];
    return ln_fail(LN_EINVAL, "input %s with padding %s is smaller than the dilated kernel "
                   "%lldx%lld", ln_shape_string(input, ti, sizeof ti),
                   pair_string(options->padding, tp, sizeof tp),
                   (long long)(options->dilation[0] * (weight->shape[2] - 1) + 1),
                   (long long)(options->dilation[1] * (weight->shape[3] - 1) + 1));
}

static ln_status make_plan(plan *p, const ln_tensor *input, const ln_tensor *weight,
                           const ln_tensor *bias, const ln_conv2d_options *options)
{
    char ti[256], tw[256];
    ln_status status = ln_conv2d_check_options(options);
    if (status)
        return status;
    if (input->ndim != 3 && input->ndim != 4)
        return ln_fail(LN_EINVAL, "expected a 3-d (C, H, W) or 4-d (N, C, H, W) input, got %s",
                       ln_shape_string(input, ti, sizeof ti));
    if (weight->ndim != 4)
        return ln_fail(LN_EINVAL, "weight must be 4-d (out_channels, in_channels / groups, "
                       "kH, kW), got %s", ln_shape_string(weight, tw, sizeof tw));
    if (weight->shape[2] < 1 || weight->shape[3] < 1)
        return ln_fail(LN_EINVAL, "weight %s has an empty kernel",
                       ln_shape_string(weight, tw, sizeof tw));
    if ((status = check_channels(input, weight, bias, options->groups)))
        return status;
    int64_t out_hw[2];
    if ((status = output_size(input, weight, options, out_hw)))
        return status;

    *p = (plan){0};
    int first = input->ndim - 3;
    p->batch = first ? input->shape[0] : 1;
    p->groups = options->groups;
    p->group_channels = weight->shape[1];
    p->group_out_channels = weight->shape[0] / options->groups;
    p->patch = weight->shape[1] * weight->shape[2] * weight->shape[3];
    p->in_plane = input->shape[first + 1] * input->shape[first + 2];
    p->out_plane = out_hw[0] * out_hw[1];
    p->direct = weight->shape[2] == 1 && weight->shape[3] == 1 && options->stride[0] == 1 &&
                options->stride[1] == 1 && options->padding[0] == 0 && options->padding[1] == 0;

    p->out_ndim = input->ndim;
    if (first)
        p->out_shape[0] = p->batch;
    p->out_shape[first] = weight->shape[0];
    p->out_shape[first + 1] = out_hw[0];
    p->out_shape[first + 2] = out_hw[1];

    int64_t row_floats = p->patch * out_hw[1];
    p->block_rows = p->direct || row_floats == 0 ? out_hw[0] : PATCH_BLOCK_FLOATS / row_floats;
    if (p->block_rows < 1)
        p->block_rows = 1;
    if (p->block_rows > out_hw[0])
        p->block_rows = out_hw[0];

    p->geometry = (ln_patch_geometry){
        .channels = weight->shape[1],
        .height = input->shape[first + 1],
        .width = input->shape[first + 2],
        .out_height = out_hw[0],
        .out_width = out_hw[1],
        .kernel = {weight->shape[2], weight->shape[3]},
        .stride = {options->stride[0], options->stride[1]},
        .padding = {options->padding[0], options->padding[1]},
        .dilation = {options->dilation[0], options->dilation[1]},
    };
    return LN_OK;
}

ln_status ln_conv2d_output_shape(int *ndim, int64_t *shape, const ln_tensor *input,
                                 const ln_tensor *weight, const ln_tensor *bias,
                                 const ln_conv2d_options *options)
{
    plan p;
    ln_status status = make_plan(&p, input, weight, bias, options);
    if (status)
        return status;
    *ndim = p.out_ndim;
    memcpy(shape, p.out_shape, sizeof(int64_t) * p.out_ndim);
    return LN_OK;
}

static int64_t workspace_floats(const plan *p)
{
    return p->direct ? 0 : p->patch * p->block_rows * p->geometry.out_width;
}

int64_t ln_conv2d_workspace_size(const ln_tensor *input, const ln_tensor *weight,
                                 const ln_conv2d_options *options)
{
    plan p;
    if (make_plan(&p, input, weight, NULL, options))
        return 0;
    return workspace_floats(&p);
}

/* Checks that t is a contiguous tensor of the given shape; role names it. */
static ln_status check_out(const ln_tensor *t, int ndim, const int64_t *shape, const char *role)
{
    if (ln_is_contiguous(t) && t->ndim == ndim &&
        memcmp(t->shape, shape, sizeof(int64_t) * ndim) == 0)
        return LN_OK;
    char tt[256], ts[256];
    return ln_fail(LN_EINVAL, "%s must be a contiguous tensor of shape %s, got %s%s", role,
                   ln_shape_string_raw(ndim, shape, ts, sizeof ts),
                   ln_shape_string(t, tt, sizeof tt),
                   ln_is_contiguous(t) ? "" : " (not contiguous)");
}

/* Contiguous input and weight (and grad_output in backward), plus the
 * workspace when the caller gave none. */
typedef struct operands {
    ln_tensor x, w, gy;
    float *own_workspace;
} operands;

static void release_operands(operands *o)
{
    ln_tensor_release(&o->x);
    ln_tensor_release(&o->w);
    ln_tensor_release(&o->gy);
    free(o->own_workspace);
}

static ln_status prepare(operands *o, const plan *p, const ln_tensor *input,
                         const ln_tensor *weight, const ln_tensor *grad_output,
                         float **workspace)
{
    *o = (operands){0};
    ln_status status = ln_contiguous(&o->x, input, false);
    if (!status)
        status = ln_contiguous(&o->w, weight, false);
    if (!status && grad_output)
        status = ln_contiguous(&o->gy, grad_output, false);
    int64_t floats = workspace_floats(p);
    if (!status && !*workspace && floats > 0) {
        o->own_workspace = malloc(sizeof(float) * floats);
        if (!o->own_workspace)
            status = ln_fail(LN_ENOMEM, "cannot allocate a %lld-byte convolution workspace",
                             (long long)(sizeof(float) * floats));
        *workspace = o->own_workspace;
    }
    if (status)
        release_operands(o);
    return status;
}

/* The number of output rows in the block that starts at row r0. */
static int64_t block_size(const plan *p, int64_t r0)
{
    int64_t left = p->geometry.out_height - r0;
    return left < p->block_rows ? left : p->block_rows;
}

/* The forward pass of one sample: y (OC x OH*OW) starts as the bias and
 * gains, per group and block of output rows, W_g times the patch matrix. */
static ln_status forward_sample(const plan *p, float *y, const float *x, const float *w,
                                const ln_tensor *bias, float *col)
{
    const int64_t out_channels = p->groups * p->group_out_channels;
    for (int64_t oc = 0; oc < out_channels; oc++) {
        float value = bias ? ln_data(bias)[oc * bias->stride[0]] : 0.0f;
        float *plane = y + oc * p->out_plane;
        for (int64_t i = 0; i < p->out_plane; i++)
            plane[i] = value;
    }
    if (p->patch == 0 || p->group_out_channels == 0)
        return LN_OK;

    const int64_t out_width = p->geometry.out_width;
    for (int64_t g = 0; g < p->groups; g++) {
        const float *xg = x + g * p->group_channels * p->in_plane;
        const float *wg = w + g * p->group_out_channels * p->patch;
        float *yg = y + g * p->group_out_channels * p->out_plane;
        for (int64_t r0 = 0; r0 < p->geometry.out_height; r0 += p->block_rows) {
            if (ln_interrupted())
                return ln_fail(LN_EINTR, "interrupted");
            int64_t rows = block_size(p, r0);
            int64_t cols = rows * out_width;
            const float *patches = xg + r0 * out_width;
            int64_t ld = p->in_plane;
            if (!p->direct) {
                ln_im2col(col, xg, &p->geometry, r0, rows);
                patches = col;
                ld = cols;
            }
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, p->group_out_channels, cols,
                        p->patch, 1.0f, wg, p->patch, patches, ld, 1.0f, yg + r0 * out_width,
                        p->out_plane);
        }
    }
    return LN_OK;
}

ln_status ln_conv2d_forward(ln_tensor *output, const ln_tensor *input, const ln_tensor *weight,
                            const ln_tensor *bias, const ln_conv2d_options *options,
                            float *workspace)
{
    plan p;
    ln_status status = make_plan(&p, input, weight, bias, options);
    if (!status)
        status = check_out(output, p.out_ndim, p.out_shape, "output");
    if (status)
        return status;
    operands o;
    if ((status = prepare(&o, &p, input, weight, NULL, &workspace)))
        return status;

    const int64_t in_sample = p.groups * p.group_channels * p.in_plane;
    const int64_t out_sample = p.groups * p.group_out_channels * p.out_plane;
    for (int64_t n = 0; n < p.batch && !status; n++)
        status = forward_sample(&p, ln_data(output) + n * out_sample,
                                ln_data(&o.x) + n * in_sample, ln_data(&o.w), bias, workspace);
    release_operands(&o);
    return status;
}

/* The backward pass of one sample and group over one block of output rows:
 * gw += gy x patches^T, and gx gains the col2im of W^T gy. */
static void backward_block(const plan *p, float *gx, float *gw, const float *x, const float *w,
                           const float *gy, float *col, int64_t r0, int64_t rows)
{
    const int64_t out_width = p->geometry.out_width;
    const int64_t cols = rows * out_width;
    const float *gy_block = gy + r0 * out_width;

    if (gw) {
        const float *patches = x + r0 * out_width;
        int64_t ld = p->in_plane;
        if (!p->direct) {
            ln_im2col(col, x, &p->geometry, r0, rows);
            patches = col;
            ld = cols;
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, p->group_out_channels, p->patch,
                    cols, 1.0f, gy_block, p->out_plane, patches, ld, 1.0f, gw, p->patch);
    }
    if (gx && p->direct) {
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, p->patch, cols,
                    p->group_out_channels, 1.0f, w, p->patch, gy_block, p->out_plane, 0.0f,
                    gx + r0 * out_width, p->in_plane);
    } else if (gx) {
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, p->patch, cols,
                    p->group_out_channels, 1.0f, w, p->patch, gy_block, p->out_plane, 0.0f,
                    col, cols);
        ln_col2im(gx, col, &p->geometry, r0, rows);
    }
}

static ln_status backward_sample(const plan *p, float *gx, float *gw, const float *x,
                                 const float *w, const float *gy, float *col)
{
    if (p->patch == 0 || p->group_out_channels == 0)
        return LN_OK;
    for (int64_t g = 0; g < p->groups; g++) {
        int64_t in_offset = g * p->group_channels * p->in_plane;
        int64_t weight_offset = g * p->group_out_channels * p->patch;
        const float *gyg = gy + g * p->group_out_channels * p->out_plane;
        for (int64_t r0 = 0; r0 < p->geometry.out_height; r0 += p->block_rows) {
            if (ln_interrupted())
                return ln_fail(LN_EINTR, "interrupted");
            backward_block(p, gx ? gx + in_offset : NULL, gw ? gw + weight_offset : NULL,
                           x + in_offset, w + weight_offset, gyg, col, r0, block_size(p, r0));
        }
    }
    return LN_OK;
}

/* grad_bias[oc] += the sum of grad_output over samples and positions. */
static void add_bias_grad(const plan *p, ln_tensor *grad_bias, const float *gy)
{
    const int64_t out_channels = p->groups * p->group_out_channels;
    float *gb = ln_data(grad_bias);
    for (int64_t oc = 0; oc < out_channels; oc++) {
        double sum = 0.0;
        for (int64_t n = 0; n < p->batch; n++)
            sum += ln_sum_strided(gy + (n * out_channels + oc) * p->out_plane, p->out_plane, 1);
        gb[oc] += (float)sum;
    }
}

static ln_status check_grads(const plan *p, const ln_tensor *grad_input,
                             const ln_tensor *grad_weight, const ln_tensor *grad_bias,
                             const ln_tensor *grad_output, const ln_tensor *input,
                             const ln_tensor *weight)
{
    if (grad_output->ndim != p->out_ndim ||
        memcmp(grad_output->shape, p->out_shape, sizeof(int64_t) * p->out_ndim) != 0) {
        char tg[256], ts[256];
        return ln_fail(LN_EINVAL, "grad_output has shape %s but the output has shape %s",
                       ln_shape_string(grad_output, tg, sizeof tg),
                       ln_shape_string_raw(p->out_ndim, p->out_shape, ts, sizeof ts));
    }
    ln_status status = LN_OK;
    if (grad_input)
        status = check_out(grad_input, input->ndim, input->shape, "grad_input");
    if (!status && grad_weight)
        status = check_out(grad_weight, weight->ndim, weight->shape, "grad_weight");
    if (!status && grad_bias)
        status = check_out(grad_bias, 1, weight->shape, "grad_bias");
    return status;
}

ln_status ln_conv2d_backward(ln_tensor *grad_input, ln_tensor *grad_weight, ln_tensor *grad_bias,
                             const ln_tensor *grad_output, const ln_tensor *input,
                             const ln_tensor *weight, const ln_conv2d_options *options,
                             float *workspace)
{
    plan p;
    ln_status status = make_plan(&p, input, weight, NULL, options);
    if (!status)
        status = check_grads(&p, grad_input, grad_weight, grad_bias, grad_output, input, weight);
    if (status)
        return status;
    operands o;
    if ((status = prepare(&o, &p, input, weight, grad_output, &workspace)))
        return status;

    /* col2im adds into grad_input, and a layer without channels does no
     * GEMM at all, so grad_input starts from zeros. */
    if (grad_input)
        ln_fill(grad_input, 0.0f);
    const int64_t in_sample = p.groups * p.group_channels * p.in_plane;
    const int64_t out_sample = p.groups * p.group_out_channels * p.out_plane;
    for (int64_t n = 0; n < p.batch && !status; n++)
        status = backward_sample(&p, grad_input ? ln_data(grad_input) + n * in_sample : NULL,
                                 grad_weight ? ln_data(grad_weight) : NULL,
                                 ln_data(&o.x) + n * in_sample, ln_data(&o.w),
                                 ln_data(&o.gy) + n * out_sample, workspace);
    if (!status && grad_bias)
        add_bias_grad(&p, grad_bias, ln_data(&o.gy));
    release_operands(&o);
    return status;
}
