/* gemm_check.h - shared by the GEMM tests: a case (shapes, views, epilogue,
 * backend), a float64 host reference with a per-element error bound, and a
 * runner that checks every element of C and that two runs agree bitwise.
 *
 * The bound (|got - ref| <= bound for each element of each C view):
 *
 *   The reference is computed in double from exactly the values the device
 *   holds: f16 inputs (A, B, C, bias) are rounded to half on the host before
 *   they are written, so writing them is exact and the reference sees them.
 *   Products of two floats are exact in double and a double sum of at most a
 *   few thousand terms is ~2^-53 relative, so the reference counts as exact.
 *
 *   mag = |alpha| * sum_p |a_ip * b_pj| (summed over the batch entries too for
 *         a batch-reduce) + |beta * c_ij| (only when beta != 0) + |bias|
 *   n   = K (K * batch for a batch-reduce) + 4
 *
 *   Float accumulation, u = 2^-24: each term of alpha*sum(ab) + beta*c + bias
 *   passes through at most K roundings in the dot product (product and adds,
 *   any summation order or k-split), one for alpha, one for the batch-reduce
 *   sum of partials (counted in n through K*batch), and two adds for beta*C
 *   and the bias (beta*c itself one more); so the float result t satisfies
 *   |t - pre| <= gamma_n(u) * mag with gamma_n(u) = n*u / (1 - n*u), n = K+4
 *   being one more than the worst count (no fudge factor needed).
 *   ReLU is 1-Lipschitz, so the same bound holds after it.
 *   f32 output: bound = gamma_n(2^-24) * mag  (the last float op is the rounding).
 *   f16 output: one more rounding to half on store, relative 2^-11 of |t| or
 *   absolute 2^-25 (half the smallest subnormal) near zero:
 *     bound = e + 2^-11 * (|ref| + e) + 2^-25,  e = gamma_n(2^-24) * mag.
 *   A kernel that rounds to half before the end (per batch entry, before the
 *   bias, products formed in half) exceeds this where terms cancel.
 *
 *   Half accumulation (CL16_ACC_HALF on a native-half device, and CLBlast's
 *   HGEMM, which sums in half): the same count with u = 2^-11, plus the
 *   absolute error of half subnormals for each of the n roundings:
 *     e = gamma_n(2^-11) * mag + n * 2^-25, bound = e + 2^-11*(|ref| + e) + 2^-25.
 *   For K = 64 that is about 3.4% of sum|ab|; it grows linearly with K.
 *
 *   Small-integer fills: A, B, C and bias hold integers in -r..r with r chosen
 *   so mag <= 2048; alpha and beta are powers of two (or 0). Every partial sum
 *   is then an integer below 2^11, exactly representable in half and float,
 *   whatever the order or accumulation type, so the result must equal the
 *   reference exactly (compared as values: +0 and -0 are equal).
 */
#ifndef CL16_GEMM_CHECK_H
#define CL16_GEMM_CHECK_H
#include <ctype.h>
#include <math.h>
#include <stdint.h>
#include <time.h>

#include "check.h"

/* ---- random numbers (xorshift64*: reproducible from a seed) ---------------- */
static uint64_t gc_rng_state = 0x9E3779B97F4A7C15ull;
static inline uint64_t gc_next(uint64_t *s) {
    *s ^= *s >> 12, *s ^= *s << 25, *s ^= *s >> 27;
    return *s * 0x2545F4914F6CDD1Dull;
}
static inline uint64_t gc_rand(void) { return gc_next(&gc_rng_state); }
/* Uniform integer in lo..hi. */
static inline int gc_rand_int(int lo, int hi) { return lo + (int)(gc_rand() % (uint64_t)(hi - lo + 1)); }

static inline float gc_round_half(float x) { return cl16_half_to_float(cl16_float_to_half(x)); }
/* The float dtypes, for tests that loop over them. */
static const cl16_dtype DTYPES[3] = {CL16_F32, CL16_F16, CL16_BF16};
static inline float gc_round_bf16(float x) { return cl16_bf16_to_float(cl16_float_to_bf16(x)); }
/* x rounded to dt on the host (f32: unchanged). */
static inline float gc_round16(cl16_dtype dt, float x) {
    return dt == CL16_F16 ? gc_round_half(x) : dt == CL16_BF16 ? gc_round_bf16(x) : x;
}
/* Unit round-off of storing in dt: f16 2^-11, bf16 2^-8 (8 significant bits),
 * f32 0 (the float computation's own error is bounded separately). */
static inline double gc_u_store(cl16_dtype dt) {
    return dt == CL16_F16 ? 0x1p-11 : dt == CL16_BF16 ? 0x1p-8 : 0;
}
/* Absolute error of storing a tiny value in dt: half the smallest subnormal
 * (f16 2^-25; bf16 shares float's range, 2^-134). */
static inline double gc_abs_store(cl16_dtype dt) {
    return dt == CL16_F16 ? 0x1p-25 : dt == CL16_BF16 ? 0x1p-134 : 0;
}
static inline int gc_ci_contains(const char *hay, const char *needle) {
    size_t n = strlen(needle);
    for (; *hay; hay++) {
        size_t i = 0;
        while (i < n && hay[i] && tolower((unsigned char)hay[i]) == tolower((unsigned char)needle[i])) i++;
        if (i == n) return 1;
    }
    return 0;
}
/* 1 when msg contains (case-insensitively) one of the '|'-separated alternatives. */
static inline int gc_mentions(const char *msg, const char *alternatives) {
    char buf[256];
    const char *p = alternatives;
    while (*p) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (len >= sizeof buf) len = sizeof buf - 1;
        memcpy(buf, p, len);
        buf[len] = 0;
        if (len && gc_ci_contains(msg, buf)) return 1;
        p += len + (bar ? 1 : 0);
    }
    return 0;
}

/* Largest |got - ref| / bound seen, by bound kind (f32, f16, half accumulation):
 * how much room the bounds leave, printed by gc_report. */
static double gc_worst[4];
static inline void gc_report(void) {
    printf("largest |error| / bound: f32 %.3g, f16 %.3g, half accumulation %.3g, bf16 %.3g\n",
           gc_worst[0], gc_worst[1], gc_worst[2], gc_worst[3]);
}

/* ---- a case ----------------------------------------------------------------- */
enum { GC_API_GEMM, GC_API_EX, GC_API_SB };
enum { GC_FILL_RANDOM, GC_FILL_INT };
enum { GC_EXPECT_OK, GC_EXPECT_UNSUPPORTED, GC_EXPECT_OK_OR_UNSUPPORTED };

typedef struct gcase {
    cl16_dtype dt;
    int api;               /* which entry point: cl16_gemm, cl16_gemm_ex, cl16_gemm_strided_batched */
    cl16_gemm_desc d;      /* everything but the tensors, which the runner creates */
    int fill;              /* GC_FILL_RANDOM: uniform in [-1, 1); GC_FILL_INT: integers, result exact */
    int c_nan;             /* fill the C views with NaN (beta must be 0: C is not read) */
    int64_t slack;         /* extra elements after the last view element of each tensor */
    int shaped;            /* 2-D (rows x ld) or 3-D (batch x rows x ld) tensors where the view allows */
    int twice;             /* run again on the same input and compare the bytes of C */
    int expect;            /* GC_EXPECT_* */
    int half_acc;          /* use the half-accumulation bound */
    uint64_t seed;         /* data seed; 0 = next from the global generator */
    unsigned char *keep;   /* if keep_result: the raw bytes of C after the call (caller frees) */
    size_t keep_bytes;
    int keep_result;
    cl16_status status;    /* what the call returned */
} gcase;

static inline void gc_init(gcase *g, cl16_dtype dt, int ta, int tb, int64_t m, int64_t n, int64_t k) {
    memset(g, 0, sizeof *g);
    g->dt = dt;
    g->api = GC_API_EX;
    cl16_gemm_desc_init(&g->d);
    g->d.trans_a = ta, g->d.trans_b = tb;
    g->d.m = m, g->d.n = n, g->d.k = k;
    g->d.lda = ta ? m : k;
    g->d.ldb = tb ? k : n;
    g->d.ldc = n;
    g->twice = 1;
}

static inline int gc_reduce(const cl16_gemm_desc *d) { return d->batch > 1 && d->c_stride == 0; }

static inline void gc_describe(const gcase *g, char *buf, size_t len) {
    const cl16_gemm_desc *d = &g->d;
    static const char *api[] = {"gemm", "gemm_ex", "strided_batched"};
    static const char *be[] = {"auto", "own", "clblast"};
    snprintf(buf, len,
             "%s %s %c%c M=%lld N=%lld K=%lld batch=%lld alpha=%g beta=%g%s "
             "A(off %lld ld %lld stride %lld) B(off %lld ld %lld stride %lld) "
             "C(off %lld ld %lld stride %lld)%s%s%s acc=%s backend=%s%s",
             api[g->api], cl16_dtype_name(g->dt), d->trans_a ? 'T' : 'N', d->trans_b ? 'T' : 'N',
             (long long)d->m, (long long)d->n, (long long)d->k, (long long)d->batch, (double)d->alpha,
             (double)d->beta, g->c_nan ? " (C=NaN)" : "", (long long)d->a_offset, (long long)d->lda,
             (long long)d->a_stride, (long long)d->b_offset, (long long)d->ldb, (long long)d->b_stride,
             (long long)d->c_offset, (long long)d->ldc, (long long)d->c_stride,
             d->bias_mode == CL16_BIAS_ROW ? " bias=row" : d->bias_mode == CL16_BIAS_COL ? " bias=col" : "",
             d->activation == CL16_ACT_RELU ? " relu" : "", g->fill == GC_FILL_INT ? " ints" : "",
             d->accumulate == CL16_ACC_HALF ? "half" : "float",
             (unsigned)d->backend < 3 ? be[d->backend] : "?", gc_reduce(d) ? " (batch-reduce)" : "");
}

/* Elements a view needs: from element 0 of the tensor to its last element. */
static inline int64_t gc_need(int64_t off, int64_t ld, int64_t stride, int64_t batch, int64_t rows,
                              int64_t cols) {
    return off + (batch - 1) * stride + (rows - 1) * ld + cols;
}

static inline cl16_tensor *gc_tensor(cl16_ctx *ctx, cl16_dtype dt, const gcase *g, int64_t off,
                                     int64_t ld, int64_t stride, int64_t rows, int64_t cols,
                                     int64_t *numel) {
    int64_t batch = g->d.batch, dims[3];
    int nd = 1;
    if (g->shaped && off == 0 && batch == 1 && !g->slack)
        dims[0] = rows, dims[1] = ld, nd = 2;
    else if (g->shaped && off == 0 && batch > 1 && stride == rows * ld && !g->slack)
        dims[0] = batch, dims[1] = rows, dims[2] = ld, nd = 3;
    else
        dims[0] = gc_need(off, ld, stride, batch, rows, cols) + g->slack;
    *numel = 1;
    for (int i = 0; i < nd; i++) *numel *= dims[i];
    cl16_tensor *t = NULL;
    CHECK_OK(ctx, cl16_tensor_create(ctx, dt, nd, dims, &t));
    return t;
}

static inline float gc_value(const gcase *g, uint64_t *s, int r) {
    float v;
    if (g->fill == GC_FILL_INT) v = (float)((int)(gc_next(s) % (uint64_t)(2 * r + 1)) - r);
    else v = (float)((double)(gc_next(s) >> 40) / 8388608.0 - 1.0);
    return gc_round16(g->dt, v);
}

/* Seconds since the first call; sections print it so slow parts show up. */
static inline double gc_seconds(void) {
    static struct timespec t0;
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    if (!t0.tv_sec && !t0.tv_nsec) t0 = t;
    return (double)(t.tv_sec - t0.tv_sec) + 1e-9 * (double)(t.tv_nsec - t0.tv_nsec);
}
static inline void gc_section(const char *name) {
    printf("[%7.2f s] %s\n", gc_seconds(), name);
    fflush(stdout);
}

static inline double gc_gamma(double n, double u) { return n * u / (1.0 - n * u); }

static inline cl16_status gc_call(cl16_ctx *ctx, const gcase *g, const cl16_gemm_desc *d) {
    switch (g->api) {
    case GC_API_GEMM:
        return cl16_gemm(ctx, d->trans_a, d->trans_b, d->m, d->n, d->k, d->alpha, d->a, d->lda, d->b,
                         d->ldb, d->beta, d->c, d->ldc);
    case GC_API_SB:
        return cl16_gemm_strided_batched(ctx, d->trans_a, d->trans_b, d->m, d->n, d->k, d->alpha, d->a,
                                         d->a_offset, d->lda, d->a_stride, d->b, d->b_offset, d->ldb,
                                         d->b_stride, d->beta, d->c, d->c_offset, d->ldc, d->c_stride,
                                         d->batch);
    default:
        return cl16_gemm_ex(ctx, d);
    }
}

/* Runs one case and checks it; returns 1 when the GEMM ran (and was checked),
 * 0 when it was refused as the case expected (or failed). */
static inline int gc_run(cl16_ctx *ctx, gcase *g) {
    cl16_gemm_desc d = g->d;
    char what[512];
    gc_describe(g, what, sizeof what);
    const int ta = d.trans_a, tb = d.trans_b, reduce = gc_reduce(&d);
    const int64_t m = d.m, n = d.n, k = d.k, batch = d.batch;
    const int64_t ar = ta ? k : m, ac = ta ? m : k, br = tb ? n : k, bc = tb ? k : n;
    int64_t bias_len = d.bias_mode == CL16_BIAS_ROW ? m : d.bias_mode == CL16_BIAS_COL ? n : 0;
    if (g->api == GC_API_GEMM && (batch != 1 || d.a_offset || d.b_offset || d.c_offset || bias_len ||
                                  d.activation || d.accumulate || d.backend)) {
        fprintf(stderr, "test bug: cl16_gemm case with desc-only fields: %s\n", what);
        exit(2);
    }
    if (g->c_nan && d.beta != 0) {
        fprintf(stderr, "test bug: NaN C with beta != 0: %s\n", what);
        exit(2);
    }
    size_t es = cl16_dtype_size(g->dt);
    int64_t na, nb, nc, nbias = 0;
    cl16_tensor *A = gc_tensor(ctx, g->dt, g, d.a_offset, d.lda, d.a_stride, ar, ac, &na);
    cl16_tensor *B = gc_tensor(ctx, g->dt, g, d.b_offset, d.ldb, d.b_stride, br, bc, &nb);
    cl16_tensor *C = gc_tensor(ctx, g->dt, g, d.c_offset, d.ldc, reduce ? 0 : d.c_stride, m, n, &nc);
    cl16_tensor *BIAS = NULL;
    if (bias_len) {
        nbias = d.bias_offset + bias_len + g->slack;
        CHECK_OK(ctx, cl16_tensor_create(ctx, g->dt, 1, &nbias, &BIAS));
    }
    if (!A || !B || !C || (bias_len && !BIAS)) exit(1);
    d.a = A, d.b = B, d.c = C, d.bias = BIAS;

    /* Integer range: the largest r in 3..1 that keeps every partial sum an
     * integer of at most 2^11 and the result a multiple of q of at most 2^11 q,
     * q the finest power of two among alpha and beta (so all are exact in half). */
    int64_t terms = k * (reduce ? batch : 1);
    int r = 3;
    double q = 1;
    if (d.alpha != 0 && fabs(d.alpha) < 1) q = fabs(d.alpha);
    if (d.beta != 0 && fabs(d.beta) < q) q = fabs(d.beta);
#define GC_INT_FITS(r)                                                                          \
    ((double)(r) * (r) * terms <= 2048 &&                                                       \
     (double)(r) * (r) * terms * fabs(d.alpha) + (r) * fabs(d.beta) + (bias_len ? (r) : 0) <= 2048 * q)
    while (r > 1 && !GC_INT_FITS(r)) r--;
    if (g->fill == GC_FILL_INT) {
        int frac_a, frac_b;
        int pow2 = (d.alpha == 0 || frexp(fabs(d.alpha), &frac_a) == 0.5) &&
                   (d.beta == 0 || frexp(fabs(d.beta), &frac_b) == 0.5);
        if (!GC_INT_FITS(r) || !pow2) {
            fprintf(stderr, "test bug: integer case cannot be exact: %s\n", what);
            exit(2);
        }
    }
#undef GC_INT_FITS
    uint64_t s = g->seed ? g->seed : gc_rand() | 1;
    float *a = malloc(sizeof(float) * (size_t)na), *b = malloc(sizeof(float) * (size_t)nb);
    float *c0 = malloc(sizeof(float) * (size_t)nc), *c = malloc(sizeof(float) * (size_t)nc);
    float *bias = malloc(sizeof(float) * (size_t)(nbias + 1));
    unsigned char *in_view = calloc((size_t)nc, 1);
    unsigned char *raw0 = malloc(es * (size_t)nc), *raw1 = malloc(es * (size_t)nc);
    unsigned char *raw2 = malloc(es * (size_t)nc);
    for (int64_t i = 0; i < na; i++) a[i] = gc_value(g, &s, r);
    for (int64_t i = 0; i < nb; i++) b[i] = gc_value(g, &s, r);
    for (int64_t i = 0; i < nc; i++) c0[i] = gc_value(g, &s, r);
    for (int64_t i = 0; i < nbias; i++) bias[i] = gc_value(g, &s, r);
    for (int64_t e = 0; e < (reduce ? 1 : batch); e++)
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < n; j++) {
                int64_t idx = d.c_offset + e * d.c_stride + i * d.ldc + j;
                in_view[idx] = 1;
                if (g->c_nan) c0[idx] = NAN;
            }
    CHECK_OK(ctx, cl16_tensor_write_f32(A, a, (size_t)na));
    CHECK_OK(ctx, cl16_tensor_write_f32(B, b, (size_t)nb));
    CHECK_OK(ctx, cl16_tensor_write_f32(C, c0, (size_t)nc));
    if (BIAS) CHECK_OK(ctx, cl16_tensor_write_f32(BIAS, bias, (size_t)nbias));
    CHECK_OK(ctx, cl16_tensor_read_raw(C, raw0, es * (size_t)nc));

    cl16_ctx_stats st0, st1;
    cl16_ctx_stats_get(ctx, &st0);
    cl16_status rc = gc_call(ctx, g, &d);
    cl16_ctx_stats_get(ctx, &st1);
    g->status = rc;
    int ran = 0;
    if (rc != CL16_OK) {
        int expected = rc == CL16_ERR_UNSUPPORTED && g->expect != GC_EXPECT_OK;
        CHECK_MSG(expected, "%s: %s: %s", what, cl16_status_str(rc), cl16_ctx_last_error(ctx));
        if (expected) CHECK_MSG(cl16_ctx_last_error(ctx)[0] != 0, "%s: refused without a message", what);
        CHECK_OK(ctx, cl16_tensor_read_raw(C, raw1, es * (size_t)nc));
        CHECK_MSG(!memcmp(raw0, raw1, es * (size_t)nc), "%s: refused, yet C changed", what);
        CHECK_MSG(st1.gemm_calls == st0.gemm_calls, "%s: refused, yet gemm_calls moved", what);
        goto done;
    }
    CHECK_MSG(g->expect != GC_EXPECT_UNSUPPORTED, "%s: ran, but should be CL16_ERR_UNSUPPORTED", what);
    CHECK_MSG(st1.gemm_calls == st0.gemm_calls + 1, "%s: gemm_calls went %llu -> %llu", what,
              (unsigned long long)st0.gemm_calls, (unsigned long long)st1.gemm_calls);
    double flops = 2.0 * (double)m * (double)n * (double)k * (double)batch;
    CHECK_MSG(fabs(st1.gemm_flops - st0.gemm_flops - flops) <= 1e-9 * flops,
              "%s: gemm_flops grew by %.17g, want %.17g", what, st1.gemm_flops - st0.gemm_flops, flops);
    ran = 1;
    CHECK_OK(ctx, cl16_tensor_read_f32(C, c, (size_t)nc));
    CHECK_OK(ctx, cl16_tensor_read_raw(C, raw1, es * (size_t)nc));

    /* Every element of every view against the reference. */
    const double u_acc = g->half_acc ? 0x1p-11 : 0x1p-24;
    const double u_out = gc_u_store(g->dt);
    const int exact = g->fill == GC_FILL_INT;
    const int64_t sa = ta ? d.lda : 1, sb = tb ? 1 : d.ldb;
    int64_t bad = 0, nonzero = 0, nonzero_ref = 0;
    const int kind = g->half_acc ? 2 : g->dt == CL16_F16 ? 1 : g->dt == CL16_BF16 ? 3 : 0;
    for (int64_t e = 0; e < (reduce ? 1 : batch); e++)
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < n; j++) {
                double sum = 0, mag = 0;
                for (int64_t bb = reduce ? 0 : e; bb < (reduce ? batch : e + 1); bb++) {
                    const float *ap = a + d.a_offset + bb * d.a_stride + (ta ? i : i * d.lda);
                    const float *bp = b + d.b_offset + bb * d.b_stride + (tb ? j * d.ldb : j);
                    for (int64_t p = 0; p < k; p++) {
                        double x = (double)ap[p * sa] * (double)bp[p * sb];
                        sum += x, mag += fabs(x);
                    }
                }
                int64_t idx = d.c_offset + e * d.c_stride + i * d.ldc + j;
                double pre = (double)d.alpha * sum;
                mag *= fabs((double)d.alpha);
                if (d.beta != 0) pre += (double)d.beta * c0[idx], mag += fabs((double)d.beta * c0[idx]);
                if (bias_len) {
                    double bv = bias[d.bias_offset + (d.bias_mode == CL16_BIAS_ROW ? i : j)];
                    pre += bv, mag += fabs(bv);
                }
                double ref = d.activation == CL16_ACT_RELU && pre < 0 ? 0 : pre;
                double nn = (double)terms + 4;
                double err = gc_gamma(nn, u_acc) * mag + (g->half_acc ? nn * 0x1p-25 : 0);
                double bound = err + (g->dt != CL16_F32 ? u_out * (fabs(ref) + err) + gc_abs_store(g->dt) : 0);
                double got = c[idx];
                /* Small-integer results are exact in f16 (up to 2048 here) but
                 * bf16 holds integers exactly only up to 256. */
                const int ex = exact && (g->dt != CL16_BF16 || fabs(ref) <= 256);
                int ok = ex ? got == ref : fabs(got - ref) <= bound;
                if (!ok && bad++ < 4)
                    fprintf(stderr, "%s: C[%lld](entry %lld, %lld, %lld) = %.9g, want %.9g (|diff| %.3g, bound %.3g)\n",
                            what, (long long)idx, (long long)e, (long long)i, (long long)j, got, ref,
                            fabs(got - ref), ex ? 0.0 : bound);
                if (ok && !ex && bound > 0 && fabs(got - ref) / bound > gc_worst[kind])
                    gc_worst[kind] = fabs(got - ref) / bound;
                nonzero += got != 0;
                nonzero_ref += ref != 0;
            }
    CHECK_MSG(bad == 0, "%s: %lld element(s) out of bounds", what, (long long)bad);
    CHECK_MSG(nonzero > 0 || nonzero_ref == 0, "%s: all-zero output", what);
    /* Outside the views: untouched, bit for bit. */
    int64_t stray = 0;
    for (int64_t i = 0; i < nc; i++)
        if (!in_view[i] && memcmp(raw0 + (size_t)i * es, raw1 + (size_t)i * es, es) && stray++ < 3)
            fprintf(stderr, "%s: C[%lld] outside the views changed\n", what, (long long)i);
    CHECK_MSG(stray == 0, "%s: %lld element(s) outside the views written", what, (long long)stray);

    if (g->twice) {
        CHECK_OK(ctx, cl16_tensor_write_raw(C, raw0, es * (size_t)nc));
        CHECK_OK(ctx, gc_call(ctx, g, &d));
        CHECK_OK(ctx, cl16_tensor_read_raw(C, raw2, es * (size_t)nc));
        CHECK_MSG(!memcmp(raw1, raw2, es * (size_t)nc), "%s: two identical runs differ", what);
    }
    if (g->keep_result) {
        g->keep = malloc(es * (size_t)nc);
        memcpy(g->keep, raw1, es * (size_t)nc);
        g->keep_bytes = es * (size_t)nc;
    }
done:
    cl16_tensor_free(A), cl16_tensor_free(B), cl16_tensor_free(C), cl16_tensor_free(BIAS);
    free(a), free(b), free(c0), free(c), free(bias), free(in_view), free(raw0), free(raw1), free(raw2);
    return ran;
}

/* The status CLBlast must give for dtype dt on this context's device: f32 runs;
 * f16 runs only where the device reports cl_khr_fp16 (CLBlast's own rule). */
static inline int gc_clblast_expect(cl16_ctx *ctx, cl16_dtype dt) {
    if (dt == CL16_F32) return GC_EXPECT_OK;
    if (dt == CL16_BF16) return GC_EXPECT_UNSUPPORTED; /* CLBlast has no bf16 GEMM */
    return cl16_ctx_device(ctx)->has_fp16_ext ? GC_EXPECT_OK : GC_EXPECT_UNSUPPORTED;
}
#endif
