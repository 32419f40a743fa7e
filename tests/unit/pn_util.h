/* pn_util.h - host helpers of the pooling and batch-norm tests: a seeded RNG,
 * tensors from host arrays, half rounding, and element-wise bound checks. */
#ifndef CL16_PN_UTIL_H
#define CL16_PN_UTIL_H
#include <math.h>
#include <stdarg.h>
#include <stdint.h>

#include "check.h"

#define U32 (1.0 / 16777216.0) /* unit round-off of float, 2^-24 */
#define U16 (1.0 / 2048.0)     /* unit round-off of half, 2^-11 */

static uint64_t pn_state = 0x9e3779b97f4a7c15ull;
static inline void pn_seed(uint64_t s) {
    pn_state = s * 0x9e3779b97f4a7c15ull + 1;
}
/* Uniform in [-1, 1). */
static inline double pn_uniform(void) {
    pn_state ^= pn_state << 13, pn_state ^= pn_state >> 7, pn_state ^= pn_state << 17;
    return (double)(pn_state >> 11) / 9007199254740992.0 * 2.0 - 1.0;
}
static inline float *pn_alloc(size_t n) {
    float *p = calloc(n ? n : 1, sizeof(float));
    if (!p) {
        fprintf(stderr, "out of host memory\n");
        exit(1);
    }
    return p;
}
static inline float *pn_random(size_t n, double scale) {
    float *p = pn_alloc(n);
    for (size_t i = 0; i < n; i++)
        p[i] = (float)(pn_uniform() * scale);
    return p;
}
/* Rounds v to what a tensor of dtype dt holds. */
static inline float pn_round(cl16_dtype dt, float v) {
    return dt == CL16_F16    ? cl16_half_to_float(cl16_float_to_half(v))
           : dt == CL16_BF16 ? cl16_bf16_to_float(cl16_float_to_bf16(v))
                             : v;
}
/* The float dtypes, for tests that loop over them. */
static const cl16_dtype PN_DTYPES[3] = {CL16_F32, CL16_F16, CL16_BF16};
/* Unit round-off of storing in dt: U16 for f16, 2^-8 for bf16, 0 for f32. */
static inline double pn_u(cl16_dtype dt) {
    return dt == CL16_F16 ? U16 : dt == CL16_BF16 ? 1.0 / 256.0 : 0.0;
}
static inline void pn_round_all(cl16_dtype dt, float *p, size_t n) {
    for (size_t i = 0; i < n; i++)
        p[i] = pn_round(dt, p[i]);
}
static inline int64_t pn_numel(int nd, const int64_t *d) {
    int64_t n = 1;
    for (int i = 0; i < nd; i++)
        n *= d[i];
    return n;
}
/* A tensor of shape d holding data (NULL: filled with fill). Exits on failure. */
static inline cl16_tensor *pn_tensor(cl16_ctx *ctx, cl16_dtype dt, int nd, const int64_t *d,
                                     const float *data, float fill) {
    cl16_tensor *t;
    cl16_status s = cl16_tensor_create(ctx, dt, nd, d, &t);
    if (!s)
        s = data ? cl16_tensor_write_f32(t, data, (size_t)pn_numel(nd, d))
                 : cl16_tensor_fill(t, fill);
    if (s) {
        fprintf(stderr, "tensor setup: %s: %s\n", cl16_status_str(s), cl16_ctx_last_error(ctx));
        exit(1);
    }
    return t;
}
static inline float *pn_read(cl16_ctx *ctx, const cl16_tensor *t) {
    size_t n = (size_t)cl16_tensor_numel(t);
    float *p = pn_alloc(n);
    CHECK_OK(ctx, cl16_tensor_read_f32(t, p, n));
    return p;
}
static inline int32_t *pn_read_i32(cl16_ctx *ctx, const cl16_tensor *t) {
    size_t n = (size_t)cl16_tensor_numel(t);
    int32_t *p = calloc(n, sizeof *p);
    if (!p)
        exit(1);
    CHECK_OK(ctx, cl16_tensor_read_raw(t, p, n * 4));
    return p;
}
/* Counts elements with |got - ref| > bound[i] (or non-finite got with a
 * finite ref) and reports the first few; returns the count. */
static inline int pn_compare(const char *what, const float *got, const double *ref,
                             const double *bound, size_t n) {
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)got[i] - ref[i]);
        if (!(e <= bound[i])) {
            if (bad < 5)
                fprintf(stderr, "  %s[%zu]: got %.9g, reference %.9g, |error| %.3g > bound %.3g\n",
                        what, i, (double)got[i], ref[i], e, bound[i]);
            bad++;
        }
    }
    CHECK_MSG(bad == 0, "%s: %d of %zu elements outside the bound", what, bad, n);
    return bad;
}
/* 1 when every element is exactly 0 (a kernel that wrote nothing). */
static inline int pn_all_zero(const float *p, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (p[i] != 0.0f)
            return 0;
    return 1;
}
/* 1 when tensor t still holds value v everywhere (outputs untouched by a failed call). */
static inline int pn_holds(cl16_ctx *ctx, const cl16_tensor *t, float v) {
    float *p = pn_read(ctx, t);
    int ok = 1;
    for (int64_t i = 0; i < cl16_tensor_numel(t); i++)
        ok &= p[i] == v;
    free(p);
    return ok;
}
/* Status s with a message containing every one of the (NULL-terminated) words. */
static inline void pn_expect_fail(cl16_ctx *ctx, int line, cl16_status s, cl16_status want, ...) {
    const char *msg = cl16_ctx_last_error(ctx);
    if (s != want) {
        fprintf(stderr, "line %d: status %s, expected %s (%s)\n", line, cl16_status_str(s),
                cl16_status_str(want), msg);
        check_failures++;
        return;
    }
    va_list ap;
    va_start(ap, want);
    for (const char *w = va_arg(ap, const char *); w; w = va_arg(ap, const char *))
        if (!strstr(msg, w)) {
            fprintf(stderr, "line %d: message '%s' lacks '%s'\n", line, msg, w);
            check_failures++;
        }
    va_end(ap);
}
#define EXPECT_FAIL(ctx, expr, want, ...)                                                          \
    pn_expect_fail(ctx, __LINE__, (expr), want, __VA_ARGS__, NULL)
#endif
