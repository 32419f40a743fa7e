/* test_gemm.c - cl16_gemm against a float64 host reference (bounds in gemm_check.h):
 * every M,N,K in {1,3,17,64,100,257} for every transpose pair in f32 and f16
 * (a sample of them in bf16, with CLBlast refusing bf16),
 * alpha/beta, beta 0 over a NaN C, ld > columns, exact small-integer cases,
 * large shapes, the own kernel and CLBlast forced, two runs bitwise identical. */
#include "gemm_check.h"

static const int64_t sizes[6] = {1, 3, 17, 64, 100, 257};

/* Five data/scalar patterns, rotated over the shape sweep so every shape
 * class meets most of them: plain; alpha/beta != 1 with ld > cols; beta 0 over
 * NaN; small integers with beta 1 (exact); small integers, alpha 1/2, beta -2,
 * ld > cols (exact). */
static void pattern(gcase *g, int p) {
    cl16_gemm_desc *d = &g->d;
    switch (p) {
    case 0: d->alpha = 1, d->beta = 0; break;
    case 1:
        d->alpha = 0.75f, d->beta = -1.25f;
        d->lda += 3, d->ldb += 1, d->ldc += 2;
        break;
    case 2:
        d->alpha = -1.5f, d->beta = 0, g->c_nan = 1;
        d->lda += 1;
        break;
    case 3: d->alpha = 1, d->beta = 1, g->fill = GC_FILL_INT; break;
    default:
        d->alpha = 0.5f, d->beta = -2, g->fill = GC_FILL_INT;
        d->ldc += 5;
        break;
    }
}

static int64_t pick(void) { return sizes[gc_rand_int(0, 5)]; }

int main(void) {
    cl16_ctx *ctx = test_ctx(getenv("CL16_CACHE_DIR"));
    const cl16_device_info *dev = cl16_ctx_device(ctx);
    printf("device: %s (%s), half path %s, cl_khr_fp16 %s\n", dev->name, dev->platform,
           cl16_ctx_half_path(ctx) == CL16_HALF_NATIVE ? "native" : "storage",
           dev->has_fp16_ext ? "yes" : "no");
    gcase g;

    gc_section("1. shape sweep, cl16_gemm");
    /* 1. The full shape sweep through cl16_gemm (backend AUTO), 2-D tensors. */
    for (int dt = 0; dt < 2; dt++)
        for (int t = 0; t < 4; t++)
            for (int idx = 0; idx < 216; idx++) {
                gc_init(&g, dt ? CL16_F16 : CL16_F32, t & 1, t >> 1, sizes[idx / 36], sizes[idx / 6 % 6],
                        sizes[idx % 6]);
                g.api = GC_API_GEMM;
                g.shaped = 1;
                pattern(&g, (idx + t + dt) % 5);
                gc_run(ctx, &g);
            }

    gc_section("2. own kernel, offsets");
    /* 2. The own kernel forced through cl16_gemm_ex, a random sample with offsets. */
    for (int dt = 0; dt < 2; dt++)
        for (int t = 0; t < 4; t++)
            for (int i = 0; i < 40; i++) {
                gc_init(&g, dt ? CL16_F16 : CL16_F32, t & 1, t >> 1, pick(), pick(), pick());
                pattern(&g, gc_rand_int(0, 4));
                g.d.a_offset = gc_rand_int(0, 7), g.d.b_offset = gc_rand_int(0, 7);
                g.d.c_offset = gc_rand_int(0, 7);
                g.slack = gc_rand_int(0, 2);
                g.d.backend = CL16_GEMM_OWN;
                gc_run(ctx, &g);
            }

    gc_section("3. CLBlast forced");
    /* 3. CLBlast forced: f32 on every device; f16 only where the device reports
     * cl_khr_fp16, elsewhere CL16_ERR_UNSUPPORTED with C untouched. CLBlast's
     * HGEMM sums in half, so f16 is held to the half-accumulation bound. */
    for (int dt = 0; dt < 2; dt++) {
        cl16_dtype dtype = dt ? CL16_F16 : CL16_F32;
        int expect = gc_clblast_expect(ctx, dtype);
        for (int t = 0; t < 4; t++) {
            int count = expect == GC_EXPECT_UNSUPPORTED ? 3 : dt == 0 && t == 0 ? 216 : 40;
            for (int i = 0; i < count; i++) {
                if (count == 216)
                    gc_init(&g, dtype, t & 1, t >> 1, sizes[i / 36], sizes[i / 6 % 6], sizes[i % 6]);
                else
                    gc_init(&g, dtype, t & 1, t >> 1, pick(), pick(), pick());
                pattern(&g, (i + t) % 5);
                if (i % 3 == 1) g.d.a_offset = 2, g.d.b_offset = 5, g.d.c_offset = 1;
                g.d.backend = CL16_GEMM_CLBLAST;
                g.expect = expect;
                g.half_acc = dt == 1;
                gc_run(ctx, &g);
            }
        }
    }

    gc_section("4. large shapes");
    /* 4. Large shapes: several tiles in every direction, ragged edges. */
    for (int dt = 0; dt < 2; dt++) {
        cl16_dtype dtype = dt ? CL16_F16 : CL16_F32;
        for (int t = 0; t < 4; t++) {
            gc_init(&g, dtype, t & 1, t >> 1, 300, 513, 260);
            pattern(&g, 1);
            g.api = GC_API_GEMM, g.shaped = 1;
            g.twice = t == 0;
            gc_run(ctx, &g);
        }
        gc_init(&g, dtype, 0, 0, 1024, 1024, 64);
        g.api = GC_API_GEMM, g.shaped = 1;
        gc_run(ctx, &g);
        gc_init(&g, dtype, 1, 0, 1024, 1024, 64);
        pattern(&g, 2);
        g.twice = 0;
        gc_run(ctx, &g);
        gc_init(&g, dtype, 0, 1, 1024, 1024, 64);
        pattern(&g, 3);
        g.twice = 0;
        gc_run(ctx, &g);
        gc_init(&g, dtype, 1, 1, 129, 1000, 700);
        pattern(&g, 1);
        g.twice = 0;
        g.d.backend = CL16_GEMM_OWN;
        gc_run(ctx, &g);
    }
    gc_init(&g, CL16_F32, 0, 0, 300, 513, 260);
    pattern(&g, 1);
    g.d.backend = CL16_GEMM_CLBLAST;
    gc_run(ctx, &g);
    gc_init(&g, CL16_F32, 1, 1, 1024, 1024, 64);
    g.d.backend = CL16_GEMM_CLBLAST;
    g.twice = 0;
    gc_run(ctx, &g);

    gc_section("5. bf16");
    /* 5. bf16 (cl16's own GEMM only): a sample of the sweep's shapes with
     * every pattern through cl16_gemm, the own kernel with offsets, a large
     * shape run twice (bitwise), and CLBlast forced, which must refuse it with
     * C untouched. */
    for (int t = 0; t < 4; t++) {
        for (int i = 0; i < 30; i++) {
            gc_init(&g, CL16_BF16, t & 1, t >> 1, pick(), pick(), pick());
            g.api = GC_API_GEMM;
            g.shaped = 1;
            pattern(&g, i % 5);
            gc_run(ctx, &g);
        }
        for (int i = 0; i < 10; i++) {
            gc_init(&g, CL16_BF16, t & 1, t >> 1, pick(), pick(), pick());
            pattern(&g, gc_rand_int(0, 4));
            g.d.a_offset = gc_rand_int(0, 7), g.d.b_offset = gc_rand_int(0, 7);
            g.d.c_offset = gc_rand_int(0, 7);
            g.d.backend = CL16_GEMM_OWN;
            gc_run(ctx, &g);
        }
        gc_init(&g, CL16_BF16, t & 1, t >> 1, 300, 513, 260);
        pattern(&g, 1);
        g.api = GC_API_GEMM, g.shaped = 1;
        g.twice = 1;
        gc_run(ctx, &g);
        gc_init(&g, CL16_BF16, t & 1, t >> 1, pick(), pick(), pick());
        g.d.backend = CL16_GEMM_CLBLAST;
        g.expect = gc_clblast_expect(ctx, CL16_BF16);
        gc_run(ctx, &g);
    }

    gc_section("done");
    gc_report();
    cl16_ctx_free(ctx);
    return check_done("test_gemm");
}
