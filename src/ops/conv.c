/* conv.c - 2-D convolution (NCHW; any kernel, stride, padding, dilation,
 * groups; optional bias): forward, backward-data and backward-weights through
 * im2col + cl16's GEMM, and a direct forward kernel chosen per shape by speed
 * (backward-data at stride 1 runs as a forward convolution).
 *
 * Work counted in cl16_ctx_stats (cl16__count): the GEMMs count themselves
 * (2*M*N*K*batch flops and their operands' bytes); this file adds the other
 * kernels: im2col and the widening copies move bytes only, col2im and the bias
 * gradient count one add per summed term, and the direct kernel counts the
 * whole convolution (2*N*Cout*Ho*Wo*C/g*kh*kw flops, x + w + y bytes).
 * Nothing is launched unless every argument is consistent. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/ops_util.h"
#include "runtime/internal.h"

#define COL_LIMIT_DEFAULT ((size_t)256 << 20)
#define DIRECT_CHUNK_BYTES ((size_t)512 << 10) /* see direct_via_float */
/* Column chunks on a CPU: about 4.5 MB, so that the columns a kernel writes
 * are mostly still in cache when the GEMM reads them (see
 * cl16__conv_chunk_bytes). */
#define CPU_CHUNK_BYTES ((double)(4608 << 10))
/* Elsewhere (GPUs): large chunks, whose GEMMs fill the device (not measured
 * on a GPU yet: a guess that keeps these nets' batches whole). */
#define DEV_CHUNK_BYTES ((double)(64 << 20))
#define CONV_TABLE_SIZE 64
#define CHOOSE_ROUNDS 6   /* timed rounds at most when choosing the forward algorithm */
#define CHOOSE_CLEAR 0.75 /* a best time under this fraction of the other's decides after two */
#define KEY_LEN 16

/* ALGO_IM2COL_FLOAT: the im2col form of a 16-bit forward on float copies
 * (fwd_im2col_float), a candidate on a CPU's storage path only.
 * ALGO_IMPLICIT: the GEMM reads its columns from the zero-padded input in
 * place (fwd_implicit), stride 1 only. ALGO_IMPLICIT_DOT: backward-weights
 * only, the implicit rows times dy's rows on the dot kernel (bww_implicit, dot);
 * forced (CL16_CONV_ALGO=implicit-dot), the other calls run ALGO_IMPLICIT. */
enum {
    ALGO_AUTO = 0,
    ALGO_IM2COL = 1,
    ALGO_DIRECT = 2,
    ALGO_IM2COL_FLOAT = 3,
    ALGO_IMPLICIT = 4,
    ALGO_IMPLICIT_DOT = 5
};

/* The algorithm CL16_CONV_ALGO forces for a call whose candidates are
 * cand[0..ncand) (any when ncand is 0), or ALGO_AUTO. */
static int forced(const cl16_ctx *ctx, const int *cand, int ncand) {
    int a = ctx->conv_algo, has_dot = 0;
    for (int i = 0; i < ncand; i++)
        has_dot |= cand[i] == ALGO_IMPLICIT_DOT;
    return a == ALGO_IMPLICIT_DOT && !has_dot ? ALGO_IMPLICIT : a;
}

/* Per-context state: the column-buffer cap and, per forward shape, the
 * algorithm measured faster (a small table, oldest entry replaced first). */
struct cl16_conv_table {
    size_t col_limit, direct_chunk;
    int count, next;
    int loaded; /* the disk file has been read */
    int save_warned;
    struct {
        int64_t key[KEY_LEN];
        int algo;
    } e[CONV_TABLE_SIZE];
};

typedef struct conv_shape {
    int64_t n, c, h, w; /* input */
    int64_t co, kh, kw; /* weights [co, c/g, kh, kw] */
    int64_t ho, wo, g;
    cl16_dtype dt;
} conv_shape;

void cl16_conv2d_params_init(cl16_conv2d_params *p) {
    if (!p)
        return;
    p->stride_h = p->stride_w = 1;
    p->pad_h = p->pad_w = 0;
    p->dilation_h = p->dilation_w = 1;
    p->groups = 1;
}

void cl16__conv_release(cl16_ctx *ctx) {
    free(ctx->conv);
    ctx->conv = NULL;
}

static struct cl16_conv_table *table(cl16_ctx *ctx) {
    if (!ctx->conv) {
        ctx->conv = calloc(1, sizeof *ctx->conv);
        if (ctx->conv)
            ctx->conv->col_limit = COL_LIMIT_DEFAULT, ctx->conv->direct_chunk = DIRECT_CHUNK_BYTES;
    }
    return ctx->conv;
}

void cl16__conv_set_col_limit(cl16_ctx *ctx, size_t bytes) {
    struct cl16_conv_table *t = table(ctx);
    if (t)
        t->col_limit = bytes ? bytes : COL_LIMIT_DEFAULT;
}

void cl16__conv_set_direct_chunk(cl16_ctx *ctx, size_t bytes) {
    struct cl16_conv_table *t = table(ctx);
    if (t)
        t->direct_chunk = bytes ? bytes : DIRECT_CHUNK_BYTES;
}

static size_t col_limit(cl16_ctx *ctx) {
    struct cl16_conv_table *t = table(ctx);
    return t ? t->col_limit : COL_LIMIT_DEFAULT;
}

/* ---- validation ------------------------------------------------------------ */

static cl16_status check_params(cl16_ctx *ctx, const char *op, const cl16_conv2d_params *p) {
    if (!p)
        return cl16__fail(ctx, CL16_ERR_INVALID_ARG, "%s: params is NULL", op);
    const struct {
        const char *name;
        int v, min;
    } f[] = {{"stride_h", p->stride_h, 1},     {"stride_w", p->stride_w, 1},
             {"pad_h", p->pad_h, 0},           {"pad_w", p->pad_w, 0},
             {"dilation_h", p->dilation_h, 1}, {"dilation_w", p->dilation_w, 1},
             {"groups", p->groups, 1}};
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        if (f[i].v < f[i].min)
            return cl16__fail(ctx, CL16_ERR_INVALID_ARG, "%s: %s = %d (must be >= %d)", op,
                              f[i].name, f[i].v, f[i].min);
    return CL16_OK;
}

/* Output dims from validated params; names the parameter or dimension at fault. */
static cl16_status out_dims(cl16_ctx *ctx, const char *op, const cl16_conv2d_params *p,
                            const int64_t xd[4], const int64_t wd[4], int64_t yd[4]) {
    static const char *xn[4] = {"N", "C", "H", "W"}, *wn[4] = {"Cout", "C/groups", "kh", "kw"};
    for (int i = 0; i < 4; i++) {
        if (xd[i] < 1 || xd[i] > INT32_MAX)
            return cl16__fail(ctx, CL16_ERR_SHAPE,
                              "%s: input dimension %s = %" PRId64 " (must be 1..2^31-1)", op, xn[i],
                              xd[i]);
        if (wd[i] < 1 || wd[i] > INT32_MAX)
            return cl16__fail(ctx, CL16_ERR_SHAPE,
                              "%s: weight dimension %s = %" PRId64 " (must be 1..2^31-1)", op,
                              wn[i], wd[i]);
    }
    const int64_t g = p->groups;
    if (xd[1] % g)
        return cl16__fail(ctx, CL16_ERR_SHAPE,
                          "%s: groups = %d does not divide the %" PRId64 " input channels", op,
                          p->groups, xd[1]);
    if (wd[0] % g)
        return cl16__fail(ctx, CL16_ERR_SHAPE,
                          "%s: groups = %d does not divide the %" PRId64
                          " output channels (weight dim 0)",
                          op, p->groups, wd[0]);
    if (wd[1] * g != xd[1])
        return cl16__fail(ctx, CL16_ERR_SHAPE,
                          "%s: channel mismatch: the weights take %" PRId64
                          " channels per group, the input has %" PRId64
                          " channels in %d group(s) (%" PRId64 " per group)",
                          op, wd[1], xd[1], p->groups, xd[1] / g);
    const int64_t nh = xd[2] + 2 * (int64_t)p->pad_h - (int64_t)p->dilation_h * (wd[2] - 1) - 1;
    const int64_t nw = xd[3] + 2 * (int64_t)p->pad_w - (int64_t)p->dilation_w * (wd[3] - 1) - 1;
    if (nh < 0)
        return cl16__fail(ctx, CL16_ERR_SHAPE,
                          "%s: output height < 1: H = %" PRId64
                          ", pad_h = %d, kernel height %" PRId64 ", dilation_h = %d",
                          op, xd[2], p->pad_h, wd[2], p->dilation_h);
    if (nw < 0)
        return cl16__fail(ctx, CL16_ERR_SHAPE,
                          "%s: output width < 1: W = %" PRId64 ", pad_w = %d, kernel width %" PRId64
                          ", dilation_w = %d",
                          op, xd[3], p->pad_w, wd[3], p->dilation_w);
    yd[0] = xd[0], yd[1] = wd[0], yd[2] = nh / p->stride_h + 1, yd[3] = nw / p->stride_w + 1;
    if (yd[2] * yd[3] > INT32_MAX || xd[2] * xd[3] > INT32_MAX || xd[1] * wd[2] * wd[3] > INT32_MAX)
        return cl16__fail(ctx, CL16_ERR_SHAPE,
                          "%s: image or kernel too large (a plane or C*kh*kw exceeds 2^31-1)", op);
    return CL16_OK;
}

cl16_status cl16_conv2d_out_dims(cl16_ctx *ctx, const cl16_conv2d_params *p,
                                 const int64_t x_dims[4], const int64_t w_dims[4],
                                 int64_t y_dims[4]) {
    if (!ctx)
        return CL16_ERR_INVALID_ARG;
    cl16_status s = check_params(ctx, "conv2d_out_dims", p);
    if (s)
        return s;
    if (!x_dims || !w_dims || !y_dims)
        return cl16__fail(ctx, CL16_ERR_INVALID_ARG, "conv2d_out_dims: %s is NULL",
                          !x_dims   ? "x_dims"
                          : !w_dims ? "w_dims"
                                    : "y_dims");
    int64_t yd[4];
    if ((s = out_dims(ctx, "conv2d_out_dims", p, x_dims, w_dims, yd)))
        return s;
    memcpy(y_dims, yd, sizeof yd);
    return CL16_OK;
}

/* A float tensor of this context (not i32); when dt >= 0 it must have that dtype. */
static cl16_status check_tensor(cl16_ctx *ctx, const char *op, const char *name,
                                const cl16_tensor *t, int dt) {
    if (!t)
        return cl16__fail(ctx, CL16_ERR_INVALID_ARG, "%s: tensor %s is NULL", op, name);
    if (t->ctx != ctx)
        return cl16__fail(ctx, CL16_ERR_INVALID_ARG, "%s: tensor %s belongs to another context", op,
                          name);
    if (t->dtype == CL16_I32)
        return cl16__fail(ctx, CL16_ERR_SHAPE, "%s: tensor %s is i32; convolution takes f16 or f32",
                          op, name);
    if (dt >= 0 && (int)t->dtype != dt)
        return cl16__fail(ctx, CL16_ERR_SHAPE,
                          "%s: tensor %s is %s, expected %s like the other tensors", op, name,
                          cl16_dtype_name(t->dtype), cl16_dtype_name((cl16_dtype)dt));
    return CL16_OK;
}

static cl16_status check_4d(cl16_ctx *ctx, const char *op, const char *name, const cl16_tensor *t) {
    if (t->ndim != 4) {
        char ds[96];
        return cl16__fail(ctx, CL16_ERR_SHAPE, "%s: tensor %s is %s; expected 4-D NCHW", op, name,
                          cl16__op_dims_str(t->ndim, t->dims, ds, sizeof ds));
    }
    return CL16_OK;
}

/* Validates the three 4-D tensors of a call: in (input-shaped: x or dx), wt
 * (weight-shaped: w or dw), out (output-shaped: y or dy); fills *s. */
static cl16_status validate(cl16_ctx *ctx, const char *op, const cl16_conv2d_params *p,
                            const cl16_tensor *in, const char *in_name, const cl16_tensor *wt,
                            const char *wt_name, const cl16_tensor *out, const char *out_name,
                            conv_shape *s) {
    cl16_status st;
    if ((st = check_params(ctx, op, p)))
        return st;
    if ((st = check_tensor(ctx, op, in_name, in, -1)))
        return st;
    if ((st = check_tensor(ctx, op, wt_name, wt, (int)in->dtype)))
        return st;
    if ((st = check_tensor(ctx, op, out_name, out, (int)in->dtype)))
        return st;
    if ((st = check_4d(ctx, op, in_name, in)) || (st = check_4d(ctx, op, wt_name, wt)))
        return st;
    int64_t yd[4];
    if ((st = out_dims(ctx, op, p, in->dims, wt->dims, yd)))
        return st;
    if ((st = cl16__op_shape(ctx, op, out_name, out, 4, yd)))
        return st;
    s->n = in->dims[0], s->c = in->dims[1], s->h = in->dims[2], s->w = in->dims[3];
    s->co = wt->dims[0], s->kh = wt->dims[2], s->kw = wt->dims[3];
    s->ho = yd[2], s->wo = yd[3], s->g = p->groups, s->dt = in->dtype;
    return CL16_OK;
}

/* An output must not share memory with an input of the same call. */
static cl16_status check_alias(cl16_ctx *ctx, const char *op, const cl16_tensor *o,
                               const char *oname, const cl16_tensor *i, const char *iname) {
    if (o && i && o->mem == i->mem)
        return cl16__fail(ctx, CL16_ERR_INVALID_ARG, "%s: output %s is the same buffer as input %s",
                          op, oname, iname);
    return CL16_OK;
}

/* ---- helpers ---------------------------------------------------------------- */

/* A tensor view of a temporary buffer (as gemm.c's workspace views). */
static void temp_view(cl16_ctx *ctx, struct cl16_tensor *t, cl_mem mem, cl16_dtype dt,
                      int64_t numel) {
    memset(t, 0, sizeof *t);
    t->ctx = ctx, t->dtype = dt, t->ndim = 1, t->dims[0] = numel, t->numel = numel;
    t->bytes = (size_t)numel * cl16_dtype_size(dt), t->mem = mem;
}

static cl16_status conv_kernel(cl16_ctx *ctx, cl16_dtype dt, const char *name, cl_kernel *k) {
    cl16_variant v;
    char defines[256];
    cl16__default_variant(ctx, "conv.cl", dt, &v, defines, sizeof defines);
    return cl16__kernel(ctx, "conv.cl", &v, name, k);
}

/* Geometry arguments shared by im2col and col2im (after the buffers). */
typedef struct geom_args {
    cl_int c, h, w, kh, kw, ho, wo, sh, sw, ph, pw, dh, dw;
} geom_args;

static geom_args geom(const conv_shape *s, const cl16_conv2d_params *p) {
    geom_args a = {(cl_int)s->c,  (cl_int)s->h,  (cl_int)s->w, (cl_int)s->kh, (cl_int)s->kw,
                   (cl_int)s->ho, (cl_int)s->wo, p->stride_h,  p->stride_w,   p->pad_h,
                   p->pad_w,      p->dilation_h, p->dilation_w};
    return a;
}

#define ARG(x)                                                                                     \
    if (!err)                                                                                      \
    err = clSetKernelArg(kern, ai++, sizeof(x), &(x))
#define GEOM_ARGS(a)                                                                               \
    ARG(a.c);                                                                                      \
    ARG(a.h);                                                                                      \
    ARG(a.w);                                                                                      \
    ARG(a.kh);                                                                                     \
    ARG(a.kw);                                                                                     \
    ARG(a.ho);                                                                                     \
    ARG(a.wo);                                                                                     \
    ARG(a.sh);                                                                                     \
    ARG(a.sw);                                                                                     \
    ARG(a.ph);                                                                                     \
    ARG(a.pw);                                                                                     \
    ARG(a.dh);                                                                                     \
    ARG(a.dw)

/* Enqueues im2col for images [n0, n0 + cnt) of x into col. */
static cl16_status im2col(cl16_ctx *ctx, const conv_shape *s, const cl16_conv2d_params *p,
                          const cl16_tensor *x, int64_t n0, int64_t cnt, cl_mem col) {
    cl_kernel kern;
    cl16_status st = conv_kernel(ctx, s->dt, "cl16_conv_im2col", &kern);
    if (st)
        return st;
    geom_args a = geom(s, p);
    cl_long xo = n0 * s->c * s->h * s->w;
    cl_int err = 0;
    cl_uint ai = 0;
    ARG(x->mem);
    ARG(xo);
    ARG(col);
    GEOM_ARGS(a);
    size_t local[2] = {8, 1};
    size_t global[2] = {((size_t)(s->c * s->kh * s->kw) + 7) / 8 * 8, (size_t)cnt};
    if (!err)
        err = cl16__enqueue(ctx, kern, 2, global, local);
    if (err)
        return cl16__cl_fail(ctx, err, "conv2d: im2col");
    const double es = (double)cl16_dtype_size(s->dt);
    cl16__count(ctx, 0.0,
                es * (double)cnt *
                    (double)(s->c * s->h * s->w + s->c * s->kh * s->kw * s->ho * s->wo));
    return CL16_OK;
}

/* True when im2col is the identity (1x1 kernel, stride 1, no padding): the
 * GEMMs then read x itself. */
static int col_is_x(const conv_shape *s, const cl16_conv2d_params *p) {
    return s->kh == 1 && s->kw == 1 && p->stride_h == 1 && p->stride_w == 1 && p->pad_h == 0 &&
           p->pad_w == 0;
}

/* Images per chunk so that a chunk's columns fit the cap (at least one). */
static int64_t chunk_images(cl16_ctx *ctx, const conv_shape *s, size_t elem) {
    const double per = (double)(s->c * s->kh * s->kw * s->ho * s->wo) * (double)elem;
    int64_t nb = (int64_t)((double)col_limit(ctx) / per);
    if (nb < 1)
        nb = 1;
    return nb < s->n ? nb : s->n;
}

/* ---- forward ---------------------------------------------------------------- */

static cl16_status widen(cl16_ctx *ctx, cl16_dtype dt, cl_mem src, int64_t off, cl_mem dst,
                         int64_t count);
static cl16_status narrow(cl16_ctx *ctx, cl_mem src, cl16_tensor *dst, int64_t off, int64_t count);
static cl16_status fwd_im2col_float(cl16_ctx *ctx, const conv_shape *s,
                                    const cl16_conv2d_params *p, const cl16_tensor *x,
                                    const cl16_tensor *w, const cl16_tensor *bias, cl16_tensor *y);

/* Whether the forward of shape s may run as ALGO_IM2COL_FLOAT: 16-bit, on a
 * CPU's storage path. */
static int im2col_float_ok(const cl16_ctx *ctx, const conv_shape *s) {
    return s->dt != CL16_F32 && ctx->dev.type == CL16_DEVICE_CPU && ctx->half != CL16_HALF_NATIVE;
}

/* y = beta*y + conv(x, w) (+ bias); beta is 0 but for backward-data. */
static cl16_status fwd_im2col(cl16_ctx *ctx, const conv_shape *s, const cl16_conv2d_params *p,
                              const cl16_tensor *x, const cl16_tensor *w, const cl16_tensor *bias,
                              float beta, cl16_tensor *y) {
    const int64_t hw = s->ho * s->wo, rows = s->c * s->kh * s->kw, ckk = rows / s->g,
                  cog = s->co / s->g;
    const int direct = col_is_x(s, p);
    int64_t nb = direct ? s->n : chunk_images(ctx, s, cl16_dtype_size(s->dt));
    if (!direct) { /* cache-sized chunks (cl16__conv_chunk_bytes), at least one image */
        const double per = (double)(rows * hw) * (double)cl16_dtype_size(s->dt);
        const int64_t fit = (int64_t)(cl16__conv_chunk_bytes(ctx, s->dt) / per);
        nb = fit < 1 ? 1 : fit < nb ? fit : nb;
    }
    cl_mem colm = NULL;
    size_t col_bytes = 0;
    struct cl16_tensor colt;
    cl16_status st = CL16_OK;
    if (!direct) {
        col_bytes = (size_t)(nb * rows * hw) * cl16_dtype_size(s->dt);
        if ((st = cl16__dev_alloc(ctx, col_bytes, "conv2d column buffer", &colm)))
            return st;
        temp_view(ctx, &colt, colm, s->dt, nb * rows * hw);
    }
    for (int64_t n0 = 0; n0 < s->n && !st; n0 += nb) {
        const int64_t cnt = s->n - n0 < nb ? s->n - n0 : nb;
        if (!direct && (st = im2col(ctx, s, p, x, n0, cnt, colm)))
            break;
        for (int64_t g = 0; g < s->g && !st; g++) {
            cl16_gemm_desc d;
            cl16_gemm_desc_init(&d);
            d.m = cog, d.n = hw, d.k = ckk, d.batch = cnt;
            d.a = w, d.a_offset = g * cog * ckk, d.lda = ckk, d.a_stride = 0;
            d.b = direct ? x : &colt, d.ldb = hw, d.b_stride = rows * hw;
            d.b_offset = direct ? n0 * rows * hw + g * ckk * hw : g * ckk * hw;
            d.c = y, d.c_offset = (n0 * s->co + g * cog) * hw, d.ldc = hw, d.c_stride = s->co * hw;
            d.beta = beta;
            if (bias)
                d.bias = bias, d.bias_mode = CL16_BIAS_ROW, d.bias_offset = g * cog;
            st = cl16_gemm_ex(ctx, &d);
        }
    }
    cl16__dev_free(ctx, colm, col_bytes);
    return st;
}

/* Float columns of the images n0 .. n0+cnt-1 of x into colm. An f32 x goes
 * through im2col (nothing to do when it is its own columns: a 1x1, stride-1,
 * unpadded kernel); a 16-bit x is widened, from whichever is smaller: x
 * (widened into stm, then im2col on the float copy) or the columns (im2col
 * in the dtype into stm, then widened). stm holds float_cols_staging bytes. */
static int float_cols_widen_x(const conv_shape *s, const cl16_conv2d_params *p) {
    return !col_is_x(s, p) && s->c * s->h * s->w < s->c * s->kh * s->kw * s->ho * s->wo;
}

static size_t float_cols_staging(const conv_shape *s, const cl16_conv2d_params *p, int64_t nb) {
    if (s->dt == CL16_F32 || col_is_x(s, p))
        return 0;
    return float_cols_widen_x(s, p) ? (size_t)(nb * s->c * s->h * s->w) * sizeof(float)
                                    : (size_t)(nb * s->c * s->kh * s->kw * s->ho * s->wo) *
                                          cl16_dtype_size(s->dt);
}

static cl16_status float_cols(cl16_ctx *ctx, const conv_shape *s, const cl16_conv2d_params *p,
                              const cl16_tensor *x, int64_t n0, int64_t cnt, cl_mem stm,
                              cl_mem colm) {
    const int64_t xi = s->c * s->h * s->w, ncol = cnt * s->c * s->kh * s->kw * s->ho * s->wo;
    const int direct = col_is_x(s, p);
    if (s->dt == CL16_F32)
        return direct ? CL16_OK : im2col(ctx, s, p, x, n0, cnt, colm);
    if (direct)
        return widen(ctx, s->dt, x->mem, n0 * xi, colm, ncol);
    cl16_status st;
    if (float_cols_widen_x(s, p)) {
        conv_shape s32 = *s; /* the geometry of x's float copy */
        s32.dt = CL16_F32;
        struct cl16_tensor xf;
        temp_view(ctx, &xf, stm, CL16_F32, cnt * xi);
        if ((st = widen(ctx, s->dt, x->mem, n0 * xi, stm, cnt * xi)))
            return st;
        return im2col(ctx, &s32, p, &xf, 0, cnt, colm);
    }
    if ((st = im2col(ctx, s, p, x, n0, cnt, stm)))
        return st;
    return widen(ctx, s->dt, stm, 0, colm, ncol);
}

/* The im2col form of a 16-bit forward on float copies: the GEMM of the
 * storage path converts half operands in its inner loop (PoCL, AVX-512: one
 * conversion per 16-wide B load and per 4 A elements, on the ports the
 * multiply-adds need), the f32 GEMM does not. Weights and bias are widened
 * once; per chunk of images the columns are built as float, from x widened
 * first or from 16-bit columns widened after (whichever is fewer elements, as
 * in backward-weights), the f32 GEMM writes a float y chunk, and y gets it
 * rounded once: the same bits as the GEMM in the dtype (float sums, one
 * rounding). */
static cl16_status fwd_im2col_float(cl16_ctx *ctx, const conv_shape *s,
                                    const cl16_conv2d_params *p, const cl16_tensor *x,
                                    const cl16_tensor *w, const cl16_tensor *bias, cl16_tensor *y) {
    const int64_t hw = s->ho * s->wo, rows = s->c * s->kh * s->kw, ckk = rows / s->g,
                  cog = s->co / s->g;
    /* Chunks: float columns and the float y chunk within the dtype's chunk
     * bytes (half the f32 figure, so that the float copies do not raise a
     * 16-bit step's peak memory: LeNet-5 fp16 peaked at 0.58x fp32 with
     * f32-sized chunks). */
    const double per = (double)(rows * hw + s->co * hw) * sizeof(float);
    int64_t nb = (int64_t)(cl16__conv_chunk_bytes(ctx, s->dt) / per);
    const int64_t cap = chunk_images(ctx, s, sizeof(float)); /* the column-buffer cap */
    nb = nb < 1 ? 1 : nb > cap ? cap : nb;
    const size_t wfb = (size_t)w->numel * sizeof(float), bfb = bias ? (size_t)s->co * sizeof(float) : 0;
    const size_t colb = (size_t)(nb * rows * hw) * sizeof(float);
    const size_t stb = float_cols_staging(s, p, nb);
    const size_t yfb = (size_t)(nb * s->co * hw) * sizeof(float);
    cl_mem wfm = NULL, bfm = NULL, colm = NULL, stm = NULL, yfm = NULL;
    cl16_status st;
    if ((st = cl16__dev_alloc(ctx, wfb, "conv2d float weights", &wfm)) ||
        (bfb && (st = cl16__dev_alloc(ctx, bfb, "conv2d float bias", &bfm))) ||
        (st = cl16__dev_alloc(ctx, colb, "conv2d float column buffer", &colm)) ||
        (stb && (st = cl16__dev_alloc(ctx, stb, "conv2d column staging buffer", &stm))) ||
        (st = cl16__dev_alloc(ctx, yfb, "conv2d float output chunk", &yfm)))
        goto cleanup;
    struct cl16_tensor wft, bft, colt, yft;
    temp_view(ctx, &wft, wfm, CL16_F32, w->numel);
    temp_view(ctx, &colt, colm, CL16_F32, nb * rows * hw);
    temp_view(ctx, &yft, yfm, CL16_F32, nb * s->co * hw);
    if (bias)
        temp_view(ctx, &bft, bfm, CL16_F32, s->co);
    if ((st = widen(ctx, s->dt, w->mem, 0, wfm, w->numel)) ||
        (bias && (st = widen(ctx, s->dt, bias->mem, 0, bfm, s->co))))
        goto cleanup;
    for (int64_t n0 = 0; n0 < s->n && !st; n0 += nb) {
        const int64_t cnt = s->n - n0 < nb ? s->n - n0 : nb;
        st = float_cols(ctx, s, p, x, n0, cnt, stm, colm);
        for (int64_t g = 0; g < s->g && !st; g++) {
            cl16_gemm_desc d;
            cl16_gemm_desc_init(&d);
            d.m = cog, d.n = hw, d.k = ckk, d.batch = cnt;
            d.a = &wft, d.a_offset = g * cog * ckk, d.lda = ckk, d.a_stride = 0;
            d.b = &colt, d.ldb = hw, d.b_stride = rows * hw, d.b_offset = g * ckk * hw;
            d.c = &yft, d.c_offset = g * cog * hw, d.ldc = hw, d.c_stride = s->co * hw;
            if (bias)
                d.bias = &bft, d.bias_mode = CL16_BIAS_ROW, d.bias_offset = g * cog;
            st = cl16_gemm_ex(ctx, &d);
        }
        if (!st)
            st = narrow(ctx, yfm, y, n0 * s->co * hw, cnt * s->co * hw);
    }
cleanup:
    /* Released by OpenCL once the kernels that use them are done. */
    cl16__dev_free(ctx, yfm, yfb);
    cl16__dev_free(ctx, stm, stb);
    cl16__dev_free(ctx, colm, colb);
    cl16__dev_free(ctx, bfm, bfb);
    cl16__dev_free(ctx, wfm, wfb);
    return st;
}

/* The direct kernel in f16 on a CPU's storage path runs in its f32 form on
 * float copies of x and the bias, into a float y narrowed after it (one
 * rounding, the same bits as the f16 form): PoCL compiles the f32 form into
 * faster code (LeNet conv1 at batch 128: f32 2.0 ms CPU, f16 2.8-3.0). The
 * images go through in chunks of about DIRECT_CHUNK_BYTES of float x and y,
 * so the two float workspaces are reused while still in cache and stay small
 * next to the tensors (a whole-batch copy cost 4 bytes per element of x and y,
 * freshly allocated and first touched on every call). 512 KiB measured a few
 * per cent better than 256 KiB and 1 MiB on the LeNet-5 / ResNet-20 shapes,
 * 4 MiB 5-20 % worse. */
static int direct_via_float(const cl16_ctx *ctx, const conv_shape *s) {
    return s->dt == CL16_F16 && ctx->dev.type == CL16_DEVICE_CPU && ctx->half != CL16_HALF_NATIVE;
}

/* Images per chunk of a direct kernel run on float copies: per_floats floats
 * of copies per image within the context's chunk bytes, at least 1, at most n. */
static int64_t via_chunk_images(cl16_ctx *ctx, int64_t n, int64_t per_floats) {
    const struct cl16_conv_table *t = table(ctx);
    const size_t chunk = t ? t->direct_chunk : DIRECT_CHUNK_BYTES;
    const int64_t nb = (int64_t)(chunk / ((size_t)per_floats * sizeof(float)));
    return nb < 1 ? 1 : nb > n ? n : nb;
}

/* Weights src [cout][cig][kk] (dtype dt; groups groups) packed as float for
 * the direct kernels, DIRECT_TC = 8 output channels side by side
 * (cl16_conv_direct_pack), into a new buffer *wp of *wpb bytes. */
static cl16_status pack_direct(cl16_ctx *ctx, cl16_dtype dt, cl_mem src, int64_t cout,
                               int64_t cig, int64_t kk, int64_t groups, cl_mem *wp, size_t *wpb) {
    cl_kernel kern;
    cl16_status st = conv_kernel(ctx, dt, "cl16_conv_direct_pack", &kern);
    if (st)
        return st;
    const int64_t npack = groups * ((cout / groups + 7) / 8) * cig * kk;
    *wpb = (size_t)npack * 8 * sizeof(float);
    if ((st = cl16__dev_alloc(ctx, *wpb, "conv2d packed weights", wp)))
        return st;
    cl_int pco = (cl_int)cout, pcig = (cl_int)cig, pkk = (cl_int)kk, pg = (cl_int)groups;
    cl_int err = 0;
    cl_uint ai = 0;
    ARG(src);
    ARG(*wp);
    ARG(pco);
    ARG(pcig);
    ARG(pkk);
    ARG(pg);
    size_t local = 8, global = ((size_t)npack + 7) / 8 * 8;
    if (!err)
        err = cl16__enqueue(ctx, kern, 1, &global, &local);
    return err ? cl16__cl_fail(ctx, err, "conv2d: packing the weights for a direct kernel")
               : CL16_OK;
}

/* The geometry arguments both direct kernels take from argument ai on: C, H,
 * W, Cout, KH, KW, Ho, Wo, sh, sw, ph, pw, dh, dw, groups. */
static cl_int direct_geom(cl_kernel k, cl_uint ai, const conv_shape *s,
                          const cl16_conv2d_params *p) {
    const cl_int v[15] = {(cl_int)s->c,   (cl_int)s->h,  (cl_int)s->w,  (cl_int)s->co,
                          (cl_int)s->kh,  (cl_int)s->kw, (cl_int)s->ho, (cl_int)s->wo,
                          p->stride_h,    p->stride_w,   p->pad_h,      p->pad_w,
                          p->dilation_h,  p->dilation_w, p->groups};
    cl_int err = 0;
    for (cl_uint i = 0; i < 15 && !err; i++)
        err = clSetKernelArg(k, ai + i, sizeof(cl_int), &v[i]);
    return err;
}

static cl16_status fwd_direct(cl16_ctx *ctx, const conv_shape *s, const cl16_conv2d_params *p,
                              const cl16_tensor *x, const cl16_tensor *w, const cl16_tensor *bias,
                              cl16_tensor *y) {
    cl_kernel kern;
    const int via = direct_via_float(ctx, s);
    cl16_status st = conv_kernel(ctx, via ? CL16_F32 : s->dt, "cl16_conv_direct", &kern);
    if (st)
        return st;
    const int64_t xper = s->c * s->h * s->w, yper = s->co * s->ho * s->wo;
    const int64_t nb = via ? via_chunk_images(ctx, s->n, xper + yper) : s->n;
    cl_mem wp = NULL, xf = NULL, bf = NULL, yf = NULL;
    size_t wpb = 0;
    const size_t xfb = (size_t)(nb * xper) * sizeof(float),
                 yfb = (size_t)(nb * yper) * sizeof(float),
                 bfb = bias ? (size_t)bias->numel * sizeof(float) : 0;
    if ((st = pack_direct(ctx, s->dt, w->mem, s->co, s->c / s->g, s->kh * s->kw, s->g, &wp, &wpb)))
        goto cleanup;
    cl_mem xm = x->mem, bm = bias ? bias->mem : w->mem, ym = y->mem;
    if (via) {
        if ((st = cl16__dev_alloc(ctx, xfb, "conv2d float x (chunk)", &xf)) ||
            (st = cl16__dev_alloc(ctx, yfb, "conv2d float y (chunk)", &yf)) ||
            (st = bias ? cl16__dev_alloc(ctx, bfb, "conv2d float bias", &bf) : CL16_OK) ||
            (st = bias ? widen(ctx, s->dt, bias->mem, 0, bf, bias->numel) : CL16_OK))
            goto cleanup;
        xm = xf, ym = yf;
        if (bias)
            bm = bf;
    }
    cl_int hb = bias != NULL;
    cl_int err = 0;
    cl_uint ai = 0;
    ARG(xm);
    ARG(wp);
    ARG(bm);
    ARG(hb);
    ARG(ym);
    if (!err)
        err = direct_geom(kern, ai, s, p);
    if (err) {
        st = cl16__cl_fail(ctx, err, "conv2d: direct kernel arguments");
        goto cleanup;
    }
    /* DIRECT_TC output channels per work-item (kernels/conv.cl). */
    const size_t tc = 8, cog = (size_t)(s->co / s->g);
    const size_t tiles = ((size_t)s->wo + 7) / 8; /* DIRECT_TW = 8 columns per work-item */
    size_t local[3] = {tiles < 4 ? tiles : 4, 1, 1};
    for (int64_t n0 = 0; n0 < s->n; n0 += nb) {
        const int64_t cnt = s->n - n0 < nb ? s->n - n0 : nb;
        if (via && (st = widen(ctx, s->dt, x->mem, n0 * xper, xf, cnt * xper)))
            goto cleanup;
        size_t global[3] = {(tiles + local[0] - 1) / local[0] * local[0], (size_t)s->ho,
                            (size_t)cnt * (size_t)s->g * ((cog + tc - 1) / tc)};
        err = cl16__enqueue(ctx, kern, 3, global, local);
        if (err) {
            st = cl16__cl_fail(ctx, err, "conv2d: direct kernel");
            goto cleanup;
        }
        if (via && (st = narrow(ctx, yf, y, n0 * yper, cnt * yper)))
            goto cleanup;
    }
    const double es = (double)cl16_dtype_size(s->dt);
    const double outs = (double)(s->n * s->co * s->ho * s->wo);
    cl16__count(ctx, outs * (2.0 * (double)(s->c / s->g * s->kh * s->kw) + (bias ? 1.0 : 0.0)),
                es * ((double)(s->n * s->c * s->h * s->w) +
                      (double)(s->co * s->c / s->g * s->kh * s->kw) + outs +
                      (bias ? (double)s->co : 0.0)));
cleanup:
    /* Released by OpenCL once the kernels that use them are done. */
    cl16__dev_free(ctx, bf, bfb);
    cl16__dev_free(ctx, yf, yfb);
    cl16__dev_free(ctx, xf, xfb);
    cl16__dev_free(ctx, wp, wpb);
    return st;
}

/* ---- implicit GEMM -----------------------------------------------------------
 * With unit strides, row r = (c, i, j) of an image's column matrix is its
 * zero-padded copy read from element c*plane + i*dh*Wp + j*dw on, if each
 * output row is taken Wp = W + pw pixels wide: the padded rows hold pw zeros
 * then the W values (cl16_conv_pad), so one run of zeros pads both the row
 * before and the row after, and the last Wp - Wo columns of each output row
 * are junk, computed and not stored (3x3, pad 1: 1 column in W + 1). The GEMM
 * (gemm.cl, IMPLICIT 2) reads those rows through a table of their starts and
 * maps its columns onto y's rows: one padded copy of x (C*plane elements per
 * image) instead of the C*KH*KW*Ho*Wo of the columns, which im2col writes and
 * the GEMM reads back. Needs pw <= dw*(KW-1), so that Wo <= Wp.
 * With strides sh x sw the padded copy is split into sh*sw phases (rows
 * a, a + sh, ...; columns likewise): tap (i, j) reads phase
 * ((i*dh) % sh, (j*dw) % sw) from (i*dh) / sh rows and (j*dw) / sw columns
 * on with unit steps, so the same GEMM runs on phases Wq = Wo + (KW-1)*dw/sw
 * wide and Ho + (KH-1)*dh/sh tall (their own padding, not shared). */
typedef struct padded {
    int64_t wp, plane; /* elements per padded row and per channel (all phases) */
    int64_t hq;        /* rows per phase */
    int64_t ph, pw;    /* the image's padding: rows above, columns left */
    int sh, sw;        /* phases: sh x sw (1 x 1 at stride 1) */
    int rmask, cmask;  /* bit a (b): some tap reads row (column) phase a (b) */
} padded;
static padded padded_of(int64_t h, int64_t w, int64_t ph, int64_t pw) {
    const padded g = {w + pw, (h + 2 * ph) * (w + pw) + pw, h + 2 * ph, ph, pw, 1, 1, 1, 1};
    return g;
}
/* The padded copy an implicit convolution of shape s reads. */
static padded conv_padded(const conv_shape *s, const cl16_conv2d_params *p) {
    const int sh = p->stride_h, sw = p->stride_w;
    if (sh == 1 && sw == 1)
        return padded_of(s->h, s->w, p->pad_h, p->pad_w);
    padded g = {s->wo + (s->kw - 1) * p->dilation_w / sw, 0,
                s->ho + (s->kh - 1) * p->dilation_h / sh, p->pad_h, p->pad_w, sh, sw, 0, 0};
    g.plane = (int64_t)sh * sw * g.hq * g.wp;
    for (int64_t i = 0; i < s->kh; i++)
        g.rmask |= 1 << (i * p->dilation_h % sh);
    for (int64_t j = 0; j < s->kw; j++)
        g.cmask |= 1 << (j * p->dilation_w % sw);
    return g;
}

static int implicit_ok(const conv_shape *s, const cl16_conv2d_params *p) {
    if (col_is_x(s, p) || p->stride_h > 16 || p->stride_w > 16) /* phase masks: 16 bits */
        return 0;
    const padded g = conv_padded(s, p);
    return (g.sh > 1 || g.sw > 1 || p->pad_w <= p->dilation_w * (s->kw - 1)) &&
           (double)g.plane * (double)s->c < 2147483647.0;
}

/* Images per chunk of an implicit GEMM, per_bytes of copies each: within
 * cl16__conv_chunk_bytes and the column-buffer cap, at least `least` (at
 * most all). */
static int64_t implicit_images(cl16_ctx *ctx, const conv_shape *s, double per_bytes,
                               int64_t least) {
    double cap = cl16__conv_chunk_bytes(ctx, s->dt);
    if ((double)col_limit(ctx) < cap)
        cap = (double)col_limit(ctx); /* the column-buffer cap bounds the copies too */
    const int64_t nb = (int64_t)(cap / per_bytes);
    return nb < least ? (least < s->n ? least : s->n) : nb > s->n ? s->n : nb;
}

/* Enqueues the row table of the column matrix of one group (ckk rows) for
 * padded copies of geometry g, into tab. */
static cl16_status row_table(cl16_ctx *ctx, const conv_shape *s, const cl16_conv2d_params *p,
                             const padded *g, cl_mem tab) {
    cl_kernel kern;
    cl16_status st = conv_kernel(ctx, s->dt, "cl16_conv_rowtab", &kern);
    if (st)
        return st;
    cl_int rows = (cl_int)(s->c / s->g * s->kh * s->kw), kh = (cl_int)s->kh, kw = (cl_int)s->kw,
           ipl = (cl_int)g->plane, iwp = (cl_int)g->wp, dh = p->dilation_h, dw = p->dilation_w,
           sh = g->sh, sw = g->sw, php = (cl_int)(g->hq * g->wp);
    cl_int err = 0;
    cl_uint ai = 0;
    ARG(tab);
    ARG(rows);
    ARG(kh);
    ARG(kw);
    ARG(ipl);
    ARG(iwp);
    ARG(dh);
    ARG(dw);
    ARG(sh);
    ARG(sw);
    ARG(php);
    size_t local = 8, global = ((size_t)rows + 7) / 8 * 8;
    if (!err)
        err = cl16__enqueue(ctx, kern, 1, &global, &local);
    return err ? cl16__cl_fail(ctx, err, "conv2d: implicit GEMM row table") : CL16_OK;
}

/* Enqueues the padded copy of geometry g (cl16_conv_pad) of images
 * [n0, n0 + cnt) of the c x h x w planes in src (dtype dt) into dst: float
 * when fl, else in the dtype. */
static cl16_status pad_planes(cl16_ctx *ctx, cl16_dtype dt, int fl, cl_mem src, int64_t n0,
                              int64_t cnt, int64_t c, int64_t h, int64_t w, const padded *g,
                              cl_mem dst) {
    cl_kernel kern;
    cl16_status st = conv_kernel(ctx, dt, fl ? "cl16_conv_pad_float" : "cl16_conv_pad", &kern);
    if (st)
        return st;
    cl_long xo = n0 * c * h * w;
    cl_int ic = (cl_int)c, ih = (cl_int)h, iw = (cl_int)w, iph = (cl_int)g->ph, ipw = (cl_int)g->pw,
           sh = g->sh, sw = g->sw, hq = (cl_int)g->hq, wq = (cl_int)g->wp,
           ipl = (cl_int)g->plane, rm = g->rmask, cm = g->cmask;
    cl_int err = 0;
    cl_uint ai = 0;
    ARG(src);
    ARG(xo);
    ARG(dst);
    ARG(ic);
    ARG(ih);
    ARG(iw);
    ARG(iph);
    ARG(ipw);
    ARG(sh);
    ARG(sw);
    ARG(hq);
    ARG(wq);
    ARG(ipl);
    ARG(rm);
    ARG(cm);
    size_t local[2] = {8, 1};
    size_t global[2] = {((size_t)c + 7) / 8 * 8, (size_t)cnt};
    if (!err)
        err = cl16__enqueue(ctx, kern, 2, global, local);
    if (err)
        return cl16__cl_fail(ctx, err, "conv2d: padding the input");
    cl16__count(ctx, 0.0,
                (double)cnt * (double)c *
                    ((double)(h * w) * (double)cl16_dtype_size(dt) +
                     (double)g->plane * (fl ? sizeof(float) : (double)cl16_dtype_size(dt))));
    return CL16_OK;
}

/* y = beta*y + conv(x, w) (+ bias) on the implicit GEMM, a chunk of images
 * at a time (padded copies within cl16__conv_chunk_bytes and the column-buffer
 * cap, at least one image). */
/* The operands of a 16-bit implicit GEMM (form 2) on a CPU's storage path:
 * the weights (A) widened to float, since A's single elements would each take
 * an integer conversion in the loop (*fl); the padded copy (B) left f16, its
 * vectors widened as the GEMM loads them, but a float copy for bf16, which
 * has no such load (*xf). Half the bytes of a float copy written and
 * streamed, twice the images per chunk, bit for bit the same results
 * (docs/benchmarks.md, "The f16 implicit forward reads f16 B"). */
static void implicit_float_operands(const cl16_ctx *ctx, const conv_shape *s, int *fl, int *xf) {
    *fl = im2col_float_ok(ctx, s);
    *xf = *fl && s->dt != CL16_F16;
}

static cl16_status fwd_implicit(cl16_ctx *ctx, const conv_shape *s, const cl16_conv2d_params *p,
                                const cl16_tensor *x, const cl16_tensor *w,
                                const cl16_tensor *bias, float beta, cl16_tensor *y) {
    int fl, xf; /* float weights; float padded copy */
    implicit_float_operands(ctx, s, &fl, &xf);
    const size_t es = xf ? sizeof(float) : cl16_dtype_size(s->dt);
    const padded pg = conv_padded(s, p);
    const int64_t wp = pg.wp, plane = pg.plane;
    const int64_t hw = s->ho * s->wo, cg = s->c / s->g, cog = s->co / s->g, ckk = cg * s->kh * s->kw;
    const int64_t ncols = (s->ho - 1) * wp + s->wo; /* columns of the GEMM: the last row's junk dropped */
    const int64_t nb = implicit_images(ctx, s, (double)(s->c * plane) * (double)es, 1);
    /* The GEMM computes whole tiles: its last tile may read up to 63
     * elements (TN - 1) past the last image's plane. */
    const size_t xpb = (size_t)(nb * s->c * plane + 64) * es, tabb = (size_t)ckk * sizeof(cl_int),
                 wfb = fl ? (size_t)w->numel * sizeof(float) : 0;
    cl_mem xpm = NULL, tabm = NULL, wfm = NULL;
    struct cl16_tensor xpt, wft;
    const cl16_tensor *wa = w;
    cl16_status st;
    if ((st = cl16__dev_alloc(ctx, xpb, "conv2d padded input (implicit GEMM)", &xpm)) ||
        (st = cl16__dev_alloc(ctx, tabb, "conv2d row table (implicit GEMM)", &tabm)) ||
        (fl && (st = cl16__dev_alloc(ctx, wfb, "conv2d float weights (implicit GEMM)", &wfm))) ||
        (st = row_table(ctx, s, p, &pg, tabm)) ||
        (fl && (st = widen(ctx, s->dt, w->mem, 0, wfm, w->numel))))
        goto done;
    temp_view(ctx, &xpt, xpm, xf ? CL16_F32 : s->dt, nb * s->c * plane + 64);
    if (fl) {
        temp_view(ctx, &wft, wfm, CL16_F32, w->numel);
        wa = &wft;
    }
    for (int64_t n0 = 0; n0 < s->n && !st; n0 += nb) {
        const int64_t cnt = s->n - n0 < nb ? s->n - n0 : nb;
        if ((st = pad_planes(ctx, s->dt, xf, x->mem, n0, cnt, s->c, s->h, s->w, &pg, xpm)))
            break;
        for (int64_t g = 0; g < s->g && !st; g++) {
            cl16_gemm_desc d;
            cl16_gemm_desc_init(&d);
            d.m = cog, d.n = ncols, d.k = ckk, d.batch = cnt;
            d.a = wa, d.a_offset = g * cog * ckk, d.lda = ckk, d.a_stride = 0;
            d.b = &xpt, d.b_offset = g * cg * plane, d.ldb = wp, d.b_stride = s->c * plane;
            d.c = y, d.c_offset = (n0 * s->co + g * cog) * hw, d.ldc = hw, d.c_stride = s->co * hw;
            d.beta = beta;
            if (bias)
                d.bias = bias, d.bias_mode = CL16_BIAS_ROW, d.bias_offset = g * cog;
            const cl16_gemm_implicit im = {.which = 2, .rtab = tabm, .cwp = (int)wp,
                                           .cwo = (int)s->wo, .crp = (int)s->wo, .ccs = 1,
                                           .crw = (int)s->wo, .ab_float = fl,
                                           .b_half = fl && !xf,
                                           .flops = 2.0 * (double)(cog * hw * ckk) * (double)cnt};
            st = cl16__gemm_implicit(ctx, &d, &im);
        }
    }
    if (!st)
        cl16__count(ctx, 0.0,
                    (double)cl16_dtype_size(s->dt) *
                        ((double)w->numel + (double)(s->n * s->co * hw) * (beta != 0.0f ? 2.0 : 1.0)));
done:
    cl16__dev_free(ctx, wfm, wfb);
    cl16__dev_free(ctx, tabm, tabb);
    cl16__dev_free(ctx, xpm, xpb);
    return st;
}

static cl16_status fwd_run(cl16_ctx *ctx, int algo, const conv_shape *s,
                           const cl16_conv2d_params *p, const cl16_tensor *x, const cl16_tensor *w,
                           const cl16_tensor *bias, cl16_tensor *y) {
    if (algo == ALGO_DIRECT)
        return fwd_direct(ctx, s, p, x, w, bias, y);
    if (algo == ALGO_IM2COL_FLOAT && im2col_float_ok(ctx, s))
        return fwd_im2col_float(ctx, s, p, x, w, bias, y);
    if (algo == ALGO_IMPLICIT && implicit_ok(s, p))
        return fwd_implicit(ctx, s, p, x, w, bias, 0.0f, y);
    return fwd_im2col(ctx, s, p, x, w, bias, 0.0f, y);
}

/* The last number of a choice's key: which call it is for. */
enum { KEY_FWD = 0, KEY_FWD_BIAS = 1, KEY_BWD_DATA = 2, KEY_BWD_W = 3 };

static void shape_key(const conv_shape *s, const cl16_conv2d_params *p, int kind,
                      int64_t key[KEY_LEN]) {
    const int64_t k[KEY_LEN] = {s->n,          s->c,      s->h,           s->w,
                                s->co,         s->kh,     s->kw,          p->stride_h,
                                p->stride_w,   p->pad_h,  p->pad_w,       p->dilation_h,
                                p->dilation_w, p->groups, (int64_t)s->dt, kind};
    memcpy(key, k, sizeof k);
}

/* Saves and restores the work counters around the timing runs, so that a
 * call counts the work of one convolution whichever way it was chosen. */
typedef struct counters {
    uint64_t gemm_calls;
    double gemm_flops, op_flops, op_bytes;
} counters;
static counters counters_get(const cl16_ctx *ctx) {
    counters c = {ctx->stats.gemm_calls, ctx->stats.gemm_flops, ctx->stats.op_flops,
                  ctx->stats.op_bytes};
    return c;
}
static void counters_set(cl16_ctx *ctx, counters c) {
    ctx->stats.gemm_calls = c.gemm_calls, ctx->stats.gemm_flops = c.gemm_flops;
    ctx->stats.op_flops = c.op_flops, ctx->stats.op_bytes = c.op_bytes;
}

/* One algorithm run on one call's arguments (the forward or the strided
 * backward-data form), for the measured choice. */
typedef cl16_status (*algo_fn)(cl16_ctx *ctx, int algo, const void *args);

/* Runs algo once and waits; *sec is its wall time, *delta the work it counted. */
static cl16_status timed(cl16_ctx *ctx, algo_fn run, const void *args, int algo, double *sec,
                         counters *delta) {
    counters before = counters_get(ctx);
    double t0 = cl16__now();
    cl16_status st = run(ctx, algo, args);
    cl_int err = st ? 0 : clFinish(ctx->queue);
    if (err)
        st = cl16__cl_fail(ctx, err, "clFinish (timing a convolution)");
    *sec = cl16__now() - t0;
    counters after = counters_get(ctx);
    delta->gemm_calls = after.gemm_calls - before.gemm_calls;
    delta->gemm_flops = after.gemm_flops - before.gemm_flops;
    delta->op_flops = after.op_flops - before.op_flops;
    delta->op_bytes = after.op_bytes - before.op_bytes;
    return st;
}

/* ---- choices on disk ---------------------------------------------------------
 * <cache dir>/conv-algo-<device key>.txt, like the GEMM tuning file: a magic
 * line, then one line per shape, the 16 numbers of its key (the last: 0
 * forward, 1 forward with bias, 2 backward-data at stride > 1, 3
 * backward-weights at stride 1) and the algorithm: 1 (im2col: im2col + GEMM
 * forward, GEMM + col2im backward-data, float columns backward-weights), 2
 * (direct), 3 (im2col-float), 4 (implicit) or 5 (implicit-dot). Read once per context;
 * rewritten (temporary file + rename) when a new shape has been measured. A
 * damaged file is ignored with a warning; a file of another version (14:
 * the implicit GEMM's CPU tile 4 x 24 on AVX2; 13: f16 GEMMs on a CPU's
 * storage path on float A and f16 B; 12:
 * the CPU GEMM tiles sized to the registers, the implicit form's and the
 * built-in table's; 11:
 * the 16-bit implicit forward reading f16 B on a CPU's storage path; 10:
 * the implicit GEMM's row-crossing stores as permuted runs, both faster
 * against their rivals; 9: the
 * implicit GEMM on phases among strided forward and backward-weights
 * candidates; 8: the f16 direct backward-data reading float dy only, faster
 * against its rivals;
 * 7: the phase GEMMs among every strided backward-data's candidates, not only 1x1
 * ones; 6: the dot form among backward-weights' candidates; 5: the mapped GEMM among
 * strided backward-data's candidates; 4: the implicit GEMM and
 * backward-weights entries) is measured again, silently. */
#define CONV_MAGIC "cl16-conv-algo 14"

static void table_load(cl16_ctx *ctx, struct cl16_conv_table *t) {
    t->loaded = 1;
    char path[CL16_PATH_MAX + 64];
    cl16__device_file(ctx, "conv-algo", path, sizeof path);
    FILE *f = path[0] ? fopen(path, "r") : NULL;
    if (!f)
        return;
    char line[512] = "";
    int ok = fgets(line, sizeof line, f) && !strncmp(line, CONV_MAGIC "\n", sizeof CONV_MAGIC);
    if (!ok && !strncmp(line, "cl16-conv-algo ", 15)) { /* another version's choices */
        fclose(f);
        return;
    }
    int n = 0;
    while (ok && n < CONV_TABLE_SIZE && fgets(line, sizeof line, f)) {
        const char *c = line;
        char *end;
        for (int i = 0; ok && i < KEY_LEN; i++) {
            t->e[n].key[i] = strtoll(c, &end, 10);
            ok = end != c;
            c = end;
        }
        long a = ok ? strtol(c, &end, 10) : 0;
        ok = ok && end != c && a >= ALGO_IM2COL && a <= ALGO_IMPLICIT_DOT;
        if (ok)
            t->e[n++].algo = (int)a;
    }
    fclose(f);
    if (!ok) {
        cl16__warn(ctx,
                   "ignoring the convolution choices in %s: malformed (they are measured again)",
                   path);
        n = 0;
    }
    t->count = n;
}

static void table_save(cl16_ctx *ctx, struct cl16_conv_table *t) {
    char path[CL16_PATH_MAX + 64], tmp[CL16_PATH_MAX + 96];
    cl16__device_file(ctx, "conv-algo", path, sizeof path);
    if (!path[0] || cl16__mkdir_p(ctx->cache_dir))
        return;
    FILE *f = cl16__text_open(path, tmp, sizeof tmp);
    int bad = !f;
    if (f) {
        fprintf(f, "%s\n", CONV_MAGIC);
        for (int i = 0; i < t->count; i++) {
            for (int k = 0; k < KEY_LEN; k++)
                fprintf(f, "%" PRId64 " ", t->e[i].key[k]);
            fprintf(f, "%d\n", t->e[i].algo);
        }
        bad = cl16__text_commit(f, tmp, path) != 0;
    }
    if (bad) {
        if (!t->save_warned++)
            cl16__warn(ctx, "cannot write the convolution choices to %s", path);
    }
}

void cl16__conv_choices_forget(cl16_ctx *ctx) {
    char path[CL16_PATH_MAX + 64];
    cl16__device_file(ctx, "conv-algo", path, sizeof path);
    if (path[0] && remove(path) && errno != ENOENT)
        cl16__warn(ctx, "cannot remove the convolution choices %s: %s", path, strerror(errno));
    if (ctx->conv)
        ctx->conv->loaded = 1, ctx->conv->count = 0;
}

/* The remembered algorithm for key, or 0. */
static int table_find(cl16_ctx *ctx, const int64_t key[KEY_LEN]) {
    struct cl16_conv_table *t = table(ctx);
    if (!t)
        return 0;
    if (!t->loaded)
        table_load(ctx, t);
    for (int i = 0; i < t->count; i++)
        if (!memcmp(t->e[i].key, key, KEY_LEN * sizeof key[0]))
            return t->e[i].algo;
    return 0;
}

/* What a forward or backward-data call of key runs without measuring: the
 * forced algorithm, else the remembered one, else 0. */
static int known_algo(cl16_ctx *ctx, const int64_t key[KEY_LEN]) {
    return ctx->conv_algo != ALGO_AUTO ? forced(ctx, NULL, 0) : table_find(ctx, key);
}

/* The algorithm for a shape among the ncand candidates cand[]: forced,
 * remembered, or measured now (a warm-up and two to CHOOSE_ROUNDS timed runs
 * of each through run; the output holds a correct result after every run, so
 * the caller's arguments must overwrite it, not accumulate). *done = 1 when
 * measuring already produced the output. */
static cl16_status choose(cl16_ctx *ctx, const int64_t key[KEY_LEN], algo_fn run,
                          const void *args, const int *cand, int ncand, int *algo, int *done) {
    *done = 0;
    if (ctx->conv_algo != ALGO_AUTO) {
        *algo = forced(ctx, cand, ncand);
        return CL16_OK;
    }
    *algo = ALGO_IM2COL;
    struct cl16_conv_table *t = table(ctx);
    if (!t)
        return CL16_OK; /* no memory for the table: im2col, unmeasured */
    const int known = table_find(ctx, key);
    if (known) {
        *algo = known;
        return CL16_OK;
    }
    /* One warm-up run of each (program builds, first touches), then timed
     * rounds of all in turn, keeping each algorithm's best: on a shared
     * machine one slow run must not decide. Two rounds when one is clearly
     * faster (its best under CHOOSE_CLEAR of every other's); else more, up to
     * CHOOSE_ROUNDS, since a close call is where noise flips the choice. */
    counters base = counters_get(ctx), d_last = {0, 0, 0, 0}, dummy;
    double best[4], sec; /* per candidate: at most four */
    int win = 0;
    for (int a = 0; a < ncand; a++)
        best[a] = 1e30;
    cl16_status st = CL16_OK;
    for (int round = 0; round <= CHOOSE_ROUNDS && !st; round++) {
        if (round > 2) {
            int clear = 1;
            for (int a = 0; a < ncand; a++)
                clear = clear && (a == win || best[win] < CHOOSE_CLEAR * best[a]);
            if (clear)
                break;
        }
        for (int a = 0; a < ncand && !st; a++) {
            st = timed(ctx, run, args, cand[a], &sec, a == ncand - 1 ? &d_last : &dummy);
            if (!st && round && sec < best[a])
                best[a] = sec;
        }
        for (int a = 0; a < ncand; a++)
            if (best[a] < best[win])
                win = a;
    }
    if (st) {
        counters_set(ctx, base);
        return st;
    }
    *algo = cand[win];
    /* The output came last from the last candidate; when another wins the
     * caller runs it again, so that every call for this shape gives the same
     * bits. Either way the counters show the work of one convolution. */
    if (win == ncand - 1) {
        base.gemm_calls += d_last.gemm_calls, base.gemm_flops += d_last.gemm_flops;
        base.op_flops += d_last.op_flops, base.op_bytes += d_last.op_bytes;
        *done = 1;
    }
    counters_set(ctx, base);
    const int slot = t->count < CONV_TABLE_SIZE ? t->count++ : t->next++ % CONV_TABLE_SIZE;
    memcpy(t->e[slot].key, key, KEY_LEN * sizeof key[0]);
    t->e[slot].algo = *algo;
    ctx->stats.conv_algo_measured++;
    table_save(ctx, t);
    return CL16_OK;
}

typedef struct fwd_args {
    const conv_shape *s;
    const cl16_conv2d_params *p;
    const cl16_tensor *x, *w, *bias;
    cl16_tensor *y;
} fwd_args;

static cl16_status fwd_algo(cl16_ctx *ctx, int algo, const void *args) {
    const fwd_args *a = args;
    return fwd_run(ctx, algo, a->s, a->p, a->x, a->w, a->bias, a->y);
}

/* Runs the forward convolution y = conv(x, w) + bias with the chosen algorithm. */
static cl16_status fwd_chosen(cl16_ctx *ctx, const conv_shape *s, const cl16_conv2d_params *p,
                              const cl16_tensor *x, const cl16_tensor *w, const cl16_tensor *bias,
                              cl16_tensor *y) {
    int64_t key[KEY_LEN];
    shape_key(s, p, bias ? KEY_FWD_BIAS : KEY_FWD, key);
    const fwd_args a = {s, p, x, w, bias, y};
    /* im2col first: with the direct kernel last, a direct win needs no rerun. */
    int cand[4], nc = 0, algo, done;
    cand[nc++] = ALGO_IM2COL;
    if (im2col_float_ok(ctx, s))
        cand[nc++] = ALGO_IM2COL_FLOAT;
    if (implicit_ok(s, p))
        cand[nc++] = ALGO_IMPLICIT;
    cand[nc++] = ALGO_DIRECT;
    cl16_status st = choose(ctx, key, fwd_algo, &a, cand, nc, &algo, &done);
    return st || done ? st : fwd_run(ctx, algo, s, p, x, w, bias, y);
}

static int bwd_as_forward(const conv_shape *s, const cl16_conv2d_params *p);
static int phase_ok(const conv_shape *s, const cl16_conv2d_params *p);
static void as_forward(const conv_shape *s, const cl16_conv2d_params *p, conv_shape *f,
                       cl16_conv2d_params *q);

cl16_status cl16_conv2d_algorithm(cl16_ctx *ctx, const cl16_conv2d_params *p, cl16_dtype dtype,
                                  const int64_t x_dims[4], const int64_t w_dims[4], int has_bias,
                                  int pass, char *out, size_t len) {
    static const char *op = "conv2d_algorithm";
    if (!ctx)
        return CL16_ERR_INVALID_ARG;
    if (ctx->init_status)
        return ctx->init_status;
    cl16_status st = check_params(ctx, op, p);
    if (st)
        return st;
    if (!x_dims || !w_dims || !out || !len)
        return cl16__fail(ctx, CL16_ERR_INVALID_ARG, "%s: %s", op,
                          !x_dims ? "x_dims is NULL" : !w_dims ? "w_dims is NULL"
                                                              : "no output buffer");
    if (pass < 0 || pass > 2 || (dtype != CL16_F32 && dtype != CL16_F16 && dtype != CL16_BF16))
        return cl16__fail(ctx, CL16_ERR_INVALID_ARG,
                          "%s: pass %d (0 forward, 1 backward-data, 2 backward-weights) or "
                          "dtype %d is not a convolution's",
                          op, pass, (int)dtype);
    int64_t yd[4];
    if ((st = out_dims(ctx, op, p, x_dims, w_dims, yd)))
        return st;
    const conv_shape s = {x_dims[0], x_dims[1], x_dims[2], x_dims[3], w_dims[0], w_dims[2],
                          w_dims[3], yd[2], yd[3], p->groups, dtype};
    const char *name = "im2col-nn";
    if (pass == 2 && implicit_ok(&s, p)) { /* the measured choice of bww_algo */
        int64_t key[KEY_LEN];
        shape_key(&s, p, KEY_BWD_W, key);
        const int algo = ctx->conv_algo != ALGO_AUTO ? ctx->conv_algo : table_find(ctx, key);
        name = algo == ALGO_IMPLICIT_DOT ? "implicit-dot"
               : algo == ALGO_IMPLICIT   ? "implicit"
               : algo                    ? "im2col-nn"
                                         : "unmeasured";
    } else if (pass != 2) {
        int64_t key[KEY_LEN];
        const int as_fwd = pass == 1 && bwd_as_forward(&s, p);
        conv_shape f = s;
        cl16_conv2d_params q = *p;
        if (pass == 0)
            shape_key(&s, p, has_bias ? KEY_FWD_BIAS : KEY_FWD, key);
        else if (as_fwd) { /* the forward convolution it runs (bwd_data_forward) */
            as_forward(&s, p, &f, &q);
            shape_key(&f, &q, KEY_FWD, key);
        } else
            shape_key(&s, p, KEY_BWD_DATA, key);
        int algo = known_algo(ctx, key);
        if (algo == ALGO_IM2COL_FLOAT && !im2col_float_ok(ctx, &s))
            algo = ALGO_IM2COL; /* what a forced im2col-float runs where it does not apply */
        const int strided_bwd = pass == 1 && !as_fwd;
        if (algo == ALGO_IMPLICIT && !(strided_bwd ? phase_ok(&s, p) : implicit_ok(&f, &q)))
            algo = ALGO_IM2COL; /* likewise a forced implicit where it does not apply */
        static const char *names[3][5] = {
            {"unmeasured", "im2col", "direct", "im2col-float", "implicit"},
            {"unmeasured", "col2im", "direct", "col2im", "implicit"},
            {"unmeasured", "fwd-im2col", "fwd-direct", "fwd-im2col-float", "fwd-implicit"}};
        name = names[as_fwd ? 2 : pass][algo];
    }
    snprintf(out, len, "%s", name);
    return CL16_OK;
}

cl16_status cl16_conv2d_forward(cl16_ctx *ctx, const cl16_conv2d_params *p, const cl16_tensor *x,
                                const cl16_tensor *w, const cl16_tensor *bias, cl16_tensor *y) {
    static const char *op = "conv2d_forward";
    if (!ctx)
        return CL16_ERR_INVALID_ARG;
    if (ctx->init_status)
        return ctx->init_status;
    conv_shape s;
    cl16_status st = validate(ctx, op, p, x, "x", w, "w", y, "y", &s);
    if (st)
        return st;
    if (bias) {
        if ((st = check_tensor(ctx, op, "bias", bias, (int)s.dt)))
            return st;
        if ((st = cl16__op_shape(ctx, op, "bias", bias, 1, &s.co)))
            return st;
    }
    if ((st = check_alias(ctx, op, y, "y", x, "x")) ||
        (st = check_alias(ctx, op, y, "y", w, "w")) ||
        (st = check_alias(ctx, op, y, "y", bias, "bias")))
        return st;
    return fwd_chosen(ctx, &s, p, x, w, bias, y);
}

/* ---- backward ---------------------------------------------------------------- */

/* Enqueues dst[i] = (float)src[off + i] for i < n (src of dtype dt). */
static cl16_status widen(cl16_ctx *ctx, cl16_dtype dt, cl_mem src, int64_t off, cl_mem dst,
                         int64_t count) {
    cl_kernel kern;
    cl16_status st = conv_kernel(ctx, dt, "cl16_conv_widen", &kern);
    if (st)
        return st;
    cl_long o = off, n = count;
    cl_int err = 0;
    cl_uint ai = 0;
    ARG(src);
    ARG(o);
    ARG(dst);
    ARG(n);
    size_t local = 8, global = (((size_t)n + 15) / 16 + local - 1) / local * local;
    if (!err)
        err = cl16__enqueue(ctx, kern, 1, &global, &local);
    if (err)
        return cl16__cl_fail(ctx, err, "conv2d: widening a tensor to float");
    cl16__count(ctx, 0.0, (double)n * (double)(cl16_dtype_size(dt) + sizeof(float)));
    return CL16_OK;
}

/* Enqueues dst[off + i] = src[i] rounded once to dst's dtype, for i < n. */
static cl16_status narrow(cl16_ctx *ctx, cl_mem src, cl16_tensor *dst, int64_t off, int64_t count) {
    cl_kernel kern;
    cl16_status st = conv_kernel(ctx, dst->dtype, "cl16_conv_narrow", &kern);
    if (st)
        return st;
    cl_long o = off, n = count;
    cl_int err = 0;
    cl_uint ai = 0;
    ARG(src);
    ARG(dst->mem);
    ARG(o);
    ARG(n);
    size_t local = 8, global = (((size_t)n + 15) / 16 + local - 1) / local * local;
    if (!err)
        err = cl16__enqueue(ctx, kern, 1, &global, &local);
    if (err)
        return cl16__cl_fail(ctx, err, "conv2d: narrowing a float result");
    cl16__count(ctx, 0.0, (double)n * (double)(cl16_dtype_size(dst->dtype) + sizeof(float)));
    return CL16_OK;
}

/* wt[(g*ckk + r)*cog + o] = (float)w[(g*cog + o)*ckk + r]: each group's
 * weights transposed, as float. */
static cl16_status transpose_w(cl16_ctx *ctx, const conv_shape *s, const cl16_tensor *w,
                               cl_mem dst) {
    cl_kernel kern;
    cl16_status st = conv_kernel(ctx, s->dt, "cl16_conv_transpose_w", &kern);
    if (st)
        return st;
    cl_int co = (cl_int)s->co, ckk = (cl_int)(s->c / s->g * s->kh * s->kw), g = (cl_int)s->g;
    cl_int err = 0;
    cl_uint ai = 0;
    ARG(w->mem);
    ARG(dst);
    ARG(co);
    ARG(ckk);
    ARG(g);
    size_t local = 8, global = ((size_t)w->numel + 7) / 8 * 8;
    if (!err)
        err = cl16__enqueue(ctx, kern, 1, &global, &local);
    if (err)
        return cl16__cl_fail(ctx, err, "conv2d: transposing the weights");
    cl16__count(ctx, 0.0, (double)w->numel * (double)(cl16_dtype_size(s->dt) + sizeof(float)));
    return CL16_OK;
}

/* dst = the weights rotated by 180 degrees with input and output channels
 * swapped per group (cl16_conv_flip_w), in w's dtype. */
static cl16_status flip_w(cl16_ctx *ctx, const conv_shape *s, const cl16_tensor *w, cl_mem dst) {
    cl_kernel kern;
    cl16_status st = conv_kernel(ctx, s->dt, "cl16_conv_flip_w", &kern);
    if (st)
        return st;
    cl_int co = (cl_int)s->co, c = (cl_int)s->c, kh = (cl_int)s->kh, kw = (cl_int)s->kw,
           g = (cl_int)s->g;
    cl_int err = 0;
    cl_uint ai = 0;
    ARG(w->mem);
    ARG(dst);
    ARG(co);
    ARG(c);
    ARG(kh);
    ARG(kw);
    ARG(g);
    size_t local = 8, global = ((size_t)w->numel + 7) / 8 * 8;
    if (!err)
        err = cl16__enqueue(ctx, kern, 1, &global, &local);
    if (err)
        return cl16__cl_fail(ctx, err, "conv2d: rotating the weights for backward-data");
    cl16__count(ctx, 0.0, 2.0 * (double)w->numel * (double)cl16_dtype_size(s->dt));
    return CL16_OK;
}

/* Backward-data at stride 1 is a forward convolution: dx = dy convolved with
 * every kernel rotated by 180 degrees, input and output channels swapped
 * within each group, padding d*(k-1) - p on each side (which must not be
 * negative). It then runs on the forward algorithms and their measured
 * choice instead of GEMM + col2im, whose float column gradients and gather
 * cost 2-3x a forward convolution of the same work (ResNet-20 layer1 at batch
 * 128: 38 ms against 11). Each dx element is still summed in float and
 * rounded once. */
static int bwd_as_forward(const conv_shape *s, const cl16_conv2d_params *p) {
    return p->stride_h == 1 && p->stride_w == 1 && p->pad_h <= p->dilation_h * (s->kh - 1) &&
           p->pad_w <= p->dilation_w * (s->kw - 1);
}

/* The forward convolution that stride-1 backward-data is: f, q. */
static void as_forward(const conv_shape *s, const cl16_conv2d_params *p, conv_shape *f,
                       cl16_conv2d_params *q) {
    *f = (conv_shape){s->n, s->co, s->ho, s->wo, s->c, s->kh, s->kw, s->h, s->w, s->g, s->dt};
    *q = *p;
    q->pad_h = p->dilation_h * (int)(s->kh - 1) - p->pad_h;
    q->pad_w = p->dilation_w * (int)(s->kw - 1) - p->pad_w;
}

static cl16_status bwd_data_forward(cl16_ctx *ctx, const conv_shape *s,
                                    const cl16_conv2d_params *p, const cl16_tensor *dy,
                                    const cl16_tensor *w, float beta, cl16_tensor *dx) {
    conv_shape f;
    cl16_conv2d_params q;
    as_forward(s, p, &f, &q);
    const size_t wb = (size_t)w->numel * cl16_dtype_size(s->dt);
    cl_mem wfm = NULL;
    cl16_status st = cl16__dev_alloc(ctx, wb, "conv2d rotated weights", &wfm);
    if (st)
        return st;
    struct cl16_tensor wf;
    temp_view(ctx, &wf, wfm, s->dt, w->numel);
    if (!(st = flip_w(ctx, s, w, wfm))) {
        /* Accumulating into dx (beta != 0): a form whose GEMM takes beta, the
         * implicit one where it is the forward's choice for f (forced, or
         * measured by an earlier call: in a residual block the second
         * convolution's backward, with beta 0, comes first), else im2col.
         * Choosing here would run the candidates on dx, and the direct kernel
         * overwrites its output. */
        if (beta != 0.0f) {
            int64_t key[KEY_LEN];
            shape_key(&f, &q, KEY_FWD, key);
            st = known_algo(ctx, key) == ALGO_IMPLICIT && implicit_ok(&f, &q)
                     ? fwd_implicit(ctx, &f, &q, dy, &wf, NULL, beta, dx)
                     : fwd_im2col(ctx, &f, &q, dy, &wf, NULL, beta, dx);
        } else
            st = fwd_chosen(ctx, &f, &q, dy, &wf, NULL, dx);
    }
    cl16__dev_free(ctx, wfm, wb);
    return st;
}

/* dx = beta*dx + col2im(W^T * dy), for strides > 1 (or p > d*(k-1)). The
 * column gradients are float whatever the dtype (W^T and, for f16, dy are
 * first copied as float), so each dx element is rounded once, after its
 * contributions are summed. */
static cl16_status bwd_col2im(cl16_ctx *ctx, const conv_shape *s, const cl16_conv2d_params *p,
                              const cl16_tensor *dy, const cl16_tensor *w, float beta,
                              cl16_tensor *dx) {
    cl16_status st;
    const int64_t hw = s->ho * s->wo, rows = s->c * s->kh * s->kw, ckk = rows / s->g, cog = s->co / s->g;
    /* The float column gradients of a 16-bit call take at most the bytes a
     * column of the whole batch would in the dtype (half the images per
     * chunk): the workspace shrinks with the dtype like the tensors. Images
     * are independent, so the chunking does not change a bit of dx. */
    int64_t nb = chunk_images(ctx, s, sizeof(float));
    if (cl16_dtype_size(s->dt) < sizeof(float)) {
        const int64_t cap = (s->n * (int64_t)cl16_dtype_size(s->dt) + 3) / (int64_t)sizeof(float);
        if (nb > cap)
            nb = cap;
    }
    struct cl16_tensor w32, dy32, dcol;
    cl_mem wm = NULL, dym = NULL, colm = NULL;
    /* dy of an f16 call is widened chunk by chunk (nb images of it at a time). */
    const size_t wb = (size_t)w->numel * sizeof(float),
                 dyb = (size_t)(nb * s->co * hw) * sizeof(float);
    const size_t colb = (size_t)(nb * rows * hw) * sizeof(float);
    const cl16_tensor *wa = w, *dyb_t = dy;
    cl_kernel kern;
    if ((st = conv_kernel(ctx, s->dt, "cl16_conv_col2im", &kern)))
        return st;
    /* W_g^T as float for every dtype (so the GEMMs are NN, faster than TN on
     * PoCL); dy widened to float for f16, one chunk of images at a time. */
    if ((st = cl16__dev_alloc(ctx, wb, "conv2d float transposed w", &wm)))
        goto cleanup;
    temp_view(ctx, &w32, wm, CL16_F32, w->numel);
    if ((st = transpose_w(ctx, s, w, wm)))
        goto cleanup;
    wa = &w32;
    if (s->dt != CL16_F32) {
        if ((st = cl16__dev_alloc(ctx, dyb, "conv2d float copy of dy", &dym)))
            goto cleanup;
        temp_view(ctx, &dy32, dym, CL16_F32, nb * s->co * hw);
        dyb_t = &dy32;
    }
    if ((st = cl16__dev_alloc(ctx, colb, "conv2d column gradient buffer", &colm)))
        goto cleanup;
    temp_view(ctx, &dcol, colm, CL16_F32, nb * rows * hw);
    geom_args a = geom(s, p);
    for (int64_t n0 = 0; n0 < s->n && !st; n0 += nb) {
        const int64_t cnt = s->n - n0 < nb ? s->n - n0 : nb;
        if (dym && (st = widen(ctx, dy->dtype, dy->mem, n0 * s->co * hw, dym, cnt * s->co * hw)))
            break;
        const int64_t dy0 = dym ? 0 : n0 * s->co * hw; /* this chunk's first dy element */
        for (int64_t g = 0; g < s->g && !st; g++) {
            cl16_gemm_desc d;
            cl16_gemm_desc_init(&d);
            d.m = ckk, d.n = hw, d.k = cog, d.batch = cnt;
            d.a = wa, d.a_offset = g * ckk * cog, d.lda = cog, d.a_stride = 0;
            d.b = dyb_t, d.b_offset = dy0 + g * cog * hw, d.ldb = hw, d.b_stride = s->co * hw;
            d.c = &dcol, d.c_offset = g * ckk * hw, d.ldc = hw, d.c_stride = rows * hw;
            st = cl16_gemm_ex(ctx, &d);
        }
        if (st)
            break;
        cl_long xo = n0 * s->c * s->h * s->w;
        cl_int err = 0;
        cl_uint ai = 0;
        ARG(colm);
        ARG(dx->mem);
        ARG(xo);
        GEOM_ARGS(a);
        ARG(beta);
        size_t local[2] = {8, 1};
        size_t global[2] = {((size_t)s->c + 7) / 8 * 8, (size_t)cnt};
        if (!err)
            err = cl16__enqueue(ctx, kern, 2, global, local);
        if (err) {
            st = cl16__cl_fail(ctx, err, "conv2d: col2im");
            break;
        }
        const double es = (double)cl16_dtype_size(s->dt), nx = (double)(cnt * s->c * s->h * s->w);
        cl16__count(ctx, (double)(cnt * rows * hw),
                    4.0 * (double)(cnt * rows * hw) + es * nx * (beta != 0.0f ? 2.0 : 1.0));
    }
cleanup:
    cl16__dev_free(ctx, colm, colb);
    cl16__dev_free(ctx, dym, dyb);
    cl16__dev_free(ctx, wm, wb);
    return st;
}

/* dx = beta*dx + the direct gather kernel cl16_conv_bwd_direct (any stride),
 * on the rotated weights packed as float like the forward direct kernel's.
 * f16 on a CPU's storage path reads float copies of dy, a chunk of images at
 * a time (see direct_via_float), and writes dx in f16 as it goes
 * (cl16_conv_bwd_direct_fdy). At ResNet-20's layer2.down (batch 128, EPYC,
 * `build/cl16 bench conv --layers resnet20.layer2.down`, f16/f32 of the
 * paired rounds): 1.38-1.47 with float dx chunks narrowed after the kernel
 * (26 chunks, 3 launches each), 1.02-1.14 reading float dy and rounding dx
 * on store (8 chunks). */
static cl16_status bwd_direct(cl16_ctx *ctx, const conv_shape *s, const cl16_conv2d_params *p,
                              const cl16_tensor *dy, const cl16_tensor *w, float beta,
                              cl16_tensor *dx) {
    cl_kernel kern;
    const int via = direct_via_float(ctx, s);
    cl16_status st =
        conv_kernel(ctx, s->dt, via ? "cl16_conv_bwd_direct_fdy" : "cl16_conv_bwd_direct", &kern);
    if (st)
        return st;
    const int64_t cg = s->c / s->g, cog = s->co / s->g, kk = s->kh * s->kw;
    const int64_t ctiles = (cg + 7) / 8; /* DIRECT_TC = 8 */
    const int64_t yper = s->co * s->ho * s->wo, xper = s->c * s->h * s->w;
    const int64_t nb = via ? via_chunk_images(ctx, s->n, yper) : s->n;
    const size_t wb = (size_t)w->numel * cl16_dtype_size(s->dt),
                 dyfb = via ? (size_t)(nb * yper) * sizeof(float) : 0;
    cl_mem wfm = NULL, wp = NULL, dyf = NULL;
    size_t wpb = 0;
    /* The rotated kernels (C output, Cout input channels), packed. */
    if ((st = cl16__dev_alloc(ctx, wb, "conv2d rotated weights", &wfm)) ||
        (via && (st = cl16__dev_alloc(ctx, dyfb, "conv2d float dy (chunk)", &dyf))) ||
        (st = flip_w(ctx, s, w, wfm)) ||
        (st = pack_direct(ctx, s->dt, wfm, s->c, cog, kk, s->g, &wp, &wpb)))
        goto done;
    cl_mem dym = via ? dyf : dy->mem;
    cl_int dx_n0 = 0, err = 0;
    cl_uint ai = 0;
    ARG(dym);
    ARG(wp);
    ARG(dx->mem);
    ARG(dx_n0); /* argument 3: set again for each chunk */
    ARG(beta);
    if (!err)
        err = direct_geom(kern, ai, s, p);
    if (err) {
        st = cl16__cl_fail(ctx, err, "conv2d: direct backward-data kernel arguments");
        goto done;
    }
    const cl_int sw = p->stride_w;
    /* A work-item: DIRECT_TW = 8 columns of one phase (sw of them per 8*sw columns). */
    const size_t tiles = ((size_t)s->w + 8 * (size_t)sw - 1) / (8 * (size_t)sw) * (size_t)sw;
    size_t local[3] = {tiles < 4 ? tiles : 4, 1, 1};
    for (int64_t n0 = 0; n0 < s->n; n0 += nb) {
        const int64_t cnt = s->n - n0 < nb ? s->n - n0 : nb;
        if (via && (st = widen(ctx, s->dt, dy->mem, n0 * yper, dyf, cnt * yper)))
            goto done;
        dx_n0 = (cl_int)n0;
        err = clSetKernelArg(kern, 3, sizeof dx_n0, &dx_n0);
        size_t global[3] = {(tiles + local[0] - 1) / local[0] * local[0], (size_t)s->h,
                            (size_t)(cnt * s->g * ctiles)};
        if (!err)
            err = cl16__enqueue(ctx, kern, 3, global, local);
        if (err) {
            st = cl16__cl_fail(ctx, err, "conv2d: direct backward-data kernel");
            goto done;
        }
    }
    const double es = (double)cl16_dtype_size(s->dt), nx = (double)(s->n * xper);
    cl16__count(ctx, 2.0 * (double)(s->n * yper) * (double)(cg * kk),
                es * ((double)(s->n * yper) + (double)w->numel + nx * (beta != 0.0f ? 2.0 : 1.0)));
done:
    /* Released by OpenCL once the kernels that use them are done. */
    cl16__dev_free(ctx, dyf, dyfb);
    cl16__dev_free(ctx, wp, wpb);
    cl16__dev_free(ctx, wfm, wb);
    return st;
}

/* Strided backward-data by phases. The input pixels h = ph + sh*i (ph <
 * sh) form row phase ph; a kernel row kh reaches them from dy row oh = i + t
 * when kh = ph + pad_h - sh*t, so phase ph takes the taps t in [lo, lo + n)
 * (n may be 0: no kernel row reaches it) and is q = ceil((H - ph) / sh) rows
 * tall. Likewise columns. So each phase (ph, pw) of dx is a stride-1
 * correlation of dy with the phase's n_h x n_w taps: a GEMM (M = C/g, K =
 * Cout/g * n_h * n_w, N its pixels) whose C columns are mapped onto the
 * phase's pixels (gemm.cl: crp = sh*W, ccs = sw). No column gradients, no
 * col2im, no float copies: each dx pixel is written once, by its phase's
 * GEMM, rounded once. */
typedef struct phase_dim {
    int lo, n;      /* taps t in [lo, lo + n) */
    int64_t q;      /* rows (columns) of the phase */
} phase_dim;
static phase_dim phase_of(int64_t in, int64_t k, int s, int pad, int ph) {
    const int64_t top = ph + pad, x = top - (k - 1); /* t from ceil(x / s) to floor(top / s) */
    const int64_t lo = x >= 0 ? (x + s - 1) / s : -((-x) / s), hi = top / s;
    const phase_dim d = {(int)lo, hi >= lo ? (int)(hi - lo + 1) : 0,
                         in > ph ? (in - ph + s - 1) / s : 0};
    return d;
}

/* The zero padding of dy (rows above and below, pad_h; columns, pad_w: the
 * layout of padded_of) that every phase's taps stay within; whether dy needs
 * a padded copy at all (else each phase has one tap inside dy: read as is). */
typedef struct phase_plan {
    int64_t pad_h, pad_w;
    int copy;
    int rmask, cmask; /* bit ph (pw): the row (column) phase has taps */
} phase_plan;
static phase_plan phase_plan_of(const conv_shape *s, const cl16_conv2d_params *p) {
    phase_plan pl = {0, 0, 0, 0, 0};
    for (int d = 0; d < 2; d++) {
        const int st = d ? p->stride_w : p->stride_h;
        int64_t need = 0;
        for (int ph = 0; ph < st; ph++) {
            const phase_dim f = d ? phase_of(s->w, s->kw, st, p->pad_w, ph)
                                  : phase_of(s->h, s->kh, st, p->pad_h, ph);
            if (!f.n || !f.q)
                continue;
            *(d ? &pl.cmask : &pl.rmask) |= 1 << ph;
            const int64_t below = f.q - 1 + f.lo + f.n - 1 - ((d ? s->wo : s->ho) - 1);
            need = -f.lo > need ? -f.lo : need;
            need = below > need ? below : need;
            pl.copy |= f.n > 1;
        }
        *(d ? &pl.pad_w : &pl.pad_h) = need;
    }
    pl.copy |= pl.pad_h > 0 || pl.pad_w > 0;
    return pl;
}

/* Whether strided backward-data of shape s may run by phases: no dilation,
 * strides whose phases fit the masks, a padded dy plane within int range. */
static int phase_ok(const conv_shape *s, const cl16_conv2d_params *p) {
    if (p->dilation_h != 1 || p->dilation_w != 1 || p->stride_h > 16 || p->stride_w > 16)
        return 0;
    const phase_plan pl = phase_plan_of(s, p);
    const padded g = padded_of(s->ho, s->wo, pl.pad_h, pl.pad_w);
    return (double)g.plane * (double)s->co < 2147483647.0 &&
           (double)s->c * (double)s->h * (double)s->w < 2147483647.0;
}

/* Enqueues the gather of phase (r, c)'s weights (cl16_conv_phase_w) into
 * dst from element off on: C rows of Cout/g * r.n * c.n. */
static cl16_status phase_weights(cl16_ctx *ctx, const conv_shape *s, const cl16_conv2d_params *p,
                                 int ph, int pw, phase_dim r, phase_dim c, const cl16_tensor *w,
                                 cl_mem dst, int64_t off) {
    cl_kernel kern;
    cl16_status st = conv_kernel(ctx, s->dt, "cl16_conv_phase_w", &kern);
    if (st)
        return st;
    cl_int co = (cl_int)s->co, ci = (cl_int)s->c, kh = (cl_int)s->kh, kw = (cl_int)s->kw,
           g = (cl_int)s->g, nt = r.n, nu = c.n, kh0 = ph + p->pad_h - p->stride_h * r.lo,
           kw0 = pw + p->pad_w - p->stride_w * c.lo, sh = p->stride_h, sw = p->stride_w, err = 0;
    cl_long o = off;
    cl_uint ai = 0;
    ARG(w->mem);
    ARG(dst);
    ARG(o);
    ARG(co);
    ARG(ci);
    ARG(kh);
    ARG(kw);
    ARG(g);
    ARG(nt);
    ARG(nu);
    ARG(kh0);
    ARG(kw0);
    ARG(sh);
    ARG(sw);
    size_t local = 8, global = ((size_t)(s->c * (s->co / s->g) * r.n * c.n) + 7) / 8 * 8;
    if (!err)
        err = cl16__enqueue(ctx, kern, 1, &global, &local);
    return err ? cl16__cl_fail(ctx, err, "conv2d: gathering a phase's weights") : CL16_OK;
}

/* dx = beta*dx + backward-data by phases (above). Each phase's weights (all
 * phases' together are at most the weights' size) and row table are made
 * once. A small kernel first sets the pixels of phases without taps to
 * beta*dx (all pixels to 0 for beta 0), unless beta is 1 or every pixel has
 * a phase. dy is read as is where each phase has one tap within it (a 1x1
 * kernel without padding: gemm.cl IMPLICIT 3, B's rows plain), else from a
 * zero-padded copy in the dtype through the row tables (IMPLICIT 2), a chunk
 * of images at a time. The direct kernel on float copies of dy and dx cost
 * f16 1.5-2.5x f32's time on ResNet-20's strided 1x1 shortcuts in `cl16
 * bench conv`; the 1x1 GEMM on a float copy of dy was slower than reading
 * the half dy itself. With the padded copy, the forward's operands
 * (implicit_float_operands): on a CPU's storage path the phases' weights
 * widened to float, the copy left f16. */
enum { MAX_PHASES = 256 }; /* strides up to 16 x 16 (phase_ok) */
static cl16_status bwd_phases(cl16_ctx *ctx, const conv_shape *s, const cl16_conv2d_params *p,
                              const cl16_tensor *dy, const cl16_tensor *w, float beta,
                              cl16_tensor *dx) {
    const int64_t hw = s->ho * s->wo, hwx = s->h * s->w, cg = s->c / s->g, cog = s->co / s->g;
    const int sh = p->stride_h, sw = p->stride_w;
    const phase_plan pl = phase_plan_of(s, p);
    const padded pg = padded_of(s->ho, s->wo, pl.pad_h, pl.pad_w);
    const int64_t wp = pl.copy ? pg.wp : s->wo, plane = pl.copy ? pg.plane : hw;
    const size_t es = cl16_dtype_size(s->dt);
    const conv_shape f = {s->n, s->co, s->ho, s->wo, s->c, 1, 1, s->h, s->w, s->g, s->dt};
    int fl = 0, xf = 0; /* float weights; float padded copy */
    if (pl.copy)
        implicit_float_operands(ctx, s, &fl, &xf);
    const size_t des = xf ? sizeof(float) : es;          /* the padded copy's element */
    const int64_t nb = pl.copy ? implicit_images(ctx, &f, (double)(s->co * plane) * (double)des, 1)
                               : s->n;
    const size_t wb = (size_t)w->numel * es, wfb = fl ? (size_t)w->numel * sizeof(float) : 0,
                 dpb = pl.copy ? (size_t)(nb * s->co * plane + 64) * des : 0,
                 tabb = sizeof(cl_int) * (size_t)cog; /* times a phase's taps */
    cl_mem wm = NULL, wfm = NULL, dpm = NULL, tab[MAX_PHASES] = {NULL};
    struct cl16_tensor wt, dpt;
    int64_t woff[MAX_PHASES]; /* per phase: where its weights start */
    cl16_status st;
    if ((st = cl16__dev_alloc(ctx, wb, "conv2d phase weights", &wm)) ||
        (fl && (st = cl16__dev_alloc(ctx, wfb, "conv2d float phase weights", &wfm))) ||
        (pl.copy && (st = cl16__dev_alloc(ctx, dpb, "conv2d padded dy (phases)", &dpm))))
        goto done;
    if (fl)
        temp_view(ctx, &wt, wfm, CL16_F32, w->numel);
    else
        temp_view(ctx, &wt, wm, s->dt, w->numel);
    if (pl.copy)
        temp_view(ctx, &dpt, dpm, xf ? CL16_F32 : s->dt, (int64_t)(dpb / des));
    /* Each phase's weights and row table, once. */
    int64_t wo = 0;
    for (int ph = 0; ph < sh && !st; ph++)
        for (int pw = 0; pw < sw && !st; pw++) {
            const phase_dim r = phase_of(s->h, s->kh, sh, p->pad_h, ph),
                            c = phase_of(s->w, s->kw, sw, p->pad_w, pw);
            const int i = ph * sw + pw;
            woff[i] = wo;
            if (!r.n || !c.n || !r.q || !c.q)
                continue;
            if ((st = phase_weights(ctx, s, p, ph, pw, r, c, w, wm, wo)))
                break;
            wo += s->c * cog * r.n * c.n;
            if (pl.copy) {
                const conv_shape ts = {s->n, s->co, s->ho, s->wo, s->co, r.n, c.n, 0, 0, s->g, s->dt};
                cl16_conv2d_params tp;
                cl16_conv2d_params_init(&tp);
                tp.groups = p->groups;
                if ((st = cl16__dev_alloc(ctx, tabb * (size_t)(r.n * c.n), "conv2d row table (phases)",
                                          &tab[i])) ||
                    (st = row_table(ctx, &ts, &tp, &pg, tab[i])))
                    break;
            }
        }
    if (!st && fl && wo)
        st = widen(ctx, s->dt, wm, 0, wfm, wo);
    if (st)
        goto done;
    if (beta != 1.0f && !(pl.rmask == (1 << sh) - 1 && pl.cmask == (1 << sw) - 1)) {
        cl_kernel kern;
        if ((st = conv_kernel(ctx, s->dt, "cl16_conv_scale_unsampled", &kern)))
            goto done;
        cl_int ih = (cl_int)s->h, iw = (cl_int)s->w, csh = sh, csw = sw, rm = pl.rmask,
               cm = pl.cmask, err = 0;
        cl_uint ai = 0;
        ARG(dx->mem);
        ARG(ih);
        ARG(iw);
        ARG(csh);
        ARG(csw);
        ARG(rm);
        ARG(cm);
        ARG(beta);
        size_t global[3] = {((size_t)s->w + 15) / 16, (size_t)s->h, (size_t)(s->n * s->c)};
        if (!err)
            err = cl16__enqueue(ctx, kern, 3, global, NULL);
        if (err) {
            st = cl16__cl_fail(ctx, err, "conv2d: scaling the pixels of dx no phase writes");
            goto done;
        }
    }
    for (int64_t n0 = 0; n0 < s->n && !st; n0 += nb) {
        const int64_t cnt = s->n - n0 < nb ? s->n - n0 : nb;
        if (pl.copy &&
            (st = pad_planes(ctx, s->dt, xf, dy->mem, n0, cnt, s->co, s->ho, s->wo, &pg, dpm)))
            break;
        for (int ph = 0; ph < sh && !st; ph++)
            for (int pw = 0; pw < sw && !st; pw++) {
                const phase_dim r = phase_of(s->h, s->kh, sh, p->pad_h, ph),
                                c = phase_of(s->w, s->kw, sw, p->pad_w, pw);
                if (!r.n || !c.n || !r.q || !c.q)
                    continue;
                const int i = ph * sw + pw;
                const int64_t k = cog * r.n * c.n;
                /* Output (i, j) of the phase is column i*wp + j, from dy row i + lo + a. */
                const int64_t b0 = pl.copy ? (r.lo + pl.pad_h) * wp + pl.pad_w + c.lo
                                           : (int64_t)r.lo * wp + c.lo;
                for (int64_t gi = 0; gi < s->g && !st; gi++) {
                    cl16_gemm_desc d;
                    cl16_gemm_desc_init(&d);
                    d.m = cg, d.n = (r.q - 1) * wp + c.q, d.k = k, d.batch = cnt, d.beta = beta;
                    d.a = &wt, d.a_offset = woff[i] + gi * cg * k, d.lda = k, d.a_stride = 0;
                    if (pl.copy)
                        d.b = &dpt, d.b_offset = gi * cog * plane + b0, d.ldb = wp,
                        d.b_stride = s->co * plane;
                    else
                        d.b = dy, d.b_offset = (n0 * s->co + gi * cog) * hw + b0, d.ldb = hw,
                        d.b_stride = s->co * hw;
                    d.c = dx, d.c_offset = (n0 * s->c + gi * cg) * hwx + ph * s->w + pw;
                    d.ldc = hwx, d.c_stride = s->c * hwx;
                    const cl16_gemm_implicit im = {
                        .which = pl.copy ? 2 : 3, .rtab = tab[i], .cwp = (int)wp, .cwo = (int)c.q,
                        .crp = (int)(sh * s->w), .ccs = sw, .crw = (int)(s->w - pw),
                        .ab_float = fl, .b_half = fl && !xf,
                        .flops = 2.0 * (double)(cg * r.q * c.q * k) * (double)cnt};
                    st = cl16__gemm_implicit(ctx, &d, &im);
                }
            }
    }
    if (!st)
        cl16__count(ctx, 0.0,
                    (double)es * ((double)(s->n * s->co * hw) + (double)w->numel +
                                  (double)(s->n * s->c * hwx) * (beta != 0.0f ? 2.0 : 1.0)));
done:
    for (int ph = 0; ph < sh; ph++)
        for (int pw = 0; pw < sw; pw++)
            if (tab[ph * sw + pw])
                cl16__dev_free(ctx, tab[ph * sw + pw],
                               tabb * (size_t)(phase_of(s->h, s->kh, sh, p->pad_h, ph).n *
                                               phase_of(s->w, s->kw, sw, p->pad_w, pw).n));
    cl16__dev_free(ctx, dpm, dpb);
    cl16__dev_free(ctx, wfm, wfb);
    cl16__dev_free(ctx, wm, wb);
    return st;
}

typedef struct bwd_args {
    const conv_shape *s;
    const cl16_conv2d_params *p;
    const cl16_tensor *dy, *w;
    float beta;
    cl16_tensor *dx;
} bwd_args;

static cl16_status bwd_algo(cl16_ctx *ctx, int algo, const void *args) {
    const bwd_args *a = args;
    if (algo == ALGO_IMPLICIT && phase_ok(a->s, a->p))
        return bwd_phases(ctx, a->s, a->p, a->dy, a->w, a->beta, a->dx);
    return algo == ALGO_DIRECT ? bwd_direct(ctx, a->s, a->p, a->dy, a->w, a->beta, a->dx)
                               : bwd_col2im(ctx, a->s, a->p, a->dy, a->w, a->beta, a->dx);
}

/* Strided backward-data on the faster of col2im and the direct kernel. A
 * call that accumulates (beta != 0) into a shape not yet measured is timed
 * on a scratch dx (beta 0), then run on the real one. */
static cl16_status bwd_strided(cl16_ctx *ctx, const conv_shape *s, const cl16_conv2d_params *p,
                               const cl16_tensor *dy, const cl16_tensor *w, float beta,
                               cl16_tensor *dx) {
    int64_t key[KEY_LEN];
    shape_key(s, p, KEY_BWD_DATA, key);
    const bwd_args a = {s, p, dy, w, beta, dx};
    bwd_args m = a;
    struct cl16_tensor scratch;
    cl_mem sm = NULL;
    cl16_status st = CL16_OK;
    if (beta != 0.0f && ctx->conv_algo == ALGO_AUTO && !table_find(ctx, key)) {
        if ((st = cl16__dev_alloc(ctx, dx->bytes, "conv2d scratch dx (choosing)", &sm)))
            return st;
        temp_view(ctx, &scratch, sm, dx->dtype, dx->numel);
        m.dx = &scratch, m.beta = 0.0f;
    }
    int algo, done;
    int cand[3] = {ALGO_IM2COL, ALGO_DIRECT, ALGO_IMPLICIT};
    st = choose(ctx, key, bwd_algo, &m, cand, phase_ok(s, p) ? 3 : 2, &algo, &done);
    if (!st && (!done || sm))
        st = bwd_algo(ctx, algo, &a);
    cl16__dev_free(ctx, sm, dx->bytes);
    return st;
}

cl16_status cl16_conv2d_backward_data(cl16_ctx *ctx, const cl16_conv2d_params *p,
                                      const cl16_tensor *dy, const cl16_tensor *w, float beta,
                                      cl16_tensor *dx) {
    static const char *op = "conv2d_backward_data";
    if (!ctx)
        return CL16_ERR_INVALID_ARG;
    if (ctx->init_status)
        return ctx->init_status;
    conv_shape s;
    cl16_status st;
    if (!dx)
        return cl16__fail(ctx, CL16_ERR_INVALID_ARG, "%s: tensor dx is NULL", op);
    if ((st = validate(ctx, op, p, dx, "dx", w, "w", dy, "dy", &s)))
        return st;
    if ((st = check_alias(ctx, op, dx, "dx", dy, "dy")) ||
        (st = check_alias(ctx, op, dx, "dx", w, "w")))
        return st;
    return bwd_as_forward(&s, p) ? bwd_data_forward(ctx, &s, p, dy, w, beta, dx)
                                 : bwd_strided(ctx, &s, p, dy, w, beta, dx);
}

/* The bytes of columns (and dy^T) one chunk of images may take. On a CPU
 * about 4.5 MB: the columns and dy^T stay largely in cache between the
 * kernels that write them and the GEMM that reads them (the whole batch's
 * columns went to memory and back: backward-weights 2.5x slower on
 * ResNet-20's layers, a ResNet-20 training step 15-19 % slower in f32 with
 * whole-batch forward columns). After the GEMM and im2col got faster, larger
 * chunks (fewer, longer launches) won: `build/cl16 bench train --models
 * resnet20 --precisions fp32,fp16`, ms per step fp32 / fp16, two runs each:
 * 0.75 MB 540-551 / 551-561, 1.5 MB 444-453 / 477-481, 3 MB 422-428 /
 * 436-442, 4.5 MB 409-410 / 412-426, 6 MB 419-425 / 410, 12 MB 451-456 /
 * 422-424 (the f16 chunk is half of it, below). */
double cl16__conv_chunk_bytes(const cl16_ctx *ctx, cl16_dtype dt) {
    /* Scaled by the element size: a 16-bit call takes half the images per
     * chunk, so that its workspaces (backward-weights' float columns above
     * all) shrink with its tensors: LeNet-5's f16 training step peaked at
     * 9.8 MB (0.53x fp32) instead of 10.7 (0.58x) with 1.5 MB chunks; at
     * 4.5 MB, 11.5 MB against 21.5 (0.54x). */
    return (ctx->dev.type == CL16_DEVICE_CPU ? CPU_CHUNK_BYTES : DEV_CHUNK_BYTES) *
           (double)cl16_dtype_size(dt) / 4.0;
}

/* Images per chunk of backward-weights: at least two, which the GEMM sums. */
int64_t cl16__conv_bww_images(const cl16_ctx *ctx, cl16_dtype dt, int64_t col_floats,
                              int64_t dyt_floats) {
    const int64_t nb = (int64_t)(cl16__conv_chunk_bytes(ctx, dt) /
                                 ((double)(col_floats + dyt_floats) * sizeof(float)));
    return nb < 2 ? 2 : nb;
}

/* Images per chunk of backward-weights (dy^T rows of ld floats), within the
 * column-buffer cap; an f32 x that is its own columns needs no column buffer. */
static int64_t bww_chunk(cl16_ctx *ctx, const conv_shape *s, const cl16_conv2d_params *p,
                         int64_t ld) {
    const int64_t hw = s->ho * s->wo, rows = s->c * s->kh * s->kw;
    const int own = s->dt == CL16_F32 && col_is_x(s, p);
    int64_t nb = cl16__conv_bww_images(ctx, s->dt, own ? 0 : rows * hw, hw * ld);
    const int64_t cap = chunk_images(ctx, s, sizeof(float));
    if (!own && nb > cap)
        nb = cap;
    return nb < s->n ? nb : s->n;
}

/* Enqueues dy^T (cl16_conv_dy_t) of images [n0, n0 + cnt) into dytm: rows of
 * ld floats, output rows of s->wo pixels laid wp rows apart. */
static cl16_status dy_transposed(cl16_ctx *ctx, cl_kernel kern, const conv_shape *s,
                                 const cl16_tensor *dy, int64_t n0, int64_t cnt, int64_t ld,
                                 int64_t wp, cl_mem dytm) {
    const int64_t hw = s->ho * s->wo;
    cl_long o = n0 * s->co * hw;
    cl_int co = (cl_int)s->co, ihw = (cl_int)hw, ild = (cl_int)ld, iwo = (cl_int)s->wo,
           iwp = (cl_int)wp;
    cl_int err = 0;
    cl_uint ai = 0;
    ARG(dy->mem);
    ARG(o);
    ARG(dytm);
    ARG(co);
    ARG(ihw);
    ARG(ild);
    ARG(iwo);
    ARG(iwp);
    size_t local[2] = {8, 1};
    size_t global[2] = {(((size_t)hw + 63) / 64 + 7) / 8 * 8, (size_t)cnt};
    if (!err)
        err = cl16__enqueue(ctx, kern, 2, global, local);
    if (err)
        return cl16__cl_fail(ctx, err, "conv2d: transposing dy");
    cl16__count(ctx, 0.0,
                (double)cnt * ((double)(hw * s->co) * (double)cl16_dtype_size(s->dt) +
                               (double)(s->ho * wp * ld) * sizeof(float)));
    return CL16_OK;
}

/* One backward-weights call's arguments for the measured choice: the float
 * sums dw^T (ckk x ldw per group) go to dwtm. */
typedef struct bww_args {
    const conv_shape *s;
    const cl16_conv2d_params *p;
    const cl16_tensor *x, *dy;
    cl_kernel tkern; /* cl16_conv_dy_t */
    int64_t ld, ldw;
    cl_mem dwtm;
} bww_args;

/* The sums on float columns (float_cols), a chunk of images at a time; an
 * f32 x with a 1x1, stride-1, unpadded kernel is its own. */
static cl16_status bww_cols(cl16_ctx *ctx, const bww_args *a) {
    const conv_shape s = *a->s;
    const cl16_conv2d_params *p = a->p;
    const cl16_tensor *x = a->x, *dy = a->dy;
    const int64_t ld = a->ld, ldw = a->ldw;
    cl_mem dwtm = a->dwtm;
    const int64_t hw = s.ho * s.wo, rows = s.c * s.kh * s.kw, ckk = rows / s.g, cog = s.co / s.g;
    const int direct = col_is_x(&s, p), wide = s.dt != CL16_F32;
    const int64_t nb = bww_chunk(ctx, &s, p, ld);
    cl_mem colm = NULL, stm = NULL, dytm = NULL;
    const size_t colb = direct && !wide ? 0 : (size_t)(nb * rows * hw) * sizeof(float);
    const size_t stb = float_cols_staging(&s, p, nb);
    const size_t dytb = (size_t)(nb * hw * ld) * sizeof(float);
    struct cl16_tensor colt, dytt, dwtt;
    cl16_status st = CL16_OK;
    if ((colb && (st = cl16__dev_alloc(ctx, colb, "conv2d float column buffer", &colm))) ||
        (stb && (st = cl16__dev_alloc(ctx, stb, "conv2d column staging buffer", &stm))) ||
        (st = cl16__dev_alloc(ctx, dytb, "conv2d float transposed dy", &dytm)))
        goto cleanup;
    if (colb)
        temp_view(ctx, &colt, colm, CL16_F32, nb * rows * hw);
    temp_view(ctx, &dytt, dytm, CL16_F32, nb * hw * ld);
    temp_view(ctx, &dwtt, dwtm, CL16_F32, s.g * ckk * ldw);
    for (int64_t n0 = 0; n0 < s.n && !st; n0 += nb) {
        const int64_t cnt = s.n - n0 < nb ? s.n - n0 : nb;
        if ((st = float_cols(ctx, &s, p, x, n0, cnt, stm, colm)) ||
            (st = dy_transposed(ctx, a->tkern, &s, dy, n0, cnt, ld, s.wo, dytm)))
            break;
        for (int64_t g = 0; g < s.g && !st; g++) {
            cl16_gemm_desc d;
            cl16_gemm_desc_init(&d);
            d.m = ckk, d.n = s.g == 1 ? ld : cog, d.k = hw, d.batch = cnt;
            d.beta = n0 ? 1.0f : 0.0f;
            d.a = colb ? &colt : x, d.lda = hw, d.a_stride = rows * hw;
            d.a_offset = (colb ? 0 : n0 * rows * hw) + g * ckk * hw;
            d.b = &dytt, d.b_offset = g * cog, d.ldb = ld, d.b_stride = hw * ld;
            d.c = &dwtt, d.c_offset = g * ckk * ldw, d.ldc = ldw, d.c_stride = 0;
            st = cl16_gemm_ex(ctx, &d);
        }
    }
cleanup:
    cl16__dev_free(ctx, colm, colb);
    cl16__dev_free(ctx, stm, stb);
    cl16__dev_free(ctx, dytm, dytb);
    return st;
}

/* The sums on the implicit GEMM (stride 1): dw^T = sum_n X_n * dyp_n, where
 * row r of X_n is the float padded copy of image n (cl16_conv_pad_float) read
 * from the row table's entry on (gemm.cl, IMPLICIT 1), and dyp_n is dy_n^T
 * with its output rows wp apart and zeros between them (so the junk columns
 * of the padded rows add nothing): no column buffer. With dot, the same
 * rows of X_n times dy_n's rows on the dot kernel (A * B^T), dy_n copied as
 * float with its output rows wp apart and zeros in the junk columns
 * (cl16_conv_pad_float with no padding rows and wp - Wo zeros before each
 * row): no transposed dy, and no vector lanes spent on a narrow Cout
 * (LeNet-5's conv1 has 6; `cl16 bench conv` chose this form for it). */
static cl16_status bww_implicit(cl16_ctx *ctx, const bww_args *a, int dot) {
    const conv_shape s = *a->s;
    const cl16_conv2d_params *p = a->p;
    const int64_t ld = a->ld, ldw = a->ldw;
    const padded pg = conv_padded(&s, p);
    const int64_t wp = pg.wp, plane = pg.plane;
    const int64_t cg = s.c / s.g, ckk = cg * s.kh * s.kw, cog = s.co / s.g;
    const int64_t kp = (s.ho - 1) * wp + s.wo, jw = wp - s.wo; /* k; junk columns per row */
    /* Floats of dy's copy per image: dy^T's Ho*wp rows of ld, or Cout planes
     * of dy's rows wp apart (yplane each). */
    const padded yg = padded_of(s.ho, s.wo, 0, jw);
    const int64_t yplane = yg.plane;
    const int64_t dyper = dot ? s.co * yplane : s.ho * wp * ld;
    /* at least two images, which the GEMM sums */
    const int64_t nb = implicit_images(ctx, &s, (double)(s.c * plane + dyper) * sizeof(float), 2);
    const size_t xpb = (size_t)(nb * s.c * plane) * sizeof(float),
                 dyb = (size_t)(nb * dyper) * sizeof(float), tabb = (size_t)ckk * sizeof(cl_int);
    cl_mem xpm = NULL, dym = NULL, tabm = NULL;
    struct cl16_tensor xpt, dyt, dwtt;
    cl16_status st;
    if ((st = cl16__dev_alloc(ctx, xpb, "conv2d float padded input (implicit GEMM)", &xpm)) ||
        (st = cl16__dev_alloc(ctx, dyb, "conv2d float copy of dy (implicit GEMM)", &dym)) ||
        (st = cl16__dev_alloc(ctx, tabb, "conv2d row table (implicit GEMM)", &tabm)) ||
        (st = row_table(ctx, &s, p, &pg, tabm)))
        goto done;
    temp_view(ctx, &xpt, xpm, CL16_F32, nb * s.c * plane);
    temp_view(ctx, &dyt, dym, CL16_F32, nb * dyper);
    temp_view(ctx, &dwtt, a->dwtm, CL16_F32, s.g * ckk * ldw);
    for (int64_t n0 = 0; n0 < s.n && !st; n0 += nb) {
        const int64_t cnt = s.n - n0 < nb ? s.n - n0 : nb;
        if ((st = pad_planes(ctx, s.dt, 1, a->x->mem, n0, cnt, s.c, s.h, s.w, &pg, xpm)) ||
            (st = dot ? pad_planes(ctx, s.dt, 1, a->dy->mem, n0, cnt, s.co, s.ho, s.wo, &yg, dym)
                      : dy_transposed(ctx, a->tkern, &s, a->dy, n0, cnt, ld, wp, dym)))
            break;
        for (int64_t g = 0; g < s.g && !st; g++) {
            cl16_gemm_desc d;
            cl16_gemm_desc_init(&d);
            d.m = ckk, d.k = kp, d.batch = cnt;
            d.beta = n0 ? 1.0f : 0.0f;
            d.a = &xpt, d.a_offset = g * cg * plane, d.lda = wp, d.a_stride = s.c * plane;
            d.b = &dyt, d.b_stride = dyper;
            if (dot) /* row o of B: dy's plane o from its first value on */
                d.trans_b = 1, d.n = cog, d.b_offset = g * cog * yplane + jw, d.ldb = yplane;
            else
                d.n = s.g == 1 ? ld : cog, d.b_offset = g * cog, d.ldb = ld;
            d.c = &dwtt, d.c_offset = g * ckk * ldw, d.ldc = ldw, d.c_stride = 0;
            const cl16_gemm_implicit im = {
                .which = 1, .rtab = tabm,
                .flops = 2.0 * (double)(ckk * cog * s.ho * s.wo) * (double)cnt};
            st = cl16__gemm_implicit(ctx, &d, &im);
        }
    }
done:
    cl16__dev_free(ctx, tabm, tabb);
    cl16__dev_free(ctx, dym, dyb);
    cl16__dev_free(ctx, xpm, xpb);
    return st;
}

static cl16_status bww_algo(cl16_ctx *ctx, int algo, const void *args) {
    return algo == ALGO_IMPLICIT || algo == ALGO_IMPLICIT_DOT
               ? bww_implicit(ctx, args, algo == ALGO_IMPLICIT_DOT)
               : bww_cols(ctx, args);
}

/* dw = beta*dw + sum_n dy_n * col_n^T per group, computed transposed as
 * dw^T = sum_n col_n * dy_n^T: a batch-reduce GEMM that is NN (col_n is
 * ckk x HW row-major as im2col writes it, dy_n^T is copied per chunk, small),
 * so the tile kernel runs it and reads the columns, the large operand, once
 * per image (A * B^T on the dot kernel re-read them for every few rows of dw:
 * ResNet-20 16->16 32x32 f32 at batch 128, 38 ms against the forward's 11).
 * Columns, dy^T and the sums are float whatever the dtype; the sums stay in a
 * float buffer across chunks and reach dw rounded once, with beta*dw.
 * dbias = beta*dbias + sum of dy over images and pixels. */
cl16_status cl16_conv2d_backward_weights(cl16_ctx *ctx, const cl16_conv2d_params *p,
                                         const cl16_tensor *x, const cl16_tensor *dy, float beta,
                                         cl16_tensor *dw, cl16_tensor *dbias) {
    static const char *op = "conv2d_backward_weights";
    if (!ctx)
        return CL16_ERR_INVALID_ARG;
    if (ctx->init_status)
        return ctx->init_status;
    conv_shape s;
    cl16_status st;
    if (!dw)
        return cl16__fail(ctx, CL16_ERR_INVALID_ARG, "%s: tensor dw is NULL", op);
    if ((st = validate(ctx, op, p, x, "x", dw, "dw", dy, "dy", &s)))
        return st;
    if (dbias) {
        if ((st = check_tensor(ctx, op, "dbias", dbias, (int)s.dt)))
            return st;
        if ((st = cl16__op_shape(ctx, op, "dbias", dbias, 1, &s.co)))
            return st;
    }
    if ((st = check_alias(ctx, op, dw, "dw", x, "x")) ||
        (st = check_alias(ctx, op, dw, "dw", dy, "dy")) ||
        (st = check_alias(ctx, op, dbias, "dbias", x, "x")) ||
        (st = check_alias(ctx, op, dbias, "dbias", dy, "dy")) ||
        (st = check_alias(ctx, op, dbias, "dbias", dw, "dw")))
        return st;
    cl_kernel bkern = NULL, tkern, skern;
    if ((dbias && (st = conv_kernel(ctx, s.dt, "cl16_conv_bias_grad", &bkern))) ||
        (st = conv_kernel(ctx, s.dt, "cl16_conv_dy_t", &tkern)) ||
        (st = conv_kernel(ctx, s.dt, "cl16_conv_dw_store", &skern)))
        return st;

    const int64_t hw = s.ho * s.wo, ckk = s.c / s.g * s.kh * s.kw, cog = s.co / s.g;
    /* Rows of dy^T and of the sums: with one group, Cout rounded up to 16
     * (zeros past Cout), so that the GEMM's tiles are whole vectors. */
    const int64_t ld = s.g == 1 ? (s.co + 15) / 16 * 16 : s.co, ldw = s.g == 1 ? ld : cog;
    cl_mem dwtm = NULL;
    const size_t dwtb = (size_t)(s.g * ckk * ldw) * sizeof(float);
    if ((st = cl16__dev_alloc(ctx, dwtb, "conv2d float weight-gradient sums", &dwtm)))
        return st;
    {
        const bww_args a = {&s, p, x, dy, tkern, ld, ldw, dwtm};
        int algo = ALGO_IM2COL, done = 0;
        if (implicit_ok(&s, p)) {
            int64_t key[KEY_LEN];
            shape_key(&s, p, KEY_BWD_W, key);
            static const int cand[3] = {ALGO_IM2COL, ALGO_IMPLICIT, ALGO_IMPLICIT_DOT};
            st = choose(ctx, key, bww_algo, &a, cand, 3, &algo, &done);
        }
        if (!st && !done)
            st = bww_algo(ctx, algo, &a);
    }
    if (!st) {
        cl_kernel kern = skern;
        cl_int co = (cl_int)s.co, ick = (cl_int)ckk, g = (cl_int)s.g, ildw = (cl_int)ldw;
        cl_int err = 0;
        cl_uint ai = 0;
        ARG(dwtm);
        ARG(dw->mem);
        ARG(co);
        ARG(ick);
        ARG(g);
        ARG(ildw);
        ARG(beta);
        size_t local = 8, global = ((size_t)dw->numel + 7) / 8 * 8;
        if (!err)
            err = cl16__enqueue(ctx, kern, 1, &global, &local);
        if (err)
            st = cl16__cl_fail(ctx, err, "conv2d: storing the weight gradient");
        else
            cl16__count(ctx, 0.0,
                        (double)dw->numel * ((double)sizeof(float) + (double)cl16_dtype_size(s.dt) *
                                                                         (beta != 0.0f ? 2.0 : 1.0)));
    }
    cl16__dev_free(ctx, dwtm, dwtb);
    if (st || !dbias)
        return st;

    cl_int n = (cl_int)s.n, co = (cl_int)s.co, ihw = (cl_int)hw;
    cl_int err = 0;
    cl_uint ai = 0;
    cl_kernel kern = bkern;
    ARG(dy->mem);
    ARG(dbias->mem);
    ARG(n);
    ARG(co);
    ARG(ihw);
    ARG(beta);
    size_t local = 8, global = ((size_t)s.co + local - 1) / local * local;
    if (!err)
        err = cl16__enqueue(ctx, kern, 1, &global, &local);
    if (err)
        return cl16__cl_fail(ctx, err, "conv2d: bias gradient");
    const double es = (double)cl16_dtype_size(s.dt), ndy = (double)(s.n * s.co * hw);
    cl16__count(ctx, ndy, es * (ndy + (double)s.co * (beta != 0.0f ? 2.0 : 1.0)));
    return CL16_OK;
}
