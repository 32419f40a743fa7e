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

/* float8 chains: 8 x 8 lanes x 2 flops per iteration (CPUs vectorise them
 * whatever the work-group shape; GPUs run the lanes as instructions in flight). */
__kernel void cl16_peak_fma_f32(__global float *out, const int iters, const float as) {
    const size_t id = get_global_id(0);
    const float8 a = (float8)(as), b = (float8)(0.5f);
    float8 x0 = (float8)((float)(id & 7) * 0.01f) + (float8)(0, 1, 2, 3, 4, 5, 6, 7) * 0.001f;
    float8 x1 = x0 + 0.1f, x2 = x0 + 0.2f, x3 = x0 + 0.3f, x4 = x0 + 0.4f, x5 = x0 + 0.5f;
    float8 x6 = x0 + 0.6f, x7 = x0 + 0.7f;
    CHAINS(float8, a, b)
    const float8 t = x0 + x1 + x2 + x3 + x4 + x5 + x6 + x7;
    out[id] = t.s0 + t.s1 + t.s2 + t.s3 + t.s4 + t.s5 + t.s6 + t.s7;
}

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
