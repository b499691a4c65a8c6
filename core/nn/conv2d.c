#include "nn/conv2d.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gemm_conv.h"
#include "gemm_kernel.h"
#include "internal.h"
#include "matmul.h"
#include "nn/im2col.h"
#include "nn/winograd.h"
#include "parallel.h"

/* Upper bound on the OpenBLAS path's workspace, in floats (16 MiB). Several
 * samples share one patch matrix when they fit, so each GEMM has thousands
 * of columns even for small images. A large image is cut into blocks of
 * output rows instead: a VGG layer at 224x224, whose whole patch matrix
 * would take 115 MB, stays within the bound. A single output row may exceed
 * it. */
#define WORKSPACE_FLOATS ((int64_t)1 << 22)

/* A 1x1 convolution reads the input planes in place when each plane has at
 * least this many pixels; smaller planes are copied side by side, as
 * patches, so the GEMM sees more columns. */
#define DIRECT_MIN_PLANE 1024

/* How forward, grad_weight or grad_input is computed: im2col and OpenBLAS
 * (the fallback for every shape), the GEMM kernels of gemm_conv.h, or
 * Winograd. */
typedef enum path { PATH_BLAS, PATH_KERNEL, PATH_WINOGRAD } path;

/* Sizes derived from the arguments, shared by forward and backward. */
typedef struct plan {
    int64_t batch, groups;
    int64_t group_channels, group_out_channels;  /* C / groups, OC / groups */
    int64_t patch;                 /* rows of the patch matrix: C / groups * KH * KW */
    int64_t in_plane, out_plane;   /* H * W and OH * OW */
    int64_t block_samples;         /* OpenBLAS: samples per GEMM; > 1 only with whole planes */
    int64_t block_rows;            /* OpenBLAS: output rows per patch-matrix block */
    bool direct;                   /* OpenBLAS: one sample per GEMM, no patch matrix */
    path forward, weight_grad, input_grad;
    ln_winograd_problem forward_problem, backward_problem;
    ln_gemm_conv patch_conv;       /* the convolution, for the GEMM kernels */
    ln_gemm_conv transposed_conv;  /* grad_input as a convolution of grad_output */
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
    if (options->algorithm != LN_CONV2D_AUTO && options->algorithm != LN_CONV2D_GEMM &&
        options->algorithm != LN_CONV2D_WINOGRAD)
        return ln_fail(LN_EINVAL, "algorithm must be auto, gemm or winograd, got %d",
                       (int)options->algorithm);
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

/* Picks how many samples, or else output rows, one GEMM covers, within
 * WORKSPACE_FLOATS: the patch matrix plus, with several samples, a staging
 * matrix for the output channels of one group. */
static void choose_blocks(plan *p, bool pointwise, int64_t out_height, int64_t out_width)
{
    p->direct = pointwise && p->out_plane >= DIRECT_MIN_PLANE;
    p->block_samples = 1;
    p->block_rows = out_height;
    if (p->direct || p->patch == 0 || p->out_plane == 0)
        return;

    int64_t per_sample = (p->patch + p->group_out_channels) * p->out_plane;
    if (p->batch > 1 && per_sample <= WORKSPACE_FLOATS / 2) {
        p->block_samples = WORKSPACE_FLOATS / per_sample;
        if (p->block_samples > p->batch)
            p->block_samples = p->batch;
        return;
    }
    p->block_rows = WORKSPACE_FLOATS / (p->patch * out_width);
    if (p->block_rows < 1)
        p->block_rows = 1;
    if (p->block_rows > out_height)
        p->block_rows = out_height;
}

/* Whether Winograd pays for this layer when the caller lets us choose.
 * Measured on AVX-512 against the GEMM kernel: with fewer than 16 input or
 * output channels the transforms cost more than the multiplications they
 * save, and with fewer than about 40 tiles of 4x4 outputs (a 14x14 image,
 * 16 tiles) so does transforming the weights. */
/* Operands with a value above this (2^48) in size, or NaN or inf, avoid
 * Winograd. The transforms scale values by less than 10^5 in all, so with
 * inputs and weights below 2^48 the sums stay below float32's 3.4e38 for
 * channel counts up to about 10^4. */
#define WINOGRAD_LIMIT 0x1p48f

static bool winograd_pays(const plan *p)
{
    const ln_patch_geometry *g = &p->geometry;
    int64_t tiles = p->batch * ((g->out_height + 3) / 4) * ((g->out_width + 3) / 4);
    /* NOTE: without AVX-512 the transforms and products fall back to
     * portable C, so OpenBLAS is taken instead; an AVX2 kernel would let
     * such CPUs use Winograd too. */
    return ln_gemm_select()->simd && p->group_channels >= 16 && p->group_out_channels >= 16 &&
           tiles >= 40;
}

/* Sets up the Winograd problems of forward and grad_input. */
static void plan_winograd(plan *p)
{
    const ln_patch_geometry *g = &p->geometry;
    const int64_t channels = p->group_channels, out_channels = p->group_out_channels;
    p->forward = PATH_WINOGRAD;
    p->forward_problem = (ln_winograd_problem){
        .batch = p->batch,
        .channels = channels,
        .out_channels = out_channels,
        .height = g->height,
        .width = g->width,
        .padding = {g->padding[0], g->padding[1]},
        .weight_stride = {channels * 9, 9},
    };
    if (ln_winograd_weight_grad_supported(&p->forward_problem))
        p->weight_grad = PATH_WINOGRAD;
    /* grad_input is the convolution of grad_output with the flipped,
     * transposed filters, padded by 2 - padding. */
    if (g->padding[0] > 2 || g->padding[1] > 2)
        return;
    p->input_grad = PATH_WINOGRAD;
    p->backward_problem = (ln_winograd_problem){
        .batch = p->batch,
        .channels = out_channels,
        .out_channels = channels,
        .height = g->out_height,
        .width = g->out_width,
        .padding = {2 - g->padding[0], 2 - g->padding[1]},
        .weight_stride = {9, channels * 9},
        .flip = true,
    };
}

/* Sets up the GEMM kernel's paths: forward for every shape, and with
 * stride 1 the weight gradient, and grad_input as the convolution of
 * grad_output with the flipped, transposed filters when that needs no
 * negative padding. */
static void plan_kernel(plan *p)
{
    const ln_patch_geometry *g = &p->geometry;
    p->forward = PATH_KERNEL;
    p->patch_conv = (ln_gemm_conv){
        .geometry = *g,
        .batch = p->batch,
        .groups = p->groups,
        .out_channels = p->group_out_channels,
    };
    if (!ln_gemm_conv_weight_grad_supported(&p->patch_conv))
        return;
    p->weight_grad = PATH_KERNEL;
    ln_patch_geometry t = *g;
    t.channels = p->group_out_channels;
    t.height = g->out_height;
    t.width = g->out_width;
    t.out_height = g->height;
    t.out_width = g->width;
    for (int d = 0; d < 2; d++) {
        t.padding[d] = g->dilation[d] * (g->kernel[d] - 1) - g->padding[d];
        if (t.padding[d] < 0)
            return;
    }
    p->input_grad = PATH_KERNEL;
    p->transposed_conv = (ln_gemm_conv){
        .geometry = t,
        .batch = p->batch,
        .groups = p->groups,
        .out_channels = p->group_channels,
    };
}

/* Chooses the paths: Winograd when forced, or when it fits and pays;
 * otherwise the GEMM kernel where it has vector code; BLAS for the rest. */
static ln_status choose_algorithm(plan *p, const ln_tensor *weight,
                                  const ln_conv2d_options *options)
{
    const ln_patch_geometry *g = &p->geometry;
    bool fits = g->kernel[0] == 3 && g->kernel[1] == 3 && g->stride[0] == 1 &&
                g->stride[1] == 1 && g->dilation[0] == 1 && g->dilation[1] == 1 &&
                p->groups == 1;
    if (options->algorithm == LN_CONV2D_WINOGRAD && !fits) {
        char tw[256], ts[64], td[64];
        return ln_fail(LN_EINVAL, "algorithm 'winograd' needs a 3x3 kernel with stride 1, "
                       "dilation 1 and groups 1 (weight %s, stride %s, dilation %s, groups %lld)",
                       ln_shape_string(weight, tw, sizeof tw),
                       pair_string(options->stride, ts, sizeof ts),
                       pair_string(options->dilation, td, sizeof td), (long long)p->groups);
    }
    p->forward = p->weight_grad = p->input_grad = PATH_BLAS;
    if (ln_gemm_select()->simd)
        plan_kernel(p);
    if (options->algorithm == LN_CONV2D_WINOGRAD ||
        (options->algorithm == LN_CONV2D_AUTO && fits && winograd_pays(p)))
        plan_winograd(p);
    return LN_OK;
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

    /* The plan multiplies the output plane by the patch size; a padding or
     * stride that makes it too large to address fails here instead. */
    int64_t plane, per_sample;
    int64_t columns = weight->shape[1] * weight->shape[2] * weight->shape[3] +
                      weight->shape[0] / options->groups;
    if (__builtin_mul_overflow(out_hw[0], out_hw[1], &plane) ||
        __builtin_mul_overflow(columns, plane, &per_sample) || per_sample > INT64_MAX / 8)
        return ln_fail(LN_EINVAL, "input %s gives an output of %lldx%lld per channel, too "
                       "large to compute", ln_shape_string(input, ti, sizeof ti),
                       (long long)out_hw[0], (long long)out_hw[1]);

    *p = (plan){0};
    int first = input->ndim - 3;
    p->batch = first ? input->shape[0] : 1;
    p->groups = options->groups;
    p->group_channels = weight->shape[1];
    p->group_out_channels = weight->shape[0] / options->groups;
    p->patch = weight->shape[1] * weight->shape[2] * weight->shape[3];
    p->in_plane = input->shape[first + 1] * input->shape[first + 2];
    p->out_plane = out_hw[0] * out_hw[1];

    p->out_ndim = input->ndim;
    if (first)
        p->out_shape[0] = p->batch;
    p->out_shape[first] = weight->shape[0];
    p->out_shape[first + 1] = out_hw[0];
    p->out_shape[first + 2] = out_hw[1];

    bool pointwise = weight->shape[2] == 1 && weight->shape[3] == 1 &&
                     options->stride[0] == 1 && options->stride[1] == 1 &&
                     options->padding[0] == 0 && options->padding[1] == 0;
    choose_blocks(p, pointwise, out_hw[0], out_hw[1]);

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
    return choose_algorithm(p, weight, options);
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

/* Columns of one GEMM: the patch-matrix width. */
static int64_t block_columns(const plan *p)
{
    return p->block_samples * p->block_rows * p->geometry.out_width;
}

static int64_t max64(int64_t a, int64_t b)
{
    return a > b ? a : b;
}

/* Floats of the flipped, transposed filters that grad_input by the GEMM
 * kernel convolves with. */
static int64_t flipped_floats(const plan *p)
{
    return p->input_grad == PATH_KERNEL ? p->groups * p->group_out_channels * p->patch : 0;
}

/* The largest workspace of the paths in use: the BLAS patch matrix plus,
 * with several samples, its staging matrix; the GEMM kernel's buffers; the
 * Winograd buffers. */
static int64_t workspace_floats(const plan *p)
{
    int64_t floats = 0;
    bool blas = p->forward == PATH_BLAS || p->weight_grad == PATH_BLAS ||
                p->input_grad == PATH_BLAS;
    if (blas && !p->direct) {
        int64_t staging = p->block_samples > 1 ? p->group_out_channels : 0;
        floats = (p->patch + staging) * block_columns(p);
    }
    if (p->forward == PATH_KERNEL)
        floats = max64(floats, ln_gemm_conv_forward_workspace(&p->patch_conv));
    if (p->weight_grad == PATH_KERNEL)
        floats = max64(floats, ln_gemm_conv_weight_grad_workspace(&p->patch_conv));
    if (p->input_grad == PATH_KERNEL)
        floats = max64(floats, flipped_floats(p) +
                                   ln_gemm_conv_forward_workspace(&p->transposed_conv));
    if (p->forward == PATH_WINOGRAD)
        floats = max64(floats, ln_winograd_workspace_size(&p->forward_problem));
    if (p->input_grad == PATH_WINOGRAD)
        floats = max64(floats, ln_winograd_workspace_size(&p->backward_problem));
    if (p->weight_grad == PATH_WINOGRAD)
        floats = max64(floats, ln_winograd_weight_grad_workspace_size(&p->forward_problem));
    return floats;
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

/* Points *workspace at a buffer of its own for p's paths, unless the
 * caller gave one. */
static ln_status own_workspace(operands *o, const plan *p, float **workspace)
{
    int64_t floats = workspace_floats(p);
    if (*workspace || floats == 0)
        return LN_OK;
    o->own_workspace = malloc(sizeof(float) * floats);
    if (!o->own_workspace)
        return ln_fail(LN_ENOMEM, "cannot allocate a %lld-byte convolution workspace",
                       (long long)(sizeof(float) * floats));
    *workspace = o->own_workspace;
    return LN_OK;
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
    if (!status)
        status = own_workspace(o, p, workspace);
    if (status)
        release_operands(o);
    return status;
}

/* Returns whether every value of t is finite and at most WINOGRAD_LIMIT in
 * size. */
LN_CLONES static bool within_winograd_limit(const ln_tensor *t)
{
    const float *x = ln_data(t);
    const int64_t n = ln_numel(t);
    int outside = 0;
#pragma omp parallel for reduction(| : outside) if (n >= LN_PARALLEL_GRAIN)
    for (int64_t i = 0; i < n; i++)
        outside |= !(fabsf(x[i]) <= WINOGRAD_LIMIT);
    return !outside;
}

/* Winograd's transforms add up to 36 values of a tile and scale them, so a
 * NaN or inf reaches every output of the tiles around it, and very large
 * values overflow where a direct convolution's sum does not. Operands with
 * such values take the GEMM paths instead, which keep NaN and inf within
 * the kernel's window as PyTorch does. The caller's workspace was sized for
 * Winograd, so the other paths get one of their own. */
static ln_status avoid_winograd_if_unsafe(plan *p, operands *o, float **workspace)
{
    bool winograd = p->forward == PATH_WINOGRAD || p->input_grad == PATH_WINOGRAD ||
                    p->weight_grad == PATH_WINOGRAD;
    if (!winograd || (within_winograd_limit(&o->x) && within_winograd_limit(&o->w) &&
                      (!o->gy.storage || within_winograd_limit(&o->gy))))
        return LN_OK;

    p->forward = p->weight_grad = p->input_grad = PATH_BLAS;
    if (ln_gemm_select()->simd)
        plan_kernel(p);
    free(o->own_workspace);
    o->own_workspace = NULL;
    *workspace = NULL;
    return own_workspace(o, p, workspace);
}

/* The number of output rows in the block that starts at row r0. */
static int64_t block_size(const plan *p, int64_t r0)
{
    int64_t left = p->geometry.out_height - r0;
    return left < p->block_rows ? left : p->block_rows;
}

/* Pointers to one group of a block of samples: x and y (or grad_output)
 * at the block's first sample, w at the group's filters. */
typedef struct group_block {
    const float *x, *w;
    float *y;
    int64_t samples;
} group_block;

static group_block group_at(const plan *p, const float *x, const float *w, float *y, int64_t n,
                            int64_t samples, int64_t g)
{
    const int64_t in_sample = p->groups * p->group_channels * p->in_plane;
    const int64_t out_sample = p->groups * p->group_out_channels * p->out_plane;
    return (group_block){
        .x = x + n * in_sample + g * p->group_channels * p->in_plane,
        .w = w + g * p->group_out_channels * p->patch,
        .y = y + n * out_sample + g * p->group_out_channels * p->out_plane,
        .samples = samples,
    };
}

/* Copies between the staging matrix (group output channels x samples *
 * out_plane) and the samples' planes; to_planes also adds the bias (NULL
 * for none). */
static void move_staging(const plan *p, float *staging, float *planes, int64_t samples,
                         const float *bias, bool to_planes)
{
    const int64_t out_sample = p->groups * p->group_out_channels * p->out_plane;
    const int64_t ld = samples * p->out_plane;
#pragma omp parallel for collapse(2) schedule(static) \
    if (p->group_out_channels * ld >= LN_PARALLEL_GRAIN)
    for (int64_t s = 0; s < samples; s++) {
        for (int64_t oc = 0; oc < p->group_out_channels; oc++) {
            float *plane = planes + s * out_sample + oc * p->out_plane;
            float *row = staging + oc * ld + s * p->out_plane;
            if (!to_planes) {
                memcpy(row, plane, sizeof(float) * p->out_plane);
                continue;
            }
            float value = bias ? bias[oc] : 0.0f;
            for (int64_t i = 0; i < p->out_plane; i++)
                plane[i] = row[i] + value;
        }
    }
}

/* y = W_g x patches (+ bias) for a block of several samples, through the
 * staging matrix. */
static void forward_samples(const plan *p, const group_block *b, const float *bias, float *col)
{
    const int64_t in_sample = p->groups * p->group_channels * p->in_plane;
    const int64_t cols = b->samples * p->out_plane;
    float *staging = col + p->patch * cols;
    ln_im2col(col, b->x, in_sample, b->samples, &p->geometry, 0, p->geometry.out_height);
    ln_gemm(false, false, p->group_out_channels, cols, p->patch, 1.0f, b->w, p->patch, col, cols,
            0.0f, staging, cols);
    move_staging(p, staging, b->y, b->samples, bias, true);
}

/* y += W_g x patches for one sample, in blocks of output rows; y starts as
 * the bias. */
static ln_status forward_rows(const plan *p, const group_block *b, float *col)
{
    const int64_t out_width = p->geometry.out_width;
    for (int64_t r0 = 0; r0 < p->geometry.out_height; r0 += p->block_rows) {
        if (ln_interrupted())
            return ln_fail(LN_EINTR, "interrupted");
        int64_t rows = block_size(p, r0);
        int64_t cols = rows * out_width;
        const float *patches = b->x + r0 * out_width;
        int64_t ld = p->in_plane;
        if (!p->direct) {
            ln_im2col(col, b->x, 0, 1, &p->geometry, r0, rows);
            patches = col;
            ld = cols;
        }
        ln_gemm(false, false, p->group_out_channels, cols, p->patch, 1.0f, b->w, p->patch,
                patches, ld, 1.0f, b->y + r0 * out_width, p->out_plane);
    }
    return LN_OK;
}

/* Fills every output plane of samples [n, n + count) with its bias. */
static void fill_bias(const plan *p, float *y, const ln_tensor *bias, int64_t n, int64_t count)
{
    const int64_t out_channels = p->groups * p->group_out_channels;
#pragma omp parallel for collapse(2) schedule(static) \
    if (count * out_channels * p->out_plane >= LN_PARALLEL_GRAIN)
    for (int64_t s = n; s < n + count; s++) {
        for (int64_t oc = 0; oc < out_channels; oc++) {
            float value = bias ? ln_data(bias)[oc * bias->stride[0]] : 0.0f;
            float *plane = y + (s * out_channels + oc) * p->out_plane;
            for (int64_t i = 0; i < p->out_plane; i++)
                plane[i] = value;
        }
    }
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
    if ((status = avoid_winograd_if_unsafe(&p, &o, &workspace))) {
        release_operands(&o);
        return status;
    }

    float *y = ln_data(output);
    ln_tensor b = {0};
    if (bias && (p.block_samples > 1 || p.forward != PATH_BLAS))
        status = ln_contiguous(&b, bias, false);
    if (p.forward != PATH_BLAS && !status) {
        const float *bias_data = bias ? ln_data(&b) : NULL;
        if (p.forward == PATH_WINOGRAD)
            status = ln_winograd_run(y, ln_data(&o.x), ln_data(&o.w), bias_data,
                                     &p.forward_problem, workspace);
        else
            status = ln_gemm_conv_forward(y, ln_data(&o.x), ln_data(&o.w), bias_data, &p.patch_conv,
                                      workspace);
        ln_tensor_release(&b);
        release_operands(&o);
        return status;
    }
    for (int64_t n = 0; n < p.batch && !status; n += p.block_samples) {
        int64_t samples = p.batch - n < p.block_samples ? p.batch - n : p.block_samples;
        if (p.patch == 0 || p.group_out_channels == 0 || samples == 1)
            fill_bias(&p, y, bias, n, samples);
        if (p.patch == 0 || p.group_out_channels == 0)
            continue;
        for (int64_t g = 0; g < p.groups && !status; g++) {
            if (ln_interrupted()) {
                status = ln_fail(LN_EINTR, "interrupted");
                break;
            }
            group_block gb = group_at(&p, ln_data(&o.x), ln_data(&o.w), y, n, samples, g);
            if (samples > 1)
                forward_samples(&p, &gb, bias ? ln_data(&b) + g * p.group_out_channels : NULL,
                                workspace);
            else
                status = forward_rows(&p, &gb, workspace);
        }
    }
    ln_tensor_release(&b);
    release_operands(&o);
    return status;
}

/* The backward pass of one sample and group over one block of output rows:
 * gw += gy x patches^T, and gx gains the col2im of W^T gy. */
static void backward_rows(const plan *p, float *gx, float *gw, const group_block *b, float *col,
                          int64_t r0, int64_t rows)
{
    const int64_t out_width = p->geometry.out_width;
    const int64_t cols = rows * out_width;
    const float *gy = b->y + r0 * out_width;

    if (gw) {
        const float *patches = b->x + r0 * out_width;
        int64_t ld = p->in_plane;
        if (!p->direct) {
            ln_im2col(col, b->x, 0, 1, &p->geometry, r0, rows);
            patches = col;
            ld = cols;
        }
        ln_gemm(false, true, p->group_out_channels, p->patch, cols, 1.0f, gy, p->out_plane,
                patches, ld, 1.0f, gw, p->patch);
    }
    if (gx && p->direct) {
        ln_gemm(true, false, p->patch, cols, p->group_out_channels, 1.0f, b->w, p->patch, gy,
                p->out_plane, 0.0f, gx + r0 * out_width, p->in_plane);
    } else if (gx) {
        ln_gemm(true, false, p->patch, cols, p->group_out_channels, 1.0f, b->w, p->patch, gy,
                p->out_plane, 0.0f, col, cols);
        ln_col2im(gx, 0, 1, col, &p->geometry, r0, rows);
    }
}

/* The backward pass of a block of several samples and one group, with
 * grad_output gathered into the staging matrix: gw += staging x patches^T,
 * and gx gains the col2im of W^T staging. */
static void backward_samples(const plan *p, float *gx, float *gw, const group_block *b,
                             float *col)
{
    const int64_t in_sample = p->groups * p->group_channels * p->in_plane;
    const int64_t cols = b->samples * p->out_plane;
    float *staging = col + p->patch * cols;
    move_staging(p, staging, b->y, b->samples, NULL, false);
    if (gw) {
        ln_im2col(col, b->x, in_sample, b->samples, &p->geometry, 0, p->geometry.out_height);
        ln_gemm(false, true, p->group_out_channels, p->patch, cols, 1.0f, staging, cols, col,
                cols, 1.0f, gw, p->patch);
    }
    if (gx) {
        ln_gemm(true, false, p->patch, cols, p->group_out_channels, 1.0f, b->w, p->patch,
                staging, cols, 0.0f, col, cols);
        ln_col2im(gx, in_sample, b->samples, col, &p->geometry, 0, p->geometry.out_height);
    }
}

static ln_status backward_group(const plan *p, float *gx, float *gw, const group_block *b,
                                float *col)
{
    if (b->samples > 1) {
        if (ln_interrupted())
            return ln_fail(LN_EINTR, "interrupted");
        backward_samples(p, gx, gw, b, col);
        return LN_OK;
    }
    for (int64_t r0 = 0; r0 < p->geometry.out_height; r0 += p->block_rows) {
        if (ln_interrupted())
            return ln_fail(LN_EINTR, "interrupted");
        backward_rows(p, gx, gw, b, col, r0, block_size(p, r0));
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

/* grad_input by Winograd or the GEMM kernel, which write all of it. */
static ln_status input_grad(const plan *p, float *gx, const float *gy, const float *w,
                            float *workspace)
{
    if (p->input_grad == PATH_WINOGRAD)
        return ln_winograd_run(gx, gy, w, NULL, &p->backward_problem, workspace);

    /* flipped[g][c][k][ki][kj] = w[g][k][c][KH - 1 - ki][KW - 1 - kj] */
    float *flipped = workspace;
    const int64_t taps = p->patch / p->group_channels;
    const int64_t out = p->group_out_channels, in = p->group_channels;
    for (int64_t g = 0; g < p->groups; g++)
        for (int64_t k = 0; k < out; k++)
            for (int64_t c = 0; c < in; c++)
                for (int64_t t = 0; t < taps; t++)
                    flipped[((g * in + c) * out + k) * taps + taps - 1 - t] =
                        w[((g * out + k) * in + c) * taps + t];
    return ln_gemm_conv_forward(gx, gy, flipped, NULL, &p->transposed_conv,
                            workspace + flipped_floats(p));
}

/* The BLAS path of backward for whichever of grad_input and grad_weight
 * are not NULL. */
static ln_status blas_backward(const plan *p, ln_tensor *grad_input, ln_tensor *grad_weight,
                               const float *x, const float *w, const float *gy, float *workspace)
{
    /* col2im adds into grad_input, and a layer without channels does no
     * GEMM at all, so it starts from zeros. */
    if (grad_input)
        ln_fill(grad_input, 0.0f);
    if (p->patch == 0 || p->group_out_channels == 0)
        return LN_OK;
    ln_status status = LN_OK;
    for (int64_t n = 0; n < p->batch && !status; n += p->block_samples) {
        int64_t samples = p->batch - n < p->block_samples ? p->batch - n : p->block_samples;
        for (int64_t g = 0; g < p->groups && !status; g++) {
            group_block gb = group_at(p, x, w, (float *)gy, n, samples, g);
            float *gx = grad_input ? ln_data(grad_input) + (gb.x - x) : NULL;
            float *gw = grad_weight ? ln_data(grad_weight) + (gb.w - w) : NULL;
            status = backward_group(p, gx, gw, &gb, workspace);
        }
    }
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
    if ((status = avoid_winograd_if_unsafe(&p, &o, &workspace))) {
        release_operands(&o);
        return status;
    }

    const float *x = ln_data(&o.x), *w = ln_data(&o.w), *gy = ln_data(&o.gy);
    if (grad_weight && p.weight_grad == PATH_KERNEL)
        status = ln_gemm_conv_weight_grad(ln_data(grad_weight), x, gy, &p.patch_conv, workspace);
    if (grad_weight && p.weight_grad == PATH_WINOGRAD)
        status = ln_winograd_weight_grad(ln_data(grad_weight), x, gy, &p.forward_problem,
                                         workspace);
    if (p.weight_grad != PATH_BLAS)
        grad_weight = NULL;
    if (grad_input && !status && p.input_grad != PATH_BLAS) {
        status = input_grad(&p, ln_data(grad_input), gy, w, workspace);
        grad_input = NULL;
    }
    if (!status && (grad_input || grad_weight))
        status = blas_backward(&p, grad_input, grad_weight, x, w, gy, workspace);
    if (!status && grad_bias)
        add_bias_grad(&p, grad_bias, ln_data(&o.gy));
    release_operands(&o);
    return status;
}
