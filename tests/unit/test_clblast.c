/* test_clblast.c - the CLBlast GEMM backend called directly (cl16__gemm_clblast):
 * f32 against a float64 reference with a bound from K and the unit round-off,
 * all transposes, odd shapes, offsets, padded ld, strided batch (and a shared A),
 * untouched gaps; f16 exact on small integers where the device has cl_khr_fp16,
 * refused with a message naming CLBlast HGEMM and the device where it has not. */
#include <math.h>

#include "check.h"
#include "runtime/internal.h"

static uint32_t rng = 7;
static float rnd(void) {
    rng ^= rng << 13, rng ^= rng >> 17, rng ^= rng << 5;
    return (float)((double)(rng >> 8) / 8388608.0 - 1.0);
}
/* -2..2: products and sums of up to K=100 terms stay exact in half, and so does
 * 1.5 * sum - 0.5 * c (multiples of 0.5 below 1024). */
static float small_int(void) { return (float)((int)lround(rnd() * 2.4)); }

/* Layout of one operand: rows x cols views at off + b * stride with row stride ld. */
typedef struct view {
    int64_t rows, cols, ld, off, stride, total;
} view;

static view make_view(int64_t rows, int64_t cols, int64_t batch, int pad, int shared) {
    view v = {rows, cols, cols + pad, pad ? 5 : 0, 0, 0};
    int64_t one = (rows - 1) * v.ld + cols;
    v.stride = shared ? 0 : one + pad; /* a gap of pad elements between entries */
    v.total = v.off + (batch - 1) * v.stride + one;
    return v;
}

static int in_view(const view *v, int64_t batch, int64_t idx) {
    for (int64_t b = 0; b < batch; b++) {
        int64_t r = idx - v->off - b * v->stride;
        if (r >= 0 && r / v->ld < v->rows && r % v->ld < v->cols) return 1;
    }
    return 0;
}

static cl16_tensor *upload(cl16_ctx *ctx, cl16_dtype dt, float *host, int64_t n, int integers) {
    for (int64_t i = 0; i < n; i++) {
        host[i] = integers ? small_int() : rnd();
        if (dt == CL16_F16) host[i] = cl16_half_to_float(cl16_float_to_half(host[i]));
    }
    cl16_tensor *t = NULL;
    CHECK_OK(ctx, cl16_tensor_create(ctx, dt, 1, &n, &t));
    if (t) CHECK_OK(ctx, cl16_tensor_write_f32(t, host, (size_t)n));
    return t;
}

/* One GEMM through CLBlast, checked element by element, gaps included. */
static void run(cl16_ctx *ctx, cl16_dtype dt, int ta, int tb, int64_t m, int64_t n, int64_t k,
                int64_t batch, int pad, int shared_a, int integers) {
    const float alpha = 1.5f, beta = -0.5f;
    view va = make_view(ta ? k : m, ta ? m : k, batch, pad, shared_a);
    view vb = make_view(tb ? n : k, tb ? k : n, batch, pad, 0);
    view vc = make_view(m, n, batch, pad, 0);
    float *a = malloc(sizeof(float) * (size_t)va.total), *b = malloc(sizeof(float) * (size_t)vb.total);
    float *c0 = malloc(sizeof(float) * (size_t)vc.total), *c = malloc(sizeof(float) * (size_t)vc.total);
    cl16_tensor *A = upload(ctx, dt, a, va.total, integers);
    cl16_tensor *B = upload(ctx, dt, b, vb.total, integers);
    cl16_tensor *C = upload(ctx, dt, c0, vc.total, integers);
    if (!A || !B || !C) goto done;

    cl16_gemm_desc d;
    memset(&d, 0, sizeof d); /* cl16_gemm_desc_init may not exist on every branch */
    d.trans_a = ta, d.trans_b = tb, d.m = m, d.n = n, d.k = k, d.batch = batch;
    d.alpha = alpha, d.beta = beta;
    d.a = A, d.a_offset = va.off, d.lda = va.ld, d.a_stride = va.stride;
    d.b = B, d.b_offset = vb.off, d.ldb = vb.ld, d.b_stride = vb.stride;
    d.c = C, d.c_offset = vc.off, d.ldc = vc.ld, d.c_stride = vc.stride;
    d.backend = CL16_GEMM_CLBLAST;
    CHECK_OK(ctx, cl16__gemm_clblast(ctx, &d));
    CHECK_OK(ctx, cl16_tensor_read_f32(C, c, (size_t)vc.total));

    const double u = 0x1p-24, u_out = dt == CL16_F16 ? 0x1p-11 : 0x1p-24;
    int bad = 0, nonzero = 0;
    for (int64_t e = 0; e < batch; e++)
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < n; j++) {
                const float *ae = a + va.off + e * va.stride, *be = b + vb.off + e * vb.stride;
                int64_t ci = vc.off + e * vc.stride + i * vc.ld + j;
                double ref = 0, mag = 0;
                for (int64_t p = 0; p < k; p++) {
                    double x = ae[ta ? p * va.ld + i : i * va.ld + p];
                    double y = be[tb ? j * vb.ld + p : p * vb.ld + j];
                    ref += x * y, mag += fabs(x * y);
                }
                ref = alpha * ref + beta * (double)c0[ci];
                mag = fabs(alpha) * mag + fabs(beta * (double)c0[ci]);
                /* float accumulation: (K + 2) roundings of at most u times the
                 * magnitude (products, the alpha/beta update), then one rounding
                 * to the storage type; small integers in f16 must be exact */
                double bound = (double)(k + 2) * u * mag * 1.01 + u_out * fabs(ref);
                if (integers) bound = 0;
                double got = c[ci];
                if (!(fabs(got - ref) <= bound) && bad++ < 3)
                    fprintf(stderr,
                            "%s %c%c M=%d N=%d K=%d batch %d pad %d%s: C_%d[%d,%d] = %.9g, want "
                            "%.9g (bound %.3g)\n",
                            cl16_dtype_name(dt), ta ? 'T' : 'N', tb ? 'T' : 'N', (int)m, (int)n,
                            (int)k, (int)batch, pad, shared_a ? " shared A" : "", (int)e, (int)i,
                            (int)j, got, ref, bound);
                nonzero += got != 0;
            }
    CHECK(bad == 0);
    CHECK_MSG(nonzero > 0 || m * n * batch < 4, "all-zero output (%s M=%d N=%d K=%d)", cl16_dtype_name(dt), (int)m,
              (int)n, (int)k);
    /* Nothing outside the C views may change. */
    int touched = 0;
    for (int64_t i = 0; i < vc.total; i++)
        if (!in_view(&vc, batch, i) && memcmp(&c[i], &c0[i], sizeof(float))) touched++;
    CHECK_MSG(touched == 0, "%d elements outside the C views changed", touched);
done:
    cl16_tensor_free(A), cl16_tensor_free(B), cl16_tensor_free(C);
    free(a), free(b), free(c0), free(c);
}

/* Every transpose and shape of {1,3,17,64,100}, plain and padded/offset, then batches. */
static void sweep(cl16_ctx *ctx, cl16_dtype dt, int integers) {
    const int sizes[] = {1, 3, 17, 64, 100};
    for (int t = 0; t < 4; t++)
        for (int s = 0; s < 5; s++) {
            int m = sizes[s], n = sizes[(s + 2) % 5], k = sizes[(s + 4) % 5];
            run(ctx, dt, t & 1, t >> 1, m, n, k, 1, 0, 0, integers);
            run(ctx, dt, t & 1, t >> 1, n, k, m, 1, 3, 0, integers);
            run(ctx, dt, t & 1, t >> 1, k, m, n, 1, 1, 0, integers);
        }
    for (int t = 0; t < 4; t++) {
        run(ctx, dt, t & 1, t >> 1, 17, 64, 3, 3, 2, 0, integers);
        run(ctx, dt, t & 1, t >> 1, 33, 5, 100, 3, 1, 1, integers); /* one A for all entries */
    }
}

int main(void) {
    cl16_ctx *ctx = test_ctx(NULL);
    const cl16_device_info *dev = cl16_ctx_device(ctx);
    double t0 = cl16__now();
    char why[256] = "";

    CHECK(cl16__clblast_supports(ctx, CL16_F32, why, sizeof why) == 1);
    run(ctx, CL16_F32, 0, 0, 64, 64, 64, 1, 0, 0, 0); /* the first call compiles CLBlast's kernels */
    printf("clblast: first SGEMM on '%s' took %.2f s (kernel compilation)\n", dev->name,
           cl16__now() - t0);
    sweep(ctx, CL16_F32, 0);
    printf("clblast: sweep done after %.2f s\n", cl16__now() - t0);
    /* larger than CLBlast's direct-kernel threshold: its indirect (padded) path */
    run(ctx, CL16_F32, 0, 1, 300, 260, 520, 1, 1, 0, 0);
    run(ctx, CL16_F32, 1, 0, 260, 300, 520, 2, 0, 0, 0);
    printf("clblast: f32 done after %.2f s\n", cl16__now() - t0);

    int half_ok = cl16__clblast_supports(ctx, CL16_F16, why, sizeof why);
    CHECK(half_ok == !!dev->has_fp16_ext);
    if (!half_ok) {
        CHECK_MSG(strstr(why, "cl_khr_fp16") != NULL, "reason: '%s'", why);
        /* The backend refuses HGEMM up front, with a message naming it and the device. */
        int64_t four = 4;
        cl16_tensor *T = NULL;
        CHECK_OK(ctx, cl16_tensor_create(ctx, CL16_F16, 1, &four, &T));
        cl16_gemm_desc d;
        memset(&d, 0, sizeof d);
        d.m = d.n = d.k = 2, d.batch = 1, d.alpha = 1;
        d.a = d.b = d.c = T, d.lda = d.ldb = d.ldc = 2;
        cl16_status s = cl16__gemm_clblast(ctx, &d);
        const char *msg = cl16_ctx_last_error(ctx);
        CHECK_MSG(s == CL16_ERR_UNSUPPORTED, "status %s", cl16_status_str(s));
        CHECK_MSG(strstr(msg, "CLBlast HGEMM") && strstr(msg, dev->name), "message: '%s'", msg);
        printf("clblast: f16 refused as expected: %s\n", msg);
        cl16_tensor_free(T);
    } else {
        sweep(ctx, CL16_F16, 1);
        /* alpha goes over with round to nearest even: 1 + 0.75 ulp rounds up to
         * 1 + 2^-10 (a truncating conversion would give exactly 1). */
        int64_t one = 1;
        cl16_tensor *A = NULL, *C = NULL;
        CHECK_OK(ctx, cl16_tensor_create(ctx, CL16_F16, 1, &one, &A));
        CHECK_OK(ctx, cl16_tensor_create(ctx, CL16_F16, 1, &one, &C));
        float x = 1.0f, y = 0;
        CHECK_OK(ctx, cl16_tensor_write_f32(A, &x, 1));
        CHECK_OK(ctx, cl16_tensor_write_f32(C, &y, 1));
        cl16_gemm_desc d;
        memset(&d, 0, sizeof d);
        d.m = d.n = d.k = 1, d.batch = 1, d.alpha = 1.0f + 0.75f * 0x1p-10f;
        d.a = d.b = A, d.c = C, d.lda = d.ldb = d.ldc = 1;
        CHECK_OK(ctx, cl16__gemm_clblast(ctx, &d));
        CHECK_OK(ctx, cl16_tensor_read_f32(C, &y, 1));
        CHECK_MSG(y == 1.0f + 0x1p-10f, "alpha rounding: got %.9g", y);
        cl16_tensor_free(A), cl16_tensor_free(C);
        printf("clblast: f16 (HGEMM) done after %.2f s\n", cl16__now() - t0);
    }
    cl16_ctx_free(ctx);
    return check_done("test_clblast");
}
