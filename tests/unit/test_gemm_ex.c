/* test_gemm_ex.c - the descriptor form against a float64 host reference (bounds
 * in gemm_check.h): offsets and ld > cols, strided batches (stride 0 reuses A
 * or B), batch-reduce (c_stride 0), bias per row and per column, ReLU, half
 * accumulation, the backends; and the short forms agree with it bit for bit. */
#include "gemm_check.h"
#include "runtime/internal.h" /* cl16__gemm_set_panel */

static const int64_t sizes[6] = {1, 3, 17, 64, 100, 257};
static int64_t pick(int big) { return sizes[gc_rand_int(0, big ? 5 : 4)]; }

/* Random scalars and data: plain, alpha/beta != 1, beta 0 over NaN, integers (exact). */
static void scalars(gcase *g, int p) {
    switch (p % 4) {
    case 0: g->d.alpha = 1, g->d.beta = 0; break;
    case 1: g->d.alpha = 0.75f, g->d.beta = -1.25f; break;
    case 2: g->d.alpha = -1.5f, g->d.beta = 0, g->c_nan = 1; break;
    default: g->d.alpha = 1, g->d.beta = gc_rand_int(0, 1) ? 1.0f : -0.5f, g->fill = GC_FILL_INT; break;
    }
}

static void batched(gcase *g, int64_t batch, int64_t a_gap, int64_t b_gap, int64_t c_gap) {
    cl16_gemm_desc *d = &g->d;
    int64_t ar = d->trans_a ? d->k : d->m, br = d->trans_b ? d->n : d->k;
    d->batch = batch;
    d->a_stride = a_gap < 0 ? 0 : ar * d->lda + a_gap;
    d->b_stride = b_gap < 0 ? 0 : br * d->ldb + b_gap;
    d->c_stride = c_gap < 0 ? 0 : d->m * d->ldc + c_gap;
}

static void check_desc_init(void) {
    cl16_gemm_desc d;
    memset(&d, 0x5a, sizeof d);
    cl16_gemm_desc_init(&d);
    CHECK(d.batch == 1 && d.alpha == 1.0f && d.beta == 0.0f);
    CHECK(d.trans_a == 0 && d.trans_b == 0 && d.m == 0 && d.n == 0 && d.k == 0);
    CHECK(d.a == NULL && d.a_offset == 0 && d.lda == 0 && d.a_stride == 0);
    CHECK(d.b == NULL && d.b_offset == 0 && d.ldb == 0 && d.b_stride == 0);
    CHECK(d.c == NULL && d.c_offset == 0 && d.ldc == 0 && d.c_stride == 0);
    CHECK(d.bias == NULL && d.bias_offset == 0 && d.bias_mode == CL16_BIAS_NONE);
    CHECK(d.activation == CL16_ACT_NONE && d.accumulate == CL16_ACC_FLOAT && d.backend == CL16_GEMM_AUTO);
}

/* cl16_gemm and cl16_gemm_strided_batched are cl16_gemm_ex with defaults:
 * the same input must give the same bytes. */
static void check_equivalence(cl16_ctx *ctx) {
    for (int dt = 0; dt < 2; dt++)
        for (int t = 0; t < 4; t++)
            for (int i = 0; i < 3; i++) {
                gcase g[3];
                int64_t m = pick(1), n = pick(1), k = pick(1);
                uint64_t seed = gc_rand() | 1;
                for (int api = 0; api < 3; api++) {
                    gc_init(&g[api], dt ? CL16_F16 : CL16_F32, t & 1, t >> 1, m, n, k);
                    scalars(&g[api], i);
                    g[api].api = api == 0 ? GC_API_GEMM : api == 1 ? GC_API_EX : GC_API_SB;
                    g[api].shaped = 1, g[api].seed = seed, g[api].keep_result = 1, g[api].twice = 0;
                    gc_run(ctx, &g[api]);
                }
                if (g[0].keep && g[1].keep && g[2].keep) {
                    CHECK_MSG(!memcmp(g[0].keep, g[1].keep, g[0].keep_bytes),
                              "cl16_gemm and cl16_gemm_ex differ: %s %d%d %lldx%lldx%lld",
                              cl16_dtype_name(g[0].dt), t & 1, t >> 1, (long long)m, (long long)n, (long long)k);
                    CHECK_MSG(!memcmp(g[2].keep, g[1].keep, g[0].keep_bytes),
                              "strided_batched (batch 1) and cl16_gemm_ex differ: %s %d%d %lldx%lldx%lld",
                              cl16_dtype_name(g[0].dt), t & 1, t >> 1, (long long)m, (long long)n, (long long)k);
                }
                for (int api = 0; api < 3; api++) free(g[api].keep);
            }
}

/* A context created with opts.gemm = CLBLAST sends AUTO calls to CLBlast; a
 * call's own backend field overrides it; opts.gemm = OWN keeps AUTO on cl16's kernel. */
static void check_context_backend(void) {
    for (int force = 1; force <= 2; force++) {
        cl16_ctx_opts o;
        cl16_ctx_opts_init(&o);
        const char *dir = getenv("CL16_CACHE_DIR");
        o.cache = dir ? 1 : 0, o.cache_dir = dir;
        o.gemm = force == 2 ? CL16_GEMM_CLBLAST : CL16_GEMM_OWN;
        cl16_ctx *c2 = NULL;
        cl16_status s = cl16_ctx_create(&c2, &o);
        CHECK_MSG(s == CL16_OK, "context with opts.gemm = %d: %s", force, cl16_ctx_last_error(c2));
        if (s) {
            cl16_ctx_free(c2);
            continue;
        }
        for (int dt = 0; dt < 2; dt++) {
            cl16_dtype dtype = dt ? CL16_F16 : CL16_F32;
            int64_t dims[2] = {17, 17};
            cl16_tensor *t[3] = {NULL, NULL, NULL};
            for (int i = 0; i < 3; i++) CHECK_OK(c2, cl16_tensor_create(c2, dtype, 2, dims, &t[i]));
            cl16_gemm_desc d;
            cl16_gemm_desc_init(&d);
            d.m = 17, d.n = 17, d.k = 17, d.a = t[0], d.lda = 17, d.b = t[1], d.ldb = 17, d.c = t[2], d.ldc = 17;
            char plan[256] = "";
            CHECK_OK(c2, cl16_gemm_plan(c2, &d, plan, sizeof plan));
            CHECK_MSG(gc_ci_contains(plan, force == 2 ? "clblast" : "own"),
                      "opts.gemm = %d, backend AUTO: plan \"%s\"", force, plan);
            d.backend = force == 2 ? CL16_GEMM_OWN : CL16_GEMM_CLBLAST;
            CHECK_OK(c2, cl16_gemm_plan(c2, &d, plan, sizeof plan));
            CHECK_MSG(gc_ci_contains(plan, force == 2 ? "own" : "clblast"),
                      "opts.gemm = %d, backend %d: plan \"%s\"", force, (int)d.backend, plan);
            for (int i = 0; i < 3; i++) cl16_tensor_free(t[i]);

            gcase g;
            for (int i = 0; i < 4; i++) {
                gc_init(&g, dtype, i & 1, i >> 1, 17 + 40 * i, 64, 100);
                scalars(&g, i);
                if (i == 3) g.d.bias_mode = CL16_BIAS_COL, g.d.activation = CL16_ACT_RELU;
                if (force == 2) { /* AUTO goes to CLBlast */
                    g.expect = gc_clblast_expect(c2, dtype);
                    g.half_acc = dtype == CL16_F16;
                }
                gc_run(c2, &g);
                if (force == 2) { /* ... unless the call says OWN */
                    gc_init(&g, dtype, i & 1, i >> 1, 17 + 40 * i, 64, 100);
                    scalars(&g, i);
                    g.d.backend = CL16_GEMM_OWN;
                    gc_run(c2, &g);
                }
            }
        }
        cl16_ctx_free(c2);
    }
}

/* On a CPU's storage path an f16 tile GEMM with B not transposed runs on
 * float A and f16 B, and its plan says so; f32 and A * B^T do not. */
static void check_f16_pack_a_plan(cl16_ctx *ctx) {
    const int want = cl16_ctx_device(ctx)->type == CL16_DEVICE_CPU &&
                     cl16_ctx_half_path(ctx) != CL16_HALF_NATIVE;
    for (int dt = 0; dt < 2; dt++)
        for (int tb = 0; tb < 2; tb++) {
            const cl16_dtype dtype = dt ? CL16_F16 : CL16_F32;
            int64_t dims[2] = {64, 64};
            cl16_tensor *t[3] = {NULL, NULL, NULL};
            for (int i = 0; i < 3; i++) CHECK_OK(ctx, cl16_tensor_create(ctx, dtype, 2, dims, &t[i]));
            cl16_gemm_desc d;
            cl16_gemm_desc_init(&d);
            d.trans_b = tb, d.backend = CL16_GEMM_OWN;
            d.m = 64, d.n = 64, d.k = 64, d.a = t[0], d.lda = 64, d.b = t[1], d.ldb = 64;
            d.c = t[2], d.ldc = 64;
            char plan[256] = "";
            CHECK_OK(ctx, cl16_gemm_plan(ctx, &d, plan, sizeof plan));
            const int says = gc_ci_contains(plan, "A packed as float");
            const int tile = gc_ci_contains(plan, "tile");
            CHECK_MSG(says == (want && dt && !tb && tile), "%s trans_b %d: plan \"%s\"",
                      cl16_dtype_name(dtype), tb, plan);
            for (int i = 0; i < 3; i++) cl16_tensor_free(t[i]);
        }
}

int main(void) {
    cl16_ctx *ctx = test_ctx(getenv("CL16_CACHE_DIR"));
    check_f16_pack_a_plan(ctx);
    const cl16_device_info *dev = cl16_ctx_device(ctx);
    const int native = cl16_ctx_half_path(ctx) == CL16_HALF_NATIVE;
    printf("device: %s, half path %s, cl_khr_fp16 %s\n", dev->name, native ? "native" : "storage",
           dev->has_fp16_ext ? "yes" : "no");
    gc_section("desc_init, equivalence");
    check_desc_init();
    check_equivalence(ctx);
    gcase g;
    const cl16_gemm_backend backends[3] = {CL16_GEMM_AUTO, CL16_GEMM_OWN, CL16_GEMM_CLBLAST};

    for (int dt = 0; dt < 2; dt++) {
        cl16_dtype dtype = dt ? CL16_F16 : CL16_F32;
        gc_section(dt ? "features f16" : "features f32");
        for (int t = 0; t < 4; t++) {
            const int ta = t & 1, tb = t >> 1;
            for (int bi = 0; bi < 3; bi++) {
                cl16_gemm_backend be = backends[bi];
                int expect = be == CL16_GEMM_CLBLAST ? gc_clblast_expect(ctx, dtype) : GC_EXPECT_OK;
                int half_acc = be == CL16_GEMM_CLBLAST && dtype == CL16_F16;
                int reps = expect == GC_EXPECT_UNSUPPORTED ? 1 : 6;
#define SETUP(m_, n_, k_)                                                                          \
    gc_init(&g, dtype, ta, tb, m_, n_, k_);                                                        \
    g.d.backend = be, g.expect = expect, g.half_acc = half_acc
                for (int i = 0; i < reps; i++) {
                    /* Offsets, ld > columns, tensors that fit the views exactly. */
                    SETUP(pick(1), pick(1), pick(1));
                    scalars(&g, i);
                    g.d.a_offset = gc_rand_int(0, 50), g.d.b_offset = gc_rand_int(0, 50);
                    g.d.c_offset = gc_rand_int(0, 50);
                    g.d.lda += gc_rand_int(0, 9), g.d.ldb += gc_rand_int(0, 9), g.d.ldc += gc_rand_int(0, 9);
                    gc_run(ctx, &g);

                    /* Strided batches: packed (3-D tensors), with gaps, A or B or both shared. */
                    static const int64_t gaps[5][3] = {{0, 0, 0}, {7, 3, 5}, {-1, 0, 2}, {4, -1, 0}, {-1, -1, 1}};
                    SETUP(pick(0), pick(0), pick(0));
                    scalars(&g, i + 1);
                    if (i % 3 == 2) g.d.a_offset = 3, g.d.b_offset = 1, g.d.c_offset = 9, g.d.ldc += 2;
                    batched(&g, gc_rand_int(2, 5), gaps[i % 5][0], gaps[i % 5][1], gaps[i % 5][2]);
                    g.shaped = 1;
                    g.api = i % 2 ? GC_API_SB : GC_API_EX;
                    gc_run(ctx, &g);

                    /* Batch-reduce: one C receives the sum over the batch. CLBlast has no
                     * such routine: forced, it may run it another way or refuse it. */
                    SETUP(pick(0), pick(0), pick(0));
                    scalars(&g, i + 2);
                    batched(&g, gc_rand_int(2, 7), i % 3 == 0 ? -1 : 1, 0, -1);
                    if (i % 2) g.d.activation = CL16_ACT_RELU;
                    if (i % 3 == 1) g.d.bias_mode = i % 2 ? CL16_BIAS_COL : CL16_BIAS_ROW, g.d.bias_offset = 2;
                    if (i == 5) g.api = GC_API_SB, g.d.activation = CL16_ACT_NONE, g.d.bias_mode = CL16_BIAS_NONE;
                    if (be == CL16_GEMM_CLBLAST && expect == GC_EXPECT_OK) g.expect = GC_EXPECT_OK_OR_UNSUPPORTED;
                    gc_run(ctx, &g);

                    /* Bias per row / per column, with and without ReLU, shared by a batch. */
                    SETUP(pick(1), pick(1), pick(1));
                    scalars(&g, i + 3);
                    g.d.bias_mode = i % 2 ? CL16_BIAS_ROW : CL16_BIAS_COL;
                    g.d.activation = i % 4 < 2 ? CL16_ACT_RELU : CL16_ACT_NONE;
                    g.d.bias_offset = gc_rand_int(0, 5);
                    g.slack = gc_rand_int(0, 1);
                    if (i >= 4) batched(&g, 3, 1, 0, 2);
                    gc_run(ctx, &g);

                    /* ReLU alone. */
                    SETUP(pick(1), pick(1), pick(0));
                    scalars(&g, i);
                    g.d.activation = CL16_ACT_RELU;
                    gc_run(ctx, &g);
                }
            }
        }
    }

    gc_section("larger cases");
    /* Larger epilogue and reduce cases, float bound, both dtypes. */
    for (int dt = 0; dt < 2; dt++) {
        cl16_dtype dtype = dt ? CL16_F16 : CL16_F32;
        gc_init(&g, dtype, 0, 1, 300, 513, 260);
        g.d.alpha = 0.75f, g.d.beta = -1.25f, g.d.bias_mode = CL16_BIAS_COL, g.d.activation = CL16_ACT_RELU;
        gc_run(ctx, &g);
        gc_init(&g, dtype, 1, 0, 257, 100, 64);
        g.d.bias_mode = CL16_BIAS_ROW, g.d.activation = CL16_ACT_RELU, g.fill = GC_FILL_INT, g.d.beta = 1;
        batched(&g, 4, 2, 1, 3);
        gc_run(ctx, &g);
        gc_init(&g, dtype, 1, 0, 64, 100, 257); /* a weight gradient: sum over 8 samples */
        batched(&g, 8, 0, 0, -1);
        g.d.beta = 1;
        gc_run(ctx, &g);
        gc_init(&g, dtype, 0, 0, 1, 1, 1); /* many 1x1x1 GEMMs */
        batched(&g, 300, 0, 0, 0);
        scalars(&g, 1);
        gc_run(ctx, &g);
        gc_init(&g, dtype, 0, 0, 17, 33, 9); /* alpha 0: beta * C */
        g.d.alpha = 0, g.d.beta = -1.25f;
        gc_run(ctx, &g);
        gc_init(&g, dtype, 0, 0, 17, 33, 9); /* alpha 0, beta 0 over NaN: zeros */
        g.d.alpha = 0, g.d.beta = 0, g.c_nan = 1;
        gc_run(ctx, &g);
    }

    gc_section("B in column panels");
    /* Forced on (cl16__gemm_set_panel): every tile reads B from TN-wide
     * panels (gemm.cl, PANEL_B), edges (N not a multiple of TN) included:
     * offsets and ld > columns, B transposed, strided and shared batches,
     * batch-reduce, bias and ReLU. */
    cl16__gemm_set_panel(ctx, 1);
    for (int dt = 0; dt < 2; dt++) {
        cl16_dtype dtype = dt ? CL16_F16 : CL16_F32;
        for (int t = 0; t < 4; t++) {
            const int ta = t & 1, tb = t >> 1;
            for (int i = 0; i < 4; i++) {
                gc_init(&g, dtype, ta, tb, pick(1), pick(1), pick(1));
                g.d.backend = CL16_GEMM_OWN;
                scalars(&g, i);
                g.d.b_offset = gc_rand_int(0, 50), g.d.ldb += gc_rand_int(0, 9);
                gc_run(ctx, &g);
                gc_init(&g, dtype, ta, tb, pick(0), pick(1), pick(0));
                g.d.backend = CL16_GEMM_OWN;
                scalars(&g, i + 1);
                batched(&g, gc_rand_int(2, 4), i % 2 ? -1 : 3, i == 2 ? -1 : 1,
                        i == 3 ? -1 : 2); /* i 3: batch-reduce */
                g.d.bias_mode = i % 2 ? CL16_BIAS_COL : CL16_BIAS_ROW;
                g.d.activation = i < 2 ? CL16_ACT_RELU : CL16_ACT_NONE;
                gc_run(ctx, &g);
            }
        }
    }
    /* By size (the default): a large f32 GEMM on a CPU reads B from panels,
     * a small one does not, and the plan says which. */
    cl16__gemm_set_panel(ctx, -1);
    for (int big = 0; big < 2; big++) {
        const int64_t n = big ? 1024 : 64;
        int64_t dims[2] = {n, n};
        cl16_tensor *t[3] = {NULL, NULL, NULL};
        for (int i = 0; i < 3; i++) CHECK_OK(ctx, cl16_tensor_create(ctx, CL16_F32, 2, dims, &t[i]));
        cl16_gemm_desc d;
        cl16_gemm_desc_init(&d);
        d.backend = CL16_GEMM_OWN;
        d.m = n, d.n = n, d.k = n, d.a = t[0], d.lda = n, d.b = t[1], d.ldb = n, d.c = t[2], d.ldc = n;
        char plan[256] = "";
        CHECK_OK(ctx, cl16_gemm_plan(ctx, &d, plan, sizeof plan));
        const int want = big && dev->type == CL16_DEVICE_CPU && gc_ci_contains(plan, "tile");
        CHECK_MSG(gc_ci_contains(plan, "column panels") == want, "f32 %lld^3: plan \"%s\"",
                  (long long)n, plan);
        for (int i = 0; i < 3; i++) cl16_tensor_free(t[i]);
    }

    gc_section("backend chosen by the context");
    check_context_backend();

    gc_section("half accumulation");
    /* Half accumulation: refused on the storage path (C untouched); on a
     * native-half device it runs, held to the half-accumulation bound, and
     * small integers are still exact (every partial sum is an integer < 2^11). */
    /* Half accumulation also needs cl_khr_fp16 advertised (NVIDIA computes
     * in half without it, but lacks the half-vector built-ins). */
    const int half_acc = native && dev->has_fp16_ext;
    for (int t = 0; t < 4; t++)
        for (int i = 0; i < (half_acc ? 8 : 2); i++) {
            gc_init(&g, CL16_F16, t & 1, t >> 1, pick(1), pick(1), i < 4 ? pick(0) : 257);
            scalars(&g, i);
            g.d.accumulate = CL16_ACC_HALF;
            g.half_acc = 1;
            g.expect = half_acc ? GC_EXPECT_OK : GC_EXPECT_UNSUPPORTED;
            if (i % 4 == 3) g.d.bias_mode = CL16_BIAS_ROW, g.d.activation = CL16_ACT_RELU;
            if (i == 5) batched(&g, 3, 0, 1, 2);
            if (i == 6) batched(&g, 3, 1, 1, -1); /* batch-reduce */
            gc_run(ctx, &g);
        }

    gc_section("done");
    gc_report();
    cl16_ctx_free(ctx);
    return check_done("test_gemm_ex");
}
