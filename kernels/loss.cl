/* loss.cl - softmax cross-entropy over logits [N, classes]: per-sample loss,
 * argmax hit and the logits' gradient in one pass over each sample.
 *
 * Build parameters: those of common.cl (CL16_DTYPE, CL16_HALF_NATIVE,
 * CL16_HALF_ARITH, CL16_HALF_ACC); no others. Logits are loaded as float
 * (explicitly, also when real_t is half) and everything is computed in float;
 * the gradient is rounded once on store.
 */
#include "common.cl"

#define LDF(p, i) ((float)LD(p, i))

/* Flag bits of one sample (the host reads them back). */
#define XENT_CORRECT 1   /* argmax (first index on ties) == label */
#define XENT_NONFINITE 2 /* some logit is NaN or infinite */
#define XENT_BADLABEL 4  /* label outside 0..classes-1 (nothing indexed by it) */

/* One work-item per sample i < n:
 *   m = max_j x_j, s = sum_j exp(x_j - m)  (log-sum-exp: no overflow for any
 *   finite logits), loss[i] = log(s) - (x_label - m)  (= lse - x_label; the
 *   difference x_label - m is taken first, so large common offsets cancel
 *   exactly instead of costing float precision),
 *   dlogits_j = (exp(x_j - m) / s - [j == label]) * gscale  (want_grad != 0;
 *   gscale = loss scale / N, computed by the host).
 * skip (may be NULL): set to 1 when a sample's logits or loss are not finite
 * (a benign race: every writer writes 1), so the optimizer updates queued
 * behind this kernel, which read the flag, write nothing. */
__kernel void cl16_loss_softmax_xent(__global const store_t *logits, __global const int *labels,
                                     const int n, const int classes, const float gscale,
                                     const int want_grad, __global store_t *dlogits,
                                     __global float *loss, __global int *flags,
                                     __global int *skip) {
    const int i = (int)get_global_id(0);
    if (i >= n) return;
    const size_t base = (size_t)i * (size_t)classes;
    float m = LDF(logits, base);
    int arg = 0, finite = isfinite(m);
    for (int j = 1; j < classes; j++) {
        const float v = LDF(logits, base + (size_t)j);
        finite &= isfinite(v);
        if (v > m) m = v, arg = j; /* strict: the first of equal maxima wins */
    }
    float s = 0.0f;
    for (int j = 0; j < classes; j++) s += exp(LDF(logits, base + (size_t)j) - m);
    const int label = labels[i];
    const int ok = label >= 0 && label < classes;
    int f = (finite ? 0 : XENT_NONFINITE) | (ok ? 0 : XENT_BADLABEL);
    if (ok && arg == label) f |= XENT_CORRECT;
    const float li = ok ? log(s) - (LDF(logits, base + (size_t)label) - m) : NAN;
    if (ok && !isfinite(li)) f |= XENT_NONFINITE; /* finite logits whose spread overflows float */
    loss[i] = li;
    flags[i] = f;
    if (skip && (f & (XENT_NONFINITE | XENT_BADLABEL))) skip[0] = 1;
    if (!want_grad) return;
    for (int j = 0; j < classes; j++) {
        float p = exp(LDF(logits, base + (size_t)j) - m) / s;
        if (j == label) p -= 1.0f;
        ST(p * gscale, dlogits, base + (size_t)j);
    }
}
