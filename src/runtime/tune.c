/* tune.c - default kernel parameters per device class, used until a tuner has
 * measured better ones for the device. Each entry says which devices it is for. */
#include <stdio.h>
#include <string.h>

#include "runtime/internal.h"

void cl16__gemm_defaults(const cl16_ctx *ctx, cl16_gemm_params *p) {
    if (ctx->dev.type == CL16_DEVICE_CPU) {
        /* CPUs (PoCL, other CPU runtimes): a large register tile per work-item
         * and 16-wide vector loads; PoCL turns a work-group into loops, so the
         * tile is what gets vectorised. Measured on PoCL 3.1 (AVX-512, 2 cores)
         * at 1024^3 f16: 4x64 ~43-46 GFLOP/s, 8x32 ~39-42, 8x16 ~27, 16x16 ~30. */
        p->tm = 4, p->tn = 64, p->vw = 16, p->ku = 1;
        /* PoCL: unrolling k by 4 with 4-wide A loads took f16 at 1024^3 from
         * 40-46 to 48-61 GFLOP/s; Intel's CPU runtime went from 96 to 25 with
         * it, so only PoCL gets it. */
        if (strstr(ctx->dev.platform, "Portable Computing Language")) p->ku = 4;
    } else {
        /* GPUs: small tiles, many work-items to hide memory latency. */
        p->tm = 4, p->tn = 8, p->vw = 8, p->ku = 1;
    }
}

void cl16__default_variant(const cl16_ctx *ctx, const char *file, cl16_dtype dtype,
                           cl16_variant *v, char *defines, size_t n) {
    v->dtype = dtype;
    v->half_arith = 0;
    v->defines = NULL;
    if (!strcmp(file, "gemm.cl")) {
        cl16_gemm_params gp;
        cl16__gemm_defaults(ctx, &gp);
        cl16__gemm_defines(&gp, 0, 0, defines, n);
        v->defines = defines;
    } else if (!strcmp(file, "eltwise.cl")) {
        /* The casts do not depend on the tensors' dtype: one program serves both. */
        v->dtype = CL16_F16;
    }
}

size_t cl16__gemm_defines(const cl16_gemm_params *p, int trans_a, int trans_b, char *buf, size_t n) {
    int w = snprintf(buf, n, "-DTM=%d -DTN=%d -DVW=%d -DKU=%d -DTRANS_A=%d -DTRANS_B=%d", p->tm, p->tn,
                     p->vw, p->ku, trans_a ? 1 : 0, trans_b ? 1 : 0);
    return w < 0 ? 0 : (size_t)w;
}
