/* layer_check.h - shared by the element-wise, Linear and loss tests: tensors
 * from host arrays, error bounds of a float computation rounded to the tensor
 * dtype, and a checker for refused calls (status, message, outputs untouched).
 *
 * Bounds: a value computed in float with at most n roundings, each relative
 * u = 2^-24 of the magnitude of the terms involved (mag), is within
 * gamma_n(u) * mag of the exact result; storing it as f16 adds one rounding,
 * 2^-11 relative or 2^-25 absolute near zero (half the smallest subnormal);
 * as bf16, 2^-8 relative (2^-134 absolute). */
#ifndef CL16_LAYER_CHECK_H
#define CL16_LAYER_CHECK_H
#include <math.h>

#include "gemm_check.h"

#define LC_U 5.9604644775390625e-08 /* 2^-24 */

static inline double lc_bound(cl16_dtype dt, double nround, double mag, double ref) {
    double e = gc_gamma(nround, LC_U) * mag;
    if (dt != CL16_F32)
        e += gc_u_store(dt) * (fabs(ref) + e) + gc_abs_store(dt);
    return e;
}

/* Uniform in [lo, hi), rounded to the dtype (f16: on the host, so the device
 * holds exactly what the reference sees). */
static inline float lc_rand(cl16_dtype dt, float lo, float hi) {
    float v = lo + (hi - lo) * (float)((double)(gc_rand() >> 40) / 16777216.0);
    return gc_round16(dt, v);
}

static inline cl16_tensor *lc_tensor(cl16_ctx *ctx, cl16_dtype dt, int nd, const int64_t *dims,
                                     const float *src) {
    cl16_tensor *t = NULL;
    CHECK_OK(ctx, cl16_tensor_create(ctx, dt, nd, dims, &t));
    if (t && src)
        CHECK_OK(ctx, cl16_tensor_write_f32(t, src, (size_t)cl16_tensor_numel(t)));
    return t;
}
static inline cl16_tensor *lc_tensor2(cl16_ctx *ctx, cl16_dtype dt, int64_t a, int64_t b,
                                      const float *src) {
    int64_t d[2] = {a, b};
    return lc_tensor(ctx, dt, 2, d, src);
}
static inline cl16_tensor *lc_tensor1(cl16_ctx *ctx, cl16_dtype dt, int64_t a, const float *src) {
    return lc_tensor(ctx, dt, 1, &a, src);
}
static inline float *lc_read(cl16_ctx *ctx, const cl16_tensor *t) {
    size_t n = (size_t)cl16_tensor_numel(t);
    float *v = malloc(n * sizeof *v);
    CHECK_OK(ctx, cl16_tensor_read_f32(t, v, n));
    return v;
}
static inline unsigned char *lc_raw(cl16_ctx *ctx, const cl16_tensor *t) {
    unsigned char *v = malloc(cl16_tensor_bytes(t));
    CHECK_OK(ctx, cl16_tensor_read_raw(t, v, cl16_tensor_bytes(t)));
    return v;
}
static inline int lc_same_bytes(cl16_ctx *ctx, const cl16_tensor *t, const unsigned char *before) {
    unsigned char *now = lc_raw(ctx, t);
    int same = !memcmp(now, before, cl16_tensor_bytes(t));
    free(now);
    return same;
}

/* Checks a refused call: the status, a detail naming need (one of its
 * '|'-separated alternatives), and the watched tensor's bytes unchanged. */
static inline void lc_refused(cl16_ctx *ctx, cl16_status got, cl16_status want, const char *need,
                              const cl16_tensor *watch, const unsigned char *before, int line) {
    const char *msg = cl16_ctx_last_error(ctx);
    if (got != want) {
        fprintf(stderr, "line %d: status %s, expected %s (%s)\n", line, cl16_status_str(got),
                cl16_status_str(want), msg);
        check_failures++;
    }
    if (need && !gc_mentions(msg, need)) {
        fprintf(stderr, "line %d: detail \"%s\" does not name %s\n", line, msg, need);
        check_failures++;
    }
    if (watch && !lc_same_bytes(ctx, watch, before)) {
        fprintf(stderr, "line %d: a refused call changed its output\n", line);
        check_failures++;
    }
}
#define LC_REFUSED(ctx, expr, want, need, watch, before)                                           \
    lc_refused(ctx, (expr), want, need, watch, before, __LINE__)

#endif
