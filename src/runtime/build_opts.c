/* build_opts.c - the one function that composes OpenCL build options, from the
 * kernel variant, its tuning parameters and the device's capabilities. The
 * string it returns is also part of the program-cache key. Device quirks that
 * change how kernels are compiled belong here, each with the reason. */
#include <stdio.h>
#include <string.h>

#include "runtime/internal.h"

/* Quirk, NVIDIA's OpenCL (seen on an H200, driver 580): the probe proves that
 * half arithmetic runs, but cl_khr_fp16 is not advertised and the compiler
 * lacks the half-vector built-ins (vloadN on half pointers, as_halfN,
 * convert_floatN of half vectors: ambiguous or undeclared). Kernels that
 * compute on half vectors (half arithmetic, half accumulation) are therefore
 * offered only where the extension is advertised; half storage with float
 * arithmetic (vload_halfN) works everywhere. */
int cl16__half_vectors(const cl16_ctx *ctx) {
    return ctx->half == CL16_HALF_NATIVE && ctx->dev.has_fp16_ext;
}

size_t cl16__build_options(const cl16_ctx *ctx, const cl16_variant *v, char *buf, size_t n) {
    int native = ctx->half == CL16_HALF_NATIVE;
    /* -cl-std=CL1.2: every kernel is OpenCL C 1.2 so 1.2-only devices (many
     * mobile GPUs, NVIDIA before OpenCL 3) run the same sources; nothing from
     * OpenCL 2/3 may creep in unnoticed on a newer driver. */
    /* -w: the kernels are warning-free on the compilers they are developed
     * against, but a compiler may still warn about target details (PoCL on an
     * AVX2 CPU: float16 arguments "change the ABI" of helpers that are always
     * inlined anyway) and print "N warnings generated." on the user's
     * terminal. Errors still fail the build and reach the message through the
     * build log. */
    int w = snprintf(buf, n, CL16_BASE_BUILD_OPTIONS " -DCL16_DTYPE=%d -DCL16_HALF_NATIVE=%d",
                     v->dtype == CL16_F16 ? 1 : v->dtype == CL16_BF16 ? 2 : 0,
                     (native && v->dtype == CL16_F16) ? 1 : 0);
    /* bf16 (CL16_DTYPE=2) is float arithmetic on ushort storage on every
     * device: the half path (native or storage) does not apply to it. */
    /* Half arithmetic is only meaningful where the probe proved it works, and
     * its kernels use half vectors (see cl16__half_vectors). */
    if (native && v->dtype == CL16_F16 && v->half_arith && cl16__half_vectors(ctx) && w >= 0 &&
        (size_t)w < n)
        w += snprintf(buf + w, n - (size_t)w, " -DCL16_HALF_ARITH=1");
    /* Device class and limits kernels may size themselves by: CPUs (PoCL) want
     * register tiles and no barriers; small local memory (mobile GPUs) and
     * work-group limits below 256 must bound any local tiling. */
    if (w >= 0 && (size_t)w < n)
        w += snprintf(buf + w, n - (size_t)w, " -DCL16_DEVICE_CPU=%d -DCL16_MAX_WG=%zu -DCL16_LOCAL_MEM=%llu",
                      ctx->dev.type == CL16_DEVICE_CPU ? 1 : 0, ctx->dev.max_work_group,
                      (unsigned long long)ctx->dev.local_mem);
    if (v->defines && *v->defines && w >= 0 && (size_t)w < n)
        w += snprintf(buf + w, n - (size_t)w, " %s", v->defines);
    if (w < 0) {
        if (n) buf[0] = '\0';
        return 0;
    }
    return (size_t)w;
}
