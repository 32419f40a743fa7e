/* test_pool.c - max / average pooling and global average pooling against a
 * float64 host reference: odd shapes and parameters, both dtypes, ties and
 * padding, beta semantics, finite-difference gradient checks in f32, f16
 * backward against f32 backward, determinism, and every bad-input path. */
#include "pn_util.h"

typedef struct pshape {
    int64_t n, c, h, w;
} pshape;

/* ---- float64 reference ---------------------------------------------------- */

static double ref_divisor(const cl16_pool2d_params *p, int64_t oh, int64_t ow, int64_t h,
                          int64_t w) {
    int64_t hs = oh * p->stride_h - p->pad_h, ws = ow * p->stride_w - p->pad_w;
    int64_t he = hs + p->kernel_h < h + p->pad_h ? hs + p->kernel_h : h + p->pad_h;
    int64_t we = ws + p->kernel_w < w + p->pad_w ? ws + p->kernel_w : w + p->pad_w;
    if (p->count_include_pad)
        return (double)((he - hs) * (we - ws));
    if (hs < 0)
        hs = 0;
    if (ws < 0)
        ws = 0;
    if (he > h)
        he = h;
    if (we > w)
        we = w;
    return (double)((he - hs) * (we - ws));
}

/* y (and for MAX idx) of x; mag = sum of |terms| (the error scale). */
static void ref_forward(const cl16_pool2d_params *p, pshape s, int64_t ho, int64_t wo,
                        const float *x, double *y, double *mag, int32_t *idx) {
    for (int64_t pl = 0; pl < s.n * s.c; pl++)
        for (int64_t oh = 0; oh < ho; oh++)
            for (int64_t ow = 0; ow < wo; ow++) {
                const int64_t o = (pl * ho + oh) * wo + ow;
                double best = 0, sum = 0, abs = 0;
                int32_t bi = -1;
                for (int64_t i = oh * p->stride_h - p->pad_h;
                     i < oh * p->stride_h - p->pad_h + p->kernel_h; i++)
                    for (int64_t j = ow * p->stride_w - p->pad_w;
                         j < ow * p->stride_w - p->pad_w + p->kernel_w; j++) {
                        if (i < 0 || j < 0 || i >= s.h || j >= s.w)
                            continue;
                        double v = x[(pl * s.h + i) * s.w + j];
                        if (bi < 0 || v > best)
                            best = v, bi = (int32_t)(i * s.w + j);
                        sum += v, abs += fabs(v);
                    }
                if (p->kind == CL16_POOL_MAX) {
                    y[o] = best, mag[o] = fabs(best), idx[o] = bi;
                } else {
                    double d = ref_divisor(p, oh, ow, s.h, s.w);
                    y[o] = sum / d, mag[o] = abs / d;
                }
            }
}

/* dx = beta * dx0 + pool^T(dy) (MAX through idx); mag as above. */
static void ref_backward(const cl16_pool2d_params *p, pshape s, int64_t ho, int64_t wo,
                         const float *dy, const int32_t *idx, float beta, const float *dx0,
                         double *dx, double *mag) {
    const int64_t nx = s.n * s.c * s.h * s.w;
    for (int64_t i = 0; i < nx; i++) {
        dx[i] = beta != 0 ? (double)beta * dx0[i] : 0;
        mag[i] = fabs(dx[i]);
    }
    for (int64_t pl = 0; pl < s.n * s.c; pl++)
        for (int64_t oh = 0; oh < ho; oh++)
            for (int64_t ow = 0; ow < wo; ow++) {
                const int64_t o = (pl * ho + oh) * wo + ow;
                if (p->kind == CL16_POOL_MAX) {
                    dx[pl * s.h * s.w + idx[o]] += dy[o];
                    mag[pl * s.h * s.w + idx[o]] += fabs(dy[o]);
                    continue;
                }
                double g = dy[o] / ref_divisor(p, oh, ow, s.h, s.w);
                for (int64_t i = oh * p->stride_h - p->pad_h;
                     i < oh * p->stride_h - p->pad_h + p->kernel_h; i++)
                    for (int64_t j = ow * p->stride_w - p->pad_w;
                         j < ow * p->stride_w - p->pad_w + p->kernel_w; j++) {
                        if (i < 0 || j < 0 || i >= s.h || j >= s.w)
                            continue;
                        dx[(pl * s.h + i) * s.w + j] += g;
                        mag[(pl * s.h + i) * s.w + j] += fabs(g);
                    }
            }
}

/* Bound of a float sum of k terms of magnitude mag, plus the f16 store. */
static double *bounds(const double *ref, const double *mag, size_t n, double k, cl16_dtype dt) {
    double *b = calloc(n, sizeof *b);
    for (size_t i = 0; i < n; i++)
        /* + half the spacing of f16's subnormals: the relative term cannot
         * cover a result rounded below 2^-14 */
        b[i] = (k + 2) * U32 * mag[i] + pn_u(dt) * fabs(ref[i]) +
               (dt == CL16_F16 ? 0x1p-25 : 1e-30);
    return b;
}

static const char *kind_name(const cl16_pool2d_params *p) {
    return p->kind == CL16_POOL_MAX ? "max" : p->count_include_pad ? "avg" : "avg(excl. pad)";
}

/* Forward and backward (beta 0 over NaN, then beta 0.5) of one case against the reference. */
static void check_case(cl16_ctx *ctx, cl16_dtype dt, const cl16_pool2d_params *p, pshape s,
                       uint64_t seed) {
    int64_t xd[4] = {s.n, s.c, s.h, s.w}, yd[4];
    CHECK_OK(ctx, cl16_pool2d_out_dims(ctx, p, xd, yd));
    const size_t nx = (size_t)pn_numel(4, xd), ny = (size_t)pn_numel(4, yd);
    const int max = p->kind == CL16_POOL_MAX;
    pn_seed(seed);
    float *x = pn_random(nx, 2.0), *dy = pn_random(ny, 1.0), *dx0 = pn_random(nx, 1.0);
    pn_round_all(dt, x, nx), pn_round_all(dt, dy, ny), pn_round_all(dt, dx0, nx);
    double *yr = calloc(ny, 8), *ym = calloc(ny, 8), *dxr = calloc(nx, 8), *dxm = calloc(nx, 8);
    int32_t *ir = calloc(ny, 4);
    ref_forward(p, s, yd[2], yd[3], x, yr, ym, ir);

    cl16_tensor *tx = pn_tensor(ctx, dt, 4, xd, x, 0), *ty = pn_tensor(ctx, dt, 4, yd, NULL, NAN);
    cl16_tensor *ti = max ? pn_tensor(ctx, CL16_I32, 4, yd, NULL, 0) : NULL;
    cl16_tensor *tdy = pn_tensor(ctx, dt, 4, yd, dy, 0),
                *tdx = pn_tensor(ctx, dt, 4, xd, NULL, NAN);
    CHECK_OK(ctx, cl16_pool2d_forward(ctx, p, tx, ty, ti));
    float *y = pn_read(ctx, ty);
    char what[160];
    snprintf(what, sizeof what, "%s %s %lldx%lldx%lldx%lld k%dx%d s%dx%d p%dx%d y",
             cl16_dtype_name(dt), kind_name(p), (long long)s.n, (long long)s.c, (long long)s.h,
             (long long)s.w, p->kernel_h, p->kernel_w, p->stride_h, p->stride_w, p->pad_h,
             p->pad_w);
    if (max) {
        /* The maximum of stored values is one of them: exact. */
        int32_t *ig = pn_read_i32(ctx, ti);
        int bad = 0;
        for (size_t i = 0; i < ny; i++)
            bad += (double)y[i] != yr[i] || ig[i] != ir[i];
        CHECK_MSG(bad == 0, "%s: %d of %zu maxima or indices differ", what, bad, ny);
        free(ig);
    } else {
        double *b = bounds(yr, ym, ny, p->kernel_h * p->kernel_w, dt);
        pn_compare(what, y, yr, b, ny);
        free(b);
    }
    CHECK_MSG(!pn_all_zero(y, ny), "%s: all zero", what);

    for (int pass = 0; pass < 2; pass++) {
        const float beta = pass ? 0.5f : 0.0f;
        if (pass)
            CHECK_OK(ctx, cl16_tensor_write_f32(tdx, dx0, nx));
        CHECK_OK(ctx, cl16_pool2d_backward(ctx, p, tdy, ti, beta, tdx));
        ref_backward(p, s, yd[2], yd[3], dy, ir, beta, dx0, dxr, dxm);
        float *dx = pn_read(ctx, tdx);
        /* Each dx element sums at most ceil(k/s)^2 window contributions (+ beta term). */
        double k = (double)((p->kernel_h + p->stride_h - 1) / p->stride_h) *
                       ((p->kernel_w + p->stride_w - 1) / p->stride_w) +
                   1;
        double *b = bounds(dxr, dxm, nx, k, dt);
        char w2[200];
        snprintf(w2, sizeof w2, "%s -> dx (beta %g)", what, (double)beta);
        pn_compare(w2, dx, dxr, b, nx);
        free(b), free(dx);
    }
    cl16_tensor_free(tx), cl16_tensor_free(ty), cl16_tensor_free(ti), cl16_tensor_free(tdy),
        cl16_tensor_free(tdx);
    free(x), free(dy), free(dx0), free(yr), free(ym), free(dxr), free(dxm), free(ir), free(y);
}

/* sum(y * r) in double of the device forward at x. */
static double loss_at(cl16_ctx *ctx, const cl16_pool2d_params *p, cl16_tensor *tx, const float *x,
                      size_t nx, cl16_tensor *ty, const float *r, size_t ny, int global) {
    CHECK_OK(ctx, cl16_tensor_write_f32(tx, x, nx));
    if (global)
        CHECK_OK(ctx, cl16_global_avgpool_forward(ctx, tx, ty));
    else
        CHECK_OK(ctx, cl16_pool2d_forward(ctx, p, tx, ty, NULL));
    float *y = pn_read(ctx, ty);
    double l = 0;
    for (size_t i = 0; i < ny; i++)
        l += (double)y[i] * r[i];
    free(y);
    return l;
}

/* Finite-difference check (f32) of the backward: (L(x+hd) - L(x-hd)) / 2h
 * against <dx, d>, L = sum(y*r), dx = backward(r). Pooling is piecewise
 * linear; the inputs are distinct values at least 2/numel apart and h keeps
 * every argmax in place, so the only error is the rounding of x +- hd and of
 * the forward's float sums. p == NULL: global average pooling. */
static void check_fd(cl16_ctx *ctx, const cl16_pool2d_params *p, pshape s, uint64_t seed) {
    int64_t xd[4] = {s.n, s.c, s.h, s.w}, yd[4] = {s.n, s.c, 1, 1};
    if (p)
        CHECK_OK(ctx, cl16_pool2d_out_dims(ctx, p, xd, yd));
    const size_t nx = (size_t)pn_numel(4, xd), ny = (size_t)pn_numel(4, yd);
    pn_seed(seed);
    float *x = pn_alloc(nx), *xp = pn_alloc(nx), *d = pn_random(nx, 1.0), *r = pn_random(ny, 1.0);
    for (size_t i = 0; i < nx; i++)
        x[i] = (float)i;
    for (size_t i = nx - 1; i > 0; i--) { /* shuffle */
        size_t j = (size_t)((pn_uniform() + 1) / 2 * (double)(i + 1)) % (i + 1);
        float t = x[i];
        x[i] = x[j], x[j] = t;
    }
    for (size_t i = 0; i < nx; i++)
        x[i] = x[i] * 2.0f / (float)nx - 1.0f;
    const double h = 0.25 / (double)nx; /* |h d| < half the gap between inputs */
    cl16_tensor *tx = pn_tensor(ctx, CL16_F32, 4, xd, x, 0),
                *ty = pn_tensor(ctx, CL16_F32, 4, yd, NULL, 0);
    cl16_tensor *ti =
        p && p->kind == CL16_POOL_MAX ? pn_tensor(ctx, CL16_I32, 4, yd, NULL, 0) : NULL;
    cl16_tensor *tr = pn_tensor(ctx, CL16_F32, 4, yd, r, 0),
                *tdx = pn_tensor(ctx, CL16_F32, 4, xd, NULL, 0);
    if (p) {
        CHECK_OK(ctx, cl16_pool2d_forward(ctx, p, tx, ty, ti));
        CHECK_OK(ctx, cl16_pool2d_backward(ctx, p, tr, ti, 0.0f, tdx));
    } else {
        CHECK_OK(ctx, cl16_global_avgpool_forward(ctx, tx, ty));
        CHECK_OK(ctx, cl16_global_avgpool_backward(ctx, tr, 0.0f, tdx));
    }
    float *dx = pn_read(ctx, tdx);
    double an = 0, ad = 0;
    for (size_t i = 0; i < nx; i++)
        an += (double)dx[i] * d[i], ad += fabs((double)dx[i] * d[i]);
    for (size_t i = 0; i < nx; i++)
        xp[i] = (float)(x[i] + h * d[i]);
    double lp = loss_at(ctx, p, tx, xp, nx, ty, r, ny, !p);
    for (size_t i = 0; i < nx; i++)
        xp[i] = (float)(x[i] - h * d[i]);
    double lm = loss_at(ctx, p, tx, xp, nx, ty, r, ny, !p);
    double fd = (lp - lm) / (2 * h);
    double sr = 0;
    for (size_t i = 0; i < ny; i++)
        sr += fabs(r[i]);
    const double k = p ? p->kernel_h * p->kernel_w : (double)(s.h * s.w);
    /* x +- hd rounds by u|x| <= u; each y sums k such values; dx by its own sum. */
    const double bound = sr * (k + 2) * U32 * 2.0 / (2 * h) + 8 * U32 * ad + 1e-12;
    CHECK_MSG(fabs(fd - an) <= bound, "%s FD: finite difference %.9g, <dx, d> %.9g, bound %.3g",
              p ? kind_name(p) : "global avg", fd, an, bound);
    cl16_tensor_free(tx), cl16_tensor_free(ty), cl16_tensor_free(ti), cl16_tensor_free(tr),
        cl16_tensor_free(tdx);
    free(x), free(xp), free(d), free(r), free(dx);
}

static cl16_pool2d_params mk(cl16_pool_kind kind, int kh, int kw, int sh, int sw, int ph, int pw,
                             int cip) {
    cl16_pool2d_params p;
    cl16_pool2d_params_init(&p);
    p.kind = kind, p.kernel_h = kh, p.kernel_w = kw, p.stride_h = sh, p.stride_w = sw;
    p.pad_h = ph, p.pad_w = pw, p.count_include_pad = cip;
    return p;
}

/* Max pool with relu = 1 against ReLU on the host followed by the plain max
 * pool, with the ReLU's gradient mask applied on the host to the plain
 * backward: the same outputs and input gradients bit for bit (beta 0), in
 * every dtype, on the 2x2 kernels (their 8- and 4-wide vectors and scalar
 * tail) and the general ones. The data holds windows that are all negative, and exact ties. */
static void check_relu(cl16_ctx *ctx, cl16_dtype dt, const cl16_pool2d_params *p, pshape s,
                       uint64_t seed) {
    int64_t xd[4] = {s.n, s.c, s.h, s.w}, yd[4];
    CHECK_OK(ctx, cl16_pool2d_out_dims(ctx, p, xd, yd));
    const size_t nx = (size_t)(s.n * s.c * s.h * s.w), ny = (size_t)(yd[0] * yd[1] * yd[2] * yd[3]);
    pn_seed(seed);
    float *x = pn_random(nx, 1.0), *dy = pn_random(ny, 1.0), *xr = pn_alloc(nx);
    for (size_t e = 0; e < nx; e++) {
        if (e % 7 == 3)
            x[e] = x[e - 1]; /* ties */
        if ((e / (size_t)s.w) % 5 == 2)
            x[e] = -fabsf(x[e]) - 0.01f; /* rows of negatives: all-negative windows */
    }
    pn_round_all(dt, x, nx), pn_round_all(dt, dy, ny);
    for (size_t e = 0; e < nx; e++)
        xr[e] = x[e] > 0.0f ? x[e] : 0.0f;
    cl16_pool2d_params q = *p;
    q.relu = 1;
    cl16_tensor *tx = pn_tensor(ctx, dt, 4, xd, x, 0), *txr = pn_tensor(ctx, dt, 4, xd, xr, 0);
    cl16_tensor *ty = pn_tensor(ctx, dt, 4, yd, NULL, NAN), *tyr = pn_tensor(ctx, dt, 4, yd, NULL, NAN);
    cl16_tensor *ti = pn_tensor(ctx, CL16_I32, 4, yd, NULL, 0), *tir = pn_tensor(ctx, CL16_I32, 4, yd, NULL, 0);
    cl16_tensor *tdy = pn_tensor(ctx, dt, 4, yd, dy, 0);
    cl16_tensor *tdx = pn_tensor(ctx, dt, 4, xd, NULL, NAN), *tdxr = pn_tensor(ctx, dt, 4, xd, NULL, NAN);
    CHECK_OK(ctx, cl16_pool2d_forward(ctx, &q, tx, ty, ti));
    CHECK_OK(ctx, cl16_pool2d_forward(ctx, p, txr, tyr, tir));
    CHECK_OK(ctx, cl16_pool2d_backward(ctx, &q, tdy, ti, 0.0f, tdx));
    CHECK_OK(ctx, cl16_pool2d_backward(ctx, p, tdy, tir, 0.0f, tdxr));
    float *y = pn_read(ctx, ty), *yr = pn_read(ctx, tyr), *dx = pn_read(ctx, tdx),
          *dxr = pn_read(ctx, tdxr);
    int32_t *idx = pn_read_i32(ctx, ti);
    size_t ybad = 0, dbad = 0, zeroed = 0, passed = 0;
    for (size_t o = 0; o < ny; o++) {
        ybad += memcmp(&y[o], &yr[o], 4) != 0;
        zeroed += idx[o] == -1, passed += idx[o] >= 0 && y[o] > 0.0f;
    }
    for (size_t e = 0; e < nx; e++) {
        const float want = xr[e] <= 0.0f ? 0.0f : dxr[e]; /* the ReLU's mask */
        dbad += memcmp(&dx[e], &want, 4) != 0;
    }
    char what[160];
    snprintf(what, sizeof what, "%s max pool %dx%d/%d pad %d + ReLU, %lldx%lldx%lldx%lld",
             cl16_dtype_name(dt), p->kernel_h, p->kernel_w, p->stride_h, p->pad_h, (long long)s.n,
             (long long)s.c, (long long)s.h, (long long)s.w);
    CHECK_MSG(ybad == 0, "%s: y differs from pool(relu(x)) in %zu of %zu", what, ybad, ny);
    CHECK_MSG(dbad == 0, "%s: dx differs from the unfused gradient in %zu of %zu", what, dbad, nx);
    CHECK_MSG(zeroed > 0 && passed > 0, "%s: %zu outputs zeroed, %zu passed (both must occur)",
              what, zeroed, passed);
    cl16_tensor *ts[] = {tx, txr, ty, tyr, ti, tir, tdy, tdx, tdxr};
    for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++)
        cl16_tensor_free(ts[i]);
    free(x), free(dy), free(xr), free(y), free(yr), free(dx), free(dxr), free(idx);
}

/* f16 backward against f32 backward from the same (half-valued) data. */
static void check_f16_vs_f32(cl16_ctx *ctx, const cl16_pool2d_params *p, pshape s) {
    int64_t xd[4] = {s.n, s.c, s.h, s.w}, yd[4];
    CHECK_OK(ctx, cl16_pool2d_out_dims(ctx, p, xd, yd));
    const size_t nx = (size_t)pn_numel(4, xd), ny = (size_t)pn_numel(4, yd);
    pn_seed(77);
    float *x = pn_random(nx, 1.0), *dy = pn_random(ny, 1.0);
    pn_round_all(CL16_F16, x, nx), pn_round_all(CL16_F16, dy, ny);
    float *dx[2];
    for (int f = 0; f < 2; f++) {
        cl16_dtype dt = f ? CL16_F16 : CL16_F32;
        cl16_tensor *tx = pn_tensor(ctx, dt, 4, xd, x, 0), *ty = pn_tensor(ctx, dt, 4, yd, NULL, 0);
        cl16_tensor *ti = pn_tensor(ctx, CL16_I32, 4, yd, NULL, 0);
        cl16_tensor *tdy = pn_tensor(ctx, dt, 4, yd, dy, 0),
                    *tdx = pn_tensor(ctx, dt, 4, xd, NULL, 0);
        CHECK_OK(ctx, cl16_pool2d_forward(ctx, p, tx, ty, p->kind == CL16_POOL_MAX ? ti : NULL));
        CHECK_OK(ctx,
                 cl16_pool2d_backward(ctx, p, tdy, p->kind == CL16_POOL_MAX ? ti : NULL, 0, tdx));
        dx[f] = pn_read(ctx, tdx);
        cl16_tensor_free(tx), cl16_tensor_free(ty), cl16_tensor_free(ti), cl16_tensor_free(tdy),
            cl16_tensor_free(tdx);
    }
    double *ref = calloc(nx, 8), *b = calloc(nx, 8);
    for (size_t i = 0; i < nx; i++)
        ref[i] = dx[0][i], b[i] = U16 * fabs(ref[i]) + 1e-7 * 8;
    pn_compare("f16 backward vs f32 backward", dx[1], ref, b, nx);
    free(ref), free(b), free(dx[0]), free(dx[1]), free(x), free(dy);
}

static void check_ties(cl16_ctx *ctx) {
    /* Constant input: every maximum is the first valid element of its window. */
    for (int pad = 0; pad < 2; pad++) {
        cl16_pool2d_params p = mk(CL16_POOL_MAX, 3, 3, 2, 2, pad, pad, 1);
        int64_t xd[4] = {1, 2, 7, 7}, yd[4];
        CHECK_OK(ctx, cl16_pool2d_out_dims(ctx, &p, xd, yd));
        for (int neg = 0; neg < 2; neg++) {
            const float v = neg ? -5.0f : 3.0f;
            cl16_tensor *tx = pn_tensor(ctx, CL16_F16, 4, xd, NULL, v);
            cl16_tensor *ty = pn_tensor(ctx, CL16_F16, 4, yd, NULL, 0);
            cl16_tensor *ti = pn_tensor(ctx, CL16_I32, 4, yd, NULL, 0);
            CHECK_OK(ctx, cl16_pool2d_forward(ctx, &p, tx, ty, ti));
            int32_t *ig = pn_read_i32(ctx, ti);
            /* Padding never wins, even over negative values. */
            CHECK_MSG(pn_holds(ctx, ty, v), "ties pad %d: maxima are not all %g", pad, (double)v);
            int bad = 0;
            for (int64_t pl = 0; pl < yd[0] * yd[1]; pl++)
                for (int64_t oh = 0; oh < yd[2]; oh++)
                    for (int64_t ow = 0; ow < yd[3]; ow++) {
                        int64_t i0 = oh * 2 - pad, j0 = ow * 2 - pad;
                        if (i0 < 0)
                            i0 = 0;
                        if (j0 < 0)
                            j0 = 0;
                        bad += ig[(pl * yd[2] + oh) * yd[3] + ow] != (int32_t)(i0 * 7 + j0);
                    }
            CHECK_MSG(bad == 0, "ties pad %d value %g: %d indices are not the first in the window",
                      pad, (double)v, bad);
            free(ig);
            cl16_tensor_free(tx), cl16_tensor_free(ty), cl16_tensor_free(ti);
        }
    }
    /* A tie inside one window: the first in row-major order wins. */
    cl16_pool2d_params p = mk(CL16_POOL_MAX, 2, 2, 2, 2, 0, 0, 1);
    int64_t xd[4] = {1, 1, 2, 2}, yd[4] = {1, 1, 1, 1};
    const float x[4] = {1, 4, 4, 2};
    cl16_tensor *tx = pn_tensor(ctx, CL16_F32, 4, xd, x, 0),
                *ty = pn_tensor(ctx, CL16_F32, 4, yd, NULL, 0);
    cl16_tensor *ti = pn_tensor(ctx, CL16_I32, 4, yd, NULL, 0);
    CHECK_OK(ctx, cl16_pool2d_forward(ctx, &p, tx, ty, ti));
    int32_t *ig = pn_read_i32(ctx, ti);
    CHECK_MSG(ig[0] == 1, "tie 4 at (0,1) and (1,0): index %d, expected 1", ig[0]);
    free(ig);
    /* A NaN wins its window, as in PyTorch (NaN propagates). */
    const float xn[4] = {1, NAN, 3, 2};
    CHECK_OK(ctx, cl16_tensor_write_f32(tx, xn, 4));
    CHECK_OK(ctx, cl16_pool2d_forward(ctx, &p, tx, ty, ti));
    float *yn = pn_read(ctx, ty);
    ig = pn_read_i32(ctx, ti);
    CHECK_MSG(isnan(yn[0]) && ig[0] == 1, "NaN at (0,1): y %g index %d", (double)yn[0], ig[0]);
    free(ig), free(yn);
    cl16_tensor_free(tx), cl16_tensor_free(ty), cl16_tensor_free(ti);
}

static void check_global(cl16_ctx *ctx, cl16_dtype dt, pshape s, int two_d) {
    int64_t xd[4] = {s.n, s.c, s.h, s.w}, yd[4] = {s.n, s.c, 1, 1};
    const size_t nx = (size_t)pn_numel(4, xd), ny = (size_t)(s.n * s.c);
    const int64_t hw = s.h * s.w;
    pn_seed(5);
    float *x = pn_random(nx, 3.0), *dy = pn_random(ny, 1.0), *dx0 = pn_random(nx, 1.0);
    pn_round_all(dt, x, nx), pn_round_all(dt, dy, ny), pn_round_all(dt, dx0, nx);
    double *yr = calloc(ny, 8), *ym = calloc(ny, 8), *dxr = calloc(nx, 8), *dxm = calloc(nx, 8);
    for (size_t p = 0; p < ny; p++) {
        for (int64_t i = 0; i < hw; i++)
            yr[p] += x[p * hw + i], ym[p] += fabs(x[p * hw + i]);
        yr[p] /= hw, ym[p] /= hw;
    }
    cl16_tensor *tx = pn_tensor(ctx, dt, 4, xd, x, 0),
                *ty = pn_tensor(ctx, dt, two_d ? 2 : 4, yd, NULL, 0);
    cl16_tensor *tdy = pn_tensor(ctx, dt, two_d ? 2 : 4, yd, dy, 0),
                *tdx = pn_tensor(ctx, dt, 4, xd, dx0, 0);
    CHECK_OK(ctx, cl16_global_avgpool_forward(ctx, tx, ty));
    float *y = pn_read(ctx, ty);
    double *b = bounds(yr, ym, ny, (double)hw, dt);
    char what[128];
    snprintf(what, sizeof what, "%s global avgpool %lldx%lldx%lldx%lld%s", cl16_dtype_name(dt),
             (long long)s.n, (long long)s.c, (long long)s.h, (long long)s.w,
             two_d ? " (y 2-D)" : "");
    pn_compare(what, y, yr, b, ny);
    free(b);
    CHECK_OK(ctx, cl16_global_avgpool_backward(ctx, tdy, 1.0f, tdx));
    for (size_t i = 0; i < nx; i++) {
        dxr[i] = dx0[i] + (double)dy[i / (size_t)hw] / (double)hw;
        dxm[i] = fabs((double)dx0[i]) + fabs((double)dy[i / (size_t)hw] / (double)hw);
    }
    float *dx = pn_read(ctx, tdx);
    b = bounds(dxr, dxm, nx, 2, dt);
    pn_compare("global avgpool backward (beta 1)", dx, dxr, b, nx);
    free(b), free(dx), free(y), free(x), free(dy), free(dx0), free(yr), free(ym), free(dxr),
        free(dxm);
    cl16_tensor_free(tx), cl16_tensor_free(ty), cl16_tensor_free(tdy), cl16_tensor_free(tdx);
}

/* Forward + backward twice on fresh outputs: bitwise identical. */
static void check_deterministic(cl16_ctx *ctx, cl16_dtype dt) {
    cl16_pool2d_params p = mk(CL16_POOL_MAX, 3, 3, 2, 2, 1, 1, 1);
    int64_t xd[4] = {3, 5, 16, 16}, yd[4];
    CHECK_OK(ctx, cl16_pool2d_out_dims(ctx, &p, xd, yd));
    const size_t nx = (size_t)pn_numel(4, xd), ny = (size_t)pn_numel(4, yd);
    pn_seed(11);
    float *x = pn_random(nx, 1.0), *dy = pn_random(ny, 1.0);
    float *out[2][3];
    for (int run = 0; run < 2; run++) {
        cl16_tensor *tx = pn_tensor(ctx, dt, 4, xd, x, 0), *ty = pn_tensor(ctx, dt, 4, yd, NULL, 0);
        cl16_tensor *ti = pn_tensor(ctx, CL16_I32, 4, yd, NULL, 0),
                    *tdy = pn_tensor(ctx, dt, 4, yd, dy, 0);
        cl16_tensor *tdx = pn_tensor(ctx, dt, 4, xd, NULL, 0),
                    *tg = pn_tensor(ctx, dt, 4, xd, NULL, 0);
        CHECK_OK(ctx, cl16_pool2d_forward(ctx, &p, tx, ty, ti));
        CHECK_OK(ctx, cl16_pool2d_backward(ctx, &p, tdy, ti, 0, tdx));
        p.kind = CL16_POOL_AVG;
        CHECK_OK(ctx, cl16_pool2d_backward(ctx, &p, tdy, NULL, 0, tg));
        p.kind = CL16_POOL_MAX;
        out[run][0] = pn_read(ctx, ty), out[run][1] = pn_read(ctx, tdx),
        out[run][2] = pn_read(ctx, tg);
        cl16_tensor_free(tx), cl16_tensor_free(ty), cl16_tensor_free(ti), cl16_tensor_free(tdy),
            cl16_tensor_free(tdx), cl16_tensor_free(tg);
    }
    CHECK(!memcmp(out[0][0], out[1][0], ny * 4));
    CHECK(!memcmp(out[0][1], out[1][1], nx * 4));
    CHECK(!memcmp(out[0][2], out[1][2], nx * 4));
    for (int r = 0; r < 2; r++)
        for (int j = 0; j < 3; j++)
            free(out[r][j]);
    free(x), free(dy);
}

static void check_errors(cl16_ctx *ctx) {
    cl16_pool2d_params p = mk(CL16_POOL_MAX, 2, 2, 2, 2, 0, 0, 1), q;
    int64_t xd[4] = {2, 3, 8, 8}, yd[4] = {2, 3, 4, 4}, bad[4] = {2, 3, 4, 5}, od[4];
    cl16_tensor *x = pn_tensor(ctx, CL16_F32, 4, xd, NULL, 1),
                *y = pn_tensor(ctx, CL16_F32, 4, yd, NULL, 7);
    cl16_tensor *yb = pn_tensor(ctx, CL16_F32, 4, bad, NULL, 7),
                *y16 = pn_tensor(ctx, CL16_F16, 4, yd, NULL, 7);
    cl16_tensor *idx = pn_tensor(ctx, CL16_I32, 4, yd, NULL, 7),
                *idxf = pn_tensor(ctx, CL16_F32, 4, yd, NULL, 7);
    cl16_tensor *dx = pn_tensor(ctx, CL16_F32, 4, xd, NULL, 7);
    cl16_tensor *x3 = pn_tensor(ctx, CL16_F32, 3, xd, NULL, 1);

    q = p, q.kernel_h = 0;
    EXPECT_FAIL(ctx, cl16_pool2d_forward(ctx, &q, x, y, idx), CL16_ERR_INVALID_ARG, "kernel_h");
    q = p, q.kernel_w = -1;
    EXPECT_FAIL(ctx, cl16_pool2d_out_dims(ctx, &q, xd, od), CL16_ERR_INVALID_ARG, "kernel_w");
    q = p, q.stride_w = 0;
    EXPECT_FAIL(ctx, cl16_pool2d_forward(ctx, &q, x, y, idx), CL16_ERR_INVALID_ARG, "stride_w");
    q = p, q.pad_h = 2;
    EXPECT_FAIL(ctx, cl16_pool2d_forward(ctx, &q, x, y, idx), CL16_ERR_INVALID_ARG, "pad_h");
    q = p, q.pad_w = -1;
    EXPECT_FAIL(ctx, cl16_pool2d_backward(ctx, &q, y, idx, 0, dx), CL16_ERR_INVALID_ARG, "pad_w");
    q = p, q.kind = (cl16_pool_kind)7;
    EXPECT_FAIL(ctx, cl16_pool2d_forward(ctx, &q, x, y, NULL), CL16_ERR_INVALID_ARG, "kind");
    q = p, q.kind = CL16_POOL_AVG, q.relu = 1;
    EXPECT_FAIL(ctx, cl16_pool2d_forward(ctx, &q, x, y, NULL), CL16_ERR_INVALID_ARG, "relu", "AVG");
    q = p, q.relu = 2;
    EXPECT_FAIL(ctx, cl16_pool2d_backward(ctx, &q, y, idx, 0, dx), CL16_ERR_INVALID_ARG, "relu");
    q = p, q.kernel_h = 10, q.pad_h = 0;
    EXPECT_FAIL(ctx, cl16_pool2d_out_dims(ctx, &q, xd, od), CL16_ERR_SHAPE, "kernel_h");
    EXPECT_FAIL(ctx, cl16_pool2d_forward(ctx, NULL, x, y, idx), CL16_ERR_INVALID_ARG, "params");
    EXPECT_FAIL(ctx, cl16_pool2d_forward(ctx, &p, x, yb, idx), CL16_ERR_SHAPE, "y", "[2,3,4,4]");
    EXPECT_FAIL(ctx, cl16_pool2d_forward(ctx, &p, x, y16, idx), CL16_ERR_SHAPE, "y", "f16");
    EXPECT_FAIL(ctx, cl16_pool2d_forward(ctx, &p, x, y, idxf), CL16_ERR_SHAPE, "indices", "i32");
    EXPECT_FAIL(ctx, cl16_pool2d_forward(ctx, &p, x3, y, idx), CL16_ERR_SHAPE, "x");
    EXPECT_FAIL(ctx, cl16_pool2d_forward(ctx, &p, NULL, y, idx), CL16_ERR_INVALID_ARG, "x");
    EXPECT_FAIL(ctx, cl16_pool2d_forward(ctx, &p, x, NULL, idx), CL16_ERR_INVALID_ARG, "y");
    EXPECT_FAIL(ctx, cl16_pool2d_forward(ctx, &p, idx, y, NULL), CL16_ERR_SHAPE, "x", "i32");
    EXPECT_FAIL(ctx, cl16_pool2d_backward(ctx, &p, y, NULL, 0, dx), CL16_ERR_INVALID_ARG,
                "indices");
    EXPECT_FAIL(ctx, cl16_pool2d_backward(ctx, &p, yb, idx, 0, dx), CL16_ERR_SHAPE, "dy",
                "[2,3,4,4]");
    EXPECT_FAIL(ctx, cl16_pool2d_backward(ctx, &p, y16, idx, 0, dx), CL16_ERR_SHAPE, "dy");
    EXPECT_FAIL(ctx, cl16_pool2d_backward(ctx, &p, y, idx, NAN, dx), CL16_ERR_INVALID_ARG, "beta");
    q = p, q.kind = CL16_POOL_AVG;
    EXPECT_FAIL(ctx, cl16_pool2d_forward(ctx, &q, x, y, idx), CL16_ERR_INVALID_ARG, "indices");
    EXPECT_FAIL(ctx, cl16_global_avgpool_forward(ctx, x, y), CL16_ERR_SHAPE, "y", "[2,3,1,1]");
    EXPECT_FAIL(ctx, cl16_global_avgpool_forward(ctx, x3, y), CL16_ERR_SHAPE, "x");
    EXPECT_FAIL(ctx, cl16_global_avgpool_backward(ctx, y, 0, dx), CL16_ERR_SHAPE, "dy",
                "[2,3,1,1]");
    EXPECT_FAIL(ctx, cl16_global_avgpool_backward(ctx, NULL, 0, dx), CL16_ERR_INVALID_ARG, "dy");

    /* A tensor of another context. */
    cl16_ctx *other = test_ctx(NULL);
    cl16_tensor *ox = pn_tensor(other, CL16_F32, 4, xd, NULL, 1);
    EXPECT_FAIL(ctx, cl16_pool2d_forward(ctx, &p, ox, y, idx), CL16_ERR_INVALID_ARG, "x",
                "context");
    cl16_tensor_free(ox);
    cl16_ctx_free(other);

    CHECK_MSG(pn_holds(ctx, y, 7) && pn_holds(ctx, idx, 7) && pn_holds(ctx, dx, 7) &&
                  pn_holds(ctx, yb, 7) && pn_holds(ctx, y16, 7),
              "a failed call wrote an output");
    cl16_tensor_free(x), cl16_tensor_free(y), cl16_tensor_free(yb), cl16_tensor_free(y16),
        cl16_tensor_free(idx), cl16_tensor_free(idxf), cl16_tensor_free(dx), cl16_tensor_free(x3);
}

int main(void) {
    cl16_ctx *ctx = test_ctx(getenv("CL16_CACHE_DIR"));
    cl16_pool2d_params p;
    cl16_pool2d_params_init(&p);
    CHECK(p.kind == CL16_POOL_MAX && p.kernel_h == 2 && p.kernel_w == 2 && p.stride_h == 2 &&
          p.stride_w == 2 && p.pad_h == 0 && p.pad_w == 0 && p.count_include_pad == 1);
    int64_t od[4], xd[4] = {1, 1, 7, 7};
    p = mk(CL16_POOL_MAX, 3, 3, 2, 2, 1, 1, 1);
    CHECK_OK(ctx, cl16_pool2d_out_dims(ctx, &p, xd, od));
    CHECK(od[2] == 4 && od[3] == 4); /* floor((7 + 2 - 3) / 2) + 1 */
    int64_t xd2[4] = {1, 1, 1, 1};
    p = mk(CL16_POOL_MAX, 1, 1, 1, 1, 0, 0, 1);
    CHECK_OK(ctx, cl16_pool2d_out_dims(ctx, &p, xd2, od));
    CHECK(od[2] == 1 && od[3] == 1);

    const cl16_pool2d_params cases[] = {
        mk(CL16_POOL_MAX, 2, 2, 2, 2, 0, 0, 1), mk(CL16_POOL_MAX, 3, 3, 2, 2, 1, 1, 1),
        mk(CL16_POOL_MAX, 3, 2, 2, 1, 1, 0, 1), mk(CL16_POOL_MAX, 3, 3, 1, 1, 1, 1, 1),
        mk(CL16_POOL_AVG, 2, 2, 2, 2, 0, 0, 1), mk(CL16_POOL_AVG, 3, 3, 2, 2, 1, 1, 1),
        mk(CL16_POOL_AVG, 3, 3, 2, 2, 1, 1, 0), mk(CL16_POOL_AVG, 2, 3, 1, 2, 1, 1, 0),
        mk(CL16_POOL_AVG, 5, 5, 3, 3, 2, 2, 1)};
    const pshape shapes[] = {{2, 3, 7, 7}, {1, 1, 7, 9}, {3, 2, 8, 8}, {1, 3, 5, 6}, {2, 1, 9, 4}};
    const int ncase = (int)(sizeof cases / sizeof cases[0]),
              nshape = (int)(sizeof shapes / sizeof shapes[0]);
    for (int dt = 0; dt < 3; dt++)
        for (int i = 0; i < ncase; i++)
            for (int j = 0; j < nshape; j++)
                check_case(ctx, PN_DTYPES[dt], &cases[i], shapes[j],
                           (uint64_t)(100 * i + j));
    /* LeNet-5: 6x28x28 max-pooled 2x2 (and 16x10x10), batch 4. */
    for (int dt = 0; dt < 3; dt++) {
        check_case(ctx, PN_DTYPES[dt], &cases[0], (pshape){4, 6, 28, 28}, 1);
        check_case(ctx, PN_DTYPES[dt], &cases[0], (pshape){4, 16, 10, 10}, 2);
    }
    for (int i = 0; i < ncase; i++) {
        check_fd(ctx, &cases[i], (pshape){2, 3, 7, 7}, (uint64_t)i + 500);
        check_f16_vs_f32(ctx, &cases[i], (pshape){2, 3, 9, 8});
    }
    check_fd(ctx, NULL, (pshape){2, 3, 7, 7}, 900);
    for (int dt = 0; dt < 3; dt++) {
        check_relu(ctx, PN_DTYPES[dt], &cases[0], (pshape){4, 6, 28, 28}, 950);
        check_relu(ctx, PN_DTYPES[dt], &cases[0], (pshape){2, 3, 9, 7}, 951);
        check_relu(ctx, PN_DTYPES[dt], &cases[1], (pshape){2, 3, 9, 8}, 952);
    }
    check_ties(ctx);
    for (int dt = 0; dt < 3; dt++) {
        check_global(ctx, PN_DTYPES[dt], (pshape){4, 64, 8, 8}, 0);
        check_global(ctx, PN_DTYPES[dt], (pshape){2, 3, 7, 5}, 1);
        check_global(ctx, PN_DTYPES[dt], (pshape){1, 1, 1, 1}, 0);
        check_deterministic(ctx, PN_DTYPES[dt]);
    }
    cl16_ctx_stats st0, st1;
    cl16_ctx_stats_get(ctx, &st0);
    check_case(ctx, CL16_F32, &cases[1], (pshape){1, 1, 7, 7}, 3);
    cl16_ctx_stats_get(ctx, &st1);
    CHECK(st1.op_flops > st0.op_flops && st1.op_bytes > st0.op_bytes);
    check_errors(ctx);
    cl16_ctx_free(ctx);
    return check_done("test_pool");
}
