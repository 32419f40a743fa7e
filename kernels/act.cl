/* act.cl - element-wise layer kernels (ReLU forward and backward, a*x + b*z
 * with optional ReLU) and the column sums of a matrix (a Linear bias gradient).
 *
 * Build parameters: those of common.cl (CL16_DTYPE, CL16_HALF_NATIVE,
 * CL16_HALF_ARITH, CL16_HALF_ACC); no others. Every kernel loads elements as
 * float (explicit conversion, also when real_t is half), computes in float
 * and rounds once on store. The element-wise kernels give each work-item 16
 * consecutive elements (vload16 / vload_half16: on PoCL's CPU storage path the
 * narrower half vectors stay scalar conversions, 4-8x slower), and the last
 * work-item also handles the n % 16 elements of the tail one by one.
 */
#include "common.cl"

#define LDFV(p, i) convert_float16(LD16(p, i))
#define VN 16
#define LDF(p, i) ((float)LD(p, i))

/* y = relu(x) over n elements. */
__kernel void cl16_act_relu_fwd(__global const store_t *x, __global store_t *y, const ulong n) {
    const ulong q = get_global_id(0);
    const ulong nv = n / VN;
    if (q < nv) ST16(reluv(LDFV(x, q)), y, q);
    if (q == (nv ? nv - 1 : 0))
        for (ulong i = nv * VN; i < n; i++) ST(relu1(LDF(x, i)), y, i);
}

/* dx = beta * dx + (y <= 0 ? 0 : dy); dx is not read when beta == 0 (it may
 * hold anything, NaN included). */
__kernel void cl16_act_relu_bwd(__global const store_t *y, __global const store_t *dy,
                                __global store_t *dx, const float beta, const ulong n) {
    const ulong q = get_global_id(0);
    const ulong nv = n / VN;
    if (q < nv) {
        float16 g = dreluv(LDFV(y, q), LDFV(dy, q));
        if (beta != 0.0f) g = (float16)(beta) * LDFV(dx, q) + g;
        ST16(g, dx, q);
    }
    if (q == (nv ? nv - 1 : 0))
        for (ulong i = nv * VN; i < n; i++) {
            float g = drelu1(LDF(y, i), LDF(dy, i));
            if (beta != 0.0f) g = beta * LDF(dx, i) + g;
            ST(g, dx, i);
        }
}

/* y = a*x + b*z (has_z = 0: y = a*x, z unread), then ReLU when relu != 0.
 * y may be the same buffer as x or z: each element is read before it is
 * written, by the same work-item. */
__kernel void cl16_act_axpby(const float a, __global const store_t *x, const float b,
                             __global const store_t *z, const int has_z, const int relu,
                             __global store_t *y, const ulong n) {
    const ulong q = get_global_id(0);
    const ulong nv = n / VN;
    if (q < nv) {
        float16 v = (float16)(a) * LDFV(x, q);
        if (has_z) v = (float16)(b) * LDFV(z, q) + v;
        if (relu) v = reluv(v);
        ST16(v, y, q);
    }
    if (q == (nv ? nv - 1 : 0))
        for (ulong i = nv * VN; i < n; i++) {
            float v = a * LDF(x, i);
            if (has_z) v = b * LDF(z, i) + v;
            if (relu) v = relu1(v);
            ST(v, y, i);
        }
}

/* out[j] = beta * out[j] + sum_{r < rows} m[r * cols + j] for j < cols: one
 * work-item per column, rows summed in order in float (deterministic, no
 * atomics); out is not read when beta == 0. */
__kernel void cl16_act_colsum(__global const store_t *m, const int rows, const int cols,
                              const float beta, __global store_t *out) {
    const int j = (int)get_global_id(0);
    if (j >= cols) return;
    float s = 0.0f;
    for (int r = 0; r < rows; r++) s += LDF(m, (size_t)r * (size_t)cols + (size_t)j);
    if (beta != 0.0f) s = beta * LDF(out, j) + s;
    ST(s, out, j);
}
