/* program.c - the in-memory program cache: kernel sources (embedded, or from a
 * directory during development), building from source or a cached binary, and
 * kernel objects keyed by (file, build options). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/internal.h"
#include "runtime/kernels_registry.h"

static char *read_text(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = NULL;
    size_t cap = 0, n = 0;
    for (;;) {
        if (n + 4096 + 1 > cap) {
            size_t nc = cap ? cap * 2 : 16384;
            char *nb = realloc(buf, nc);
            if (!nb) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = nb, cap = nc;
        }
        size_t r = fread(buf + n, 1, 4096, f);
        n += r;
        if (r < 4096) break;
    }
    fclose(f);
    buf[n] = '\0';
    *len = n;
    return buf;
}

cl16_status cl16__kernel_source(cl16_ctx *ctx, const char *file, const char **text, size_t *length,
                                char **owned) {
    *owned = NULL;
    if (!ctx->kernel_dir[0]) {
        for (size_t i = 0; i < cl16_kernel_source_count; i++)
            if (!strcmp(cl16_kernel_sources[i].file, file)) {
                *text = cl16_kernel_sources[i].source;
                *length = cl16_kernel_sources[i].length;
                return CL16_OK;
            }
        return cl16__fail(ctx, CL16_ERR_INTERNAL, "no embedded kernel file '%s'", file);
    }
    /* Development switch: read the file and inline common.cl like the build does. */
    char path[CL16_PATH_MAX + 64];
    size_t n, cn = 0;
    snprintf(path, sizeof path, "%s/%s", ctx->kernel_dir, file);
    char *src = read_text(path, &n);
    if (!src) return cl16__fail(ctx, CL16_ERR_IO, "cannot read kernel file %s", path);
    const char *inc = "#include \"common.cl\"";
    char *at = strstr(src, inc);
    if (at) {
        snprintf(path, sizeof path, "%s/common.cl", ctx->kernel_dir);
        char *common = read_text(path, &cn);
        if (!common) {
            free(src);
            return cl16__fail(ctx, CL16_ERR_IO, "cannot read kernel file %s", path);
        }
        size_t il = strlen(inc), pre = (size_t)(at - src);
        char *all = malloc(n - il + cn + 1);
        if (!all) {
            free(src), free(common);
            return cl16__fail(ctx, CL16_ERR_OUT_OF_MEMORY, "out of host memory");
        }
        memcpy(all, src, pre);
        memcpy(all + pre, common, cn);
        memcpy(all + pre + cn, at + il, n - pre - il + 1);
        free(src), free(common);
        src = all;
        n = n - il + cn;
    }
    *text = src;
    *length = n;
    *owned = src;
    return CL16_OK;
}

static cl16_status build_log_fail(cl16_ctx *ctx, cl_program prog, cl_int rc, const char *file,
                                  const char *options) {
    size_t n = 0;
    char *log = NULL;
    if (clGetProgramBuildInfo(prog, ctx->device, CL_PROGRAM_BUILD_LOG, 0, NULL, &n) == CL_SUCCESS &&
        n > 0 && (log = malloc(n + 1))) {
        if (clGetProgramBuildInfo(prog, ctx->device, CL_PROGRAM_BUILD_LOG, n, log, NULL))
            log[0] = '\0';
        log[n] = '\0';
    }
    cl16__fail(ctx, rc == CL_BUILD_PROGRAM_FAILURE ? CL16_ERR_BUILD : cl16__status_of_cl(rc),
               "kernel file %s failed to build on device '%s' (%s) with options '%s'; build log:\n",
               file, ctx->dev.name, cl16__cl_error_name(rc), options);
    cl16__append_error(ctx, log && log[0] ? log : "(the driver gave no build log)");
    free(log);
    return rc == CL_BUILD_PROGRAM_FAILURE ? CL16_ERR_BUILD : cl16__status_of_cl(rc);
}

/* Tries the disk cache; returns a built program or NULL. */
static cl_program load_cached(cl16_ctx *ctx, const uint8_t key[32], const char *options) {
    unsigned char *bin;
    size_t len;
    int rc = cl16__cache_load(ctx, key, &bin, &len);
    if (rc) {
        ctx->stats.cache_misses++;
        if (rc == -2) ctx->stats.cache_rejected++;
        return NULL;
    }
    cl_int err, bstat = CL_SUCCESS;
    const unsigned char *bins[1] = {bin};
    cl_program prog = clCreateProgramWithBinary(ctx->cl, 1, &ctx->device, &len, bins, &bstat, &err);
    free(bin);
    if (err == CL_SUCCESS && bstat == CL_SUCCESS &&
        clBuildProgram(prog, 1, &ctx->device, options, NULL, NULL) == CL_SUCCESS) {
        ctx->stats.cache_hits++;
        return prog;
    }
    if (prog) clReleaseProgram(prog);
    ctx->stats.cache_misses++;
    ctx->stats.cache_rejected++; /* the driver refused it (stale or foreign binary) */
    return NULL;
}

cl16_status cl16__program_build(cl16_ctx *ctx, const char *file, const char *source, size_t length,
                                const char *options, cl_program *out) {
    double t0 = cl16__now();
    uint8_t key[32];
    *out = NULL;
    if (ctx->cache_on) {
        cl16__cache_key(ctx, source, length, options, key);
        cl_program p = load_cached(ctx, key, options);
        if (p) {
            *out = p;
            ctx->stats.build_seconds += cl16__now() - t0;
            return CL16_OK;
        }
    }
    cl_int err;
    cl_program prog = clCreateProgramWithSource(ctx->cl, 1, &source, &length, &err);
    if (err != CL_SUCCESS) return cl16__cl_fail(ctx, err, "clCreateProgramWithSource(%s)", file);
    err = clBuildProgram(prog, 1, &ctx->device, options, NULL, NULL);
    if (err != CL_SUCCESS) {
        cl16_status s = build_log_fail(ctx, prog, err, file, options);
        clReleaseProgram(prog);
        ctx->stats.build_seconds += cl16__now() - t0;
        return s;
    }
    ctx->stats.programs_built++;
    if (ctx->cache_on) {
        size_t bsize = 0;
        if (clGetProgramInfo(prog, CL_PROGRAM_BINARY_SIZES, sizeof bsize, &bsize, NULL) ==
                CL_SUCCESS &&
            bsize > 0) {
            unsigned char *bin = malloc(bsize);
            unsigned char *bins[1] = {bin};
            if (bin && clGetProgramInfo(prog, CL_PROGRAM_BINARIES, sizeof bins, bins, NULL) ==
                           CL_SUCCESS)
                cl16__cache_store(ctx, key, bin, bsize);
            free(bin);
        }
    }
    *out = prog;
    ctx->stats.build_seconds += cl16__now() - t0;
    return CL16_OK;
}

static cl16_program *find_program(cl16_ctx *ctx, const char *file, const char *options) {
    for (size_t i = 0; i < ctx->nprogs; i++)
        if (!strcmp(ctx->progs[i].file, file) && !strcmp(ctx->progs[i].options, options))
            return &ctx->progs[i];
    return NULL;
}

static cl16_status get_program(cl16_ctx *ctx, const char *file, const cl16_variant *v,
                               cl16_program **out) {
    char options[2048];
    size_t ol = cl16__build_options(ctx, v, options, sizeof options);
    if (ol == 0 || ol >= sizeof options)
        return cl16__fail(ctx, CL16_ERR_INTERNAL, "build options for %s are too long", file);
    cl16_program *p = find_program(ctx, file, options);
    if (p) {
        *out = p;
        return CL16_OK;
    }
    if (ctx->nprogs == ctx->progs_cap) {
        size_t nc = ctx->progs_cap ? ctx->progs_cap * 2 : 8;
        cl16_program *np = realloc(ctx->progs, nc * sizeof *np);
        if (!np) return cl16__fail(ctx, CL16_ERR_OUT_OF_MEMORY, "out of host memory");
        ctx->progs = np, ctx->progs_cap = nc;
    }
    const char *text;
    size_t len;
    char *owned;
    cl16_status s = cl16__kernel_source(ctx, file, &text, &len, &owned);
    if (s) return s;
    cl_program prog;
    s = cl16__program_build(ctx, file, text, len, options, &prog);
    free(owned);
    if (s) return s;
    p = &ctx->progs[ctx->nprogs];
    memset(p, 0, sizeof *p);
    p->file = strdup(file);
    p->options = strdup(options);
    if (!p->file || !p->options) {
        free(p->file), free(p->options);
        clReleaseProgram(prog);
        return cl16__fail(ctx, CL16_ERR_OUT_OF_MEMORY, "out of host memory");
    }
    p->prog = prog;
    ctx->nprogs++;
    *out = p;
    return CL16_OK;
}

cl16_status cl16__kernel(cl16_ctx *ctx, const char *file, const cl16_variant *v, const char *name,
                         cl_kernel *out) {
    cl16_program *p;
    cl16_status s = get_program(ctx, file, v, &p);
    if (s) return s;
    for (int i = 0; i < p->nkernels; i++)
        if (!strcmp(p->kernel_names[i], name)) {
            *out = p->kernels[i];
            return CL16_OK;
        }
    if (p->nkernels == CL16_MAX_KERNELS_PER_PROGRAM || strlen(name) >= 64)
        return cl16__fail(ctx, CL16_ERR_INTERNAL, "too many kernels in %s", file);
    cl_int err;
    cl_kernel k = clCreateKernel(p->prog, name, &err);
    if (err != CL_SUCCESS) return cl16__cl_fail(ctx, err, "clCreateKernel(%s in %s)", name, file);
    snprintf(p->kernel_names[p->nkernels], 64, "%s", name);
    p->kernels[p->nkernels++] = k;
    *out = k;
    return CL16_OK;
}

void cl16__programs_release(cl16_ctx *ctx) {
    for (size_t i = 0; i < ctx->nprogs; i++) {
        cl16_program *p = &ctx->progs[i];
        for (int k = 0; k < p->nkernels; k++) clReleaseKernel(p->kernels[k]);
        if (p->prog) clReleaseProgram(p->prog);
        free(p->file);
        free(p->options);
    }
    free(ctx->progs);
    ctx->progs = NULL;
    ctx->nprogs = ctx->progs_cap = 0;
}

cl16_status cl16_ctx_prebuild(cl16_ctx *ctx) {
    if (!ctx) return CL16_ERR_INVALID_ARG;
    if (ctx->init_status) return ctx->init_status;
    /* Every kernel file of the registry in both dtypes, in the variant the ops
     * use by default (cl16__default_variant; a variant shared by both dtypes is
     * built once). common.cl defines no kernels; the probe has options of its own. */
    for (size_t f = 0; f < cl16_kernel_source_count; f++) {
        const cl16_kernel_source *ks = &cl16_kernel_sources[f];
        if (!ks->kernels[0] || !strcmp(ks->file, "probe.cl")) continue;
        for (int d = 0; d < 2; d++) {
            cl16_variant v;
            char defines[256];
            cl16__default_variant(ctx, ks->file, d ? CL16_F16 : CL16_F32, &v, defines, sizeof defines);
            cl16_program *p;
            cl16_status s = get_program(ctx, ks->file, &v, &p);
            if (s) return s;
        }
    }
    return CL16_OK;
}
