/* peak.cl - the device's arithmetic peak, for reporting every benchmark
 * figure also as a share of it: eight independent multiply-add chains per
 * work-item, of float8 vectors in float (128 flops per iteration) and of
 * scalars in half on the native-half path (16 flops per iteration; NVIDIA's
 * compiler lacks half-vector built-ins). The values stay bounded (x = a*x + 0.5 with a < 1) and are
 * summed into out so that nothing is optimised away.
 *
 * Build parameters: those of common.cl. */
#include "common.cl"

/* x * a + b written as arithmetic, not mad(): NVIDIA's compiler has no
 * mad() for half ("call to 'mad' is ambiguous", seen on an H200), while
 * scalar half arithmetic works there (the probe runs it); compilers contract
 * it into one multiply-add either way. */
#define CHAINS(T, a, b)                                                                            \
    for (int i = 0; i < iters; i++) {                                                              \
        x0 = x0 * a + b, x1 = x1 * a + b, x2 = x2 * a + b, x3 = x3 * a + b;                        \
        x4 = x4 * a + b, x5 = x5 * a + b, x6 = x6 * a + b, x7 = x7 * a + b;                        \
    }

/* float8 and float16 chains: 8 x W lanes x 2 flops per iteration (CPUs
 * vectorise them whatever the work-group shape; GPUs run the lanes as
 * instructions in flight). The reported peak is the faster of the two: an
 * AVX-512 CPU reaches its 512-bit rate only with float16 (PoCL 3.1 on this
 * project's test machine: 129-157 GFLOP/s float8, 385 float16). */
#define PEAK_F32(NAME, W)                                                                          \
    __kernel void NAME(__global float *out, const int iters, const float as) {                     \
        const size_t id = get_global_id(0);                                                        \
        const float##W a = (float##W)(as), b = (float##W)(0.5f);                                   \
        float##W x0 = (float##W)((float)(id & 7) * 0.01f);                                         \
        float##W x1 = x0 + 0.1f, x2 = x0 + 0.2f, x3 = x0 + 0.3f, x4 = x0 + 0.4f, x5 = x0 + 0.5f;   \
        float##W x6 = x0 + 0.6f, x7 = x0 + 0.7f;                                                   \
        CHAINS(float##W, a, b)                                                                     \
        const float##W t = x0 + x1 + x2 + x3 + x4 + x5 + x6 + x7;                                  \
        float s = 0.0f;                                                                            \
        for (int l = 0; l < W; l++) s += ((const float *)&t)[l];                                   \
        out[id] = s;                                                                               \
    }
PEAK_F32(cl16_peak_fma_f32, 8)
PEAK_F32(cl16_peak_fma_f32x16, 16)

#if CL16_HALF_NATIVE
__kernel void cl16_peak_fma_f16(__global float *out, const int iters, const float af) {
    const size_t id = get_global_id(0);
    const half a = (half)af, b = (half)0.5f;
    half x0 = (half)((float)(id & 7) * 0.01f), x1 = x0 + (half)0.1f, x2 = x0 + (half)0.2f;
    half x3 = x0 + (half)0.3f, x4 = x0 + (half)0.4f, x5 = x0 + (half)0.5f, x6 = x0 + (half)0.6f;
    half x7 = x0 + (half)0.7f;
    CHAINS(half, a, b)
    out[id] = (float)(x0 + x1 + x2 + x3 + x4 + x5 + x6 + x7);
}
#endif
