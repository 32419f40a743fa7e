/* optim.cl - fused optimizer updates (SGD with momentum, Adam, AdamW): one
 * kernel per kind reads w, g and the state once, computes in float and writes
 * w and the state once, one element per work-item.
 *
 * Build parameters: those of common.cl, and OPT_MIXED = 1 for mixed precision
 * (CL16_DTYPE 0: float master weights and state, half gradients, and a half
 * copy of the new weights written for the forward pass).
 *
 * Every hyper-parameter, the step-dependent bias corrections and the update
 * mode are kernel arguments, so a new learning rate, step or mode never
 * recompiles. The arithmetic is float on every path (an eps of 1e-8 stays
 * 1e-8 although half cannot hold it). Stored 16-bit values are rounded
 *   mode 0: to nearest even (the paper's pure 16-bit training);
 *   mode 1: stochastically, up with probability equal to the distance from
 *           the value below in units of the spacing there, from a counter-based
 *           generator keyed by (seed, step, tensor) and the element index, so a
 *           run is reproducible and independent of work-group shape;
 *   mode 2: to nearest, with Kahan compensation of the weight: u = c + delta;
 *           w' = w + u; c = u - (w' - w), c kept in a 16-bit buffer.
 * Common arguments: gscale multiplies g first (1 / loss scale: unscaling
 * fused); skip (may be NULL) points to a flag set by cl16_grad_check: when
 * nonzero nothing is written (an overflowing step is skipped on the device);
 * stats (may be NULL) receives [0] += elements whose computed weight change was
 * nonzero, [1] += those of them whose stored weight did not change (stalled). */
#include "common.cl"

#ifndef OPT_MIXED
#define OPT_MIXED 0
#endif

#if OPT_MIXED
typedef half grad_t;
#define LDG(p, i) vload_half((i), (p))
#else
typedef store_t grad_t;
#define LDG(p, i) ((float)LD(p, i))
#endif
#define LDF(p, i) ((float)LD(p, i))

/* splitmix64's finaliser: the counter-based generator (a bijective mix of the
 * key and the element index). */
inline ulong mix64(ulong z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9UL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebUL;
    return z ^ (z >> 31);
}

/* x rounded to a half value, stochastically: r is 24 uniform bits. Values at
 * or beyond the half range, and NaN, are left to the round-to-nearest store
 * (infinity). The result is exactly representable in half. */
inline float sr_half(float x, uint r) {
    const float a = fabs(x);
    if (!(a < 65504.0f)) return x;
    float lo, ulp;
    if (a < 0x1p-14f) { /* half subnormals: spacing 2^-24 */
        lo = trunc(a * 0x1p24f) * 0x1p-24f;
        ulp = 0x1p-24f;
    } else {            /* drop the 13 float mantissa bits half does not keep */
        const uint b = as_uint(a) & ~0x1FFFu;
        lo = as_float(b);
        ulp = as_float((b & 0x7F800000u) - (10u << 23));
    }
    const float frac = (a - lo) / ulp; /* exact, in [0, 1) */
    const float res = (float)r * 0x1p-24f < frac ? lo + ulp : lo;
    return copysign(res, x);
}

#if CL16_DTYPE != 0
/* x rounded to nearest even half, as a float (through private memory, so that
 * nothing waits for the global store). */
inline float half_value(float x) {
    ushort b;
    vstore_half_rte(x, 0, (half *)&b);
    return vload_half(0, (const half *)&b);
}
#endif

/* The value a 16-bit store of x in `mode` will hold (float tensors: x). */
inline float round_store(float x, int mode, ulong key, ulong e) {
#if CL16_DTYPE != 0
    if (mode == 1) return sr_half(x, (uint)(mix64(key + e * 0x9e3779b97f4a7c15UL) >> 40));
#endif
    return x;
}

/* Stores the new weight (and, mixed, its half copy; Kahan, the compensation)
 * and counts stalls. w0: the stored weight before, delta: the computed change. */
inline void store_w(__global store_t *w, __global store_t *comp, __global half *w16,
                    __global int *stats, float w0, float delta, int mode, ulong key, ulong e) {
    float wn;
#if CL16_DTYPE != 0
    if (mode == 2 && comp) {
        const float u = LDF(comp, e) + delta;
        const float ws = half_value(w0 + u);
        ST(ws, w, e);
        ST(u - (ws - w0), comp, e);
        wn = ws;
    } else
#endif
    {
        wn = round_store(w0 + delta, mode, key, e);
#if CL16_DTYPE != 0
        if (stats) wn = half_value(wn); /* what the store below keeps, for the counters */
#endif
        ST(wn, w, e);
    }
#if OPT_MIXED
    if (w16) vstore_half_rte(wn, e, w16);
#endif
    if (stats && delta != 0.0f) {
        atomic_inc(&stats[0]);
        if (wn == w0) atomic_inc(&stats[1]);
    }
}

#define OPT_COMMON                                                                                 \
    const int mode, const ulong key_w, const ulong key_m, const ulong key_v,                       \
        __global store_t *comp, __global half *w16, const float gscale,                            \
        __global const int *skip, __global int *stats, const ulong n

/* PyTorch's SGD: g' = g + wd*w; m = momentum*m + damp1*g' (m = g' at step 1);
 * d = nesterov ? g' + momentum*m : m (momentum 0: d = g', m untouched);
 * w -= lr*d. */
__kernel void cl16_optim_sgd(__global store_t *w, __global const grad_t *g, __global store_t *m,
                             const float lr, const float wd, const float momentum,
                             const float damp1, const int nesterov, const int first, OPT_COMMON) {
    const ulong e = get_global_id(0);
    if (e >= n || (skip && *skip)) return;
    const float w0 = LDF(w, e);
    float gg = LDG(g, e) * gscale;
    if (wd != 0.0f) gg += wd * w0;
    float d = gg;
    if (momentum != 0.0f) {
        /* The momentum buffer starts as g' itself (not (1 - dampening) * g'). */
        float b = first ? gg : momentum * LDF(m, e) + damp1 * gg;
        b = round_store(b, mode == 1, key_m, e);
        ST(b, m, e);
        d = nesterov ? gg + momentum * b : b;
    }
    store_w(w, comp, w16, stats, w0, -lr * d, mode, key_w, e);
}

/* Adam / AdamW. wd is the coupled decay (Adam: g' = g + wd*w), lrwd the
 * decoupled one (AdamW: w -= lr*wd*w first); the caller passes 0 for the
 * other. step_size = lr / (1 - b1^t), isb2 = 1 / sqrt(1 - b2^t). */
inline void adam1(__global store_t *w, __global const grad_t *g, __global store_t *m,
                  __global store_t *v, const float wd, const float lrwd, const float b1,
                  const float omb1, const float b2, const float omb2, const float step_size,
                  const float isb2, const float eps, const int mode, const ulong key_w,
                  const ulong key_m, const ulong key_v, __global store_t *comp,
                  __global half *w16, const float gscale, __global int *stats, const ulong e) {
    const float w0 = LDF(w, e);
    float gg = LDG(g, e) * gscale;
    if (wd != 0.0f) gg += wd * w0;
    const float mm = b1 * LDF(m, e) + omb1 * gg;
    const float vv = b2 * LDF(v, e) + omb2 * (gg * gg);
    ST(round_store(mm, mode == 1, key_m, e), m, e);
    ST(round_store(vv, mode == 1, key_v, e), v, e);
    const float den = sqrt(vv) * isb2 + eps;
    store_w(w, comp, w16, stats, w0, -lrwd * w0 - step_size * (mm / den), mode, key_w, e);
}

__kernel void cl16_optim_adam(__global store_t *w, __global const grad_t *g, __global store_t *m,
                              __global store_t *v, const float wd, const float b1,
                              const float omb1, const float b2, const float omb2,
                              const float step_size, const float isb2, const float eps,
                              OPT_COMMON) {
    const ulong e = get_global_id(0);
    if (e >= n || (skip && *skip)) return;
    adam1(w, g, m, v, wd, 0.0f, b1, omb1, b2, omb2, step_size, isb2, eps, mode, key_w, key_m, key_v,
          comp, w16, gscale, stats, e);
}

__kernel void cl16_optim_adamw(__global store_t *w, __global const grad_t *g,
                               __global store_t *m, __global store_t *v, const float lrwd,
                               const float b1, const float omb1, const float b2, const float omb2,
                               const float step_size, const float isb2, const float eps,
                               OPT_COMMON) {
    const ulong e = get_global_id(0);
    if (e >= n || (skip && *skip)) return;
    adam1(w, g, m, v, 0.0f, lrwd, b1, omb1, b2, omb2, step_size, isb2, eps, mode, key_w, key_m,
          key_v, comp, w16, gscale, stats, e);
}

/* flag[0] = 1 when any of g[0..n) is infinite or NaN (a benign race: every
 * writer writes 1). Enqueued for every gradient before the updates, which
 * then read the flag: an overflowing step is skipped without a host sync. */
__kernel void cl16_grad_check(__global const grad_t *g, const ulong n, __global int *flag) {
    const ulong e = get_global_id(0);
    if (e < n && !isfinite(LDG(g, e))) flag[0] = 1;
}
