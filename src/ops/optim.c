/* optim.c - optimizer steps on the device (SGD with momentum, Adam, AdamW) on
 * kernels/optim.cl, and learning-rate schedules. Every argument is checked
 * before anything is launched; step-dependent factors are computed here in
 * double and passed to the one fused kernel of each kind as float arguments. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "ops/ops_util.h"

void cl16_optim_params_init(cl16_optim_params *p) {
    if (!p)
        return;
    p->kind = CL16_OPT_SGD;
    p->lr = 0.01f;
    p->weight_decay = 0.0f;
    p->momentum = 0.0f;
    p->dampening = 0.0f;
    p->nesterov = 0;
    p->beta1 = 0.9f;
    p->beta2 = 0.999f;
    p->eps = 1e-8f;
}

/* t is a float tensor of ctx with w's dtype and element count. */
static cl16_status optim_arg(cl16_ctx *ctx, const char *fn, const char *name, const cl16_tensor *t,
                             const cl16_tensor *w) {
    cl16_status s = cl16__op_tensor(ctx, fn, name, t);
    if (s || (s = cl16__op_float(ctx, fn, name, t, w->dtype, "w")))
        return s;
    if (t->numel != w->numel)
        return cl16__fail(ctx, CL16_ERR_SHAPE,
                          "%s: tensor %s has %" PRId64 " elements, expected %" PRId64 " (as w)", fn,
                          name, t->numel, w->numel);
    return CL16_OK;
}

/* The hyper-parameters make sense for p->kind (PyTorch's own checks). */
static cl16_status optim_hyper(cl16_ctx *ctx, const char *fn, const cl16_optim_params *p) {
    if (!(isfinite(p->lr) && p->lr >= 0.0f))
        return cl16__fail(ctx, CL16_ERR_INVALID_ARG, "%s: lr = %g (must be finite and >= 0)", fn,
                          (double)p->lr);
    if (!(isfinite(p->weight_decay) && p->weight_decay >= 0.0f))
        return cl16__fail(ctx, CL16_ERR_INVALID_ARG,
                          "%s: weight_decay = %g (must be finite and >= 0)", fn,
                          (double)p->weight_decay);
    if (p->kind == CL16_OPT_SGD) {
        if (!(isfinite(p->momentum) && p->momentum >= 0.0f))
            return cl16__fail(ctx, CL16_ERR_INVALID_ARG,
                              "%s: momentum = %g (must be finite and >= 0)", fn,
                              (double)p->momentum);
        if (!isfinite(p->dampening))
            return cl16__fail(ctx, CL16_ERR_INVALID_ARG, "%s: dampening = %g (must be finite)", fn,
                              (double)p->dampening);
        if (p->nesterov != 0 && p->nesterov != 1)
            return cl16__fail(ctx, CL16_ERR_INVALID_ARG, "%s: nesterov = %d (must be 0 or 1)", fn,
                              p->nesterov);
        if (p->nesterov && (p->momentum <= 0.0f || p->dampening != 0.0f))
            return cl16__fail(ctx, CL16_ERR_INVALID_ARG,
                              "%s: nesterov needs momentum > 0 and dampening 0 (momentum = %g, "
                              "dampening = %g)",
                              fn, (double)p->momentum, (double)p->dampening);
        return CL16_OK;
    }
    if (!(p->beta1 >= 0.0f && p->beta1 < 1.0f))
        return cl16__fail(ctx, CL16_ERR_INVALID_ARG, "%s: beta1 = %g (must be in [0, 1))", fn,
                          (double)p->beta1);
    if (!(p->beta2 >= 0.0f && p->beta2 < 1.0f))
        return cl16__fail(ctx, CL16_ERR_INVALID_ARG, "%s: beta2 = %g (must be in [0, 1))", fn,
                          (double)p->beta2);
    if (!(isfinite(p->eps) && p->eps > 0.0f))
        return cl16__fail(ctx, CL16_ERR_INVALID_ARG, "%s: eps = %g (must be finite and > 0)", fn,
                          (double)p->eps);
    return CL16_OK;
}

#define ARG(x)                                                                                     \
    if (!err)                                                                                      \
    err = clSetKernelArg(k, i++, sizeof(x), &(x))

void cl16_optim_extra_init(cl16_optim_extra *x) {
    if (!x)
        return;
    memset(x, 0, sizeof *x);
    x->rounding = CL16_ROUND_NEAREST;
    x->grad_scale = 1.0f;
}

static uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* The generator's key for one stored tensor (stream 0: w, 1: m, 2: v) of one step. */
static cl_ulong sr_key(const cl16_optim_extra *x, int64_t step, int stream) {
    return mix64(x->seed ^ mix64(((uint64_t)step << 32) ^ ((uint64_t)x->tensor_id << 2) ^
                                 (uint64_t)stream));
}

/* An optional i32 tensor of ctx with at least `count` elements. */
static cl16_status i32_arg(cl16_ctx *ctx, const char *fn, const char *name, const cl16_tensor *t,
                           int64_t count) {
    cl16_status s = cl16__op_tensor(ctx, fn, name, t);
    if (s)
        return s;
    if (t->dtype != CL16_I32 || t->numel < count)
        return cl16__fail(ctx, CL16_ERR_SHAPE, "%s: tensor %s must be i32 with at least %" PRId64
                          " elements (is %s, %" PRId64 ")",
                          fn, name, count, cl16_dtype_name(t->dtype), t->numel);
    return CL16_OK;
}

cl16_status cl16_optim_step(cl16_ctx *ctx, const cl16_optim_params *p, int64_t step, cl16_tensor *w,
                            const cl16_tensor *g, cl16_tensor *m, cl16_tensor *v) {
    return cl16_optim_step_ex(ctx, p, step, w, g, m, v, NULL);
}

cl16_status cl16_optim_step_ex(cl16_ctx *ctx, const cl16_optim_params *p, int64_t step,
                               cl16_tensor *w, const cl16_tensor *g, cl16_tensor *m,
                               cl16_tensor *v, const cl16_optim_extra *xp) {
    static const char fn[] = "optim_step";
    CL16_OP_CTX(ctx);
    cl16_optim_extra x;
    if (xp)
        x = *xp;
    else
        cl16_optim_extra_init(&x);
    if (!p)
        return cl16__fail(ctx, CL16_ERR_INVALID_ARG, "%s: params p is NULL", fn);
    if (p->kind != CL16_OPT_SGD && p->kind != CL16_OPT_ADAM && p->kind != CL16_OPT_ADAMW)
        return cl16__fail(ctx, CL16_ERR_INVALID_ARG, "%s: kind = %d (not an optimizer)", fn,
                          (int)p->kind);
    if (step < 1)
        return cl16__fail(ctx, CL16_ERR_INVALID_ARG, "%s: step = %" PRId64 " (counts from 1)", fn,
                          step);
    if (x.rounding != CL16_ROUND_NEAREST && x.rounding != CL16_ROUND_STOCHASTIC &&
        x.rounding != CL16_ROUND_KAHAN)
        return cl16__fail(ctx, CL16_ERR_INVALID_ARG, "%s: rounding = %d (not a cl16_rounding)", fn,
                          (int)x.rounding);
    if (!(isfinite(x.grad_scale) && x.grad_scale > 0.0f))
        return cl16__fail(ctx, CL16_ERR_INVALID_ARG, "%s: grad_scale = %g (must be finite and > 0)",
                          fn, (double)x.grad_scale);
    cl16_status s = cl16__op_tensor(ctx, fn, "w", w);
    if (s || (s = cl16__op_float(ctx, fn, "w", w, w->dtype, "w")))
        return s;
    const int mixed = x.w16 != NULL;
    if (mixed) {
        /* Mixed precision: f32 master weights and state, f16 gradient and copy. */
        if (w->dtype != CL16_F32)
            return cl16__fail(ctx, CL16_ERR_SHAPE,
                              "%s: with w16 (mixed precision) w must be the f32 master copy (is %s)",
                              fn, cl16_dtype_name(w->dtype));
        if ((s = optim_arg(ctx, fn, "w16", x.w16, x.w16)) ||
            (s = cl16__op_float(ctx, fn, "w16", x.w16, CL16_F16, "the mixed-precision copy")) ||
            (s = optim_arg(ctx, fn, "g", g, x.w16)))
            return s;
        if (x.w16->numel != w->numel)
            return cl16__fail(ctx, CL16_ERR_SHAPE, "%s: w16 has %" PRId64 " elements, w %" PRId64,
                              fn, x.w16->numel, w->numel);
    } else if ((s = optim_arg(ctx, fn, "g", g, w))) {
        return s;
    }
    const int sgd = p->kind == CL16_OPT_SGD;
    const int use_m = !sgd || p->momentum != 0.0f;
    if (use_m && !m)
        return cl16__fail(ctx, CL16_ERR_INVALID_ARG, "%s: tensor m is NULL but %s needs it", fn,
                          sgd ? "SGD with momentum" : "Adam");
    if (use_m && (s = optim_arg(ctx, fn, "m", m, w)))
        return s;
    if (!sgd) {
        if (!v)
            return cl16__fail(ctx, CL16_ERR_INVALID_ARG, "%s: tensor v is NULL but Adam needs it",
                              fn);
        if ((s = optim_arg(ctx, fn, "v", v, w)))
            return s;
    }
    const int w16bit = w->dtype == CL16_F16 || w->dtype == CL16_BF16;
    const int kahan = x.rounding == CL16_ROUND_KAHAN && w16bit;
    if (kahan) {
        if (!x.comp)
            return cl16__fail(ctx, CL16_ERR_INVALID_ARG,
                              "%s: Kahan rounding needs the compensation tensor comp", fn);
        if ((s = optim_arg(ctx, fn, "comp", x.comp, w)))
            return s;
    }
    if ((x.skip && (s = i32_arg(ctx, fn, "skip", x.skip, 1))) ||
        (x.stats && (s = i32_arg(ctx, fn, "stats", x.stats, 2))))
        return s;
    if ((s = optim_hyper(ctx, fn, p)))
        return s;

    static const char *const names[] = {"cl16_optim_sgd", "cl16_optim_adam", "cl16_optim_adamw"};
    cl16_variant var = {w->dtype, 0, mixed ? "-DOPT_MIXED=1" : NULL};
    cl_kernel k;
    if ((s = cl16__kernel(ctx, "optim.cl", &var, names[p->kind], &k)))
        return s;
    cl_ulong n = (cl_ulong)w->numel;
    cl_int err = 0;
    cl_uint i = 0;
    double flops, tensors; /* per element: arithmetic, tensors read + written */
    ARG(w->mem);
    ARG(g->mem);
    if (sgd) {
        cl_mem mm = use_m ? m->mem : w->mem; /* untouched without momentum */
        float lr = p->lr, wd = p->weight_decay, mom = p->momentum;
        float damp1 = (float)(1.0 - (double)p->dampening);
        cl_int nest = p->nesterov, first = step == 1;
        ARG(mm);
        ARG(lr);
        ARG(wd);
        ARG(mom);
        ARG(damp1);
        ARG(nest);
        ARG(first);
        flops = 2.0 + (wd != 0.0f ? 2.0 : 0.0) + (use_m ? (first ? 0.0 : 3.0) : 0.0) +
                (nest ? 2.0 : 0.0);
        tensors = 3.0 + (use_m ? (first ? 1.0 : 2.0) : 0.0);
    } else {
        /* Bias corrections in double: 1 - b^t for large t is close to 1 and
         * for small t close to 1 - b, both exact enough in float once formed. */
        const double t = (double)step;
        const double bc1 = 1.0 - pow((double)p->beta1, t);
        const double bc2 = 1.0 - pow((double)p->beta2, t);
        float decay =
            p->kind == CL16_OPT_ADAM ? p->weight_decay : (float)((double)p->lr * p->weight_decay);
        float b1 = p->beta1, b2 = p->beta2, eps = p->eps;
        float omb1 = (float)(1.0 - (double)p->beta1), omb2 = (float)(1.0 - (double)p->beta2);
        float step_size = (float)((double)p->lr / bc1);
        float isb2 = (float)(1.0 / sqrt(bc2));
        ARG(m->mem);
        ARG(v->mem);
        ARG(decay);
        ARG(b1);
        ARG(omb1);
        ARG(b2);
        ARG(omb2);
        ARG(step_size);
        ARG(isb2);
        ARG(eps);
        flops = 13.0 + (decay != 0.0f ? 2.0 : 0.0);
        tensors = 6.0;
    }
    cl_int mode = w16bit ? (cl_int)x.rounding : 0;
    cl_ulong kw = sr_key(&x, step, 0), km = sr_key(&x, step, 1), kv = sr_key(&x, step, 2);
    cl_mem comp = kahan ? x.comp->mem : NULL, w16 = mixed ? x.w16->mem : NULL;
    cl_mem skip = x.skip ? x.skip->mem : NULL, stats = x.stats ? x.stats->mem : NULL;
    float gscale = x.grad_scale;
    ARG(mode);
    ARG(kw);
    ARG(km);
    ARG(kv);
    ARG(comp);
    ARG(w16);
    ARG(gscale);
    ARG(skip);
    ARG(stats);
    ARG(n);
    if (kahan)
        tensors += 2.0;
    if (!err) /* one work-item per block of 16 elements (kernels/optim.cl) */
        err = cl16__op_launch(ctx, k, (size_t)((n + 15) / 16));
    if (err)
        return cl16__cl_fail(ctx, err, "%s (%s) over %" PRIu64 " elements", fn, names[p->kind],
                             (uint64_t)n);
    cl16__count(ctx, flops * (double)n, tensors * (double)w->bytes);
    return CL16_OK;
}

/* Gradients per launch of cl16_grad_check4 (kernels/optim.cl). */
#define CHECK_PER_LAUNCH 4

cl16_status cl16_grad_check_n(cl16_ctx *ctx, const cl16_tensor *const *g, size_t count,
                              cl16_tensor *flag) {
    static const char fn[] = "grad_check";
    CL16_OP_CTX(ctx);
    if (!g && count)
        return cl16__fail(ctx, CL16_ERR_INVALID_ARG, "%s: the gradient list is NULL", fn);
    cl16_status s = i32_arg(ctx, fn, "flag", flag, 1);
    for (size_t i = 0; i < count && !s; i++) {
        char name[32];
        snprintf(name, sizeof name, "g[%zu]", i);
        if (!(s = cl16__op_tensor(ctx, fn, name, g[i])))
            s = cl16__op_float(ctx, fn, name, g[i], g[i]->dtype, name);
    }
    /* Up to CHECK_PER_LAUNCH gradients of one dtype per launch, one
     * work-item per element of them all (a ResNet-20 fp16 step: 65
     * gradients, f16 weights and f32 batch-norm parameters, 17 launches
     * instead of 65). */
    static const cl16_dtype dts[3] = {CL16_F16, CL16_BF16, CL16_F32};
    for (int d = 0; d < 3 && !s; d++) {
        for (size_t i = 0; i < count && !s;) {
            size_t k = 0;
            cl_mem mem[CHECK_PER_LAUNCH];
            cl_ulong n[CHECK_PER_LAUNCH], total = 0;
            double bytes = 0.0;
            for (; k < CHECK_PER_LAUNCH && i < count; i++) {
                if (g[i]->dtype != dts[d])
                    continue;
                mem[k] = g[i]->mem, n[k] = (cl_ulong)g[i]->numel;
                total += n[k], bytes += (double)g[i]->bytes;
                k++;
            }
            if (!k)
                break;
            for (size_t e = k; e < CHECK_PER_LAUNCH; e++)
                mem[e] = mem[0], n[e] = 0; /* unused slots: no elements */
            cl16_variant var = {dts[d], 0, NULL};
            cl_kernel kern;
            if ((s = cl16__kernel(ctx, "optim.cl", &var, "cl16_grad_check4", &kern)))
                return s;
            cl_int err = 0;
            for (cl_uint a = 0; a < CHECK_PER_LAUNCH && !err; a++) {
                err = clSetKernelArg(kern, 2 * a, sizeof mem[a], &mem[a]);
                if (!err)
                    err = clSetKernelArg(kern, 2 * a + 1, sizeof n[a], &n[a]);
            }
            if (!err)
                err = clSetKernelArg(kern, 2 * CHECK_PER_LAUNCH, sizeof flag->mem, &flag->mem);
            if (!err)
                err = cl16__op_launch(ctx, kern, (size_t)total);
            if (err)
                return cl16__cl_fail(ctx, err, "%s over %zu %s gradients (%" PRIu64 " elements)",
                                     fn, k, cl16_dtype_name(dts[d]), (uint64_t)total);
            cl16__count(ctx, (double)total, bytes);
        }
    }
    return s;
}

cl16_status cl16_grad_check(cl16_ctx *ctx, const cl16_tensor *g, cl16_tensor *flag) {
    return cl16_grad_check_n(ctx, &g, 1, flag);
}
#undef ARG

double cl16_lr_at(cl16_lr_schedule s, double base_lr, int64_t step, int64_t total, int64_t warmup,
                  int64_t step_size, double gamma) {
    if (step < 0 || warmup < 0 ||
        (s != CL16_LR_CONSTANT && s != CL16_LR_STEP && s != CL16_LR_COSINE) ||
        (s == CL16_LR_STEP && step_size < 1))
        return NAN;
    if (step < warmup)
        return base_lr * (double)step / (double)warmup;
    const int64_t after = step - warmup; /* steps since the end of the warm-up */
    switch (s) {
    case CL16_LR_STEP:
        return base_lr * pow(gamma, (double)(after / step_size));
    case CL16_LR_COSINE: {
        const int64_t span = total - warmup;
        if (span < 1 || after >= span)
            return 0.0;
        const double pi = 3.14159265358979323846;
        return base_lr * 0.5 * (1.0 + cos(pi * (double)after / (double)span));
    }
    default:
        return base_lr;
    }
}
