#include "nn/winograd.h"

#include <immintrin.h>
#include <omp.h>
#include <string.h>

#include "gemm_kernel.h"
#include "internal.h"
#include "parallel.h"

/* F(4x4, 3x3): 4x4 output tiles from 6x6 input patches, 36 points. */
#define TILE 4
#define ALPHA 6
#define POINTS (ALPHA * ALPHA)

/* Tiles per vector: the transforms work on 16 tiles at once, one per lane,
 * and a GEMM panel is two vectors wide. */
#define LANES 16
#define PANEL_TILES LN_GEMM_PANEL

/* Workspace bounds, in floats: the transformed weights of one slab of
 * output channels (32 MiB; a larger layer is transformed slab by slab) and
 * the shared transformed input of one chunk of tiles (8 MiB). */
#define SLAB_FLOATS ((int64_t)1 << 23)
#define CHUNK_FLOATS ((int64_t)1 << 21)

/* Threads work on units: a block of tiles and a block of output channels.
 * A unit's products (POINTS x output channels x tiles) stay in its
 * thread's L2 cache. In fused mode so does its own transformed input
 * (POINTS x CHANNEL_BLOCK x tiles, accumulated over the channel blocks). A
 * layer with at most FUSED_OUT output channels runs fused: each unit takes
 * all of them and transforms its own input, with no barrier between units.
 * A wider layer shares the transformed input of a chunk of tiles among
 * units of OUT_BLOCK output channels, so no unit transforms it again. */
#define TILE_BLOCK 64
#define CHANNEL_BLOCK 64
#define FUSED_OUT 128
#define OUT_BLOCK 112

/* The maximum line of a tile block: 4 columns per tile, plus the 16 floats
 * that the last group's deinterleave reads beyond them. */
#define BLOCK_LINE (TILE * TILE_BLOCK + LANES)

/* A line buffer has room for a whole vector past its end. */
#define LINE_BUFFER (BLOCK_LINE + LANES)

/* Tiles are numbered row by row over the whole batch, with one spare tile
 * at the end of every row of tiles. A tile reads 6 input columns, 4 of its
 * own and 2 of the next tile's, so with the spare the rows of tiles can be
 * laid end to end, 4 columns per tile, in one line. The spare tile is
 * computed and never written out. */
typedef struct layout {
    ln_winograd_problem p;
    int64_t out_height, out_width;
    int64_t tile_rows, tile_cols, row_tiles; /* row_tiles = tile_cols + 1 */
    int64_t tiles;                           /* batch * tile_rows * row_tiles */
    int64_t slab;                            /* output channels per weight slab */
    bool fused;
    int64_t tile_block;                      /* tiles per unit, a multiple of PANEL_TILES */
    int64_t chunk;                           /* tiles per shared chunk, a multiple of tile_block */
    int64_t channel_block;                   /* input channels per fused transform */
    int64_t unit_row_blocks;                 /* GEMM row blocks per unit */
    int64_t out_block;                       /* the most output channels of a unit */
    int threads;
    const ln_gemm_kernel *kernel;
} layout;

static int64_t min64(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

static int64_t round_up(int64_t n, int64_t step)
{
    return (n + step - 1) / step * step;
}

static layout make_layout(const ln_winograd_problem *p)
{
    layout l = {.p = *p, .kernel = ln_gemm_select(), .threads = omp_get_max_threads()};
    l.out_height = p->height + 2 * p->padding[0] - 2;
    l.out_width = p->width + 2 * p->padding[1] - 2;
    l.tile_rows = (l.out_height + TILE - 1) / TILE;
    l.tile_cols = (l.out_width + TILE - 1) / TILE;
    l.row_tiles = l.tile_cols + 1;
    l.tiles = p->batch * l.tile_rows * l.row_tiles;

    /* Slabs of equal size, in whole row blocks of the GEMM kernel. */
    const int64_t rows = l.kernel->max_rows;
    int64_t slabs = (POINTS * p->channels * p->out_channels + SLAB_FLOATS - 1) / SLAB_FLOATS;
    l.slab = min64(round_up((p->out_channels + slabs - 1) / slabs, rows), p->out_channels);

    l.tile_block = min64(TILE_BLOCK, round_up(l.tiles, PANEL_TILES));
    l.fused = l.slab <= FUSED_OUT;
    l.out_block = l.fused ? l.slab : OUT_BLOCK;
    l.unit_row_blocks = l.fused ? ln_gemm_row_blocks(l.slab, rows) : OUT_BLOCK / rows;
    l.channel_block = l.fused ? min64(CHANNEL_BLOCK, p->channels) : 0;
    if (!l.fused) {
        l.chunk = CHUNK_FLOATS / (POINTS * p->channels) / l.tile_block * l.tile_block;
        l.chunk = l.chunk < l.tile_block ? l.tile_block
                                         : min64(l.chunk, round_up(l.tiles, l.tile_block));
    }
    return l;
}

/* Floats between the points of a transformed input of `panels` panels and
 * `channels` channels. The extra cache line keeps the 36 vectors a
 * transform stores from falling into one L1 set, which a stride that is a
 * multiple of 4 KiB would do. */
static int64_t point_stride(int64_t panels, int64_t channels)
{
    return panels * channels * PANEL_TILES + LANES;
}

/* Floats between the points of the transformed weights of a slab, padded
 * like point_stride. */
static int64_t weight_point_stride(int64_t count, int64_t channels)
{
    return count * channels + LANES;
}

/* Floats of the transformed input of one tile block. */
static int64_t block_input_floats(const layout *l, int64_t channels)
{
    return POINTS * point_stride(l->tile_block / PANEL_TILES, channels);
}

/* The workspace holds one slab of transformed weights, the shared input of
 * a chunk, then per thread its products and its fused input. */
static int64_t weight_floats(const layout *l)
{
    return POINTS * weight_point_stride(l->slab, l->p.channels);
}

static int64_t shared_floats(const layout *l)
{
    return l->fused ? 0 : l->chunk / l->tile_block * block_input_floats(l, l->p.channels);
}

static int64_t thread_floats(const layout *l)
{
    return POINTS * l->out_block * l->tile_block +
           (l->fused ? block_input_floats(l, l->channel_block) : 0);
}

int64_t ln_winograd_workspace_size(const ln_winograd_problem *p)
{
    layout l = make_layout(p);
    return weight_floats(&l) + shared_floats(&l) + l.threads * thread_floats(&l);
}

/* ---- Vectors of 16 lanes ------------------------------------------------
 * The transforms are written once with GCC vector extensions in
 * always-inline bodies; each body is compiled twice, in an AVX-512 wrapper
 * and a portable one, and ln_winograd_run picks one at run time. */

/* The helpers pass 64-byte vectors by value; they are always inlined, so
 * the calling convention GCC warns about never applies. */
#pragma GCC diagnostic ignored "-Wpsabi"

typedef float v16 __attribute__((vector_size(64)));
typedef int32_t i16 __attribute__((vector_size(64)));

#define INLINE static inline __attribute__((always_inline))

INLINE v16 load16(const float *p)
{
    v16 v;
    memcpy(&v, p, sizeof v);
    return v;
}

INLINE void store16(float *p, v16 v)
{
    memcpy(p, &v, sizeof v);
}

INLINE v16 splat(float x)
{
    return (v16){0} + x;
}

/* Splits the 66 floats from p into six vectors: out[j] lane t = p[4t + j],
 * column j of tile t in a line of tiles 4 columns apart. */
INLINE void deinterleave(v16 out[ALPHA], const float *p)
{
    v16 a0 = load16(p), a1 = load16(p + 16), a2 = load16(p + 32), a3 = load16(p + 48);
    v16 a4 = load16(p + 64);
    const i16 even = {0, 4, 8, 12, 16, 20, 24, 28, 1, 5, 9, 13, 17, 21, 25, 29};
    const i16 odd = {2, 6, 10, 14, 18, 22, 26, 30, 3, 7, 11, 15, 19, 23, 27, 31};
    const i16 low = {0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23};
    const i16 high = {8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31};
    const i16 next0 = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
    const i16 next1 = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 17};
    /* Columns 0 and 1 of tiles 0-7, then of tiles 8-15; 2 and 3 likewise. */
    v16 c01_lo = __builtin_shuffle(a0, a1, even), c23_lo = __builtin_shuffle(a0, a1, odd);
    v16 c01_hi = __builtin_shuffle(a2, a3, even), c23_hi = __builtin_shuffle(a2, a3, odd);
    out[0] = __builtin_shuffle(c01_lo, c01_hi, low);
    out[1] = __builtin_shuffle(c01_lo, c01_hi, high);
    out[2] = __builtin_shuffle(c23_lo, c23_hi, low);
    out[3] = __builtin_shuffle(c23_lo, c23_hi, high);
    /* Columns 4 and 5 are columns 0 and 1 of the next tile. */
    out[4] = __builtin_shuffle(out[0], a4, next0);
    out[5] = __builtin_shuffle(out[1], a4, next1);
}

/* The inverse of deinterleave for 4 columns: p[4t + j] = in[j] lane t. */
INLINE void interleave(float *p, const v16 in[TILE])
{
    const i16 pair_lo = {0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23};
    const i16 pair_hi = {8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31};
    const i16 quad_lo = {0, 1, 16, 17, 2, 3, 18, 19, 4, 5, 20, 21, 6, 7, 22, 23};
    const i16 quad_hi = {8, 9, 24, 25, 10, 11, 26, 27, 12, 13, 28, 29, 14, 15, 30, 31};
    v16 c01_lo = __builtin_shuffle(in[0], in[1], pair_lo);
    v16 c01_hi = __builtin_shuffle(in[0], in[1], pair_hi);
    v16 c23_lo = __builtin_shuffle(in[2], in[3], pair_lo);
    v16 c23_hi = __builtin_shuffle(in[2], in[3], pair_hi);
    store16(p, __builtin_shuffle(c01_lo, c23_lo, quad_lo));
    store16(p + 16, __builtin_shuffle(c01_lo, c23_lo, quad_hi));
    store16(p + 32, __builtin_shuffle(c01_hi, c23_hi, quad_lo));
    store16(p + 48, __builtin_shuffle(c01_hi, c23_hi, quad_hi));
}

/* out = B^T d for one column of 6 points (B^T rows: 4 0 -5 0 1 0,
 * 0 -4 -4 1 1 0, 0 4 -4 -1 1 0, 0 -2 -1 2 1 0, 0 2 -1 -2 1 0, 0 4 0 -5 0 1). */
INLINE void input_points(v16 out[ALPHA], v16 d0, v16 d1, v16 d2, v16 d3, v16 d4, v16 d5)
{
    v16 four = splat(4.0f), five = splat(5.0f), two = splat(2.0f);
    v16 a = d4 - four * d2, b = d3 - four * d1;
    v16 c = d4 - d2, e = two * (d3 - d1);
    out[0] = four * d0 - five * d2 + d4;
    out[1] = a + b;
    out[2] = a - b;
    out[3] = c + e;
    out[4] = c - e;
    out[5] = four * d1 - five * d3 + d5;
}

/* out = A^T m for one column of 6 points (A^T rows: 1 1 1 1 1 0,
 * 0 1 -1 2 -2 0, 0 1 1 4 4 0, 0 1 -1 8 -8 1). */
INLINE void output_points(v16 out[TILE], v16 m0, v16 m1, v16 m2, v16 m3, v16 m4, v16 m5)
{
    v16 s1 = m1 + m2, d1 = m1 - m2, s2 = m3 + m4, d2 = m3 - m4;
    out[0] = m0 + s1 + s2;
    out[1] = d1 + splat(2.0f) * d2;
    out[2] = s1 + splat(4.0f) * s2;
    out[3] = d1 + splat(8.0f) * d2 + m5;
}

/* out = G g for one column of 3 filter taps (G rows: 1/4 0 0,
 * -1/6 -1/6 -1/6, -1/6 1/6 -1/6, 1/24 1/12 1/6, 1/24 -1/12 1/6, 0 0 1). */
INLINE void filter_points(v16 out[ALPHA], v16 g0, v16 g1, v16 g2)
{
    v16 outer = g0 + g2;
    v16 quarter = splat(0.25f) * g0;
    v16 side = splat(1.0f / 24.0f) * g0 + splat(1.0f / 6.0f) * g2;
    v16 middle = splat(1.0f / 12.0f) * g1;
    out[0] = quarter;
    out[1] = splat(-1.0f / 6.0f) * (outer + g1);
    out[2] = splat(-1.0f / 6.0f) * (outer - g1);
    out[3] = side + middle;
    out[4] = side - middle;
    out[5] = g2;
}

/* ---- Weights --------------------------------------------------------------
 * U of a slab of `count` output channels, packed for the GEMM kernel by
 * row blocks: row r of the block of `height` rows that starts at slab row
 * `start`, input channel c, point xi, at
 * u[xi * weight_point_stride(count, C) + start * C + c * height + r]. */

/* The lanes [lo, hi) of a 16-lane mask, clamped to 0..16. */
static uint32_t lane_mask(int64_t lo, int64_t hi)
{
    lo = lo < 0 ? 0 : lo;
    hi = hi > LANES ? LANES : hi;
    return hi > lo ? ((1u << hi) - 1) & ~((1u << lo) - 1) : 0;
}

/* taps[t] lane r = tap t of the filter at filter + r * row_stride for r <
 * rows (at most 16), 0 in the other lanes; flip reads the taps rotated by
 * 180 degrees. */
static void gather_taps_portable(v16 taps[9], const float *filter, int64_t row_stride,
                                 int64_t rows, bool flip)
{
    float lanes[9][LANES] = {{0}};
    for (int64_t r = 0; r < rows; r++)
        for (int t = 0; t < 9; t++)
            lanes[t][r] = filter[r * row_stride + (flip ? 8 - t : t)];
    for (int t = 0; t < 9; t++)
        taps[t] = load16(lanes[t]);
}

/* The AVX-512 version gathers each tap straight into a register: writing
 * lanes one float at a time and reading them back as a vector stalls store
 * forwarding. */
__attribute__((target("avx512f"))) static void gather_taps_avx512(v16 taps[9],
                                                                  const float *filter,
                                                                  int64_t row_stride,
                                                                  int64_t rows, bool flip)
{
    if (row_stride > INT32_MAX / LANES) {
        gather_taps_portable(taps, filter, row_stride, rows, flip);
        return;
    }
    const __m512i lane = _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
    const __m512i index = _mm512_mullo_epi32(lane, _mm512_set1_epi32((int32_t)row_stride));
    const __mmask16 valid = (__mmask16)lane_mask(0, rows);
    for (int t = 0; t < 9; t++) {
        __m512 v = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), valid, index,
                                            filter + (flip ? 8 - t : t), 4);
        memcpy(&taps[t], &v, sizeof v);
    }
}

/* Writes the packed U of one row block: rows [start, start + height) of
 * the slab, which begins at output channel first. */
INLINE void weight_block_body(float *u, const float *w, const layout *l, int64_t first,
                              int64_t count, int64_t start, int64_t height, bool avx512)
{
    const int64_t channels = l->p.channels;
    const int64_t *stride = l->p.weight_stride;
    const float *block = w + (first + start) * stride[0];
    for (int64_t c = 0; c < channels; c++) {
        /* Taps of up to 16 output channels, one per lane. */
        v16 taps[9];
        (avx512 ? gather_taps_avx512 : gather_taps_portable)(taps, block + c * stride[1],
                                                             stride[0], height, l->p.flip);
        /* Each row is read one filter at a time, too slowly for the
         * hardware prefetcher to run ahead on 14 rows at once. */
        for (int64_t r = 0; r < height && c + LANES < channels; r++)
            __builtin_prefetch(block + r * stride[0] + (c + LANES) * stride[1]);
        v16 rows[3][ALPHA], points[ALPHA];
        for (int j = 0; j < 3; j++)
            filter_points(rows[j], taps[j], taps[3 + j], taps[6 + j]);
        /* A whole vector may spill into the slots of the next channels,
         * which later iterations overwrite; the last ones must not reach
         * past the block. */
        const bool whole = (c * height + LANES) <= channels * height;
        float *dst = u + start * channels + c * height;
        for (int i = 0; i < ALPHA; i++) {
            filter_points(points, rows[0][i], rows[1][i], rows[2][i]);
            for (int j = 0; j < ALPHA; j++) {
                float *point = dst + (i * ALPHA + j) * weight_point_stride(count, channels);
                if (whole) {
                    store16(point, points[j]);
                    continue;
                }
                for (int64_t r = 0; r < height; r++)
                    point[r] = points[j][r];
            }
        }
    }
}

__attribute__((target("avx512f"))) static void
weight_block_avx512(float *u, const float *w, const layout *l, int64_t first, int64_t count,
                    int64_t start, int64_t height)
{
    weight_block_body(u, w, l, first, count, start, height, true);
}

static void weight_block_portable(float *u, const float *w, const layout *l, int64_t first,
                                  int64_t count, int64_t start, int64_t height)
{
    weight_block_body(u, w, l, first, count, start, height, false);
}

/* ---- Input ----------------------------------------------------------------
 * V of a block of tiles, placed as a `placement` says: for the GEMM kernel,
 * panels of 32 tiles, one row of 32 per channel. */

/* dst[i] = row[i + shift] for i < count where 0 <= i + shift < width, and
 * 0 elsewhere or when row is NULL. The AVX-512 version stores whole
 * vectors, up to 15 floats past count. */
static void fill_portable(float *dst, const float *row, int64_t shift, int64_t width,
                          int64_t count)
{
    int64_t lo = row ? -shift : count, hi = row ? width - shift : count;
    lo = lo < 0 ? 0 : lo > count ? count : lo;
    hi = hi < lo ? lo : hi > count ? count : hi;
    memset(dst, 0, sizeof(float) * lo);
    if (hi > lo)
        memcpy(dst + lo, row + lo + shift, sizeof(float) * (hi - lo));
    memset(dst + hi, 0, sizeof(float) * (count - hi));
}


__attribute__((target("avx512f"))) static void fill_avx512(float *dst, const float *row,
                                                           int64_t shift, int64_t width,
                                                           int64_t count)
{
    for (int64_t i = 0; i < count; i += LANES) {
        int64_t column = i + shift;
        uint32_t valid = row ? lane_mask(-column, width - column) & lane_mask(0, count - i) : 0;
        /* Masked-off lanes are never read, wherever row + column points; a
         * missing row reads nothing, and offsetting NULL would be undefined. */
        const float *source = row ? row + column : dst;
        _mm512_storeu_ps(dst + i, _mm512_maskz_loadu_ps((__mmask16)valid, source));
    }
}

/* A batch of planes that tiles are read from: the input, whose tiles are
 * 6x6 patches (4 rows apart, starting padding rows above), or grad_output,
 * whose tiles are its own 4x4 blocks (padding 0). */
typedef struct planes {
    const float *data;
    int64_t channels, height, width;
    int64_t padding[2];
} planes;

/* Where a transform stores its 36 vectors of group g of 16 tiles and
 * channel c: v + xi * point + c * channel + g / 2 * panel + g % 2 * 16. The
 * GEMM wants [xi][panel][channel][32] (channel = 32); the dot products of
 * the weight gradient want rows of tiles, [xi][channel][tile] (panel =
 * 32). */
typedef struct placement {
    int64_t point, channel, panel;
} placement;

/* The tiles of one row of tiles inside a range of tiles: [begin, end),
 * counted from the range's first tile, the spare tile included; image and
 * tile_row place the row, image = -1 past the batch. */
typedef struct segment {
    int64_t begin, end;
    int64_t column; /* tile column of tile begin */
    int64_t image, tile_row;
} segment;

/* The most segments of a range of TILE_BLOCK + LANES tiles: one more than
 * the rows it may touch, each at least 2 tiles long. */
#define MAX_SEGMENTS ((TILE_BLOCK + LANES) / 2 + 2)

/* Splits tiles [first, first + count) by rows of tiles, with no division
 * per row; returns the number of segments. */
static int split_tiles(segment *out, const layout *l, int64_t first, int64_t count)
{
    const int64_t rows = l->p.batch * l->tile_rows;
    int64_t row = first / l->row_tiles, column = first % l->row_tiles;
    int64_t image = row / l->tile_rows, tile_row = row % l->tile_rows;
    int n = 0;
    for (int64_t begin = 0; begin < count; n++) {
        out[n] = (segment){begin, count, column, row < rows ? image : -1, tile_row};
        if (row >= rows)
            return n + 1;
        out[n].end = min64(begin + l->row_tiles - column, count);
        begin = out[n].end;
        column = 0;
        row++;
        if (++tile_row == l->tile_rows) {
            tile_row = 0;
            image++;
        }
    }
    return n;
}

/* Fills dst with row `line` (0..5) of the patches of the tiles in
 * segments: position 4 * tile + j holds column j of the tile. */
INLINE void build_line(float *dst, const segment *segments, int count, const planes *x,
                       int64_t channel, int line, bool avx512)
{
    for (int i = 0; i < count; i++) {
        const segment *s = &segments[i];
        int64_t ih = s->tile_row * TILE - x->padding[0] + line;
        const float *src = NULL;
        if (s->image >= 0 && ih >= 0 && ih < x->height)
            src = x->data + ((s->image * x->channels + channel) * x->height + ih) * x->width;
        /* Position p holds input column p - 4 * (begin - column) - padding. */
        const int64_t shift = TILE * s->column - x->padding[1];
        const int64_t count = TILE * (s->end - s->begin);
        (avx512 ? fill_avx512 : fill_portable)(dst + TILE * s->begin, src, shift, x->width,
                                               count);
        /* The same row of the next channel is read next: ask for it now,
         * as the hardware prefetcher starts late on short rows. */
        if (src && channel + 1 < x->channels) {
            const float *next = src + x->height * x->width;
            int64_t lo = shift > 0 ? shift : 0, hi = min64(shift + count, x->width);
            for (int64_t i = lo; i < hi; i += LANES)
                __builtin_prefetch(next + i);
        }
    }
}

/* Transforms the patches of tiles [first, first + 32 * panels) for input
 * channels [channel, channel + count) of x into v, placed as `at` says
 * with v at the slot of channel `channel`. */
INLINE void input_task_body(float *v, const placement *at, const planes *x, const layout *l,
                            int64_t first, int64_t panels, int64_t channel, int64_t count,
                            bool avx512)
{
    float lines[ALPHA][LINE_BUFFER];
    const int64_t groups = 2 * panels;
    /* The last group's columns 4 and 5 are the next tile's 0 and 1. */
    segment segments[MAX_SEGMENTS];
    int parts = split_tiles(segments, l, first, LANES * groups + 1);
    for (int64_t c = 0; c < count; c++) {
        for (int i = 0; i < ALPHA; i++)
            build_line(lines[i], segments, parts, x, channel + c, i, avx512);

        for (int64_t g = 0; g < groups; g++) {
            v16 columns[ALPHA][ALPHA], rows[ALPHA][ALPHA], points[ALPHA];
            for (int i = 0; i < ALPHA; i++)
                deinterleave(columns[i], lines[i] + TILE * LANES * g);
            for (int j = 0; j < ALPHA; j++) {
                input_points(points, columns[0][j], columns[1][j], columns[2][j],
                             columns[3][j], columns[4][j], columns[5][j]);
                for (int i = 0; i < ALPHA; i++)
                    rows[i][j] = points[i];
            }
            float *dst = v + c * at->channel + g / 2 * at->panel + g % 2 * LANES;
            for (int i = 0; i < ALPHA; i++) {
                input_points(points, rows[i][0], rows[i][1], rows[i][2], rows[i][3],
                             rows[i][4], rows[i][5]);
                for (int j = 0; j < ALPHA; j++)
                    store16(dst + (i * ALPHA + j) * at->point, points[j]);
            }
        }
    }
}

__attribute__((target("avx512f"))) static void
input_task_avx512(float *v, const placement *at, const planes *x, const layout *l,
                  int64_t first, int64_t panels, int64_t channel, int64_t count)
{
    input_task_body(v, at, x, l, first, panels, channel, count, true);
}

static void input_task_portable(float *v, const placement *at, const planes *x, const layout *l,
                                int64_t first, int64_t panels, int64_t channel, int64_t count)
{
    input_task_body(v, at, x, l, first, panels, channel, count, false);
}

/* ---- grad_output ------------------------------------------------------------
 * The weight gradient of a tile is the correlation of its 6x6 input patch
 * with its 4x4 block of grad_output, a Winograd F(3x3, 4x4) whose matrices
 * are those of F(4x4, 3x3) with the roles of G and A exchanged:
 *
 *     grad_weight = G^T [(A gy A^T) .* (B^T d B)] G,
 *
 * summed over tiles, where the sum can happen between the brackets. */

/* out = A m for one column of 4 grad_output values (A = the transpose of
 * A^T above: rows 1 0 0 0, 1 1 1 1, 1 -1 1 -1, 1 2 4 8, 1 -2 4 -8, 0 0 0 1). */
INLINE void grad_points(v16 out[ALPHA], v16 m0, v16 m1, v16 m2, v16 m3)
{
    v16 even = m0 + m2, odd = m1 + m3;
    v16 even4 = m0 + splat(4.0f) * m2, odd4 = splat(2.0f) * m1 + splat(8.0f) * m3;
    out[0] = m0;
    out[1] = even + odd;
    out[2] = even - odd;
    out[3] = even4 + odd4;
    out[4] = even4 - odd4;
    out[5] = m3;
}

/* Splits the 64 floats from p into four vectors: out[j] lane t = p[4t + j]. */
INLINE void deinterleave4(v16 out[TILE], const float *p)
{
    v16 columns[ALPHA];
    deinterleave(columns, p);
    for (int j = 0; j < TILE; j++)
        out[j] = columns[j];
}

/* Transforms the 4x4 blocks of tiles [first, first + 32 * panels) for
 * grad_output channels [channel, channel + count) into v, placed as `at`
 * says. */
INLINE void grad_task_body(float *v, const placement *at, const planes *gy, const layout *l,
                           int64_t first, int64_t panels, int64_t channel, int64_t count,
                           bool avx512)
{
    float lines[TILE][LINE_BUFFER];
    const int64_t groups = 2 * panels;
    segment segments[MAX_SEGMENTS];
    int parts = split_tiles(segments, l, first, LANES * groups + 1);
    for (int64_t c = 0; c < count; c++) {
        for (int i = 0; i < TILE; i++)
            build_line(lines[i], segments, parts, gy, channel + c, i, avx512);

        for (int64_t g = 0; g < groups; g++) {
            v16 columns[TILE][TILE], rows[ALPHA][TILE], points[ALPHA];
            for (int i = 0; i < TILE; i++)
                deinterleave4(columns[i], lines[i] + TILE * LANES * g);
            for (int j = 0; j < TILE; j++) {
                grad_points(points, columns[0][j], columns[1][j], columns[2][j], columns[3][j]);
                for (int i = 0; i < ALPHA; i++)
                    rows[i][j] = points[i];
            }
            float *dst = v + c * at->channel + g / 2 * at->panel + g % 2 * LANES;
            for (int i = 0; i < ALPHA; i++) {
                grad_points(points, rows[i][0], rows[i][1], rows[i][2], rows[i][3]);
                for (int j = 0; j < ALPHA; j++)
                    store16(dst + (i * ALPHA + j) * at->point, points[j]);
            }
        }
    }
}

__attribute__((target("avx512f"))) static void
grad_task_avx512(float *v, const placement *at, const planes *gy, const layout *l,
                 int64_t first, int64_t panels, int64_t channel, int64_t count)
{
    grad_task_body(v, at, gy, l, first, panels, channel, count, true);
}

static void grad_task_portable(float *v, const placement *at, const planes *gy, const layout *l,
                               int64_t first, int64_t panels, int64_t channel, int64_t count)
{
    grad_task_body(v, at, gy, l, first, panels, channel, count, false);
}

/* ---- Output ---------------------------------------------------------------
 * M of one unit, `count` output channels: group g of 16 tiles, output
 * channel k, point xi at m[((g * count + k) * POINTS + xi) * 16]. */

/* dst[i] = src[i] + bias for i < count. */
static void add_portable(float *dst, const float *src, float bias, int64_t count)
{
    for (int64_t i = 0; i < count; i++)
        dst[i] = src[i] + bias;
}

__attribute__((target("avx512f"))) static void add_avx512(float *dst, const float *src,
                                                          float bias, int64_t count)
{
    const __m512 b = _mm512_set1_ps(bias);
    for (int64_t i = 0; i < count; i += LANES) {
        __mmask16 valid = (__mmask16)lane_mask(0, count - i);
        __m512 v = _mm512_maskz_loadu_ps(valid, src + i);
        _mm512_mask_storeu_ps(dst + i, valid, _mm512_add_ps(v, b));
    }
}

/* Writes the 4 x 64 transformed values of group g (tiles [16 g, 16 g +
 * 16) of the segments) into output channel `channel`, adding bias; tiles
 * from `end` on, spare tiles and pixels past the output's edge are
 * skipped. */
INLINE void write_group(float *y, const float lines[TILE][TILE * LANES], const segment *segments,
                        int count, const layout *l, int64_t channel, float bias, int64_t g,
                        int64_t end, bool avx512)
{
    const int64_t out_height = l->out_height, out_width = l->out_width;
    const int64_t first = g * LANES, last = min64(first + LANES, end);
    for (int i = 0; i < count && segments[i].begin < last; i++) {
        const segment *s = &segments[i];
        if (s->end <= first || s->image < 0)
            continue;
        int64_t begin = s->begin > first ? s->begin : first;
        int64_t column = s->column + begin - s->begin;
        int64_t stop = min64(s->begin + l->tile_cols - s->column, last); /* before the spare */
        int64_t ow = column * TILE, width = min64((stop - begin) * TILE, out_width - ow);
        int64_t oh = s->tile_row * TILE;
        for (int r = 0; r < TILE && oh + r < out_height && width > 0; r++) {
            float *dst = y + ((s->image * l->p.out_channels + channel) * out_height + oh + r) *
                                 out_width + ow;
            (avx512 ? add_avx512 : add_portable)(dst, lines[r] + (begin - first) * TILE, bias,
                                                 width);
            /* The next channel's row is written next: fetch it for writing. */
            if (channel + 1 < l->p.out_channels)
                for (int64_t i = 0; i < width; i += LANES)
                    __builtin_prefetch(dst + out_height * out_width + i, 1);
        }
    }
}

/* Transforms back the products m ([group][k][xi][16], count output
 * channels from `channel` on) of the groups of 16 tiles from tile first on,
 * and writes the tiles before end. */
INLINE void output_task_body(float *y, const float *m, const float *bias, const layout *l,
                             int64_t first, int64_t end, int64_t groups, int64_t channel,
                             int64_t count, bool avx512)
{
    segment segments[MAX_SEGMENTS];
    int parts = split_tiles(segments, l, first, min64(LANES * groups, end - first));
    for (int64_t k = 0; k < count; k++) {
        const float b = bias ? bias[channel + k] : 0.0f;
        for (int64_t g = 0; g < groups; g++) {
            const float *points = m + (g * count + k) * POINTS * LANES;
            v16 rows[TILE][ALPHA], out[TILE];
            for (int j = 0; j < ALPHA; j++) {
                output_points(out, load16(points + j * LANES),
                              load16(points + (ALPHA + j) * LANES),
                              load16(points + (2 * ALPHA + j) * LANES),
                              load16(points + (3 * ALPHA + j) * LANES),
                              load16(points + (4 * ALPHA + j) * LANES),
                              load16(points + (5 * ALPHA + j) * LANES));
                for (int r = 0; r < TILE; r++)
                    rows[r][j] = out[r];
            }
            float lines[TILE][TILE * LANES];
            for (int r = 0; r < TILE; r++) {
                output_points(out, rows[r][0], rows[r][1], rows[r][2], rows[r][3], rows[r][4],
                              rows[r][5]);
                interleave(lines[r], out);
            }
            write_group(y, lines, segments, parts, l, channel + k, b, g, end - first, avx512);
        }
    }
}

__attribute__((target("avx512f"))) static void
output_task_avx512(float *y, const float *m, const float *bias, const layout *l, int64_t first,
                   int64_t end, int64_t groups, int64_t channel, int64_t count)
{
    output_task_body(y, m, bias, l, first, end, groups, channel, count, true);
}

static void output_task_portable(float *y, const float *m, const float *bias, const layout *l,
                                 int64_t first, int64_t end, int64_t groups, int64_t channel,
                                 int64_t count)
{
    output_task_body(y, m, bias, l, first, end, groups, channel, count, false);
}

/* ---- Driver ---------------------------------------------------------------- */

typedef struct operands {
    float *y;
    const float *x, *w, *bias;
    bool avx512;
} operands;

/* Transforms input channels [channel, channel + count) of tiles [first,
 * first + 32 * panels) into the GEMM's layout, for a V of channel_count
 * channels with v at the slot of channel `channel`. */
static void transform_input(const operands *o, const layout *l, float *v, int64_t first,
                            int64_t panels, int64_t channel, int64_t count,
                            int64_t channel_count)
{
    const placement at = {point_stride(panels, channel_count), PANEL_TILES,
                          channel_count * PANEL_TILES};
    const planes x = {o->x, l->p.channels, l->p.height, l->p.width,
                      {l->p.padding[0], l->p.padding[1]}};
    (o->avx512 ? input_task_avx512 : input_task_portable)(v, &at, &x, l, first, panels, channel,
                                                          count);
}

/* A unit of work: tiles [first, first + count), GEMM row blocks [block,
 * block + blocks) of the slab of output channels from k0 on, whose
 * transformed weights are in u. */
typedef struct unit {
    int64_t k0, slab, first, count, block, blocks;
} unit;

/* m (+)= U x v for the unit's row blocks over input channels [c0, c0 +
 * depth), v holding `panels` panels of those channels. */
static void multiply(const layout *l, const unit *t, const float *u, const float *v, float *m,
                     int64_t c0, int64_t depth, int64_t panels)
{
    const int64_t channels = l->p.channels;
    const int64_t slab_blocks = ln_gemm_row_blocks(t->slab, l->kernel->max_rows);
    const int64_t row0 = ln_gemm_row_start(t->block, t->slab, slab_blocks);
    const int64_t out_count =
        ln_gemm_row_start(t->block + t->blocks, t->slab, slab_blocks) - row0;
    const int64_t point = point_stride(panels, depth);
    for (int64_t xi = 0; xi < POINTS; xi++) {
        for (int64_t b = t->block; b < t->block + t->blocks; b++) {
            int64_t start = ln_gemm_row_start(b, t->slab, slab_blocks);
            int height = (int)(ln_gemm_row_start(b + 1, t->slab, slab_blocks) - start);
            const float *a = u + xi * weight_point_stride(t->slab, channels) + start * channels +
                             c0 * height;
            const ln_gemm_strides strides = {.b_step = PANEL_TILES, .c_row = POINTS * LANES,
                                             .c_half = out_count * POINTS * LANES};
            for (int64_t q = 0; q < panels; q++) {
                float *c = m + ((2 * q * out_count + start - row0) * POINTS + xi) * LANES;
                l->kernel->block(depth, a, v + xi * point + q * depth * PANEL_TILES, c,
                                 &strides, height, c0 > 0);
            }
        }
    }
}

/* Runs one unit. In fused mode it transforms its own input into v, a
 * channel block at a time; otherwise v is the shared input of its tiles. */
static void run_unit(const operands *o, const layout *l, const unit *t, const float *u,
                     float *v, float *m)
{
    const int64_t channels = l->p.channels;
    const int64_t panels = (t->count + PANEL_TILES - 1) / PANEL_TILES;
    if (l->fused) {
        for (int64_t c0 = 0; c0 < channels; c0 += l->channel_block) {
            const int64_t depth = min64(l->channel_block, channels - c0);
            transform_input(o, l, v, t->first, panels, c0, depth, depth);
            multiply(l, t, u, v, m, c0, depth, panels);
        }
    } else {
        multiply(l, t, u, v, m, 0, channels, panels);
    }

    const int64_t slab_blocks = ln_gemm_row_blocks(t->slab, l->kernel->max_rows);
    const int64_t row0 = ln_gemm_row_start(t->block, t->slab, slab_blocks);
    const int64_t out_count =
        ln_gemm_row_start(t->block + t->blocks, t->slab, slab_blocks) - row0;
    (o->avx512 ? output_task_avx512 : output_task_portable)(
        o->y, m, o->bias, l, t->first, min64(t->first + t->count, l->tiles), 2 * panels,
        t->k0 + row0, out_count);
}

/* Shared between the threads of one run: set when an interrupt stops it. */
typedef struct progress {
    bool stopped;
} progress;

static bool should_stop(progress *state)
{
    bool stop;
#pragma omp atomic read
    stop = state->stopped;
    if (!stop && ln_interrupted()) {
        stop = true;
#pragma omp atomic write
        state->stopped = true;
    }
    return stop;
}

/* Transforms the weights of the slab from k0 on into u, across the team. */
static void transform_weights(const operands *o, const layout *l, float *u, int64_t k0,
                              int64_t slab)
{
    const int64_t blocks = ln_gemm_row_blocks(slab, l->kernel->max_rows);
#pragma omp for schedule(dynamic)
    for (int64_t block = 0; block < blocks; block++) {
        int64_t start = ln_gemm_row_start(block, slab, blocks);
        int64_t height = ln_gemm_row_start(block + 1, slab, blocks) - start;
        (o->avx512 ? weight_block_avx512 : weight_block_portable)(u, o->w, l, k0, slab, start,
                                                                   height);
    }
}

/* Runs units over tiles [first, first + count) and the slab, across the
 * team; shared (NULL in fused mode) holds the transformed input of those
 * tiles, block by block. */
static void run_units(const operands *o, const layout *l, const float *u, const float *shared,
                      float *local, int64_t k0, int64_t slab, int64_t first, int64_t count,
                      progress *state)
{
    const int64_t blocks = ln_gemm_row_blocks(slab, l->kernel->max_rows);
    const int64_t parts = (blocks + l->unit_row_blocks - 1) / l->unit_row_blocks;
    const int64_t tile_blocks = (count + l->tile_block - 1) / l->tile_block;
    float *m = local, *v = local + POINTS * l->out_block * l->tile_block;
#pragma omp for schedule(dynamic)
    for (int64_t i = 0; i < tile_blocks * parts; i++) {
        if (should_stop(state))
            continue;
        unit t = {.k0 = k0, .slab = slab, .first = first + i / parts * l->tile_block};
        t.count = min64(l->tile_block, first + count - t.first);
        t.block = i % parts * l->unit_row_blocks;
        t.blocks = min64(l->unit_row_blocks, blocks - t.block);
        if (shared)
            v = (float *)shared +
                (t.first - first) / l->tile_block * block_input_floats(l, l->p.channels);
        run_unit(o, l, &t, u, v, m);
    }
}

/* Transforms the input of tiles [first, first + count) into shared, tile
 * block by tile block, across the team. */
static void share_input(const operands *o, const layout *l, float *shared, int64_t first,
                        int64_t count)
{
    const int64_t channels = l->p.channels;
    const int64_t tile_blocks = (count + l->tile_block - 1) / l->tile_block;
    const int64_t channel_blocks = (channels + CHANNEL_BLOCK - 1) / CHANNEL_BLOCK;
#pragma omp for schedule(dynamic)
    for (int64_t i = 0; i < tile_blocks * channel_blocks; i++) {
        int64_t start = first + i / channel_blocks * l->tile_block;
        int64_t panels = (min64(l->tile_block, first + count - start) + PANEL_TILES - 1) /
                         PANEL_TILES;
        int64_t c0 = i % channel_blocks * CHANNEL_BLOCK;
        float *v = shared + (start - first) / l->tile_block * block_input_floats(l, channels) +
                   c0 * PANEL_TILES;
        transform_input(o, l, v, start, panels, c0, min64(CHANNEL_BLOCK, channels - c0),
                        channels);
    }
}

ln_status ln_winograd_run(float *output, const float *input, const float *weight,
                          const float *bias, const ln_winograd_problem *p, float *workspace)
{
    const layout l = make_layout(p);
    if (l.tiles == 0 || p->out_channels == 0)
        return LN_OK;
    const operands o = {output, input, weight, bias, ln_cpu_has_avx512()};
    float *u = workspace, *shared = workspace + weight_floats(&l);
    progress state = {false};

#pragma omp parallel num_threads(l.threads)
    {
        float *local = shared + shared_floats(&l) + omp_get_thread_num() * thread_floats(&l);
        /* Every thread runs every worksharing loop, so none waits at a
         * barrier the others skip; an interrupt only empties the units. */
        for (int64_t k0 = 0; k0 < p->out_channels; k0 += l.slab) {
            const int64_t slab = min64(l.slab, p->out_channels - k0);
            transform_weights(&o, &l, u, k0, slab);
            if (l.fused) {
                run_units(&o, &l, u, NULL, local, k0, slab, 0, l.tiles, &state);
                continue;
            }
            for (int64_t first = 0; first < l.tiles; first += l.chunk) {
                const int64_t count = min64(l.chunk, l.tiles - first);
                share_input(&o, &l, shared, first, count);
                run_units(&o, &l, u, shared, local, k0, slab, first, count, &state);
            }
        }
    }
    return state.stopped ? ln_fail(LN_EINTR, "interrupted") : LN_OK;
}

/* ---- Weight gradient driver -------------------------------------------------
 * M[xi][k][c] sums GY[xi][k][t] * V[xi][c][t] over every tile t: for each
 * point a matrix of dot products over tiles, which the dots kernel computes
 * from rows of tiles. Each thread takes chunks of tiles, transforms them
 * into its own buffers, small enough to stay in its L2 cache, and sums into
 * its own M; the Ms are added at the end. Shared chunks were slower: their
 * transforms, written by both cores, went through L3 and the work did not
 * scale to two threads. */

/* Each thread's M takes at most GRADIENT_FLOATS (4 MiB, and a layer whose
 * M would be larger takes another path), and its chunk's transforms at
 * most GRADIENT_CHUNK_FLOATS (4 MiB). Smaller chunks stay in L2 but make the
 * dot products too short: 4 MiB measured best of 1, 2 and 4 MiB on the
 * 64-channel layers of the Fashion-MNIST VGG and VGG16. */
#define GRADIENT_FLOATS ((int64_t)1 << 20)
#define GRADIENT_CHUNK_FLOATS ((int64_t)1 << 20)

bool ln_winograd_weight_grad_supported(const ln_winograd_problem *p)
{
    return POINTS * p->channels * p->out_channels <= GRADIENT_FLOATS;
}

/* Tiles per chunk: a multiple of TILE_BLOCK, at least one block. */
static int64_t gradient_chunk(const layout *l)
{
    int64_t per_tile = POINTS * (l->p.channels + l->p.out_channels);
    int64_t chunk = GRADIENT_CHUNK_FLOATS / per_tile / TILE_BLOCK * TILE_BLOCK;
    return chunk < TILE_BLOCK ? TILE_BLOCK : min64(chunk, round_up(l->tiles, TILE_BLOCK));
}

/* Floats of one thread's M, V and GY, each 64-byte aligned. */
static int64_t gradient_thread_floats(const layout *l)
{
    int64_t chunk = gradient_chunk(l);
    return POINTS * l->p.channels * l->p.out_channels +
           POINTS * ((l->p.channels + l->p.out_channels) * chunk + 2 * LANES) + 3 * LANES;
}

int64_t ln_winograd_weight_grad_workspace_size(const ln_winograd_problem *p)
{
    layout l = make_layout(p);
    return l.threads * gradient_thread_floats(&l);
}

static float *align64(float *p)
{
    return (float *)(((uintptr_t)p + 63) & ~(uintptr_t)63);
}

/* grad_weight[k][c] += G^T M[.][k][c] G, the 3x3 filter of 36 points. */
static void finish_weight_grad(float *grad_weight, const float *m, const layout *l, int64_t k)
{
    static const float g[ALPHA][3] = {
        {0.25f, 0.0f, 0.0f},
        {-1.0f / 6, -1.0f / 6, -1.0f / 6},
        {-1.0f / 6, 1.0f / 6, -1.0f / 6},
        {1.0f / 24, 1.0f / 12, 1.0f / 6},
        {1.0f / 24, -1.0f / 12, 1.0f / 6},
        {0.0f, 0.0f, 1.0f},
    };
    const int64_t channels = l->p.channels, plane = l->p.out_channels * channels;
    for (int64_t c = 0; c < channels; c++) {
        float half[3][ALPHA] = {{0}};
        for (int i = 0; i < ALPHA; i++)
            for (int j = 0; j < ALPHA; j++) {
                float point = m[(i * ALPHA + j) * plane + k * channels + c];
                for (int a = 0; a < 3; a++)
                    half[a][j] += g[i][a] * point;
            }
        float *filter = grad_weight + k * l->p.weight_stride[0] + c * l->p.weight_stride[1];
        for (int a = 0; a < 3; a++)
            for (int b = 0; b < 3; b++) {
                float sum = 0.0f;
                for (int j = 0; j < ALPHA; j++)
                    sum += half[a][j] * g[j][b];
                filter[l->p.flip ? 8 - (a * 3 + b) : a * 3 + b] += sum;
            }
    }
}

/* One thread's buffers: its M, and the transformed input and grad_output of
 * its current chunk. */
typedef struct gradient_buffers {
    float *m, *v, *gy;
} gradient_buffers;

/* Transforms the input and grad_output of tiles [first, first + length)
 * (length a multiple of TILE_BLOCK) into b, rows of `length` tiles. */
static void transform_gradient_chunk(const operands *o, const float *grad_output,
                                     const layout *l, const gradient_buffers *b, int64_t first,
                                     int64_t length)
{
    const int64_t channels = l->p.channels, out_channels = l->p.out_channels;
    const planes x = {o->x, channels, l->p.height, l->p.width,
                      {l->p.padding[0], l->p.padding[1]}};
    const planes gy = {grad_output, out_channels, l->out_height, l->out_width, {0, 0}};
    const placement input_at = {channels * length + LANES, length, PANEL_TILES};
    const placement grad_at = {out_channels * length + LANES, length, PANEL_TILES};
    const int64_t panels = TILE_BLOCK / PANEL_TILES;
    for (int64_t block = 0; block < length / TILE_BLOCK; block++) {
        int64_t start = first + block * TILE_BLOCK, offset = block * TILE_BLOCK;
        (o->avx512 ? input_task_avx512 : input_task_portable)(b->v + offset, &input_at, &x, l,
                                                              start, panels, 0, channels);
        (o->avx512 ? grad_task_avx512 : grad_task_portable)(b->gy + offset, &grad_at, &gy, l,
                                                            start, panels, 0, out_channels);
    }
}

/* b->m[xi][k][c] += the dot products over the chunk's `length` tiles. */
static void sum_gradient_chunk(const layout *l, const gradient_buffers *b, int64_t length)
{
    const int64_t channels = l->p.channels, out_channels = l->p.out_channels;
    const int64_t plane = out_channels * channels;
    int32_t offsets[LN_DOT_COLUMNS];
    for (int64_t xi = 0; xi < POINTS; xi++) {
        const float *gy = b->gy + xi * (out_channels * length + LANES);
        const float *v = b->v + xi * (channels * length + LANES);
        for (int64_t c = 0; c < channels; c += LN_DOT_COLUMNS) {
            int columns = (int)min64(LN_DOT_COLUMNS, channels - c);
            for (int j = 0; j < columns; j++)
                offsets[j] = (int32_t)((c + j) * length);
            for (int64_t k = 0; k < out_channels; k += LN_DOT_ROWS)
                l->kernel->dots(length, gy + k * length, length,
                                (int)min64(LN_DOT_ROWS, out_channels - k), v, offsets, columns,
                                b->m + xi * plane + k * channels + c, channels);
        }
    }
}

ln_status ln_winograd_weight_grad(float *grad_weight, const float *input,
                                  const float *grad_output, const ln_winograd_problem *p,
                                  float *workspace)
{
    const layout l = make_layout(p);
    const int64_t channels = p->channels, out_channels = p->out_channels;
    if (l.tiles == 0 || channels == 0 || out_channels == 0)
        return LN_OK;
    const operands o = {NULL, input, NULL, NULL, ln_cpu_has_avx512()};
    const int64_t chunk = gradient_chunk(&l), plane = out_channels * channels;
    const int64_t chunks = (l.tiles + chunk - 1) / chunk;
    progress state = {false};
    int team = 1;

#pragma omp parallel num_threads(l.threads)
    {
        float *base = workspace + omp_get_thread_num() * gradient_thread_floats(&l);
        gradient_buffers b = {.m = align64(base)};
        b.v = align64(b.m + POINTS * plane);
        b.gy = align64(b.v + POINTS * (channels * chunk + LANES));
        memset(b.m, 0, sizeof(float) * POINTS * plane);
#pragma omp single
        team = omp_get_num_threads();

#pragma omp for schedule(dynamic)
        for (int64_t i = 0; i < chunks; i++) {
            if (should_stop(&state))
                continue;
            /* Whole blocks of the chunk: tiles past the last are zeros. */
            const int64_t length = round_up(min64(chunk, l.tiles - i * chunk), TILE_BLOCK);
            transform_gradient_chunk(&o, grad_output, &l, &b, i * chunk, length);
            sum_gradient_chunk(&l, &b, length);
        }

        /* After the barrier above no thread changes state.stopped, so all
         * agree; the first thread's M collects the others'. */
        bool stopped;
#pragma omp atomic read
        stopped = state.stopped;
        if (!stopped) {
            float *first_m = align64(workspace);
#pragma omp for schedule(static)
            for (int64_t i = 0; i < POINTS * plane; i++)
                for (int t = 1; t < team; t++)
                    first_m[i] += align64(workspace + t * gradient_thread_floats(&l))[i];
#pragma omp for schedule(static)
            for (int64_t k = 0; k < out_channels; k++)
                finish_weight_grad(grad_weight, first_m, &l, k);
        }
    }
    return state.stopped ? ln_fail(LN_EINTR, "interrupted") : LN_OK;
}
