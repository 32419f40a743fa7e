/* ops_util.h - argument checks and a 1-D launcher shared by the element-wise,
 * Linear and loss routines (act.c, linear.c, loss.c). Not installed. */
#ifndef CL16_OPS_UTIL_H
#define CL16_OPS_UTIL_H

#include <inttypes.h>
#include <stdio.h>

#include "runtime/internal.h"

/* The context is usable: not NULL and created successfully. */
#define CL16_OP_CTX(ctx)                                                                           \
    do {                                                                                           \
        if (!(ctx))                                                                                \
            return CL16_ERR_INVALID_ARG;                                                           \
        if ((ctx)->init_status)                                                                    \
            return (ctx)->init_status;                                                             \
    } while (0)

/* "[4,3,2]" into buf. */
static inline const char *cl16__op_dims_str(int ndim, const int64_t *dims, char *buf, size_t n) {
    int w = snprintf(buf, n, "[");
    for (int i = 0; i < ndim && w > 0 && (size_t)w < n; i++)
        w += snprintf(buf + w, n - (size_t)w, "%s%" PRId64, i ? "," : "", dims[i]);
    if (w > 0 && (size_t)w < n)
        snprintf(buf + w, n - (size_t)w, "]");
    return buf;
}

/* t is present (unless it may be NULL) and belongs to ctx. */
static inline cl16_status cl16__op_tensor(cl16_ctx *ctx, const char *fn, const char *name,
                                          const cl16_tensor *t) {
    if (!t)
        return cl16__fail(ctx, CL16_ERR_INVALID_ARG, "%s: tensor %s is NULL", fn, name);
    if (t->ctx != ctx)
        return cl16__fail(ctx, CL16_ERR_INVALID_ARG, "%s: tensor %s belongs to another context", fn,
                          name);
    return CL16_OK;
}

/* t is a float dtype (f16, bf16 or f32) and of dtype want (the call's first
 * float tensor sets it). */
static inline cl16_status cl16__op_float(cl16_ctx *ctx, const char *fn, const char *name,
                                         const cl16_tensor *t, cl16_dtype want,
                                         const char *want_name) {
    if (t->dtype != CL16_F16 && t->dtype != CL16_F32 && t->dtype != CL16_BF16)
        return cl16__fail(ctx, CL16_ERR_SHAPE, "%s: tensor %s is %s; this call takes f16, bf16 or f32",
                          fn, name, cl16_dtype_name(t->dtype));
    if (t->dtype != want)
        return cl16__fail(ctx, CL16_ERR_SHAPE,
                          "%s: tensor %s is %s but %s is %s (one dtype per call)", fn, name,
                          cl16_dtype_name(t->dtype), want_name, cl16_dtype_name(want));
    return CL16_OK;
}

/* t has exactly the shape ndim x dims. */
static inline cl16_status cl16__op_shape(cl16_ctx *ctx, const char *fn, const char *name,
                                         const cl16_tensor *t, int ndim, const int64_t *dims) {
    int same = t->ndim == ndim;
    for (int i = 0; same && i < ndim; i++)
        same = t->dims[i] == dims[i];
    if (same)
        return CL16_OK;
    char have[96], want[96];
    return cl16__fail(ctx, CL16_ERR_SHAPE, "%s: tensor %s has shape %s, expected %s", fn, name,
                      cl16__op_dims_str(t->ndim, t->dims, have, sizeof have),
                      cl16__op_dims_str(ndim, dims, want, sizeof want));
}

/* t exists, belongs to ctx, has dtype dt and exactly the shape n x want. */
static inline cl16_status cl16__op_check(cl16_ctx *ctx, const char *fn, const char *name,
                                         const cl16_tensor *t, cl16_dtype dt, const int64_t *want,
                                         int n) {
    cl16_status s = cl16__op_tensor(ctx, fn, name, t);
    if (s)
        return s;
    if (t->dtype != dt)
        return cl16__fail(ctx, CL16_ERR_SHAPE, "%s: tensor %s is %s; %s expected", fn, name,
                          cl16_dtype_name(t->dtype), cl16_dtype_name(dt));
    return cl16__op_shape(ctx, fn, name, t, n, want);
}

/* Enqueues a 1-D kernel over `items` work-items (rounded up to whole groups
 * of 64; the kernels return early past their end). */
static inline cl_int cl16__op_launch(cl16_ctx *ctx, cl_kernel k, size_t items) {
    if (cl16__fault("launch"))
        return CL_OUT_OF_RESOURCES;
    size_t global = (items + 63) / 64 * 64;
    if (global == 0)
        global = 64;
    return cl16__enqueue(ctx, k, 1, &global, NULL);
}

/* out [cols] = beta * out + the column sums of m viewed as [rows, cols], in
 * float, rows in order (src/ops/act.c; the Linear bias gradient). The caller
 * has validated the tensors; counts its work. */
cl16_status cl16__act_colsum(cl16_ctx *ctx, const cl16_tensor *m, int64_t rows, int64_t cols,
                             float beta, cl16_tensor *out);

#endif
