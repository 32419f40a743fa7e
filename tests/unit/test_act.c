/* test_act.c - ReLU forward/backward and axpby against float64 references in
 * f32, f16 and bf16: special values (NaN, infinities, -0), vector tails, aliasing,
 * beta semantics, bitwise reproducibility, counters and refused arguments. */
#include "layer_check.h"

static cl16_ctx *ctx;

static const int64_t sizes[] = {1, 3, 4, 5, 7, 8, 15, 16, 17, 33, 1000, 4099};
#define NSIZES (int)(sizeof sizes / sizeof sizes[0])

/* Random values with the special ones mixed in at the front. */
static void fill(cl16_dtype dt, float *v, int64_t n, int special) {
    static const float sp[] = {NAN,   INFINITY, -INFINITY, -0.0f,    0.0f,
                               1e-7f, -1e-7f,   65504.0f,  -65504.0f};
    for (int64_t i = 0; i < n; i++) {
        v[i] = lc_rand(dt, -2.0f, 2.0f);
        if (special && i < (int64_t)(sizeof sp / sizeof sp[0]))
            v[i] = gc_round16(dt, sp[i]);
    }
}

/* got agrees with ref within bound (NaN must match NaN; infinities exactly). */
static int agrees(double got, double ref, double bound) {
    if (isnan(ref))
        return isnan(got);
    if (isinf(ref))
        return got == ref;
    return fabs(got - ref) <= bound;
}

static void test_relu(cl16_dtype dt) {
    for (int si = 0; si < NSIZES; si++) {
        const int64_t n = sizes[si];
        float *x = malloc((size_t)n * 4), *dy = malloc((size_t)n * 4), *dx0 = malloc((size_t)n * 4);
        fill(dt, x, n, 1), fill(dt, dy, n, 0), fill(dt, dx0, n, 0);
        cl16_tensor *tx = lc_tensor1(ctx, dt, n, x), *ty = lc_tensor1(ctx, dt, n, NULL);
        cl16_tensor *tdy = lc_tensor1(ctx, dt, n, dy), *tdx = lc_tensor1(ctx, dt, n, NULL);
        CHECK_OK(ctx, cl16_relu_forward(ctx, tx, ty));
        float *y = lc_read(ctx, ty);
        for (int64_t i = 0; i < n; i++) {
            /* relu is exact: NaN stays NaN, -0 and negatives become +0. */
            int ok = isnan(x[i]) ? isnan(y[i])
                     : x[i] > 0  ? y[i] == x[i]
                                 : (y[i] == 0.0f && !signbit(y[i]));
            CHECK_MSG(ok, "%s n=%lld relu(%g) = %g", cl16_dtype_name(dt), (long long)n,
                      (double)x[i], (double)y[i]);
        }
        /* Backward, beta 0 over a NaN-filled dx (must not be read), 1 and 0.5. */
        const float betas[] = {0.0f, 1.0f, 0.5f};
        for (int b = 0; b < 3; b++) {
            if (b == 0)
                CHECK_OK(ctx, cl16_tensor_fill(tdx, NAN));
            else
                CHECK_OK(ctx, cl16_tensor_write_f32(tdx, dx0, (size_t)n));
            CHECK_OK(ctx, cl16_relu_backward(ctx, ty, tdy, betas[b], tdx));
            float *dx = lc_read(ctx, tdx);
            for (int64_t i = 0; i < n; i++) {
                /* PyTorch's threshold_backward: dy unless y <= 0 (NaN y passes dy). */
                double g = y[i] <= 0.0f ? 0.0 : (double)dy[i];
                double acc = b ? (double)betas[b] * dx0[i] : 0.0;
                double ref = g + acc;
                double bound = lc_bound(dt, 2, fabs(g) + fabs(acc), ref);
                CHECK_MSG(agrees(dx[i], ref, bound),
                          "%s n=%lld beta=%g y=%g dy=%g dx0=%g: %g vs %g", cl16_dtype_name(dt),
                          (long long)n, (double)betas[b], (double)y[i], (double)dy[i],
                          (double)dx0[i], (double)dx[i], ref);
            }
            free(dx);
        }
        free(y);
        free(x), free(dy), free(dx0);
        cl16_tensor_free(tx), cl16_tensor_free(ty), cl16_tensor_free(tdy), cl16_tensor_free(tdx);
    }
}

/* mode 0: y separate; 1: y is x; 2: y is z. */
static void axpby_case(cl16_dtype dt, int64_t n, float a, float b, int with_z, int relu, int mode) {
    float *x = malloc((size_t)n * 4), *z = malloc((size_t)n * 4);
    fill(dt, x, n, 0), fill(dt, z, n, 0);
    cl16_tensor *tx = lc_tensor1(ctx, dt, n, x), *tz = lc_tensor1(ctx, dt, n, z);
    cl16_tensor *ty = mode == 1 ? tx : mode == 2 ? tz : lc_tensor1(ctx, dt, n, NULL);
    CHECK_OK(ctx, cl16_axpby(ctx, a, tx, b, with_z ? tz : NULL, relu, ty));
    float *y = lc_read(ctx, ty);
    for (int64_t i = 0; i < n; i++) {
        double ax = (double)a * x[i], bz = with_z ? (double)b * z[i] : 0.0;
        double ref = ax + bz;
        if (relu && ref < 0)
            ref = 0; /* 1-Lipschitz: the bound holds after it */
        double bound = lc_bound(dt, 3, fabs(ax) + fabs(bz), ref);
        CHECK_MSG(agrees(y[i], ref, bound),
                  "axpby %s n=%lld a=%g b=%g z=%d relu=%d mode=%d i=%lld: %g vs %g",
                  cl16_dtype_name(dt), (long long)n, (double)a, (double)b, with_z, relu, mode,
                  (long long)i, (double)y[i], ref);
    }
    free(y), free(x), free(z);
    if (mode == 0)
        cl16_tensor_free(ty);
    cl16_tensor_free(tx), cl16_tensor_free(tz);
}

static void test_axpby(cl16_dtype dt) {
    for (int si = 0; si < NSIZES; si++)
        for (int mode = 0; mode < 3; mode++)
            for (int relu = 0; relu < 2; relu++) {
                axpby_case(dt, sizes[si], 1.5f, -0.75f, 1, relu, mode);
                if (mode != 2)
                    axpby_case(dt, sizes[si], -0.3f, 0.0f, 0, relu, mode);
            }
    /* The residual add of a ResNet block: y = relu(x + z), in place on z. */
    axpby_case(dt, 4099, 1.0f, 1.0f, 1, 1, 2);
    /* NaN and infinities go through the arithmetic as IEEE says. */
    float x[6] = {NAN, INFINITY, -INFINITY, 1.0f, -0.0f, 2.0f},
          z[6] = {1, 1, INFINITY, NAN, -0.0f, -2.0f};
    cl16_tensor *tx = lc_tensor1(ctx, dt, 6, x), *tz = lc_tensor1(ctx, dt, 6, z),
                *ty = lc_tensor1(ctx, dt, 6, NULL);
    CHECK_OK(ctx, cl16_axpby(ctx, 1.0f, tx, 1.0f, tz, 0, ty));
    float *y = lc_read(ctx, ty);
    CHECK(isnan(y[0]) && y[1] == INFINITY && isnan(y[2]) && isnan(y[3]) && y[4] == 0.0f &&
          signbit(y[4]) && y[5] == 0.0f);
    free(y);
    CHECK_OK(ctx, cl16_axpby(ctx, 1.0f, tx, 1.0f, tz, 1, ty));
    y = lc_read(ctx, ty);
    CHECK(isnan(y[0]) && y[1] == INFINITY && isnan(y[2]) && isnan(y[3]) && y[4] == 0.0f &&
          !signbit(y[4]));
    free(y);
    cl16_tensor_free(tx), cl16_tensor_free(tz), cl16_tensor_free(ty);
}

static void test_repeat_and_counters(cl16_dtype dt) {
    const int64_t n = 4099;
    float *x = malloc((size_t)n * 4), *z = malloc((size_t)n * 4);
    fill(dt, x, n, 0), fill(dt, z, n, 0);
    cl16_tensor *tx = lc_tensor1(ctx, dt, n, x), *tz = lc_tensor1(ctx, dt, n, z),
                *ty = lc_tensor1(ctx, dt, n, NULL);
    cl16_ctx_stats s0, s1;
    cl16_ctx_stats_get(ctx, &s0);
    CHECK_OK(ctx, cl16_axpby(ctx, 0.7f, tx, 1.3f, tz, 1, ty));
    cl16_ctx_stats_get(ctx, &s1);
    CHECK(s1.op_flops > s0.op_flops &&
          s1.op_bytes >= s0.op_bytes + 3.0 * (double)cl16_tensor_bytes(tx));
    unsigned char *first = lc_raw(ctx, ty);
    CHECK_OK(ctx, cl16_tensor_fill(ty, 0.0f));
    CHECK_OK(ctx, cl16_axpby(ctx, 0.7f, tx, 1.3f, tz, 1, ty));
    CHECK(lc_same_bytes(ctx, ty, first));
    free(first);
    CHECK_OK(ctx, cl16_relu_backward(ctx, tx, tz, 0.5f, ty));
    first = lc_raw(ctx, ty);
    CHECK_OK(ctx, cl16_axpby(ctx, 0.7f, tx, 1.3f, tz, 1, ty));
    CHECK_OK(ctx, cl16_relu_backward(ctx, tx, tz, 0.0f, ty)); /* not the same: beta differs */
    CHECK_OK(ctx, cl16_axpby(ctx, 0.7f, tx, 1.3f, tz, 1, ty));
    CHECK_OK(ctx, cl16_relu_backward(ctx, tx, tz, 0.5f, ty));
    CHECK(lc_same_bytes(ctx, ty, first));
    free(first), free(x), free(z);
    cl16_tensor_free(tx), cl16_tensor_free(tz), cl16_tensor_free(ty);
}

static void test_refused(void) {
    cl16_tensor *x = lc_tensor1(ctx, CL16_F32, 10, NULL), *y = lc_tensor1(ctx, CL16_F32, 10, NULL);
    cl16_tensor *y9 = lc_tensor1(ctx, CL16_F32, 9, NULL), *h = lc_tensor1(ctx, CL16_F16, 10, NULL);
    cl16_tensor *i = lc_tensor1(ctx, CL16_I32, 10, NULL);
    int64_t d25[2] = {2, 5};
    cl16_tensor *y25 = lc_tensor(ctx, CL16_F32, 2, d25, NULL); /* same count, other shape: fine */
    CHECK_OK(ctx, cl16_tensor_fill(x, 1.0f));
    CHECK_OK(ctx, cl16_tensor_fill(y, 7.0f));
    unsigned char *yb = lc_raw(ctx, y);
    LC_REFUSED(ctx, cl16_relu_forward(ctx, NULL, y), CL16_ERR_INVALID_ARG, "x", y, yb);
    LC_REFUSED(ctx, cl16_relu_forward(ctx, x, NULL), CL16_ERR_INVALID_ARG, "y", NULL, NULL);
    LC_REFUSED(ctx, cl16_relu_forward(ctx, x, y9), CL16_ERR_SHAPE, "tensor y has 9", NULL, NULL);
    LC_REFUSED(ctx, cl16_relu_forward(ctx, h, y), CL16_ERR_SHAPE, "tensor y is f32", y, yb);
    LC_REFUSED(ctx, cl16_relu_forward(ctx, i, y), CL16_ERR_SHAPE, "tensor x is i32", y, yb);
    LC_REFUSED(ctx, cl16_relu_backward(ctx, x, y9, 0.0f, y), CL16_ERR_SHAPE, "dy", y, yb);
    LC_REFUSED(ctx, cl16_relu_backward(ctx, x, h, 0.0f, y), CL16_ERR_SHAPE, "dy", y, yb);
    LC_REFUSED(ctx, cl16_relu_backward(ctx, x, x, 0.0f, NULL), CL16_ERR_INVALID_ARG, "dx", NULL,
               NULL);
    LC_REFUSED(ctx, cl16_relu_backward(ctx, NULL, x, 0.0f, y), CL16_ERR_INVALID_ARG, "tensor y", y,
               yb);
    LC_REFUSED(ctx, cl16_axpby(ctx, 1, x, 1, y9, 0, y), CL16_ERR_SHAPE, "tensor z", y, yb);
    LC_REFUSED(ctx, cl16_axpby(ctx, 1, x, 1, h, 0, y), CL16_ERR_SHAPE, "tensor z", y, yb);
    LC_REFUSED(ctx, cl16_axpby(ctx, 1, x, 1, NULL, 2, y), CL16_ERR_INVALID_ARG, "relu", y, yb);
    LC_REFUSED(ctx, cl16_axpby(ctx, 1, x, 1, NULL, 0, i), CL16_ERR_SHAPE, "tensor y", NULL, NULL);
    LC_REFUSED(ctx, cl16_axpby(NULL, 1, x, 1, NULL, 0, y), CL16_ERR_INVALID_ARG, NULL, y, yb);
    CHECK_OK(ctx, cl16_relu_forward(ctx, x, y25));
    /* A tensor of another context. */
    cl16_ctx *other = test_ctx(NULL);
    cl16_tensor *ox = lc_tensor1(other, CL16_F32, 10, NULL);
    LC_REFUSED(ctx, cl16_relu_forward(ctx, ox, y), CL16_ERR_INVALID_ARG, "another context", y, yb);
    LC_REFUSED(ctx, cl16_axpby(ctx, 1, x, 1, ox, 0, y), CL16_ERR_INVALID_ARG, "another context", y,
               yb);
    cl16_tensor_free(ox);
    cl16_ctx_free(other);
    free(yb);
    cl16_tensor_free(x), cl16_tensor_free(y), cl16_tensor_free(y9), cl16_tensor_free(h);
    cl16_tensor_free(i), cl16_tensor_free(y25);
}

int main(void) {
    ctx = test_ctx(getenv("CL16_CACHE_DIR"));
    for (int d = 0; d < 3; d++) {
        cl16_dtype dt = DTYPES[d];
        gc_section(cl16_dtype_name(dt));
        test_relu(dt);
        test_axpby(dt);
        test_repeat_and_counters(dt);
    }
    gc_section("refused arguments");
    test_refused();
    cl16_ctx_free(ctx);
    return check_done("test_act");
}
