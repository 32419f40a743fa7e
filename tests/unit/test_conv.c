/* test_conv.c - 2-D convolution against a float64 CPU reference: forward,
 * backward-data, backward-weights and the bias gradient, f32, f16 and bf16, both
 * algorithms (forward; strided backward-data: col2im, the direct gather or,
 * for 1x1 kernels, one GEMM mapped onto the sampled pixels),
 * odd shapes, LeNet-5 and ResNet-20 layers, beta = 1,
 * chunked column buffers, finite differences, determinism and bad input.
 *
 * Bound per element (inputs rounded to the 16-bit type on the host, so the
 * reference sees exactly what the device holds):
 *   |got - ref| <= (L + 4) * 2^-24 * 1.01 * mag + u_out * |ref| + tiny
 * with L the reduction length (C/g*kh*kw for y, Cout/g*kh*kw for dx,
 * N*Ho*Wo for dw and dbias), mag the sum of |terms| (|beta * old| included),
 * u_out 2^-11 for f16, 2^-8 for bf16 (one rounding on store), 0 for f32, tiny 2^-24 for f16
 * (subnormal rounding) else 1e-30. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "gemm_check.h"
#include "runtime/internal.h"

typedef struct cs {
    int n, c, h, w, co, kh, kw;
    cl16_conv2d_params p;
    int bias;
    float beta;
} cs;

static cs mk(int n, int c, int h, int w, int co, int kh, int kw, int sh, int ph, int dh, int g) {
    cs k;
    k.n = n, k.c = c, k.h = h, k.w = w, k.co = co, k.kh = kh, k.kw = kw;
    cl16_conv2d_params_init(&k.p);
    k.p.stride_h = k.p.stride_w = sh, k.p.pad_h = k.p.pad_w = ph,
    k.p.dilation_h = k.p.dilation_w = dh;
    k.p.groups = g;
    k.bias = 1, k.beta = 0.0f;
    return k;
}

static int out_h(const cs *k) {
    return (k->h + 2 * k->p.pad_h - k->p.dilation_h * (k->kh - 1) - 1) / k->p.stride_h + 1;
}
static int out_w(const cs *k) {
    return (k->w + 2 * k->p.pad_w - k->p.dilation_w * (k->kw - 1) - 1) / k->p.stride_w + 1;
}

/* Reference of all four results and their magnitudes (sum |terms|). */
typedef struct ref {
    double *y, *my, *dx, *mdx, *dw, *mdw, *db, *mdb;
} ref;

static void reference(const cs *k, const float *x, const float *w, const float *b, const float *dy,
                      ref *r) {
    const int ho = out_h(k), wo = out_w(k), g = k->p.groups, cig = k->c / g, cog = k->co / g;
    const size_t ny = (size_t)k->n * k->co * ho * wo, nx = (size_t)k->n * k->c * k->h * k->w;
    const size_t nw = (size_t)k->co * cig * k->kh * k->kw;
    r->y = calloc(ny, 8), r->my = calloc(ny, 8), r->dx = calloc(nx, 8), r->mdx = calloc(nx, 8);
    r->dw = calloc(nw, 8), r->mdw = calloc(nw, 8), r->db = calloc((size_t)k->co, 8),
    r->mdb = calloc((size_t)k->co, 8);
    for (int n = 0; n < k->n; n++)
        for (int co = 0; co < k->co; co++) {
            const int gg = co / cog;
            for (int oh = 0; oh < ho; oh++)
                for (int ow = 0; ow < wo; ow++) {
                    const size_t yi = (((size_t)n * k->co + co) * ho + oh) * wo + ow;
                    if (b)
                        r->y[yi] = b[co], r->my[yi] = fabs(b[co]);
                    r->db[co] += dy[yi], r->mdb[co] += fabs(dy[yi]);
                    for (int ci = 0; ci < cig; ci++)
                        for (int i = 0; i < k->kh; i++)
                            for (int j = 0; j < k->kw; j++) {
                                const int ih =
                                    oh * k->p.stride_h - k->p.pad_h + i * k->p.dilation_h;
                                const int iw =
                                    ow * k->p.stride_w - k->p.pad_w + j * k->p.dilation_w;
                                if (ih < 0 || ih >= k->h || iw < 0 || iw >= k->w)
                                    continue;
                                const size_t xi =
                                    (((size_t)n * k->c + gg * cig + ci) * k->h + ih) * k->w + iw;
                                const size_t wi = (((size_t)co * cig + ci) * k->kh + i) * k->kw + j;
                                const double xv = x[xi], wv = w[wi], dv = dy[yi];
                                r->y[yi] += xv * wv, r->my[yi] += fabs(xv * wv);
                                r->dx[xi] += dv * wv, r->mdx[xi] += fabs(dv * wv);
                                r->dw[wi] += dv * xv, r->mdw[wi] += fabs(dv * xv);
                            }
                }
        }
}

static void ref_free(ref *r) {
    free(r->y), free(r->my), free(r->dx), free(r->mdx), free(r->dw), free(r->mdw), free(r->db),
        free(r->mdb);
}

static void fill(float *v, size_t n, cl16_dtype dt) {
    for (size_t i = 0; i < n; i++) {
        float f = (float)((double)(gc_rand() >> 11) / 9007199254740992.0 * 2.0 - 1.0);
        v[i] = gc_round16(dt, f);
    }
}

static cl16_tensor *tensor(cl16_ctx *ctx, cl16_dtype dt, int nd, int64_t a, int64_t b, int64_t c,
                           int64_t d, const float *vals) {
    int64_t dims[4] = {a, b, c, d};
    cl16_tensor *t = NULL;
    CHECK_OK(ctx, cl16_tensor_create(ctx, dt, nd, dims, &t));
    if (t && vals)
        CHECK_OK(ctx, cl16_tensor_write_f32(t, vals, (size_t)cl16_tensor_numel(t)));
    return t;
}

/* Compares got with beta*old + ref within the bound; returns the worst error/bound ratio. */
static double compare(const char *what, const cs *k, cl16_dtype dt, const float *got, const double *rv,
                      const double *mv, const float *old, float beta, size_t n, int L) {
    double worst = 0;
    int bad = 0, nonzero = 0;
    for (size_t i = 0; i < n; i++) {
        double want = rv[i], mag = mv[i];
        if (beta != 0.0f)
            want += (double)beta * old[i], mag += fabs((double)beta * old[i]);
        const double bound = (L + 4) * ldexp(1.0, -24) * 1.01 * mag +
                             gc_u_store(dt) * fabs(want) +
                             (dt == CL16_F16 ? ldexp(1.0, -24) : 1e-30);
        const double e = fabs((double)got[i] - want);
        if (got[i] != 0.0f)
            nonzero = 1;
        if (!(e <= bound)) {
            if (bad++ < 3)
                fprintf(stderr,
                        "%s %s n%d c%d %dx%d co%d k%dx%d s%d p%d d%d g%d: [%zu] got %.9g want %.9g "
                        "bound %.3g\n",
                        what, cl16_dtype_name(dt), k->n, k->c, k->h, k->w, k->co, k->kh, k->kw,
                        k->p.stride_h, k->p.pad_h, k->p.dilation_h, k->p.groups, i, got[i], want,
                        bound);
        } else if (bound > 0 && e / bound > worst) {
            worst = e / bound;
        }
    }
    CHECK_MSG(bad == 0, "%s: %d element(s) out of bound", what, bad);
    CHECK_MSG(nonzero, "%s: all-zero output", what);
    return worst;
}

static int same_bits(cl16_tensor *t, void *a, void *b) {
    size_t nb = cl16_tensor_bytes(t);
    cl16_tensor_read_raw(t, b, nb);
    return !memcmp(a, b, nb);
}

/* Runs forward, backward-data and backward-weights of case k on ctx in dtype
 * dt and checks them; when out != NULL the device results are stored there
 * (y, dx, dw, db) for the f16-versus-f32 comparison. */
static void run_case(cl16_ctx *ctx, const cs *k, cl16_dtype dt, int do_backward,
                     const float *src[4], float *outs[4]) {
    const int ho = out_h(k), wo = out_w(k), g = k->p.groups;
    const size_t nx = (size_t)k->n * k->c * k->h * k->w, ny = (size_t)k->n * k->co * ho * wo;
    const size_t nw = (size_t)k->co * (k->c / g) * k->kh * k->kw;
    float *x = malloc(nx * 4), *w = malloc(nw * 4), *b = malloc((size_t)k->co * 4),
          *dy = malloc(ny * 4);
    float *dx0 = malloc(nx * 4), *dw0 = malloc(nw * 4), *db0 = malloc((size_t)k->co * 4);
    if (src) {
        memcpy(x, src[0], nx * 4), memcpy(w, src[1], nw * 4), memcpy(b, src[2], (size_t)k->co * 4);
        memcpy(dy, src[3], ny * 4);
    } else {
        fill(x, nx, dt), fill(w, nw, dt), fill(b, (size_t)k->co, dt), fill(dy, ny, dt);
    }
    fill(dx0, nx, dt), fill(dw0, nw, dt), fill(db0, (size_t)k->co, dt);
    ref r;
    reference(k, x, w, k->bias ? b : NULL, dy, &r);
    cl16_tensor *tx = tensor(ctx, dt, 4, k->n, k->c, k->h, k->w, x);
    cl16_tensor *tw = tensor(ctx, dt, 4, k->co, k->c / g, k->kh, k->kw, w);
    cl16_tensor *tb = tensor(ctx, dt, 1, k->co, 1, 1, 1, b);
    cl16_tensor *ty = tensor(ctx, dt, 4, k->n, k->co, ho, wo, NULL);
    cl16_tensor *tdy = tensor(ctx, dt, 4, k->n, k->co, ho, wo, dy);
    cl16_tensor *tdx = tensor(ctx, dt, 4, k->n, k->c, k->h, k->w, dx0);
    cl16_tensor *tdw = tensor(ctx, dt, 4, k->co, k->c / g, k->kh, k->kw, dw0);
    cl16_tensor *tdb = tensor(ctx, dt, 1, k->co, 1, 1, 1, db0);
    if (!tx || !tw || !tb || !ty || !tdy || !tdx || !tdw || !tdb)
        goto done;
    float *got = malloc((nx > ny ? (nx > nw ? nx : nw) : (ny > nw ? ny : nw)) * 4);
    size_t maxb = (nx > ny ? (nx > nw ? nx : nw) : (ny > nw ? ny : nw)) * 4;
    unsigned char *bits1 = malloc(maxb), *bits2 = malloc(maxb);

    CHECK_OK(ctx, cl16_tensor_fill(ty, NAN));
    CHECK_OK(ctx, cl16_conv2d_forward(ctx, &k->p, tx, tw, k->bias ? tb : NULL, ty));
    CHECK_OK(ctx, cl16_tensor_read_f32(ty, got, ny));
    compare("forward y", k, dt, got, r.y, r.my, NULL, 0.0f, ny, k->c / g * k->kh * k->kw + 1);
    if (outs)
        memcpy(outs[0], got, ny * 4);
    cl16_tensor_read_raw(ty, bits1, cl16_tensor_bytes(ty));
    CHECK_OK(ctx, cl16_conv2d_forward(ctx, &k->p, tx, tw, k->bias ? tb : NULL, ty));
    CHECK_MSG(same_bits(ty, bits1, bits2), "forward: two runs differ");

    if (do_backward) {
        /* beta = 0 with NaN in dx/dw/db must not leak the old contents. */
        const float beta = k->beta;
        if (beta == 0.0f) {
            CHECK_OK(ctx, cl16_tensor_fill(tdx, NAN));
            CHECK_OK(ctx, cl16_tensor_fill(tdw, NAN));
            CHECK_OK(ctx, cl16_tensor_fill(tdb, NAN));
        }
        CHECK_OK(ctx, cl16_conv2d_backward_data(ctx, &k->p, tdy, tw, beta, tdx));
        CHECK_OK(ctx, cl16_tensor_read_f32(tdx, got, nx));
        compare("backward dx", k, dt, got, r.dx, r.mdx, dx0, beta, nx, k->co / g * k->kh * k->kw);
        if (outs)
            memcpy(outs[1], got, nx * 4);
        CHECK_OK(ctx, cl16_conv2d_backward_weights(ctx, &k->p, tx, tdy, beta, tdw,
                                                   k->bias ? tdb : NULL));
        CHECK_OK(ctx, cl16_tensor_read_f32(tdw, got, nw));
        compare("backward dw", k, dt, got, r.dw, r.mdw, dw0, beta, nw, k->n * ho * wo);
        if (outs)
            memcpy(outs[2], got, nw * 4);
        if (k->bias) {
            CHECK_OK(ctx, cl16_tensor_read_f32(tdb, got, (size_t)k->co));
            compare("backward db", k, dt, got, r.db, r.mdb, db0, beta, (size_t)k->co,
                    k->n * ho * wo);
            if (outs)
                memcpy(outs[3], got, (size_t)k->co * 4);
        }
        if (beta == 0.0f) { /* determinism (with beta 0 the rerun overwrites) */
            cl16_tensor_read_raw(tdx, bits1, cl16_tensor_bytes(tdx));
            CHECK_OK(ctx, cl16_conv2d_backward_data(ctx, &k->p, tdy, tw, beta, tdx));
            CHECK_MSG(same_bits(tdx, bits1, bits2), "backward_data: two runs differ");
            cl16_tensor_read_raw(tdw, bits1, cl16_tensor_bytes(tdw));
            CHECK_OK(ctx, cl16_conv2d_backward_weights(ctx, &k->p, tx, tdy, beta, tdw,
                                                       k->bias ? tdb : NULL));
            CHECK_MSG(same_bits(tdw, bits1, bits2), "backward_weights: two runs differ");
        }
    }
    free(got), free(bits1), free(bits2);
done:
    cl16_tensor_free(tx), cl16_tensor_free(tw), cl16_tensor_free(tb), cl16_tensor_free(ty);
    cl16_tensor_free(tdy), cl16_tensor_free(tdx), cl16_tensor_free(tdw), cl16_tensor_free(tdb);
    ref_free(&r);
    free(x), free(w), free(b), free(dy), free(dx0), free(dw0), free(db0);
}

/* f16 backward versus f32 backward on the same (half-representable) inputs:
 * each must be within its bound of the exact result, so they agree within
 * the sum of the bounds; checked directly here against each other. */
static void f16_vs_f32(cl16_ctx *ctx, const cs *k) {
    const int ho = out_h(k), wo = out_w(k), g = k->p.groups;
    const size_t n[4] = {(size_t)k->n * k->co * ho * wo, (size_t)k->n * k->c * k->h * k->w,
                         (size_t)k->co * (k->c / g) * k->kh * k->kw, (size_t)k->co};
    const size_t nin[4] = {n[1], n[2], n[3], n[0]}; /* x, w, b, dy */
    float *in[4], *o16[4], *o32[4];
    for (int i = 0; i < 4; i++) {
        in[i] = malloc(nin[i] * 4), fill(in[i], nin[i], CL16_F16);
        o16[i] = calloc(n[i], 4), o32[i] = calloc(n[i], 4);
    }
    const float *src[4] = {in[0], in[1], in[2], in[3]};
    run_case(ctx, k, CL16_F16, 1, src, o16);
    run_case(ctx, k, CL16_F32, 1, src, o32);
    ref r;
    reference(k, in[0], in[1], in[2], in[3], &r);
    const double *mags[4] = {r.my, r.mdx, r.mdw, r.mdb};
    const int L[4] = {k->c / g * k->kh * k->kw + 1, k->co / g * k->kh * k->kw, k->n * ho * wo,
                      k->n * ho * wo};
    int bad = 0;
    for (int t = 1; t < 4; t++)
        for (size_t i = 0; i < n[t]; i++) {
            double b32 = (L[t] + 4) * ldexp(1.0, -24) * 1.01 * mags[t][i];
            double bound =
                2 * b32 + ldexp(1.0, -11) * (fabs((double)o32[t][i]) + b32) + ldexp(1.0, -24);
            if (!(fabs((double)o16[t][i] - o32[t][i]) <= bound))
                bad++;
        }
    CHECK_MSG(bad == 0, "f16 vs f32 backward: %d element(s) differ beyond the bound", bad);
    ref_free(&r);
    for (int i = 0; i < 4; i++)
        free(in[i]), free(o16[i]), free(o32[i]);
}

/* Loss sum(y * r) in double from the reference forward. */
static double loss(const cs *k, const float *x, const float *w, const float *b, const double *rr,
                   const double *dxv, const double *dwv, double eps) {
    const int ho = out_h(k), wo = out_w(k), g = k->p.groups;
    const size_t nx = (size_t)k->n * k->c * k->h * k->w,
                 nw = (size_t)k->co * (k->c / g) * k->kh * k->kw;
    const size_t ny = (size_t)k->n * k->co * ho * wo;
    /* reference() takes float inputs: evaluate the linear loss exactly in
     * double by linearity instead, L(x + e v) = L(x) + e * L_x(v). */
    float *xx = malloc(nx * 4), *ww = malloc(nw * 4), *zero = calloc(ny, 4);
    double total = 0;
    for (int part = 0; part < 3; part++) {
        /* part 0: x, w (the base); part 1: v_x, w; part 2: x, v_w */
        for (size_t i = 0; i < nx; i++)
            xx[i] = part == 1 ? (float)dxv[i] : x[i];
        for (size_t i = 0; i < nw; i++)
            ww[i] = part == 2 ? (float)dwv[i] : w[i];
        ref r;
        reference(k, xx, ww, part == 0 ? b : NULL, zero, &r);
        double s = 0;
        for (size_t i = 0; i < ny; i++)
            s += r.y[i] * rr[i];
        total += part == 0 ? s : eps * s;
        ref_free(&r);
    }
    free(xx), free(ww), free(zero);
    return total;
}

/* Finite-difference check (f32): the directional derivative of
 * L = sum(y * r) along random directions of x and w, by central differences
 * of the double-precision loss, against the analytic gradient's dot product. */
static void grad_check(cl16_ctx *ctx) {
    cs k = mk(2, 3, 6, 5, 4, 3, 3, 2, 1, 1, 1);
    const int ho = out_h(&k), wo = out_w(&k);
    const size_t nx = (size_t)k.n * k.c * k.h * k.w, nw = (size_t)k.co * k.c * k.kh * k.kw,
                 ny = (size_t)k.n * k.co * ho * wo;
    float *x = malloc(nx * 4), *w = malloc(nw * 4), *b = malloc((size_t)k.co * 4),
          *r = malloc(ny * 4);
    float *vx = malloc(nx * 4), *vw = malloc(nw * 4), *gx = malloc(nx * 4), *gw = malloc(nw * 4);
    fill(x, nx, 0), fill(w, nw, 0), fill(b, (size_t)k.co, 0), fill(r, ny, 0), fill(vx, nx, 0),
        fill(vw, nw, 0);
    double *rr = malloc(ny * 8), *dvx = malloc(nx * 8), *dvw = malloc(nw * 8), *zx = calloc(nx, 8),
           *zw = calloc(nw, 8);
    for (size_t i = 0; i < ny; i++)
        rr[i] = r[i];
    for (size_t i = 0; i < nx; i++)
        dvx[i] = vx[i];
    for (size_t i = 0; i < nw; i++)
        dvw[i] = vw[i];
    cl16_tensor *tx = tensor(ctx, CL16_F32, 4, k.n, k.c, k.h, k.w, x),
                *tw = tensor(ctx, CL16_F32, 4, k.co, k.c, k.kh, k.kw, w);
    cl16_tensor *tr = tensor(ctx, CL16_F32, 4, k.n, k.co, ho, wo, r),
                *tdx = tensor(ctx, CL16_F32, 4, k.n, k.c, k.h, k.w, NULL);
    cl16_tensor *tdw = tensor(ctx, CL16_F32, 4, k.co, k.c, k.kh, k.kw, NULL);
    CHECK_OK(ctx, cl16_conv2d_backward_data(ctx, &k.p, tr, tw, 0.0f, tdx));
    CHECK_OK(ctx, cl16_conv2d_backward_weights(ctx, &k.p, tx, tr, 0.0f, tdw, NULL));
    CHECK_OK(ctx, cl16_tensor_read_f32(tdx, gx, nx));
    CHECK_OK(ctx, cl16_tensor_read_f32(tdw, gw, nw));
    const double eps = 1e-3;
    const double fdx =
        (loss(&k, x, w, b, rr, dvx, zw, eps) - loss(&k, x, w, b, rr, dvx, zw, -eps)) / (2 * eps);
    const double fdw =
        (loss(&k, x, w, b, rr, zx, dvw, eps) - loss(&k, x, w, b, rr, zx, dvw, -eps)) / (2 * eps);
    double ax = 0, aw = 0, mx = 0, mw = 0;
    for (size_t i = 0; i < nx; i++)
        ax += (double)gx[i] * vx[i], mx += fabs((double)gx[i] * vx[i]);
    for (size_t i = 0; i < nw; i++)
        aw += (double)gw[i] * vw[i], mw += fabs((double)gw[i] * vw[i]);
    CHECK_MSG(fabs(ax - fdx) <= 1e-5 * mx + 1e-9,
              "grad check dx: analytic %.9g, finite difference %.9g", ax, fdx);
    CHECK_MSG(fabs(aw - fdw) <= 1e-5 * mw + 1e-9,
              "grad check dw: analytic %.9g, finite difference %.9g", aw, fdw);
    cl16_tensor_free(tx), cl16_tensor_free(tw), cl16_tensor_free(tr), cl16_tensor_free(tdx),
        cl16_tensor_free(tdw);
    free(x), free(w), free(b), free(r), free(vx), free(vw), free(gx), free(gw);
    free(rr), free(dvx), free(dvw), free(zx), free(zw);
}

/* ---- bad input ---------------------------------------------------------------- */
static void expect(cl16_ctx *ctx, cl16_status got, cl16_status want, const char *names,
                   const char *what) {
    CHECK_MSG(got == want, "%s: status %s, expected %s", what, cl16_status_str(got),
              cl16_status_str(want));
    CHECK_MSG(gc_mentions(cl16_ctx_last_error(ctx), names), "%s: message '%s' does not name %s",
              what, cl16_ctx_last_error(ctx), names);
}

static void bad_input(cl16_ctx *ctx, cl16_ctx *other) {
    cs k = mk(2, 4, 7, 7, 6, 3, 3, 1, 0, 1, 1);
    cl16_tensor *x = tensor(ctx, CL16_F32, 4, 2, 4, 7, 7, NULL),
                *w = tensor(ctx, CL16_F32, 4, 6, 4, 3, 3, NULL);
    cl16_tensor *y = tensor(ctx, CL16_F32, 4, 2, 6, 5, 5, NULL),
                *b = tensor(ctx, CL16_F32, 1, 6, 1, 1, 1, NULL);
    cl16_tensor *b5 = tensor(ctx, CL16_F32, 1, 5, 1, 1, 1, NULL),
                *y4 = tensor(ctx, CL16_F32, 4, 2, 6, 5, 4, NULL);
    cl16_tensor *x3 = tensor(ctx, CL16_F32, 3, 4, 7, 7, 1, NULL),
                *w16 = tensor(ctx, CL16_F16, 4, 6, 4, 3, 3, NULL);
    cl16_tensor *xi = tensor(ctx, CL16_I32, 4, 2, 4, 7, 7, NULL),
                *w3 = tensor(ctx, CL16_F32, 4, 6, 3, 3, 3, NULL);
    cl16_tensor *xo = tensor(other, CL16_F32, 4, 2, 4, 7, 7, NULL),
                *dw5 = tensor(ctx, CL16_F32, 4, 6, 4, 3, 2, NULL);
    cl16_tensor *dx = tensor(ctx, CL16_F32, 4, 2, 4, 7, 7, NULL),
                *dx8 = tensor(ctx, CL16_F32, 4, 2, 4, 8, 7, NULL);
    cl16_tensor *dw = tensor(ctx, CL16_F32, 4, 6, 4, 3, 3, NULL);
    cl16_tensor *all[] = {y, dx, dw, b};
    for (int i = 0; i < 4; i++)
        cl16_tensor_fill(all[i], 7.0f);
    cl16_conv2d_params p;
#define P(field, val)                                                                              \
    do {                                                                                           \
        p = k.p;                                                                                   \
        p.field = val;                                                                             \
    } while (0)
    P(stride_h, 0);
    expect(ctx, cl16_conv2d_forward(ctx, &p, x, w, b, y), CL16_ERR_INVALID_ARG, "stride_h",
           "stride_h 0");
    P(stride_w, -1);
    expect(ctx, cl16_conv2d_backward_data(ctx, &p, y, w, 0, dx), CL16_ERR_INVALID_ARG, "stride_w",
           "stride_w -1");
    P(pad_w, -1);
    expect(ctx, cl16_conv2d_forward(ctx, &p, x, w, b, y), CL16_ERR_INVALID_ARG, "pad_w",
           "pad_w -1");
    P(pad_h, -2);
    expect(ctx, cl16_conv2d_backward_weights(ctx, &p, x, y, 0, dw, b), CL16_ERR_INVALID_ARG,
           "pad_h", "pad_h -2");
    P(dilation_w, 0);
    expect(ctx, cl16_conv2d_forward(ctx, &p, x, w, b, y), CL16_ERR_INVALID_ARG, "dilation_w",
           "dilation_w 0");
    P(dilation_h, 0);
    expect(ctx, cl16_conv2d_forward(ctx, &p, x, w, b, y), CL16_ERR_INVALID_ARG, "dilation_h",
           "dilation_h 0");
    P(groups, 0);
    expect(ctx, cl16_conv2d_forward(ctx, &p, x, w, b, y), CL16_ERR_INVALID_ARG, "groups",
           "groups 0");
    P(groups, 3);
    expect(ctx, cl16_conv2d_forward(ctx, &p, x, w, b, y), CL16_ERR_SHAPE, "groups",
           "groups 3 of 4 channels");
    P(groups, 4); /* 6 output channels in 4 groups */
    expect(ctx, cl16_conv2d_forward(ctx, &p, x, w, b, y), CL16_ERR_SHAPE, "groups",
           "groups 4 of 6 output channels");
    expect(ctx, cl16_conv2d_forward(ctx, NULL, x, w, b, y), CL16_ERR_INVALID_ARG, "params",
           "NULL params");
    expect(ctx, cl16_conv2d_forward(ctx, &k.p, NULL, w, b, y), CL16_ERR_INVALID_ARG, "x", "NULL x");
    expect(ctx, cl16_conv2d_forward(ctx, &k.p, x, w, b, NULL), CL16_ERR_INVALID_ARG, "tensor y",
           "NULL y");
    expect(ctx, cl16_conv2d_forward(ctx, &k.p, x, w3, b, y), CL16_ERR_SHAPE, "channel",
           "channel mismatch");
    expect(ctx, cl16_conv2d_forward(ctx, &k.p, x, w, b, y4), CL16_ERR_SHAPE, "[2,6,5,5]",
           "y shape");
    expect(ctx, cl16_conv2d_forward(ctx, &k.p, x3, w, b, y), CL16_ERR_SHAPE, "x", "3-D x");
    expect(ctx, cl16_conv2d_forward(ctx, &k.p, x, w16, b, y), CL16_ERR_SHAPE, "w", "mixed dtypes");
    expect(ctx, cl16_conv2d_forward(ctx, &k.p, xi, w, b, y), CL16_ERR_SHAPE, "i32", "i32 x");
    expect(ctx, cl16_conv2d_forward(ctx, &k.p, x, w, b5, y), CL16_ERR_SHAPE, "bias", "bias length");
    expect(ctx, cl16_conv2d_forward(ctx, &k.p, xo, w, b, y), CL16_ERR_INVALID_ARG,
           "another context", "foreign x");
    expect(ctx, cl16_conv2d_forward(ctx, &k.p, x, w, b, (cl16_tensor *)x), CL16_ERR_SHAPE, "y",
           "y = x (shape)");
    P(pad_h, 0);
    cl16_tensor *xs = tensor(ctx, CL16_F32, 4, 2, 4, 2, 7, NULL);
    expect(ctx, cl16_conv2d_forward(ctx, &k.p, xs, w, b, y), CL16_ERR_SHAPE, "output height",
           "kernel > image");
    expect(ctx, cl16_conv2d_backward_data(ctx, &k.p, y, w, 0, dx8), CL16_ERR_SHAPE, "dy|dx",
           "dx shape");
    expect(ctx, cl16_conv2d_backward_data(ctx, &k.p, y4, w, 0, dx), CL16_ERR_SHAPE, "dy",
           "dy shape");
    expect(ctx, cl16_conv2d_backward_weights(ctx, &k.p, x, y, 0, dw5, b), CL16_ERR_SHAPE, "dy|dw",
           "dw shape");
    expect(ctx, cl16_conv2d_backward_weights(ctx, &k.p, x, y, 0, dw, b5), CL16_ERR_SHAPE, "dbias",
           "dbias shape");
    expect(ctx, cl16_conv2d_backward_weights(ctx, &k.p, x, y, 0, NULL, b), CL16_ERR_INVALID_ARG,
           "dw", "NULL dw");
    int64_t xd[4] = {2, 4, 7, 7}, wd[4] = {6, 4, 3, 3}, yd[4] = {0};
    CHECK_OK(ctx, cl16_conv2d_out_dims(ctx, &k.p, xd, wd, yd));
    CHECK(yd[0] == 2 && yd[1] == 6 && yd[2] == 5 && yd[3] == 5);
    wd[1] = 2;
    expect(ctx, cl16_conv2d_out_dims(ctx, &k.p, xd, wd, yd), CL16_ERR_SHAPE, "channel",
           "out_dims mismatch");
    CHECK(cl16_conv2d_forward(NULL, &k.p, x, w, b, y) == CL16_ERR_INVALID_ARG);
    /* Outputs untouched by all of the above. */
    for (int i = 0; i < 4; i++) {
        size_t n = (size_t)cl16_tensor_numel(all[i]);
        float *buf = malloc(n * 4);
        CHECK_OK(ctx, cl16_tensor_read_f32(all[i], buf, n));
        int ok = 1;
        for (size_t j = 0; j < n; j++)
            ok &= buf[j] == 7.0f;
        CHECK_MSG(ok, "bad input: output tensor %d was written", i);
        free(buf);
    }
    cl16_tensor *fr[] = {x, w, y, b, b5, y4, x3, w16, xi, w3, xo, dw5, dx, dx8, dw, xs};
    for (size_t i = 0; i < sizeof fr / sizeof fr[0]; i++)
        cl16_tensor_free(fr[i]);
#undef P
}

/* The per-shape algorithm choice is kept on disk like GEMM tuning: a second
 * context on the same cache directory finds it instead of timing again; a
 * damaged file draws a warning and the shape is measured again. */
static char warned[512];
static void keep_warning(void *user, const char *msg) {
    (void)user;
    snprintf(warned, sizeof warned, "%s", msg);
}

static cl16_ctx *disk_ctx(const char *dir) {
    cl16_ctx_opts o;
    cl16_ctx_opts_init(&o);
    o.cache = 1, o.cache_dir = dir, o.log = keep_warning;
    cl16_ctx *c = NULL;
    cl16_status s = cl16_ctx_create(&c, &o);
    CHECK_MSG(!s, "context: %s", c ? cl16_ctx_last_error(c) : "");
    return c;
}

static unsigned measured_after_forward(cl16_ctx *ctx, float *out) {
    cl16_conv2d_params p;
    cl16_conv2d_params_init(&p);
    p.pad_h = p.pad_w = 1;
    float xv[2 * 3 * 6 * 6], wv[4 * 3 * 3 * 3];
    for (int i = 0; i < (int)(sizeof xv / sizeof xv[0]); i++)
        xv[i] = (float)((i * 7) % 11) - 5.0f;
    for (int i = 0; i < (int)(sizeof wv / sizeof wv[0]); i++)
        wv[i] = (float)((i * 5) % 7) - 3.0f;
    cl16_tensor *x = tensor(ctx, CL16_F32, 4, 2, 3, 6, 6, xv),
                *w = tensor(ctx, CL16_F32, 4, 4, 3, 3, 3, wv),
                *y = tensor(ctx, CL16_F32, 4, 2, 4, 6, 6, NULL);
    cl16_ctx_stats a, b;
    cl16_ctx_stats_get(ctx, &a);
    CHECK_OK(ctx, cl16_conv2d_forward(ctx, &p, x, w, NULL, y));
    CHECK_OK(ctx, cl16_tensor_read_f32(y, out, 2 * 4 * 6 * 6));
    cl16_ctx_stats_get(ctx, &b);
    cl16_tensor_free(x), cl16_tensor_free(w), cl16_tensor_free(y);
    return b.conv_algo_measured - a.conv_algo_measured;
}

/* Overwrites the choices file in dir with a header line and one other line;
 * returns how many shapes a fresh context then timed for one forward call
 * (warned[] holds what it warned). */
static int measured_with_file(const char *dir, const char *header, const char *line, float *y) {
    char cmd[256];
    snprintf(cmd, sizeof cmd, "for f in %s/conv-algo-*.txt; do echo '%s' > $f; echo '%s' >> $f; done",
             dir, header, line);
    CHECK(system(cmd) == 0);
    warned[0] = 0;
    cl16_ctx *c = disk_ctx(dir);
    const int m = measured_after_forward(c, y);
    cl16_ctx_free(c);
    return m;
}

static void disk_choices(void) {
    char dir[] = "/tmp/cl16-test-conv-XXXXXX";
    if (!mkdtemp(dir)) {
        CHECK_MSG(0, "mkdtemp failed");
        return;
    }
    static float y1[288], y2[288];
    cl16_ctx *a = disk_ctx(dir);
    CHECK(measured_after_forward(a, y1) == 1);
    CHECK(measured_after_forward(a, y2) == 0); /* remembered in the context */
    cl16_ctx_free(a);
    cl16_ctx *b = disk_ctx(dir);
    CHECK_MSG(measured_after_forward(b, y2) == 0, "a second context timed the shape again");
    CHECK(!memcmp(y1, y2, sizeof y1));
    cl16_ctx_free(b);
    /* Damage the file: warned about, measured again. */
    CHECK(measured_with_file(dir, "cl16-conv-algo 14", "x y", y2) == 1);
    CHECK_MSG(strstr(warned, "conv-algo") && strstr(warned, "malformed"), "warning '%s'", warned);
    /* An older version's file (other kernels, other keys, fewer algorithms):
     * measured again, no warning. */
    CHECK(measured_with_file(dir, "cl16-conv-algo 1", "1 2 3", y2) == 1);
    CHECK_MSG(!warned[0], "warning for an older file: '%s'", warned);
    CHECK(measured_with_file(dir, "cl16-conv-algo 2", "0 0 0 0 0 0 0 0 0 0 0 0 0 0 1", y2) == 1);
    CHECK_MSG(!warned[0], "warning for an older file: '%s'", warned);
    CHECK(measured_with_file(dir, "cl16-conv-algo 8", "0 0 0 0 0 0 0 0 0 0 0 0 0 0 1", y2) == 1);
    CHECK_MSG(!warned[0], "warning for the previous version's file: '%s'", warned);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK(system(cmd) == 0);
}

/* cl16_conv2d_algorithm names what a call runs: forced contexts their
 * algorithm, an automatic one "unmeasured" until the first call chooses. */
static void algorithm_names(cl16_ctx *cim, cl16_ctx *cdi, cl16_ctx *cau, cl16_ctx *cfl,
                            cl16_ctx *cim2, cl16_ctx *cdot) {
    char nm[32];
    cs k = mk(2, 3, 9, 7, 4, 3, 3, 1, 1, 1, 1);
    const int64_t xd[4] = {k.n, k.c, k.h, k.w}, wd[4] = {k.co, k.c, k.kh, k.kw};
    /* im2col on float copies: 16-bit on a CPU's storage path only */
    const int fl = cfl->dev.type == CL16_DEVICE_CPU && cfl->half != CL16_HALF_NATIVE;
    CHECK_OK(cfl, cl16_conv2d_algorithm(cfl, &k.p, CL16_F16, xd, wd, 0, 0, nm, sizeof nm));
    CHECK_MSG(!strcmp(nm, fl ? "im2col-float" : "im2col"), "forced im2col-float forward: %s", nm);
    CHECK_OK(cfl, cl16_conv2d_algorithm(cfl, &k.p, CL16_F32, xd, wd, 0, 0, nm, sizeof nm));
    CHECK_MSG(!strcmp(nm, "im2col"), "forced im2col-float forward, f32: %s", nm);
    CHECK_OK(cfl, cl16_conv2d_algorithm(cfl, &k.p, CL16_BF16, xd, wd, 0, 1, nm, sizeof nm));
    CHECK_MSG(!strcmp(nm, fl ? "fwd-im2col-float" : "fwd-im2col"),
              "forced im2col-float stride-1 backward-data: %s", nm);
    CHECK_OK(cim, cl16_conv2d_algorithm(cim, &k.p, CL16_F32, xd, wd, 0, 0, nm, sizeof nm));
    CHECK_MSG(!strcmp(nm, "im2col"), "forced im2col forward: %s", nm);
    CHECK_OK(cdi, cl16_conv2d_algorithm(cdi, &k.p, CL16_F16, xd, wd, 0, 1, nm, sizeof nm));
    CHECK_MSG(!strcmp(nm, "fwd-direct"), "forced direct stride-1 backward-data: %s", nm);
    CHECK_OK(cim, cl16_conv2d_algorithm(cim, &k.p, CL16_F32, xd, wd, 0, 2, nm, sizeof nm));
    CHECK_MSG(!strcmp(nm, "im2col-nn"), "backward-weights: %s", nm);
    CHECK_OK(cim2, cl16_conv2d_algorithm(cim2, &k.p, CL16_F16, xd, wd, 0, 0, nm, sizeof nm));
    CHECK_MSG(!strcmp(nm, "implicit"), "forced implicit forward: %s", nm);
    CHECK_OK(cim2, cl16_conv2d_algorithm(cim2, &k.p, CL16_F32, xd, wd, 0, 1, nm, sizeof nm));
    CHECK_MSG(!strcmp(nm, "fwd-implicit"), "forced implicit stride-1 backward-data: %s", nm);
    CHECK_OK(cim2, cl16_conv2d_algorithm(cim2, &k.p, CL16_F32, xd, wd, 0, 2, nm, sizeof nm));
    CHECK_MSG(!strcmp(nm, "implicit"), "forced implicit backward-weights: %s", nm);
    CHECK_OK(cdot, cl16_conv2d_algorithm(cdot, &k.p, CL16_F16, xd, wd, 0, 2, nm, sizeof nm));
    CHECK_MSG(!strcmp(nm, "implicit-dot"), "forced implicit-dot backward-weights: %s", nm);
    CHECK_OK(cdot, cl16_conv2d_algorithm(cdot, &k.p, CL16_F16, xd, wd, 0, 0, nm, sizeof nm));
    CHECK_MSG(!strcmp(nm, "implicit"), "forced implicit-dot, forward: %s", nm);
    cs k2 = k;
    k2.p.stride_h = k2.p.stride_w = 2;
    CHECK_OK(cim, cl16_conv2d_algorithm(cim, &k2.p, CL16_F32, xd, wd, 0, 1, nm, sizeof nm));
    CHECK_MSG(!strcmp(nm, "col2im"), "forced im2col strided backward-data: %s", nm);
    CHECK_OK(cdi, cl16_conv2d_algorithm(cdi, &k2.p, CL16_F32, xd, wd, 0, 1, nm, sizeof nm));
    CHECK_MSG(!strcmp(nm, "direct"), "forced direct strided backward-data: %s", nm);
    CHECK_OK(cim2, cl16_conv2d_algorithm(cim2, &k2.p, CL16_F32, xd, wd, 0, 0, nm, sizeof nm));
    CHECK_MSG(!strcmp(nm, "implicit"), "forced implicit, strided forward (phases): %s", nm);
    CHECK_OK(cim2, cl16_conv2d_algorithm(cim2, &k2.p, CL16_F32, xd, wd, 0, 2, nm, sizeof nm));
    CHECK_MSG(!strcmp(nm, "implicit"), "forced implicit, strided backward-weights: %s", nm);
    CHECK_OK(cim2, cl16_conv2d_algorithm(cim2, &k2.p, CL16_F16, xd, wd, 0, 1, nm, sizeof nm));
    CHECK_MSG(!strcmp(nm, "implicit"), "forced implicit, strided 3x3 backward-data: %s", nm);
    k2.p.dilation_h = 2; /* phases need dilation 1 */
    CHECK_OK(cim2, cl16_conv2d_algorithm(cim2, &k2.p, CL16_F16, xd, wd, 0, 1, nm, sizeof nm));
    CHECK_MSG(!strcmp(nm, "col2im"), "forced implicit, dilated strided backward-data: %s", nm);
    k2.p.dilation_h = 1;
    cs k5 = mk(2, 3, 9, 7, 4, 1, 1, 2, 0, 1, 1); /* strided 1x1: one mapped GEMM (of 4 phases) */
    const int64_t wd5[4] = {k5.co, k5.c, 1, 1};
    CHECK_OK(cim2, cl16_conv2d_algorithm(cim2, &k5.p, CL16_F16, xd, wd5, 0, 1, nm, sizeof nm));
    CHECK_MSG(!strcmp(nm, "implicit"), "forced implicit, strided 1x1 backward-data: %s", nm);
    k5.p.pad_h = 1;
    CHECK_OK(cim2, cl16_conv2d_algorithm(cim2, &k5.p, CL16_F16, xd, wd5, 0, 1, nm, sizeof nm));
    CHECK_MSG(!strcmp(nm, "implicit"), "forced implicit, padded strided 1x1 backward-data: %s", nm);
    /* automatic: a shape no call has seen, then after a call */
    cs k3 = mk(3, 5, 11, 6, 7, 3, 3, 2, 1, 1, 1);
    const int64_t xd3[4] = {k3.n, k3.c, k3.h, k3.w}, wd3[4] = {k3.co, k3.c, k3.kh, k3.kw};
    CHECK_OK(cau, cl16_conv2d_algorithm(cau, &k3.p, CL16_F32, xd3, wd3, 0, 1, nm, sizeof nm));
    CHECK_MSG(!strcmp(nm, "unmeasured"), "before any call: %s", nm);
    run_case(cau, &k3, CL16_F32, 1, NULL, NULL);
    CHECK_OK(cau, cl16_conv2d_algorithm(cau, &k3.p, CL16_F32, xd3, wd3, 0, 1, nm, sizeof nm));
    CHECK_MSG(!strcmp(nm, "col2im") || !strcmp(nm, "direct"), "after a call: %s", nm);
    /* backward-weights at stride 1: measured too (columns or implicit) */
    cs k4 = mk(3, 4, 7, 6, 5, 3, 3, 1, 1, 1, 1);
    const int64_t xd4[4] = {k4.n, k4.c, k4.h, k4.w}, wd4[4] = {k4.co, k4.c, k4.kh, k4.kw};
    CHECK_OK(cau, cl16_conv2d_algorithm(cau, &k4.p, CL16_F32, xd4, wd4, 0, 2, nm, sizeof nm));
    CHECK_MSG(!strcmp(nm, "unmeasured"), "backward-weights before any call: %s", nm);
    run_case(cau, &k4, CL16_F32, 1, NULL, NULL);
    CHECK_OK(cau, cl16_conv2d_algorithm(cau, &k4.p, CL16_F32, xd4, wd4, 0, 2, nm, sizeof nm));
    CHECK_MSG(!strcmp(nm, "im2col-nn") || !strcmp(nm, "implicit") || !strcmp(nm, "implicit-dot"),
              "backward-weights after a call: %s",
              nm);
    CHECK(cl16_conv2d_algorithm(cau, &k3.p, CL16_F32, xd3, wd3, 0, 3, nm, sizeof nm) ==
          CL16_ERR_INVALID_ARG);
    CHECK(cl16_conv2d_algorithm(cau, &k3.p, CL16_F32, xd3, NULL, 0, 0, nm, sizeof nm) ==
          CL16_ERR_INVALID_ARG);
}

int main(void) {
    setenv("CL16_CONV_ALGO", "im2col", 1);
    cl16_ctx *cim = test_ctx(NULL);
    setenv("CL16_CONV_ALGO", "direct", 1);
    cl16_ctx *cdi = test_ctx(NULL);
    setenv("CL16_CONV_ALGO", "im2col-float", 1);
    cl16_ctx *cfl = test_ctx(NULL);
    setenv("CL16_CONV_ALGO", "implicit", 1);
    /* its workspaces start as NaN bytes: the zero rows of the implicit
     * backward-weights' dy^T must be written, not found */
    setenv("CL16_DEBUG_POISON", "1", 1);
    cl16_ctx *cim2 = test_ctx(NULL);
    setenv("CL16_CONV_ALGO", "implicit-dot", 1); /* backward-weights on the dot kernel */
    cl16_ctx *cdot = test_ctx(NULL);
    unsetenv("CL16_DEBUG_POISON");
    setenv("CL16_CONV_ALGO", "auto", 1);
    cl16_ctx *cau = test_ctx(NULL);
    setenv("CL16_CONV_ALGO", "fastest", 1);
    {
        cl16_ctx *bad = NULL;
        cl16_status s = cl16_ctx_create(&bad, NULL);
        CHECK_MSG(s == CL16_ERR_INVALID_ARG, "CL16_CONV_ALGO=fastest: %s", cl16_status_str(s));
        CHECK_MSG(bad && gc_mentions(cl16_ctx_last_error(bad), "CL16_CONV_ALGO"), "message '%s'",
                  bad ? cl16_ctx_last_error(bad) : "");
        cl16_ctx_free(bad);
    }
    unsetenv("CL16_CONV_ALGO");
    double t0 = cl16__now();
    disk_choices();

    /* Odd shapes: n c h w co kh kw stride pad dilation groups. */
    cs odd[] = {
        mk(2, 3, 7, 5, 5, 1, 1, 1, 0, 1, 1),   /* 1x1, identity im2col */
        mk(1, 5, 9, 6, 7, 1, 1, 2, 0, 1, 1),   /* 1x1 stride 2, batch 1 */
        mk(2, 3, 8, 11, 4, 3, 3, 1, 1, 1, 1),  /* 3x3 pad 1, non-square */
        mk(2, 6, 9, 7, 5, 3, 3, 2, 1, 1, 1),   /* stride 2 */
        mk(1, 2, 10, 9, 3, 5, 3, 1, 2, 1, 1),  /* 5x3 pad 2 */
        mk(2, 3, 11, 10, 4, 3, 3, 1, 2, 2, 1), /* dilation 2 */
        mk(2, 6, 7, 8, 10, 3, 3, 1, 1, 1, 2),  /* groups 2 */
        mk(2, 5, 8, 7, 5, 3, 3, 1, 1, 1, 5),   /* depthwise */
        mk(2, 4, 9, 9, 8, 3, 3, 2, 1, 1, 4),   /* depthwise multiplier 2, stride 2 */
        mk(3, 17, 6, 5, 19, 2, 2, 2, 0, 1, 1), /* channels not multiples of 4/16 */
        mk(1, 1, 4, 4, 2, 4, 4, 1, 0, 1, 1),   /* kernel = image: 1x1 output */
        mk(2, 3, 5, 6, 4, 1, 1, 1, 1, 1, 1),   /* pad > d*(k-1): backward-data at stride 1
                                                  through col2im, not as a forward conv */
        mk(2, 3, 5, 21, 4, 3, 3, 1, 1, 1, 1),  /* rows of 23 padded columns: the implicit
                                                  GEMM's vectors (4, 8 or 16 wide) cross row
                                                  ends, beta 1 included */
    };
    const int nodd = (int)(sizeof odd / sizeof odd[0]);
    for (int i = 0; i < nodd; i++) {
        for (int dt = 0; dt < 3; dt++) {
            cs k = odd[i];
            k.bias = i % 3 != 1;
            run_case(cim, &k, DTYPES[dt], 1, NULL, NULL);
            run_case(cdi, &k, DTYPES[dt], 1, NULL, NULL);
            if (dt) /* 16-bit forward (and stride-1 backward-data) on float copies */
                run_case(cfl, &k, DTYPES[dt], 1, NULL, NULL);
            /* the implicit GEMM (on phases where the stride is not 1) */
            run_case(cim2, &k, DTYPES[dt], 1, NULL, NULL);
            run_case(cdot, &k, DTYPES[dt], 1, NULL, NULL);
            k.beta = 1.0f; /* accumulate */
            run_case(cim, &k, DTYPES[dt], 1, NULL, NULL);
            run_case(cdi, &k, DTYPES[dt], 1, NULL, NULL);
            run_case(cim2, &k, DTYPES[dt], 1, NULL, NULL);
            /* the measured choice for a strided backward-data first called
             * with beta 1: timed on a scratch dx, then run once on dx */
            if (dt == 0 && k.p.stride_h > 1)
                run_case(cau, &k, DTYPES[dt], 1, NULL, NULL);
        }
    }
    { /* asymmetric stride/pad/dilation; stride 3 x 2 with row dilation 3:
       * every row tap in row phase 0, phases 1 and 2 read by none */
        cs k = mk(2, 3, 9, 12, 4, 3, 2, 1, 0, 1, 1);
        k.p.stride_w = 2, k.p.pad_h = 2, k.p.dilation_w = 2;
        cs k3 = mk(2, 3, 13, 11, 5, 3, 3, 1, 1, 1, 1);
        k3.p.stride_h = 3, k3.p.stride_w = 2, k3.p.dilation_h = 3, k3.p.pad_w = 2;
        for (int dt = 0; dt < 3; dt++) {
            run_case(cim, &k, DTYPES[dt], 1, NULL, NULL);
            run_case(cdi, &k, DTYPES[dt], 1, NULL, NULL);
            run_case(cim2, &k, DTYPES[dt], 1, NULL, NULL);
            run_case(cdot, &k, DTYPES[dt], 1, NULL, NULL);
            run_case(cim, &k3, DTYPES[dt], 1, NULL, NULL);
            run_case(cim2, &k3, DTYPES[dt], 1, NULL, NULL);
            run_case(cdot, &k3, DTYPES[dt], 1, NULL, NULL);
        }
    }
    printf("odd shapes: %.1f s\n", cl16__now() - t0);

    /* LeNet-5 and ResNet-20 layer shapes, small batch, f16 (f32 for two). */
    cs nets[] = {
        mk(2, 1, 28, 28, 6, 5, 5, 1, 2, 1, 1),   /* LeNet conv1 */
        mk(2, 6, 14, 14, 16, 5, 5, 1, 0, 1, 1),  /* LeNet conv2 */
        mk(2, 3, 32, 32, 16, 3, 3, 1, 1, 1, 1),  /* ResNet-20 stem */
        mk(2, 16, 32, 32, 16, 3, 3, 1, 1, 1, 1), /* stage 1 */
        mk(2, 16, 32, 32, 32, 3, 3, 2, 1, 1, 1), /* stage 2 down */
        mk(2, 16, 32, 32, 32, 1, 1, 2, 0, 1, 1), /* 1x1 stride-2 shortcut */
        mk(2, 32, 16, 16, 64, 3, 3, 2, 1, 1, 1), /* stage 3 down */
        mk(2, 64, 8, 8, 64, 3, 3, 1, 1, 1, 1),   /* stage 3 */
    };
    for (int i = 0; i < (int)(sizeof nets / sizeof nets[0]); i++) {
        nets[i].bias = i < 2;
        run_case(cau, &nets[i], CL16_F16, 1, NULL, NULL);
        run_case(cdi, &nets[i], CL16_F16, 1, NULL, NULL);
        run_case(cim2, &nets[i], CL16_F16, 1, NULL, NULL);
        run_case(cdot, &nets[i], i < 3 ? CL16_F32 : CL16_F16, 1, NULL, NULL);
        if (i == 0 || i == 4)
            run_case(cau, &nets[i], CL16_F32, 1, NULL, NULL);
        if (i == 1 || i == 4) { /* LeNet conv2, the stride-2 shortcut in bf16 */
            run_case(cau, &nets[i], CL16_BF16, 1, NULL, NULL);
            run_case(cdi, &nets[i], CL16_BF16, 1, NULL, NULL);
        }
    }
    printf("network layers: %.1f s\n", cl16__now() - t0);

    /* Column buffer in chunks (one or two images at a time). */
    cl16__conv_set_col_limit(cim, 3 * 27 * 49 * 4 + 100);
    {
        cs k = mk(5, 3, 9, 8, 4, 3, 3, 1, 0, 1, 1);
        run_case(cim, &k, CL16_F32, 1, NULL, NULL);
        run_case(cim, &k, CL16_F16, 1, NULL, NULL);
        k.beta = 1.0f;
        run_case(cim, &k, CL16_F32, 1, NULL, NULL);
        /* pad 1: im2col's whole-plane copy, chunks of two images */
        cs k1 = mk(5, 3, 9, 8, 4, 3, 3, 1, 1, 1, 1);
        run_case(cim, &k1, CL16_F32, 1, NULL, NULL);
        run_case(cim, &k1, CL16_F16, 1, NULL, NULL);
    }
    cl16__conv_set_col_limit(cim, 0);
    cl16__conv_set_col_limit(cfl, 3 * 27 * 49 * 4 + 100); /* float columns: one image */
    {
        cs k = mk(5, 3, 9, 8, 4, 3, 3, 1, 0, 1, 1);
        k.bias = 1;
        run_case(cfl, &k, CL16_F16, 1, NULL, NULL);
        cs k1 = mk(3, 5, 6, 6, 4, 1, 1, 1, 0, 1, 1); /* 1x1: x widened is the columns */
        run_case(cfl, &k1, CL16_BF16, 1, NULL, NULL);
    }
    cl16__conv_set_col_limit(cfl, 0);
    /* The implicit GEMM's padded copies in chunks (two images, then one). */
    cl16__conv_set_col_limit(cim2, 2 * 3 * 11 * 10 * 4 + 100);
    {
        cs k = mk(5, 3, 9, 8, 4, 3, 3, 1, 1, 1, 1);
        k.bias = 1;
        run_case(cim2, &k, CL16_F32, 1, NULL, NULL);
        run_case(cim2, &k, CL16_F16, 1, NULL, NULL);
        k.beta = 1.0f;
        run_case(cim2, &k, CL16_F32, 1, NULL, NULL);
    }
    cl16__conv_set_col_limit(cim2, 0);
    /* The dot form's padded copies of x and dy in chunks (two images). */
    cl16__conv_set_col_limit(cdot, 2 * (3 * 11 * 10 + 4 * 9 * 10) * 4 + 100);
    {
        cs k = mk(5, 3, 9, 8, 4, 3, 3, 1, 1, 1, 1);
        run_case(cdot, &k, CL16_F32, 1, NULL, NULL);
        run_case(cdot, &k, CL16_F16, 1, NULL, NULL);
        k.beta = 1.0f;
        run_case(cdot, &k, CL16_BF16, 1, NULL, NULL);
    }
    cl16__conv_set_col_limit(cdot, 0);
    /* The f16 direct forward's float copies in chunks (two images, then one;
     * on devices where f16 does not go through float copies, one pass). */
    cl16__conv_set_direct_chunk(cdi, 2 * (3 * 9 * 8 + 4 * 9 * 8) * 4 + 100);
    {
        cs k = mk(5, 3, 9, 8, 4, 3, 3, 1, 1, 1, 1);
        k.bias = 1;
        run_case(cdi, &k, CL16_F16, 1, NULL, NULL);
        run_case(cdi, &k, CL16_F32, 1, NULL, NULL);
        /* the strided backward-data's float copies of dy in chunks (two
         * images, then one) and dx rounded on store, accumulating too; bf16
         * reads its dy as is */
        cl16__conv_set_direct_chunk(cdi, 2 * (3 * 4 * 4) * 4 + 100);
        cs k2 = mk(5, 4, 8, 8, 3, 3, 3, 2, 1, 1, 1);
        run_case(cdi, &k2, CL16_F16, 1, NULL, NULL);
        k2.beta = 1.0f;
        run_case(cdi, &k2, CL16_F16, 1, NULL, NULL);
        run_case(cdi, &k2, CL16_BF16, 1, NULL, NULL);
    }
    cl16__conv_set_direct_chunk(cdi, 0);
    /* Strided 1x1 backward-data as one GEMM mapped onto the sampled pixels
     * (forced implicit, NaN-poisoned workspaces): column steps 1, 2 and 3,
     * unequal strides, groups, Wo not a multiple of any vector width, and a
     * beta that is neither 0 nor 1 (the unsampled pixels scaled). */
    {
        cs sub[] = {mk(5, 6, 11, 13, 6, 1, 1, 3, 0, 1, 1), mk(3, 6, 8, 7, 4, 1, 1, 2, 0, 1, 2),
                    mk(2, 16, 32, 32, 32, 1, 1, 2, 0, 1, 1), mk(2, 5, 7, 9, 6, 1, 1, 2, 0, 1, 1),
                    mk(2, 4, 8, 10, 3, 1, 1, 2, 0, 1, 1)};
        sub[0].p.stride_w = 2;
        sub[3].p.stride_w = 1; /* adjacent columns: whole vectors */
        sub[4].p.stride_w = 3; /* element by element */
        for (int i = 0; i < 5; i++)
            for (int dt = 0; dt < 3; dt++) {
                cs k = sub[i];
                run_case(cim2, &k, DTYPES[dt], 1, NULL, NULL);
                k.beta = 0.5f;
                run_case(cim2, &k, DTYPES[dt], 1, NULL, NULL);
            }
    }

    /* Strided backward-data by phases (forced implicit, NaN-poisoned
     * workspaces): every phase with taps (3x3 and 5x5 at stride 2), one tap per
     * phase read from dy as is (2x2 stride 2), phases without taps (3x3 at
     * stride 4, pixels scaled by beta), several taps at stride 3, unequal
     * strides, groups, odd sizes; the padded copies one image at a time. */
    {
        cs ph[] = {mk(2, 5, 9, 11, 6, 3, 3, 2, 1, 1, 1),  mk(2, 4, 13, 10, 5, 5, 5, 2, 2, 1, 1),
                   mk(3, 6, 10, 8, 4, 2, 2, 2, 0, 1, 1),  mk(2, 3, 13, 11, 4, 3, 3, 4, 1, 1, 1),
                   mk(2, 4, 11, 12, 5, 5, 5, 3, 1, 1, 1), mk(2, 6, 9, 10, 4, 3, 3, 2, 1, 1, 2),
                   mk(2, 3, 8, 9, 4, 3, 3, 2, 0, 1, 1)};
        ph[4].p.stride_w = 2, ph[4].p.pad_w = 2; /* unequal strides and pads */
        ph[6].p.stride_w = 1;                    /* one dimension at stride 1 */
        const int nph = (int)(sizeof ph / sizeof ph[0]);
        for (int i = 0; i < nph; i++)
            for (int dt = 0; dt < 3; dt++) {
                cs k = ph[i];
                run_case(cim2, &k, DTYPES[dt], 1, NULL, NULL);
                k.beta = 0.5f;
                run_case(cim2, &k, DTYPES[dt], 1, NULL, NULL);
            }
        cl16__conv_set_col_limit(cim2, 6 * 50 * 4 + 100); /* one image per chunk */
        run_case(cim2, &ph[0], CL16_F32, 1, NULL, NULL);
        run_case(cim2, &ph[0], CL16_F16, 1, NULL, NULL);
        cl16__conv_set_col_limit(cim2, 0);
    }

    f16_vs_f32(cim, &odd[3]);
    f16_vs_f32(cim, &odd[7]);
    grad_check(cim);

    /* Work is counted. */
    cl16_ctx_stats st0, st1;
    cl16_ctx_stats_get(cau, &st0);
    run_case(cau, &odd[2], CL16_F32, 0, NULL, NULL);
    cl16_ctx_stats_get(cau, &st1);
    const double want = 2.0 * 2 * 4 * 8 * 11 * 3 * 3 * 3 * 2; /* two forward calls */
    CHECK_MSG(st1.op_flops - st0.op_flops >= want && st1.op_flops - st0.op_flops < 1.5 * want,
              "op_flops grew by %.0f, expected about %.0f", st1.op_flops - st0.op_flops, want);

    /* Temporaries (column buffers, float copies, packed weights) are all
     * returned: with every test tensor freed, only the GEMM workspace (kept
     * by the context on purpose; f16 GEMMs pack A into it on a CPU) may
     * remain. */
    uint64_t cur[3];
    uint64_t curf = 0;
    cl16_ctx_memory(cim, &cur[0], NULL), cl16_ctx_memory(cdi, &cur[1], NULL),
        cl16_ctx_memory(cau, &cur[2], NULL), cl16_ctx_memory(cfl, &curf, NULL);
    cur[0] -= cim->ws_bytes, cur[1] -= cdi->ws_bytes, cur[2] -= cau->ws_bytes;
    curf -= cfl->ws_bytes;
    CHECK_MSG(cur[0] == 0 && cur[1] == 0 && cur[2] == 0 && curf == 0,
              "device memory left: %llu %llu %llu %llu bytes", (unsigned long long)cur[0],
              (unsigned long long)cur[1], (unsigned long long)cur[2], (unsigned long long)curf);

    algorithm_names(cim, cdi, cau, cfl, cim2, cdot);
    bad_input(cim, cdi);
    printf("total: %.1f s\n", cl16__now() - t0);
    cl16_ctx_free(cim), cl16_ctx_free(cdi), cl16_ctx_free(cau), cl16_ctx_free(cfl);
    cl16_ctx_free(cim2), cl16_ctx_free(cdot);
    return check_done("conv");
}
