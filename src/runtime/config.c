/* config.c - resolves context options against the environment. Every
 * environment variable cl16 reads is read here (listed in README.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "runtime/internal.h"

static int copy_str(char *dst, size_t n, const char *src) {
    size_t l = strlen(src);
    if (l >= n) return -1;
    memcpy(dst, src, l + 1);
    return 0;
}

void cl16_ctx_opts_init(cl16_ctx_opts *o) {
    memset(o, 0, sizeof *o);
    o->cache = -1;
}

cl16_status cl16__config_resolve(const cl16_ctx_opts *opts, cl16_config *cfg, char *err,
                                 size_t err_len) {
    cl16_ctx_opts defaults;
    if (!opts) {
        cl16_ctx_opts_init(&defaults);
        opts = &defaults;
    }
    memset(cfg, 0, sizeof *cfg);

    /* Device: option, else CL16_DEVICE, else the first device. */
    const char *dev = opts->device;
    if (!dev || !*dev) dev = getenv("CL16_DEVICE");
    if (dev && copy_str(cfg->device, sizeof cfg->device, dev)) {
        snprintf(err, err_len, "device name '%.40s...' is too long", dev);
        return CL16_ERR_INVALID_ARG;
    }

    /* Half path: option, else CL16_HALF, else the probe decides. */
    cfg->half = opts->half;
    if (cfg->half == CL16_HALF_AUTO) {
        const char *h = getenv("CL16_HALF");
        if (h && *h) {
            if (!strcasecmp(h, "native"))
                cfg->half = CL16_HALF_NATIVE;
            else if (!strcasecmp(h, "storage"))
                cfg->half = CL16_HALF_STORAGE;
            else if (strcasecmp(h, "auto")) {
                snprintf(err, err_len, "CL16_HALF='%s' is not one of native, storage, auto", h);
                return CL16_ERR_INVALID_ARG;
            }
        }
    } else if (cfg->half != CL16_HALF_NATIVE && cfg->half != CL16_HALF_STORAGE) {
        snprintf(err, err_len, "opts.half=%d is not a cl16_half_path", (int)cfg->half);
        return CL16_ERR_INVALID_ARG;
    }

    /* GEMM backend: option, else CL16_GEMM (cl16 | clblast | auto). */
    cfg->gemm = opts->gemm;
    if (cfg->gemm == CL16_GEMM_AUTO) {
        const char *g = getenv("CL16_GEMM");
        if (g && *g) {
            if (!strcasecmp(g, "cl16") || !strcasecmp(g, "own"))
                cfg->gemm = CL16_GEMM_OWN;
            else if (!strcasecmp(g, "clblast"))
                cfg->gemm = CL16_GEMM_CLBLAST;
            else if (strcasecmp(g, "auto")) {
                snprintf(err, err_len, "CL16_GEMM='%s' is not one of cl16, clblast, auto", g);
                return CL16_ERR_INVALID_ARG;
            }
        }
    } else if (cfg->gemm != CL16_GEMM_OWN && cfg->gemm != CL16_GEMM_CLBLAST) {
        snprintf(err, err_len, "opts.gemm=%d is not a cl16_gemm_backend", (int)cfg->gemm);
        return CL16_ERR_INVALID_ARG;
    }

    /* Convolution algorithm: CL16_CONV_ALGO (im2col | im2col-float | direct | implicit |
     * implicit-dot | auto). */
    cfg->conv_algo = 0;
    const char *ca = getenv("CL16_CONV_ALGO");
    if (ca && *ca) {
        if (!strcasecmp(ca, "im2col"))
            cfg->conv_algo = 1;
        else if (!strcasecmp(ca, "direct"))
            cfg->conv_algo = 2;
        else if (!strcasecmp(ca, "im2col-float"))
            cfg->conv_algo = 3;
        else if (!strcasecmp(ca, "implicit"))
            cfg->conv_algo = 4;
        else if (!strcasecmp(ca, "implicit-dot"))
            cfg->conv_algo = 5;
        else if (strcasecmp(ca, "auto")) {
            snprintf(err, err_len,
                     "CL16_CONV_ALGO='%s' is not one of im2col, im2col-float, direct, implicit, "
                     "implicit-dot, auto",
                     ca);
            return CL16_ERR_INVALID_ARG;
        }
    }

    /* Disk cache on/off: option, else CL16_CACHE (0/off/no/false disables). */
    cfg->cache = 1;
    if (opts->cache == 0) cfg->cache = 0;
    else if (opts->cache < 0) {
        const char *c = getenv("CL16_CACHE");
        if (c && (!strcmp(c, "0") || !strcasecmp(c, "off") || !strcasecmp(c, "no") ||
                  !strcasecmp(c, "false")))
            cfg->cache = 0;
    }

    /* Cache directory: option, CL16_CACHE_DIR, $XDG_CACHE_HOME/cl16, ~/.cache/cl16. */
    const char *cd = opts->cache_dir;
    int n = 0;
    if (cd && *cd) n = snprintf(cfg->cache_dir, sizeof cfg->cache_dir, "%s", cd);
    else if ((cd = getenv("CL16_CACHE_DIR")) && *cd)
        n = snprintf(cfg->cache_dir, sizeof cfg->cache_dir, "%s", cd);
    else if ((cd = getenv("XDG_CACHE_HOME")) && *cd)
        n = snprintf(cfg->cache_dir, sizeof cfg->cache_dir, "%s/cl16", cd);
    else if ((cd = getenv("HOME")) && *cd)
        n = snprintf(cfg->cache_dir, sizeof cfg->cache_dir, "%s/.cache/cl16", cd);
    else
        cfg->cache = 0; /* nowhere to put it */
    if (n < 0 || (size_t)n >= sizeof cfg->cache_dir) {
        snprintf(err, err_len, "cache directory path is too long");
        return CL16_ERR_INVALID_ARG;
    }

    /* Development switch: load kernels from a directory instead of the embedded copies. */
    const char *kd = opts->kernel_dir;
    if (!kd || !*kd) kd = getenv("CL16_KERNEL_DIR");
    if (kd && *kd && copy_str(cfg->kernel_dir, sizeof cfg->kernel_dir, kd)) {
        snprintf(err, err_len, "kernel directory path is too long");
        return CL16_ERR_INVALID_ARG;
    }
    return CL16_OK;
}
