/* Matrix products on OpenBLAS.
 *
 * ln_matmul treats each operand as a batch of matrices. A 1-d left operand is
 * one row (1 x k) and a 1-d right operand one column (k x 1). Dims before the
 * last two are batch dims, which broadcast with stride 0. A matrix whose
 * strides BLAS can read (row-major, or the transpose of a row-major matrix as
 * a transposed view is) goes to BLAS without a copy. Any other layout is
 * copied to contiguous first. The product is written into `out` directly
 * when out is contiguous and shares no storage with the inputs, otherwise
 * into a temporary that is then copied into out. */
#include "matmul.h"

#include <cblas.h>
#include <limits.h>
#include <omp.h>
#include <pthread.h>
#include <string.h>

#include "parallel.h"

/* One operand or the result seen as a batch of rows x cols matrices. */
typedef struct matrix_batch {
    float *data;
    int64_t rows, cols;
    bool trans;        /* stored as the row-major transpose (cols x rows) */
    int64_t ld;        /* leading dim of the stored row-major matrix */
    int64_t batch_stride[LN_MAX_DIMS];
} matrix_batch;

/* Shapes ------------------------------------------------------------------- */

ln_status ln_matmul_shape(const ln_tensor *a, const ln_tensor *b, int *ndim, int64_t *shape)
{
    char text_a[256], text_b[256];
    ln_shape_string(a, text_a, sizeof text_a);
    ln_shape_string(b, text_b, sizeof text_b);
    if (a->ndim == 0 || b->ndim == 0)
        return ln_fail(LN_EINVAL, "both operands need at least 1 dim, got %s @ %s (use mul to "
                       "scale by a scalar)", text_a, text_b);

    int64_t inner_a = a->shape[a->ndim - 1];
    int64_t inner_b = b->ndim == 1 ? b->shape[0] : b->shape[b->ndim - 2];
    if (inner_a != inner_b)
        return ln_fail(LN_EINVAL, "size mismatch, %s @ %s (inner sizes %lld and %lld differ)",
                       text_a, text_b, (long long)inner_a, (long long)inner_b);

    int batch_a = a->ndim > 2 ? a->ndim - 2 : 0;
    int batch_b = b->ndim > 2 ? b->ndim - 2 : 0;
    int batch = batch_a > batch_b ? batch_a : batch_b;
    for (int d = 0; d < batch; d++) {
        int da = d - (batch - batch_a), db = d - (batch - batch_b);
        int64_t size_a = da >= 0 ? a->shape[da] : 1;
        int64_t size_b = db >= 0 ? b->shape[db] : 1;
        if (size_a != size_b && size_a != 1 && size_b != 1)
            return ln_fail(LN_EINVAL, "batch dims of %s @ %s do not broadcast (size %lld vs "
                           "%lld at batch dim %d from the end)", text_a, text_b,
                           (long long)size_a, (long long)size_b, batch - d);
        shape[d] = size_a == 1 ? size_b : size_a;
    }

    int n = batch;
    if (a->ndim >= 2)
        shape[n++] = a->shape[a->ndim - 2];
    if (b->ndim >= 2)
        shape[n++] = b->shape[b->ndim - 1];
    *ndim = n;
    return LN_OK;
}

/* Layouts ------------------------------------------------------------------ */

/* Chooses how BLAS reads a rows x cols matrix with the given strides: as a
 * row-major matrix with leading dim ld, or as the transpose of one. Strides
 * of size-1 dims do not matter. Returns false when neither layout fits,
 * for example an expanded (stride 0) matrix dim. */
static bool choose_layout(matrix_batch *m, int64_t row_stride, int64_t col_stride)
{
    /* BLAS requires a leading dim of at least 1, even for an empty matrix. */
    int64_t min_ld_rows = m->cols > 1 ? m->cols : 1;
    int64_t min_ld_trans = m->rows > 1 ? m->rows : 1;
    bool single_row = m->rows == 1, single_col = m->cols == 1;

    if ((single_col || col_stride == 1) && (single_row || row_stride >= min_ld_rows)) {
        m->trans = false;
        m->ld = single_row ? min_ld_rows : row_stride;
        return true;
    }
    if ((single_row || row_stride == 1) && (single_col || col_stride >= min_ld_trans)) {
        m->trans = true;
        m->ld = single_col ? min_ld_trans : col_stride;
        return true;
    }
    return false;
}

/* Describes t (the left operand when left is set) over `batch` broadcast
 * batch dims of sizes batch_shape. */
static bool describe_operand(matrix_batch *m, const ln_tensor *t, bool left, int batch,
                             const int64_t *batch_shape)
{
    int last = t->ndim - 1;
    int64_t row_stride, col_stride;
    if (t->ndim == 1 && left) {
        m->rows = 1;
        m->cols = t->shape[0];
        row_stride = 0;
        col_stride = t->stride[0];
    } else if (t->ndim == 1) {
        m->rows = t->shape[0];
        m->cols = 1;
        row_stride = t->stride[0];
        col_stride = 0;
    } else {
        m->rows = t->shape[last - 1];
        m->cols = t->shape[last];
        row_stride = t->stride[last - 1];
        col_stride = t->stride[last];
    }

    int own_batch = t->ndim > 2 ? t->ndim - 2 : 0;
    for (int d = 0; d < batch; d++) {
        int s = d - (batch - own_batch);
        bool broadcast = s < 0 || (t->shape[s] == 1 && batch_shape[d] != 1);
        m->batch_stride[d] = broadcast ? 0 : t->stride[s];
    }
    m->data = ln_data(t);
    return choose_layout(m, row_stride, col_stride);
}

/* True when the left operand's batches are stacked rows of one row-major
 * matrix, so the whole batch is one GEMM against a shared right operand. */
static bool batches_fold(const matrix_batch *a, const matrix_batch *b, int batch,
                         const int64_t *batch_shape)
{
    if (a->trans)
        return false;
    int64_t expected = a->rows * a->ld;
    for (int d = batch - 1; d >= 0; d--) {
        if (batch_shape[d] == 1)
            continue;
        if (b->batch_stride[d] != 0 || a->batch_stride[d] != expected)
            return false;
        expected *= batch_shape[d];
    }
    return true;
}

static bool fits_blas(int64_t value)
{
    return value <= INT_MAX;
}

/* Products ----------------------------------------------------------------- */

static void gemm_batch(const matrix_batch *a, const matrix_batch *b, const matrix_batch *c,
                       int64_t rows, const int64_t *offset)
{
    ln_gemm(a->trans, b->trans, rows, c->cols, a->cols, 1.0f, a->data + offset[0], a->ld,
            b->data + offset[1], b->ld, 0.0f, c->data + offset[2], c->ld);
}

/* Runs every batch of c = a @ b; c is contiguous. */
static ln_status multiply(const matrix_batch *a, const matrix_batch *b, const matrix_batch *c,
                          int batch, const int64_t *batch_shape)
{
    int64_t count = 1;
    for (int d = 0; d < batch; d++)
        count *= batch_shape[d];

    if (batches_fold(a, b, batch, batch_shape)) {
        int64_t offset[3] = {0, 0, 0};
        if (!fits_blas(a->rows * count))
            return ln_fail(LN_EINVAL, "the product has %lld rows, more than BLAS accepts "
                           "(%d)", (long long)(a->rows * count), INT_MAX);
        gemm_batch(a, b, c, a->rows * count, offset);
        return LN_OK;
    }

    int64_t index[LN_MAX_DIMS] = {0};
    for (int64_t i = 0; i < count; i++) {
        if (ln_interrupted())
            return ln_fail(LN_EINTR, "interrupted");
        int64_t offset[3] = {0, 0, i * c->rows * c->cols};
        for (int d = 0; d < batch; d++) {
            offset[0] += index[d] * a->batch_stride[d];
            offset[1] += index[d] * b->batch_stride[d];
        }
        gemm_batch(a, b, c, a->rows, offset);

        for (int d = batch - 1; d >= 0; d--) {
            if (++index[d] < batch_shape[d])
                break;
            index[d] = 0;
        }
    }
    return LN_OK;
}

/* Describes t, replacing it by a contiguous copy in *copy when BLAS cannot
 * read its strides. */
static ln_status prepare_operand(matrix_batch *m, const ln_tensor *t, ln_tensor *copy, bool left,
                                 int batch, const int64_t *batch_shape)
{
    if (describe_operand(m, t, left, batch, batch_shape))
        return LN_OK;
    ln_status status = ln_contiguous(copy, t, true);
    if (status)
        return status;
    describe_operand(m, copy, left, batch, batch_shape);
    return LN_OK;
}

static ln_status check_sizes(const matrix_batch *a, const matrix_batch *b)
{
    const int64_t values[] = {a->rows, a->cols, b->cols, a->ld, b->ld};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++)
        if (!fits_blas(values[i]))
            return ln_fail(LN_EINVAL, "a matrix size or stride of %lld exceeds what BLAS "
                           "accepts (%d)", (long long)values[i], INT_MAX);
    return LN_OK;
}

/* Computes target = a @ b for a contiguous target of the result shape. */
static ln_status matmul_into(ln_tensor *target, const ln_tensor *a, const ln_tensor *b)
{
    int batch = target->ndim - (a->ndim >= 2) - (b->ndim >= 2);
    const int64_t *batch_shape = target->shape;
    matrix_batch ma, mb, mc;
    ln_tensor copy_a = {0}, copy_b = {0};

    ln_status status = prepare_operand(&ma, a, &copy_a, true, batch, batch_shape);
    if (status == LN_OK)
        status = prepare_operand(&mb, b, &copy_b, false, batch, batch_shape);
    if (status == LN_OK)
        status = check_sizes(&ma, &mb);

    if (status == LN_OK) {
        mc.data = ln_data(target);
        mc.rows = ma.rows;
        mc.cols = mb.cols;
        mc.trans = false;
        mc.ld = mc.cols;
        status = multiply(&ma, &mb, &mc, batch, batch_shape);
    }
    ln_tensor_release(&copy_a);
    ln_tensor_release(&copy_b);
    return status;
}

ln_status ln_matmul(ln_tensor *out, const ln_tensor *a, const ln_tensor *b)
{
    int ndim;
    int64_t shape[LN_MAX_DIMS];
    ln_status status = ln_matmul_shape(a, b, &ndim, shape);
    if (status)
        return status;
    if (out->ndim != ndim || memcmp(out->shape, shape, sizeof(int64_t) * ndim) != 0) {
        char text_out[256], text_a[256], text_b[256], text_result[256];
        return ln_fail(LN_EINVAL, "the output has shape %s but %s @ %s has shape %s",
                       ln_shape_string(out, text_out, sizeof text_out),
                       ln_shape_string(a, text_a, sizeof text_a),
                       ln_shape_string(b, text_b, sizeof text_b),
                       ln_shape_string_raw(ndim, shape, text_result, sizeof text_result));
    }
    if (ln_numel(out) == 0)
        return LN_OK;

    /* BLAS overwrites its output while still reading the inputs, so an
     * output sharing storage with an input gets a temporary. */
    bool direct = ln_is_contiguous(out) && out->storage != a->storage &&
                  out->storage != b->storage;
    ln_tensor target = {0};
    if (direct)
        ln_tensor_share(&target, out);
    else if ((status = ln_tensor_alloc(&target, ndim, shape)))
        return status;

    status = matmul_into(&target, a, b);
    if (status == LN_OK && !direct)
        status = ln_copy(out, &target);
    ln_tensor_release(&target);
    return status;
}

/* GEMM --------------------------------------------------------------------- */

/* Sets n elements of c, step apart, to beta * c; beta 0 overwrites, so
 * uninitialised memory holding NaN does not leak into the result. */
static void scale_vector(float *c, int64_t n, int64_t step, float beta)
{
    for (int64_t i = 0; i < n; i++)
        c[i * step] = beta == 0.0f ? 0.0f : beta * c[i * step];
}

/* Computes ln_gemm's product on the calling thread. */
static void gemm_serial(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                        const float *a, int64_t lda, const float *b, int64_t ldb, float beta,
                        float *c, int64_t ldc)
{
    if (k <= 0) {
        /* The reference BLAS sgemv returns early when a size is 0, without
         * applying beta, so the scaling is done here. */
        for (int64_t i = 0; i < m; i++)
            scale_vector(c + i * ldc, n, 1, beta);
        return;
    }

    /* Element steps along row 0 of op(A) and column 0 of op(B). */
    int64_t a_step = trans_a ? lda : 1;
    int64_t b_step = trans_b ? 1 : ldb;

    if (m == 1 && n == 1) {
        /* A dot product, accumulated in double. */
        double dot = cblas_dsdot((int)k, a, (int)a_step, b, (int)b_step);
        c[0] = (float)(alpha * dot + (beta == 0.0f ? 0.0 : (double)beta * c[0]));
        return;
    }
    if (m == 1) {
        /* c (one row) = alpha * op(B)^T x + beta * c, with x row 0 of op(A). */
        if (beta == 0.0f)
            scale_vector(c, n, 1, 0.0f);
        if (trans_b)
            cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)n, (int)k, alpha, b, (int)ldb, a,
                        (int)a_step, beta, c, 1);
        else
            cblas_sgemv(CblasRowMajor, CblasTrans, (int)k, (int)n, alpha, b, (int)ldb, a,
                        (int)a_step, beta, c, 1);
        return;
    }
    if (n == 1) {
        /* c (one column) = alpha * op(A) x + beta * c, with x column 0 of op(B). */
        if (beta == 0.0f)
            scale_vector(c, m, ldc, 0.0f);
        if (trans_a)
            cblas_sgemv(CblasRowMajor, CblasTrans, (int)k, (int)m, alpha, a, (int)lda, b,
                        (int)b_step, beta, c, (int)ldc);
        else
            cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)m, (int)k, alpha, a, (int)lda, b,
                        (int)b_step, beta, c, (int)ldc);
        return;
    }
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                trans_b ? CblasTrans : CblasNoTrans, (int)m, (int)n, (int)k, alpha, a, (int)lda,
                b, (int)ldb, beta, c, (int)ldc);
}

/* Below this many multiply-adds a product runs on the calling thread. */
#define GEMM_SPLIT_MIN (1 << 18)

/* Pieces of C start at multiples of this many rows or columns. */
#define GEMM_SPLIT_ALIGN 16

static void use_one_blas_thread(void)
{
    openblas_set_num_threads(1);
}

/* Finds part `piece` of 0 .. total - 1 cut into `pieces` nearly equal parts
 * that start at multiples of GEMM_SPLIT_ALIGN. */
static void split_range(int64_t total, int pieces, int piece, int64_t *start, int64_t *count)
{
    int64_t size = (total + pieces - 1) / pieces;
    size = (size + GEMM_SPLIT_ALIGN - 1) / GEMM_SPLIT_ALIGN * GEMM_SPLIT_ALIGN;
    *start = piece * size < total ? piece * size : total;
    *count = total - *start < size ? total - *start : size;
}

/* OpenBLAS keeps its own pool of threads, which would compete with the
 * OpenMP threads of lunet's kernels for the same cores, because each pool
 * spins for a while after its work. So OpenBLAS runs single-threaded, and
 * the OpenMP threads share C out in blocks of rows or columns instead. */
void ln_gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
             const float *a, int64_t lda, const float *b, int64_t ldb, float beta, float *c,
             int64_t ldc)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, use_one_blas_thread);

    if (m <= 0 || n <= 0)
        return;
    int threads = omp_in_parallel() ? 1 : omp_get_max_threads();
    if (threads < 2 || (double)m * n * k < GEMM_SPLIT_MIN || (m == 1 && n == 1)) {
        gemm_serial(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        return;
    }

    bool by_columns = n >= m;
#pragma omp parallel for schedule(static) num_threads(threads)
    for (int t = 0; t < threads; t++) {
        int64_t start, count;
        if (by_columns) {
            split_range(n, threads, t, &start, &count);
            if (count > 0)
                gemm_serial(trans_a, trans_b, m, count, k, alpha, a, lda,
                            b + (trans_b ? start * ldb : start), ldb, beta, c + start, ldc);
        } else {
            split_range(m, threads, t, &start, &count);
            if (count > 0)
                gemm_serial(trans_a, trans_b, count, n, k, alpha,
                            a + (trans_a ? start : start * lda), lda, b, ldb, beta,
                            c + start * ldc, ldc);
        }
    }
}
