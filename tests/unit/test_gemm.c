/* test_gemm.c - cl16_gemm against a float64 host reference: all four transpose
 * combinations, alpha/beta, odd shapes (1, primes), both dtypes, a bound from K
 * and the unit round-off; small-integer data where f16 must be exact; two runs
 * bitwise identical; bad views refused with a message naming the argument. */
#include <math.h>

#include "check.h"

static uint32_t rng = 1;
static float rnd(void) {
    rng ^= rng << 13, rng ^= rng >> 17, rng ^= rng << 5;
    return (float)((double)(rng >> 8) / 8388608.0 - 1.0);
}

static void run(cl16_ctx *ctx, cl16_dtype dt, int ta, int tb, int m, int n, int k, float alpha,
                float beta, int integers) {
    int ar = ta ? k : m, ac = ta ? m : k, br = tb ? n : k, bc = tb ? k : n;
    float *a = malloc(sizeof(float) * (size_t)(ar * ac)), *b = malloc(sizeof(float) * (size_t)(br * bc));
    float *c = malloc(sizeof(float) * (size_t)(m * n)), *c0 = malloc(sizeof(float) * (size_t)(m * n));
    float *c2 = malloc(sizeof(float) * (size_t)(m * n));
    for (int i = 0; i < ar * ac; i++) a[i] = integers ? (float)((int)(rnd() * 4)) : rnd();
    for (int i = 0; i < br * bc; i++) b[i] = integers ? (float)((int)(rnd() * 4)) : rnd();
    for (int i = 0; i < m * n; i++) c0[i] = integers ? (float)((int)(rnd() * 4)) : rnd();
    if (dt == CL16_F16) {
        for (int i = 0; i < ar * ac; i++) a[i] = cl16_half_to_float(cl16_float_to_half(a[i]));
        for (int i = 0; i < br * bc; i++) b[i] = cl16_half_to_float(cl16_float_to_half(b[i]));
        for (int i = 0; i < m * n; i++) c0[i] = cl16_half_to_float(cl16_float_to_half(c0[i]));
    }
    int64_t da[2] = {ar, ac}, db[2] = {br, bc}, dc[2] = {m, n};
    cl16_tensor *A, *B, *C;
    CHECK_OK(ctx, cl16_tensor_create(ctx, dt, 2, da, &A));
    CHECK_OK(ctx, cl16_tensor_create(ctx, dt, 2, db, &B));
    CHECK_OK(ctx, cl16_tensor_create(ctx, dt, 2, dc, &C));
    CHECK_OK(ctx, cl16_tensor_write_f32(A, a, (size_t)(ar * ac)));
    CHECK_OK(ctx, cl16_tensor_write_f32(B, b, (size_t)(br * bc)));
    for (int rep = 0; rep < 2; rep++) {
        CHECK_OK(ctx, cl16_tensor_write_f32(C, c0, (size_t)(m * n)));
        CHECK_OK(ctx, cl16_gemm(ctx, ta, tb, m, n, k, alpha, A, ac, B, bc, beta, C, n));
        CHECK_OK(ctx, cl16_tensor_read_f32(C, rep ? c2 : c, (size_t)(m * n)));
    }
    CHECK_MSG(!memcmp(c, c2, sizeof(float) * (size_t)(m * n)), "two runs differ");
    double u_out = dt == CL16_F16 ? 0x1p-11 : 0x1p-24;
    int bad = 0, nonzero = 0;
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            double ref = 0, mag = 0;
            for (int p = 0; p < k; p++) {
                double x = a[ta ? p * m + i : i * k + p], y = b[tb ? j * k + p : p * n + j];
                ref += x * y, mag += fabs(x * y);
            }
            ref = alpha * ref + beta * c0[i * n + j];
            mag = fabs(alpha) * mag + fabs(beta * c0[i * n + j]);
            double got = c[i * n + j];
            /* float accumulation: gamma_(K+2) * magnitude; then one rounding to the dtype */
            double bound = (k + 2) * 0x1p-24 * mag * 1.01 + u_out * fabs(ref);
            if (integers && dt == CL16_F16 && fabs(ref) <= 2048) bound = 0; /* exact */
            if (!(fabs(got - ref) <= bound)) {
                if (bad++ < 3)
                    fprintf(stderr, "%s %c%c %dx%dx%d C[%d,%d] = %.9g, want %.9g (bound %.3g)\n",
                            cl16_dtype_name(dt), ta ? 'T' : 'N', tb ? 'T' : 'N', m, n, k, i, j, got,
                            ref, bound);
            }
            nonzero += got != 0;
        }
    CHECK(bad == 0);
    CHECK_MSG(nonzero > 0 || m * n < 4, "all-zero output");
    cl16_tensor_free(A), cl16_tensor_free(B), cl16_tensor_free(C);
    free(a), free(b), free(c), free(c0), free(c2);
}

int main(void) {
    cl16_ctx *ctx = test_ctx(NULL);
    const int sizes[] = {1, 3, 17, 64, 100};
    for (int dt = 0; dt < 2; dt++)
        for (int t = 0; t < 4; t++)
            for (int s = 0; s < 5; s++) {
                int m = sizes[s], n = sizes[(s + 2) % 5], k = sizes[(s + 4) % 5];
                run(ctx, dt ? CL16_F16 : CL16_F32, t & 1, t >> 1, m, n, k, 1.0f, 0.0f, 0);
                run(ctx, dt ? CL16_F16 : CL16_F32, t & 1, t >> 1, n, k, m, -0.75f, 0.5f, 0);
            }
    run(ctx, CL16_F16, 0, 0, 33, 29, 257, 1.0f, 1.0f, 1);
    run(ctx, CL16_F16, 1, 1, 31, 37, 64, 1.0f, 0.0f, 1);
    /* Wide enough for interior (vectorised) tiles on every default tile size. */
    for (int t = 0; t < 4; t++) {
        run(ctx, CL16_F16, t & 1, t >> 1, 9, 130, 77, 1.0f, 1.0f, 1);
        run(ctx, CL16_F32, t & 1, t >> 1, 21, 257, 45, 0.5f, -1.0f, 0);
    }

    /* Bad input: nothing launched, message names the argument. */
    int64_t d23[2] = {2, 3}, d33[2] = {3, 3};
    cl16_tensor *A, *B, *C, *H;
    CHECK_OK(ctx, cl16_tensor_create(ctx, CL16_F32, 2, d23, &A));
    CHECK_OK(ctx, cl16_tensor_create(ctx, CL16_F32, 2, d33, &B));
    CHECK_OK(ctx, cl16_tensor_create(ctx, CL16_F32, 2, d23, &C));
    CHECK_OK(ctx, cl16_tensor_create(ctx, CL16_F16, 2, d33, &H));
    CHECK_OK(ctx, cl16_gemm(ctx, 0, 0, 2, 3, 3, 1, A, 3, B, 3, 0, C, 3));
    CHECK(cl16_gemm(ctx, 0, 0, 2, 3, 4, 1, A, 3, B, 3, 0, C, 3) == CL16_ERR_SHAPE);
    CHECK(strstr(cl16_ctx_last_error(ctx), "ldA") != NULL);
    CHECK(cl16_gemm(ctx, 0, 0, 3, 3, 3, 1, A, 3, B, 3, 0, C, 3) == CL16_ERR_SHAPE);
    CHECK(strstr(cl16_ctx_last_error(ctx), "tensor A") != NULL);
    CHECK(cl16_gemm(ctx, 0, 0, 2, 3, 3, 1, A, 3, H, 3, 0, C, 3) == CL16_ERR_SHAPE);
    CHECK(strstr(cl16_ctx_last_error(ctx), "mixed dtypes") != NULL);
    CHECK(cl16_gemm(ctx, 0, 0, 0, 3, 3, 1, A, 3, B, 3, 0, C, 3) == CL16_ERR_SHAPE);
    CHECK(cl16_gemm(ctx, 0, 0, 2, 3, 3, 1, A, 3, NULL, 3, 0, C, 3) == CL16_ERR_INVALID_ARG);
    cl16_ctx *other = test_ctx(NULL);
    CHECK(cl16_gemm(other, 0, 0, 2, 3, 3, 1, A, 3, B, 3, 0, C, 3) == CL16_ERR_INVALID_ARG);
    CHECK(strstr(cl16_ctx_last_error(other), "another context") != NULL);
    cl16_ctx_free(other);
    cl16_tensor_free(A), cl16_tensor_free(B), cl16_tensor_free(C), cl16_tensor_free(H);
    cl16_ctx_free(ctx);
    return check_done("test_gemm");
}
