/* Sums, means, maxima and minima along one dim or over a whole tensor.
 *
 * Every reduction works on a contiguous view of the input read as
 * (outer, n, inner), reducing the middle dim; a non-contiguous input is
 * copied first. With inner == 1 each output reduces one contiguous row. With
 * inner > 1 the kernels walk the n rows of a block of up to COLUMN_WIDTH
 * neighbouring outputs at once, so the innermost loop is unit-stride across
 * outputs and vectorises.
 *
 * Threads split the outputs. When there are too few outputs to share, each
 * long slice is itself split into fixed chunks whose results are combined in
 * order, so a result never depends on the thread count. */
#include <math.h>
#include <omp.h>
#include <string.h>

#include "internal.h"
#include "parallel.h"
#include "reduce.h"

/* Independent running maxima in the row kernel; a multiple of any vector
 * width, so the per-lane loop vectorises without reordering comparisons. */
#define EXTREME_LANES 16

/* Elements per chunk of a long max/min slice; one chunk is the unit of work
 * of a thread and keeps lane indices well inside int32. */
#define EXTREME_CHUNK (1 << 16)

/* Chunk results kept by one parallel round; bounds the stack buffer. */
#define EXTREME_ROUND 1024

/* Neighbouring outputs reduced together when the reduced dim is not the
 * innermost one; 64 floats are four cache lines per row read. */
#define COLUMN_WIDTH 64

/* Narrowest block worth a piece of work in the column kernels. */
#define COLUMN_MIN_WIDTH 8

typedef struct extreme {
    float value;
    int64_t index;
} extreme;

static bool is_extreme_op(ln_reduce_op op)
{
    return op == LN_MAX || op == LN_MIN;
}

static const char *op_name(ln_reduce_op op)
{
    switch (op) {
    case LN_SUM: return "sum";
    case LN_MEAN: return "mean";
    case LN_MAX: return "max";
    case LN_MIN: return "min";
    }
    return "reduction";
}

/* Max/min kernels ---------------------------------------------------------- */

/* Whether v replaces best. NaN beats every number, so the first NaN wins, and
 * only a strictly better number wins, so ties keep the first index. */
static inline bool beats(float v, float best, bool is_max)
{
    /* Bitwise operators keep the test branch-free, so loops vectorise. */
    return (is_max ? v > best : v < best) | ((v != v) & (best == best));
}

/* The winner of two candidates from anywhere in the slice: the better value,
 * or the lower index when neither beats the other (equal, or both NaN). */
static inline extreme pick(extreme a, extreme b, bool is_max)
{
    if (beats(b.value, a.value, is_max))
        return b;
    if (beats(a.value, b.value, is_max))
        return a;
    return b.index < a.index ? b : a;
}

/* n (1..EXTREME_CHUNK) contiguous values: each lane keeps the first best
 * element among the indices congruent to it, then lanes are merged. */
static inline __attribute__((always_inline)) extreme
extreme_unit(const float *x, int64_t n, bool is_max)
{
    extreme result = {x[0], 0};
    int64_t whole = n - n % EXTREME_LANES;

    if (whole > 0) {
        float best[EXTREME_LANES];
        int32_t at[EXTREME_LANES];
        for (int j = 0; j < EXTREME_LANES; j++) {
            best[j] = x[j];
            at[j] = j;
        }
        for (int64_t i = EXTREME_LANES; i < whole; i += EXTREME_LANES) {
            /* Unrolled, this loop would become scalar branches instead of
             * vector blends. */
#pragma GCC unroll 1
            for (int j = 0; j < EXTREME_LANES; j++) {
                float v = x[i + j];
                bool take = beats(v, best[j], is_max);
                best[j] = take ? v : best[j];
                at[j] = take ? (int32_t)(i + j) : at[j];
            }
        }
        result = (extreme){best[0], at[0]};
        for (int j = 1; j < EXTREME_LANES; j++)
            result = pick(result, (extreme){best[j], at[j]}, is_max);
    }
    for (int64_t i = whole; i < n; i++)
        if (beats(x[i], result.value, is_max))
            result = (extreme){x[i], i};
    return result;
}

LN_CLONES static extreme max_unit(const float *x, int64_t n)
{
    return extreme_unit(x, n, true);
}

LN_CLONES static extreme min_unit(const float *x, int64_t n)
{
    return extreme_unit(x, n, false);
}

static extreme extreme_strided(const float *x, int64_t n, int64_t step, bool is_max)
{
    extreme result = {x[0], 0};
    for (int64_t i = 1; i < n; i++)
        if (beats(x[i * step], result.value, is_max))
            result = (extreme){x[i * step], i};
    return result;
}

/* One chunk: 1..EXTREME_CHUNK elements. */
static extreme extreme_chunk(const float *x, int64_t n, int64_t step, bool is_max)
{
    if (step != 1)
        return extreme_strided(x, n, step, is_max);
    return is_max ? max_unit(x, n) : min_unit(x, n);
}

/* Max or min of n >= 1 elements, chunk by chunk; chunks come in index order,
 * so a later chunk wins only when strictly better. */
static extreme extreme_slice(const float *x, int64_t n, int64_t step, bool is_max)
{
    int64_t chunks = (n + EXTREME_CHUNK - 1) / EXTREME_CHUNK;
    bool parallel = chunks >= 4 && !omp_in_parallel() && omp_get_max_threads() > 1;
    extreme result = {0.0f, -1};
    extreme found[EXTREME_ROUND];

    for (int64_t first = 0; first < chunks; first += EXTREME_ROUND) {
        int64_t count = chunks - first < EXTREME_ROUND ? chunks - first : EXTREME_ROUND;
#pragma omp parallel for schedule(static) if (parallel)
        for (int64_t c = 0; c < count; c++) {
            int64_t start = (first + c) * EXTREME_CHUNK;
            int64_t len = n - start < EXTREME_CHUNK ? n - start : EXTREME_CHUNK;
            found[c] = extreme_chunk(x + start * step, len, step, is_max);
            found[c].index += start;
        }
        for (int64_t c = 0; c < count; c++)
            if (result.index < 0 || beats(found[c].value, result.value, is_max))
                result = found[c];
    }
    return result;
}

/* Column kernels: width neighbouring outputs, n rows inner apart ----------- */

LN_CLONES static void column_sum(const float *x, int64_t n, int64_t inner, int64_t width,
                                 double *sum)
{
    for (int64_t j = 0; j < width; j++)
        sum[j] = 0.0;
    for (int64_t k = 0; k < n; k++) {
        const float *row = x + k * inner;
        for (int64_t j = 0; j < width; j++)
            sum[j] += row[j];
    }
}

static inline __attribute__((always_inline)) void
column_extreme(const float *x, int64_t n, int64_t inner, int64_t width, bool is_max,
               float *best, int64_t *at)
{
    for (int64_t j = 0; j < width; j++) {
        best[j] = x[j];
        at[j] = 0;
    }
    for (int64_t k = 1; k < n; k++) {
        const float *row = x + k * inner;
        for (int64_t j = 0; j < width; j++) {
            float v = row[j];
            bool take = beats(v, best[j], is_max);
            best[j] = take ? v : best[j];
            at[j] = take ? k : at[j];
        }
    }
}

LN_CLONES static void column_max(const float *x, int64_t n, int64_t inner, int64_t width,
                                 float *best, int64_t *at)
{
    column_extreme(x, n, inner, width, true, best, at);
}

LN_CLONES static void column_min(const float *x, int64_t n, int64_t inner, int64_t width,
                                 float *best, int64_t *at)
{
    column_extreme(x, n, inner, width, false, best, at);
}

/* Reduction along a dim ---------------------------------------------------- */

typedef struct reduction {
    const float *x;            /* contiguous (outer, n, inner) */
    float *out;                /* contiguous (outer, inner) */
    int64_t *indices;          /* NULL, or (outer, inner) for max/min */
    int64_t outer, n, inner;
    int64_t width;             /* outputs per column piece */
    ln_reduce_op op;
} reduction;

/* Reduces one slice of n elements step apart into output element i. */
static void reduce_slice(const reduction *r, const float *x, int64_t step, int64_t i)
{
    if (is_extreme_op(r->op)) {
        extreme e = extreme_slice(x, r->n, step, r->op == LN_MAX);
        r->out[i] = e.value;
        if (r->indices)
            r->indices[i] = e.index;
        return;
    }
    double sum = ln_sum_strided(x, r->n, step);
    r->out[i] = (float)(r->op == LN_MEAN ? sum / (double)r->n : sum);
}

/* Piece p of a column reduction: outer block p / blocks, outputs
 * (p % blocks) * width onwards. */
static void reduce_column_piece(const reduction *r, int64_t p)
{
    int64_t blocks = (r->inner + r->width - 1) / r->width;
    int64_t o = p / blocks;
    int64_t first = p % blocks * r->width;
    int64_t width = r->inner - first < r->width ? r->inner - first : r->width;
    const float *x = r->x + o * r->n * r->inner + first;
    int64_t at = o * r->inner + first;

    if (is_extreme_op(r->op)) {
        float best[COLUMN_WIDTH];
        int64_t index[COLUMN_WIDTH];
        if (r->op == LN_MAX)
            column_max(x, r->n, r->inner, width, best, index);
        else
            column_min(x, r->n, r->inner, width, best, index);
        memcpy(r->out + at, best, sizeof(float) * width);
        if (r->indices)
            memcpy(r->indices + at, index, sizeof(int64_t) * width);
        return;
    }
    double sum[COLUMN_WIDTH];
    column_sum(x, r->n, r->inner, width, sum);
    for (int64_t j = 0; j < width; j++)
        r->out[at + j] = (float)(r->op == LN_MEAN ? sum[j] / (double)r->n : sum[j]);
}

/* Splits the work across threads and runs it. Which kernel reduces an output
 * depends only on the shape, never on the thread count, so neither do the
 * results: rows and narrow columns (inner < COLUMN_MIN_WIDTH) reduce slice
 * by slice with pairwise sums, wider columns block by block with one double
 * accumulator per output. Many pieces go to threads whole; with fewer pieces
 * than threads, a long slice splits into chunks inside ln_sum_strided and
 * extreme_slice instead. */
static ln_status run_reduction(reduction *r)
{
    int threads = omp_get_max_threads();
    bool large = r->outer * r->n * r->inner >= LN_PARALLEL_GRAIN && threads > 1;
    bool columns = r->inner >= COLUMN_MIN_WIDTH;

    r->width = COLUMN_WIDTH;
    if (columns && large) {
        /* Narrow the blocks until every thread has one. */
        int64_t per_outer = (threads + r->outer - 1) / r->outer;
        int64_t width = (r->inner + per_outer - 1) / per_outer;
        if (width < r->width)
            r->width = width < COLUMN_MIN_WIDTH ? COLUMN_MIN_WIDTH : width;
    }
    int64_t pieces = columns ? r->outer * ((r->inner + r->width - 1) / r->width)
                             : r->outer * r->inner;

#pragma omp parallel for schedule(static) if (large && pieces >= threads)
    for (int64_t p = 0; p < pieces; p++) {
        if (ln_interrupted())
            continue;
        if (columns) {
            reduce_column_piece(r, p);
        } else {
            const float *x = r->x + p / r->inner * r->n * r->inner + p % r->inner;
            reduce_slice(r, x, r->inner, p);
        }
    }
    return ln_interrupted() ? ln_fail(LN_EINTR, "interrupted") : LN_OK;
}

ln_status ln_check_reduced_shape(const ln_tensor *out, const ln_tensor *x, int dim)
{
    int64_t removed[LN_MAX_DIMS], kept[LN_MAX_DIMS];
    int ndim = x->ndim;

    for (int d = 0; d < ndim; d++) {
        kept[d] = d == dim ? 1 : x->shape[d];
        if (d != dim)
            removed[d < dim ? d : d - 1] = x->shape[d];
    }
    int removed_ndim = ndim > 0 ? ndim - 1 : 0;
    bool ok = (out->ndim == removed_ndim &&
               memcmp(out->shape, removed, sizeof(int64_t) * removed_ndim) == 0) ||
              (out->ndim == ndim && memcmp(out->shape, kept, sizeof(int64_t) * ndim) == 0);
    if (ok)
        return LN_OK;

    char have[128], input[128], want[128], want_kept[128];
    return ln_fail(LN_EINVAL,
                   "output has shape %s but reducing a tensor of shape %s needs %s "
                   "(or %s with the dim kept)",
                   ln_shape_string(out, have, sizeof have),
                   ln_shape_string(x, input, sizeof input),
                   ln_shape_string_raw(removed_ndim, removed, want, sizeof want),
                   ln_shape_string_raw(ndim, kept, want_kept, sizeof want_kept));
}

static ln_status check_op(ln_reduce_op op)
{
    if (op != LN_SUM && op != LN_MEAN && op != LN_MAX && op != LN_MIN)
        return ln_fail(LN_EINVAL, "unknown reduction %d", (int)op);
    return LN_OK;
}

/* Fills the output of a reduction over an empty dim: 0 for sum, NaN for
 * mean; max/min have no value there. */
static ln_status reduce_empty_dim(ln_tensor *out, const ln_tensor *x, ln_reduce_op op)
{
    if (is_extreme_op(op)) {
        char shape[128];
        return ln_fail(LN_EINVAL, "cannot take the %s over a dim of size 0 (shape %s)",
                       op_name(op), ln_shape_string(x, shape, sizeof shape));
    }
    ln_fill(out, op == LN_SUM ? 0.0f : NAN);
    return LN_OK;
}

ln_status ln_reduce_dim(ln_tensor *out, int64_t *indices, const ln_tensor *x, int dim,
                        ln_reduce_op op)
{
    ln_status status = check_op(op);
    if (status)
        return status;
    if (dim < 0 || dim >= (x->ndim > 0 ? x->ndim : 1))
        return ln_fail(LN_EINVAL, "reduction dim is out of range for a %d-d tensor", x->ndim);
    status = ln_check_reduced_shape(out, x, dim);
    if (status)
        return status;

    reduction r = {.indices = is_extreme_op(op) ? indices : NULL, .op = op,
                   .outer = 1, .n = x->ndim > 0 ? x->shape[dim] : 1, .inner = 1};
    for (int d = 0; d < x->ndim; d++) {
        if (d < dim)
            r.outer *= x->shape[d];
        if (d > dim)
            r.inner *= x->shape[d];
    }
    if (r.n == 0)
        return reduce_empty_dim(out, x, op);
    if (r.outer == 0 || r.inner == 0)
        return LN_OK;

    ln_tensor source = {0}, result = {0};
    status = ln_contiguous(&source, x, false);
    if (!status && !ln_is_contiguous(out))
        status = ln_tensor_alloc(&result, out->ndim, out->shape);
    if (!status) {
        r.x = ln_data(&source);
        r.out = ln_data(result.storage ? &result : out);
        status = run_reduction(&r);
    }
    if (!status && result.storage)
        status = ln_copy(out, &result);
    ln_tensor_release(&source);
    ln_tensor_release(&result);
    return status;
}

/* Whole-tensor reductions -------------------------------------------------- */

static ln_status extreme_all(extreme *e, const ln_tensor *x, ln_reduce_op op)
{
    int64_t numel = ln_numel(x);
    if (numel == 0) {
        char shape[128];
        return ln_fail(LN_EINVAL, "cannot take the %s of a tensor with no elements (shape %s)",
                       op_name(op), ln_shape_string(x, shape, sizeof shape));
    }
    ln_tensor source;
    ln_status status = ln_contiguous(&source, x, false);
    if (status)
        return status;
    *e = extreme_slice(ln_data(&source), numel, 1, op == LN_MAX);
    ln_tensor_release(&source);
    return LN_OK;
}

ln_status ln_reduce_all(double *result, const ln_tensor *x, ln_reduce_op op)
{
    ln_status status = check_op(op);
    if (status)
        return status;
    if (is_extreme_op(op)) {
        extreme e;
        status = extreme_all(&e, x, op);
        if (!status)
            *result = e.value;
        return status;
    }

    int64_t numel = ln_numel(x);
    if (numel == 0) {
        *result = op == LN_SUM ? 0.0 : NAN;
        return LN_OK;
    }
    ln_tensor source;
    status = ln_contiguous(&source, x, false);
    if (status)
        return status;
    double sum = ln_sum_strided(ln_data(&source), numel, 1);
    ln_tensor_release(&source);
    *result = op == LN_MEAN ? sum / (double)numel : sum;
    return LN_OK;
}

ln_status ln_arg_all(int64_t *index, const ln_tensor *x, ln_reduce_op op)
{
    if (!is_extreme_op(op))
        return ln_fail(LN_EINVAL, "argmax/argmin need LN_MAX or LN_MIN, got %s", op_name(op));
    extreme e;
    ln_status status = extreme_all(&e, x, op);
    if (!status)
        *index = e.index;
    return status;
}
