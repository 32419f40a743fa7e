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

/* Enqueues pool.cl's 16-wide copy k of n elements, at element off of the
 * tensor side (narrow16: dst = src + beta * dst). */
static cl_int copy16(cl16_ctx *ctx, cl_kernel k, cl_mem src, cl_mem dst, cl_long n, cl_long off,
                     float beta, int narrow) {
    cl_int err = clSetKernelArg(k, 0, sizeof src, &src);
    if (!err) err = clSetKernelArg(k, 1, sizeof dst, &dst);
    if (!err) err = clSetKernelArg(k, 2, sizeof n, &n);
    if (!err && narrow) err = clSetKernelArg(k, 3, sizeof beta, &beta);
    if (!err) err = clSetKernelArg(k, narrow ? 4 : 3, sizeof off, &off);
    return err ? err : cl16__op_launch(ctx, k, (size_t)(n / 16 + 1));
}

/* Images per chunk (of n) of the f16 2x2 pooling through float copies:
 * about VIA_CHUNK_BYTES of float copies, per_floats per image, so that the
 * workspace stays small next to the tensors (whole-batch copies made
 * LeNet-5's f16 training step peak at 0.65x fp32's memory, 0.53x without
 * them). 2 MiB against 512 KiB, `cl16 bench train --models lenet5
 * --profile 24`, three pairs on the EPYC: the pooling kernels 2.1-2.4 ms
 * per fp16 step (15 launches) against 2.8-3.1 (38), the same peak memory
 * (11.38 MB, 0.57x fp32); 4 MiB raised it to 12.03 MB and made the
 * backward slower. */
#define VIA_CHUNK_BYTES ((size_t)2 << 20)
static int64_t via_images(int64_t n, int64_t per_floats) {
    int64_t nb = (int64_t)(VIA_CHUNK_BYTES / ((size_t)per_floats * sizeof(float)));
    return nb < 1 ? 1 : nb > n ? n : nb;
}

/* f16 2x2 pooling forward: x widened to float a chunk of images at a time
 * (via_images), then cl16_pool2x2_fwd_fx, which rounds y on store (the same
 * bits as the f16 kernel). PoCL vectorises the float loads but not the f16
 * ones (LeNet pool1 at batch 128: f16 kernel 1.5 ms CPU, f32 0.3); until
 * 2026-12-07 y went through a float chunk too, narrowed after the kernel. */
static cl16_status fwd_2x2_via_float(cl16_ctx *ctx, const cl16_pool2d_params *p,
                                     const cl16_tensor *x, cl16_tensor *y, cl16_tensor *indices,
                                     const int64_t *yd) {
    cl16_variant vh = {CL16_F16, 0, NULL};
    cl_kernel kw, kp;
    cl16_status s;
    if ((s = cl16__kernel(ctx, "pool.cl", &vh, "cl16_pool_widen16", &kw)) ||
        (s = cl16__kernel(ctx, "pool.cl", &vh, "cl16_pool2x2_fwd_fx", &kp)))
        return s;
    const int64_t xper = x->dims[1] * x->dims[2] * x->dims[3], yper = yd[1] * yd[2] * yd[3];
    const int64_t nb = via_images(x->dims[0], xper);
    cl_mem xf = NULL;
    const size_t xb = (size_t)(nb * xper) * sizeof(float);
    if ((s = cl16__dev_alloc(ctx, xb, "pool2d float copy of x (chunk)", &xf)))
        return s;
    cl_int err = 0, has = indices != NULL;
    cl_mem im = indices ? indices->mem : y->mem;
    cl_uint i = 0;
#define ARG(a)                                                                                     \
    if (!err)                                                                                      \
    err = clSetKernelArg(kp, i++, sizeof(a), &(a))
    ARG(xf);
    ARG(y->mem);
    ARG(im);
    ARG(has);
#undef ARG
    if (!err)
        err = set_geom(kp, i, p, x->dims, yd);
    i += 12;
    for (int64_t n0 = 0; n0 < x->dims[0] && !err; n0 += nb) {
        const int64_t cnt = x->dims[0] - n0 < nb ? x->dims[0] - n0 : nb;
        const int64_t cd[4] = {cnt, yd[1], yd[2], yd[3]};
        cl_long idx0 = n0 * yper; /* y's and idx's first element of the chunk */
        err = copy16(ctx, kw, x->mem, xf, cnt * xper, n0 * xper, 0.0f, 0);
        if (!err)
            err = clSetKernelArg(kp, i, sizeof idx0, &idx0);
        if (!err)
            err = launch_planes(ctx, kp, cd, 1);
    }
    cl16__dev_free(ctx, xf, xb); /* released by OpenCL once the kernels are done */
    if (err)
        return cl16__cl_fail(ctx, err, "pool2d_forward (2x2 through float)");
    cl16__count(ctx, (double)y->numel * 4.0,
                (double)x->numel * (2.0 + 8.0) + (double)y->numel * 2.0 +
                    (indices ? 4.0 * (double)y->numel : 0.0));
    return CL16_OK;
}

/* f16 2x2 pooling backward, the same way: dy widened, the f32 kernel (beta 0)
 * into a float dx, narrowed with beta (dx = beta * dx + sum, one rounding:
 * the same bits as the f16 kernel), a chunk of images at a time. LeNet pool1
 * at batch 128: 2.5 ms CPU with the f16 kernel, 1.6 with 16 elements per
 * work-item. */
static cl16_status bwd_2x2_via_float(cl16_ctx *ctx, const cl16_pool2d_params *p,
                                     const cl16_tensor *dy, const cl16_tensor *indices, float beta,
                                     cl16_tensor *dx, const int64_t *yd) {
    cl16_variant vh = {CL16_F16, 0, NULL}, vf = {CL16_F32, 0, NULL};
    cl_kernel kw, kn, kp;
    cl16_status s;
    if ((s = cl16__kernel(ctx, "pool.cl", &vh, "cl16_pool_widen16", &kw)) ||
        (s = cl16__kernel(ctx, "pool.cl", &vh, "cl16_pool_narrow16", &kn)) ||
        (s = cl16__kernel(ctx, "pool.cl", &vf, "cl16_pool2x2_bwd", &kp)))
        return s;
    const int64_t xper = dx->dims[1] * dx->dims[2] * dx->dims[3], yper = yd[1] * yd[2] * yd[3];
    const int64_t nb = via_images(dx->dims[0], xper + yper);
    cl_mem dyf = NULL, dxf = NULL;
    const size_t yb = (size_t)(nb * yper) * sizeof(float), xb = (size_t)(nb * xper) * sizeof(float);
    if ((s = cl16__dev_alloc(ctx, yb, "pool2d float copy of dy (chunk)", &dyf)))
        return s;
    if ((s = cl16__dev_alloc(ctx, xb, "pool2d float dx (chunk)", &dxf))) {
        cl16__dev_free(ctx, dyf, yb);
        return s;
    }
    cl_mem im = indices ? indices->mem : dyf;
    const float zero = 0.0f;
    cl_int err = 0;
    cl_uint i = 0;
#define ARG(a)                                                                                     \
    if (!err)                                                                                      \
    err = clSetKernelArg(kp, i++, sizeof(a), &(a))
    ARG(dyf);
    ARG(im);
    ARG(dxf);
    ARG(zero);
#undef ARG
    if (!err)
        err = set_geom(kp, i, p, dx->dims, yd);
    i += 12;
    for (int64_t n0 = 0; n0 < dx->dims[0] && !err; n0 += nb) {
        const int64_t cnt = dx->dims[0] - n0 < nb ? dx->dims[0] - n0 : nb;
        const int64_t cd[4] = {cnt, dx->dims[1], dx->dims[2], dx->dims[3]};
        cl_long idx0 = n0 * yper;
        err = copy16(ctx, kw, dy->mem, dyf, cnt * yper, n0 * yper, 0.0f, 0);
        if (!err)
            err = clSetKernelArg(kp, i, sizeof idx0, &idx0);
        if (!err)
            err = launch_planes(ctx, kp, cd, 1);
        if (!err)
            err = copy16(ctx, kn, dxf, dx->mem, cnt * xper, n0 * xper, beta, 1);
    }
    cl16__dev_free(ctx, dxf, xb); /* released by OpenCL once the kernels are done */
    cl16__dev_free(ctx, dyf, yb);
    if (err)
        return cl16__cl_fail(ctx, err, "pool2d_backward (2x2 through float)");
    cl16__count(ctx, (double)dy->numel * 2.0 + (beta != 0.0f ? 2.0 * (double)dx->numel : 0.0),
                (double)dy->numel * (10.0 + (indices ? 4.0 : 0.0)) +
                    (double)dx->numel * (10.0 + (beta != 0.0f ? 2.0 : 0.0)));
    return CL16_OK;
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
    if (is_2x2(p) && x->dtype == CL16_F16)
        return fwd_2x2_via_float(ctx, p, x, y, indices, yd);
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
    const cl_long idx0 = 0; /* the 2x2 kernel's chunk offset: none */
    if (!err && is_2x2(p))
        err = clSetKernelArg(k, i + 12, sizeof idx0, &idx0);
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
    if (is_2x2(p) && dx->dtype == CL16_F16)
        return bwd_2x2_via_float(ctx, p, dy, indices, beta, dx, yd);
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
    const cl_long idx0 = 0; /* the 2x2 kernel's chunk offset: none */
    if (!err && is_2x2(p))
        err = clSetKernelArg(k, i + 12, sizeof idx0, &idx0);
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
