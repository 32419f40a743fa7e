/* test_optim_ex.c - the update extras of cl16_optim_step_ex: stochastic
 * rounding (unbiased within a binomial bound, in the normal and subnormal half
 * ranges, reproducible, keyed by step; bf16 the same, and bf16-sr keeping
 * quarter-ulp updates over many steps where nearest stalls), Kahan compensation (quarter-ulp updates
 * add up exactly), mixed precision (f32 master, f16 gradient and copy), fused
 * unscaling, the device-side overflow flag and skip, and the stall counters. */
#include <math.h>
#include <stdint.h>

#include "check.h"

enum { N = 65536 };

static cl16_tensor *mk(cl16_ctx *ctx, cl16_dtype dt, int64_t n, float value) {
    cl16_tensor *t = NULL;
    CHECK_OK(ctx, cl16_tensor_create(ctx, dt, 1, &n, &t));
    if (t && dt != CL16_I32)
        CHECK_OK(ctx, cl16_tensor_fill(t, value));
    else if (t)
        CHECK_OK(ctx, cl16_tensor_write_raw(t, (int32_t[4]){0, 0, 0, 0}, (size_t)n * 4));
    return t;
}

static void read_i32(cl16_ctx *ctx, cl16_tensor *t, int32_t *out, int n) {
    CHECK_OK(ctx, cl16_tensor_read_raw(t, out, (size_t)n * 4));
}

/* Plain SGD (lr 1, no momentum): w += -g. */
static cl16_optim_params sgd1(void) {
    cl16_optim_params p;
    cl16_optim_params_init(&p);
    p.lr = 1.0f;
    return p;
}

/* Fraction of w that moved from w0 to w0 + ulp after one step of delta. */
static double sr_fraction_dt(cl16_ctx *ctx, cl16_dtype dt, float w0, float delta, float up,
                             uint64_t seed, int64_t step, int32_t stats[2], uint16_t *bits) {
    /* delta = -lr * g with g a power of two the dtype can hold */
    const float lr = delta == 0x1p-26f && dt == CL16_F16 ? 0.25f : 1.0f;
    cl16_tensor *w = mk(ctx, dt, N, w0), *g = mk(ctx, dt, N, -delta / lr);
    cl16_tensor *st = mk(ctx, CL16_I32, 2, 0);
    cl16_optim_params p = sgd1();
    p.lr = lr;
    cl16_optim_extra x;
    cl16_optim_extra_init(&x);
    x.rounding = CL16_ROUND_STOCHASTIC, x.seed = seed, x.tensor_id = 3, x.stats = st;
    CHECK_OK(ctx, cl16_optim_step_ex(ctx, &p, step, w, g, NULL, NULL, &x));
    static float v[N];
    CHECK_OK(ctx, cl16_tensor_read_f32(w, v, N));
    if (bits)
        CHECK_OK(ctx, cl16_tensor_read_raw(w, bits, N * 2));
    read_i32(ctx, st, stats, 2);
    int64_t ups = 0, other = 0;
    for (int i = 0; i < N; i++)
        ups += v[i] == up, other += v[i] != up && v[i] != w0;
    CHECK_MSG(other == 0, "stochastic rounding produced %lld values other than %g and %g",
              (long long)other, (double)w0, (double)up);
    cl16_tensor_free(w), cl16_tensor_free(g), cl16_tensor_free(st);
    return (double)ups / N;
}
static double sr_fraction(cl16_ctx *ctx, float w0, float delta, float up, uint64_t seed,
                          int64_t step, int32_t stats[2], uint16_t *bits) {
    return sr_fraction_dt(ctx, CL16_F16, w0, delta, up, seed, step, stats, bits);
}

/* bf16 (spacing 2^-7 at 1, 2^-8 just below): the same binomial checks, at a
 * tiny normal magnitude too (float's range), reproducibility and a new draw
 * per step; then 64 SGD steps of a quarter ulp each from w = 1: the mean of
 * the SR weights must reach 1 + 64 * 2^-9 = 1.125 within 5 standard
 * deviations of the mean (per element at most sqrt(64 * 3/16) * 2^-7 over 64
 * quarter-ulp steps, divided by sqrt(N)), while nearest leaves every weight
 * at 1 and the stall counters say so. */
static void stochastic_bf16(cl16_ctx *ctx) {
    int32_t st[2];
    static uint16_t b1[N], b2[N], b3[N];
    const double bound = 5.0 * sqrt(0.25 * 0.75 / N);
    double f = sr_fraction_dt(ctx, CL16_BF16, 1.0f, 0x1p-9f, 1.0f + 0x1p-7f, 42, 7, st, b1);
    CHECK_MSG(fabs(f - 0.25) < bound, "bf16 normal range: %.4f moved up, expected 0.25", f);
    CHECK_MSG(st[0] == N && st[1] == N - (int32_t)lround(f * N), "bf16 stats: %d changed, %d stalled",
              st[0], st[1]);
    f = sr_fraction_dt(ctx, CL16_BF16, 1.0f, -0.75f * 0x1p-8f, 1.0f - 0x1p-8f, 42, 7, st, NULL);
    CHECK_MSG(fabs(f - 0.75) < bound, "bf16 below a power of two: %.4f moved down, expected 0.75", f);
    f = sr_fraction_dt(ctx, CL16_BF16, 0x1p-100f, 0x1p-109f, 0x1.02p-100f, 42, 7, st, NULL);
    CHECK_MSG(fabs(f - 0.25) < bound, "bf16 at 2^-100: %.4f moved up, expected 0.25", f);
    sr_fraction_dt(ctx, CL16_BF16, 1.0f, 0x1p-9f, 1.0f + 0x1p-7f, 42, 7, st, b2);
    sr_fraction_dt(ctx, CL16_BF16, 1.0f, 0x1p-9f, 1.0f + 0x1p-7f, 42, 8, st, b3);
    CHECK_MSG(!memcmp(b1, b2, sizeof b1), "bf16 stochastic rounding is not reproducible");
    int differ = 0;
    for (int i = 0; i < N; i++)
        differ += b1[i] != b3[i];
    CHECK_MSG(differ > N / 8, "bf16: steps 7 and 8 drew the same pattern (%d differ)", differ);

    for (int sr = 0; sr < 2; sr++) {
        cl16_tensor *w = mk(ctx, CL16_BF16, N, 1.0f), *g = mk(ctx, CL16_BF16, N, -0x1p-9f);
        cl16_tensor *s = mk(ctx, CL16_I32, 2, 0);
        cl16_optim_params p = sgd1();
        cl16_optim_extra x;
        cl16_optim_extra_init(&x);
        x.rounding = sr ? CL16_ROUND_STOCHASTIC : CL16_ROUND_NEAREST, x.seed = 5, x.stats = s;
        for (int64_t step = 1; step <= 64; step++)
            CHECK_OK(ctx, cl16_optim_step_ex(ctx, &p, step, w, g, NULL, NULL, &x));
        static float v[N];
        CHECK_OK(ctx, cl16_tensor_read_f32(w, v, N));
        read_i32(ctx, s, st, 2);
        double mean = 0;
        for (int i = 0; i < N; i++)
            mean += v[i];
        mean /= N;
        if (sr) {
            const double sd = sqrt(64 * 3.0 / 16.0) * 0x1p-7 / sqrt((double)N);
            CHECK_MSG(fabs(mean - 1.125) < 5 * sd, "bf16-sr: mean weight %.6f after 64 quarter-ulp "
                      "steps, expected 1.125 (5 sd = %.2g)", mean, 5 * sd);
            CHECK_MSG(st[0] == 64 * N && st[1] < 64 * N * 0.85 && st[1] > 64 * N * 0.65,
                      "bf16-sr: %d changed, %d stalled (expected about 3/4 stalled)", st[0], st[1]);
        } else {
            CHECK_MSG(mean == 1.0, "bf16 nearest: mean weight %.6f, expected 1 (every update lost)",
                      mean);
            CHECK_MSG(st[0] == 64 * N && st[1] == 64 * N, "bf16 nearest: %d changed, %d stalled "
                      "(expected all)", st[0], st[1]);
        }
        cl16_tensor_free(w), cl16_tensor_free(g), cl16_tensor_free(s);
    }
}

static void stochastic(cl16_ctx *ctx) {
    /* w = 1, change = a quarter of half's spacing at 1 (2^-10): nearest
     * never moves; stochastic moves a quarter of the elements. Binomial
     * spread: sqrt(p(1-p)/N) = 0.0017; allow 5 of those. */
    int32_t st[2];
    static uint16_t b1[N], b2[N], b3[N];
    const double bound = 5.0 * sqrt(0.25 * 0.75 / N);
    double f = sr_fraction(ctx, 1.0f, 0x1p-12f, 1.0f + 0x1p-10f, 42, 7, st, b1);
    CHECK_MSG(fabs(f - 0.25) < bound, "normal range: %.4f moved up, expected 0.25", f);
    CHECK_MSG(st[0] == N && st[1] == N - (int32_t)lround(f * N),
              "stats: %d changed, %d stalled", st[0], st[1]);
    /* Three quarters, downwards across a power of two: 1 - 0.75 * 2^-11 lies
     * between 1 - 2^-11 (spacing 2^-11 below 1) and 1. */
    f = sr_fraction(ctx, 1.0f, -0.75f * 0x1p-11f, 1.0f - 0x1p-11f, 42, 7, st, NULL);
    CHECK_MSG(fabs(f - 0.75) < bound, "below a power of two: %.4f moved down, expected 0.75", f);
    /* Half subnormals: spacing 2^-24; 0 + 0.25 * 2^-24. */
    f = sr_fraction(ctx, 0.0f, 0x1p-26f, 0x1p-24f, 42, 7, st, NULL);
    CHECK_MSG(fabs(f - 0.25) < bound, "subnormal range: %.4f moved up, expected 0.25", f);
    /* Reproducible for the same (seed, step, tensor); another step draws anew. */
    sr_fraction(ctx, 1.0f, 0x1p-12f, 1.0f + 0x1p-10f, 42, 7, st, b2);
    sr_fraction(ctx, 1.0f, 0x1p-12f, 1.0f + 0x1p-10f, 42, 8, st, b3);
    CHECK_MSG(!memcmp(b1, b2, sizeof b1), "stochastic rounding is not reproducible");
    int differ = 0;
    for (int i = 0; i < N; i++)
        differ += b1[i] != b3[i];
    CHECK_MSG(differ > N / 8, "steps 7 and 8 drew the same pattern (%d differ)", differ);
    /* Nearest: every element stalls, and the counters say so. */
    cl16_tensor *w = mk(ctx, CL16_F16, N, 1.0f), *g = mk(ctx, CL16_F16, N, -0x1p-12f);
    cl16_tensor *s = mk(ctx, CL16_I32, 2, 0);
    cl16_optim_params p = sgd1();
    cl16_optim_extra x;
    cl16_optim_extra_init(&x);
    x.stats = s;
    CHECK_OK(ctx, cl16_optim_step_ex(ctx, &p, 1, w, g, NULL, NULL, &x));
    read_i32(ctx, s, st, 2);
    CHECK_MSG(st[0] == N && st[1] == N, "nearest: %d changed, %d stalled (expected all)", st[0],
              st[1]);
    cl16_tensor_free(w), cl16_tensor_free(g), cl16_tensor_free(s);
}

static void kahan(cl16_ctx *ctx) {
    /* Four quarter-ulp steps at w = 1 must add up to exactly one ulp, and the
     * compensation must end at zero; nearest alone stays at 1. */
    const int64_t n = 1000;
    cl16_tensor *w = mk(ctx, CL16_F16, n, 1.0f), *g = mk(ctx, CL16_F16, n, -0x1p-12f);
    cl16_tensor *c = mk(ctx, CL16_F16, n, 0.0f);
    cl16_optim_params p = sgd1();
    cl16_optim_extra x;
    cl16_optim_extra_init(&x);
    x.rounding = CL16_ROUND_KAHAN, x.comp = c;
    for (int s = 1; s <= 4; s++)
        CHECK_OK(ctx, cl16_optim_step_ex(ctx, &p, s, w, g, NULL, NULL, &x));
    float wv[1000], cv[1000];
    CHECK_OK(ctx, cl16_tensor_read_f32(w, wv, n));
    CHECK_OK(ctx, cl16_tensor_read_f32(c, cv, n));
    CHECK_MSG(wv[0] == 1.0f + 0x1p-10f && wv[n - 1] == wv[0] && cv[0] == 0.0f,
              "Kahan after 4 quarter-ulp steps: w = %.9g, c = %g", (double)wv[0], (double)cv[0]);
    /* A Kahan step without its buffer is refused before anything runs. */
    x.comp = NULL;
    CHECK(cl16_optim_step_ex(ctx, &p, 5, w, g, NULL, NULL, &x) == CL16_ERR_INVALID_ARG);
    CHECK(strstr(cl16_ctx_last_error(ctx), "compensation"));
    cl16_tensor_free(w), cl16_tensor_free(g), cl16_tensor_free(c);
}

static void mixed_and_scaling(cl16_ctx *ctx) {
    /* Mixed: f32 master, f16 gradient; Adam on the master, the f16 copy is the
     * master rounded to nearest. Gradient scaled by 1024, unscaled in the kernel. */
    const int64_t n = 4099;
    cl16_tensor *w = mk(ctx, CL16_F32, n, 0), *g = mk(ctx, CL16_F16, n, 0);
    cl16_tensor *m = mk(ctx, CL16_F32, n, 0), *v = mk(ctx, CL16_F32, n, 0);
    cl16_tensor *w16 = mk(ctx, CL16_F16, n, 0);
    static float wv[4099], gv[4099], out[4099], o16[4099];
    for (int i = 0; i < n; i++)
        wv[i] = 0.1f + 1e-3f * (float)(i % 97), gv[i] = 1024.0f * 1e-3f * (float)((i % 13) - 6);
    CHECK_OK(ctx, cl16_tensor_write_f32(w, wv, n));
    CHECK_OK(ctx, cl16_tensor_write_f32(g, gv, n));
    cl16_optim_params p;
    cl16_optim_params_init(&p);
    p.kind = CL16_OPT_ADAM, p.lr = 1e-3f;
    cl16_optim_extra x;
    cl16_optim_extra_init(&x);
    x.w16 = w16, x.grad_scale = 1.0f / 1024.0f;
    CHECK_OK(ctx, cl16_optim_step_ex(ctx, &p, 1, w, g, m, v, &x));
    CHECK_OK(ctx, cl16_tensor_read_f32(w, out, n));
    CHECK_OK(ctx, cl16_tensor_read_f32(w16, o16, n));
    int bad = 0;
    for (int i = 0; i < n; i++) {
        /* Step 1 of Adam moves by lr * sign(g) (|g| >> eps), 0 where g = 0. */
        const float gr = cl16_half_to_float(cl16_float_to_half(gv[i])) / 1024.0f;
        const double want = wv[i] - (gr > 0 ? 1e-3 : gr < 0 ? -1e-3 : 0.0);
        bad += fabs(out[i] - want) > 1e-6 ||
               o16[i] != cl16_half_to_float(cl16_float_to_half(out[i]));
    }
    CHECK_MSG(bad == 0, "mixed precision: %d of %lld elements wrong", bad, (long long)n);
    /* A mixed step needs an f32 master. */
    CHECK(cl16_optim_step_ex(ctx, &p, 2, w16, g, m, v, &x) == CL16_ERR_SHAPE);

    /* Overflow check and skip: a gradient with one infinity sets the flag, and
     * the update then leaves everything untouched; a clean one does not. */
    cl16_tensor *flag = mk(ctx, CL16_I32, 1, 0);
    CHECK_OK(ctx, cl16_grad_check(ctx, g, flag));
    int32_t fv[1];
    read_i32(ctx, flag, fv, 1);
    CHECK_MSG(fv[0] == 0, "finite gradient flagged");
    gv[4000] = INFINITY;
    CHECK_OK(ctx, cl16_tensor_write_f32(g, gv, n));
    CHECK_OK(ctx, cl16_grad_check(ctx, g, flag));
    read_i32(ctx, flag, fv, 1);
    CHECK_MSG(fv[0] == 1, "an infinite gradient was not flagged");
    x.skip = flag;
    CHECK_OK(ctx, cl16_optim_step_ex(ctx, &p, 2, w, g, m, v, &x));
    static float after[4099];
    CHECK_OK(ctx, cl16_tensor_read_f32(w, after, n));
    CHECK_MSG(!memcmp(after, out, sizeof after), "a skipped step changed the weights");
    cl16_tensor *all[] = {w, g, m, v, w16, flag};
    for (int i = 0; i < 6; i++)
        cl16_tensor_free(all[i]);
}

/* cl16_grad_check_n over seven gradients of mixed dtypes and sizes (several
 * launches, a dtype change inside): a non-finite value in any one of them,
 * at its first or last element, sets the flag; none leaves it clear. */
static void grad_check_many(cl16_ctx *ctx) {
    static const cl16_dtype dts[7] = {CL16_F16, CL16_F16, CL16_F32, CL16_F32,
                                      CL16_F32, CL16_F32, CL16_BF16};
    static const int64_t ns[7] = {5, 300, 1, 77, 4099, 16, 33};
    cl16_tensor *g[7], *flag = mk(ctx, CL16_I32, 1, 0);
    for (int i = 0; i < 7; i++)
        g[i] = mk(ctx, dts[i], ns[i], 0.5f);
    const cl16_tensor *const *gl = (const cl16_tensor *const *)g;
    int32_t fv[1];
    CHECK_OK(ctx, cl16_grad_check_n(ctx, gl, 7, flag));
    read_i32(ctx, flag, fv, 1);
    CHECK_MSG(fv[0] == 0, "grad_check_n: finite gradients flagged");
    CHECK_OK(ctx, cl16_grad_check_n(ctx, gl, 0, flag));
    static float buf[4099];
    for (int i = 0; i < 7; i++) {
        for (int at = 0; at < 2; at++) {
            const int64_t e = at ? ns[i] - 1 : 0;
            const float bad = (i + at) % 2 ? INFINITY : NAN;
            for (int64_t k = 0; k < ns[i]; k++)
                buf[k] = k == e ? bad : 0.5f;
            CHECK_OK(ctx, cl16_tensor_fill(flag, 0.0f));
            CHECK_OK(ctx, cl16_tensor_write_f32(g[i], buf, (size_t)ns[i]));
            CHECK_OK(ctx, cl16_grad_check_n(ctx, gl, 7, flag));
            read_i32(ctx, flag, fv, 1);
            CHECK_MSG(fv[0] == 1, "grad_check_n: %g at element %lld of gradient %d not flagged",
                      (double)bad, (long long)e, i);
            CHECK_OK(ctx, cl16_tensor_fill(g[i], 0.5f));
        }
    }
    /* Only the listed gradients are read. */
    for (int64_t k = 0; k < ns[6]; k++)
        buf[k] = k ? 0.5f : INFINITY;
    CHECK_OK(ctx, cl16_tensor_write_f32(g[6], buf, (size_t)ns[6]));
    CHECK_OK(ctx, cl16_tensor_fill(flag, 0.0f));
    CHECK_OK(ctx, cl16_grad_check_n(ctx, gl, 6, flag));
    read_i32(ctx, flag, fv, 1);
    CHECK_MSG(fv[0] == 0, "grad_check_n: an unlisted gradient was read");
    CHECK(cl16_grad_check_n(ctx, NULL, 2, flag) == CL16_ERR_INVALID_ARG);
    const cl16_tensor *withnull[2] = {g[0], NULL};
    CHECK(cl16_grad_check_n(ctx, withnull, 2, flag) == CL16_ERR_INVALID_ARG);
    for (int i = 0; i < 7; i++)
        cl16_tensor_free(g[i]);
    cl16_tensor_free(flag);
}

int main(void) {
    cl16_ctx *ctx = test_ctx(getenv("CL16_CACHE_DIR"));
    grad_check_many(ctx);
    stochastic(ctx);
    stochastic_bf16(ctx);
    kahan(ctx);
    mixed_and_scaling(ctx);
    cl16_ctx_free(ctx);
    return check_done("optim_ex");
}
