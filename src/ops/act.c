/* act.c - element-wise layer routines: ReLU forward and backward and
 * y = a*x + b*z (+ ReLU), on kernels/act.cl. Shapes need only hold the same
 * number of elements (tensors are contiguous); nothing is launched unless
 * every argument is consistent. */
#include <inttypes.h>
#include <stdio.h>

#include "ops/ops_util.h"

/* x is usable as an element-wise operand of n elements and dtype dt. */
static cl16_status eltw_arg(cl16_ctx *ctx, const char *fn, const char *name, const cl16_tensor *t,
                            const cl16_tensor *first, const char *first_name) {
    cl16_status s = cl16__op_tensor(ctx, fn, name, t);
    if (s)
        return s;
    if ((s = cl16__op_float(ctx, fn, name, t, first->dtype, first_name)))
        return s;
    if (t->numel != first->numel)
        return cl16__fail(ctx, CL16_ERR_SHAPE,
                          "%s: tensor %s has %" PRId64 " elements, expected %" PRId64 " (as %s)",
                          fn, name, t->numel, first->numel, first_name);
    return CL16_OK;
}

static cl16_status act_kernel(cl16_ctx *ctx, cl16_dtype dt, const char *name, cl_kernel *k) {
    cl16_variant v = {dt, 0, NULL};
    return cl16__kernel(ctx, "act.cl", &v, name, k);
}

#define ARG(x)                                                                                     \
    if (!err)                                                                                      \
    err = clSetKernelArg(k, i++, sizeof(x), &(x))

cl16_status cl16_relu_forward(cl16_ctx *ctx, const cl16_tensor *x, cl16_tensor *y) {
    static const char fn[] = "relu_forward";
    CL16_OP_CTX(ctx);
    cl16_status s = cl16__op_tensor(ctx, fn, "x", x);
    if (s || (s = cl16__op_float(ctx, fn, "x", x, x->dtype, "x")) ||
        (s = eltw_arg(ctx, fn, "y", y, x, "x")))
        return s;
    cl_kernel k;
    if ((s = act_kernel(ctx, x->dtype, "cl16_act_relu_fwd", &k)))
        return s;
    cl_ulong n = (cl_ulong)x->numel;
    cl_int err = 0;
    cl_uint i = 0;
    ARG(x->mem);
    ARG(y->mem);
    ARG(n);
    if (!err)
        err = cl16__op_launch(ctx, k, (size_t)(n / 16));
    if (err)
        return cl16__cl_fail(ctx, err, "%s over %" PRIu64 " elements", fn, (uint64_t)n);
    cl16__count(ctx, (double)n, 2.0 * (double)x->bytes);
    return CL16_OK;
}

/* The mask is PyTorch's threshold_backward: dy where NOT (y <= 0). For every
 * y but NaN that is the header's (y > 0 ? dy : 0); a NaN in y passes dy on,
 * so a NaN of the forward is not hidden from the backward pass. */
cl16_status cl16_relu_backward(cl16_ctx *ctx, const cl16_tensor *y, const cl16_tensor *dy,
                               float beta, cl16_tensor *dx) {
    static const char fn[] = "relu_backward";
    CL16_OP_CTX(ctx);
    cl16_status s = cl16__op_tensor(ctx, fn, "y", y);
    if (s || (s = cl16__op_float(ctx, fn, "y", y, y->dtype, "y")) ||
        (s = eltw_arg(ctx, fn, "dy", dy, y, "y")) || (s = eltw_arg(ctx, fn, "dx", dx, y, "y")))
        return s;
    cl_kernel k;
    if ((s = act_kernel(ctx, y->dtype, "cl16_act_relu_bwd", &k)))
        return s;
    cl_ulong n = (cl_ulong)y->numel;
    cl_int err = 0;
    cl_uint i = 0;
    ARG(y->mem);
    ARG(dy->mem);
    ARG(dx->mem);
    ARG(beta);
    ARG(n);
    if (!err)
        err = cl16__op_launch(ctx, k, (size_t)(n / 16));
    if (err)
        return cl16__cl_fail(ctx, err, "%s over %" PRIu64 " elements", fn, (uint64_t)n);
    const int acc = beta != 0.0f;
    cl16__count(ctx, (double)n * (acc ? 3.0 : 1.0), (acc ? 4.0 : 3.0) * (double)y->bytes);
    return CL16_OK;
}

/* a*x + b*z is evaluated as written, also for a or b == 0 (0 * NaN is NaN);
 * z == NULL is the only way to leave z out. */
cl16_status cl16_axpby(cl16_ctx *ctx, float a, const cl16_tensor *x, float b, const cl16_tensor *z,
                       int relu, cl16_tensor *y) {
    static const char fn[] = "axpby";
    CL16_OP_CTX(ctx);
    cl16_status s = cl16__op_tensor(ctx, fn, "x", x);
    if (s || (s = cl16__op_float(ctx, fn, "x", x, x->dtype, "x")) ||
        (z && (s = eltw_arg(ctx, fn, "z", z, x, "x"))) || (s = eltw_arg(ctx, fn, "y", y, x, "x")))
        return s;
    if (relu != 0 && relu != 1)
        return cl16__fail(ctx, CL16_ERR_INVALID_ARG, "%s: relu = %d (must be 0 or 1)", fn, relu);
    cl_kernel k;
    if ((s = act_kernel(ctx, x->dtype, "cl16_act_axpby", &k)))
        return s;
    cl_ulong n = (cl_ulong)x->numel;
    cl_int has_z = z != NULL, r = relu;
    cl_mem zm = z ? z->mem : x->mem; /* unread without z */
    cl_int err = 0;
    cl_uint i = 0;
    ARG(a);
    ARG(x->mem);
    ARG(b);
    ARG(zm);
    ARG(has_z);
    ARG(r);
    ARG(y->mem);
    ARG(n);
    if (!err)
        err = cl16__op_launch(ctx, k, (size_t)(n / 16));
    if (err)
        return cl16__cl_fail(ctx, err, "%s over %" PRIu64 " elements", fn, (uint64_t)n);
    cl16__count(ctx, (double)n * ((has_z ? 3.0 : 1.0) + (relu ? 1.0 : 0.0)),
                (has_z ? 3.0 : 2.0) * (double)x->bytes);
    return CL16_OK;
}

cl16_status cl16__act_colsum(cl16_ctx *ctx, const cl16_tensor *m, int64_t rows, int64_t cols,
                             float beta, cl16_tensor *out) {
    cl_kernel k;
    cl16_status s = act_kernel(ctx, m->dtype, "cl16_act_colsum", &k);
    if (s)
        return s;
    cl_int r = (cl_int)rows, c = (cl_int)cols;
    cl_int err = 0;
    cl_uint i = 0;
    ARG(m->mem);
    ARG(r);
    ARG(c);
    ARG(beta);
    ARG(out->mem);
    if (!err)
        err = cl16__op_launch(ctx, k, (size_t)cols);
    if (err)
        return cl16__cl_fail(ctx, err, "column sums of a %" PRId64 "x%" PRId64 " matrix", rows,
                             cols);
    const double es = (double)cl16_dtype_size(m->dtype);
    cl16__count(ctx, (double)(rows * cols) + (beta != 0.0f ? 2.0 : 0.0) * (double)cols,
                es * ((double)(rows * cols) + (beta != 0.0f ? 2.0 : 1.0) * (double)cols));
    return CL16_OK;
}
#undef ARG
