/* optim.cl - fused optimizer updates (SGD with momentum, Adam, AdamW): one
 * kernel per kind reads w, g and the state once, computes in float and writes
 * w and the state once (f16: one round-to-nearest-even per stored value).
 *
 * Build parameters: those of common.cl (CL16_DTYPE, CL16_HALF_NATIVE,
 * CL16_HALF_ARITH, CL16_HALF_ACC); no others. Every hyper-parameter and the
 * step-dependent bias corrections are kernel arguments, so a new learning rate
 * or step never recompiles. Loads are converted to float explicitly, also when
 * real_t is half: the update arithmetic is float on every path (an eps of 1e-8
 * stays 1e-8 even though it has no half representation). Each work-item
 * handles four consecutive elements; the last one also handles the n % 4 tail
 * by padding a float4 with zeros (padded lanes are computed, never stored).
 */
#include "common.cl"

#define LDF4(p, i) convert_float4(LD4(p, i))
#define LDF(p, i) ((float)LD(p, i))

/* Tail of up to three elements starting at element b, zero-padded. */
inline float4 tail4(__global const store_t *p, ulong b, ulong n) {
    float4 r = (float4)(0.0f);
    r.s0 = LDF(p, b);
    if (b + 1 < n) r.s1 = LDF(p, b + 1);
    if (b + 2 < n) r.s2 = LDF(p, b + 2);
    return r;
}
inline void tail_store(float4 v, __global store_t *p, ulong b, ulong n) {
    ST(v.s0, p, b);
    if (b + 1 < n) ST(v.s1, p, b + 1);
    if (b + 2 < n) ST(v.s2, p, b + 2);
}

/* PyTorch's SGD on four elements; *m is read unless first, written when momentum != 0. */
inline float4 sgd4(float4 w, float4 g, float4 *m, const float lr, const float wd,
                   const float momentum, const float damp1, const int nesterov, const int first) {
    if (wd != 0.0f) g = g + (float4)(wd) * w;
    float4 d = g;
    if (momentum != 0.0f) {
        /* The momentum buffer starts as g' itself (not (1 - dampening) * g'). */
        float4 b = first ? g : (float4)(momentum) * (*m) + (float4)(damp1) * g;
        *m = b;
        d = nesterov ? g + (float4)(momentum) * b : b;
    }
    return w - (float4)(lr) * d;
}

/* w -= lr*d with d from g' = g + wd*w and the momentum buffer m (unread and
 * unwritten when momentum == 0; it may then alias w). damp1 = 1 - dampening;
 * first = 1 at step 1 (m = g'). */
__kernel void cl16_optim_sgd(__global store_t *w, __global const store_t *g, __global store_t *m,
                             const float lr, const float wd, const float momentum,
                             const float damp1, const int nesterov, const int first,
                             const ulong n) {
    const ulong q = get_global_id(0);
    const ulong nv = n / 4;
    const int use_m = momentum != 0.0f;
    if (q < nv) {
        float4 mm = (use_m && !first) ? LDF4(m, q) : (float4)(0.0f);
        float4 wn = sgd4(LDF4(w, q), LDF4(g, q), &mm, lr, wd, momentum, damp1, nesterov, first);
        if (use_m) ST4(mm, m, q);
        ST4(wn, w, q);
    }
    const ulong b = nv * 4;
    if (q == (nv ? nv - 1 : 0) && b < n) {
        float4 mm = (use_m && !first) ? tail4(m, b, n) : (float4)(0.0f);
        float4 wn = sgd4(tail4(w, b, n), tail4(g, b, n), &mm, lr, wd, momentum, damp1, nesterov,
                         first);
        if (use_m) tail_store(mm, m, b, n);
        tail_store(wn, w, b, n);
    }
}

/* Adam / AdamW on four elements. wd is the coupled decay (Adam: g' = g +
 * wd*w), lrwd the decoupled one (AdamW: w -= lr*wd*w first); the caller passes
 * 0 for the other. step_size = lr / (1 - b1^t), isb2 = 1 / sqrt(1 - b2^t). */
inline float4 adam4(float4 w, float4 g, float4 *m, float4 *v, const float wd, const float lrwd,
                    const float b1, const float omb1, const float b2, const float omb2,
                    const float step_size, const float isb2, const float eps) {
    if (wd != 0.0f) g = g + (float4)(wd) * w;
    if (lrwd != 0.0f) w = w - (float4)(lrwd) * w;
    float4 mm = (float4)(b1) * (*m) + (float4)(omb1) * g;
    float4 vv = (float4)(b2) * (*v) + (float4)(omb2) * (g * g);
    *m = mm;
    *v = vv;
    float4 den = sqrt(vv) * (float4)(isb2) + (float4)(eps);
    return w - (float4)(step_size) * (mm / den);
}

#define ADAM_BODY                                                                                  \
    const ulong q = get_global_id(0);                                                              \
    const ulong nv = n / 4;                                                                        \
    if (q < nv) {                                                                                  \
        float4 mm = LDF4(m, q), vv = LDF4(v, q);                                                   \
        float4 wn = adam4(LDF4(w, q), LDF4(g, q), &mm, &vv, wd, lrwd, b1, omb1, b2, omb2,          \
                          step_size, isb2, eps);                                                   \
        ST4(mm, m, q);                                                                             \
        ST4(vv, v, q);                                                                             \
        ST4(wn, w, q);                                                                             \
    }                                                                                              \
    const ulong b = nv * 4;                                                                        \
    if (q == (nv ? nv - 1 : 0) && b < n) {                                                         \
        float4 mm = tail4(m, b, n), vv = tail4(v, b, n);                                           \
        float4 wn = adam4(tail4(w, b, n), tail4(g, b, n), &mm, &vv, wd, lrwd, b1, omb1, b2, omb2,  \
                          step_size, isb2, eps);                                                   \
        tail_store(mm, m, b, n);                                                                   \
        tail_store(vv, v, b, n);                                                                   \
        tail_store(wn, w, b, n);                                                                   \
    }

/* Adam: g' = g + wd*w (L2 regularisation through the gradient). */
__kernel void cl16_optim_adam(__global store_t *w, __global const store_t *g, __global store_t *m,
                              __global store_t *v, const float wd, const float b1,
                              const float omb1, const float b2, const float omb2,
                              const float step_size, const float isb2, const float eps,
                              const ulong n) {
    const float lrwd = 0.0f;
    ADAM_BODY
}

/* AdamW: w -= lrwd*w (lrwd = lr*wd) before the Adam step on the plain g. */
__kernel void cl16_optim_adamw(__global store_t *w, __global const store_t *g,
                               __global store_t *m, __global store_t *v, const float lrwd,
                               const float b1, const float omb1, const float b2, const float omb2,
                               const float step_size, const float isb2, const float eps,
                               const ulong n) {
    const float wd = 0.0f;
    ADAM_BODY
}
