/* test_loss.c - softmax cross-entropy against a float64 reference (loss,
 * argmax hits, gradient) in f32, f16 and bf16: batch 1 to 128, 1 to 100 classes,
 * logits offset by 1e4, ties, loss scale, finite-difference gradients, f16
 * against f32, NaN/inf logits, bad labels, reproducibility, refused arguments.
 *
 * Bounds (u = 2^-24; the device computes in float, exp and log within 4 ulp,
 * which covers OpenCL's 3-ulp requirement):
 *   t_j = x_j - m (exact for f16 inputs, |t_j| u for f32), e_j = exp(t_j)
 *   relative (4 + |t_j|) u; s = sum e_j: relative (C + sum_j p_j (4 + |t_j|)) u
 *   <= (2C + 4) u since p_j |t_j| <= 1/e; log s adds 4u|log s|; x_l - m and
 *   the final subtraction one rounding each:
 *     loss bound  = (2C + 4) u + 5u |log s| + u |x_l - m| + 2u |loss|.
 *   p_j = e_j / s (division 3 ulp): p_j (2C + 11 + |t_j|) u; minus the one-hot
 *   u; times scale/N (rounded once on the host) and its product 2u |g|:
 *     grad bound  = |scale/N| (p_j (2C + 11 + |t_j|) u + u) + 2u |g|, then f16.
 *   Both are doubled: the derivation uses first-order terms only. */
#include "layer_check.h"

static cl16_ctx *ctx;

typedef struct ref {
    double loss, loss_bound; /* mean and its bound */
    int64_t correct;
    double *g, *g_bound;
} ref;

static void reference(cl16_dtype dt, const float *x, const int *lab, int64_t n, int64_t c,
                      float scale, ref *r) {
    r->g = malloc((size_t)(n * c) * sizeof(double)),
    r->g_bound = malloc((size_t)(n * c) * sizeof(double));
    r->loss = 0, r->loss_bound = 0, r->correct = 0;
    const double gs = (double)(float)((double)scale / (double)n);
    for (int64_t i = 0; i < n; i++) {
        const float *xi = x + i * c;
        double m = xi[0];
        int64_t arg = 0;
        for (int64_t j = 1; j < c; j++)
            if (xi[j] > m)
                m = xi[j], arg = j;
        double s = 0;
        for (int64_t j = 0; j < c; j++)
            s += exp(xi[j] - m);
        const double dl = xi[lab[i]] - m, li = log(s) - dl;
        r->loss += li;
        r->loss_bound += 2.0 * LC_U * ((2.0 * c + 4) + 5 * fabs(log(s)) + fabs(dl) + 2 * fabs(li));
        r->correct += arg == lab[i];
        for (int64_t j = 0; j < c; j++) {
            const double t = xi[j] - m, p = exp(t) / s, g = (p - (j == lab[i])) * gs;
            r->g[i * c + j] = g;
            double e = 2.0 * (fabs(gs) * (p * (2.0 * c + 11 + fabs(t)) * LC_U + LC_U) +
                              2 * LC_U * fabs(g));
            if (dt != CL16_F32)
                e += gc_u_store(dt) * (fabs(g) + e) + gc_abs_store(dt);
            r->g_bound[i * c + j] = e;
        }
    }
    r->loss /= (double)n, r->loss_bound /= (double)n;
    r->loss_bound += 1e-15 * fabs(r->loss);
}

typedef struct run {
    cl16_status status;
    double loss;
    int64_t correct;
    float *g;
} run;

static run device(cl16_dtype dt, const float *x, const int *lab, int64_t n, int64_t c, float scale,
                  int inplace) {
    cl16_tensor *tx = lc_tensor2(ctx, dt, n, c, x), *tl = lc_tensor1(ctx, CL16_I32, n, NULL);
    float *lf = malloc((size_t)n * 4);
    for (int64_t i = 0; i < n; i++)
        lf[i] = (float)lab[i];
    CHECK_OK(ctx, cl16_tensor_write_f32(tl, lf, (size_t)n));
    free(lf);
    cl16_tensor *tg = inplace ? tx : lc_tensor2(ctx, dt, n, c, NULL);
    if (!inplace)
        CHECK_OK(ctx, cl16_tensor_fill(tg, NAN)); /* every element must be written */
    run r = {CL16_OK, NAN, -1, NULL};
    r.status = cl16_softmax_xent(ctx, tx, tl, scale, &r.loss, &r.correct, tg);
    r.g = lc_read(ctx, tg);
    if (!inplace)
        cl16_tensor_free(tg);
    cl16_tensor_free(tx), cl16_tensor_free(tl);
    return r;
}

/* Runs on the device and checks against the reference; returns the run. */
static run check(const char *what, cl16_dtype dt, const float *x, const int *lab, int64_t n,
                 int64_t c, float scale) {
    ref r;
    reference(dt, x, lab, n, c, scale, &r);
    run d = device(dt, x, lab, n, c, scale, 0);
    const char *dn = cl16_dtype_name(dt);
    CHECK_MSG(d.status == CL16_OK, "%s %s: %s", what, dn, cl16_ctx_last_error(ctx));
    CHECK_MSG(fabs(d.loss - r.loss) <= r.loss_bound,
              "%s %s N=%lld C=%lld: loss %.12g, ref %.12g (bound %.3g)", what, dn, (long long)n,
              (long long)c, d.loss, r.loss, r.loss_bound);
    CHECK_MSG(d.correct == r.correct, "%s %s: correct %lld, ref %lld", what, dn,
              (long long)d.correct, (long long)r.correct);
    int bad = 0;
    for (int64_t i = 0; i < n * c; i++)
        if (!(fabs(d.g[i] - r.g[i]) <= r.g_bound[i]) && bad++ < 5)
            CHECK_MSG(0,
                      "%s %s N=%lld C=%lld scale=%g: dlogits[%lld] = %.9g, ref %.9g (bound %.3g)",
                      what, dn, (long long)n, (long long)c, (double)scale, (long long)i,
                      (double)d.g[i], r.g[i], r.g_bound[i]);
    free(r.g), free(r.g_bound);
    return d;
}

static void random_case(cl16_dtype dt, int64_t n, int64_t c, float lo, float hi, float scale) {
    float *x = malloc((size_t)(n * c) * 4);
    int *lab = malloc((size_t)n * sizeof *lab);
    for (int64_t i = 0; i < n * c; i++)
        x[i] = lc_rand(dt, lo, hi);
    for (int64_t i = 0; i < n; i++)
        lab[i] = gc_rand_int(0, (int)c - 1);
    run d = check("random", dt, x, lab, n, c, scale);
    free(d.g), free(x), free(lab);
}

static void test_values(cl16_dtype dt) {
    const int64_t ns[] = {1, 4, 32, 128}, cs[] = {1, 10, 100};
    for (int a = 0; a < 4; a++)
        for (int b = 0; b < 3; b++)
            random_case(dt, ns[a], cs[b], -4, 4, 1.0f);
    random_case(dt, 32, 10, -4, 4, 1024.0f); /* loss scale */
    random_case(dt, 16, 10, -20, 20, 1.0f);  /* confident predictions */

    /* Large common offsets: exp(1e4) overflows, log-sum-exp must not. */
    const int64_t n = 6, c = 10;
    float x[60];
    int lab[6];
    const float off[6] = {1e4f, -1e4f, 3e4f, -3e4f, 6e4f, 0};
    for (int64_t i = 0; i < n; i++) {
        for (int64_t j = 0; j < c; j++)
            /* bf16's spacing at 6e4 is 256: a wider spread keeps the logits apart. */
            x[i * c + j] = dt == CL16_F16    ? gc_round_half(off[i] + lc_rand(dt, -40, 40))
                           : dt == CL16_BF16 ? gc_round_bf16(off[i] + lc_rand(CL16_F32, -2000, 2000))
                                             : off[i] + lc_rand(dt, -4, 4);
        lab[i] = (int)(i % c);
    }
    run d = check("offsets", dt, x, lab, n, c, 1.0f);
    CHECK(isfinite(d.loss) && d.loss > 0);
    free(d.g);

    /* Ties: argmax takes the first maximum. */
    float t[3 * 10];
    for (int j = 0; j < 30; j++)
        t[j] = 0.5f;
    t[10 + 2] = t[10 + 5] = 2.0f; /* sample 1: maxima at 2 and 5 */
    t[20 + 7] = t[20 + 9] = 3.0f; /* sample 2: maxima at 7 and 9 */
    int tl[3] = {0, 2, 9};        /* hits: 0 yes (all equal), 2 yes, 9 no */
    d = check("ties", dt, t, tl, 3, 10, 1.0f);
    CHECK(d.correct == 2);
    free(d.g);
    int tl2[3] = {3, 5, 7};
    d = check("ties", dt, t, tl2, 3, 10, 1.0f);
    CHECK(d.correct == 1);
    free(d.g);

    /* One class: loss 0, gradient 0, every sample correct. */
    float one[4] = {1, -3, 100, 0};
    int zl[4] = {0, 0, 0, 0};
    d = check("one class", dt, one, zl, 4, 1, 1.0f);
    CHECK(d.loss == 0.0 && d.correct == 4);
    for (int i = 0; i < 4; i++)
        CHECK(d.g[i] == 0.0f);
    free(d.g);
}

/* Finite differences in f32: L = the mean loss the call returns. Moving one
 * logit of sample i changes only loss_i (the others are recomputed with the
 * same bits), so the central difference (L+ - L-) / delta, delta the actual
 * float distance of the two values, is within
 *   (b+ + b-) / (N delta)        rounding: b = the per-sample loss bound above
 *   + (delta/2)^2 / 6 * 0.0963/N truncation: |d^3 lse / dx_j^3| = |p(1-p)(1-2p)| <= 1/(6 sqrt 3)
 * of the derivative; plus the gradient's own bound. With C = 10, h = 2^-5:
 * ~2e-5 + ~2e-5 against gradients of order 1e-2. */
static void test_finite_differences(void) {
    const int64_t n = 3, c = 10;
    float x[30];
    int lab[3] = {1, 4, 9};
    for (int i = 0; i < 30; i++)
        x[i] = lc_rand(CL16_F32, -3, 3);
    ref r;
    reference(CL16_F32, x, lab, n, c, 1.0f, &r);
    run g = device(CL16_F32, x, lab, n, c, 1.0f, 0);
    const float h = 0.03125f;
    for (int64_t k = 0; k < n * c; k++) {
        const float keep = x[k], plus = keep + h, minus = keep - h;
        x[k] = plus;
        run a = device(CL16_F32, x, lab, n, c, 1.0f, 0);
        ref ra;
        reference(CL16_F32, x, lab, n, c, 1.0f, &ra);
        x[k] = minus;
        run b = device(CL16_F32, x, lab, n, c, 1.0f, 0);
        ref rb;
        reference(CL16_F32, x, lab, n, c, 1.0f, &rb);
        x[k] = keep;
        const double delta = (double)plus - (double)minus, fd = (a.loss - b.loss) / delta;
        /* ra/rb.loss_bound are means (per-sample bounds / N), as needed here. */
        const double tol = (ra.loss_bound + rb.loss_bound) / delta +
                           delta * delta / 24.0 * 0.0963 / (double)n + r.g_bound[k];
        CHECK_MSG(fabs(fd - g.g[k]) <= tol,
                  "finite difference of logit %lld: %.9g, gradient %.9g (tol %.3g)", (long long)k,
                  fd, (double)g.g[k], tol);
        free(a.g), free(b.g), free(ra.g), free(ra.g_bound), free(rb.g), free(rb.g_bound);
    }
    free(g.g), free(r.g), free(r.g_bound);
}

/* f16 against f32 on the same half-rounded logits: within the sum of bounds. */
static void test_f16_vs_f32(void) {
    const int64_t n = 64, c = 10;
    float *x = malloc((size_t)(n * c) * 4);
    int lab[64];
    for (int64_t i = 0; i < n * c; i++)
        x[i] = lc_rand(CL16_F16, -6, 6);
    for (int i = 0; i < 64; i++)
        lab[i] = gc_rand_int(0, 9);
    ref rh, rf;
    reference(CL16_F16, x, lab, n, c, 1.0f, &rh), reference(CL16_F32, x, lab, n, c, 1.0f, &rf);
    run h = device(CL16_F16, x, lab, n, c, 1.0f, 0), f = device(CL16_F32, x, lab, n, c, 1.0f, 0);
    CHECK(fabs(h.loss - f.loss) <= rh.loss_bound + rf.loss_bound && h.correct == f.correct);
    int bad = 0;
    for (int64_t i = 0; i < n * c; i++)
        if (!(fabs(h.g[i] - f.g[i]) <= rh.g_bound[i] + rf.g_bound[i]) && bad++ < 5)
            CHECK_MSG(0, "f16 dlogits[%lld] = %g, f32 %g", (long long)i, (double)h.g[i],
                      (double)f.g[i]);
    free(h.g), free(f.g), free(rh.g), free(rh.g_bound), free(rf.g), free(rf.g_bound), free(x);
}

static void test_repeat_inplace_counters(cl16_dtype dt) {
    const int64_t n = 128, c = 10;
    float *x = malloc((size_t)(n * c) * 4);
    int lab[128];
    for (int64_t i = 0; i < n * c; i++)
        x[i] = lc_rand(dt, -5, 5);
    for (int i = 0; i < 128; i++)
        lab[i] = gc_rand_int(0, 9);
    cl16_ctx_stats s0, s1;
    cl16_ctx_stats_get(ctx, &s0);
    run a = device(dt, x, lab, n, c, 8.0f, 0);
    cl16_ctx_stats_get(ctx, &s1);
    CHECK(s1.op_flops > s0.op_flops && s1.op_bytes > s0.op_bytes);
    run b = device(dt, x, lab, n, c, 8.0f, 0), p = device(dt, x, lab, n, c, 8.0f, 1);
    CHECK(a.status == CL16_OK && b.status == CL16_OK && p.status == CL16_OK);
    CHECK(!memcmp(&a.loss, &b.loss, sizeof a.loss) && a.correct == b.correct);
    CHECK(!memcmp(a.g, b.g, (size_t)(n * c) * 4));
    CHECK(!memcmp(&a.loss, &p.loss, sizeof a.loss) && !memcmp(a.g, p.g, (size_t)(n * c) * 4));
    free(a.g), free(b.g), free(p.g), free(x);
}

static void test_nonfinite(cl16_dtype dt) {
    float x[30];
    int lab[3] = {0, 1, 2};
    for (int i = 0; i < 30; i++)
        x[i] = lc_rand(dt, -1, 1);
    const float bad[2] = {NAN, INFINITY};
    for (int k = 0; k < 2; k++) {
        x[10 + 3] = bad[k]; /* sample 1 */
        run d = device(dt, x, lab, 3, 10, 1.0f, 0);
        CHECK_MSG(d.status == CL16_ERR_NUMERIC, "%s logit: %s", k ? "inf" : "NaN",
                  cl16_status_str(d.status));
        CHECK(gc_mentions(cl16_ctx_last_error(ctx), "NaN or infinity") &&
              gc_mentions(cl16_ctx_last_error(ctx), "sample 1"));
        CHECK(!isfinite(d.loss) && d.correct >= 0);
        for (int j = 0; j < 10; j++)
            CHECK(isfinite(d.g[j]) && isfinite(d.g[20 + j])); /* others written */
        free(d.g);
    }
}

static void test_refused(void) {
    const cl16_dtype f = CL16_F32;
    cl16_tensor *x = lc_tensor2(ctx, f, 4, 10, NULL), *g = lc_tensor2(ctx, f, 4, 10, NULL);
    cl16_tensor *l = lc_tensor1(ctx, CL16_I32, 4, NULL), *lf = lc_tensor1(ctx, f, 4, NULL);
    cl16_tensor *l5 = lc_tensor1(ctx, CL16_I32, 5, NULL), *g_bad = lc_tensor2(ctx, f, 4, 11, NULL);
    cl16_tensor *gh = lc_tensor2(ctx, CL16_F16, 4, 10, NULL), *x1 = lc_tensor1(ctx, f, 40, NULL);
    CHECK_OK(ctx, cl16_tensor_fill(x, 0.25f));
    CHECK_OK(ctx, cl16_tensor_fill(g, 9.0f));
    unsigned char *gb = lc_raw(ctx, g);
    double loss = 123.0;
    int64_t correct = 77;
    /* Out-of-range labels: the sample and the value are named, nothing is written. */
    const float labs[2][4] = {{0, 1, -1, 3}, {0, 1, 10, 3}};
    for (int k = 0; k < 2; k++) {
        CHECK_OK(ctx, cl16_tensor_write_f32(l, labs[k], 4));
        LC_REFUSED(ctx, cl16_softmax_xent(ctx, x, l, 1.0f, &loss, &correct, g),
                   CL16_ERR_INVALID_ARG, k ? "labels[2] = 10" : "labels[2] = -1", g, gb);
        CHECK(loss == 123.0 && correct == 77);
    }
    const float good[4] = {0, 1, 2, 3};
    CHECK_OK(ctx, cl16_tensor_write_f32(l, good, 4));
    LC_REFUSED(ctx, cl16_softmax_xent(ctx, x, lf, 1.0f, &loss, &correct, g), CL16_ERR_SHAPE,
               "labels is f32", g, gb);
    LC_REFUSED(ctx, cl16_softmax_xent(ctx, x, l5, 1.0f, &loss, &correct, g), CL16_ERR_SHAPE,
               "labels has shape [5], expected [4]", g, gb);
    LC_REFUSED(ctx, cl16_softmax_xent(ctx, x, l, 1.0f, &loss, &correct, g_bad), CL16_ERR_SHAPE,
               "dlogits has shape [4,11], expected [4,10]", g, gb);
    LC_REFUSED(ctx, cl16_softmax_xent(ctx, x, l, 1.0f, &loss, &correct, gh), CL16_ERR_SHAPE,
               "dlogits is f16", g, gb);
    LC_REFUSED(ctx, cl16_softmax_xent(ctx, x1, l, 1.0f, &loss, &correct, g), CL16_ERR_SHAPE,
               "logits", g, gb);
    LC_REFUSED(ctx, cl16_softmax_xent(ctx, NULL, l, 1.0f, &loss, &correct, g), CL16_ERR_INVALID_ARG,
               "logits", g, gb);
    LC_REFUSED(ctx, cl16_softmax_xent(ctx, x, NULL, 1.0f, &loss, &correct, g), CL16_ERR_INVALID_ARG,
               "labels", g, gb);
    LC_REFUSED(ctx, cl16_softmax_xent(ctx, x, l, NAN, &loss, &correct, g), CL16_ERR_INVALID_ARG,
               "scale", g, gb);
    LC_REFUSED(ctx, cl16_softmax_xent(ctx, x, l, INFINITY, &loss, &correct, g),
               CL16_ERR_INVALID_ARG, "scale", g, gb);
    CHECK(loss == 123.0 && correct == 77);
    cl16_ctx *other = test_ctx(NULL);
    cl16_tensor *ol = lc_tensor1(other, CL16_I32, 4, NULL);
    LC_REFUSED(ctx, cl16_softmax_xent(ctx, x, ol, 1.0f, &loss, &correct, g), CL16_ERR_INVALID_ARG,
               "another context", g, gb);
    cl16_tensor_free(ol);
    cl16_ctx_free(other);
    /* Everything optional left out, then only the loss. */
    CHECK_OK(ctx, cl16_softmax_xent(ctx, x, l, 1.0f, NULL, NULL, NULL));
    CHECK(lc_same_bytes(ctx, g, gb));
    CHECK_OK(ctx, cl16_softmax_xent(ctx, x, l, 1.0f, &loss, NULL, NULL));
    CHECK(fabs(loss - log(10.0)) < 1e-6);
    free(gb);
    cl16_tensor *all[] = {x, g, l, lf, l5, g_bad, gh, x1};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        cl16_tensor_free(all[i]);
}

int main(void) {
    ctx = test_ctx(getenv("CL16_CACHE_DIR"));
    for (int d = 0; d < 3; d++) {
        cl16_dtype dt = DTYPES[d];
        gc_section(cl16_dtype_name(dt));
        test_values(dt);
        test_repeat_inplace_counters(dt);
        test_nonfinite(dt);
    }
    gc_section("finite differences");
    test_finite_differences();
    gc_section("f16 against f32");
    test_f16_vs_f32();
    gc_section("refused arguments");
    test_refused();
    cl16_ctx_free(ctx);
    return check_done("test_loss");
}
