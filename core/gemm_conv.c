#include "gemm_conv.h"

#include <immintrin.h>
#include <omp.h>
#include <string.h>

#include "gemm_kernel.h"
#include "parallel.h"

/* Patch-matrix rows per GEMM step: a block of 256 rows of 32 columns is
 * 32 KiB, and the weights packed for it 14 KiB. */
#define DEPTH_BLOCK 256

/* With fewer units than this per thread, the output channels are split
 * too, at the price of building the input side once per part. */
#define UNITS_PER_THREAD 2

/* Convolutions of fewer multiply-adds than this run on one thread: waking
 * a second thread costs more than the few microseconds it would save. */
#define PARALLEL_MIN_MACS (1 << 21)

static int64_t min64(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

/* Returns the thread count for convolution c. Its forward and its weight
 * gradient have the same number of products, so one count serves both. */
static int team_size(const ln_gemm_conv *c)
{
    const ln_patch_geometry *g = &c->geometry;
    double macs = (double)c->batch * c->groups * c->out_channels * g->out_height *
                  g->out_width * g->channels * g->kernel[0] * g->kernel[1];
    return macs < PARALLEL_MIN_MACS ? 1 : omp_get_max_threads();
}

/* Returns whether the team should stop: an interrupt arrived, now or
 * seen earlier by any thread through *stopped. */
static bool should_stop(bool *stopped)
{
    bool stop;
#pragma omp atomic read
    stop = *stopped;
    if (!stop && ln_interrupted()) {
        stop = true;
#pragma omp atomic write
        *stopped = true;
    }
    return stop;
}

/* The GEMM row blocks of output channels per unit: at most `most`, and
 * few enough that, with `units` units per part, every one of the threads
 * gets UNITS_PER_THREAD units. */
static int64_t blocks_per_part(int64_t row_blocks, int64_t units, int threads, int64_t most)
{
    int64_t blocks = min64(row_blocks, most);
    if (units > 0 && units < UNITS_PER_THREAD * threads) {
        int64_t parts = (UNITS_PER_THREAD * threads + units - 1) / units;
        blocks = min64(blocks, (row_blocks + parts - 1) / parts);
    }
    return blocks < 1 ? 1 : blocks;
}

/* Transposes 16 steps of up to 16 rows, in registers: packed[d * rows + r]
 * = a[r * ld + d] for d < 16. Each step's store writes 16 floats, so it
 * runs up to 16 - rows floats past the step, which the next step's store
 * overwrites; the last runs past packed + 16 * rows. */
__attribute__((target("avx512f"))) static void pack_steps_avx512(float *packed, const float *a,
                                                                 int64_t ld, int rows)
{
    __m512 v[16];
    for (int r = 0; r < 16; r++)
        v[r] = r < rows ? _mm512_loadu_ps(a + r * ld) : _mm512_setzero_ps();
    /* Transpose 2x2 blocks of floats, then of pairs, then of 128-bit
     * quarters twice. */
    __m512 t[16];
    for (int r = 0; r < 16; r += 2) {
        t[r] = _mm512_unpacklo_ps(v[r], v[r + 1]);
        t[r + 1] = _mm512_unpackhi_ps(v[r], v[r + 1]);
    }
    for (int r = 0; r < 16; r += 4) {
        for (int i = 0; i < 2; i++) {
            __m512d x = _mm512_castps_pd(t[r + i]), y = _mm512_castps_pd(t[r + 2 + i]);
            v[r + i] = _mm512_castpd_ps(_mm512_unpacklo_pd(x, y));
            v[r + 2 + i] = _mm512_castpd_ps(_mm512_unpackhi_pd(x, y));
        }
    }
    for (int r = 0; r < 16; r += 8) {
        for (int i = 0; i < 4; i++) {
            t[r + i] = _mm512_shuffle_f32x4(v[r + i], v[r + 4 + i], 0x88);
            t[r + 4 + i] = _mm512_shuffle_f32x4(v[r + i], v[r + 4 + i], 0xdd);
        }
    }
    for (int i = 0; i < 8; i++) {
        v[i] = _mm512_shuffle_f32x4(t[i], t[8 + i], 0x88);
        v[8 + i] = _mm512_shuffle_f32x4(t[i], t[8 + i], 0xdd);
    }
    /* Step d of every row is now in v[d] with bits 0 and 1 of d exchanged. */
    for (int d = 0; d < 16; d++)
        _mm512_storeu_ps(packed + d * rows, v[(d & ~3) | (d & 1) << 1 | (d >> 1 & 1)]);
}

/* Floats of a buffer for one row block of weights packed by pack_rows. */
static int64_t packed_floats(const ln_gemm_kernel *kernel)
{
    return DEPTH_BLOCK * kernel->max_rows + 16;
}

/* Copies rows x depth of a row-major matrix (row stride ld) into packed,
 * step by step: packed[d * rows + r] = a[r * ld + d]; and asks the cache
 * for the rows' next depth floats, which the next call is likely to want.
 * packed has room for 16 floats past its end. */
static void pack_rows(float *packed, const float *a, int64_t ld, int rows, int64_t depth)
{
    for (int r = 0; r < rows; r++)
        for (int64_t d = 0; d < depth; d += 16)
            __builtin_prefetch(a + r * ld + depth + d, 0, 2);
    int64_t d = 0;
    if (ln_gemm_select()->simd && rows <= 16)
        for (; d + 16 <= depth; d += 16)
            pack_steps_avx512(packed + d * rows, a + d, ld, rows);
    for (int r = 0; r < rows; r++)
        for (int64_t e = d; e < depth; e++)
            packed[e * rows + r] = a[r * ld + e];
}

/* C (+)= A x B for a panel with only `columns` valid columns, through the
 * scratch block so that the kernel's 32 columns stay inside it. */
static void edge_panel(const ln_gemm_kernel *kernel, int64_t depth, const float *a,
                       const float *b, float *c, const ln_gemm_strides *s, int rows,
                       int64_t columns, bool accumulate, float *scratch)
{
    ln_gemm_strides inner = *s;
    inner.c_row = LN_GEMM_PANEL;
    inner.c_half = 16;
    for (int r = 0; r < rows && accumulate; r++)
        memcpy(scratch + r * LN_GEMM_PANEL, c + r * s->c_row, sizeof(float) * columns);
    kernel->block(depth, a, b, scratch, &inner, rows, accumulate);
    for (int r = 0; r < rows; r++)
        memcpy(c + r * s->c_row, scratch + r * LN_GEMM_PANEL, sizeof(float) * columns);
}

/* Whether the stride-1 paths apply: they address a group's padded planes
 * through int32 offsets. */
static bool in_place(const ln_gemm_conv *c)
{
    const ln_patch_geometry *g = &c->geometry;
    int64_t plane = (g->height + 2 * g->padding[0]) * (g->width + 2 * g->padding[1]);
    return g->stride[0] == 1 && g->stride[1] == 1 && (g->channels + 1) * plane < INT32_MAX;
}

/* ---- Strides above 1: a blocked patch matrix -------------------------------
 * Threads take units: a block of output positions of one sample and group,
 * and a part of the group's output channels. A unit builds its patch
 * matrix DEPTH_BLOCK rows at a time in its own buffer, small enough to
 * stay in L2, and multiplies each block into the output, which it owns. */

/* The most output positions per unit, a multiple of LN_GEMM_PANEL: a block
 * of the patch matrix takes at most 1 MiB. */
#define PIXEL_BLOCK 1024

typedef struct patch_layout {
    const ln_gemm_conv *c;
    int64_t patch;       /* rows of the patch matrix */
    int64_t in_plane, out_plane;
    int64_t pixel_block, pixel_blocks;
    int64_t row_blocks;  /* GEMM row blocks of a group's output channels */
    int64_t part_blocks; /* row blocks per unit */
    int64_t parts;
    int threads;
    const ln_gemm_kernel *kernel;
} patch_layout;

static patch_layout make_patch_layout(const ln_gemm_conv *c)
{
    const ln_patch_geometry *g = &c->geometry;
    patch_layout l = {.c = c, .kernel = ln_gemm_select(), .threads = team_size(c)};
    l.patch = g->channels * g->kernel[0] * g->kernel[1];
    l.in_plane = g->height * g->width;
    l.out_plane = g->out_height * g->out_width;
    l.pixel_block = min64(PIXEL_BLOCK, (l.out_plane + LN_GEMM_PANEL - 1) / LN_GEMM_PANEL *
                                           LN_GEMM_PANEL);
    l.pixel_blocks = (l.out_plane + l.pixel_block - 1) / l.pixel_block;
    l.row_blocks = ln_gemm_row_blocks(c->out_channels, l.kernel->max_rows);

    l.part_blocks = blocks_per_part(l.row_blocks, c->batch * c->groups * l.pixel_blocks,
                                    l.threads, l.row_blocks);
    l.parts = (l.row_blocks + l.part_blocks - 1) / l.part_blocks;
    return l;
}

/* A thread's patch block, packed weights, edge scratch and patch row. */
static int64_t patch_thread_floats(const patch_layout *l)
{
    return DEPTH_BLOCK * l->pixel_block + packed_floats(l->kernel) +
           l->kernel->max_rows * LN_GEMM_PANEL + l->pixel_block;
}

/* Rows [q0, q0 + depth) of the patch matrix of one sample and group over
 * positions [first, first + count), packed in panels of LN_GEMM_PANEL
 * columns: row d of panel j at col + (j * depth + d) * LN_GEMM_PANEL.
 * Columns past count are 0. row is scratch for count floats. */
static void patch_block(float *col, float *row, const float *x, const patch_layout *l,
                        int64_t q0, int64_t depth, int64_t first, int64_t count)
{
    const ln_patch_geometry *g = &l->c->geometry;
    const int64_t taps = g->kernel[0] * g->kernel[1];
    const int64_t panels = (count + LN_GEMM_PANEL - 1) / LN_GEMM_PANEL;
    const int64_t tail = count - (panels - 1) * LN_GEMM_PANEL;
    for (int64_t q = q0; q < q0 + depth; q++) {
        int64_t tap = q % taps;
        ln_patch_row(row, x + q / taps * l->in_plane, g, tap / g->kernel[1],
                     tap % g->kernel[1], first, count);
        float *dst = col + (q - q0) * LN_GEMM_PANEL;
        for (int64_t j = 0; j < panels - 1; j++)
            memcpy(dst + j * depth * LN_GEMM_PANEL, row + j * LN_GEMM_PANEL,
                   sizeof(float) * LN_GEMM_PANEL);
        float *last = dst + (panels - 1) * depth * LN_GEMM_PANEL;
        memcpy(last, row + (panels - 1) * LN_GEMM_PANEL, sizeof(float) * tail);
        memset(last + tail, 0, sizeof(float) * (LN_GEMM_PANEL - tail));
    }
}

/* One forward unit: sample n, group `group`, positions [first, first +
 * count), row blocks [block, block + blocks) of the group's output
 * channels. */
static void forward_unit(float *y, const float *x, const float *w, const float *bias,
                         const patch_layout *l, float *buffer, int64_t n, int64_t group,
                         int64_t first, int64_t count, int64_t block, int64_t blocks)
{
    const ln_gemm_conv *c = l->c;
    const int64_t out_channels = c->out_channels, patch = l->patch;
    const int64_t panels = (count + LN_GEMM_PANEL - 1) / LN_GEMM_PANEL;
    const int64_t group_index = n * c->groups + group;
    const float *xg = x + group_index * c->geometry.channels * l->in_plane;
    const float *wg = w + group * out_channels * patch;
    float *yg = y + group_index * out_channels * l->out_plane + first;
    float *packed = buffer + DEPTH_BLOCK * l->pixel_block;
    float *scratch = packed + packed_floats(l->kernel);
    float *row = scratch + l->kernel->max_rows * LN_GEMM_PANEL;

    for (int64_t q0 = 0; q0 < patch; q0 += DEPTH_BLOCK) {
        const int64_t depth = min64(DEPTH_BLOCK, patch - q0);
        patch_block(buffer, row, xg, l, q0, depth, first, count);
        for (int64_t b = block; b < block + blocks; b++) {
            int64_t start = ln_gemm_row_start(b, out_channels, l->row_blocks);
            int rows = (int)(ln_gemm_row_start(b + 1, out_channels, l->row_blocks) - start);
            const ln_gemm_strides s = {.b_step = LN_GEMM_PANEL, .c_row = l->out_plane,
                                       .c_half = 16};
            const float *a = packed;
            pack_rows(packed, wg + start * patch + q0, patch, rows, depth);
            for (int64_t j = 0; j < panels; j++) {
                float *cj = yg + start * l->out_plane + j * LN_GEMM_PANEL;
                int64_t columns = min64(LN_GEMM_PANEL, count - j * LN_GEMM_PANEL);
                const float *panel = buffer + j * depth * LN_GEMM_PANEL;
                if (columns == LN_GEMM_PANEL)
                    l->kernel->block(depth, a, panel, cj, &s, rows, q0 > 0);
                else
                    edge_panel(l->kernel, depth, a, panel, cj, &s, rows, columns, q0 > 0,
                               scratch);
            }
        }
    }

    if (!bias)
        return;
    int64_t k0 = ln_gemm_row_start(block, out_channels, l->row_blocks);
    int64_t k1 = ln_gemm_row_start(block + blocks, out_channels, l->row_blocks);
    for (int64_t k = k0; k < k1; k++) {
        float *row = yg + k * l->out_plane, value = bias[group * out_channels + k];
        for (int64_t i = 0; i < count; i++)
            row[i] += value;
    }
}

static ln_status patch_forward(float *output, const float *input, const float *weight,
                               const float *bias, const ln_gemm_conv *c, float *workspace)
{
    const patch_layout l = make_patch_layout(c);
    const int64_t units = c->batch * c->groups * l.pixel_blocks * l.parts;
    bool stopped = false;

#pragma omp parallel num_threads(l.threads)
    {
        float *buffer = workspace + omp_get_thread_num() * patch_thread_floats(&l);
#pragma omp for schedule(dynamic)
        for (int64_t unit = 0; unit < units; unit++) {
            if (should_stop(&stopped))
                continue;
            int64_t part = unit % l.parts, rest = unit / l.parts;
            int64_t pixel_block = rest % l.pixel_blocks, group_index = rest / l.pixel_blocks;
            int64_t first = pixel_block * l.pixel_block;
            int64_t block = part * l.part_blocks;
            forward_unit(output, input, weight, bias, &l, buffer, group_index / c->groups,
                         group_index % c->groups, first,
                         min64(l.pixel_block, l.out_plane - first), block,
                         min64(l.part_blocks, l.row_blocks - block));
        }
    }
    return stopped ? ln_fail(LN_EINTR, "interrupted") : LN_OK;
}

/* ---- Stride 1: the kernel reads the padded input in place -----------------
 * With stride 1, and output positions numbered over the padded width (P =
 * oh * padded_width + ow), the patch-matrix row of tap (c, ki, kj) is
 * channel c's zero-padded input plane shifted by ki * dilation rows and kj
 * * dilation columns. The kernel reads B from a padded copy of the input
 * through one offset per tap, and no patch matrix is built. Positions with
 * ow >= out_width are computed and dropped. Samples are padded a chunk at a
 * time; a unit covers a span of output rows and a part of the output
 * channels of one sample and group, and accumulates in its own buffer. */

/* The padded input of a chunk of samples takes at most 16 MiB (unless one
 * sample needs more), a unit at most SPAN_POSITIONS padded positions and
 * PART_ROWS output channels. */
#define PADDED_FLOATS ((int64_t)1 << 22)

/* Outputs of at least this many floats (8 MiB), computed in one pass over
 * the patch, are stored around the caches: they would not stay there, and
 * plain stores would first read every line they write. */
#define STREAM_FLOATS ((int64_t)1 << 21)
#define SPAN_POSITIONS 2048
#define PART_ROWS 128

typedef struct shifted_layout {
    const ln_gemm_conv *c;
    int64_t patch, taps;
    int64_t padded_width, plane;  /* plane: padded height * padded_width */
    int64_t sample_floats;        /* all groups' padded planes of a sample */
    int64_t slack;                /* zeros after a chunk, for the last panel */
    int64_t chunk;                /* samples per padded chunk */
    int64_t span_rows, spans;     /* output rows per unit, units per image */
    int64_t span_stride;          /* columns of a unit's buffer, a multiple of 32 */
    bool rowwise;                 /* panels per output row, straight into the output */
    bool stream;                  /* rowwise output written around the caches */
    int64_t row_blocks, part_blocks, parts;
    int threads;
    const ln_gemm_kernel *kernel;
} shifted_layout;

static shifted_layout make_shifted_layout(const ln_gemm_conv *c)
{
    const ln_patch_geometry *g = &c->geometry;
    shifted_layout l = {.c = c, .kernel = ln_gemm_select(), .threads = team_size(c)};
    const int64_t extent_w = g->dilation[1] * (g->kernel[1] - 1);
    l.taps = g->kernel[0] * g->kernel[1];
    l.patch = g->channels * l.taps;
    l.padded_width = g->width + 2 * g->padding[1];
    l.plane = (g->height + 2 * g->padding[0]) * l.padded_width;
    l.sample_floats = c->groups * g->channels * l.plane;
    l.slack = extent_w + LN_GEMM_PANEL;
    l.chunk = PADDED_FLOATS / (l.sample_floats > 0 ? l.sample_floats : 1);
    l.chunk = l.chunk < 1 ? 1 : min64(l.chunk, c->batch);

    /* Whole panels per output row waste no more than the padded columns do. */
    l.rowwise = (g->out_width + LN_GEMM_PANEL - 1) / LN_GEMM_PANEL * LN_GEMM_PANEL <=
                l.padded_width;
    l.stream = l.rowwise && l.patch <= DEPTH_BLOCK &&
               c->batch * c->groups * c->out_channels * g->out_height * g->out_width >=
                   STREAM_FLOATS;
    l.span_rows = SPAN_POSITIONS / l.padded_width;
    l.span_rows = l.span_rows < 1 ? 1 : min64(l.span_rows, g->out_height);
    l.spans = (g->out_height + l.span_rows - 1) / l.span_rows;
    l.span_stride = (l.span_rows * l.padded_width + LN_GEMM_PANEL - 1) / LN_GEMM_PANEL *
                    LN_GEMM_PANEL;

    const int rows = l.kernel->max_rows;
    l.row_blocks = ln_gemm_row_blocks(c->out_channels, rows);
    l.part_blocks = blocks_per_part(l.row_blocks, l.chunk * c->groups * l.spans, l.threads,
                                    PART_ROWS / rows);
    l.parts = (l.row_blocks + l.part_blocks - 1) / l.part_blocks;
    return l;
}

/* A thread's packed weights and output buffer (or edge scratch). */
static int64_t shifted_thread_floats(const shifted_layout *l)
{
    const int64_t rows = l->kernel->max_rows;
    return packed_floats(l->kernel) + (l->rowwise ? rows * LN_GEMM_PANEL
                                            : l->part_blocks * rows * l->span_stride);
}

static int64_t shifted_workspace(const shifted_layout *l)
{
    return l->chunk * l->sample_floats + l->slack + l->threads * shifted_thread_floats(l);
}

/* Copies samples [n0, n0 + count) into padded, zeros around each plane,
 * across the team. */
static void pad_samples(float *padded, const float *x, const shifted_layout *l, int64_t n0,
                        int64_t count)
{
    const ln_patch_geometry *g = &l->c->geometry;
    const int64_t planes = count * l->c->groups * g->channels;
    const int64_t pw = g->padding[1], ph = g->padding[0];
#pragma omp for schedule(static)
    for (int64_t i = 0; i < planes; i++) {
        float *dst = padded + i * l->plane;
        const float *src = x + (n0 * l->c->groups * g->channels + i) * g->height * g->width;
        memset(dst, 0, sizeof(float) * ph * l->padded_width);
        for (int64_t h = 0; h < g->height; h++) {
            float *row = dst + (ph + h) * l->padded_width;
            memset(row, 0, sizeof(float) * pw);
            memcpy(row + pw, src + h * g->width, sizeof(float) * g->width);
            memset(row + pw + g->width, 0, sizeof(float) * pw);
        }
        memset(dst + (ph + g->height) * l->padded_width, 0,
               sizeof(float) * ph * l->padded_width);
    }
#pragma omp single
    memset(padded + planes * l->plane, 0, sizeof(float) * l->slack);
}

/* One unit: sample n (its padded planes at `padded`), group `group`,
 * output rows [oh0, oh0 + rows), row blocks [block, block + blocks). Row
 * by row, whole panels of output go straight into y; otherwise the unit
 * computes the span of padded positions into its buffer and copies the
 * valid ones out. */
static void shifted_unit(float *y, const float *padded, const float *w, const float *bias,
                         const shifted_layout *l, float *buffer, int64_t n, int64_t group,
                         int64_t oh0, int64_t rows, int64_t block, int64_t blocks)
{
    const ln_patch_geometry *g = &l->c->geometry;
    const int64_t out_channels = l->c->out_channels, patch = l->patch;
    const int64_t wp = l->padded_width, ow = g->out_width;
    const int64_t out_plane = g->out_height * ow;
    const int64_t span_panels = ((rows - 1) * wp + ow + LN_GEMM_PANEL - 1) / LN_GEMM_PANEL;
    const int64_t row_panels = (ow + LN_GEMM_PANEL - 1) / LN_GEMM_PANEL;
    const float *base = padded + group * g->channels * l->plane + oh0 * wp;
    const float *wg = w + group * out_channels * patch;
    const float *bg = bias ? bias + group * out_channels : NULL;
    float *yg = y + (n * l->c->groups + group) * out_channels * out_plane + oh0 * ow;
    float *packed = buffer, *out = buffer + packed_floats(l->kernel);
    const int64_t k0 = ln_gemm_row_start(block, out_channels, l->row_blocks);
    const int64_t k1 = ln_gemm_row_start(block + blocks, out_channels, l->row_blocks);
    int32_t offsets[DEPTH_BLOCK];

    for (int64_t q0 = 0; q0 < patch; q0 += DEPTH_BLOCK) {
        const int64_t depth = min64(DEPTH_BLOCK, patch - q0);
        for (int64_t q = q0; q < q0 + depth; q++) {
            int64_t c = q / l->taps, ki = q % l->taps / g->kernel[1], kj = q % g->kernel[1];
            offsets[q - q0] = (int32_t)(c * l->plane + ki * g->dilation[0] * wp +
                                        kj * g->dilation[1]);
        }
        for (int64_t b = block; b < block + blocks; b++) {
            int64_t start = ln_gemm_row_start(b, out_channels, l->row_blocks);
            int height = (int)(ln_gemm_row_start(b + 1, out_channels, l->row_blocks) - start);
            pack_rows(packed, wg + start * patch + q0, patch, height, depth);
            ln_gemm_strides s = {.b_offsets = offsets, .c_half = 16};
            if (!l->rowwise) {
                s.c_row = l->span_stride;
                float *cb = out + (start - k0) * l->span_stride;
                for (int64_t j = 0; j < span_panels; j++)
                    l->kernel->block(depth, packed, base + j * LN_GEMM_PANEL,
                                     cb + j * LN_GEMM_PANEL, &s, height, q0 > 0);
                continue;
            }
            s.c_row = out_plane;
            s.row_bias = bg ? bg + start : NULL;
            s.stream = l->stream;
            for (int64_t r = 0; r < rows; r++) {
                for (int64_t j = 0; j < row_panels; j++) {
                    const float *panel = base + r * wp + j * LN_GEMM_PANEL;
                    float *cj = yg + start * out_plane + r * ow + j * LN_GEMM_PANEL;
                    int64_t columns = min64(LN_GEMM_PANEL, ow - j * LN_GEMM_PANEL);
                    if (columns == LN_GEMM_PANEL)
                        l->kernel->block(depth, packed, panel, cj, &s, height, q0 > 0);
                    else
                        edge_panel(l->kernel, depth, packed, panel, cj, &s, height, columns,
                                   q0 > 0, out);
                }
            }
        }
    }
    if (l->stream)
        _mm_sfence(); /* orders the streamed lines before the team's barrier */
    if (l->rowwise)
        return;

    for (int64_t k = k0; k < k1; k++) {
        float value = bg ? bg[k] : 0.0f;
        const float *src = out + (k - k0) * l->span_stride;
        for (int64_t r = 0; r < rows; r++)
            for (int64_t i = 0; i < ow; i++)
                yg[k * out_plane + r * ow + i] = src[r * wp + i] + value;
    }
}

static ln_status shifted_forward(float *output, const float *input, const float *weight,
                                 const float *bias, const ln_gemm_conv *c, float *workspace)
{
    const shifted_layout l = make_shifted_layout(c);
    float *padded = workspace;
    float *threads = workspace + l.chunk * l.sample_floats + l.slack;
    bool stopped = false;

    for (int64_t n0 = 0; n0 < c->batch && !stopped; n0 += l.chunk) {
        if (ln_interrupted())
            return ln_fail(LN_EINTR, "interrupted");
        const int64_t count = min64(l.chunk, c->batch - n0);
        const int64_t units = count * c->groups * l.spans * l.parts;
#pragma omp parallel num_threads(l.threads)
        {
            float *buffer = threads + omp_get_thread_num() * shifted_thread_floats(&l);
            pad_samples(padded, input, &l, n0, count);
#pragma omp for schedule(dynamic)
            for (int64_t unit = 0; unit < units; unit++) {
                if (should_stop(&stopped))
                    continue;
                int64_t part = unit % l.parts, rest = unit / l.parts;
                int64_t span = rest % l.spans, group_index = rest / l.spans;
                int64_t n = group_index / c->groups, group = group_index % c->groups;
                int64_t block = part * l.part_blocks, oh0 = span * l.span_rows;
                shifted_unit(output, padded + n * l.sample_floats, weight, bias, &l,
                             buffer, n0 + n, group, oh0,
                             min64(l.span_rows, c->geometry.out_height - oh0), block,
                             min64(l.part_blocks, l.row_blocks - block));
            }
        }
    }
    return stopped ? ln_fail(LN_EINTR, "interrupted") : LN_OK;
}

/* ---- Stride 1: the weight gradient ----------------------------------------
 *
 *     grad_weight[k][c][ki][kj] = sum over samples and positions P of
 *         grad_output[k][P] * padded input[c][P + ki * dilation * padded_width
 *                                            + kj * dilation]
 *
 * with grad_output spread over the padded width, zeros in the extra
 * columns, so positions past the output's edge add nothing. Every term is
 * a dot product of two runs of memory, computed by the dots kernel a chunk
 * of positions at a time. Many samples give one unit per sample, each
 * thread summing into its own copy of grad_weight; few give units of
 * output channels, which own their rows of grad_weight. */

/* Positions per dot-product chunk: 3 + 8 runs of 8 KiB stay in L1 and L2. */
#define DOT_CHUNK 2048

typedef struct gradient_layout {
    shifted_layout in;      /* the padded input */
    int64_t length;         /* padded output positions per plane, a multiple of 16 */
    int64_t out_sample;     /* floats of a sample's padded grad_output */
    int64_t chunk;          /* samples per chunk */
    bool by_sample;
    int64_t unit_rows;      /* output channels per unit, by channel */
    int64_t units_per_group;
    int64_t sums;           /* floats of one private grad_weight */
} gradient_layout;

static gradient_layout make_gradient_layout(const ln_gemm_conv *c)
{
    const ln_patch_geometry *g = &c->geometry;
    gradient_layout l = {.in = make_shifted_layout(c)};
    l.length = (g->out_height * l.in.padded_width + 15) / 16 * 16;
    l.out_sample = c->groups * c->out_channels * l.length;
    int64_t per_sample = l.in.sample_floats + l.out_sample;
    l.chunk = PADDED_FLOATS / (per_sample > 0 ? per_sample : 1);
    l.chunk = l.chunk < 1 ? 1 : min64(l.chunk, c->batch);
    l.sums = c->groups * c->out_channels * l.in.patch;
    l.by_sample = c->batch >= 2 * l.in.threads && l.sums <= PADDED_FLOATS / 4;

    /* Enough units of whole dot-kernel row blocks for the team. */
    int64_t blocks = (c->out_channels + LN_DOT_ROWS - 1) / LN_DOT_ROWS;
    int64_t per_group = (2 * l.in.threads + c->groups - 1) / c->groups;
    per_group = per_group < 1 ? 1 : min64(per_group, blocks);
    l.unit_rows = (blocks + per_group - 1) / per_group * LN_DOT_ROWS;
    l.units_per_group = (c->out_channels + l.unit_rows - 1) / l.unit_rows;
    return l;
}

static int64_t gradient_workspace(const gradient_layout *l)
{
    return l->chunk * (l->in.sample_floats + l->out_sample) + l->in.slack +
           (l->by_sample ? l->in.threads * l->sums : 0);
}

/* Spreads the grad_output planes of samples [n0, n0 + count) over the
 * padded width, across the team. */
static void pad_grad_output(float *padded, const float *gy, const gradient_layout *l,
                            int64_t n0, int64_t count)
{
    const ln_patch_geometry *g = &l->in.c->geometry;
    const int64_t planes = count * l->in.c->groups * l->in.c->out_channels;
    const int64_t wp = l->in.padded_width, ow = g->out_width;
#pragma omp for schedule(static)
    for (int64_t i = 0; i < planes; i++) {
        float *dst = padded + i * l->length;
        const float *src = gy + (n0 * l->in.c->groups * l->in.c->out_channels + i) *
                                    g->out_height * ow;
        for (int64_t h = 0; h < g->out_height; h++) {
            memcpy(dst + h * wp, src + h * ow, sizeof(float) * ow);
            memset(dst + h * wp + ow, 0, sizeof(float) * (wp - ow));
        }
        memset(dst + g->out_height * wp, 0, sizeof(float) * (l->length - g->out_height * wp));
    }
}

/* sums[k][q] += the dot products of output channels [k0, k1) of group
 * `group` of one sample (padded planes x and gy) over all positions. */
static void gradient_rows(float *sums, const float *x, const float *gy,
                          const gradient_layout *l, int64_t group, int64_t k0, int64_t k1)
{
    const ln_gemm_conv *c = l->in.c;
    const ln_patch_geometry *g = &c->geometry;
    const int64_t patch = l->in.patch, wp = l->in.padded_width;
    const float *xg = x + group * g->channels * l->in.plane;
    const float *gyg = gy + group * c->out_channels * l->length;
    float *sg = sums + group * c->out_channels * patch;
    int32_t offsets[DEPTH_BLOCK];

    for (int64_t p0 = 0; p0 < l->length; p0 += DOT_CHUNK) {
        const int64_t length = min64(DOT_CHUNK, l->length - p0);
        for (int64_t q0 = 0; q0 < patch; q0 += DEPTH_BLOCK) {
            const int64_t depth = min64(DEPTH_BLOCK, patch - q0);
            for (int64_t q = q0; q < q0 + depth; q++) {
                int64_t ch = q / l->in.taps, tap = q % l->in.taps;
                offsets[q - q0] = (int32_t)(ch * l->in.plane + p0 +
                                            tap / g->kernel[1] * g->dilation[0] * wp +
                                            tap % g->kernel[1] * g->dilation[1]);
            }
            for (int64_t k = k0; k < k1; k += LN_DOT_ROWS) {
                int rows = (int)min64(LN_DOT_ROWS, k1 - k);
                for (int64_t q = 0; q < depth; q += LN_DOT_COLUMNS)
                    l->in.kernel->dots(length, gyg + k * l->length + p0, l->length, rows, xg,
                                       offsets + q, (int)min64(LN_DOT_COLUMNS, depth - q),
                                       sg + k * patch + q0 + q, patch);
            }
        }
    }
}

ln_status ln_gemm_conv_weight_grad(float *grad_weight, const float *input,
                                   const float *grad_output, const ln_gemm_conv *c,
                                   float *workspace)
{
    const gradient_layout l = make_gradient_layout(c);
    float *x = workspace;
    float *gy = x + l.chunk * l.in.sample_floats + l.in.slack;
    float *private_sums = gy + l.chunk * l.out_sample;
    bool stopped = false;

#pragma omp parallel num_threads(l.in.threads)
    {
        float *sums = l.by_sample ? private_sums + omp_get_thread_num() * l.sums : grad_weight;
        if (l.by_sample)
            memset(sums, 0, sizeof(float) * l.sums);
        for (int64_t n0 = 0; n0 < c->batch; n0 += l.chunk) {
            const int64_t count = min64(l.chunk, c->batch - n0);
            pad_samples(x, input, &l.in, n0, count);
            pad_grad_output(gy, grad_output, &l, n0, count);
            /* By channel, a unit owns its rows of grad_weight for the whole
             * chunk, so no two threads add to the same row. */
            const int64_t units = l.by_sample ? count : c->groups * l.units_per_group;
#pragma omp for schedule(dynamic)
            for (int64_t unit = 0; unit < units; unit++) {
                if (should_stop(&stopped))
                    continue;
                if (l.by_sample) {
                    for (int64_t group = 0; group < c->groups; group++)
                        gradient_rows(sums, x + unit * l.in.sample_floats,
                                      gy + unit * l.out_sample, &l, group, 0, c->out_channels);
                    continue;
                }
                int64_t group = unit / l.units_per_group;
                int64_t k0 = unit % l.units_per_group * l.unit_rows;
                for (int64_t n = 0; n < count; n++)
                    gradient_rows(sums, x + n * l.in.sample_floats, gy + n * l.out_sample, &l,
                                  group, k0, min64(k0 + l.unit_rows, c->out_channels));
            }
        }
        if (l.by_sample) {
#pragma omp for schedule(static)
            for (int64_t i = 0; i < l.sums; i++) {
                float total = 0.0f;
                for (int t = 0; t < omp_get_num_threads(); t++)
                    total += private_sums[t * l.sums + i];
                grad_weight[i] += total;
            }
        }
    }
    return stopped ? ln_fail(LN_EINTR, "interrupted") : LN_OK;
}

/* ---- Entry points ------------------------------------------------------------ */

int64_t ln_gemm_conv_forward_workspace(const ln_gemm_conv *c)
{
    if (in_place(c)) {
        shifted_layout l = make_shifted_layout(c);
        return shifted_workspace(&l);
    }
    patch_layout l = make_patch_layout(c);
    return l.threads * patch_thread_floats(&l);
}

ln_status ln_gemm_conv_forward(float *output, const float *input, const float *weight,
                               const float *bias, const ln_gemm_conv *c, float *workspace)
{
    if (in_place(c))
        return shifted_forward(output, input, weight, bias, c, workspace);
    return patch_forward(output, input, weight, bias, c, workspace);
}

bool ln_gemm_conv_weight_grad_supported(const ln_gemm_conv *c)
{
    return in_place(c);
}

int64_t ln_gemm_conv_weight_grad_workspace(const ln_gemm_conv *c)
{
    gradient_layout l = make_gradient_layout(c);
    return gradient_workspace(&l);
}
