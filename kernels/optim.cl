/* optim.cl - fused optimizer updates (SGD with momentum, Adam, AdamW): one
 * kernel per kind reads w, g and the state once, computes in float and writes
 * w and the state once, a block of 16 elements per work-item. The 16-bit
 * storage type is f16 (CL16_DTYPE 1) or bf16 (CL16_DTYPE 2); the rounding
 * modes below apply to either.
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
#define LDG(p, i) cl16_h2f(((__global const ushort *)(p))[i])
#else
typedef store_t grad_t;
#define LDG(p, i) ((float)LD(p, i))
#endif
#define LDF(p, i) ((float)LD(p, i))

/* splitmix64's finaliser: the counter-based generator (a bijective mix of the
 * key and the element index). */
CL16_INLINE ulong mix64(ulong z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9UL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebUL;
    return z ^ (z >> 31);
}

/* x rounded to a half value, stochastically: r is 24 uniform bits. Values at
 * or beyond the half range, and NaN, are left to the round-to-nearest store
 * (infinity). The result is exactly representable in half. */
CL16_INLINE float sr_half(float x, uint r) {
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

/* x rounded to a bfloat16 value, stochastically: r is 24 uniform bits, of
 * which the top 16 are added to the 16 bits bf16 drops before they are cut
 * off, so the magnitude goes up with probability (dropped bits) / 2^16 - the
 * distance to the bf16 value below in units of the spacing, in every binade
 * and among subnormals alike. Infinity and NaN are left to the store; above
 * the largest finite bf16 the step up is infinity, as the format has it. */
CL16_INLINE float sr_bf16(float x, uint r) {
    const uint b = as_uint(x);
    if ((b & 0x7f800000u) == 0x7f800000u) return x;
    return as_float((b + (r >> 8)) & 0xffff0000u);
}

/* sr16: x rounded stochastically to the 16-bit storage type, as a float. */
#if CL16_DTYPE == 2
CL16_INLINE float sr16(float x, uint r) { return sr_bf16(x, r); }
#elif CL16_DTYPE == 1
CL16_INLINE float sr16(float x, uint r) { return sr_half(x, r); }
#endif

/* x as a 16-bit store in the update's rounding will hold it: stochastically
 * rounded when sr (then exactly representable), else unchanged (the store
 * rounds to nearest). Float tensors: x. */
CL16_INLINE float keep(float x, int sr, ulong key, ulong e) {
#if CL16_DTYPE != 0
    if (sr) return sr16(x, (uint)(mix64(key + e * 0x9e3779b97f4a7c15UL) >> 40));
#endif
    return x;
}

/* PyTorch's SGD: g' = g + wd*w; m = momentum*m + damp1*g' (m = g' at step 1);
 * d = nesterov ? g' + momentum*m : m (momentum 0: d = g', m untouched);
 * the change is -lr*d. */
CL16_INLINE float sgd_delta(float w0, float g, float *m, float lr, float wd, float momentum,
                       float damp1, int nesterov, int first, int sr, ulong key_m, ulong e) {
    if (wd != 0.0f) g += wd * w0;
    if (momentum == 0.0f) return -lr * g;
    /* The momentum buffer starts as g' itself (not (1 - dampening) * g'). */
    const float b = keep(first ? g : momentum * (*m) + damp1 * g, sr, key_m, e);
    *m = b;
    return -lr * (nesterov ? g + momentum * b : b);
}

/* Adam / AdamW. wd is the coupled decay (Adam: g' = g + wd*w), lrwd the
 * decoupled one (AdamW: w -= lr*wd*w first); the caller passes 0 for the
 * other. step_size = lr / (1 - b1^t), isb2 = 1 / sqrt(1 - b2^t). The update
 * uses m and v before they are rounded for storage. */
CL16_INLINE float adam_delta(float w0, float g, float *m, float *v, float wd, float lrwd, float b1,
                        float omb1, float b2, float omb2, float step_size, float isb2,
                        float eps, int sr, ulong key_m, ulong key_v, ulong e) {
    if (wd != 0.0f) g += wd * w0;
    const float mm = b1 * (*m) + omb1 * g;
    const float vv = b2 * (*v) + omb2 * (g * g);
    *m = keep(mm, sr, key_m, e);
    *v = keep(vv, sr, key_v, e);
    return -lrwd * w0 - step_size * (mm / (sqrt(vv) * isb2 + eps));
}

/* Each work-item updates a block of 16 elements: whole blocks are loaded and
 * stored with 16-wide conversions (the vector ones on every device; PoCL's
 * scalar half conversions are library calls), the arithmetic runs lane by
 * lane in float, and the counters get one atomic add per block; the last,
 * partial block goes element by element. (One element per work-item measured
 * 1.5-4x slower on PoCL for f16, and no faster for f32.) The host launches
 * ceil(n / 16) work-items. */
#define BLOCK 16
#define OPT_COMMON                                                                                 \
    const int mode, const ulong key_w, const ulong key_m, const ulong key_v,                       \
        __global store_t *comp, __global half *w16, const float gscale,                            \
        __global const int *skip, __global int *stats, const ulong n

/* Loads a block (or the partial last one) of p into a[] (zeros when p is NULL). */
#define LOAD_BLOCK(a, p, LD1, LDV)                                                                 \
    if (!(p)) {                                                                                    \
        for (int j = 0; j < BLOCK; j++) a[j] = 0.0f;                                               \
    } else if (full) {                                                              \
        vstore16(LDV(p, q), 0, a);                                                                 \
    } else {                                                                                       \
        for (int j = 0; j < BLOCK; j++) a[j] = j < cnt ? LD1(p, e0 + j) : 0.0f;                    \
    }
#define STORE_BLOCK(a, p)                                                                          \
    if (full) {                                                                     \
        ST16(vload16(0, a), p, q);                                                                 \
    } else {                                                                                       \
        for (int j = 0; j < cnt; j++) ST(a[j], p, e0 + j);                                         \
    }
#define LDF16(p, q) convert_float16(LD16(p, q))
#if OPT_MIXED
#define LDG16(p, q) vload_half16((q), (p))
#else
#define LDG16(p, q) LDF16(p, q)
#endif

#define BLOCK_BEGIN                                                                                \
    const ulong q = get_global_id(0), e0 = q * BLOCK;                                             \
    if (e0 >= n || (skip && *skip)) return;                                                        \
    const int full = e0 + BLOCK <= n, cnt = full ? BLOCK : (int)(n - e0);                          \
    const int kahan = mode == 2 && comp != 0;                                                      \
    float wa[BLOCK], ga[BLOCK], ca[BLOCK];                                                         \
    LOAD_BLOCK(wa, w, LDF, LDF16)                                                                  \
    LOAD_BLOCK(ga, g, LDG, LDG16)                                                                  \
    LOAD_BLOCK(ca, (kahan ? comp : 0), LDF, LDF16)                                                 \
    int changed = 0, stalled = 0;

#define BLOCK_END                                                                                  \
    STORE_BLOCK(wa, w)                                                                             \
    if (kahan) { STORE_BLOCK(ca, comp) }                                                           \
    if (OPT_MIXED && w16) {                                                                        \
        if (full)                                                                   \
            vstore_half16_rte(vload16(0, wa), q, w16);                                             \
        else                                                                                       \
            for (int j = 0; j < cnt; j++) vstore_half_rte(wa[j], e0 + j, w16);                     \
    }                                                                                              \
    if (stats && changed) {                                                                        \
        atomic_add(&stats[0], changed);                                                            \
        if (stalled) atomic_add(&stats[1], stalled);                                               \
    }

/* The update of a block: the deltas of all its lanes first (dl), with the
 * rounding of the state (stochastic or not) as a constant sr_, then the
 * weights. PoCL on an AVX2 CPU compiled a per-lane update with the rounding
 * mode as a run-time value as scalar code (fp16 SGD 4.3x the f32 time, Kahan
 * 5.1x, Adam with Kahan 6.3x; bench optim --quick).
 * Modes 0 and 2 (to nearest; with Kahan compensation u = c + delta,
 * w = round(w0 + u), c = u - (w - w0)): the new weights as one 16-wide
 * vector; when the stall counters need the stored values, or mode 2 needs them
 * for the compensation, 16-bit ones are rounded by one 16-wide store and load
 * through private memory (the same rounding as the store). Float weights
 * (always mode 0) are stored as computed.
 * Mode 1 (stochastic rounding, 16-bit only): keep() lane by lane.
 * Counters: lanes whose delta is nonzero, and those of them whose stored
 * weight equals the old one. */
CL16_INLINE void plain_lanes(float *wa, float *ca, const float *dl, const int cnt, const int comp,
                             const int count, int *changed, int *stalled) {
    const float16 w0 = vload16(0, wa), d = vload16(0, dl);
    const float16 u = comp ? vload16(0, ca) + d : d, wn = w0 + u;
    if (!count && !comp) {
        vstore16(wn, 0, wa);
        return;
    }
#if CL16_DTYPE == 0
    const float16 r = wn;
#else
    ushort raw[BLOCK];
    __private store_t *rp = (__private store_t *)raw;
    ST16(wn, rp, 0);
    const float16 r = convert_float16(LD16(rp, 0));
#endif
    if (comp) vstore16(u - (r - w0), 0, ca);
    float ra[BLOCK], w0a[BLOCK];
    vstore16(r, 0, ra);
    vstore16(w0, 0, w0a);
    int ch = 0, st = 0;
    for (int j = 0; j < BLOCK; j++) {
        const int moved = j < cnt && dl[j] != 0.0f;
        ch += moved;
        st += moved && ra[j] == w0a[j];
        wa[j] = ra[j];
    }
    *changed += ch, *stalled += st;
}

CL16_INLINE void sr_lanes(float *wa, const float *dl, const int cnt, const ulong key_w,
                          const ulong e0, int *changed, int *stalled) {
    int ch = 0, st = 0;
    for (int j = 0; j < BLOCK; j++) {
        const float w0 = wa[j], wn = keep(w0 + dl[j], 1, key_w, e0 + j);
        const int moved = j < cnt && dl[j] != 0.0f;
        ch += moved;
        st += moved && wn == w0;
        wa[j] = wn;
    }
    *changed += ch, *stalled += st;
}

/* delta: the expression of lane j's change, with sr_ for its sr argument. */
#define UPDATE_LANES(delta)                                                                        \
    if (mode == 1) {                                                                               \
        const int sr_ = 1;                                                                         \
        float dl[BLOCK];                                                                           \
        for (int j = 0; j < BLOCK; j++) dl[j] = (delta);                                           \
        sr_lanes(wa, dl, cnt, key_w, e0, &changed, &stalled);                                      \
    } else {                                                                                       \
        const int sr_ = 0;                                                                         \
        float dl[BLOCK];                                                                           \
        for (int j = 0; j < BLOCK; j++) dl[j] = (delta);                                           \
        plain_lanes(wa, ca, dl, cnt, mode == 2, stats != 0, &changed, &stalled);                   \
    }

__kernel void cl16_optim_sgd(__global store_t *w, __global const grad_t *g, __global store_t *m,
                             const float lr, const float wd, const float momentum,
                             const float damp1, const int nesterov, const int first, OPT_COMMON) {
    BLOCK_BEGIN
    const int use_m = momentum != 0.0f;
    float ma[BLOCK];
    LOAD_BLOCK(ma, (use_m && !first ? m : 0), LDF, LDF16)
    UPDATE_LANES(sgd_delta(wa[j], ga[j] * gscale, &ma[j], lr, wd, momentum, damp1, nesterov,
                           first, sr_, key_m, e0 + j))
    if (use_m) { STORE_BLOCK(ma, m) }
    BLOCK_END
}

__kernel void cl16_optim_adam(__global store_t *w, __global const grad_t *g, __global store_t *m,
                              __global store_t *v, const float wd, const float b1,
                              const float omb1, const float b2, const float omb2,
                              const float step_size, const float isb2, const float eps,
                              OPT_COMMON) {
    BLOCK_BEGIN
    float ma[BLOCK], va[BLOCK];
    LOAD_BLOCK(ma, m, LDF, LDF16)
    LOAD_BLOCK(va, v, LDF, LDF16)
    UPDATE_LANES(adam_delta(wa[j], ga[j] * gscale, &ma[j], &va[j], wd, 0.0f, b1, omb1, b2, omb2,
                            step_size, isb2, eps, sr_, key_m, key_v, e0 + j))
    STORE_BLOCK(ma, m)
    STORE_BLOCK(va, v)
    BLOCK_END
}

__kernel void cl16_optim_adamw(__global store_t *w, __global const grad_t *g,
                               __global store_t *m, __global store_t *v, const float lrwd,
                               const float b1, const float omb1, const float b2, const float omb2,
                               const float step_size, const float isb2, const float eps,
                               OPT_COMMON) {
    BLOCK_BEGIN
    float ma[BLOCK], va[BLOCK];
    LOAD_BLOCK(ma, m, LDF, LDF16)
    LOAD_BLOCK(va, v, LDF, LDF16)
    UPDATE_LANES(adam_delta(wa[j], ga[j] * gscale, &ma[j], &va[j], 0.0f, lrwd, b1, omb1, b2,
                            omb2, step_size, isb2, eps, sr_, key_m, key_v, e0 + j))
    STORE_BLOCK(ma, m)
    STORE_BLOCK(va, v)
    BLOCK_END
}

/* flag[0] = 1 when any element of the gradients g0..g3 (n0..n3 elements; an
 * unused one has 0) is infinite or NaN (a benign race: every writer writes
 * 1). One work-item per element of them all, in order. Enqueued for every
 * gradient before the updates, which then read the flag: an overflowing step
 * is skipped without a host sync. */
__kernel void cl16_grad_check4(__global const grad_t *g0, const ulong n0,
                               __global const grad_t *g1, const ulong n1,
                               __global const grad_t *g2, const ulong n2,
                               __global const grad_t *g3, const ulong n3, __global int *flag) {
    ulong e = get_global_id(0);
    float v;
    if (e < n0) v = LDG(g0, e);
    else if ((e -= n0) < n1) v = LDG(g1, e);
    else if ((e -= n1) < n2) v = LDG(g2, e);
    else if ((e -= n2) < n3) v = LDG(g3, e);
    else return;
    if (!isfinite(v)) flag[0] = 1;
}
