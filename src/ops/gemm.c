/* gemm.c - cl16_gemm: validates the views, picks the kernel variant and
 * enqueues it. Nothing is launched unless every argument is consistent. */
#include <inttypes.h>

#include "runtime/internal.h"

/* Checks that a rows x cols view with row stride ld fits in tensor t. */
static cl16_status check_view(cl16_ctx *ctx, const char *name, const cl16_tensor *t, int64_t rows,
                              int64_t cols, int64_t ld) {
    if (!t) return cl16__fail(ctx, CL16_ERR_INVALID_ARG, "gemm: tensor %s is NULL", name);
    if (t->ctx != ctx)
        return cl16__fail(ctx, CL16_ERR_INVALID_ARG, "gemm: tensor %s belongs to another context", name);
    if (ld < cols || ld < 1)
        return cl16__fail(ctx, CL16_ERR_SHAPE,
                          "gemm: ld%s = %" PRId64 " is smaller than its %" PRId64 " columns", name, ld,
                          cols);
    int64_t need = (rows - 1) * ld + cols;
    if (need > t->numel)
        return cl16__fail(ctx, CL16_ERR_SHAPE,
                          "gemm: tensor %s holds %" PRId64 " elements, the %" PRId64 "x%" PRId64
                          " view with ld %" PRId64 " needs %" PRId64,
                          name, t->numel, rows, cols, ld, need);
    return CL16_OK;
}

cl16_status cl16_gemm(cl16_ctx *ctx, int trans_a, int trans_b, int64_t m, int64_t n, int64_t k,
                      float alpha, const cl16_tensor *a, int64_t lda, const cl16_tensor *b,
                      int64_t ldb, float beta, cl16_tensor *c, int64_t ldc) {
    if (!ctx) return CL16_ERR_INVALID_ARG;
    if (ctx->init_status) return ctx->init_status;
    if (m < 1 || n < 1 || k < 1 || m > INT32_MAX || n > INT32_MAX || k > INT32_MAX)
        return cl16__fail(ctx, CL16_ERR_SHAPE,
                          "gemm: M=%" PRId64 " N=%" PRId64 " K=%" PRId64 " (each must be 1..2^31-1)",
                          m, n, k);
    cl16_status s;
    /* Stored shapes: A is M x K (K x M if transposed), B is K x N (N x K). */
    if ((s = check_view(ctx, "A", a, trans_a ? k : m, trans_a ? m : k, lda))) return s;
    if ((s = check_view(ctx, "B", b, trans_b ? n : k, trans_b ? k : n, ldb))) return s;
    if ((s = check_view(ctx, "C", c, m, n, ldc))) return s;
    if (a->dtype != c->dtype || b->dtype != c->dtype)
        return cl16__fail(ctx, CL16_ERR_SHAPE, "gemm: mixed dtypes A=%s B=%s C=%s",
                          cl16_dtype_name(a->dtype), cl16_dtype_name(b->dtype),
                          cl16_dtype_name(c->dtype));

    cl16_gemm_params gp;
    cl16__gemm_defaults(ctx, &gp);
    char defines[128];
    cl16__gemm_defines(&gp, trans_a, trans_b, defines, sizeof defines);
    cl16_variant v = {c->dtype, 0, defines};
    cl_kernel kern;
    if ((s = cl16__kernel(ctx, "gemm.cl", &v, "cl16_gemm_tile", &kern))) return s;
    cl_int im = (cl_int)m, in = (cl_int)n, ik = (cl_int)k;
    cl_long zero = 0, la = lda, lb = ldb, lc = ldc;
    cl_int err = 0;
    cl_uint i = 0;
#define ARG(x) \
    if (!err) err = clSetKernelArg(kern, i++, sizeof(x), &(x))
    ARG(im); ARG(in); ARG(ik); ARG(alpha);
    ARG(a->mem); ARG(zero); ARG(la);
    ARG(b->mem); ARG(zero); ARG(lb);
    ARG(beta); ARG(c->mem); ARG(zero); ARG(lc);
#undef ARG
    size_t global[2] = {((size_t)n + (size_t)gp.tn - 1) / (size_t)gp.tn,
                        ((size_t)m + (size_t)gp.tm - 1) / (size_t)gp.tm};
    if (!err) err = clEnqueueNDRangeKernel(ctx->queue, kern, 2, NULL, global, NULL, 0, NULL, NULL);
    return err ? cl16__cl_fail(ctx, err, "gemm %" PRId64 "x%" PRId64 "x%" PRId64, m, n, k) : CL16_OK;
}
