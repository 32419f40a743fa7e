/* gemm_clblast.c - the CLBlast GEMM backend: runs an already validated GEMM
 * descriptor through CLBlast's (strided-batched) S/HGEMM on the context's queue. */
#include <inttypes.h>
#include <stdio.h>

/* internal.h first: it fixes CL_TARGET_OPENCL_VERSION before any CL header. */
#include "runtime/internal.h"

#include <clblast_c.h>

/* Name, meaning and cl16 status of a CLBlast code that is not an OpenCL code. */
typedef struct clblast_code {
    CLBlastStatusCode code;
    const char *name, *meaning;
    cl16_status status;
} clblast_code;

/* Buffer-size, dimension and leading-dimension refusals cannot happen for a
 * descriptor that passed cl16's validation, but if they do, the shape is what
 * CLBlast objects to, so they map to CL16_ERR_SHAPE rather than INTERNAL. */
static const clblast_code clblast_codes[] = {
    {CLBlastNotImplemented, "kNotImplemented", "routine not implemented", CL16_ERR_UNSUPPORTED},
    {CLBlastInvalidMatrixA, "kInvalidMatrixA", "A is not a valid OpenCL buffer", CL16_ERR_INVALID_ARG},
    {CLBlastInvalidMatrixB, "kInvalidMatrixB", "B is not a valid OpenCL buffer", CL16_ERR_INVALID_ARG},
    {CLBlastInvalidMatrixC, "kInvalidMatrixC", "C is not a valid OpenCL buffer", CL16_ERR_INVALID_ARG},
    {CLBlastInvalidDimension, "kInvalidDimension", "M, N and K must be larger than zero", CL16_ERR_SHAPE},
    {CLBlastInvalidLeadDimA, "kInvalidLeadDimA", "lda is too small", CL16_ERR_SHAPE},
    {CLBlastInvalidLeadDimB, "kInvalidLeadDimB", "ldb is too small", CL16_ERR_SHAPE},
    {CLBlastInvalidLeadDimC, "kInvalidLeadDimC", "ldc is too small", CL16_ERR_SHAPE},
    {CLBlastInsufficientMemoryA, "kInsufficientMemoryA", "A's buffer is too small for the view", CL16_ERR_SHAPE},
    {CLBlastInsufficientMemoryB, "kInsufficientMemoryB", "B's buffer is too small for the view", CL16_ERR_SHAPE},
    {CLBlastInsufficientMemoryC, "kInsufficientMemoryC", "C's buffer is too small for the view", CL16_ERR_SHAPE},
    {CLBlastInsufficientMemoryTemp, "kInsufficientMemoryTemp", "temporary buffer too small", CL16_ERR_OUT_OF_MEMORY},
    {CLBlastInvalidBatchCount, "kInvalidBatchCount", "batch count must be positive", CL16_ERR_SHAPE},
    {CLBlastInvalidOverrideKernel, "kInvalidOverrideKernel", "parameter override for an invalid kernel", CL16_ERR_INTERNAL},
    {CLBlastMissingOverrideParameter, "kMissingOverrideParameter", "parameter override incomplete", CL16_ERR_INTERNAL},
    {CLBlastInvalidLocalMemUsage, "kInvalidLocalMemUsage", "not enough local memory on the device", CL16_ERR_UNSUPPORTED},
    {CLBlastNoHalfPrecision, "kNoHalfPrecision", "the device has no half precision (cl_khr_fp16)", CL16_ERR_UNSUPPORTED},
    {CLBlastNoDoublePrecision, "kNoDoublePrecision", "the device has no double precision", CL16_ERR_UNSUPPORTED},
    {CLBlastInvalidVectorScalar, "kInvalidVectorScalar", "the unit-sized scalar buffer is invalid", CL16_ERR_INVALID_ARG},
    {CLBlastInsufficientMemoryScalar, "kInsufficientMemoryScalar", "the scalar buffer is too small", CL16_ERR_SHAPE},
    {CLBlastDatabaseError, "kDatabaseError", "no parameters for this device in CLBlast's database", CL16_ERR_UNSUPPORTED},
    {CLBlastUnknownError, "kUnknownError", "unspecified error inside CLBlast", CL16_ERR_OPENCL},
    {CLBlastUnexpectedError, "kUnexpectedError", "unexpected exception inside CLBlast", CL16_ERR_OPENCL},
};

int cl16__clblast_supports(const cl16_ctx *ctx, cl16_dtype dt, char *why, size_t why_len) {
    const char *reason = NULL;
    if (!ctx)
        reason = "no context";
    else if (dt == CL16_F32)
        return 1;
    else if (dt != CL16_F16)
        reason = "CLBlast GEMM runs f32 and f16 only (bf16 runs cl16's own GEMM)";
    else if (!ctx->dev.has_fp16_ext)
        /* CLBlast checks the extension string itself and would answer kNoHalfPrecision. */
        reason = "CLBlast HGEMM needs cl_khr_fp16, which the device does not report";
    else
        return 1;
    if (why && why_len) snprintf(why, why_len, "%s", reason);
    return 0;
}

/* Turns a failed CLBlast call into a status with a message naming the
 * routine, the shape, the device and the code. */
static cl16_status clblast_fail(cl16_ctx *ctx, CLBlastStatusCode code, const char *routine,
                                const cl16_gemm_desc *d) {
    char shape[160];
    snprintf(shape, sizeof shape,
             "%c%c M=%" PRId64 " N=%" PRId64 " K=%" PRId64 " batch %" PRId64,
             d->trans_a ? 'T' : 'N', d->trans_b ? 'T' : 'N', d->m, d->n, d->k, d->batch);
    int c = (int)code;
    if (c > -1000) /* CLBlast passes OpenCL's own codes through unchanged */
        return cl16__fail(ctx, cl16__status_of_cl((cl_int)c),
                          "CLBlast %s (%s) failed on device '%s': %s (%d)", routine, shape,
                          ctx->dev.name, cl16__cl_error_name((cl_int)c), c);
    for (size_t i = 0; i < sizeof clblast_codes / sizeof clblast_codes[0]; i++)
        if (clblast_codes[i].code == code)
            return cl16__fail(ctx, clblast_codes[i].status,
                              "CLBlast %s (%s) failed on device '%s': %s (%d): %s", routine, shape,
                              ctx->dev.name, clblast_codes[i].name, c, clblast_codes[i].meaning);
    return cl16__fail(ctx, CL16_ERR_OPENCL, "CLBlast %s (%s) failed on device '%s': code %d",
                      routine, shape, ctx->dev.name, c);
}

cl16_status cl16__gemm_clblast(cl16_ctx *ctx, const cl16_gemm_desc *d) {
    if (!ctx || !d || !d->a || !d->b || !d->c)
        return cl16__fail(ctx, CL16_ERR_INTERNAL, "gemm (CLBlast): NULL descriptor or tensor");
    /* The caller validated the descriptor; these guard the contract, not the user. */
    if (d->m < 1 || d->n < 1 || d->k < 1 || d->batch < 1 || (d->batch > 1 && d->c_stride == 0) ||
        d->a_offset < 0 || d->b_offset < 0 || d->c_offset < 0 || d->a_stride < 0 ||
        d->b_stride < 0 || d->c_stride < 0)
        return cl16__fail(ctx, CL16_ERR_INTERNAL,
                          "gemm (CLBlast): descriptor not validated (M=%" PRId64 " N=%" PRId64
                          " K=%" PRId64 " batch %" PRId64 " c_stride %" PRId64 ")",
                          d->m, d->n, d->k, d->batch, d->c_stride);
    cl16_dtype dt = d->c->dtype;
    char why[128];
    if (!cl16__clblast_supports(ctx, dt, why, sizeof why))
        return cl16__fail(ctx, CL16_ERR_UNSUPPORTED, "gemm (CLBlast, %s) on device '%s': %s",
                          cl16_dtype_name(dt), ctx->dev.name, why);

    const CLBlastLayout row = CLBlastLayoutRowMajor;
    const CLBlastTranspose ta = d->trans_a ? CLBlastTransposeYes : CLBlastTransposeNo;
    const CLBlastTranspose tb = d->trans_b ? CLBlastTransposeYes : CLBlastTransposeNo;
    const size_t m = (size_t)d->m, n = (size_t)d->n, k = (size_t)d->k;
    const size_t ao = (size_t)d->a_offset, bo = (size_t)d->b_offset, co = (size_t)d->c_offset;
    const size_t lda = (size_t)d->lda, ldb = (size_t)d->ldb, ldc = (size_t)d->ldc;
    const size_t as = (size_t)d->a_stride, bs = (size_t)d->b_stride, cs = (size_t)d->c_stride;
    cl_mem A = d->a->mem, B = d->b->mem, C = d->c->mem;
    cl_command_queue q = ctx->queue;
    ctx->clblast_used = 1;
    ctx->stats.untimed_calls++; /* its kernels are its own: no profiling events for them */
    CLBlastStatusCode rc;
    const char *routine;

    if (dt == CL16_F32) {
        if (d->batch == 1) {
            routine = "Sgemm";
            rc = CLBlastSgemm(row, ta, tb, m, n, k, d->alpha, A, ao, lda, B, bo, ldb, d->beta, C, co,
                              ldc, &q, NULL);
        } else {
            routine = "SgemmStridedBatched";
            rc = CLBlastSgemmStridedBatched(row, ta, tb, m, n, k, d->alpha, A, ao, lda, as, B, bo,
                                            ldb, bs, d->beta, C, co, ldc, cs, (size_t)d->batch, &q,
                                            NULL);
        }
    } else {
        /* HGEMM accumulates in half, not float (measured on Intel's CPU runtime:
         * K = 4096 positive terms, 7% relative error), so it matches
         * CL16_ACC_HALF rather than the default float accumulation. Our own
         * round-to-nearest-even conversion: CLBlast's host float->half truncates. */
        const cl_half alpha = cl16_float_to_half(d->alpha), beta = cl16_float_to_half(d->beta);
        if (d->batch == 1) {
            routine = "Hgemm";
            rc = CLBlastHgemm(row, ta, tb, m, n, k, alpha, A, ao, lda, B, bo, ldb, beta, C, co, ldc,
                              &q, NULL);
        } else {
            routine = "HgemmStridedBatched";
            rc = CLBlastHgemmStridedBatched(row, ta, tb, m, n, k, alpha, A, ao, lda, as, B, bo, ldb,
                                            bs, beta, C, co, ldc, cs, (size_t)d->batch, &q, NULL);
        }
    }
    return rc == CLBlastSuccess ? CL16_OK : clblast_fail(ctx, rc, routine, d);
}

void cl16__clblast_release(cl16_ctx *ctx) {
    /* CLBlast keeps compiled programs (and with them the OpenCL context) for
     * the whole process; let a freed context go. Other contexts' programs are
     * rebuilt on their next CLBlast call. */
    if (ctx->clblast_used) CLBlastClearCache();
}
