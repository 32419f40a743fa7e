/* peak.c - the device's measured copy bandwidth and multiply-add peaks
 * (kernels/peak.cl), the reference every benchmark figure is compared to. */
#include <stdio.h>

#include "ops/ops_util.h"

/* Best time of `reps` runs of an enqueue + finish. */
typedef cl_int (*enq_fn)(cl16_ctx *ctx, void *u);

static cl16_status best_of(cl16_ctx *ctx, enq_fn f, void *u, int reps, double *best) {
    *best = 1e30;
    for (int r = 0; r < reps; r++) {
        const double t0 = cl16__now();
        cl_int err = f(ctx, u);
        if (!err)
            err = clFinish(ctx->queue);
        if (err)
            return cl16__cl_fail(ctx, err, "peak measurement");
        const double t = cl16__now() - t0;
        if (t < *best)
            *best = t;
    }
    return CL16_OK;
}

typedef struct copy_job {
    cl_mem a, b;
    size_t bytes;
} copy_job;

static cl_int do_copy(cl16_ctx *ctx, void *u) {
    copy_job *j = u;
    cl_event *ev = cl16__prof_slot(ctx);
    const cl_int err = clEnqueueCopyBuffer(ctx->queue, j->a, j->b, 0, 0, j->bytes, 0, NULL, ev);
    cl16__prof_commit(ctx, ev, err);
    return err;
}

typedef struct fma_job {
    cl_kernel k;
    size_t global;
} fma_job;

static cl_int do_fma(cl16_ctx *ctx, void *u) {
    fma_job *j = u;
    return cl16__enqueue(ctx, j->k, 1, &j->global, NULL);
}

/* GFLOP/s of one peak kernel, its iteration count grown until a run takes
 * about `target` seconds. */
static cl16_status fma_rate(cl16_ctx *ctx, const char *name, cl16_dtype dt, double per_iter,
                            cl_mem out, size_t global, double target, double *gflops) {
    cl16_variant v = {dt, 0, NULL};
    cl_kernel k;
    cl16_status s = cl16__kernel(ctx, "peak.cl", &v, name, &k);
    if (s)
        return s;
    fma_job j = {k, global};
    cl_int iters = 64;
    const float a = 0.999f;
    double t = 0;
    for (;;) {
        cl_int err = clSetKernelArg(k, 0, sizeof out, &out);
        if (!err) err = clSetKernelArg(k, 1, sizeof iters, &iters);
        if (!err) err = clSetKernelArg(k, 2, sizeof a, &a);
        if (err)
            return cl16__cl_fail(ctx, err, "clSetKernelArg(%s)", name);
        if ((s = best_of(ctx, do_fma, &j, iters >= 1 << 20 ? 1 : 2, &t)))
            return s;
        if (t >= target || iters >= 1 << 22)
            break;
        iters *= t > 0 && target / t < 16 ? 2 : 8;
    }
    if ((s = best_of(ctx, do_fma, &j, 3, &t)))
        return s;
    *gflops = per_iter * (double)iters * (double)global / t / 1e9;
    return CL16_OK;
}

cl16_status cl16_measure_peaks(cl16_ctx *ctx, double budget_s, cl16_peaks *out) {
    CL16_OP_CTX(ctx);
    if (!out || !(budget_s > 0))
        return cl16__fail(ctx, CL16_ERR_INVALID_ARG, "measure_peaks: %s",
                          out ? "budget_s must be > 0" : "out is NULL");
    out->copy_gb_per_s = out->f32_gflops = out->f16_gflops = 0;
    const int gpu = ctx->dev.type != CL16_DEVICE_CPU;
    size_t bytes = (size_t)(gpu ? 256 : 64) << 20;
    if (bytes > ctx->dev.max_alloc / 2)
        bytes = (size_t)(ctx->dev.max_alloc / 2);
    copy_job cj = {NULL, NULL, bytes};
    const size_t global = (size_t)(ctx->dev.compute_units ? ctx->dev.compute_units : 1) *
                          (gpu ? 2048 : 256);
    cl_mem outbuf = NULL;
    cl16_status s;
    if ((s = cl16__dev_alloc(ctx, bytes, "the peak copy source", &cj.a)) ||
        (s = cl16__dev_alloc(ctx, bytes, "the peak copy target", &cj.b)) ||
        (s = cl16__dev_alloc(ctx, global * sizeof(float), "the peak kernel output", &outbuf)))
        goto done;
    const float zero = 0.0f;
    cl_event *ev = cl16__prof_slot(ctx);
    cl_int err = clEnqueueFillBuffer(ctx->queue, cj.a, &zero, sizeof zero, 0, bytes, 0, NULL, ev);
    cl16__prof_commit(ctx, ev, err);
    if (err) {
        s = cl16__cl_fail(ctx, err, "clEnqueueFillBuffer");
        goto done;
    }
    double t;
    if ((s = best_of(ctx, do_copy, &cj, 4, &t)))
        goto done;
    out->copy_gb_per_s = 2.0 * (double)bytes / t / 1e9;
    /* f32: the faster of float8 and float16 chains (flops per work-item
     * iteration: 8 chains x lanes x 2); f16: 8 scalar chains. */
    double g16 = 0;
    if ((s = fma_rate(ctx, "cl16_peak_fma_f32", CL16_F32, 128.0, outbuf, global, budget_s / 16,
                      &out->f32_gflops)) ||
        (s = fma_rate(ctx, "cl16_peak_fma_f32x16", CL16_F32, 256.0, outbuf, global, budget_s / 16,
                      &g16)))
        goto done;
    if (g16 > out->f32_gflops)
        out->f32_gflops = g16;
    if (ctx->half == CL16_HALF_NATIVE)
        s = fma_rate(ctx, "cl16_peak_fma_f16", CL16_F16, 16.0, outbuf, global, budget_s / 8,
                     &out->f16_gflops);
done:
    if (cj.a) cl16__dev_free(ctx, cj.a, bytes);
    if (cj.b) cl16__dev_free(ctx, cj.b, bytes);
    if (outbuf) cl16__dev_free(ctx, outbuf, global * sizeof(float));
    return s;
}
