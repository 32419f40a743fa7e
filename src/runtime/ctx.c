/* ctx.c - context life cycle: device selection, OpenCL context and queue, the
 * half-path probe (run, not read from the extension string), cache set-up. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/internal.h"

#define PROBE_N 64

/* Probe inputs: exact in half, and a*b+c exact in half as well, so both the
 * native and the storage kernel must reproduce `want` bit for bit. */
static void probe_data(uint16_t *a, uint16_t *b, uint16_t *c, uint16_t *want) {
    for (int i = 0; i < PROBE_N; i++) {
        float fa = (float)(i - 32) * 0.25f, fb = (i % 3 == 0) ? -1.5f : 2.0f;
        float fc = (float)(i % 7) * 0.125f;
        a[i] = cl16_float_to_half(fa);
        b[i] = cl16_float_to_half(fb);
        c[i] = cl16_float_to_half(fc);
        want[i] = cl16_float_to_half(fa * fb + fc);
    }
}

/* Builds and runs the probe. Returns OK with *works set; a failing build or a
 * wrong result is *works = 0 with the reason in the context detail. */
static cl16_status run_probe(cl16_ctx *ctx, int native, int *works) {
    *works = 0;
    char options[64];
    snprintf(options, sizeof options, CL16_BASE_BUILD_OPTIONS " -DCL16_PROBE_NATIVE=%d", native);
    const char *text;
    size_t len;
    char *owned;
    cl16_status s = cl16__kernel_source(ctx, "probe.cl", &text, &len, &owned);
    if (s) return s;
    /* A native probe that failed to build is remembered in the disk cache
     * (keyed like a binary: source, options, device, driver), so that warm
     * starts on storage-path devices skip a compile that is known to fail. */
    uint8_t nokey[32];
    char nooptions[96];
    snprintf(nooptions, sizeof nooptions, "%s;result=does-not-build", options);
    cl16__cache_key(ctx, text, len, nooptions, nokey);
    unsigned char *log = NULL;
    size_t loglen = 0;
    if (native && ctx->cache_on && cl16__cache_load(ctx, nokey, &log, &loglen) == 0) {
        free(owned);
        cl16__fail(ctx, CL16_ERR_BUILD, "%.*s (result remembered in the program cache)",
                   (int)loglen, (const char *)log);
        free(log);
        return CL16_OK;
    }
    cl_program prog;
    s = cl16__program_build(ctx, "probe.cl", text, len, options, &prog);
    free(owned);
    if (s == CL16_ERR_BUILD) { /* does not build: not this path */
        if (native && ctx->err && ctx->err[0])
            cl16__cache_store(ctx, nokey, (const unsigned char *)ctx->err, strlen(ctx->err));
        return CL16_OK;
    }
    if (s) return s;

    uint16_t a[PROBE_N], b[PROBE_N], c[PROBE_N], want[PROBE_N], got[PROBE_N];
    probe_data(a, b, c, want);
    memset(got, 0, sizeof got);
    cl_mem m[4] = {0};
    cl_kernel k = NULL;
    cl_int err = CL_SUCCESS;
    const uint16_t *in[3] = {a, b, c};
    for (int i = 0; i < 4 && !s; i++)
        s = cl16__dev_alloc(ctx, sizeof a, "the half-path probe", &m[i]);
    for (int i = 0; i < 3 && !s && !err; i++)
        err = clEnqueueWriteBuffer(ctx->queue, m[i], CL_TRUE, 0, sizeof a, in[i], 0, NULL, NULL);
    if (!s && !err) k = clCreateKernel(prog, "cl16_probe", &err);
    for (cl_uint i = 0; i < 4 && !s && !err; i++) err = clSetKernelArg(k, i, sizeof(cl_mem), &m[i]);
    size_t global = PROBE_N;
    if (!s && !err) err = cl16__enqueue(ctx, k, 1, &global, NULL);
    if (!s && !err) err = clEnqueueReadBuffer(ctx->queue, m[3], CL_TRUE, 0, sizeof got, got, 0, NULL, NULL);
    if (!s && err) s = cl16__cl_fail(ctx, err, "running the %s half probe", native ? "native" : "storage");
    if (!s) {
        int bad = -1;
        for (int i = 0; i < PROBE_N && bad < 0; i++)
            if (got[i] != want[i]) bad = i;
        if (bad >= 0)
            cl16__fail(ctx, CL16_ERR_UNSUPPORTED,
                       "the %s half probe computed a wrong result on device '%s': element %d is "
                       "0x%04x, expected 0x%04x",
                       native ? "native" : "storage", ctx->dev.name, bad, got[bad], want[bad]);
        else
            *works = 1;
    }
    if (k) clReleaseKernel(k);
    for (int i = 0; i < 4; i++)
        if (m[i]) cl16__dev_free(ctx, m[i], sizeof a);
    clReleaseProgram(prog);
    return s;
}

static cl16_status decide_half_path(cl16_ctx *ctx, cl16_half_path wanted) {
    double t0 = cl16__now();
    int works = 0;
    cl16_status s = CL16_OK;
    if (wanted != CL16_HALF_STORAGE) {
        s = run_probe(ctx, 1, &works);
        if (s) return s;
        if (works) ctx->half = CL16_HALF_NATIVE;
        else if (wanted == CL16_HALF_NATIVE) {
            /* Keep the probe's reason (build log or wrong element) in the detail. */
            char *why = ctx->err ? strdup(ctx->err) : NULL;
            cl16__fail(ctx, CL16_ERR_UNSUPPORTED,
                       "native half was requested (CL16_HALF=native) but device '%s' cannot "
                       "compute in half (cl_khr_fp16 %s); use CL16_HALF=storage or auto. "
                       "Probe result: ",
                       ctx->dev.name, ctx->dev.has_fp16_ext ? "advertised" : "not advertised");
            cl16__append_error(ctx, why ? why : "(no detail)");
            free(why);
            return CL16_ERR_UNSUPPORTED;
        }
    }
    if (ctx->half != CL16_HALF_NATIVE) {
        s = run_probe(ctx, 0, &works);
        if (s) return s;
        if (!works) {
            char *why = ctx->err ? strdup(ctx->err) : NULL;
            cl16__fail(ctx, CL16_ERR_UNSUPPORTED,
                       "device '%s' failed the fp16 storage probe (vload_half/vstore_half_rte), "
                       "so cl16 cannot run on it: ",
                       ctx->dev.name);
            cl16__append_error(ctx, why ? why : "(no detail)");
            free(why);
            return CL16_ERR_UNSUPPORTED;
        }
        ctx->half = CL16_HALF_STORAGE;
    }
    /* The probe's failed native build is expected on storage devices, not an error. */
    if (ctx->err) ctx->err[0] = '\0';
    ctx->stats.probe_seconds = cl16__now() - t0;
    /* The probe's scratch buffers are freed; they are not part of the user's peak. */
    ctx->mem_peak = ctx->mem_cur;
    return CL16_OK;
}

cl16_status cl16_ctx_create(cl16_ctx **out, const cl16_ctx_opts *opts) {
    if (!out) return CL16_ERR_INVALID_ARG;
    cl16_ctx *ctx = calloc(1, sizeof *ctx);
    *out = ctx;
    if (!ctx) return CL16_ERR_OUT_OF_MEMORY;
    ctx->init_status = CL16_ERR_INTERNAL;
    if (opts) ctx->log = opts->log, ctx->log_user = opts->log_user;

    char err[4096] = "";
    cl16_config cfg;
    cl16_status s = cl16__config_resolve(opts, &cfg, err, sizeof err);
    if (s) return ctx->init_status = cl16__fail(ctx, s, "%s", err);
    s = cl16__device_select(cfg.device, &ctx->dev, &ctx->dev_extensions, &ctx->platform,
                            &ctx->device, err, sizeof err);
    if (s) return ctx->init_status = cl16__fail(ctx, s, "%s", err);

    int cmaj = 1, cmin = 0;
    if (sscanf(ctx->dev.c_version, "OpenCL C %d.%d", &cmaj, &cmin) == 2 &&
        (cmaj < 1 || (cmaj == 1 && cmin < 2)))
        return ctx->init_status =
                   cl16__fail(ctx, CL16_ERR_UNSUPPORTED,
                              "device '%s' supports only %s; cl16 needs OpenCL C 1.2 or newer",
                              ctx->dev.name, ctx->dev.c_version);

    cl_int cerr;
    cl_context_properties props[] = {CL_CONTEXT_PLATFORM, (cl_context_properties)ctx->platform, 0};
    ctx->cl = clCreateContext(props, 1, &ctx->device, NULL, NULL, &cerr);
    if (cerr != CL_SUCCESS) return ctx->init_status = cl16__cl_fail(ctx, cerr, "clCreateContext");
    ctx->profiling = opts && opts->profiling;
    ctx->queue = clCreateCommandQueue(ctx->cl, ctx->device,
                                      ctx->profiling ? CL_QUEUE_PROFILING_ENABLE : 0, &cerr);
    if (cerr != CL_SUCCESS) return ctx->init_status = cl16__cl_fail(ctx, cerr, "clCreateCommandQueue");

    ctx->cache_on = cfg.cache;
    memcpy(ctx->cache_dir, cfg.cache_dir, sizeof ctx->cache_dir);
    memcpy(ctx->kernel_dir, cfg.kernel_dir, sizeof ctx->kernel_dir);

    ctx->gemm_force = cfg.gemm;
    ctx->gemm_panel = -1;
    ctx->conv_algo = cfg.conv_algo;
    const char *poison = getenv("CL16_DEBUG_POISON");
    ctx->poison = poison && !strcmp(poison, "1");

    s = decide_half_path(ctx, cfg.half);
    if (s) return ctx->init_status = s;
    cl16__gemm_tune_path_init(ctx);
    ctx->init_status = CL16_OK;
    if (opts && opts->prebuild) {
        s = cl16_ctx_prebuild(ctx);
        if (s) return ctx->init_status = s;
    }
    return CL16_OK;
}

void cl16_ctx_free(cl16_ctx *ctx) {
    if (!ctx) return;
    if (ctx->queue) clFinish(ctx->queue);
    cl16__prof_release(ctx);
    cl16__programs_release(ctx);
    cl16__clblast_release(ctx);
    cl16__conv_release(ctx);
    if (ctx->ws) cl16__dev_free(ctx, ctx->ws, ctx->ws_bytes);
    if (ctx->queue) clReleaseCommandQueue(ctx->queue);
    if (ctx->cl) clReleaseContext(ctx->cl);
    free(ctx->dev_extensions);
    free(ctx->err);
    free(ctx);
}

const cl16_device_info *cl16_ctx_device(const cl16_ctx *ctx) { return ctx ? &ctx->dev : NULL; }
cl16_half_path cl16_ctx_half_path(const cl16_ctx *ctx) { return ctx ? ctx->half : CL16_HALF_AUTO; }
cl16_status cl16_ctx_opencl(const cl16_ctx *ctx, void **cl_context, void **cl_queue,
                            void **cl_device) {
    if (!ctx) return CL16_ERR_INVALID_ARG;
    if (cl_context) *cl_context = (void *)ctx->cl;
    if (cl_queue) *cl_queue = (void *)ctx->queue;
    if (cl_device) *cl_device = (void *)ctx->device;
    return CL16_OK;
}

const char *cl16_ctx_cache_dir(const cl16_ctx *ctx) {
    return ctx && ctx->cache_on ? ctx->cache_dir : NULL;
}

void cl16_ctx_memory(const cl16_ctx *ctx, uint64_t *current, uint64_t *peak) {
    if (current) *current = ctx ? ctx->mem_cur : 0;
    if (peak) *peak = ctx ? ctx->mem_peak : 0;
}

void cl16_ctx_stats_get(const cl16_ctx *ctx, cl16_ctx_stats *out) {
    if (!out) return;
    if (ctx) *out = ctx->stats;
    else memset(out, 0, sizeof *out);
}

cl16_status cl16_ctx_finish(cl16_ctx *ctx) {
    if (!ctx) return CL16_ERR_INVALID_ARG;
    if (ctx->init_status) return ctx->init_status;
    cl_int err = clFinish(ctx->queue);
    if (err) return cl16__cl_fail(ctx, err, "clFinish");
    cl16__prof_collect(ctx); /* every command is done: frees their events now */
    return CL16_OK;
}
