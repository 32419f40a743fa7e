/* test_optim.c - SGD (momentum, dampening, Nesterov, weight decay), Adam and
 * AdamW steps against a float64 reference of PyTorch's formulas in f32,
 * f16 and bf16, over several steps and vector tails; reproducibility, eps in f16,
 * learning-rate schedules and refused arguments.
 *
 * The reference of each step starts from what the device holds before it (w,
 * m, v read back; in f16 those are exactly the half-rounded values, so the
 * reference sees the storage rounding of every previous step) and computes
 * the step exactly in double. The device computes the same step in float, so
 * the difference is bounded by a running error analysis: every float
 * operation adds at most u = 2^-24 relative to the magnitude of its result,
 * propagated through the formula (ref_step below tracks, for each quantity,
 * the sum of the absolute values of its terms and a bound on its float
 * error). That is a few float ulps of the magnitudes involved; the bound is
 * doubled to cover the second-order terms the propagation drops. In f16 the
 * stored value adds one round-to-nearest: half an ulp of half, 2^-11
 * relative, or 2^-25 absolute in the subnormal range. */
#include "layer_check.h"

static cl16_ctx *ctx;

static const int64_t sizes[] = {1, 7, 1000, 4099};
#define NSIZES (int)(sizeof sizes / sizeof sizes[0])
#define NSTEPS 5

/* One element's step in double; e* are bounds on the float computation's error. */
typedef struct refout {
    double w, m, v, ew, em, ev;
} refout;

static refout ref_step(const cl16_optim_params *p, int64_t step, double w, double g, double m,
                       double v) {
    const double u = LC_U;
    refout r = {0, m, v, 0, 0, 0};
    const int adamw = p->kind == CL16_OPT_ADAMW;
    double wd = p->weight_decay, gp = g, mg = fabs(g), eg = 0;
    if (wd != 0 && !adamw) {
        gp = g + wd * w;
        mg = fabs(g) + fabs(wd * w);
        eg = 2 * u * mg;
    }
    if (p->kind == CL16_OPT_SGD) {
        double d = gp, md = mg, ed = eg;
        if (p->momentum != 0) {
            double mom = p->momentum, damp1 = 1.0 - (double)p->dampening;
            double b, mb, eb;
            if (step == 1) /* PyTorch: the buffer starts as g' */
                b = gp, mb = mg, eb = eg;
            else {
                b = mom * m + damp1 * gp;
                mb = fabs(mom * m) + fabs(damp1) * mg;
                eb = 4 * u * mb + fabs(damp1) * eg;
            }
            r.m = b, r.em = eb;
            if (p->nesterov) {
                d = gp + mom * b;
                md = mg + mom * mb;
                ed = eg + mom * eb + 2 * u * md;
            } else
                d = b, md = mb, ed = eb;
        }
        r.w = w - (double)p->lr * d;
        r.ew = 2 * u * (fabs(w) + p->lr * md) + p->lr * ed;
    } else {
        double w1 = w, ew1 = 0;
        if (adamw && wd != 0) {
            w1 = w - (double)p->lr * wd * w;
            ew1 = 3 * u * fabs(w);
        }
        const double b1 = p->beta1, b2 = p->beta2, eps = p->eps;
        const double bc1 = 1 - pow(b1, (double)step), bc2 = 1 - pow(b2, (double)step);
        r.m = b1 * m + (1 - b1) * gp;
        const double mm = b1 * fabs(m) + (1 - b1) * mg;
        r.em = 4 * u * mm + (1 - b1) * eg;
        r.v = b2 * v + (1 - b2) * gp * gp;
        const double mv = b2 * fabs(v) + (1 - b2) * mg * mg;
        r.ev = 5 * u * mv + (1 - b2) * 2 * mg * eg;
        /* PyTorch: w -= lr/bc1 * m / (sqrt(v)/sqrt(bc2) + eps) */
        const double sq = sqrt(r.v), isb2 = 1 / sqrt(bc2);
        double esq = sq > 0 ? r.ev / (2 * sq) : sqrt(r.ev);
        if (esq > sqrt(r.ev))
            esq = sqrt(r.ev);
        esq += u * sq;
        const double den = sq * isb2 + eps;
        const double eden = isb2 * esq + 3 * u * den;
        const double q = r.m / den;
        const double eq =
            den > 2 * eden ? (r.em + fabs(q) * eden) / (den - eden) + u * fabs(q) : INFINITY;
        const double ss = p->lr / bc1, upd = ss * q;
        const double eupd = ss * eq + 2 * u * fabs(upd);
        r.w = w1 - upd;
        r.ew = ew1 + eupd + 2 * u * (fabs(w1) + fabs(upd));
    }
    r.ew *= 2, r.em *= 2, r.ev *= 2;
    return r;
}

/* Float error e plus, in f16 and bf16, the one rounding of the stored result. */
static double bound(cl16_dtype dt, double e, double ref) {
    if (dt != CL16_F32)
        e += gc_u_store(dt) * (fabs(ref) + e) + gc_abs_store(dt);
    return e;
}

static int close_to(double got, double ref, double b) {
    return fabs(got - ref) <= b;
}

/* The dtype's rounding of x (what storing it does) and its ulp at x. */
static double store_round(cl16_dtype dt, double x) {
    return (double)gc_round16(dt, (float)x);
}
static double ulp_at(cl16_dtype dt, double x) {
    const int mant = dt == CL16_F16 ? 10 : dt == CL16_BF16 ? 7 : 23, emin = dt == CL16_F16 ? -14 : -126;
    int e;
    frexp(fabs(x), &e); /* |x| in [2^(e-1), 2^e) */
    if (e - 1 < emin)
        e = emin + 1;
    return ldexp(1.0, e - 1 - mant);
}

/* Gradients of magnitude 0.01..1, so that (1 - b2) g^2 stays inside the half
 * range (subnormal at worst) and the f16 state never loses v entirely. */
static void fill_grad(cl16_dtype dt, float *g, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        float a = lc_rand(CL16_F32, 0.01f, 1.0f);
        g[i] = gc_round16(dt, gc_rand() & 1 ? a : -a);
    }
}

static const char *kind_name(cl16_optim_kind k) {
    return k == CL16_OPT_SGD ? "sgd" : k == CL16_OPT_ADAM ? "adam" : "adamw";
}

/* NSTEPS steps of p on n elements, each checked against the reference;
 * returns the final bytes of w, m and v (for the repeat test).
 *
 * Besides the step-by-step check, an independent simulation runs the same
 * steps on the host from the same start, storing its own w, m and v rounded
 * to the dtype after each step, and is compared with the device at the end:
 * this catches errors that build up over steps. The two can only part where
 * one float result and the exact one straddle a rounding boundary (in f16
 * rare: the float error is ~2^-13 of a half ulp), each such event costing one
 * ulp at the magnitude of that step (a state that shrinks keeps the larger
 * ulp of its past, damped by beta or momentum), so the bound is two of the
 * largest ulps seen plus the float errors summed over the steps. */
static unsigned char *run_case(cl16_dtype dt, int64_t n, const cl16_optim_params *p) {
    const int sgd = p->kind == CL16_OPT_SGD, use_m = !sgd || p->momentum != 0;
    float *w = malloc((size_t)n * 4), *g = malloc((size_t)n * 4), *m = calloc((size_t)n, 4),
          *v = calloc((size_t)n, 4);
    for (int64_t i = 0; i < n; i++)
        w[i] = lc_rand(dt, -1.0f, 1.0f);
    cl16_tensor *tw = lc_tensor1(ctx, dt, n, w), *tg = lc_tensor1(ctx, dt, n, NULL);
    cl16_tensor *tm = use_m ? lc_tensor1(ctx, dt, n, m) : NULL;
    cl16_tensor *tv = sgd ? NULL : lc_tensor1(ctx, dt, n, v);
    /* SGD's momentum buffer is not read at step 1: NaN there must not leak. */
    if (sgd && use_m)
        CHECK_OK(ctx, cl16_tensor_fill(tm, NAN));
    double *sim = calloc((size_t)n * 9, sizeof *sim); /* w m v, summed errors, largest ulps */
    for (int64_t i = 0; i < n; i++)
        sim[i] = w[i];
    int changed = 0, bad = 0;
    for (int64_t step = 1; step <= NSTEPS; step++) {
        fill_grad(dt, g, n);
        CHECK_OK(ctx, cl16_tensor_write_f32(tg, g, (size_t)n));
        CHECK_OK(ctx, cl16_optim_step(ctx, p, step, tw, tg, tm, tv));
        float *nw = lc_read(ctx, tw), *nm = use_m ? lc_read(ctx, tm) : NULL,
              *nv = sgd ? NULL : lc_read(ctx, tv);
        for (int64_t i = 0; i < n && bad < 10; i++) {
            refout r = ref_step(p, step, w[i], g[i], m[i], v[i]);
            int ok = close_to(nw[i], r.w, bound(dt, r.ew, r.w));
            if (use_m)
                ok = ok && close_to(nm[i], r.m, bound(dt, r.em, r.m));
            if (!sgd)
                ok = ok && close_to(nv[i], r.v, bound(dt, r.ev, r.v));
            changed |= nw[i] != w[i];
            refout sr = ref_step(p, step, sim[i], g[i], sim[n + i], sim[2 * n + i]);
            sim[i] = store_round(dt, sr.w), sim[n + i] = store_round(dt, sr.m);
            sim[2 * n + i] = store_round(dt, sr.v);
            sim[3 * n + i] += sr.ew, sim[4 * n + i] += sr.em, sim[5 * n + i] += sr.ev;
            for (int t = 0; t < 3; t++)
                sim[(6 + t) * n + i] = fmax(sim[(6 + t) * n + i], ulp_at(dt, sim[t * n + i]));
            if (!ok) {
                bad++;
                CHECK_MSG(ok,
                          "%s %s n=%lld step %lld i=%lld: w %.9g vs %.9g (bound %.3g), m %.9g vs "
                          "%.9g, v %.9g vs %.9g",
                          kind_name(p->kind), cl16_dtype_name(dt), (long long)n, (long long)step,
                          (long long)i, (double)nw[i], r.w, bound(dt, r.ew, r.w),
                          use_m ? (double)nm[i] : 0.0, r.m, sgd ? 0.0 : (double)nv[i], r.v);
            }
        }
        /* The device's state is the next step's starting point. */
        memcpy(w, nw, (size_t)n * 4);
        if (use_m)
            memcpy(m, nm, (size_t)n * 4);
        if (!sgd)
            memcpy(v, nv, (size_t)n * 4);
        free(nw), free(nm), free(nv);
    }
    for (int64_t i = 0; i < n; i++)
        for (int t = 0; t < 3; t++) {
            if ((t == 1 && !use_m) || (t == 2 && sgd))
                continue;
            const double dev = t == 0 ? w[i] : t == 1 ? m[i] : v[i], ref = sim[t * n + i];
            const double b =
                2 * fmax(ulp_at(dt, dev), sim[(6 + t) * n + i]) + 2 * sim[(3 + t) * n + i];
            if (!close_to(dev, ref, b) && bad++ < 10)
                CHECK_MSG(0, "%s %s n=%lld, simulated %d steps, %s[%lld]: %.9g vs %.9g",
                          kind_name(p->kind), cl16_dtype_name(dt), (long long)n, NSTEPS,
                          t == 0   ? "w"
                          : t == 1 ? "m"
                                   : "v",
                          (long long)i, dev, ref);
        }
    free(sim);
    CHECK_MSG(changed, "%s %s n=%lld: the weights never changed", kind_name(p->kind),
              cl16_dtype_name(dt), (long long)n);
    const size_t b = cl16_tensor_bytes(tw);
    unsigned char *raw = calloc(3, b);
    CHECK_OK(ctx, cl16_tensor_read_raw(tw, raw, b));
    if (tm)
        CHECK_OK(ctx, cl16_tensor_read_raw(tm, raw + b, b));
    if (tv)
        CHECK_OK(ctx, cl16_tensor_read_raw(tv, raw + 2 * b, b));
    free(w), free(g), free(m), free(v);
    cl16_tensor_free(tw), cl16_tensor_free(tg), cl16_tensor_free(tm), cl16_tensor_free(tv);
    return raw;
}

#define NCASES 9
static cl16_optim_params make_case(int c, cl16_dtype dt) {
    cl16_optim_params p;
    cl16_optim_params_init(&p);
    /* f16 steps large enough that most updates survive rounding at |w| <= 1. */
    p.lr = dt != CL16_F32 ? 0.05f : 0.01f;
    switch (c) {
    case 0:
        break; /* plain SGD */
    case 1:
        p.weight_decay = 0.01f;
        break;
    case 2:
        p.momentum = 0.9f;
        break;
    case 3:
        p.momentum = 0.9f, p.dampening = 0.1f, p.weight_decay = 0.01f;
        break;
    case 4:
        p.momentum = 0.9f, p.nesterov = 1, p.weight_decay = 0.01f;
        break;
    case 5:
        p.kind = CL16_OPT_ADAM, p.lr = dt != CL16_F32 ? 0.01f : 1e-3f;
        break;
    case 6:
        p.kind = CL16_OPT_ADAM, p.lr = 0.01f, p.weight_decay = 0.01f;
        break;
    case 7:
        p.kind = CL16_OPT_ADAMW, p.lr = 0.01f, p.weight_decay = 0.01f;
        break;
    default: /* AdamW with other betas and a larger eps */
        p.kind = CL16_OPT_ADAMW, p.lr = 0.02f, p.weight_decay = 0.1f, p.beta1 = 0.8f,
        p.beta2 = 0.99f, p.eps = 1e-4f;
        break;
    }
    return p;
}

static void test_steps(cl16_dtype dt) {
    for (int c = 0; c < NCASES; c++) {
        cl16_optim_params p = make_case(c, dt);
        for (int si = 0; si < NSIZES; si++)
            free(run_case(dt, sizes[si], &p));
    }
}

/* Same inputs twice give the same bytes (w, m and v after NSTEPS steps). */
static void test_repeat(cl16_dtype dt) {
    for (int c = 0; c < NCASES; c++) {
        cl16_optim_params p = make_case(c, dt);
        const int64_t n = 4099;
        const size_t b = (size_t)n * cl16_dtype_size(dt);
        uint64_t seed = gc_rng_state;
        unsigned char *a = run_case(dt, n, &p);
        gc_rng_state = seed;
        unsigned char *r = run_case(dt, n, &p);
        CHECK_MSG(!memcmp(a, r, 3 * b), "%s %s case %d: two runs differ", kind_name(p.kind),
                  cl16_dtype_name(dt), c);
        free(a), free(r);
    }
}

/* f16 with PyTorch's eps = 1e-8, which has no half representation (it would
 * round to 0): the kernel keeps eps in its float arithmetic, so a zero
 * gradient on zero state gives 0 / (0 + 1e-8) = 0, not 0/0 = NaN, and tiny
 * gradients give finite updates. */
static void test_eps_f16(void) {
    const int64_t n = 37;
    for (int kind = CL16_OPT_ADAM; kind <= CL16_OPT_ADAMW; kind++) {
        cl16_optim_params p;
        cl16_optim_params_init(&p);
        p.kind = (cl16_optim_kind)kind;
        p.lr = 0.01f;
        CHECK(cl16_float_to_half(p.eps) == 0); /* the premise: eps flushes in storage */
        float w[37];
        for (int i = 0; i < n; i++)
            w[i] = lc_rand(CL16_F16, -1.0f, 1.0f);
        cl16_tensor *tw = lc_tensor1(ctx, CL16_F16, n, w), *tg = lc_tensor1(ctx, CL16_F16, n, NULL),
                    *tm = lc_tensor1(ctx, CL16_F16, n, NULL),
                    *tv = lc_tensor1(ctx, CL16_F16, n, NULL);
        CHECK_OK(ctx, cl16_tensor_fill(tg, 0.0f));
        CHECK_OK(ctx, cl16_tensor_fill(tm, 0.0f));
        CHECK_OK(ctx, cl16_tensor_fill(tv, 0.0f));
        for (int64_t step = 1; step <= 3; step++)
            CHECK_OK(ctx, cl16_optim_step(ctx, &p, step, tw, tg, tm, tv));
        float *nw = lc_read(ctx, tw);
        for (int i = 0; i < n; i++)
            CHECK_MSG(nw[i] == w[i], "%s eps f16: w[%d] %g became %g", kind_name(p.kind), i,
                      (double)w[i], (double)nw[i]);
        free(nw);
        /* Tiny gradients (v underflows in half storage): finite, bounded updates. */
        CHECK_OK(ctx, cl16_tensor_fill(tg, 1e-4f));
        for (int64_t step = 4; step <= 6; step++)
            CHECK_OK(ctx, cl16_optim_step(ctx, &p, step, tw, tg, tm, tv));
        nw = lc_read(ctx, tw);
        for (int i = 0; i < n; i++)
            CHECK_MSG(isfinite(nw[i]) && fabs(nw[i] - w[i]) < 0.1, "%s eps f16: w[%d] %g -> %g",
                      kind_name(p.kind), i, (double)w[i], (double)nw[i]);
        free(nw);
        cl16_tensor_free(tw), cl16_tensor_free(tg), cl16_tensor_free(tm), cl16_tensor_free(tv);
    }
}

static void test_counters_and_no_m(void) {
    const int64_t n = 100;
    cl16_tensor *tw = lc_tensor1(ctx, CL16_F32, n, NULL), *tg = lc_tensor1(ctx, CL16_F32, n, NULL);
    CHECK_OK(ctx, cl16_tensor_fill(tw, 1.0f));
    CHECK_OK(ctx, cl16_tensor_fill(tg, 2.0f));
    cl16_optim_params p;
    cl16_optim_params_init(&p);
    CHECK(p.kind == CL16_OPT_SGD && p.lr == 0.01f && p.momentum == 0 && p.beta1 == 0.9f &&
          p.beta2 == 0.999f && p.eps == 1e-8f && p.weight_decay == 0 && !p.nesterov);
    cl16_ctx_stats s0, s1;
    cl16_ctx_stats_get(ctx, &s0);
    CHECK_OK(ctx, cl16_optim_step(ctx, &p, 1, tw, tg, NULL, NULL)); /* m unused: may be NULL */
    cl16_ctx_stats_get(ctx, &s1);
    CHECK(s1.op_flops >= s0.op_flops + 2.0 * (double)n &&
          s1.op_bytes >= s0.op_bytes + 3.0 * (double)cl16_tensor_bytes(tw));
    float *w = lc_read(ctx, tw);
    CHECK(fabs(w[0] - (1.0 - 0.01 * 2.0)) < 1e-7 && w[n - 1] == w[0]);
    free(w);
    cl16_tensor_free(tw), cl16_tensor_free(tg);
}

static void test_lr_at(void) {
    const double b = 0.1;
    /* Warm-up: 0 at step 0, linear, base at its end. */
    for (int s = 0; s <= 2; s++) {
        cl16_lr_schedule sc = (cl16_lr_schedule)s;
        CHECK(cl16_lr_at(sc, b, 0, 100, 10, 30, 0.1) == 0.0);
        CHECK(fabs(cl16_lr_at(sc, b, 9, 100, 10, 30, 0.1) - 0.09) < 1e-15);
        CHECK(fabs(cl16_lr_at(sc, b, 5, 100, 10, 30, 0.1) - 0.05) < 1e-15);
        CHECK(cl16_lr_at(sc, b, 10, 100, 10, 30, 0.1) == b);
    }
    CHECK(cl16_lr_at(CL16_LR_CONSTANT, b, 55, 100, 10, 30, 0.1) == b);
    CHECK(cl16_lr_at(CL16_LR_CONSTANT, b, 99, 100, 10, 30, 0.1) == b);
    CHECK(cl16_lr_at(CL16_LR_CONSTANT, b, 0, 100, 0, 30, 0.1) == b);
    /* Step decay counts from the end of the warm-up. */
    CHECK(cl16_lr_at(CL16_LR_STEP, b, 39, 100, 10, 30, 0.1) == b);
    CHECK(fabs(cl16_lr_at(CL16_LR_STEP, b, 40, 100, 10, 30, 0.1) - 0.01) < 1e-15);
    CHECK(fabs(cl16_lr_at(CL16_LR_STEP, b, 70, 100, 10, 30, 0.1) - 0.001) < 1e-15);
    CHECK(fabs(cl16_lr_at(CL16_LR_STEP, b, 99, 100, 0, 30, 0.5) - 0.0125) < 1e-15);
    /* Cosine: base after warm-up, half at mid-way, 0 at the end. */
    CHECK(cl16_lr_at(CL16_LR_COSINE, b, 0, 100, 0, 0, 0) == b);
    CHECK(fabs(cl16_lr_at(CL16_LR_COSINE, b, 55, 100, 10, 0, 0) - 0.05) < 1e-15);
    CHECK(fabs(cl16_lr_at(CL16_LR_COSINE, b, 50, 100, 0, 0, 0) - 0.05) < 1e-15);
    double near_end = cl16_lr_at(CL16_LR_COSINE, b, 99, 100, 10, 0, 0);
    CHECK(near_end > 0 &&
          fabs(near_end - b * 0.5 * (1 + cos(3.14159265358979323846 * 89.0 / 90.0))) < 1e-15);
    CHECK(cl16_lr_at(CL16_LR_COSINE, b, 100, 100, 10, 0, 0) == 0.0);
    CHECK(cl16_lr_at(CL16_LR_COSINE, b, 150, 100, 10, 0, 0) == 0.0);
    /* Monotone non-increasing after the warm-up. */
    double prev = b;
    for (int64_t s = 10; s <= 100; s++) {
        double l = cl16_lr_at(CL16_LR_COSINE, b, s, 100, 10, 0, 0);
        CHECK(l <= prev + 1e-18);
        prev = l;
    }
    /* Nonsense gives NaN, which cl16_optim_step refuses as lr. */
    CHECK(isnan(cl16_lr_at((cl16_lr_schedule)9, b, 1, 100, 0, 1, 1)));
    CHECK(isnan(cl16_lr_at(CL16_LR_CONSTANT, b, -1, 100, 0, 1, 1)));
    CHECK(isnan(cl16_lr_at(CL16_LR_CONSTANT, b, 1, 100, -2, 1, 1)));
    CHECK(isnan(cl16_lr_at(CL16_LR_STEP, b, 1, 100, 0, 0, 0.1)));
}

static void test_refused(void) {
    const int64_t n = 10;
    cl16_tensor *w = lc_tensor1(ctx, CL16_F32, n, NULL), *g = lc_tensor1(ctx, CL16_F32, n, NULL),
                *m = lc_tensor1(ctx, CL16_F32, n, NULL), *v = lc_tensor1(ctx, CL16_F32, n, NULL);
    cl16_tensor *g9 = lc_tensor1(ctx, CL16_F32, 9, NULL), *h = lc_tensor1(ctx, CL16_F16, n, NULL);
    cl16_tensor *iw = lc_tensor1(ctx, CL16_I32, n, NULL);
    int64_t d25[2] = {2, 5};
    cl16_tensor *g25 = lc_tensor(ctx, CL16_F32, 2, d25, NULL); /* same count: fine */
    CHECK_OK(ctx, cl16_tensor_fill(w, 1.0f));
    CHECK_OK(ctx, cl16_tensor_fill(g, 1.0f));
    CHECK_OK(ctx, cl16_tensor_fill(g25, 1.0f));
    CHECK_OK(ctx, cl16_tensor_fill(m, 0.0f));
    CHECK_OK(ctx, cl16_tensor_fill(v, 0.0f));
    unsigned char *wb = lc_raw(ctx, w);
    cl16_optim_params p, q;
    cl16_optim_params_init(&p);
    LC_REFUSED(ctx, cl16_optim_step(NULL, &p, 1, w, g, m, v), CL16_ERR_INVALID_ARG, NULL, w, wb);
    LC_REFUSED(ctx, cl16_optim_step(ctx, NULL, 1, w, g, m, v), CL16_ERR_INVALID_ARG, "p", w, wb);
    LC_REFUSED(ctx, cl16_optim_step(ctx, &p, 0, w, g, m, v), CL16_ERR_INVALID_ARG, "step", w, wb);
    LC_REFUSED(ctx, cl16_optim_step(ctx, &p, 1, NULL, g, m, v), CL16_ERR_INVALID_ARG, "w", NULL,
               NULL);
    LC_REFUSED(ctx, cl16_optim_step(ctx, &p, 1, w, NULL, m, v), CL16_ERR_INVALID_ARG, "g", w, wb);
    LC_REFUSED(ctx, cl16_optim_step(ctx, &p, 1, w, g9, m, v), CL16_ERR_SHAPE, "tensor g has 9", w,
               wb);
    LC_REFUSED(ctx, cl16_optim_step(ctx, &p, 1, w, h, m, v), CL16_ERR_SHAPE, "tensor g is f16", w,
               wb);
    LC_REFUSED(ctx, cl16_optim_step(ctx, &p, 1, iw, g, m, v), CL16_ERR_SHAPE, "tensor w is i32",
               NULL, NULL);
#define BAD_P(field, value, want, need)                                                            \
    q = p, q.field = value;                                                                        \
    LC_REFUSED(ctx, cl16_optim_step(ctx, &q, 1, w, g, m, v), want, need, w, wb)
    BAD_P(kind, (cl16_optim_kind)5, CL16_ERR_INVALID_ARG, "kind");
    BAD_P(lr, -0.1f, CL16_ERR_INVALID_ARG, "lr");
    BAD_P(lr, NAN, CL16_ERR_INVALID_ARG, "lr");
    BAD_P(lr, INFINITY, CL16_ERR_INVALID_ARG, "lr");
    BAD_P(weight_decay, -1.0f, CL16_ERR_INVALID_ARG, "weight_decay");
    BAD_P(momentum, -0.5f, CL16_ERR_INVALID_ARG, "momentum");
    BAD_P(nesterov, 1, CL16_ERR_INVALID_ARG, "nesterov"); /* momentum 0 */
    BAD_P(nesterov, 2, CL16_ERR_INVALID_ARG, "nesterov");
    p.momentum = 0.9f;
    BAD_P(dampening, NAN, CL16_ERR_INVALID_ARG, "dampening");
    q = p, q.nesterov = 1, q.dampening = 0.1f;
    LC_REFUSED(ctx, cl16_optim_step(ctx, &q, 1, w, g, m, v), CL16_ERR_INVALID_ARG,
               "nesterov|dampening", w, wb);
    LC_REFUSED(ctx, cl16_optim_step(ctx, &p, 1, w, g, NULL, v), CL16_ERR_INVALID_ARG, "tensor m", w,
               wb);
    LC_REFUSED(ctx, cl16_optim_step(ctx, &p, 1, w, g, g9, v), CL16_ERR_SHAPE, "tensor m", w, wb);
    LC_REFUSED(ctx, cl16_optim_step(ctx, &p, 1, w, g, h, v), CL16_ERR_SHAPE, "tensor m", w, wb);
    p.kind = CL16_OPT_ADAM;
    LC_REFUSED(ctx, cl16_optim_step(ctx, &p, 1, w, g, m, NULL), CL16_ERR_INVALID_ARG, "tensor v", w,
               wb);
    LC_REFUSED(ctx, cl16_optim_step(ctx, &p, 1, w, g, NULL, v), CL16_ERR_INVALID_ARG, "tensor m", w,
               wb);
    LC_REFUSED(ctx, cl16_optim_step(ctx, &p, 1, w, g, m, g9), CL16_ERR_SHAPE, "tensor v", w, wb);
    LC_REFUSED(ctx, cl16_optim_step(ctx, &p, 1, w, g, m, h), CL16_ERR_SHAPE, "tensor v", w, wb);
    BAD_P(beta1, 1.0f, CL16_ERR_INVALID_ARG, "beta1");
    BAD_P(beta1, -0.1f, CL16_ERR_INVALID_ARG, "beta1");
    BAD_P(beta2, 1.0f, CL16_ERR_INVALID_ARG, "beta2");
    BAD_P(beta2, NAN, CL16_ERR_INVALID_ARG, "beta2");
    BAD_P(eps, 0.0f, CL16_ERR_INVALID_ARG, "eps");
    BAD_P(eps, -1e-8f, CL16_ERR_INVALID_ARG, "eps");
    BAD_P(lr, (float)cl16_lr_at((cl16_lr_schedule)9, 0.1, 0, 1, 0, 1, 1), CL16_ERR_INVALID_ARG,
          "lr");
#undef BAD_P
    /* A tensor of another context. */
    cl16_ctx *other = test_ctx(NULL);
    cl16_tensor *ov = lc_tensor1(other, CL16_F32, n, NULL);
    LC_REFUSED(ctx, cl16_optim_step(ctx, &p, 1, w, g, m, ov), CL16_ERR_INVALID_ARG,
               "another context", w, wb);
    cl16_tensor_free(ov);
    cl16_ctx_free(other);
    /* Same count, other shape: accepted. */
    CHECK_OK(ctx, cl16_optim_step(ctx, &p, 1, w, g25, m, v));
    free(wb);
    cl16_tensor_free(w), cl16_tensor_free(g), cl16_tensor_free(m), cl16_tensor_free(v);
    cl16_tensor_free(g9), cl16_tensor_free(h), cl16_tensor_free(iw), cl16_tensor_free(g25);
}

int main(void) {
    ctx = test_ctx(getenv("CL16_CACHE_DIR"));
    for (int d = 0; d < 3; d++) {
        cl16_dtype dt = DTYPES[d];
        gc_section(cl16_dtype_name(dt));
        test_steps(dt);
        test_repeat(dt);
    }
    gc_section("eps in f16, counters, schedules");
    test_eps_f16();
    test_counters_and_no_m();
    test_lr_at();
    gc_section("refused arguments");
    test_refused();
    cl16_ctx_free(ctx);
    return check_done("test_optim");
}
