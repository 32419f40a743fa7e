/* test_linear.c - Linear forward and backward against float64 references at
 * LeNet-5 and ResNet-20 classifier shapes (f32, f16 and bf16, 2-D and 4-D x), beta
 * semantics, finite-difference gradients in f32, f16 backward against f32
 * backward, bitwise reproducibility and refused arguments. */
#include "layer_check.h"

static cl16_ctx *ctx;

typedef struct lin {
    int64_t n, in, out;
    float *x, *w, *b, *dy;
} lin;

static void lin_fill(lin *L, cl16_dtype dt, int64_t n, int64_t in, int64_t out) {
    L->n = n, L->in = in, L->out = out;
    L->x = malloc((size_t)(n * in) * 4), L->w = malloc((size_t)(out * in) * 4);
    L->b = malloc((size_t)out * 4), L->dy = malloc((size_t)(n * out) * 4);
    for (int64_t i = 0; i < n * in; i++)
        L->x[i] = lc_rand(dt, -1, 1);
    for (int64_t i = 0; i < out * in; i++)
        L->w[i] = lc_rand(dt, -1, 1);
    for (int64_t i = 0; i < out; i++)
        L->b[i] = lc_rand(dt, -1, 1);
    for (int64_t i = 0; i < n * out; i++)
        L->dy[i] = lc_rand(dt, -1, 1);
}
static void lin_free(lin *L) {
    free(L->x), free(L->w), free(L->b), free(L->dy);
}

/* The bound of a K-term float dot product plus up to 3 more terms (beta*c,
 * bias), as in gemm_check.h: n = K + 4 roundings of the magnitude. */
static double dot_bound(cl16_dtype dt, int64_t k, double mag, double ref) {
    return lc_bound(dt, (double)k + 4, mag, ref);
}

/* x4 != 0: x is created [N, in/25, 5, 5] (a conv output flattened by Linear). */
static void check_forward(cl16_dtype dt, const lin *L, int bias, int relu, int x4) {
    int64_t xd[4] = {L->n, L->in / 25, 5, 5};
    cl16_tensor *tx = x4 ? lc_tensor(ctx, dt, 4, xd, L->x) : lc_tensor2(ctx, dt, L->n, L->in, L->x);
    cl16_tensor *tw = lc_tensor2(ctx, dt, L->out, L->in, L->w);
    cl16_tensor *tb = bias ? lc_tensor1(ctx, dt, L->out, L->b) : NULL;
    cl16_tensor *ty = lc_tensor2(ctx, dt, L->n, L->out, NULL);
    CHECK_OK(ctx, cl16_tensor_fill(ty, NAN)); /* every element must be written */
    CHECK_OK(ctx, cl16_linear_forward(ctx, tx, tw, tb, relu, ty));
    float *y = lc_read(ctx, ty);
    int bad = 0, nonzero = 0;
    for (int64_t i = 0; i < L->n; i++)
        for (int64_t o = 0; o < L->out; o++) {
            double s = bias ? L->b[o] : 0.0, mag = fabs(s);
            for (int64_t k = 0; k < L->in; k++) {
                double p = (double)L->x[i * L->in + k] * L->w[o * L->in + k];
                s += p, mag += fabs(p);
            }
            if (relu && s < 0)
                s = 0;
            double got = y[i * L->out + o];
            nonzero += got != 0.0;
            if (!(fabs(got - s) <= dot_bound(dt, L->in, mag, s)) && bad++ < 5)
                CHECK_MSG(
                    0,
                    "forward %s N=%lld %lld->%lld bias=%d relu=%d x4=%d y[%lld,%lld] = %g, ref %g",
                    cl16_dtype_name(dt), (long long)L->n, (long long)L->in, (long long)L->out, bias,
                    relu, x4, (long long)i, (long long)o, got, s);
        }
    CHECK(nonzero > 0);
    free(y);
    cl16_tensor_free(tx), cl16_tensor_free(tw), cl16_tensor_free(tb), cl16_tensor_free(ty);
}

typedef struct grads {
    float *dx, *dw, *db;
} grads;

/* Runs backward with beta on prior contents pdx/pdw/pdb (beta 0: NaN, must not
 * be read) and checks it against the float64 reference; returns the results. */
static grads check_backward(cl16_dtype dt, const lin *L, float beta, int with_dx, int with_db,
                            int x4) {
    int64_t xd[4] = {L->n, L->in / 25, 5, 5};
    cl16_tensor *tx = x4 ? lc_tensor(ctx, dt, 4, xd, L->x) : lc_tensor2(ctx, dt, L->n, L->in, L->x);
    cl16_tensor *tw = lc_tensor2(ctx, dt, L->out, L->in, L->w);
    cl16_tensor *tdy = lc_tensor2(ctx, dt, L->n, L->out, L->dy);
    cl16_tensor *tdx = NULL, *tdb = NULL;
    if (with_dx)
        tdx = x4 ? lc_tensor(ctx, dt, 4, xd, NULL) : lc_tensor2(ctx, dt, L->n, L->in, NULL);
    cl16_tensor *tdw = lc_tensor2(ctx, dt, L->out, L->in, NULL);
    if (with_db)
        tdb = lc_tensor1(ctx, dt, L->out, NULL);
    /* Prior contents: the forward's x, w and bias values serve as "old gradients". */
    if (beta == 0.0f) {
        if (tdx)
            CHECK_OK(ctx, cl16_tensor_fill(tdx, NAN));
        CHECK_OK(ctx, cl16_tensor_fill(tdw, NAN));
        if (tdb)
            CHECK_OK(ctx, cl16_tensor_fill(tdb, NAN));
    } else {
        if (tdx)
            CHECK_OK(ctx, cl16_tensor_write_f32(tdx, L->x, (size_t)(L->n * L->in)));
        CHECK_OK(ctx, cl16_tensor_write_f32(tdw, L->w, (size_t)(L->out * L->in)));
        if (tdb)
            CHECK_OK(ctx, cl16_tensor_write_f32(tdb, L->b, (size_t)L->out));
    }
    CHECK_OK(ctx, cl16_linear_backward(ctx, tx, tw, tdy, beta, tdx, tdw, tdb));
    grads g = {tdx ? lc_read(ctx, tdx) : NULL, lc_read(ctx, tdw), tdb ? lc_read(ctx, tdb) : NULL};
    int bad = 0;
    const char *dn = cl16_dtype_name(dt);
#define CMP(what, got, ref, k, mag)                                                                \
    if (!(fabs((got) - (ref)) <= dot_bound(dt, k, mag, ref)) && bad++ < 5)                         \
    CHECK_MSG(0, "%s %s N=%lld %lld->%lld beta=%g: %g vs ref %g", what, dn, (long long)L->n,       \
              (long long)L->in, (long long)L->out, (double)beta, (double)(got), (ref))
    if (g.dx)
        for (int64_t i = 0; i < L->n; i++)
            for (int64_t k = 0; k < L->in; k++) {
                double old = beta * (double)L->x[i * L->in + k], s = old, mag = fabs(old);
                for (int64_t o = 0; o < L->out; o++) {
                    double p = (double)L->dy[i * L->out + o] * L->w[o * L->in + k];
                    s += p, mag += fabs(p);
                }
                CMP("dx", g.dx[i * L->in + k], s, L->out, mag);
            }
    for (int64_t o = 0; o < L->out; o++)
        for (int64_t k = 0; k < L->in; k++) {
            double old = beta * (double)L->w[o * L->in + k], s = old, mag = fabs(old);
            for (int64_t i = 0; i < L->n; i++) {
                double p = (double)L->dy[i * L->out + o] * L->x[i * L->in + k];
                s += p, mag += fabs(p);
            }
            CMP("dw", g.dw[o * L->in + k], s, L->n, mag);
        }
    if (g.db)
        for (int64_t o = 0; o < L->out; o++) {
            double old = beta * (double)L->b[o], s = old, mag = fabs(old);
            for (int64_t i = 0; i < L->n; i++)
                s += L->dy[i * L->out + o], mag += fabs(L->dy[i * L->out + o]);
            CMP("dbias", g.db[o], s, L->n, mag);
        }
#undef CMP
    cl16_tensor_free(tx), cl16_tensor_free(tw), cl16_tensor_free(tdy);
    cl16_tensor_free(tdx), cl16_tensor_free(tdw), cl16_tensor_free(tdb);
    return g;
}
static void grads_free(grads *g) {
    free(g->dx), free(g->dw), free(g->db);
}

/* Shapes of the classifiers: LeNet-5 (400->120->84->10), ResNet-20 (64->10). */
static const int64_t layers[][2] = {{400, 120}, {120, 84}, {84, 10}, {64, 10}};
static const int64_t batches[] = {4, 32, 128};

static void test_shapes(cl16_dtype dt) {
    for (int l = 0; l < 4; l++)
        for (int b = 0; b < 3; b++) {
            lin L;
            lin_fill(&L, dt, batches[b], layers[l][0], layers[l][1]);
            const int x4 = L.in == 400; /* LeNet's conv output [N, 16, 5, 5] */
            check_forward(dt, &L, 1, l < 2, x4);
            if (b == 0)
                check_forward(dt, &L, 0, 0, 0), check_forward(dt, &L, 1, 1, 0);
            grads g = check_backward(dt, &L, 0.0f, 1, 1, x4);
            grads_free(&g);
            if (b == 1) {
                g = check_backward(dt, &L, 1.0f, 1, 1, 0), grads_free(&g);
                g = check_backward(dt, &L, 0.5f, 0, 0, 0), grads_free(&g);
            }
            lin_free(&L);
        }
}

/* f16 backward against f32 backward on the same (half-rounded) data: each is
 * within its bound of the float64 reference, so they differ by at most the
 * sum of the two bounds (checked through the reference above), and here the
 * f16 result must also track the f32 one within the f16 bound plus the f32 one. */
static void test_f16_vs_f32(void) {
    lin L;
    lin_fill(&L, CL16_F16, 32, 120, 84);
    grads h = check_backward(CL16_F16, &L, 0.0f, 1, 1, 0),
          f = check_backward(CL16_F32, &L, 0.0f, 1, 1, 0);
    int bad = 0;
    for (int64_t i = 0; i < L.n * L.in; i++) {
        double mag = 0;
        for (int64_t o = 0; o < L.out; o++)
            mag += fabs((double)L.dy[i / L.in * L.out + o] * L.w[o * L.in + i % L.in]);
        double tol =
            dot_bound(CL16_F16, L.out, mag, f.dx[i]) + dot_bound(CL16_F32, L.out, mag, f.dx[i]);
        if (!(fabs((double)h.dx[i] - f.dx[i]) <= tol) && bad++ < 5)
            CHECK_MSG(0, "f16 dx[%lld] = %g, f32 %g", (long long)i, (double)h.dx[i],
                      (double)f.dx[i]);
    }
    for (int64_t o = 0; o < L.out; o++) {
        double mag = 0;
        for (int64_t i = 0; i < L.n; i++)
            mag += fabs(L.dy[i * L.out + o]);
        double tol =
            dot_bound(CL16_F16, L.n, mag, f.db[o]) + dot_bound(CL16_F32, L.n, mag, f.db[o]);
        CHECK_MSG(fabs((double)h.db[o] - f.db[o]) <= tol, "f16 dbias[%lld] = %g, f32 %g",
                  (long long)o, (double)h.db[o], (double)f.db[o]);
    }
    grads_free(&h), grads_free(&f), lin_free(&L);
}

/* Finite differences in f32. The loss is L = sum_ij G_ij * y_ij with y =
 * x w^T + b and a fixed random G, so dL/dy = G (passed as dy) and L is linear
 * in every parameter: the central difference has no truncation error, only
 * the rounding of the two forward passes. The device's y_ij is within
 * e_ij = gamma_{K+4}(2^-24) * mag_ij of the exact value (mag_ij = |b_j| +
 * sum_k |x_ik w_jk|, with the perturbed values), so L+ and L-, summed on the
 * host in double from those y, are each within E = sum |G_ij| e_ij, and the
 * difference quotient within 2E / delta of the derivative, delta the actual
 * (float) distance between the two perturbed values. The analytic gradient
 * has its own bound; the test allows their sum, doubled for the double sum
 * and the perturbed magnitudes. delta = 2^-4 keeps 2E/delta around 1e-5. */
static double fd_loss(cl16_tensor *tx, cl16_tensor *tw, cl16_tensor *tb, cl16_tensor *ty,
                      const lin *L, const float *x, const float *w, const float *b, double *err) {
    CHECK_OK(ctx, cl16_linear_forward(ctx, tx, tw, tb, 0, ty));
    float *y = lc_read(ctx, ty);
    double s = 0, e = 0;
    for (int64_t i = 0; i < L->n; i++)
        for (int64_t o = 0; o < L->out; o++) {
            double mag = fabs(b[o]);
            for (int64_t k = 0; k < L->in; k++)
                mag += fabs((double)x[i * L->in + k] * w[o * L->in + k]);
            s += (double)L->dy[i * L->out + o] * y[i * L->out + o];
            e += fabs(L->dy[i * L->out + o]) * gc_gamma((double)L->in + 4, LC_U) * mag;
        }
    free(y);
    *err = e;
    return s;
}

static void test_finite_differences(void) {
    lin L;
    lin_fill(&L, CL16_F32, 3, 5, 4);
    grads g = check_backward(CL16_F32, &L, 0.0f, 1, 1, 0);
    cl16_tensor *tx = lc_tensor2(ctx, CL16_F32, L.n, L.in, L.x),
                *tw = lc_tensor2(ctx, CL16_F32, L.out, L.in, L.w);
    cl16_tensor *tb = lc_tensor1(ctx, CL16_F32, L.out, L.b),
                *ty = lc_tensor2(ctx, CL16_F32, L.n, L.out, NULL);
    const float h = 0.0625f;
    /* Each parameter array in turn: 0 = x, 1 = w, 2 = bias. */
    for (int which = 0; which < 3; which++) {
        float *p = which == 0 ? L.x : which == 1 ? L.w : L.b;
        cl16_tensor *tp = which == 0 ? tx : which == 1 ? tw : tb;
        const float *an = which == 0 ? g.dx : which == 1 ? g.dw : g.db;
        const int64_t cnt = cl16_tensor_numel(tp), kk = which == 0 ? L.out : L.n;
        for (int64_t i = 0; i < cnt; i++) {
            const float keep = p[i], plus = keep + h, minus = keep - h;
            double ep, em;
            p[i] = plus;
            CHECK_OK(ctx, cl16_tensor_write_f32(tp, p, (size_t)cnt));
            double lp = fd_loss(tx, tw, tb, ty, &L, L.x, L.w, L.b, &ep);
            p[i] = minus;
            CHECK_OK(ctx, cl16_tensor_write_f32(tp, p, (size_t)cnt));
            double lm = fd_loss(tx, tw, tb, ty, &L, L.x, L.w, L.b, &em);
            p[i] = keep;
            CHECK_OK(ctx, cl16_tensor_write_f32(tp, p, (size_t)cnt));
            const double delta = (double)plus - (double)minus, fd = (lp - lm) / delta;
            /* The analytic gradient's own bound: at most kk products of |dy| <= 1 and |x|,|w|
             * <= 1.07. */
            const double tol =
                2.0 * ((ep + em) / delta + gc_gamma((double)kk + 4, LC_U) * 2.0 * (double)kk);
            CHECK_MSG(fabs(fd - an[i]) <= tol,
                      "finite difference of %s[%lld]: %.9g, backward %.9g (tol %.3g)",
                      which == 0   ? "x"
                      : which == 1 ? "w"
                                   : "bias",
                      (long long)i, fd, (double)an[i], tol);
        }
    }
    cl16_tensor_free(tx), cl16_tensor_free(tw), cl16_tensor_free(tb), cl16_tensor_free(ty);
    grads_free(&g), lin_free(&L);
}

static void test_repeat(cl16_dtype dt) {
    lin L;
    lin_fill(&L, dt, 128, 400, 120);
    cl16_tensor *tx = lc_tensor2(ctx, dt, L.n, L.in, L.x),
                *tw = lc_tensor2(ctx, dt, L.out, L.in, L.w);
    cl16_tensor *tdy = lc_tensor2(ctx, dt, L.n, L.out, L.dy),
                *tdx = lc_tensor2(ctx, dt, L.n, L.in, NULL);
    cl16_tensor *tdw = lc_tensor2(ctx, dt, L.out, L.in, NULL),
                *tdb = lc_tensor1(ctx, dt, L.out, NULL);
    cl16_tensor *tb = lc_tensor1(ctx, dt, L.out, L.b), *ty = lc_tensor2(ctx, dt, L.n, L.out, NULL);
    unsigned char *r[4][2];
    for (int run = 0; run < 2; run++) {
        cl16_ctx_stats s0, s1;
        cl16_ctx_stats_get(ctx, &s0);
        CHECK_OK(ctx, cl16_linear_forward(ctx, tx, tw, tb, 1, ty));
        CHECK_OK(ctx, cl16_linear_backward(ctx, tx, tw, tdy, 0.0f, tdx, tdw, tdb));
        cl16_ctx_stats_get(ctx, &s1);
        /* Three GEMMs of 2*N*in*out each, plus the bias work. */
        CHECK(s1.op_flops - s0.op_flops >= 3.0 * 2.0 * (double)(L.n * L.in * L.out));
        CHECK(s1.op_bytes > s0.op_bytes);
        r[0][run] = lc_raw(ctx, ty), r[1][run] = lc_raw(ctx, tdx), r[2][run] = lc_raw(ctx, tdw);
        r[3][run] = lc_raw(ctx, tdb);
    }
    const cl16_tensor *ts[4] = {ty, tdx, tdw, tdb};
    for (int i = 0; i < 4; i++) {
        CHECK_MSG(!memcmp(r[i][0], r[i][1], cl16_tensor_bytes(ts[i])),
                  "%s: run 2 differs in output %d", cl16_dtype_name(dt), i);
        free(r[i][0]), free(r[i][1]);
    }
    cl16_tensor_free(tx), cl16_tensor_free(tw), cl16_tensor_free(tdy), cl16_tensor_free(tdx);
    cl16_tensor_free(tdw), cl16_tensor_free(tdb), cl16_tensor_free(tb), cl16_tensor_free(ty);
    lin_free(&L);
}

static void test_refused(void) {
    const cl16_dtype f = CL16_F32;
    cl16_tensor *x = lc_tensor2(ctx, f, 4, 64, NULL), *w = lc_tensor2(ctx, f, 10, 64, NULL);
    cl16_tensor *b = lc_tensor1(ctx, f, 10, NULL), *y = lc_tensor2(ctx, f, 4, 10, NULL);
    cl16_tensor *y_bad = lc_tensor2(ctx, f, 10, 4, NULL), *w_bad = lc_tensor2(ctx, f, 10, 63, NULL);
    cl16_tensor *b_bad = lc_tensor1(ctx, f, 11, NULL),
                *wh = lc_tensor2(ctx, CL16_F16, 10, 64, NULL);
    cl16_tensor *x1 = lc_tensor1(ctx, f, 64, NULL), *xi = lc_tensor2(ctx, CL16_I32, 4, 64, NULL);
    cl16_tensor *dx = lc_tensor2(ctx, f, 4, 64, NULL), *dw = lc_tensor2(ctx, f, 10, 64, NULL);
    cl16_tensor *db = lc_tensor1(ctx, f, 10, NULL), *dy = lc_tensor2(ctx, f, 4, 10, NULL);
    int64_t x4d[4] = {4, 4, 4, 4};
    cl16_tensor *dx4 = lc_tensor(ctx, f, 4, x4d, NULL); /* 64 features, but not x's shape */
    CHECK_OK(ctx, cl16_tensor_fill(y, 3.0f));
    CHECK_OK(ctx, cl16_tensor_fill(dw, 3.0f));
    unsigned char *yb = lc_raw(ctx, y), *dwb = lc_raw(ctx, dw);
    LC_REFUSED(ctx, cl16_linear_forward(ctx, x, w, b, 0, y_bad), CL16_ERR_SHAPE,
               "tensor y has shape [10,4], expected [4,10]", NULL, NULL);
    LC_REFUSED(ctx, cl16_linear_forward(ctx, x, w_bad, b, 0, y), CL16_ERR_SHAPE,
               "tensor w has shape [10,63], expected [10,64]", y, yb);
    LC_REFUSED(ctx, cl16_linear_forward(ctx, x, w, b_bad, 0, y), CL16_ERR_SHAPE,
               "tensor bias has shape [11], expected [10]", y, yb);
    LC_REFUSED(ctx, cl16_linear_forward(ctx, x, wh, b, 0, y), CL16_ERR_SHAPE, "tensor w is f16", y,
               yb);
    LC_REFUSED(ctx, cl16_linear_forward(ctx, x1, w, b, 0, y), CL16_ERR_SHAPE, "tensor x", y, yb);
    LC_REFUSED(ctx, cl16_linear_forward(ctx, xi, w, b, 0, y), CL16_ERR_SHAPE, "tensor x is i32", y,
               yb);
    LC_REFUSED(ctx, cl16_linear_forward(ctx, x, NULL, b, 0, y), CL16_ERR_INVALID_ARG, "tensor w", y,
               yb);
    LC_REFUSED(ctx, cl16_linear_forward(ctx, x, w, b, 3, y), CL16_ERR_INVALID_ARG, "relu", y, yb);
    LC_REFUSED(ctx, cl16_linear_forward(ctx, y, w, b, 0, y), CL16_ERR_SHAPE, "w", y, yb);
    LC_REFUSED(ctx, cl16_linear_backward(ctx, x, w, y_bad, 0.0f, dx, dw, db), CL16_ERR_SHAPE,
               "tensor dy", dw, dwb);
    LC_REFUSED(ctx, cl16_linear_backward(ctx, x, w, dy, 0.0f, dx4, dw, db), CL16_ERR_SHAPE,
               "tensor dx has shape [4,4,4,4], expected [4,64]", dw, dwb);
    LC_REFUSED(ctx, cl16_linear_backward(ctx, x, w, dy, 0.0f, dx, w_bad, db), CL16_ERR_SHAPE,
               "tensor dw", NULL, NULL);
    LC_REFUSED(ctx, cl16_linear_backward(ctx, x, w, dy, 0.0f, dx, NULL, db), CL16_ERR_INVALID_ARG,
               "tensor dw", NULL, NULL);
    LC_REFUSED(ctx, cl16_linear_backward(ctx, x, w, dy, 0.0f, dx, dw, b_bad), CL16_ERR_SHAPE,
               "tensor dbias", dw, dwb);
    LC_REFUSED(ctx, cl16_linear_backward(ctx, x, w, dy, 0.0f, dy, dw, db), CL16_ERR_SHAPE,
               "tensor dx", dw, dwb);
    /* dx aliases an input: refused before the dw GEMM runs. */
    LC_REFUSED(ctx, cl16_linear_backward(ctx, x, w, dy, 0.0f, x, dw, db), CL16_ERR_INVALID_ARG,
               "dx|same tensor", dw, dwb);
    LC_REFUSED(ctx, cl16_linear_backward(ctx, x, w, dy, 0.0f, dx, dw, dw), CL16_ERR_SHAPE, "dbias",
               dw, dwb);
    cl16_ctx *other = test_ctx(NULL);
    cl16_tensor *ow = lc_tensor2(other, f, 10, 64, NULL);
    LC_REFUSED(ctx, cl16_linear_forward(ctx, x, ow, b, 0, y), CL16_ERR_INVALID_ARG,
               "another context", y, yb);
    LC_REFUSED(ctx, cl16_linear_backward(ctx, x, w, dy, 0.0f, dx, ow, db), CL16_ERR_INVALID_ARG,
               "another context", NULL, NULL);
    cl16_tensor_free(ow);
    cl16_ctx_free(other);
    free(yb), free(dwb);
    cl16_tensor *all[] = {x, w, b, y, y_bad, w_bad, b_bad, wh, x1, xi, dx, dw, db, dy, dx4};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        cl16_tensor_free(all[i]);
}

int main(void) {
    ctx = test_ctx(getenv("CL16_CACHE_DIR"));
    for (int d = 0; d < 3; d++) {
        cl16_dtype dt = DTYPES[d];
        gc_section(d == 2 ? "bf16 shapes" : d ? "f16 shapes" : "f32 shapes");
        test_shapes(dt);
        gc_section("repeat");
        test_repeat(dt);
    }
    gc_section("f16 against f32");
    test_f16_vs_f32();
    gc_section("finite differences");
    test_finite_differences();
    gc_section("refused arguments");
    test_refused();
    cl16_ctx_free(ctx);
    return check_done("test_linear");
}
