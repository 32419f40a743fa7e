/* test_norm.c - BatchNorm2d forward (training, evaluation) and backward
 * against a float64 host reference: PyTorch's running-statistics update
 * (unbiased variance), large-mean data in f16 and f32, N*H*W = 1, ResNet-20
 * shapes (f32, f16 and bf16), a finite-difference check of the backward against the float64
 * forward, f16 backward against f32 backward, determinism, the fused batch
 * norm + ReLU against the unfused calls, bad input.
 *
 * Bounds: a float sum of L terms errs by at most about L*u times the sum of
 * their magnitudes (u = 2^-24); the tests take L = N*H*W, the longest chain
 * any reduction order can have, so they hold for every work-group size. */
#include "pn_util.h"

typedef struct bshape {
    int64_t n, c, h, w;
} bshape;

/* Per-channel reference statistics of x [N, C, hw]. */
typedef struct bstats {
    double *mean, *var, *invstd, *abs_mean; /* abs_mean: mean of |x| (error scale) */
} bstats;

static void ref_stats(const float *x, bshape s, double eps, bstats *st) {
    const int64_t hw = s.h * s.w, cnt = s.n * hw;
    st->mean = calloc((size_t)s.c, 8), st->var = calloc((size_t)s.c, 8);
    st->invstd = calloc((size_t)s.c, 8), st->abs_mean = calloc((size_t)s.c, 8);
    for (int64_t c = 0; c < s.c; c++) {
        double m = 0, a = 0, q = 0;
        for (int64_t b = 0; b < s.n; b++)
            for (int64_t i = 0; i < hw; i++) {
                double v = x[(b * s.c + c) * hw + i];
                m += v, a += fabs(v);
            }
        m /= (double)cnt;
        for (int64_t b = 0; b < s.n; b++)
            for (int64_t i = 0; i < hw; i++) {
                double d = x[(b * s.c + c) * hw + i] - m;
                q += d * d;
            }
        st->mean[c] = m, st->abs_mean[c] = a / (double)cnt;
        st->var[c] = q / (double)cnt;
        st->invstd[c] = 1.0 / sqrt(st->var[c] + eps);
    }
}
static void free_stats(bstats *st) {
    free(st->mean), free(st->var), free(st->invstd), free(st->abs_mean);
}

/* Bounds on the device's mean and biased variance of channel c. */
static double mean_bound(const bstats *st, int64_t c, double cnt) {
    return (cnt + 2) * U32 * st->abs_mean[c] + 1e-30;
}
static double var_bound(const bstats *st, int64_t c, double cnt) {
    double dm = mean_bound(st, c, cnt);
    return (cnt + 4) * U32 * st->var[c] + dm * dm + 1e-30;
}

typedef struct bn_run {
    float *y, *mean, *invstd, *rm, *rv;
} bn_run;
static void free_run(bn_run *r) {
    free(r->y), free(r->mean), free(r->invstd), free(r->rm), free(r->rv);
}

/* One forward on the device from host data; rm0/rv0 may be NULL in training. */
static cl16_status bn_forward(cl16_ctx *ctx, cl16_dtype dt, bshape s, int training, float m,
                              float eps, const float *x, const float *g, const float *b,
                              const float *rm0, const float *rv0, bn_run *out) {
    int64_t xd[4] = {s.n, s.c, s.h, s.w}, cd[1] = {s.c};
    cl16_tensor *tx = pn_tensor(ctx, dt, 4, xd, x, 0), *ty = pn_tensor(ctx, dt, 4, xd, NULL, NAN);
    cl16_tensor *tg = pn_tensor(ctx, CL16_F32, 1, cd, g, 0),
                *tb = pn_tensor(ctx, CL16_F32, 1, cd, b, 0);
    cl16_tensor *trm = rm0 ? pn_tensor(ctx, CL16_F32, 1, cd, rm0, 0) : NULL;
    cl16_tensor *trv = rv0 ? pn_tensor(ctx, CL16_F32, 1, cd, rv0, 0) : NULL;
    cl16_tensor *tsm = pn_tensor(ctx, CL16_F32, 1, cd, NULL, NAN);
    cl16_tensor *tsi = pn_tensor(ctx, CL16_F32, 1, cd, NULL, NAN);
    cl16_status s_ = cl16_batchnorm2d_forward(ctx, training, m, eps, tx, tg, tb, trm, trv,
                                              training ? tsm : NULL, training ? tsi : NULL, ty);
    memset(out, 0, sizeof *out);
    if (!s_) {
        out->y = pn_read(ctx, ty), out->mean = pn_read(ctx, tsm), out->invstd = pn_read(ctx, tsi);
        if (trm)
            out->rm = pn_read(ctx, trm), out->rv = pn_read(ctx, trv);
    }
    cl16_tensor_free(tx), cl16_tensor_free(ty), cl16_tensor_free(tg), cl16_tensor_free(tb);
    cl16_tensor_free(trm), cl16_tensor_free(trv), cl16_tensor_free(tsm), cl16_tensor_free(tsi);
    return s_;
}

/* Training forward: statistics, running update and y against the reference;
 * then evaluation mode with the updated running statistics. */
static void check_forward(cl16_ctx *ctx, cl16_dtype dt, bshape s, double xscale, double xoff,
                          float m, uint64_t seed) {
    const float eps = 1e-5f;
    const int64_t hw = s.h * s.w, nx = s.n * s.c * hw;
    const double cnt = (double)(s.n * hw);
    pn_seed(seed);
    float *x = pn_random((size_t)nx, xscale), *g = pn_random((size_t)s.c, 1.0),
          *b = pn_random((size_t)s.c, 1.0);
    float *rm0 = pn_random((size_t)s.c, 1.0), *rv0 = pn_random((size_t)s.c, 1.0);
    for (int64_t i = 0; i < nx; i++)
        x[i] += (float)xoff;
    for (int64_t c = 0; c < s.c; c++)
        rv0[c] = rv0[c] * 0.5f + 1.0f;
    pn_round_all(dt, x, (size_t)nx);
    bstats st;
    ref_stats(x, s, eps, &st);
    bn_run r;
    CHECK_OK(ctx, bn_forward(ctx, dt, s, 1, m, eps, x, g, b, rm0, rv0, &r));
    if (!r.y)
        return;
    char what[160];
    snprintf(what, sizeof what, "%s BN train %lldx%lldx%lldx%lld (x ~ %g +- %g)",
             cl16_dtype_name(dt), (long long)s.n, (long long)s.c, (long long)s.h, (long long)s.w,
             xoff, xscale);
    double *ref = calloc((size_t)nx, 8), *bd = calloc((size_t)nx, 8);
    double *cref = calloc((size_t)s.c * 4, 8), *cbd = calloc((size_t)s.c * 4, 8);
    float *cgot = pn_alloc((size_t)s.c * 4);
    for (int64_t c = 0; c < s.c; c++) {
        const double dm = mean_bound(&st, c, cnt), dv = var_bound(&st, c, cnt);
        const double di = (0.5 * dv / (st.var[c] + eps) + 8 * U32) * st.invstd[c];
        cref[c] = st.mean[c], cbd[c] = dm, cgot[c] = r.mean[c];
        cref[s.c + c] = st.invstd[c], cbd[s.c + c] = di, cgot[s.c + c] = r.invstd[c];
        const double unb = st.var[c] * cnt / (cnt - 1);
        cref[2 * s.c + c] = (1.0 - m) * rm0[c] + (double)m * st.mean[c];
        cbd[2 * s.c + c] = m * dm + 4 * U32 * (fabs(rm0[c]) + fabs(m * st.mean[c])) + 1e-30;
        cgot[2 * s.c + c] = r.rm[c];
        cref[3 * s.c + c] = (1.0 - m) * rv0[c] + (double)m * unb;
        cbd[3 * s.c + c] = m * dv * cnt / (cnt - 1) + 6 * U32 * (fabs(rv0[c]) + m * unb) + 1e-30;
        cgot[3 * s.c + c] = r.rv[c];
        for (int64_t bb = 0; bb < s.n; bb++)
            for (int64_t i = 0; i < hw; i++) {
                const int64_t e = (bb * s.c + c) * hw + i;
                const double d = x[e] - st.mean[c], yv = g[c] * d * st.invstd[c] + b[c];
                ref[e] = yv;
                bd[e] = fabs(g[c]) * (fabs(d) * di + dm * st.invstd[c] +
                                      4 * U32 * (fabs(d) + fabs(x[e])) * st.invstd[c]) +
                        2 * U32 * (fabs(b[c]) + fabs(yv)) + pn_u(dt) * fabs(yv);
            }
    }
    char w2[256];
    snprintf(w2, sizeof w2, "%s: mean | invstd | running_mean | running_var", what);
    pn_compare(w2, cgot, cref, cbd, (size_t)s.c * 4);
    snprintf(w2, sizeof w2, "%s: y", what);
    pn_compare(w2, r.y, ref, bd, (size_t)nx);
    CHECK_MSG(!pn_all_zero(r.y, (size_t)nx), "%s: y all zero", what);

    /* Evaluation mode with the running statistics just computed. */
    bn_run e;
    CHECK_OK(ctx, bn_forward(ctx, dt, s, 0, m, eps, x, g, b, r.rm, r.rv, &e));
    if (e.y) {
        for (int64_t c = 0; c < s.c; c++) {
            const double is = 1.0 / sqrt((double)r.rv[c] + eps);
            for (int64_t bb = 0; bb < s.n; bb++)
                for (int64_t i = 0; i < hw; i++) {
                    const int64_t k = (bb * s.c + c) * hw + i;
                    const double d = x[k] - (double)r.rm[c], yv = g[c] * d * is + b[c];
                    ref[k] = yv;
                    bd[k] = 10 * U32 * (fabs(g[c]) * (fabs(d) + fabs(x[k])) * is + fabs(b[c])) +
                            pn_u(dt) * fabs(yv);
                }
        }
        snprintf(w2, sizeof w2, "%s: evaluation-mode y", what);
        pn_compare(w2, e.y, ref, bd, (size_t)nx);
        /* Evaluation leaves the running statistics alone. */
        CHECK(!memcmp(e.rm, r.rm, (size_t)s.c * 4) && !memcmp(e.rv, r.rv, (size_t)s.c * 4));
    }
    /* Large means: the variance must stay accurate (two-pass, not E[x^2] - E[x]^2). */
    if (xoff != 0)
        for (int64_t c = 0; c < s.c; c++)
            CHECK_MSG(fabs(r.invstd[c] - st.invstd[c]) <= 1e-3 * st.invstd[c],
                      "%s: channel %lld invstd %.7g, reference %.7g", what, (long long)c,
                      (double)r.invstd[c], st.invstd[c]);
    free_run(&r), free_run(&e), free_stats(&st);
    free(x), free(g), free(b), free(rm0), free(rv0), free(ref), free(bd), free(cref), free(cbd),
        free(cgot);
}

typedef struct bn_grad {
    float *dx, *dg, *db, *mean, *invstd;
} bn_grad;
static void free_grad(bn_grad *q) {
    free(q->dx), free(q->dg), free(q->db), free(q->mean), free(q->invstd);
}

/* Training forward then backward on the device (dx0 != NULL: beta applied over it). */
static void bn_backward(cl16_ctx *ctx, cl16_dtype dt, bshape s, const float *x, const float *g,
                        const float *b, const float *dy, float beta, const float *dx0,
                        bn_grad *out) {
    int64_t xd[4] = {s.n, s.c, s.h, s.w}, cd[1] = {s.c};
    cl16_tensor *tx = pn_tensor(ctx, dt, 4, xd, x, 0), *ty = pn_tensor(ctx, dt, 4, xd, NULL, 0);
    cl16_tensor *tg = pn_tensor(ctx, CL16_F32, 1, cd, g, 0),
                *tb = pn_tensor(ctx, CL16_F32, 1, cd, b, 0);
    cl16_tensor *tsm = pn_tensor(ctx, CL16_F32, 1, cd, NULL, 0),
                *tsi = pn_tensor(ctx, CL16_F32, 1, cd, NULL, 0);
    cl16_tensor *tdy = pn_tensor(ctx, dt, 4, xd, dy, 0);
    cl16_tensor *tdx =
        dx0 ? pn_tensor(ctx, dt, 4, xd, dx0, 0) : pn_tensor(ctx, dt, 4, xd, NULL, NAN);
    cl16_tensor *tdg = pn_tensor(ctx, CL16_F32, 1, cd, NULL, NAN),
                *tdb = pn_tensor(ctx, CL16_F32, 1, cd, NULL, NAN);
    CHECK_OK(ctx,
             cl16_batchnorm2d_forward(ctx, 1, 0.1f, 1e-5f, tx, tg, tb, NULL, NULL, tsm, tsi, ty));
    CHECK_OK(ctx, cl16_batchnorm2d_backward(ctx, tx, tdy, tg, tsm, tsi, beta, tdx, tdg, tdb));
    out->dx = pn_read(ctx, tdx), out->dg = pn_read(ctx, tdg), out->db = pn_read(ctx, tdb);
    out->mean = pn_read(ctx, tsm), out->invstd = pn_read(ctx, tsi);
    cl16_tensor_free(tx), cl16_tensor_free(ty), cl16_tensor_free(tg), cl16_tensor_free(tb),
        cl16_tensor_free(tsm), cl16_tensor_free(tsi), cl16_tensor_free(tdy), cl16_tensor_free(tdx),
        cl16_tensor_free(tdg), cl16_tensor_free(tdb);
}

/* Backward against the float64 formula (with the device's saved statistics). */
static void check_backward(cl16_ctx *ctx, cl16_dtype dt, bshape s, float beta, uint64_t seed) {
    const int64_t hw = s.h * s.w, nx = s.n * s.c * hw;
    const double cnt = (double)(s.n * hw);
    pn_seed(seed);
    float *x = pn_random((size_t)nx, 2.0), *dy = pn_random((size_t)nx, 1.0),
          *dx0 = pn_random((size_t)nx, 1.0);
    float *g = pn_random((size_t)s.c, 1.5), *b = pn_random((size_t)s.c, 1.0);
    pn_round_all(dt, x, (size_t)nx), pn_round_all(dt, dy, (size_t)nx),
        pn_round_all(dt, dx0, (size_t)nx);
    bn_grad q;
    bn_backward(ctx, dt, s, x, g, b, dy, beta, beta != 0 ? dx0 : NULL, &q);
    double *ref = calloc((size_t)nx, 8), *bd = calloc((size_t)nx, 8);
    double *cref = calloc((size_t)s.c * 2, 8), *cbd = calloc((size_t)s.c * 2, 8);
    float *cgot = pn_alloc((size_t)s.c * 2);
    for (int64_t c = 0; c < s.c; c++) {
        const double mu = q.mean[c], is = q.invstd[c];
        double sd = 0, sdx = 0, ad = 0, adx = 0;
        for (int64_t bb = 0; bb < s.n; bb++)
            for (int64_t i = 0; i < hw; i++) {
                const int64_t e = (bb * s.c + c) * hw + i;
                const double xh = (x[e] - mu) * is;
                sd += dy[e], sdx += dy[e] * xh, ad += fabs(dy[e]), adx += fabs(dy[e] * xh);
            }
        const double edb = (cnt + 2) * U32 * ad, edg = (cnt + 6) * U32 * adx + 1e-30;
        cref[c] = sdx, cbd[c] = edg, cgot[c] = q.dg[c];
        cref[s.c + c] = sd, cbd[s.c + c] = edb + 1e-30, cgot[s.c + c] = q.db[c];
        for (int64_t bb = 0; bb < s.n; bb++)
            for (int64_t i = 0; i < hw; i++) {
                const int64_t e = (bb * s.c + c) * hw + i;
                const double xh = (x[e] - mu) * is;
                const double v = g[c] * is * (dy[e] - sd / cnt - xh * sdx / cnt);
                const double old = beta != 0 ? (double)beta * dx0[e] : 0;
                ref[e] = v + old;
                bd[e] = fabs(g[c]) * is *
                            ((fabs(dy[e]) + fabs(sd) / cnt + fabs(xh) * fabs(sdx) / cnt) * 8 * U32 +
                             edb / cnt + fabs(xh) * edg / cnt +
                             4 * U32 * fabs(x[e] - mu) * is * fabs(sdx) / cnt) +
                        2 * U32 * (fabs(old) + fabs(ref[e])) +
                        pn_u(dt) * fabs(ref[e]) + 1e-30;
            }
    }
    char what[160];
    snprintf(what, sizeof what, "%s BN backward %lldx%lldx%lldx%lld beta %g", cl16_dtype_name(dt),
             (long long)s.n, (long long)s.c, (long long)s.h, (long long)s.w, (double)beta);
    char w2[256];
    snprintf(w2, sizeof w2, "%s: dgamma | dbeta_", what);
    pn_compare(w2, cgot, cref, cbd, (size_t)s.c * 2);
    snprintf(w2, sizeof w2, "%s: dx", what);
    pn_compare(w2, q.dx, ref, bd, (size_t)nx);
    CHECK_MSG(!pn_all_zero(q.dx, (size_t)nx), "%s: dx all zero", what);
    free_grad(&q);
    free(x), free(dy), free(dx0), free(g), free(b), free(ref), free(bd), free(cref), free(cbd),
        free(cgot);
}

/* The fused batch norm + ReLU against the two calls it replaces, on the same
 * device data: the forward must equal relu() of cl16_batchnorm2d_forward's
 * output bit for bit (one rounding of relu(v) = relu of v's rounding), and the
 * backward must match cl16_batchnorm2d_backward given dy masked on the host by
 * that output (float arithmetic in the same order: agreement to float
 * rounding; the masks could differ only where the pre-ReLU value is within
 * float rounding of zero). Training forward with running statistics. */
static void check_relu(cl16_ctx *ctx, cl16_dtype dt, bshape s, float beta, uint64_t seed) {
    const int64_t nx = s.n * s.c * s.h * s.w;
    pn_seed(seed);
    float *x = pn_random((size_t)nx, 2.0), *dy = pn_random((size_t)nx, 1.0),
          *dx0 = pn_random((size_t)nx, 1.0);
    float *g = pn_random((size_t)s.c, 1.5), *b = pn_random((size_t)s.c, 1.0);
    pn_round_all(dt, x, (size_t)nx), pn_round_all(dt, dy, (size_t)nx),
        pn_round_all(dt, dx0, (size_t)nx);
    int64_t xd[4] = {s.n, s.c, s.h, s.w}, cd[1] = {s.c};
    cl16_tensor *tx = pn_tensor(ctx, dt, 4, xd, x, 0), *ty = pn_tensor(ctx, dt, 4, xd, NULL, NAN),
                *tyr = pn_tensor(ctx, dt, 4, xd, NULL, NAN);
    cl16_tensor *tg = pn_tensor(ctx, CL16_F32, 1, cd, g, 0),
                *tb = pn_tensor(ctx, CL16_F32, 1, cd, b, 0);
    cl16_tensor *rm[2], *rv[2], *sm[2], *si[2];
    for (int k = 0; k < 2; k++) {
        rm[k] = pn_tensor(ctx, CL16_F32, 1, cd, NULL, 0), rv[k] = pn_tensor(ctx, CL16_F32, 1, cd, NULL, 1);
        sm[k] = pn_tensor(ctx, CL16_F32, 1, cd, NULL, NAN), si[k] = pn_tensor(ctx, CL16_F32, 1, cd, NULL, NAN);
    }
    CHECK_OK(ctx, cl16_batchnorm2d_forward(ctx, 1, 0.1f, 1e-5f, tx, tg, tb, rm[0], rv[0], sm[0],
                                           si[0], ty));
    CHECK_OK(ctx, cl16_batchnorm2d_relu_forward(ctx, 1, 0.1f, 1e-5f, tx, tg, tb, rm[1], rv[1],
                                                sm[1], si[1], tyr));
    float *y = pn_read(ctx, ty), *yr = pn_read(ctx, tyr);
    char what[160];
    snprintf(what, sizeof what, "%s BN+ReLU %lldx%lldx%lldx%lld beta %g", cl16_dtype_name(dt),
             (long long)s.n, (long long)s.c, (long long)s.h, (long long)s.w, (double)beta);
    int64_t bad = 0, pos = 0;
    for (int64_t e = 0; e < nx; e++) {
        const float want = y[e] > 0.0f ? y[e] : 0.0f;
        uint32_t a, w;
        memcpy(&a, &yr[e], 4), memcpy(&w, &want, 4);
        bad += a != w, pos += y[e] > 0.0f;
    }
    CHECK_MSG(bad == 0, "%s: forward differs from relu(batchnorm) in %lld of %lld", what,
              (long long)bad, (long long)nx);
    CHECK_MSG(pos > 0 && pos < nx, "%s: %lld of %lld outputs positive (the mask is not exercised)",
              what, (long long)pos, (long long)nx);
    for (int j = 0; j < 2; j++) { /* the running statistics moved the same way */
        float *a = pn_read(ctx, j ? rv[0] : rm[0]), *c = pn_read(ctx, j ? rv[1] : rm[1]);
        CHECK_MSG(!memcmp(a, c, (size_t)s.c * 4), "%s: running statistics differ", what);
        free(a), free(c);
    }
    float *dym = pn_alloc((size_t)nx);
    for (int64_t e = 0; e < nx; e++)
        dym[e] = y[e] <= 0.0f ? 0.0f : dy[e];
    cl16_tensor *tdy = pn_tensor(ctx, dt, 4, xd, dy, 0), *tdym = pn_tensor(ctx, dt, 4, xd, dym, 0);
    cl16_tensor *tdx[2], *tdg[2], *tdb[2];
    for (int k = 0; k < 2; k++) {
        tdx[k] = beta != 0 ? pn_tensor(ctx, dt, 4, xd, dx0, 0) : pn_tensor(ctx, dt, 4, xd, NULL, NAN);
        tdg[k] = pn_tensor(ctx, CL16_F32, 1, cd, NULL, NAN), tdb[k] = pn_tensor(ctx, CL16_F32, 1, cd, NULL, NAN);
    }
    CHECK_OK(ctx, cl16_batchnorm2d_backward(ctx, tx, tdym, tg, sm[0], si[0], beta, tdx[0], tdg[0],
                                            tdb[0]));
    CHECK_OK(ctx, cl16_batchnorm2d_relu_backward(ctx, tx, tdy, tg, tb, sm[1], si[1], beta, tdx[1],
                                                 tdg[1], tdb[1]));
    const cl16_tensor *outs[3][2] = {{tdx[0], tdx[1]}, {tdg[0], tdg[1]}, {tdb[0], tdb[1]}};
    const char *names[3] = {"dx", "dgamma", "dbeta_"};
    for (int o = 0; o < 3; o++) {
        const size_t cnt = o ? (size_t)s.c : (size_t)nx;
        float *want = pn_read(ctx, outs[o][0]), *got = pn_read(ctx, outs[o][1]);
        double *ref = calloc(cnt, 8), *bd = calloc(cnt, 8);
        double scale = 0;
        for (size_t e = 0; e < cnt; e++)
            scale = fmax(scale, fabs(want[e]));
        for (size_t e = 0; e < cnt; e++) /* float rounding of the unfused result */
            ref[e] = want[e], bd[e] = 1e-6 * scale + 4 * pn_u(dt) * fabs(want[e]) + 1e-30;
        char w2[256];
        snprintf(w2, sizeof w2, "%s: %s fused against masked dy", what, names[o]);
        pn_compare(w2, got, ref, bd, cnt);
        free(want), free(got), free(ref), free(bd);
    }
    for (int k = 0; k < 2; k++)
        cl16_tensor_free(rm[k]), cl16_tensor_free(rv[k]), cl16_tensor_free(sm[k]),
            cl16_tensor_free(si[k]), cl16_tensor_free(tdx[k]), cl16_tensor_free(tdg[k]),
            cl16_tensor_free(tdb[k]);
    cl16_tensor_free(tx), cl16_tensor_free(ty), cl16_tensor_free(tyr), cl16_tensor_free(tg),
        cl16_tensor_free(tb), cl16_tensor_free(tdy), cl16_tensor_free(tdym);
    free(x), free(dy), free(dx0), free(g), free(b), free(y), free(yr), free(dym);
}

/* sum(y * r) of the float64 training forward. */
static double ref_loss(bshape s, const double *x, const double *g, const double *b,
                       const float *r) {
    const int64_t hw = s.h * s.w;
    const double cnt = (double)(s.n * hw);
    double l = 0;
    for (int64_t c = 0; c < s.c; c++) {
        double m = 0, q = 0;
        for (int64_t bb = 0; bb < s.n; bb++)
            for (int64_t i = 0; i < hw; i++)
                m += x[(bb * s.c + c) * hw + i];
        m /= cnt;
        for (int64_t bb = 0; bb < s.n; bb++)
            for (int64_t i = 0; i < hw; i++) {
                double d = x[(bb * s.c + c) * hw + i] - m;
                q += d * d;
            }
        const double is = 1.0 / sqrt(q / cnt + 1e-5);
        for (int64_t bb = 0; bb < s.n; bb++)
            for (int64_t i = 0; i < hw; i++) {
                const int64_t e = (bb * s.c + c) * hw + i;
                l += (g[c] * (x[e] - m) * is + b[c]) * r[e];
            }
    }
    return l;
}

/* Finite differences of the float64 forward along a random direction of
 * (x, gamma, beta_) against <dx, dir_x> + <dgamma, dir_g> + <dbeta_, dir_b>
 * from the device's f32 backward with dy = r. */
static void check_fd(cl16_ctx *ctx, bshape s, uint64_t seed) {
    const int64_t nx = s.n * s.c * s.h * s.w;
    const double cnt = (double)(s.n * s.h * s.w);
    pn_seed(seed);
    float *x = pn_random((size_t)nx, 2.0), *r = pn_random((size_t)nx, 1.0),
          *dirx = pn_random((size_t)nx, 1.0);
    float *g = pn_random((size_t)s.c, 1.5), *b = pn_random((size_t)s.c, 1.0);
    float *dirg = pn_random((size_t)s.c, 1.0), *dirb = pn_random((size_t)s.c, 1.0);
    bn_grad q;
    bn_backward(ctx, CL16_F32, s, x, g, b, r, 0, NULL, &q);
    double an = 0, aa = 0;
    for (int64_t i = 0; i < nx; i++)
        an += (double)q.dx[i] * dirx[i], aa += fabs((double)q.dx[i] * dirx[i]);
    for (int64_t c = 0; c < s.c; c++) {
        an += (double)q.dg[c] * dirg[c] + (double)q.db[c] * dirb[c];
        aa += fabs((double)q.dg[c] * dirg[c]) + fabs((double)q.db[c] * dirb[c]);
    }
    const double h = 1e-6;
    double *xp = calloc((size_t)nx, 8), *gp = calloc((size_t)s.c, 8), *bp = calloc((size_t)s.c, 8);
    double l[2];
    for (int k = 0; k < 2; k++) {
        const double sg = k ? -h : h;
        for (int64_t i = 0; i < nx; i++)
            xp[i] = x[i] + sg * dirx[i];
        for (int64_t c = 0; c < s.c; c++)
            gp[c] = g[c] + sg * dirg[c], bp[c] = b[c] + sg * dirb[c];
        l[k] = ref_loss(s, xp, gp, bp, r);
    }
    const double fd = (l[0] - l[1]) / (2 * h);
    /* The device's float statistics and sums: relative (N*H*W) * u on each term. */
    const double bound = 16 * (cnt + 10) * U32 * aa + 1e-7 * aa + 1e-9;
    CHECK_MSG(fabs(fd - an) <= bound,
              "BN FD %lldx%lldx%lldx%lld: finite difference %.10g, analytic %.10g, bound %.3g",
              (long long)s.n, (long long)s.c, (long long)s.h, (long long)s.w, fd, an, bound);
    free_grad(&q);
    free(x), free(r), free(dirx), free(g), free(b), free(dirg), free(dirb), free(xp), free(gp),
        free(bp);
}

/* f16 backward against f32 backward from the same half-valued data. */
static void check_f16_vs_f32(cl16_ctx *ctx, bshape s) {
    const int64_t nx = s.n * s.c * s.h * s.w;
    pn_seed(42);
    float *x = pn_random((size_t)nx, 2.0), *dy = pn_random((size_t)nx, 1.0);
    float *g = pn_random((size_t)s.c, 1.5), *b = pn_random((size_t)s.c, 1.0);
    pn_round_all(CL16_F16, x, (size_t)nx), pn_round_all(CL16_F16, dy, (size_t)nx);
    bn_grad q[2];
    bn_backward(ctx, CL16_F32, s, x, g, b, dy, 0, NULL, &q[0]);
    bn_backward(ctx, CL16_F16, s, x, g, b, dy, 0, NULL, &q[1]);
    double *ref = calloc((size_t)nx, 8), *bd = calloc((size_t)nx, 8), mx = 0;
    for (int64_t i = 0; i < nx; i++)
        mx = fmax(mx, fabs((double)q[0].dx[i]));
    for (int64_t i = 0; i < nx; i++)
        ref[i] = q[0].dx[i], bd[i] = U16 * fabs(ref[i]) + 1e-5 * mx;
    pn_compare("BN f16 backward vs f32 backward: dx", q[1].dx, ref, bd, (size_t)nx);
    /* Same float arithmetic on the same values: the parameter gradients agree closely. */
    for (int64_t c = 0; c < s.c; c++)
        CHECK(fabs(q[1].dg[c] - q[0].dg[c]) <= 1e-5 * (1 + fabs(q[0].dg[c])) &&
              fabs(q[1].db[c] - q[0].db[c]) <= 1e-5 * (1 + fabs(q[0].db[c])));
    free_grad(&q[0]), free_grad(&q[1]), free(ref), free(bd), free(x), free(dy), free(g), free(b);
}

static void check_special(cl16_ctx *ctx) {
    /* N*H*W = 1: training is refused (unbiased variance divides by n - 1 = 0;
     * PyTorch raises); evaluation works. */
    bshape one = {1, 3, 1, 1};
    const float x[3] = {1, 2, 3}, g[3] = {1, 1, 1}, b[3] = {0, 0, 0}, rm[3] = {0, 1, 2},
                rv[3] = {1, 4, 1};
    bn_run r;
    EXPECT_FAIL(ctx, bn_forward(ctx, CL16_F32, one, 1, 0.1f, 1e-5f, x, g, b, rm, rv, &r),
                CL16_ERR_SHAPE, "N*H*W = 1");
    CHECK_OK(ctx, bn_forward(ctx, CL16_F32, one, 0, 0.1f, 1e-5f, x, g, b, rm, rv, &r));
    if (r.y)
        CHECK(fabs(r.y[0] - 1 / sqrt(1 + 1e-5)) < 1e-6 &&
              fabs(r.y[1] - 1 / sqrt(4 + 1e-5)) < 1e-6 && fabs(r.y[2] - 1 / sqrt(1 + 1e-5)) < 1e-6);
    free_run(&r);
    /* Two values: momentum 1 makes the running statistics the batch ones
     * (mean 1.5, unbiased variance 0.5); momentum 0 keeps them. */
    bshape two = {2, 1, 1, 1};
    const float x2[2] = {1, 2}, rm1[1] = {7}, rv1[1] = {9};
    CHECK_OK(ctx, bn_forward(ctx, CL16_F16, two, 1, 1.0f, 1e-5f, x2, g, b, rm1, rv1, &r));
    if (r.rm)
        CHECK(r.rm[0] == 1.5f && fabs(r.rv[0] - 0.5) < 1e-7 && fabs(r.mean[0] - 1.5) < 1e-7);
    free_run(&r);
    CHECK_OK(ctx, bn_forward(ctx, CL16_F32, two, 1, 0.0f, 1e-5f, x2, g, b, rm1, rv1, &r));
    if (r.rm)
        CHECK(r.rm[0] == 7 && r.rv[0] == 9);
    free_run(&r);
    /* In place (y aliases x): the same result as out of place. */
    {
        bshape sh = {2, 3, 5, 7};
        int64_t xd[4] = {2, 3, 5, 7}, cd[1] = {3};
        pn_seed(123);
        float *xi = pn_random(210, 2.0);
        cl16_tensor *tx = pn_tensor(ctx, CL16_F16, 4, xd, xi, 0);
        cl16_tensor *tg = pn_tensor(ctx, CL16_F32, 1, cd, g, 0),
                    *tb = pn_tensor(ctx, CL16_F32, 1, cd, b, 0);
        cl16_tensor *sm = pn_tensor(ctx, CL16_F32, 1, cd, NULL, 0),
                    *si = pn_tensor(ctx, CL16_F32, 1, cd, NULL, 0);
        CHECK_OK(ctx,
                 cl16_batchnorm2d_forward(ctx, 1, 0.1f, 1e-5f, tx, tg, tb, NULL, NULL, sm, si, tx));
        float *yi = pn_read(ctx, tx);
        CHECK_OK(ctx, bn_forward(ctx, CL16_F16, sh, 1, 0.1f, 1e-5f, xi, g, b, NULL, NULL, &r));
        if (r.y)
            CHECK_MSG(!memcmp(yi, r.y, 210 * 4), "in-place BN differs from out-of-place");
        free_run(&r), free(xi), free(yi);
        cl16_tensor_free(tx), cl16_tensor_free(tg), cl16_tensor_free(tb), cl16_tensor_free(sm),
            cl16_tensor_free(si);
    }
    /* Training without running statistics (track_running_stats=False). */
    CHECK_OK(ctx, bn_forward(ctx, CL16_F32, two, 1, 0.1f, 1e-5f, x2, g, b, NULL, NULL, &r));
    if (r.y)
        CHECK(fabs(r.y[0] + 1) < 1e-4 && fabs(r.y[1] - 1) < 1e-4);
    free_run(&r);
}

static void check_deterministic(cl16_ctx *ctx, cl16_dtype dt) {
    bshape s = {4, 16, 32, 32};
    const int64_t nx = s.n * s.c * s.h * s.w;
    pn_seed(9);
    float *x = pn_random((size_t)nx, 3.0), *dy = pn_random((size_t)nx, 1.0);
    float *g = pn_random((size_t)s.c, 1.0), *b = pn_random((size_t)s.c, 1.0);
    bn_grad q[2];
    bn_run r[2];
    float *rm = pn_random((size_t)s.c, 1), *rv = pn_random((size_t)s.c, 1);
    for (int k = 0; k < 2; k++) {
        bn_backward(ctx, dt, s, x, g, b, dy, 0, NULL, &q[k]);
        CHECK_OK(ctx, bn_forward(ctx, dt, s, 1, 0.1f, 1e-5f, x, g, b, rm, rv, &r[k]));
    }
    CHECK(!memcmp(q[0].dx, q[1].dx, (size_t)nx * 4) && !memcmp(q[0].dg, q[1].dg, (size_t)s.c * 4) &&
          !memcmp(q[0].db, q[1].db, (size_t)s.c * 4));
    if (r[0].y && r[1].y)
        CHECK(!memcmp(r[0].y, r[1].y, (size_t)nx * 4) &&
              !memcmp(r[0].rv, r[1].rv, (size_t)s.c * 4) &&
              !memcmp(r[0].invstd, r[1].invstd, (size_t)s.c * 4));
    free_grad(&q[0]), free_grad(&q[1]), free_run(&r[0]), free_run(&r[1]);
    free(x), free(dy), free(g), free(b), free(rm), free(rv);
}

static void check_errors(cl16_ctx *ctx) {
    int64_t xd[4] = {2, 3, 4, 4}, cd[1] = {3}, c4[1] = {4}, bad[4] = {2, 3, 4, 5};
    cl16_tensor *x = pn_tensor(ctx, CL16_F32, 4, xd, NULL, 1),
                *y = pn_tensor(ctx, CL16_F32, 4, xd, NULL, 7);
    cl16_tensor *yb = pn_tensor(ctx, CL16_F32, 4, bad, NULL, 7),
                *y16 = pn_tensor(ctx, CL16_F16, 4, xd, NULL, 7);
    cl16_tensor *xi = pn_tensor(ctx, CL16_I32, 4, xd, NULL, 1),
                *x2 = pn_tensor(ctx, CL16_F32, 2, xd, NULL, 1);
    cl16_tensor *g = pn_tensor(ctx, CL16_F32, 1, cd, NULL, 1),
                *b = pn_tensor(ctx, CL16_F32, 1, cd, NULL, 0);
    cl16_tensor *g4 = pn_tensor(ctx, CL16_F32, 1, c4, NULL, 1),
                *g16 = pn_tensor(ctx, CL16_F16, 1, cd, NULL, 1);
    cl16_tensor *rm = pn_tensor(ctx, CL16_F32, 1, cd, NULL, 7),
                *rv = pn_tensor(ctx, CL16_F32, 1, cd, NULL, 7);
    cl16_tensor *sm = pn_tensor(ctx, CL16_F32, 1, cd, NULL, 7),
                *si = pn_tensor(ctx, CL16_F32, 1, cd, NULL, 7);
    cl16_tensor *dx = pn_tensor(ctx, CL16_F32, 4, xd, NULL, 7),
                *dg = pn_tensor(ctx, CL16_F32, 1, cd, NULL, 7);
    cl16_tensor *db = pn_tensor(ctx, CL16_F32, 1, cd, NULL, 7);
    const cl16_status A = CL16_ERR_INVALID_ARG, S = CL16_ERR_SHAPE;
#define FWD(tr, m, e, X, G, B, RM, RV, SM, SI, Y)                                                  \
    cl16_batchnorm2d_forward(ctx, tr, m, e, X, G, B, RM, RV, SM, SI, Y)
    EXPECT_FAIL(ctx, FWD(1, -0.1f, 1e-5f, x, g, b, rm, rv, sm, si, y), A, "momentum");
    EXPECT_FAIL(ctx, FWD(1, 1.5f, 1e-5f, x, g, b, rm, rv, sm, si, y), A, "momentum");
    EXPECT_FAIL(ctx, FWD(1, NAN, 1e-5f, x, g, b, rm, rv, sm, si, y), A, "momentum");
    EXPECT_FAIL(ctx, FWD(1, 0.1f, 0.0f, x, g, b, rm, rv, sm, si, y), A, "eps");
    EXPECT_FAIL(ctx, FWD(1, 0.1f, -1.0f, x, g, b, rm, rv, sm, si, y), A, "eps");
    EXPECT_FAIL(ctx, FWD(1, 0.1f, 1e-5f, x, g4, b, rm, rv, sm, si, y), S, "gamma", "[3]");
    EXPECT_FAIL(ctx, FWD(1, 0.1f, 1e-5f, x, g16, b, rm, rv, sm, si, y), S, "gamma", "f32");
    EXPECT_FAIL(ctx, FWD(1, 0.1f, 1e-5f, x, g, NULL, rm, rv, sm, si, y), A, "beta_");
    EXPECT_FAIL(ctx, FWD(1, 0.1f, 1e-5f, x, g, b, rm, rv, sm, si, yb), S, "y", "[2,3,4,4]");
    EXPECT_FAIL(ctx, FWD(1, 0.1f, 1e-5f, x, g, b, rm, rv, sm, si, y16), S, "y", "f16");
    EXPECT_FAIL(ctx, FWD(1, 0.1f, 1e-5f, xi, g, b, rm, rv, sm, si, y), S, "x", "i32");
    EXPECT_FAIL(ctx, FWD(1, 0.1f, 1e-5f, x2, g, b, rm, rv, sm, si, y), S, "x", "dimensions");
    EXPECT_FAIL(ctx, FWD(1, 0.1f, 1e-5f, NULL, g, b, rm, rv, sm, si, y), A, "x");
    EXPECT_FAIL(ctx, FWD(1, 0.1f, 1e-5f, x, g, b, rm, rv, NULL, si, y), A, "save_mean");
    EXPECT_FAIL(ctx, FWD(1, 0.1f, 1e-5f, x, g, b, rm, rv, sm, g4, y), S, "save_invstd", "[3]");
    EXPECT_FAIL(ctx, FWD(1, 0.1f, 1e-5f, x, g, b, rm, NULL, sm, si, y), A, "running_var");
    EXPECT_FAIL(ctx, FWD(0, 0.1f, 1e-5f, x, g, b, NULL, NULL, NULL, NULL, y), A, "running_mean");
    EXPECT_FAIL(ctx, FWD(1, 0.1f, 1e-5f, x, g, b, rm, rv, sm, sm, y), A, "save_mean");
#undef FWD
#define BWD(X, DY, G, SM, SI, BETA, DX, DG, DB)                                                    \
    cl16_batchnorm2d_backward(ctx, X, DY, G, SM, SI, BETA, DX, DG, DB)
    EXPECT_FAIL(ctx, BWD(x, y16, g, sm, si, 0, dx, dg, db), S, "dy", "f16");
    EXPECT_FAIL(ctx, BWD(x, y, g, sm, si, 0, yb, dg, db), S, "dx", "[2,3,4,4]");
    EXPECT_FAIL(ctx, BWD(x, y, g, sm, si, 0, dx, NULL, db), A, "dgamma");
    EXPECT_FAIL(ctx, BWD(x, y, g, sm, si, 0, dx, dg, g4), S, "dbeta_", "[3]");
    EXPECT_FAIL(ctx, BWD(x, y, g, NULL, si, 0, dx, dg, db), A, "save_mean");
    EXPECT_FAIL(ctx, BWD(x, y, g, sm, si, NAN, dx, dg, db), A, "beta");
    EXPECT_FAIL(ctx, BWD(x, y, g, sm, si, 0, dx, dg, dg), A, "dgamma");
#undef BWD
    /* The fused ReLU forms: the same checks, and the backward needs beta_. */
    EXPECT_FAIL(ctx, cl16_batchnorm2d_relu_forward(ctx, 1, 0.1f, 1e-5f, x, g, NULL, rm, rv, sm, si, y),
                A, "beta_");
    EXPECT_FAIL(ctx, cl16_batchnorm2d_relu_forward(ctx, 1, 0.1f, 1e-5f, x, g, b, rm, rv, sm, si, yb),
                S, "y", "[2,3,4,4]");
    EXPECT_FAIL(ctx, cl16_batchnorm2d_relu_backward(ctx, x, y, g, NULL, sm, si, 0, dx, dg, db), A,
                "beta_");
    EXPECT_FAIL(ctx, cl16_batchnorm2d_relu_backward(ctx, x, y, g, g4, sm, si, 0, dx, dg, db), S,
                "beta_", "[3]");
    EXPECT_FAIL(ctx, cl16_batchnorm2d_relu_backward(ctx, x, y, g, db, sm, si, 0, dx, dg, db), A,
                "beta_");
    EXPECT_FAIL(ctx, cl16_batchnorm2d_relu_backward(ctx, x, y16, g, b, sm, si, 0, dx, dg, db), S,
                "dy", "f16");
    CHECK_MSG(pn_holds(ctx, y, 7) && pn_holds(ctx, yb, 7) && pn_holds(ctx, y16, 7) &&
                  pn_holds(ctx, rm, 7) && pn_holds(ctx, rv, 7) && pn_holds(ctx, sm, 7) &&
                  pn_holds(ctx, si, 7) && pn_holds(ctx, dx, 7) && pn_holds(ctx, dg, 7) &&
                  pn_holds(ctx, db, 7),
              "a failed call wrote an output");
    cl16_tensor *ts[] = {x, y, yb, y16, xi, x2, g, b, g4, g16, rm, rv, sm, si, dx, dg, db};
    for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++)
        cl16_tensor_free(ts[i]);
}

int main(void) {
    cl16_ctx *ctx = test_ctx(getenv("CL16_CACHE_DIR"));
    const bshape shapes[] = {{2, 3, 5, 7}, {1, 1, 3, 3}, {1, 3, 7, 7}, {3, 2, 1, 1}, {2, 5, 4, 9}};
    const bshape resnet[] = {{4, 16, 32, 32}, {4, 32, 16, 16}, {4, 64, 8, 8}, {2, 16, 32, 32}};
    for (int dt = 0; dt < 3; dt++) {
        const cl16_dtype d = dt == 2 ? CL16_BF16 : dt ? CL16_F16 : CL16_F32;
        for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
            check_forward(ctx, d, shapes[i], 2.0, 0.0, 0.1f, 10 + i);
            check_backward(ctx, d, shapes[i], 0.0f, 20 + i);
            check_backward(ctx, d, shapes[i], i % 2 ? 1.0f : -0.5f, 30 + i);
        }
        for (size_t i = 0; i < sizeof resnet / sizeof resnet[0]; i++) {
            check_forward(ctx, d, resnet[i], 1.0, 0.5, 0.1f, 40 + i);
            check_backward(ctx, d, resnet[i], i == 1 ? 1.0f : 0.0f, 50 + i);
        }
        check_deterministic(ctx, d);
        check_relu(ctx, d, shapes[0], 0.0f, 80);
        check_relu(ctx, d, shapes[4], 1.0f, 81);
        check_relu(ctx, d, resnet[1], 0.0f, 82);
    }
    /* Large means with small spread: around 100 in f16, around 1000 in f32. */
    check_forward(ctx, CL16_F16, (bshape){4, 16, 8, 8}, 0.5, 100.0, 0.1f, 60);
    check_forward(ctx, CL16_F16, (bshape){4, 16, 16, 16}, 2.0, -300.0, 0.2f, 61);
    check_forward(ctx, CL16_F32, (bshape){4, 16, 8, 8}, 0.01, 1000.0, 0.1f, 62);
    for (int i = 0; i < 3; i++)
        check_fd(ctx, shapes[i == 2 ? 4 : i], 70 + (uint64_t)i);
    check_fd(ctx, (bshape){2, 4, 3, 1}, 74);
    check_f16_vs_f32(ctx, (bshape){2, 3, 5, 7});
    check_f16_vs_f32(ctx, (bshape){4, 32, 16, 16});
    check_special(ctx);
    cl16_ctx_stats st0, st1;
    cl16_ctx_stats_get(ctx, &st0);
    check_backward(ctx, CL16_F32, shapes[0], 0.0f, 99);
    cl16_ctx_stats_get(ctx, &st1);
    CHECK(st1.op_flops > st0.op_flops && st1.op_bytes > st0.op_bytes);
    check_errors(ctx);
    cl16_ctx_free(ctx);
    return check_done("test_norm");
}
