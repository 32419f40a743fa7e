/* norm.c - BatchNorm2d forward (training and evaluation) and training-mode
 * backward (kernels/norm.cl): validates, then enqueues a per-channel reduction
 * and an element-wise pass. Nothing is launched unless every argument fits.
 * Choices the header leaves open: training with N*H*W = 1 is CL16_ERR_SHAPE
 * (PyTorch raises; the unbiased running variance would divide by zero);
 * training may pass NULL running statistics (both, PyTorch's
 * track_running_stats=False); evaluation ignores save_mean / save_invstd
 * (may be NULL); y may alias x and dx may alias dy (element-wise passes). */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>

#include "ops/ops_util.h"
#include "runtime/internal.h"

/* x: 4-D, f16 or f32, of ctx, sizes the kernels' int arguments can hold. */
static cl16_status check_x(cl16_ctx *ctx, const char *op, const cl16_tensor *x) {
    if (!x)
        return cl16__fail(ctx, CL16_ERR_INVALID_ARG, "%s: tensor x is NULL", op);
    if (x->ctx != ctx)
        return cl16__fail(ctx, CL16_ERR_INVALID_ARG, "%s: tensor x belongs to another context", op);
    if (x->dtype != CL16_F16 && x->dtype != CL16_F32 && x->dtype != CL16_BF16)
        return cl16__fail(ctx, CL16_ERR_SHAPE, "%s: tensor x is %s; f16, bf16 or f32 expected", op,
                          cl16_dtype_name(x->dtype));
    if (x->ndim != 4)
        return cl16__fail(ctx, CL16_ERR_SHAPE, "%s: tensor x has %d dimensions; NCHW (4) expected",
                          op, x->ndim);
    if (x->dims[0] * x->dims[1] > INT32_MAX || x->dims[2] * x->dims[3] > INT32_MAX)
        return cl16__fail(ctx, CL16_ERR_SHAPE,
                          "%s: tensor x is too large (N*C and H*W must be < 2^31)", op);
    return CL16_OK;
}

static cl16_status check_vec(cl16_ctx *ctx, const char *op, const char *name, const cl16_tensor *t,
                             int64_t c) {
    return cl16__op_check(ctx, op, name, t, CL16_F32, &c, 1);
}

/* Work-group size of the per-channel reductions: a power of two, at most 64
 * (CL16_BN_WG_MAX in norm.cl) and at most what the kernel allows here. On a
 * CPU one work-item: it then reads its channel's planes front to back, where
 * 64 work-items each took 16 elements of every plane in turn (`cl16 bench
 * train --models resnet20 --profile 24` on PoCL: the gradient sums 44-45 ->
 * 14-17 ms per fp32 step, the statistics 26-28 -> 11; docs/benchmarks.md). */
static size_t reduce_wg(cl16_ctx *ctx, cl_kernel k) {
    if (ctx->dev.type == CL16_DEVICE_CPU)
        return 1;
    size_t lim = 64, kw = 0;
    if (ctx->dev.max_work_group && ctx->dev.max_work_group < lim)
        lim = ctx->dev.max_work_group;
    if (!clGetKernelWorkGroupInfo(k, ctx->device, CL_KERNEL_WORK_GROUP_SIZE, sizeof kw, &kw,
                                  NULL) &&
        kw && kw < lim)
        lim = kw;
    size_t wg = 1;
    while (wg * 2 <= lim)
        wg *= 2;
    return wg;
}

/* The element-wise kernels run over (H*W / BN_EW, N*C), BN_EW = 16 elements
 * of a plane per work-item (norm.cl): no 64-bit divisions per element. */
static cl_int launch_planes(cl16_ctx *ctx, cl_kernel k, const cl16_tensor *x) {
    size_t global[2] = {(size_t)(x->dims[2] * x->dims[3] + 15) / 16,
                        (size_t)(x->dims[0] * x->dims[1])};
    return cl16__enqueue(ctx, k, 2, global, NULL);
}

/* The forward, followed by ReLU when relu (one pass writes relu(bn(x))). */
static cl16_status bn_forward(cl16_ctx *ctx, const char *op, int relu, int training,
                              float momentum, float eps, const cl16_tensor *x,
                              const cl16_tensor *gamma, const cl16_tensor *beta_,
                              cl16_tensor *running_mean, cl16_tensor *running_var,
                              cl16_tensor *save_mean, cl16_tensor *save_invstd, cl16_tensor *y) {
    if (!ctx)
        return CL16_ERR_INVALID_ARG;
    if (ctx->init_status)
        return ctx->init_status;
    if (!(momentum >= 0.0f && momentum <= 1.0f))
        return cl16__fail(ctx, CL16_ERR_INVALID_ARG, "%s: momentum = %g (must be in [0, 1])", op,
                          (double)momentum);
    if (!(eps > 0.0f) || !isfinite(eps))
        return cl16__fail(ctx, CL16_ERR_INVALID_ARG, "%s: eps = %g (must be finite and > 0)", op,
                          (double)eps);
    cl16_status s;
    if ((s = check_x(ctx, op, x)))
        return s;
    const int64_t c = x->dims[1], n = x->dims[0], hw = x->dims[2] * x->dims[3];
    if ((s = cl16__op_check(ctx, op, "y", y, x->dtype, x->dims, 4)) ||
        (s = check_vec(ctx, op, "gamma", gamma, c)) || (s = check_vec(ctx, op, "beta_", beta_, c)))
        return s;
    const int has_running = running_mean || running_var;
    if (has_running || !training) {
        if ((s = check_vec(ctx, op, "running_mean", running_mean, c)) ||
            (s = check_vec(ctx, op, "running_var", running_var, c)))
            return s;
        if (running_mean->mem == running_var->mem)
            return cl16__fail(ctx, CL16_ERR_INVALID_ARG, "%s: running_mean aliases running_var",
                              op);
    }
    if (training) {
        if ((s = check_vec(ctx, op, "save_mean", save_mean, c)) ||
            (s = check_vec(ctx, op, "save_invstd", save_invstd, c)))
            return s;
        if (save_mean->mem == save_invstd->mem)
            return cl16__fail(ctx, CL16_ERR_INVALID_ARG, "%s: save_mean aliases save_invstd", op);
        /* The unbiased variance for the running statistics divides by
         * n - 1 (PyTorch raises "Expected more than 1 value per channel"). */
        if (n * hw < 2) {
            char d[96];
            return cl16__fail(ctx, CL16_ERR_SHAPE,
                              "%s: tensor x %s has 1 value per channel (N*H*W = 1); training "
                              "needs at least 2",
                              op, cl16__op_dims_str(4, x->dims, d, sizeof d));
        }
    }
    cl16_variant v = {x->dtype, 0, NULL};
    cl_kernel ks, ka;
    if ((training && (s = cl16__kernel(ctx, "norm.cl", &v, "cl16_bn_stats", &ks))) ||
        (s = cl16__kernel(ctx, "norm.cl", &v, "cl16_bn_apply", &ka)))
        return s;
    cl_int err = 0;
    cl_uint i = 0;
    cl_int in = (cl_int)n, ic = (cl_int)c, ihw = (cl_int)hw, hr = has_running;
    cl_mem rm = has_running ? running_mean->mem : NULL, rv = has_running ? running_var->mem : NULL;
#define ARG(k, a)                                                                                  \
    if (!err)                                                                                      \
    err = clSetKernelArg(k, i++, sizeof(a), &(a))
    if (training) {
        cl_mem dm = has_running ? rm : save_mean->mem, dv = has_running ? rv : save_invstd->mem;
        ARG(ks, x->mem);
        ARG(ks, in);
        ARG(ks, ic);
        ARG(ks, ihw);
        ARG(ks, eps);
        ARG(ks, momentum);
        ARG(ks, hr);
        ARG(ks, dm);
        ARG(ks, dv);
        ARG(ks, save_mean->mem);
        ARG(ks, save_invstd->mem);
        size_t wg = reduce_wg(ctx, ks), global = wg * (size_t)c;
        if (!err)
            err = cl16__enqueue(ctx, ks, 1, &global, &wg);
        if (err)
            return cl16__cl_fail(ctx, err, "%s: statistics", op);
    }
    cl_int from_var = !training;
    cl_mem mean = training ? save_mean->mem : rm, sv = training ? save_invstd->mem : rv;
    i = 0;
    ARG(ka, x->mem);
    ARG(ka, y->mem);
    ARG(ka, ic);
    ARG(ka, ihw);
    ARG(ka, mean);
    ARG(ka, sv);
    ARG(ka, from_var);
    ARG(ka, eps);
    ARG(ka, gamma->mem);
    ARG(ka, beta_->mem);
    cl_int irelu = relu;
    ARG(ka, irelu);
#undef ARG
    if (!err)
        err = launch_planes(ctx, ka, x);
    if (err)
        return cl16__cl_fail(ctx, err, "%s: normalise", op);
    const double es = (double)cl16_dtype_size(x->dtype), nx = (double)x->numel;
    cl16__count(ctx, nx * ((training ? 8.0 : 4.0) + relu),
                nx * es * (training ? 4.0 : 2.0) + 4.0 * (double)c * (training ? 8.0 : 4.0));
    return CL16_OK;
}

cl16_status cl16_batchnorm2d_forward(cl16_ctx *ctx, int training, float momentum, float eps,
                                     const cl16_tensor *x, const cl16_tensor *gamma,
                                     const cl16_tensor *beta_, cl16_tensor *running_mean,
                                     cl16_tensor *running_var, cl16_tensor *save_mean,
                                     cl16_tensor *save_invstd, cl16_tensor *y) {
    return bn_forward(ctx, "batchnorm2d_forward", 0, training, momentum, eps, x, gamma, beta_,
                      running_mean, running_var, save_mean, save_invstd, y);
}

cl16_status cl16_batchnorm2d_relu_forward(cl16_ctx *ctx, int training, float momentum, float eps,
                                          const cl16_tensor *x, const cl16_tensor *gamma,
                                          const cl16_tensor *beta_, cl16_tensor *running_mean,
                                          cl16_tensor *running_var, cl16_tensor *save_mean,
                                          cl16_tensor *save_invstd, cl16_tensor *y) {
    return bn_forward(ctx, "batchnorm2d_relu_forward", 1, training, momentum, eps, x, gamma,
                      beta_, running_mean, running_var, save_mean, save_invstd, y);
}

/* The training-mode backward; with relu, dy is the gradient of relu(bn(x)),
 * masked by the output recomputed from x, gamma and beta_ (the shift). */
static cl16_status bn_backward(cl16_ctx *ctx, const char *op, int relu, const cl16_tensor *x,
                               const cl16_tensor *dy, const cl16_tensor *gamma,
                               const cl16_tensor *beta_, const cl16_tensor *save_mean,
                               const cl16_tensor *save_invstd, float beta, cl16_tensor *dx,
                               cl16_tensor *dgamma, cl16_tensor *dbeta_) {
    if (!ctx)
        return CL16_ERR_INVALID_ARG;
    if (ctx->init_status)
        return ctx->init_status;
    cl16_status s;
    if ((s = check_x(ctx, op, x)))
        return s;
    const int64_t c = x->dims[1], n = x->dims[0], hw = x->dims[2] * x->dims[3];
    if ((s = cl16__op_check(ctx, op, "dy", dy, x->dtype, x->dims, 4)) ||
        (s = cl16__op_check(ctx, op, "dx", dx, x->dtype, x->dims, 4)) ||
        (s = check_vec(ctx, op, "gamma", gamma, c)) ||
        (relu && (s = check_vec(ctx, op, "beta_", beta_, c))) ||
        (s = check_vec(ctx, op, "save_mean", save_mean, c)) ||
        (s = check_vec(ctx, op, "save_invstd", save_invstd, c)) ||
        (s = check_vec(ctx, op, "dgamma", dgamma, c)) ||
        (s = check_vec(ctx, op, "dbeta_", dbeta_, c)))
        return s;
    if (!isfinite(beta))
        return cl16__fail(ctx, CL16_ERR_INVALID_ARG, "%s: beta is not finite", op);
    if (dgamma->mem == dbeta_->mem)
        return cl16__fail(ctx, CL16_ERR_INVALID_ARG, "%s: dgamma aliases dbeta_", op);
    const cl16_tensor *ins[4] = {gamma, save_mean, save_invstd, beta_};
    const char *names[4] = {"gamma", "save_mean", "save_invstd", "beta_"};
    for (int j = 0; j < 3 + relu; j++) /* beta_ is read only with relu */
        if (ins[j]->mem == dgamma->mem || ins[j]->mem == dbeta_->mem)
            return cl16__fail(ctx, CL16_ERR_INVALID_ARG, "%s: %s aliases dgamma or dbeta_", op,
                              names[j]);
    cl16_variant v = {x->dtype, 0, NULL};
    cl_kernel kr, kd;
    if ((s = cl16__kernel(ctx, "norm.cl", &v, "cl16_bn_bwd_sums", &kr)) ||
        (s = cl16__kernel(ctx, "norm.cl", &v, "cl16_bn_bwd_dx", &kd)))
        return s;
    cl_int err = 0;
    cl_uint i = 0;
    cl_int in = (cl_int)n, ic = (cl_int)c, ihw = (cl_int)hw;
#define ARG(k, a)                                                                                  \
    if (!err)                                                                                      \
    err = clSetKernelArg(k, i++, sizeof(a), &(a))
    ARG(kr, x->mem);
    ARG(kr, dy->mem);
    ARG(kr, in);
    ARG(kr, ic);
    ARG(kr, ihw);
    ARG(kr, save_mean->mem);
    ARG(kr, save_invstd->mem);
    ARG(kr, dgamma->mem);
    ARG(kr, dbeta_->mem);
    cl_mem gm = relu ? gamma->mem : NULL, bm = relu ? beta_->mem : NULL;
    cl_int irelu = relu;
    ARG(kr, gm);
    ARG(kr, bm);
    ARG(kr, irelu);
    size_t wg = reduce_wg(ctx, kr), global = wg * (size_t)c;
    if (!err)
        err = cl16__enqueue(ctx, kr, 1, &global, &wg);
    if (err)
        return cl16__cl_fail(ctx, err, "%s: gradient sums", op);
    cl_float cnt = (cl_float)((double)n * (double)hw);
    i = 0;
    ARG(kd, x->mem);
    ARG(kd, dy->mem);
    ARG(kd, dx->mem);
    ARG(kd, beta);
    ARG(kd, ic);
    ARG(kd, ihw);
    ARG(kd, cnt);
    ARG(kd, save_mean->mem);
    ARG(kd, save_invstd->mem);
    ARG(kd, gamma->mem);
    ARG(kd, dgamma->mem);
    ARG(kd, dbeta_->mem);
    ARG(kd, bm);
    ARG(kd, irelu);
#undef ARG
    if (!err)
        err = launch_planes(ctx, kd, x);
    if (err)
        return cl16__cl_fail(ctx, err, "%s: input gradient", op);
    const double es = (double)cl16_dtype_size(x->dtype), nx = (double)x->numel;
    cl16__count(ctx, nx * ((beta != 0.0f ? 13.0 : 11.0) + 4.0 * relu),
                nx * es * (beta != 0.0f ? 6.0 : 5.0) + 4.0 * (double)c * (7.0 + 2.0 * relu));
    return CL16_OK;
}

cl16_status cl16_batchnorm2d_backward(cl16_ctx *ctx, const cl16_tensor *x, const cl16_tensor *dy,
                                      const cl16_tensor *gamma, const cl16_tensor *save_mean,
                                      const cl16_tensor *save_invstd, float beta, cl16_tensor *dx,
                                      cl16_tensor *dgamma, cl16_tensor *dbeta_) {
    return bn_backward(ctx, "batchnorm2d_backward", 0, x, dy, gamma, NULL, save_mean, save_invstd,
                       beta, dx, dgamma, dbeta_);
}

cl16_status cl16_batchnorm2d_relu_backward(cl16_ctx *ctx, const cl16_tensor *x,
                                           const cl16_tensor *dy, const cl16_tensor *gamma,
                                           const cl16_tensor *beta_, const cl16_tensor *save_mean,
                                           const cl16_tensor *save_invstd, float beta,
                                           cl16_tensor *dx, cl16_tensor *dgamma,
                                           cl16_tensor *dbeta_) {
    return bn_backward(ctx, "batchnorm2d_relu_backward", 1, x, dy, gamma, beta_, save_mean,
                       save_invstd, beta, dx, dgamma, dbeta_);
}
