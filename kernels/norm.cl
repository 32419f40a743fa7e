/* norm.cl - BatchNorm2d (NCHW): per-channel statistics and gradient sums with
 * one work-group per channel and a fixed-order reduction (deterministic, no
 * atomics), and the element-wise normalise / input-gradient passes.
 *
 * Build parameters: those of common.cl (CL16_DTYPE etc.), plus
 *   CL16_BN_WG_MAX  size of the local reduction arrays: the largest work-group
 *                   the host may launch the reduction kernels with (a power
 *                   of two; the host launches min(64, device limit), one
 *                   work-item on a CPU). Default 64.
 * Sums are float whatever the storage type; the variance is two-pass (mean
 * first, then squared deviations), so data with a large mean keeps it.
 */
#include "common.cl"

#ifndef CL16_BN_WG_MAX
#define CL16_BN_WG_MAX 64
#endif

/* Tree-sums v over the work-group (power-of-two size) in local memory; every
 * work-item gets the total. The pairing is fixed, so the result is too. */
static float group_sum(__local float *tmp, float v) {
    int lid = (int)get_local_id(0), n = (int)get_local_size(0);
    barrier(CLK_LOCAL_MEM_FENCE);
    tmp[lid] = v;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int s = n / 2; s > 0; s /= 2) {
        if (lid < s) tmp[lid] += tmp[lid + s];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    return tmp[0];
}

/* On a CPU a work-item sums 16 neighbouring elements at a time (one 16-wide
 * load: a vector conversion on the storage path, where scalar half loads made
 * the f16 reductions 1.6x slower than f32), then the plane's last hw % 16
 * elements one by one; the host launches one work-item per group there, so
 * each plane is read front to back. Elsewhere neighbouring work-items read
 * neighbouring elements. Either way the order is fixed. */
#if CL16_DEVICE_CPU
#define BN_V 16
CL16_INLINE float hsum16(float16 v) {
    const float8 a = v.lo + v.hi;
    const float4 b = a.lo + a.hi;
    return (b.x + b.y) + (b.z + b.w);
}
#else
#define BN_V 1
#endif

/* Work-group c (of C): mean and biased variance of channel c of x
 * [N, C, hw] -> save_mean[c], save_invstd[c] = 1/sqrt(var + eps); when
 * has_running, running = (1 - m) * running + m * stat, the variance unbiased
 * (cnt / (cnt - 1); the host refuses cnt = 1). */
__kernel void cl16_bn_stats(__global const store_t *x, const int n, const int ch, const int hw,
                            const float eps, const float momentum, const int has_running,
                            __global float *running_mean, __global float *running_var,
                            __global float *save_mean, __global float *save_invstd) {
    __local float tmp[CL16_BN_WG_MAX];
    int c = (int)get_group_id(0), lid = (int)get_local_id(0), wg = (int)get_local_size(0);
    float cnt = (float)n * (float)hw;
    const int hv = hw / BN_V * BN_V; /* elements summed BN_V at a time */
    float s = 0.0f;
    for (int b = 0; b < n; b++) {
        long base = ((long)b * ch + c) * hw;
#if BN_V > 1
        float16 v = 0.0f;
        for (int i = lid * BN_V; i < hv; i += wg * BN_V) v += convert_float16(LD16(x + base + i, 0));
        s += hsum16(v);
#endif
        for (int i = hv + lid; i < hw; i += wg) s += (float)LD(x, base + i);
    }
    float mean = group_sum(tmp, s) / cnt;
    float q = 0.0f;
    for (int b = 0; b < n; b++) {
        long base = ((long)b * ch + c) * hw;
#if BN_V > 1
        float16 v = 0.0f;
        for (int i = lid * BN_V; i < hv; i += wg * BN_V) {
            const float16 d = convert_float16(LD16(x + base + i, 0)) - mean;
            v += d * d;
        }
        q += hsum16(v);
#endif
        for (int i = hv + lid; i < hw; i += wg) {
            float d = (float)LD(x, base + i) - mean;
            q += d * d;
        }
    }
    float var = group_sum(tmp, q) / cnt;
    if (lid == 0) {
        save_mean[c] = mean;
        save_invstd[c] = 1.0f / sqrt(var + eps);
        if (has_running) {
            float unbiased = var * cnt / (cnt - 1.0f);
            running_mean[c] = (1.0f - momentum) * running_mean[c] + momentum * mean;
            running_var[c] = (1.0f - momentum) * running_var[c] + momentum * unbiased;
        }
    }
}

/* Element-wise kernels over x [N, C, hw]: a work-item takes BN_EW elements
 * of one plane as vectors (16-wide loads and stores: one conversion each on
 * the storage path, where element by element the f16 input gradient ran 9x
 * slower than f32), the plane's last hw % BN_EW one by one. Global
 * (ceil(hw / BN_EW), N*C). */
#define BN_EW 16

/* y = gamma * (x - mean) * s + beta_, where s = invstd[c] (training, from
 * cl16_bn_stats) or 1/sqrt(var[c] + eps) (evaluation, from_var = 1); relu:
 * y = relu(that), the batch norm + ReLU of a network in one pass. */
__kernel void cl16_bn_apply(__global const store_t *x, __global store_t *y, const int ch,
                            const int hw, __global const float *mean,
                            __global const float *scale_or_var, const int from_var,
                            const float eps, __global const float *gamma,
                            __global const float *beta_, const int relu) {
    const int i0 = (int)get_global_id(0) * BN_EW, plane = (int)get_global_id(1);
    if (i0 >= hw) return;
    const long e = (long)plane * hw + i0;
    const int c = plane % ch;
    const float s = from_var ? 1.0f / sqrt(scale_or_var[c] + eps) : scale_or_var[c];
    const float m = mean[c], ga = gamma[c], be = beta_[c];
    if (i0 + BN_EW <= hw) {
        const float16 v = (convert_float16(LD16(x + e, 0)) - m) * s;
        const float16 o = ga * v + be;
        ST16(relu ? reluv(o) : o, y + e, 0);
        return;
    }
    for (int i = 0; i < hw - i0; i++) {
        const float v = ((float)LD(x, e + i) - m) * s;
        const float o = ga * v + be;
        ST(relu ? relu1(o) : o, y, e + i);
    }
}

/* The fused ReLU's gradient mask, from the forward's output recomputed from
 * x (the expression of cl16_bn_apply): no pass and no stored activation for
 * it. Where the f16 output rounded to zero (|y| < 2^-25) the gradient passes;
 * relu_bwd on the stored output would have masked it. */
#define BN_RELU_G16(g, xhat) (relu ? dreluv(ga * (xhat) + be, g) : (g))
#define BN_RELU_G(g, xhat) (relu ? drelu1(ga * (xhat) + be, g) : (g))

/* Work-group c: dbeta_[c] = sum g, dgamma[c] = sum g * xhat over channel c,
 * g = dy, or with relu dy masked by the output (gamma, beta_ read only then). */
__kernel void cl16_bn_bwd_sums(__global const store_t *x, __global const store_t *dy, const int n,
                               const int ch, const int hw, __global const float *mean,
                               __global const float *invstd, __global float *dgamma,
                               __global float *dbeta_, __global const float *gamma,
                               __global const float *beta_, const int relu) {
    __local float tmp[CL16_BN_WG_MAX];
    int c = (int)get_group_id(0), lid = (int)get_local_id(0), wg = (int)get_local_size(0);
    float m = mean[c], is = invstd[c];
    const float ga = relu ? gamma[c] : 0.0f, be = relu ? beta_[c] : 0.0f;
    float sd = 0.0f, sdx = 0.0f;
    const int hv = hw / BN_V * BN_V;
    for (int b = 0; b < n; b++) {
        long base = ((long)b * ch + c) * hw;
#if BN_V > 1
        float16 vd = 0.0f, vdx = 0.0f;
        for (int i = lid * BN_V; i < hv; i += wg * BN_V) {
            const float16 xh = (convert_float16(LD16(x + base + i, 0)) - m) * is;
            const float16 g = BN_RELU_G16(convert_float16(LD16(dy + base + i, 0)), xh);
            vd += g;
            vdx += g * xh;
        }
        sd += hsum16(vd), sdx += hsum16(vdx);
#endif
        for (int i = hv + lid; i < hw; i += wg) {
            const float xh = ((float)LD(x, base + i) - m) * is;
            const float g = BN_RELU_G((float)LD(dy, base + i), xh);
            sd += g;
            sdx += g * xh;
        }
    }
    float tsd = group_sum(tmp, sd);
    float tsdx = group_sum(tmp, sdx);
    if (lid == 0) {
        dbeta_[c] = tsd;
        dgamma[c] = tsdx;
    }
}

/* dx = beta * dx + gamma * invstd * (g - dbeta_/cnt - xhat * dgamma/cnt),
 * the training-mode input gradient (dx not read when beta is 0), g = dy or
 * with relu dy masked as in cl16_bn_bwd_sums; BN_EW elements per work-item
 * as above. */
__kernel void cl16_bn_bwd_dx(__global const store_t *x, __global const store_t *dy,
                             __global store_t *dx, const float beta, const int ch,
                             const int hw, const float cnt,
                             __global const float *mean, __global const float *invstd,
                             __global const float *gamma, __global const float *dgamma,
                             __global const float *dbeta_, __global const float *beta_,
                             const int relu) {
    const int i0 = (int)get_global_id(0) * BN_EW, plane = (int)get_global_id(1);
    if (i0 >= hw) return;
    const long e = (long)plane * hw + i0;
    const int c = plane % ch;
    const float is = invstd[c], m = mean[c], ga = gamma[c], k = ga * is, db = dbeta_[c] / cnt,
                dg = dgamma[c] / cnt, be = relu ? beta_[c] : 0.0f;
    if (i0 + BN_EW <= hw) {
        const float16 xhat = (convert_float16(LD16(x + e, 0)) - m) * is;
        float16 g = k * (BN_RELU_G16(convert_float16(LD16(dy + e, 0)), xhat) - db - xhat * dg);
        if (beta != 0.0f) g += beta * convert_float16(LD16(dx + e, 0));
        ST16(g, dx + e, 0);
        return;
    }
    for (int i = 0; i < hw - i0; i++) {
        const float xhat = ((float)LD(x, e + i) - m) * is;
        float g = k * (BN_RELU_G((float)LD(dy, e + i), xhat) - db - xhat * dg);
        if (beta != 0.0f) g += beta * (float)LD(dx, e + i);
        ST(g, dx, e + i);
    }
}
