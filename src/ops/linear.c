/* linear.c - the Linear layer on cl16_gemm_ex: forward is one GEMM with the
 * bias and ReLU in its epilogue; backward is two GEMMs and a column sum.
 *
 * Flatten is no op of its own: tensors are contiguous, so x may be 2-D
 * [N, in] or have more dimensions ([N, C, H, W] after a convolution), and is
 * then read as the matrix [N, prod(dims[1..])]; dx takes x's own shape. */
#include <inttypes.h>
#include <stdio.h>

#include "ops/ops_util.h"

typedef struct lin_shape {
    int64_t n, in, out;
} lin_shape;

/* Checks x and w (and bias, may be NULL) of a Linear call; fills the sizes. */
static cl16_status check_xw(cl16_ctx *ctx, const char *fn, const cl16_tensor *x,
                            const cl16_tensor *w, lin_shape *sh) {
    cl16_status s;
    if ((s = cl16__op_tensor(ctx, fn, "x", x)) ||
        (s = cl16__op_float(ctx, fn, "x", x, x->dtype, "x")) ||
        (s = cl16__op_tensor(ctx, fn, "w", w)) ||
        (s = cl16__op_float(ctx, fn, "w", w, x->dtype, "x")))
        return s;
    if (x->ndim < 2)
        return cl16__fail(
            ctx, CL16_ERR_SHAPE,
            "%s: tensor x has %d dimension; expected [N, in] (or [N, C, H, W], read as "
            "[N, C*H*W])",
            fn, x->ndim);
    sh->n = x->dims[0];
    sh->in = x->numel / sh->n;
    if (w->ndim != 2)
        return cl16__fail(ctx, CL16_ERR_SHAPE,
                          "%s: tensor w has %d dimensions; expected [out, %" PRId64 "]", fn,
                          w->ndim, sh->in);
    sh->out = w->dims[0];
    const int64_t wd[2] = {sh->out, sh->in};
    return cl16__op_shape(ctx, fn, "w", w, 2, wd);
}

/* An optional [out] vector (bias, dbias). */
static cl16_status check_vec(cl16_ctx *ctx, const char *fn, const char *name, const cl16_tensor *t,
                             const cl16_tensor *x, int64_t out) {
    cl16_status s;
    if ((s = cl16__op_tensor(ctx, fn, name, t)) ||
        (s = cl16__op_float(ctx, fn, name, t, x->dtype, "x")))
        return s;
    return cl16__op_shape(ctx, fn, name, t, 1, &out);
}

/* An output must be none of the inputs (the kernels read those while writing). */
static cl16_status distinct(cl16_ctx *ctx, const char *fn, const char *oname, const cl16_tensor *o,
                            const char *iname, const cl16_tensor *in) {
    if (o && o == in)
        return cl16__fail(ctx, CL16_ERR_INVALID_ARG, "%s: tensor %s is the same tensor as %s", fn,
                          oname, iname);
    return CL16_OK;
}

cl16_status cl16_linear_forward(cl16_ctx *ctx, const cl16_tensor *x, const cl16_tensor *w,
                                const cl16_tensor *bias, int relu, cl16_tensor *y) {
    static const char fn[] = "linear_forward";
    CL16_OP_CTX(ctx);
    lin_shape sh = {0};
    cl16_status s = check_xw(ctx, fn, x, w, &sh);
    if (s || (bias && (s = check_vec(ctx, fn, "bias", bias, x, sh.out))))
        return s;
    if ((s = cl16__op_tensor(ctx, fn, "y", y)) ||
        (s = cl16__op_float(ctx, fn, "y", y, x->dtype, "x")))
        return s;
    const int64_t yd[2] = {sh.n, sh.out};
    if ((s = cl16__op_shape(ctx, fn, "y", y, 2, yd)))
        return s;
    if ((s = distinct(ctx, fn, "y", y, "x", x)) || (s = distinct(ctx, fn, "y", y, "w", w)) ||
        (s = distinct(ctx, fn, "y", y, "bias", bias)))
        return s;
    if (relu != 0 && relu != 1)
        return cl16__fail(ctx, CL16_ERR_INVALID_ARG, "%s: relu = %d (must be 0 or 1)", fn, relu);
    /* y [N, out] = x [N, in] * w^T, w stored [out, in]. */
    cl16_gemm_desc d;
    cl16_gemm_desc_init(&d);
    d.trans_b = 1;
    d.m = sh.n, d.n = sh.out, d.k = sh.in;
    d.a = x, d.lda = sh.in;
    d.b = w, d.ldb = sh.in;
    d.c = y, d.ldc = sh.out;
    d.bias = bias, d.bias_mode = bias ? CL16_BIAS_COL : CL16_BIAS_NONE;
    d.activation = relu ? CL16_ACT_RELU : CL16_ACT_NONE;
    if ((s = cl16__gemm_validate(ctx, &d)))
        return s;
    s = cl16_gemm_ex(ctx, &d); /* counts its own flops and bytes */
    if (!s && bias)
        cl16__count(ctx, (double)(sh.n * sh.out), (double)bias->bytes);
    return s;
}

cl16_status cl16_linear_backward(cl16_ctx *ctx, const cl16_tensor *x, const cl16_tensor *w,
                                 const cl16_tensor *dy, float beta, cl16_tensor *dx,
                                 cl16_tensor *dw, cl16_tensor *dbias) {
    static const char fn[] = "linear_backward";
    CL16_OP_CTX(ctx);
    lin_shape sh = {0};
    cl16_status s = check_xw(ctx, fn, x, w, &sh);
    if (s)
        return s;
    const int64_t yd[2] = {sh.n, sh.out};
    if ((s = cl16__op_tensor(ctx, fn, "dy", dy)) ||
        (s = cl16__op_float(ctx, fn, "dy", dy, x->dtype, "x")) ||
        (s = cl16__op_shape(ctx, fn, "dy", dy, 2, yd)))
        return s;
    if (dx && ((s = cl16__op_tensor(ctx, fn, "dx", dx)) ||
               (s = cl16__op_float(ctx, fn, "dx", dx, x->dtype, "x")) ||
               (s = cl16__op_shape(ctx, fn, "dx", dx, x->ndim, x->dims))))
        return s;
    if ((s = cl16__op_tensor(ctx, fn, "dw", dw)) ||
        (s = cl16__op_float(ctx, fn, "dw", dw, x->dtype, "x")) ||
        (s = cl16__op_shape(ctx, fn, "dw", dw, 2, w->dims)))
        return s;
    if (dbias && (s = check_vec(ctx, fn, "dbias", dbias, x, sh.out)))
        return s;
    /* Outputs: none of the inputs, none of each other. */
    const char *on[3] = {"dx", "dw", "dbias"};
    const cl16_tensor *ot[3] = {dx, dw, dbias};
    const char *in[3] = {"x", "w", "dy"};
    const cl16_tensor *it[3] = {x, w, dy};
    for (int a = 0; a < 3; a++) {
        for (int b = 0; b < 3; b++)
            if ((s = distinct(ctx, fn, on[a], ot[a], in[b], it[b])))
                return s;
        for (int b = a + 1; b < 3; b++)
            if ((s = distinct(ctx, fn, on[a], ot[a], on[b], ot[b])))
                return s;
    }

    /* dx [N, in] = beta * dx + dy [N, out] * w [out, in]. */
    cl16_gemm_desc gx;
    cl16_gemm_desc_init(&gx);
    gx.m = sh.n, gx.n = sh.in, gx.k = sh.out, gx.beta = beta;
    gx.a = dy, gx.lda = sh.out;
    gx.b = w, gx.ldb = sh.in;
    gx.c = dx, gx.ldc = sh.in;
    /* dw [out, in] = beta * dw + dy^T [out, N] * x [N, in]. */
    cl16_gemm_desc gw;
    cl16_gemm_desc_init(&gw);
    gw.trans_a = 1;
    gw.m = sh.out, gw.n = sh.in, gw.k = sh.n, gw.beta = beta;
    gw.a = dy, gw.lda = sh.out;
    gw.b = x, gw.ldb = sh.in;
    gw.c = dw, gw.ldc = sh.in;
    /* Both validated before either is launched: all or nothing. */
    if ((dx && (s = cl16__gemm_validate(ctx, &gx))) || (s = cl16__gemm_validate(ctx, &gw)))
        return s;
    if (dbias && (sh.n > INT32_MAX || sh.out > INT32_MAX))
        return cl16__fail(ctx, CL16_ERR_SHAPE, "%s: dy [%" PRId64 ", %" PRId64 "] is too large", fn,
                          sh.n, sh.out);
    if (dx && (s = cl16_gemm_ex(ctx, &gx)))
        return s;
    if ((s = cl16_gemm_ex(ctx, &gw)))
        return s;
    if (dbias)
        s = cl16__act_colsum(ctx, dy, sh.n, sh.out, beta, dbias);
    return s;
}
