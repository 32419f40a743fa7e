/* pool.c - 2-D max / average pooling and global average pooling (forward and
 * backward, kernels/pool.cl): validates parameters and shapes, then enqueues.
 * Nothing is launched unless every argument is consistent. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "ops/ops_util.h"
#include "runtime/internal.h"

void cl16_pool2d_params_init(cl16_pool2d_params *p) {
    if (!p)
        return;
    memset(p, 0, sizeof *p);
    p->kind = CL16_POOL_MAX;
    p->kernel_h = p->kernel_w = 2;
    p->stride_h = p->stride_w = 2;
    p->count_include_pad = 1;
}

/* An activation tensor: 4-D, f16 or f32, of ctx. */
static cl16_status check_act4(cl16_ctx *ctx, const char *op, const char *name,
                              const cl16_tensor *t) {
    if (!t)
        return cl16__fail(ctx, CL16_ERR_INVALID_ARG, "%s: tensor %s is NULL", op, name);
    if (t->ctx != ctx)
        return cl16__fail(ctx, CL16_ERR_INVALID_ARG, "%s: tensor %s belongs to another context", op,
                          name);
    if (t->dtype != CL16_F16 && t->dtype != CL16_F32 && t->dtype != CL16_BF16)
        return cl16__fail(ctx, CL16_ERR_SHAPE, "%s: tensor %s is %s; f16, bf16 or f32 expected", op, name,
                          cl16_dtype_name(t->dtype));
    if (t->ndim != 4)
        return cl16__fail(ctx, CL16_ERR_SHAPE, "%s: tensor %s has %d dimensions; NCHW (4) expected",
                          op, name, t->ndim);
    if (t->dims[2] > INT32_MAX || t->dims[3] > INT32_MAX || t->dims[2] * t->dims[3] > INT32_MAX)
        return cl16__fail(ctx, CL16_ERR_SHAPE,
                          "%s: tensor %s has planes of more than 2^31 elements", op, name);
    return CL16_OK;
}

static cl16_status check_params(cl16_ctx *ctx, const char *op, const cl16_pool2d_params *p) {
    if (!p)
        return cl16__fail(ctx, CL16_ERR_INVALID_ARG, "%s: params is NULL", op);
    if (p->kind != CL16_POOL_MAX && p->kind != CL16_POOL_AVG)
        return cl16__fail(ctx, CL16_ERR_INVALID_ARG, "%s: kind %d is not a cl16_pool_kind", op,
                          (int)p->kind);
    if (p->relu != 0 && (p->relu != 1 || p->kind != CL16_POOL_MAX))
        return cl16__fail(ctx, CL16_ERR_INVALID_ARG,
                          "%s: relu = %d with kind %s (relu is 0, or 1 with MAX only)", op, p->relu,
                          p->kind == CL16_POOL_MAX ? "MAX" : "AVG");
    if (p->kernel_h < 1 || p->kernel_w < 1)
        return cl16__fail(ctx, CL16_ERR_INVALID_ARG,
                          "%s: kernel_h = %d, kernel_w = %d (must be >= 1)", op, p->kernel_h,
                          p->kernel_w);
    if (p->stride_h < 1 || p->stride_w < 1)
        return cl16__fail(ctx, CL16_ERR_INVALID_ARG,
                          "%s: stride_h = %d, stride_w = %d (must be >= 1)", op, p->stride_h,
                          p->stride_w);
    if (p->pad_h < 0 || p->pad_h > p->kernel_h / 2)
        return cl16__fail(ctx, CL16_ERR_INVALID_ARG,
                          "%s: pad_h = %d (must be 0..kernel_h/2 = %d, as in PyTorch)", op,
                          p->pad_h, p->kernel_h / 2);
    if (p->pad_w < 0 || p->pad_w > p->kernel_w / 2)
        return cl16__fail(ctx, CL16_ERR_INVALID_ARG,
                          "%s: pad_w = %d (must be 0..kernel_w/2 = %d, as in PyTorch)", op,
                          p->pad_w, p->kernel_w / 2);
    return CL16_OK;
}

/* Output dims after validated params; the message names the axis at fault. */
static cl16_status out_dims(cl16_ctx *ctx, const char *op, const cl16_pool2d_params *p,
                            const int64_t x[4], int64_t y[4]) {
    for (int i = 0; i < 4; i++)
        if (x[i] < 1)
            return cl16__fail(ctx, CL16_ERR_SHAPE,
                              "%s: x dimension %d is %" PRId64 " (must be >= 1)", op, i, x[i]);
    const int64_t eh = x[2] + 2 * (int64_t)p->pad_h - p->kernel_h;
    const int64_t ew = x[3] + 2 * (int64_t)p->pad_w - p->kernel_w;
    if (eh < 0)
        return cl16__fail(ctx, CL16_ERR_SHAPE,
                          "%s: kernel_h = %d exceeds the padded height %" PRId64
                          " (output height < 1)",
                          op, p->kernel_h, x[2] + 2 * (int64_t)p->pad_h);
    if (ew < 0)
        return cl16__fail(ctx, CL16_ERR_SHAPE,
                          "%s: kernel_w = %d exceeds the padded width %" PRId64
                          " (output width < 1)",
                          op, p->kernel_w, x[3] + 2 * (int64_t)p->pad_w);
    y[0] = x[0], y[1] = x[1];
    y[2] = eh / p->stride_h + 1;
    y[3] = ew / p->stride_w + 1;
    return CL16_OK;
}

cl16_status cl16_pool2d_out_dims(cl16_ctx *ctx, const cl16_pool2d_params *p,
                                 const int64_t x_dims[4], int64_t y_dims[4]) {
    if (!ctx)
        return CL16_ERR_INVALID_ARG;
    cl16_status s = check_params(ctx, "pool2d_out_dims", p);
    if (s)
        return s;
    if (!x_dims || !y_dims)
        return cl16__fail(ctx, CL16_ERR_INVALID_ARG, "pool2d_out_dims: %s is NULL",
                          x_dims ? "y_dims" : "x_dims");
    return out_dims(ctx, "pool2d_out_dims", p, x_dims, y_dims);
}

/* Global size (cols, rows, planes) of a pool kernel over d [N, C, rows, cols];
 * rows_only: (1, rows, planes), for the 2x2 kernels, whose work-items each
 * loop over a whole row. */
static cl_int launch_planes(cl16_ctx *ctx, cl_kernel k, const int64_t *d, int rows_only) {
    size_t global[3] = {rows_only ? 1 : (size_t)d[3], (size_t)d[2], (size_t)(d[0] * d[1])};
    return cl16__enqueue(ctx, k, 3, global, NULL);
}

/* 2x2 windows, stride 2, no padding: pool.cl's loop-free kernels, which give
 * the same bits as the general ones. */
static int is_2x2(const cl16_pool2d_params *p) {
    return p->kernel_h == 2 && p->kernel_w == 2 && p->stride_h == 2 && p->stride_w == 2 &&
           p->pad_h == 0 && p->pad_w == 0;
}

/* Sets the geometry arguments shared by both pool kernels from argument i on. */
static cl_int set_geom(cl_kernel k, cl_uint i, const cl16_pool2d_params *p, const int64_t *xd,
                       const int64_t *yd) {
    const cl_int kind = p->kind == CL16_POOL_MAX && p->relu ? 2 : (cl_int)p->kind; /* pool.cl */
    cl_int g[12] = {(cl_int)xd[2], (cl_int)xd[3], (cl_int)yd[2], (cl_int)yd[3],
                    p->kernel_h,   p->kernel_w,   p->stride_h,   p->stride_w,
                    p->pad_h,      p->pad_w,      kind,          p->count_include_pad ? 1 : 0};
    cl_int err = 0;
    for (int j = 0; j < 12 && !err; j++)
        err = clSetKernelArg(k, i + (cl_uint)j, sizeof(cl_int), &g[j]);
    return err;
}

cl16_status cl16_pool2d_forward(cl16_ctx *ctx, const cl16_pool2d_params *p, const cl16_tensor *x,
                                cl16_tensor *y, cl16_tensor *indices) {
    static const char *op = "pool2d_forward";
    if (!ctx)
        return CL16_ERR_INVALID_ARG;
    if (ctx->init_status)
        return ctx->init_status;
    cl16_status s;
    int64_t yd[4];
    if ((s = check_params(ctx, op, p)) || (s = check_act4(ctx, op, "x", x)) ||
        (s = out_dims(ctx, op, p, x->dims, yd)) ||
        (s = cl16__op_check(ctx, op, "y", y, x->dtype, yd, 4)))
        return s;
    if (indices) {
        if (p->kind != CL16_POOL_MAX)
            return cl16__fail(ctx, CL16_ERR_INVALID_ARG,
                              "%s: indices are given but kind is AVG (only MAX has indices)", op);
        if ((s = cl16__op_check(ctx, op, "indices", indices, CL16_I32, yd, 4)))
            return s;
    }
    if (y->mem == x->mem)
        return cl16__fail(ctx, CL16_ERR_INVALID_ARG, "%s: y aliases x", op);
    cl16_variant v = {x->dtype, 0, NULL};
    cl_kernel k;
    if ((s = cl16__kernel(ctx, "pool.cl", &v, is_2x2(p) ? "cl16_pool2x2_fwd" : "cl16_pool2d_fwd", &k)))
        return s;
    cl_int has = indices != NULL;
    cl_mem im = indices ? indices->mem : y->mem;
    cl_int err = 0;
    cl_uint i = 0;
#define ARG(a)                                                                                     \
    if (!err)                                                                                      \
    err = clSetKernelArg(k, i++, sizeof(a), &(a))
    ARG(x->mem);
    ARG(y->mem);
    ARG(im);
    ARG(has);
#undef ARG
    if (!err)
        err = set_geom(k, i, p, x->dims, yd);
    if (!err)
        err = launch_planes(ctx, k, yd, is_2x2(p));
    if (err)
        return cl16__cl_fail(ctx, err, "%s", op);
    const double es = (double)cl16_dtype_size(x->dtype);
    cl16__count(ctx, (double)y->numel * p->kernel_h * p->kernel_w,
                (double)(x->numel + y->numel) * es + (indices ? 4.0 * (double)y->numel : 0.0));
    return CL16_OK;
}

cl16_status cl16_pool2d_backward(cl16_ctx *ctx, const cl16_pool2d_params *p, const cl16_tensor *dy,
                                 const cl16_tensor *indices, float beta, cl16_tensor *dx) {
    static const char *op = "pool2d_backward";
    if (!ctx)
        return CL16_ERR_INVALID_ARG;
    if (ctx->init_status)
        return ctx->init_status;
    cl16_status s;
    int64_t yd[4];
    if ((s = check_params(ctx, op, p)) || (s = check_act4(ctx, op, "dx", dx)) ||
        (s = out_dims(ctx, op, p, dx->dims, yd)) ||
        (s = cl16__op_check(ctx, op, "dy", dy, dx->dtype, yd, 4)))
        return s;
    if (p->kind == CL16_POOL_MAX) {
        if (!indices)
            return cl16__fail(ctx, CL16_ERR_INVALID_ARG,
                              "%s: indices is NULL; MAX backward needs the forward's indices", op);
        if ((s = cl16__op_check(ctx, op, "indices", indices, CL16_I32, yd, 4)))
            return s;
    } else if (indices) {
        return cl16__fail(ctx, CL16_ERR_INVALID_ARG,
                          "%s: indices are given but kind is AVG (only MAX has indices)", op);
    }
    if (!isfinite(beta))
        return cl16__fail(ctx, CL16_ERR_INVALID_ARG, "%s: beta is not finite", op);
    if (dx->mem == dy->mem)
        return cl16__fail(ctx, CL16_ERR_INVALID_ARG, "%s: dx aliases dy", op);
    cl16_variant v = {dx->dtype, 0, NULL};
    cl_kernel k;
    if ((s = cl16__kernel(ctx, "pool.cl", &v, is_2x2(p) ? "cl16_pool2x2_bwd" : "cl16_pool2d_bwd", &k)))
        return s;
    cl_mem im = indices ? indices->mem : dy->mem;
    cl_int err = 0;
    cl_uint i = 0;
#define ARG(a)                                                                                     \
    if (!err)                                                                                      \
    err = clSetKernelArg(k, i++, sizeof(a), &(a))
    ARG(dy->mem);
    ARG(im);
    ARG(dx->mem);
    ARG(beta);
#undef ARG
    if (!err)
        err = set_geom(k, i, p, dx->dims, yd);
    if (!err)
        err = launch_planes(ctx, k, dx->dims, is_2x2(p));
    if (err)
        return cl16__cl_fail(ctx, err, "%s", op);
    const double es = (double)cl16_dtype_size(dx->dtype);
    cl16__count(ctx, (double)dy->numel * 2.0 + (beta != 0.0f ? 2.0 * (double)dx->numel : 0.0),
                (double)dy->numel * (es + (indices ? 4.0 : 0.0)) +
                    (double)dx->numel * es * (beta != 0.0f ? 2.0 : 1.0));
    return CL16_OK;
}

/* y must be [N, C, 1, 1] or [N, C] for x [N, C, H, W]. */
static cl16_status check_gap_y(cl16_ctx *ctx, const char *op, const char *name,
                               const cl16_tensor *y, const cl16_tensor *x) {
    const int64_t want[4] = {x->dims[0], x->dims[1], 1, 1};
    if (y && y->ctx == ctx && y->dtype == x->dtype && y->ndim == 2)
        return cl16__op_check(ctx, op, name, y, x->dtype, want, 2);
    return cl16__op_check(ctx, op, name, y, x->dtype, want, 4);
}

cl16_status cl16_global_avgpool_forward(cl16_ctx *ctx, const cl16_tensor *x, cl16_tensor *y) {
    static const char *op = "global_avgpool_forward";
    if (!ctx)
        return CL16_ERR_INVALID_ARG;
    if (ctx->init_status)
        return ctx->init_status;
    cl16_status s;
    if ((s = check_act4(ctx, op, "x", x)) || (s = check_gap_y(ctx, op, "y", y, x)))
        return s;
    if (y->mem == x->mem)
        return cl16__fail(ctx, CL16_ERR_INVALID_ARG, "%s: y aliases x", op);
    cl16_variant v = {x->dtype, 0, NULL};
    cl_kernel k;
    if ((s = cl16__kernel(ctx, "pool.cl", &v, "cl16_gavgpool_fwd", &k)))
        return s;
    cl_long planes = y->numel;
    cl_int hw = (cl_int)(x->dims[2] * x->dims[3]);
    cl_int err = 0;
    cl_uint i = 0;
#define ARG(a)                                                                                     \
    if (!err)                                                                                      \
    err = clSetKernelArg(k, i++, sizeof(a), &(a))
    ARG(x->mem);
    ARG(y->mem);
    ARG(planes);
    ARG(hw);
#undef ARG
    if (!err)
        err = cl16__op_launch(ctx, k, (size_t)planes);
    if (err)
        return cl16__cl_fail(ctx, err, "%s", op);
    cl16__count(ctx, (double)x->numel + (double)y->numel,
                (double)(x->numel + y->numel) * (double)cl16_dtype_size(x->dtype));
    return CL16_OK;
}

cl16_status cl16_global_avgpool_backward(cl16_ctx *ctx, const cl16_tensor *dy, float beta,
                                         cl16_tensor *dx) {
    static const char *op = "global_avgpool_backward";
    if (!ctx)
        return CL16_ERR_INVALID_ARG;
    if (ctx->init_status)
        return ctx->init_status;
    cl16_status s;
    if ((s = check_act4(ctx, op, "dx", dx)) || (s = check_gap_y(ctx, op, "dy", dy, dx)))
        return s;
    if (!isfinite(beta))
        return cl16__fail(ctx, CL16_ERR_INVALID_ARG, "%s: beta is not finite", op);
    if (dx->mem == dy->mem)
        return cl16__fail(ctx, CL16_ERR_INVALID_ARG, "%s: dx aliases dy", op);
    cl16_variant v = {dx->dtype, 0, NULL};
    cl_kernel k;
    if ((s = cl16__kernel(ctx, "pool.cl", &v, "cl16_gavgpool_bwd", &k)))
        return s;
    cl_long total = dx->numel;
    cl_int hw = (cl_int)(dx->dims[2] * dx->dims[3]);
    cl_int err = 0;
    cl_uint i = 0;
#define ARG(a)                                                                                     \
    if (!err)                                                                                      \
    err = clSetKernelArg(k, i++, sizeof(a), &(a))
    ARG(dy->mem);
    ARG(dx->mem);
    ARG(beta);
    ARG(total);
    ARG(hw);
#undef ARG
    if (!err)
        err = cl16__op_launch(ctx, k, ((size_t)total + 15) / 16); /* 16 elements each */
    if (err)
        return cl16__cl_fail(ctx, err, "%s", op);
    const double es = (double)cl16_dtype_size(dx->dtype);
    cl16__count(ctx, (double)dx->numel * (beta != 0.0f ? 3.0 : 1.0),
                (double)dy->numel * es + (double)dx->numel * es * (beta != 0.0f ? 2.0 : 1.0));
    return CL16_OK;
}
