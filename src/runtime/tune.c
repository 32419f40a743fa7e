/* tune.c - default kernel parameters per device class, used until a tuner has
 * measured better ones for the device. Each entry says which devices it is for. */
#include <stdio.h>

#include "runtime/internal.h"

void cl16__gemm_defaults(const cl16_ctx *ctx, cl16_gemm_params *p) {
    if (ctx->dev.type == CL16_DEVICE_CPU) {
        /* CPUs (PoCL, other CPU runtimes): a large register tile per work-item
         * and 16-wide vector loads; PoCL turns a work-group into loops, so the
         * tile is what gets vectorised. Measured on PoCL 3.1 (AVX-512, 2 cores)
         * at 1024^3 f16: 4x64 ~43-46 GFLOP/s, 8x32 ~39-42, 8x16 ~27, 16x16 ~30. */
        p->tm = 4, p->tn = 64, p->vw = 16;
    } else {
        /* GPUs: small tiles, many work-items to hide memory latency. */
        p->tm = 4, p->tn = 8, p->vw = 8;
    }
}

size_t cl16__gemm_defines(const cl16_gemm_params *p, int trans_a, int trans_b, char *buf, size_t n) {
    int w = snprintf(buf, n, "-DTM=%d -DTN=%d -DVW=%d -DTRANS_A=%d -DTRANS_B=%d", p->tm, p->tn, p->vw,
                     trans_a ? 1 : 0, trans_b ? 1 : 0);
    return w < 0 ? 0 : (size_t)w;
}
