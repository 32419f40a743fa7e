/* bench.c (CLI) - `cl16 bench gemm`: GFLOP/s of cl16's f16 and f32 GEMM, CLBlast's
 * SGEMM/HGEMM (default and device-tuned parameters) and OpenBLAS SGEMM side by side,
 * on square and LeNet-5/ResNet-20 shapes. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifdef CL16_HAVE_OPENBLAS
#include <cblas.h>
#endif

#include "cli/bench_util.h"
#include "cli/cli.h"

/* Why the measurement is shaped like this (docs/benchmarks.md has the figures):
 *  - every peer runs on the same inputs, in the same process, one right after
 *    the other, so the ratios share the machine's load even where absolute
 *    times do not repeat on a shared machine;
 *  - the first call of each peer builds its kernels; it is timed on its own;
 *  - the inputs are f16-representable numbers in [-1, 1), so the f16 and f32
 *    peers see the same matrices and one float64 reference serves both; only
 *    the rounding of the output differs (2^-11 for f16, 2^-24 for f32);
 *  - C is filled with a sentinel before each peer, so a peer that writes
 *    nothing cannot pass on the previous peer's result;
 *  - the CLBlast peers with parameters from CLBlast's own tuner run in a second
 *    pass over the shapes, after every other peer: CLBlast 1.5 cannot undo
 *    CLBlastOverrideParameters, so the default peers must have run before. */

#define SENTINEL 777.0f   /* exactly representable in half and float */
#define BATCH 128         /* training batch of the network shapes */
#define FULL_CHECK_COST 3e7 /* multiply-adds of a full reference below which every C entry is checked */
#define SAMPLES 2000      /* C entries checked above it */

enum { P_F16, P_F32, P_CLB_S, P_CLB_H, P_BLAS, P_CLBT_S, P_CLBT_H, NPEER };
static const char *peer_key[NPEER] = {"cl16_f16", "cl16_f32", "clblast_sgemm", "clblast_hgemm",
                                      "openblas_sgemm", "clblast_tuned_sgemm",
                                      "clblast_tuned_hgemm"};
static const char *peer_label[NPEER] = {"cl16 f16", "cl16 f32", "CLBlast S", "CLBlast H",
                                        "OpenBLAS", "CLBt S", "CLBt H"};
#define IS_TUNED(p) ((p) == P_CLBT_S || (p) == P_CLBT_H)

typedef enum { RS_NONE, RS_OK, RS_UNSUPPORTED, RS_NOT_BUILT, RS_FAILED, RS_ERROR } rstate;
static const char *rstate_name[] = {"skipped", "ok", "unsupported", "not built", "FAILED", "error"};

typedef struct shape {
    char name[64];
    int ta, tb;
    int64_t m, n, k, batch;
    int a_shared, b_shared, reduce; /* A stride 0, B stride 0, C stride 0 (batch-reduce) */
} shape;

typedef struct result {
    rstate st;
    double gflops, err_ratio; /* gflops from the median wall time per call */
    bench_stats t;
    int exit_code; /* non-zero when this peer makes the command fail */
    char reason[320];
} result;

typedef struct row {
    shape sh;
    result r[NPEER];
    char plan[2][200]; /* f16, f32 */
} row;

typedef struct opts {
    int quick, reps; /* reps 0: sized to the time budget */
    double target_s;
    int max_reps;
    const char *shapes;
    cl16_peaks pk; /* measured at the start of the run, or read (--peaks) */
    const char *peaks_from;
} opts;

/* Layout of one shape's operands, in elements. */
typedef struct layout {
    int64_t ar, ac, br, bc;             /* stored rows x columns of one A and one B */
    int64_t lda, ldb, ldc;
    int64_t a_stride, b_stride, c_stride;
    size_t na, nb, nc;                  /* elements of the whole A, B, C buffers */
    int64_t ktot;                       /* products summed into one C entry */
} layout;

/* The C entries checked and their float64 reference values. */
typedef struct check {
    size_t count;
    int64_t *idx;
    double *ref, *mag; /* mag: sum of |products|, the scale of the rounding error */
} check;

/* ---- shapes ------------------------------------------------------------------ */

typedef struct shape_list {
    shape *v;
    int n, cap;
} shape_list;

static int push_shape(shape_list *l, const shape *s) {
    if (l->n == l->cap) {
        int cap = l->cap ? 2 * l->cap : 64;
        shape *v = realloc(l->v, (size_t)cap * sizeof *v);
        if (!v) return -1;
        l->v = v, l->cap = cap;
    }
    l->v[l->n++] = *s;
    return 0;
}

static int add_shape(shape_list *l, const char *name, int ta, int tb, int64_t m, int64_t n,
                     int64_t k, int64_t batch, int a_shared, int b_shared, int reduce) {
    shape s;
    memset(&s, 0, sizeof s);
    snprintf(s.name, sizeof s.name, "%s", name);
    s.ta = ta, s.tb = tb, s.m = m, s.n = n, s.k = k, s.batch = batch;
    s.a_shared = a_shared, s.b_shared = b_shared, s.reduce = reduce;
    return push_shape(l, &s);
}

/* A convolution as cl16 runs it on a CPU: im2col per image, batched over the
 * images; backward-weights summed over chunks of images whose float columns
 * and dy^T take about 1.5 MB (cl16__conv_bww_images in src/ops/conv.c; on
 * other devices the chunks are larger), Cout padded to 16. The first layer of a network needs no input gradient, so no backward-data. */
static int add_conv(shape_list *l, const char *layer, int64_t cout, int64_t hw, int64_t ckk,
                    int first) {
    char nm[64];
    snprintf(nm, sizeof nm, "%s.fwd", layer); /* C[Cout x HW] = W[Cout x CKK] * col, W shared */
    if (add_shape(l, nm, 0, 0, cout, hw, ckk, BATCH, 1, 0, 0)) return -1;
    snprintf(nm, sizeof nm, "%s.bwd_data", layer); /* dcol[CKK x HW] = W^T * dY */
    if (!first && add_shape(l, nm, 1, 0, ckk, hw, cout, BATCH, 1, 0, 0)) return -1;
    snprintf(nm, sizeof nm, "%s.bwd_w", layer); /* dW^T[CKK x Cout] = sum col * dY^T */
    const int64_t ld = (cout + 15) / 16 * 16, nb = (int64_t)(1536 << 10) / ((ckk + ld) * hw * 4);
    return add_shape(l, nm, 0, 0, ckk, ld, hw, nb < 2 ? 2 : nb, 0, 0, 1);
}

/* A Linear layer with PyTorch's weight layout (out x in) at batch 128. */
static int add_linear(shape_list *l, const char *layer, int64_t in, int64_t out) {
    char nm[64];
    snprintf(nm, sizeof nm, "%s.fwd", layer); /* Y[B x out] = X[B x in] * W^T */
    if (add_shape(l, nm, 0, 1, BATCH, out, in, 1, 0, 0, 0)) return -1;
    snprintf(nm, sizeof nm, "%s.bwd_data", layer); /* dX[B x in] = dY * W */
    if (add_shape(l, nm, 0, 0, BATCH, in, out, 1, 0, 0, 0)) return -1;
    snprintf(nm, sizeof nm, "%s.bwd_w", layer); /* dW[out x in] = dY^T * X */
    return add_shape(l, nm, 1, 0, out, in, BATCH, 1, 0, 0, 0);
}

static int add_nets(shape_list *l) {
    /* LeNet-5 on 28x28x1: conv1 5x5 pad 2 (28x28 out), pool, conv2 5x5 (10x10 out). */
    if (add_conv(l, "lenet5.conv1", 6, 784, 25, 1) || add_conv(l, "lenet5.conv2", 16, 100, 150, 0) ||
        add_linear(l, "lenet5.fc1", 400, 120) || add_linear(l, "lenet5.fc2", 120, 84) ||
        add_linear(l, "lenet5.fc3", 84, 10))
        return -1;
    /* ResNet-20 on 32x32x3: three stages of 16/32/64 channels at 32x32/16x16/8x8;
     * "down" is a stage's first (stride 2) conv, "shortcut" its 1x1 projection. */
    if (add_conv(l, "resnet20.conv1", 16, 1024, 27, 1) ||
        add_conv(l, "resnet20.layer1.conv", 16, 1024, 144, 0) ||
        add_conv(l, "resnet20.layer2.down", 32, 256, 144, 0) ||
        add_conv(l, "resnet20.layer2.conv", 32, 256, 288, 0) ||
        add_conv(l, "resnet20.layer2.shortcut", 32, 256, 16, 0) ||
        add_conv(l, "resnet20.layer3.down", 64, 64, 288, 0) ||
        add_conv(l, "resnet20.layer3.conv", 64, 64, 576, 0) ||
        add_conv(l, "resnet20.layer3.shortcut", 64, 64, 32, 0) ||
        add_linear(l, "resnet20.fc", 64, 10))
        return -1;
    return 0;
}

/* One of each transpose, shared A and batch-reduce, small and large: the quick set. */
static const char *quick_nets[] = {"lenet5.conv2.fwd", "lenet5.conv2.bwd_w", "lenet5.fc1.fwd",
                                   "resnet20.layer2.conv.bwd_data", "resnet20.fc.bwd_w"};

static int build_shapes(shape_list *l, const opts *o) {
    int sq = strcmp(o->shapes, "nets") != 0, nets = strcmp(o->shapes, "squares") != 0;
    static const int64_t sizes[] = {256, 512, 1024, 2048};
    for (int i = 0; sq && i < (o->quick ? 2 : 4); i++) {
        char nm[64];
        snprintf(nm, sizeof nm, "square.%lld", (long long)sizes[i]);
        if (add_shape(l, nm, 0, 0, sizes[i], sizes[i], sizes[i], 1, 0, 0, 0)) return -1;
    }
    if (!nets) return 0;
    shape_list all = {0};
    if (add_nets(&all)) {
        free(all.v);
        return -1;
    }
    for (int i = 0; i < all.n; i++) {
        int keep = !o->quick;
        for (size_t q = 0; !keep && q < sizeof quick_nets / sizeof *quick_nets; q++)
            keep = !strcmp(all.v[i].name, quick_nets[q]);
        if (keep && push_shape(l, &all.v[i])) {
            free(all.v);
            return -1;
        }
    }
    free(all.v);
    return 0;
}

static layout make_layout(const shape *s) {
    layout L;
    L.ar = s->ta ? s->k : s->m, L.ac = s->ta ? s->m : s->k;
    L.br = s->tb ? s->n : s->k, L.bc = s->tb ? s->k : s->n;
    L.lda = L.ac, L.ldb = L.bc, L.ldc = s->n;
    L.a_stride = s->a_shared || s->batch == 1 ? 0 : L.ar * L.ac;
    L.b_stride = s->b_shared || s->batch == 1 ? 0 : L.br * L.bc;
    L.c_stride = s->reduce || s->batch == 1 ? 0 : s->m * s->n;
    L.na = (size_t)(L.ar * L.ac * (s->a_shared ? 1 : s->batch));
    L.nb = (size_t)(L.br * L.bc * (s->b_shared ? 1 : s->batch));
    L.nc = (size_t)(s->m * s->n * (s->reduce ? 1 : s->batch));
    L.ktot = s->k * (s->reduce ? s->batch : 1);
    return L;
}

static double shape_flops(const shape *s) {
    return 2.0 * (double)s->m * (double)s->n * (double)s->k * (double)s->batch;
}

static int is_square(const shape *s, int64_t n) {
    return !s->ta && !s->tb && s->batch == 1 && s->m == n && s->n == n && s->k == n;
}

/* ---- data and the float64 reference -------------------------------------------- */

static void ref_entry(const shape *s, const layout *L, const float *a, const float *b, int64_t e,
                      double *ref, double *mag) {
    int64_t mn = s->m * s->n, b0 = 0, b1 = s->batch;
    if (!s->reduce) b0 = e / mn, b1 = b0 + 1;
    int64_t i = (e % mn) / s->n, j = e % s->n;
    double r = 0, g = 0;
    for (int64_t q = b0; q < b1; q++) {
        const float *aq = a + q * L->a_stride, *bq = b + q * L->b_stride;
        for (int64_t p = 0; p < s->k; p++) {
            double x = aq[s->ta ? p * s->m + i : i * s->k + p];
            double y = bq[s->tb ? j * s->k + p : p * s->n + j];
            r += x * y;
            g += fabs(x * y);
        }
    }
    *ref = r, *mag = g;
}

static void check_free(check *c) {
    free(c->idx), free(c->ref), free(c->mag);
    memset(c, 0, sizeof *c);
}

/* Every entry of small results; a deterministic random sample of large ones. */
static int check_init(check *c, const shape *s, const layout *L, const float *a, const float *b) {
    int full = (double)L->nc * (double)L->ktot <= FULL_CHECK_COST || L->nc <= SAMPLES;
    c->count = full ? L->nc : SAMPLES;
    c->idx = malloc(c->count * sizeof *c->idx);
    c->ref = malloc(c->count * sizeof *c->ref);
    c->mag = malloc(c->count * sizeof *c->mag);
    if (!c->idx || !c->ref || !c->mag) return -1;
    uint64_t x = 0x9E3779B97F4A7C15ull;
    for (size_t i = 0; i < c->count; i++) {
        if (full) c->idx[i] = (int64_t)i;
        else {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            c->idx[i] = (int64_t)(x % (uint64_t)L->nc);
        }
        ref_entry(s, L, a, b, c->idx[i], &c->ref[i], &c->mag[i]);
    }
    return 0;
}

/* Largest |C - ref| / bound over the checked entries (NaN -> INFINITY), with
 * bound = ktot * 2^-24 * sum|products| (float accumulation) + u_out * |ref| (one
 * rounding on store) + half a subnormal spacing. A result that is all zero where
 * the reference is not, or still holds the sentinel, fails whatever its ratio;
 * why goes into why (empty when it passes). */
static double verify(const check *c, const float *got, double u_acc, double u_out, const layout *L,
                     char *why, size_t why_len) {
    /* Half a subnormal spacing per rounding that can land in the subnormals. */
    double u_abs = u_out > 0x1p-20 ? 0x1p-25 : 0x1p-150;
    if (u_acc > 0x1p-20) u_abs *= (double)L->ktot + 1;
    double worst = 0;
    size_t nonzero = 0, ref_nonzero = 0, sentinel = 0, bad = 0, first_bad = 0;
    for (size_t i = 0; i < c->count; i++) {
        double g = got[c->idx[i]], r = c->ref[i];
        double bound = (double)L->ktot * u_acc * c->mag[i] * 1.01 + u_out * fabs(r) + u_abs;
        double q = fabs(g - r) / bound;
        if (!(q == q) || isinf(q)) q = INFINITY;
        if (q > 1.0 && !bad++) first_bad = i;
        if (q > worst) worst = q;
        nonzero += g != 0.0, ref_nonzero += r != 0.0;
        sentinel += g == SENTINEL;
    }
    *why = 0;
    if (sentinel == c->count)
        snprintf(why, why_len, "C was not written (still holds the sentinel)");
    else if (ref_nonzero && !nonzero)
        snprintf(why, why_len, "C is all zero");
    else if (bad) {
        size_t i = first_bad;
        snprintf(why, why_len, "%zu of %zu checked entries above the error bound, worst %.3g x; "
                 "e.g. C[%lld] = %.9g, reference %.9g", bad, c->count, worst, (long long)c->idx[i],
                 (double)got[c->idx[i]], c->ref[i]);
    }
    return *why ? (worst > 1.0 ? worst : INFINITY) : worst;
}

/* ---- timing ------------------------------------------------------------------- */

/* Device calls for bench_time_calls (bench_util.c). */
typedef struct dev_call {
    cl16_ctx *ctx;
    const cl16_gemm_desc *d;
    cl16_status s;
} dev_call;

static int dev_gemm(void *u) {
    dev_call *c = u;
    return (int)(c->s = cl16_gemm_ex(c->ctx, c->d));
}
static int dev_finish(void *u) {
    dev_call *c = u;
    return (int)(c->s = cl16_ctx_finish(c->ctx));
}

static void make_desc(cl16_gemm_desc *d, const shape *s, const layout *L, const cl16_tensor *A,
                      const cl16_tensor *B, cl16_tensor *C, cl16_gemm_backend be) {
    cl16_gemm_desc_init(d);
    d->trans_a = s->ta, d->trans_b = s->tb;
    d->m = s->m, d->n = s->n, d->k = s->k, d->batch = s->batch;
    d->alpha = 1.0f, d->beta = 0.0f;
    d->a = A, d->lda = L->lda, d->a_stride = L->a_stride;
    d->b = B, d->ldb = L->ldb, d->b_stride = L->b_stride;
    d->c = C, d->ldc = L->ldc, d->c_stride = L->c_stride;
    d->backend = be;
}

static void finish_result(result *r, const shape *s, const check *chk, const float *got,
                          double u_acc, double u_out, const layout *L, const bench_stats *t) {
    r->t = *t;
    r->gflops = shape_flops(s) / t->median_s * 1e-9;
    r->err_ratio = verify(chk, got, u_acc, u_out, L, r->reason, sizeof r->reason);
    r->st = *r->reason ? RS_FAILED : RS_OK;
    if (*r->reason) r->exit_code = cli_exit_code(CL16_ERR_NUMERIC);
}

static void run_device(cl16_ctx *ctx, const shape *s, const layout *L, const check *chk,
                       cl16_dtype dt, cl16_gemm_backend be, const cl16_tensor *A,
                       const cl16_tensor *B, cl16_tensor *C, float *host_c, const opts *o,
                       result *r) {
    cl16_gemm_desc d;
    make_desc(&d, s, L, A, B, C, be);
    dev_call c = {ctx, &d, CL16_OK};
    /* Kernel times only where every kernel of the call is cl16's own. */
    bench_runner run = {dev_gemm, dev_finish, &c, be == CL16_GEMM_OWN ? ctx : NULL, 0};
    bench_stats t;
    if ((c.s = cl16_tensor_fill(C, SENTINEL)) == CL16_OK)
        bench_time_calls(&run, o->quick, o->reps, o->target_s, o->max_reps, &t);
    if (c.s == CL16_OK) c.s = cl16_tensor_read_f32(C, host_c, L->nc);
    /* Only a peer may decline a shape (CLBlast's HGEMM without cl_khr_fp16); cl16's
     * own kernels run every shape in both dtypes, so for them it is an error. */
    if (c.s == CL16_ERR_UNSUPPORTED && be != CL16_GEMM_OWN) {
        r->st = RS_UNSUPPORTED;
        const char *why = cl16_ctx_last_error(ctx);
        snprintf(r->reason, sizeof r->reason, "%s", *why ? why : cl16_status_str(c.s));
        return;
    }
    if (c.s) {
        r->st = RS_ERROR;
        r->exit_code = cli_exit_code(c.s);
        snprintf(r->reason, sizeof r->reason, "%s: %s", cl16_status_str(c.s),
                 cl16_ctx_last_error(ctx));
        return;
    }
    /* CLBlast's HGEMM sums in half: held to the half-accumulation bound. */
    const double u_acc = be == CL16_GEMM_CLBLAST && dt == CL16_F16 ? 0x1p-11 : 0x1p-24;
    finish_result(r, s, chk, host_c, u_acc, dt == CL16_F16 ? 0x1p-11 : 0x1p-24, L, &t);
}

#ifdef CL16_HAVE_OPENBLAS
typedef struct blas_call {
    const shape *s;
    const layout *L;
    const float *a, *b;
    float *c;
} blas_call;

/* A batch is a loop of SGEMMs; a batch-reduce sums into one C with beta = 1. */
static int blas_gemm(void *u) {
    const blas_call *x = u;
    const shape *s = x->s;
    const layout *L = x->L;
    for (int64_t q = 0; q < s->batch; q++)
        cblas_sgemm(CblasRowMajor, s->ta ? CblasTrans : CblasNoTrans,
                    s->tb ? CblasTrans : CblasNoTrans, (blasint)s->m, (blasint)s->n,
                    (blasint)s->k, 1.0f, x->a + q * L->a_stride, (blasint)L->lda,
                    x->b + q * L->b_stride, (blasint)L->ldb, s->reduce && q ? 1.0f : 0.0f,
                    x->c + q * L->c_stride, (blasint)L->ldc);
    return 0;
}
static int blas_finish(void *u) {
    (void)u;
    return 0;
}
#endif

static void run_blas(const shape *s, const layout *L, const check *chk, const float *a,
                     const float *b, float *c, const opts *o, result *r) {
#ifdef CL16_HAVE_OPENBLAS
    for (size_t i = 0; i < L->nc; i++) c[i] = SENTINEL;
    blas_call x = {s, L, a, b, c};
    bench_runner run = {blas_gemm, blas_finish, &x, NULL, 0};
    bench_stats t;
    bench_time_calls(&run, o->quick, o->reps, o->target_s, o->max_reps, &t);
    finish_result(r, s, chk, c, 0x1p-24, 0x1p-24, L, &t);
#else
    (void)s, (void)L, (void)chk, (void)a, (void)b, (void)c, (void)o;
    r->st = RS_NOT_BUILT;
    snprintf(r->reason, sizeof r->reason,
             "cl16 was configured without OpenBLAS (pkg-config found no 'openblas')");
#endif
}

/* OpenBLAS picks its kernels from the CPU it recognises; on a virtual CPU it may
 * not recognise (this project's development VM reports "Intel(R) Xeon(R)
 * Processor") it falls back to its Prescott (SSE3) kernels, 3-8x slower than the
 * AVX-512 ones, which would make it a weak peer. Say so rather than hide it. */
static void blas_describe(char *buf, size_t len, int warn) {
#ifdef CL16_HAVE_OPENBLAS
    const char *core = openblas_get_corename();
    snprintf(buf, len, "OpenBLAS %s kernels, %d threads", core ? core : "?",
             openblas_get_num_threads());
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
    if (warn && core && (!strcmp(core, "Prescott") || !strcmp(core, "Core2") ||
                         !strcmp(core, "Nehalem") || !strcmp(core, "Sandybridge")) &&
        (__builtin_cpu_supports("avx2") || __builtin_cpu_supports("avx512f")))
        fprintf(stderr, "cl16 bench gemm: note: OpenBLAS runs its %s kernels on a CPU with %s; "
                        "it did not recognise the CPU. OPENBLAS_CORETYPE=%s selects the fast ones "
                        "(bench/gemm.sh sets it).\n", core,
                __builtin_cpu_supports("avx512f") ? "AVX-512" : "AVX2",
                __builtin_cpu_supports("avx512f") ? "SkylakeX" : "Haswell");
#endif
#else
    (void)warn;
    snprintf(buf, len, "OpenBLAS not built");
#endif
}

/* ---- one shape, all peers -------------------------------------------------------- */

static void fmt_result(char *buf, size_t len, const result *r, const cl16_peaks *pk) {
    if (r->st == RS_OK) {
        char kern[48] = "";
        if (r->t.kernel_s == r->t.kernel_s)
            snprintf(kern, sizeof kern, ", kernel %.3f ms", r->t.kernel_s * 1e3);
        snprintf(buf, len, "%.2f GFLOP/s = %.1f%% of peak (median %.3f ms/call [%.3f-%.3f] over %d "
                 "blocks x %d calls%s, first call %.3f s, error %.2f of bound)", r->gflops,
                 bench_pct(r->gflops, pk->f32_gflops), r->t.median_s * 1e3, r->t.min_s * 1e3,
                 r->t.max_s * 1e3, r->t.blocks, r->t.reps, kern, r->t.first_s, r->err_ratio);
    } else snprintf(buf, len, "%s%s%s", rstate_name[r->st], *r->reason ? ": " : "", r->reason);
}

/* tuned: 0 runs every peer but the CLBlast tuned ones, 1 only those whose
 * parameters were applied (tuned_ok[f16, f32]); the others keep their result. */
static cl16_status run_shape(cl16_ctx *ctx, row *w, int index, int total, const opts *o, int tuned,
                             const int tuned_ok[2]) {
    const shape *s = &w->sh;
    layout L = make_layout(s);
    check chk = {0};
    cl16_tensor *T[2][3] = {{NULL}}; /* [f16, f32][A, B, C] */
    float *a = malloc(L.na * sizeof *a), *b = malloc(L.nb * sizeof *b), *c = malloc(L.nc * sizeof *c);
    cl16_status st = CL16_ERR_OUT_OF_MEMORY;
    if (!a || !b || !c) goto out;
    bench_fill_random(a, L.na, 1 + (uint32_t)index, 1);
    bench_fill_random(b, L.nb, 1001 + (uint32_t)index, 1);
    fprintf(stderr, "[%d/%d]%s %s: %s%s %lldx%lldx%lld batch %lld%s, reference for %s entries...\n",
            index + 1, total, tuned ? " (CLBlast tuned)" : "", s->name, s->ta ? "T" : "N", s->tb ? "T" : "N", (long long)s->m,
            (long long)s->n, (long long)s->k, (long long)s->batch,
            s->reduce ? " (reduce)" : s->a_shared ? " (shared A)" : "",
            (double)L.nc * (double)L.ktot <= FULL_CHECK_COST || L.nc <= SAMPLES ? "all" : "sampled");
    if (check_init(&chk, s, &L, a, b)) goto out;
    static const cl16_dtype dts[2] = {CL16_F16, CL16_F32};
    for (int t = 0; t < 2; t++) {
        int64_t da = (int64_t)L.na, db = (int64_t)L.nb, dc = (int64_t)L.nc;
        if ((st = cl16_tensor_create(ctx, dts[t], 1, &da, &T[t][0])) ||
            (st = cl16_tensor_create(ctx, dts[t], 1, &db, &T[t][1])) ||
            (st = cl16_tensor_create(ctx, dts[t], 1, &dc, &T[t][2])) ||
            (st = cl16_tensor_write_f32(T[t][0], a, L.na)) ||
            (st = cl16_tensor_write_f32(T[t][1], b, L.nb)))
            goto out;
        cl16_gemm_desc d;
        make_desc(&d, s, &L, T[t][0], T[t][1], T[t][2], CL16_GEMM_OWN);
        cl16_status ps = cl16_gemm_plan(ctx, &d, w->plan[t], sizeof w->plan[t]);
        if (ps) snprintf(w->plan[t], sizeof w->plan[t], "(no plan: %s)", cl16_status_str(ps));
    }
    st = CL16_OK;
    for (int p = 0; p < NPEER; p++) {
        result *r = &w->r[p];
        if (IS_TUNED(p) != tuned || (tuned && !tuned_ok[p == P_CLBT_H ? 0 : 1])) continue;
        if (p == P_BLAS) {
            run_blas(s, &L, &chk, a, b, c, o, r);
            /* OpenBLAS's idle threads spin (sched_yield) for ~0.1 s before they
             * sleep; the next shape's first peer must not share the cores with them. */
            if (r->st != RS_NOT_BUILT) nanosleep(&(struct timespec){0, 200000000}, NULL);
        } else {
            int t = p == P_F16 || p == P_CLB_H || p == P_CLBT_H ? 0 : 1;
            run_device(ctx, s, &L, &chk, dts[t], p <= P_F32 ? CL16_GEMM_OWN : CL16_GEMM_CLBLAST,
                       T[t][0], T[t][1], T[t][2], c, o, r);
        }
        char line[600];
        fmt_result(line, sizeof line, r, &o->pk);
        fprintf(stderr, "    %-10s %s\n", peer_label[p], line);
    }
out:
    for (int t = 0; t < 2; t++)
        for (int i = 0; i < 3; i++) cl16_tensor_free(T[t][i]);
    check_free(&chk);
    free(a), free(b), free(c);
    return st;
}

/* ---- reports --------------------------------------------------------------------- */

static double ratio(const row *w, int p, int q) {
    return w->r[p].st == RS_OK && w->r[q].st == RS_OK ? w->r[p].gflops / w->r[q].gflops : NAN;
}

static void cell(char *buf, size_t len, const result *r, double peak) {
    const double pct = bench_pct(r->gflops, peak);
    switch (r->st) {
    case RS_OK:
        if (pct == pct) snprintf(buf, len, "%.1f %3.0f%%", r->gflops, pct);
        else snprintf(buf, len, "%.1f", r->gflops);
        break;
    case RS_UNSUPPORTED: snprintf(buf, len, "unsupp."); break;
    case RS_NOT_BUILT: snprintf(buf, len, "not built"); break;
    case RS_FAILED: snprintf(buf, len, "FAILED"); break;
    case RS_ERROR: snprintf(buf, len, "error"); break;
    default: snprintf(buf, len, "-"); break;
    }
}

static void rcell(char *buf, size_t len, double x) {
    if (x == x) snprintf(buf, len, "%.2f", x);
    else snprintf(buf, len, "-");
}

typedef struct summary {
    double vs_clblast, vs_openblas, worst_f16_f32, vs_clblast_tuned;
    const char *worst_name;
} summary;

static summary summarise(const row *rows, int n) {
    summary s = {NAN, NAN, NAN, NAN, NULL};
    for (int i = 0; i < n; i++) {
        if (is_square(&rows[i].sh, 1024)) {
            s.vs_clblast = ratio(&rows[i], P_F16, P_CLB_S);
            s.vs_clblast_tuned = ratio(&rows[i], P_F16, P_CLBT_S);
            s.vs_openblas = ratio(&rows[i], P_F16, P_BLAS);
        }
        double x = ratio(&rows[i], P_F16, P_F32);
        if (x == x && !(x >= s.worst_f16_f32)) s.worst_f16_f32 = x, s.worst_name = rows[i].sh.name;
    }
    return s;
}

static void goal_line(FILE *f, const char *what, double x, const char *unit, double goal,
                      const char *why_missing) {
    if (x == x) fprintf(f, "  %s: %.2f%s (goal >= %g%s) %s\n", what, x, unit, goal, unit,
                        x >= goal ? "met" : "NOT met");
    else fprintf(f, "  %s: n/a (%s)\n", what, why_missing);
}

static void print_table(const row *rows, int n, const cl16_ctx *ctx, const cl16_peaks *pk,
                        char tuned_info[2][600]) {
    const cl16_device_info *d = cl16_ctx_device(ctx);
    char blas[128];
    blas_describe(blas, sizeof blas, 0);
    printf("\nGEMM GFLOP/s on %s (%s, driver %s), half path %s; cl16 %s; %s\n", d->name,
           d->platform, d->driver, cl16_ctx_half_path(ctx) == CL16_HALF_NATIVE ? "native" : "storage",
           cl16_version(), blas);
    printf("each peer: GFLOP/s from the median time per call, and %% of the f32 multiply-add peak "
           "(%.1f GFLOP/s)\n", pk->f32_gflops);
    printf("%-34s %2s %5s %5s %5s %5s %13s %13s %13s %13s %13s %13s %13s %7s %7s %7s %8s\n", "shape",
           "op", "M", "N", "K", "batch", peer_label[0], peer_label[1], peer_label[2], peer_label[3],
           peer_label[4], peer_label[5], peer_label[6], "f16/f32", "f16/CLB", "f16/OB", "f16/CLBt");
    for (int i = 0; i < n; i++) {
        const row *w = &rows[i];
        char cl[NPEER][32], rt[4][16];
        for (int p = 0; p < NPEER; p++) cell(cl[p], sizeof cl[p], &w->r[p], pk->f32_gflops);
        rcell(rt[0], sizeof rt[0], ratio(w, P_F16, P_F32));
        rcell(rt[1], sizeof rt[1], ratio(w, P_F16, P_CLB_S));
        rcell(rt[2], sizeof rt[2], ratio(w, P_F16, P_BLAS));
        rcell(rt[3], sizeof rt[3], ratio(w, P_F16, P_CLBT_S));
        printf("%-34s %s%s %5lld %5lld %5lld %5lld%s %13s %13s %13s %13s %13s %13s %13s %7s %7s %7s %8s\n",
               w->sh.name, w->sh.ta ? "T" : "N", w->sh.tb ? "T" : "N", (long long)w->sh.m,
               (long long)w->sh.n, (long long)w->sh.k, (long long)w->sh.batch,
               w->sh.reduce ? "r" : w->sh.a_shared ? "s" : " ", cl[0], cl[1], cl[2], cl[3], cl[4],
               cl[5], cl[6], rt[0], rt[1], rt[2], rt[3]);
    }
    printf("batch: s = one A shared by all entries (stride 0), r = batch-reduce into one C\n");
    printf("CLBt = CLBlast with Xgemm parameters from CLBlast's own tuner (scripts/tune-clblast.sh)\n");
    for (int t = 1; t >= 0; t--)
        if (tuned_info[t][0]) printf("  %s: %s\n", t ? "CLBt S" : "CLBt H", tuned_info[t]);
    printf("\ncl16 plans (f16 | f32):\n");
    for (int i = 0; i < n; i++)
        printf("  %-34s %s | %s\n", rows[i].sh.name, rows[i].plan[0], rows[i].plan[1]);
    /* Each distinct reason for a peer not measured or failing, once. */
    int header = 0;
    for (int p = 0; p < NPEER; p++)
        for (int i = 0; i < n; i++) {
            const result *r = &rows[i].r[p];
            if (r->st == RS_OK || (r->st == RS_NONE && !*r->reason)) continue;
            int seen = 0;
            for (int j = 0; j < i && !seen; j++)
                seen = rows[j].r[p].st == r->st && !strcmp(rows[j].r[p].reason, r->reason);
            if (seen) continue;
            if (!header++) printf("\nnotes:\n");
            printf("  %s %s (%s)%s%s\n", peer_label[p], rstate_name[r->st], rows[i].sh.name,
                   *r->reason ? ": " : "", r->reason);
        }
    summary s = summarise(rows, n);
    printf("\ngoals on this device (computed from the rows above):\n");
    goal_line(stdout, "f16 1024^3 vs CLBlast SGEMM", s.vs_clblast, "x", 3,
              "needs square.1024 measured with both peers");
    goal_line(stdout, "f16 1024^3 vs OpenBLAS", s.vs_openblas, "x", 0.5,
              "needs square.1024 measured with both peers");
    goal_line(stdout, "f16 1024^3 vs CLBlast SGEMM tuned for the device", s.vs_clblast_tuned, "x", 1,
              "needs square.1024 measured with cl16 f16 and CLBt S");
    char what[128];
    snprintf(what, sizeof what, "worst f16/f32 over listed shapes%s%s%s",
             s.worst_name ? " (" : "", s.worst_name ? s.worst_name : "", s.worst_name ? ")" : "");
    goal_line(stdout, what, s.worst_f16_f32, "", 0.9, "no shape with both cl16 rows measured");
}

static void json_result(FILE *f, const result *r, const cl16_peaks *pk) {
    fprintf(f, "{\"status\": ");
    bench_json_str(f, rstate_name[r->st]);
    int timed = r->st == RS_OK || r->st == RS_FAILED;
    fprintf(f, ", \"gflops\": ");
    bench_json_num(f, timed ? r->gflops : NAN);
    fprintf(f, ", \"pct_peak\": ");
    bench_json_num(f, timed ? bench_pct(r->gflops, pk->f32_gflops) : NAN);
    fprintf(f, ", \"pct_peak_f16\": ");
    bench_json_num(f, timed ? bench_pct(r->gflops, pk->f16_gflops) : NAN);
    bench_json_stats(f, timed ? &r->t : NULL);
    fprintf(f, ", \"max_error_ratio\": ");
    bench_json_num(f, timed ? r->err_ratio : NAN);
    fprintf(f, ", \"reason\": ");
    bench_json_str(f, r->reason);
    fputc('}', f);
}

static void write_json(FILE *f, const row *rows, int n, const cl16_ctx *ctx, const opts *o,
                       char tuned_info[2][600]) {
    bench_json_head(f, "gemm", ctx);
    bench_json_peaks(f, &o->pk, o->peaks_from);
    fprintf(f, ",\n  \"options\": {\"quick\": %s, \"reps\": %d, \"target_s\": %g, \"max_reps\": %d, "
               "\"min_blocks\": %d, \"max_blocks\": %d, \"shapes\": ",
            o->quick ? "true" : "false", o->reps, o->target_s, o->max_reps,
            o->quick ? BENCH_QUICK_BLOCKS : BENCH_MIN_BLOCKS,
            o->quick ? BENCH_QUICK_BLOCKS : BENCH_MAX_BLOCKS);
    bench_json_str(f, o->shapes);
#ifdef CL16_HAVE_OPENBLAS
    fprintf(f, "},\n  \"openblas\": {\"built\": true, \"threads\": %d, \"core\": ",
            openblas_get_num_threads());
    bench_json_str(f, openblas_get_corename());
    fprintf(f, ", \"config\": ");
    bench_json_str(f, openblas_get_config());
    fprintf(f, "},\n");
#else
    fprintf(f, "},\n  \"openblas\": {\"built\": false},\n");
#endif
    fprintf(f, "  \"clblast_tuned\": {\"f32\": ");
    bench_json_str(f, tuned_info[1]);
    fprintf(f, ", \"f16\": ");
    bench_json_str(f, tuned_info[0]);
    fprintf(f, "},\n");
    fprintf(f, "  \"timing\": \"after the warm-up calls (the first one is first_call_s), blocks "
               "of reps calls, each timed by the wall clock with cl16_ctx_finish before it stops; "
               "ms_per_call and gflops from the median block, ms_min and ms_max the fastest and "
               "slowest; kernel_ms the median block's device-busy time per call from OpenCL "
               "profiling events (cl16 peers only: CLBlast and OpenBLAS are null); pct_peak of "
               "the peaks above\",\n  \"verification\": \"float64 reference on every entry of "
               "small results, %d sampled entries of large ones; bound K*u_acc*sum|a*b| + "
               "u_out*|ref| + u_abs with K times batch for a batch-reduce, u_acc 2^-24 (float "
               "accumulation) or 2^-11 (CLBlast HGEMM, which sums in half), u_out 2^-11 (f16) or "
               "2^-24 (f32)\",\n  \"shapes\": [", SAMPLES);
    for (int i = 0; i < n; i++) {
        const row *w = &rows[i];
        const shape *s = &w->sh;
        layout L = make_layout(s);
        fprintf(f, "%s\n    {\"name\": ", i ? "," : "");
        bench_json_str(f, s->name);
        fprintf(f, ", \"trans_a\": %d, \"trans_b\": %d, \"m\": %lld, \"n\": %lld, \"k\": %lld, "
                   "\"batch\": %lld, \"a_stride\": %lld, \"b_stride\": %lld, \"c_stride\": %lld, "
                   "\"flops\": %.0f,\n     \"plan_f16\": ",
                s->ta, s->tb, (long long)s->m, (long long)s->n, (long long)s->k,
                (long long)s->batch, (long long)L.a_stride, (long long)L.b_stride,
                (long long)L.c_stride, shape_flops(s));
        bench_json_str(f, w->plan[0]);
        fprintf(f, ", \"plan_f32\": ");
        bench_json_str(f, w->plan[1]);
        fprintf(f, ",\n     \"peers\": {");
        for (int p = 0; p < NPEER; p++) {
            fprintf(f, "%s\n       ", p ? "," : "");
            bench_json_str(f, peer_key[p]);
            fprintf(f, ": ");
            json_result(f, &w->r[p], &o->pk);
        }
        fprintf(f, "},\n     \"ratios\": {\"f16_f32\": ");
        bench_json_num(f, ratio(w, P_F16, P_F32));
        fprintf(f, ", \"f16_clblast_sgemm\": ");
        bench_json_num(f, ratio(w, P_F16, P_CLB_S));
        fprintf(f, ", \"f16_openblas\": ");
        bench_json_num(f, ratio(w, P_F16, P_BLAS));
        fprintf(f, ", \"f16_clblast_tuned_sgemm\": ");
        bench_json_num(f, ratio(w, P_F16, P_CLBT_S));
        fprintf(f, "}}");
    }
    summary s = summarise(rows, n);
    fprintf(f, "\n  ],\n  \"summary\": {\"f16_1024_vs_clblast_sgemm\": ");
    bench_json_num(f, s.vs_clblast);
    fprintf(f, ", \"goal_f16_1024_vs_clblast_sgemm\": 3, \"f16_1024_vs_openblas\": ");
    bench_json_num(f, s.vs_openblas);
    fprintf(f, ", \"goal_f16_1024_vs_openblas\": 0.5, \"f16_1024_vs_clblast_tuned_sgemm\": ");
    bench_json_num(f, s.vs_clblast_tuned);
    fprintf(f, ", \"goal_f16_1024_vs_clblast_tuned_sgemm\": 1, \"worst_f16_f32\": ");
    bench_json_num(f, s.worst_f16_f32);
    fprintf(f, ", \"worst_f16_f32_shape\": ");
    if (s.worst_name) bench_json_str(f, s.worst_name);
    else fputs("null", f);
    fprintf(f, ", \"goal_worst_f16_f32\": 0.9}\n}\n");
}

/* ---- the command ------------------------------------------------------------------ */

/* Applies the device's tuned CLBlast parameters for f32 and f16 (ok[1], ok[0]);
 * where that is not possible every row's tuned peer says why: "skipped: not
 * tuned" without a file, "unsupported" where CLBlast refuses the precision, an
 * error (failing the command) for a damaged file. Returns whether any applied. */
static int tuned_apply(cl16_ctx *ctx, row *rows, int n, int ok[2], char info[2][600]) {
    for (int t = 0; t < 2; t++) {
        const cl16_dtype dt = t ? CL16_F32 : CL16_F16;
        const int p = t ? P_CLBT_S : P_CLBT_H;
        rstate st = RS_NONE;
        int code = 0;
        char why[320];
        cl16_status s = cl16_clblast_tuned_apply(ctx, dt, info[t], sizeof info[t]);
        if (!s) {
            ok[t] = 1;
            continue;
        }
        info[t][0] = 0;
        snprintf(why, sizeof why, "%s", cl16_ctx_last_error(ctx));
        if (s != CL16_ERR_UNSUPPORTED) st = RS_ERROR, code = cli_exit_code(s);
        else if (strncmp(why, "not tuned", 9)) st = RS_UNSUPPORTED;
        for (int i = 0; i < n; i++) {
            rows[i].r[p].st = st;
            rows[i].r[p].exit_code = code;
            snprintf(rows[i].r[p].reason, sizeof rows[i].r[p].reason, "%s", why);
        }
        fprintf(stderr, "cl16 bench gemm: %s %s: %s\n", peer_label[p], rstate_name[st], why);
    }
    return ok[0] || ok[1];
}

static int bench_gemm(int argc, char **argv, const char *device) {
    opts o = {.target_s = 0.3, .max_reps = 50, .shapes = "all"};
    const char *json = NULL;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--quick")) o.quick = 1;
        else if (v && !strcmp(a, "--json")) json = argv[++i];
        else if (v && !strcmp(a, "--device")) device = argv[++i];
        else if (v && !strcmp(a, "--peaks")) o.peaks_from = argv[++i];
        else if (v && !strcmp(a, "--reps")) {
            char *end;
            long x = strtol(v, &end, 10);
            if (*end || x < 1 || x > 1000) {
                fprintf(stderr, "cl16 bench gemm: --reps must be an integer in 1..1000, got '%s'\n", v);
                return CL16_EXIT_USAGE;
            }
            o.reps = (int)x, i++;
        } else if (v && !strcmp(a, "--shapes")) {
            if (strcmp(v, "squares") && strcmp(v, "nets") && strcmp(v, "all")) {
                fprintf(stderr, "cl16 bench gemm: --shapes must be squares, nets or all, got '%s'\n", v);
                return CL16_EXIT_USAGE;
            }
            o.shapes = argv[++i];
        } else {
            fprintf(stderr, "cl16 bench gemm: unknown or incomplete option '%s'\n", a);
            return CL16_EXIT_USAGE;
        }
    }
    if (o.quick) o.target_s = 0.05, o.max_reps = 5;

    /* Open the JSON output first: a bad path should fail before a long run, not after. */
    bench_out jo;
    int rc = bench_out_open(&jo, json, "bench gemm");
    if (rc)
        return rc;
    shape_list shapes = {0};
    row *rows = NULL;
    cl16_ctx *ctx = NULL;
    rc = build_shapes(&shapes, &o) ? cli_fail(CL16_ERR_OUT_OF_MEMORY, "bench gemm", "") : 0;
    if (!rc && !(rows = calloc((size_t)shapes.n, sizeof *rows)))
        rc = cli_fail(CL16_ERR_OUT_OF_MEMORY, "bench gemm", "");
    if (!rc) rc = cli_ctx(&ctx, device, 0, 1); /* profiling: kernel times */
    if (rc) goto out;
    if ((rc = bench_peaks(ctx, o.quick, o.peaks_from, "bench gemm", &o.pk))) goto out;

    const cl16_device_info *d = cl16_ctx_device(ctx);
    fprintf(stderr, "cl16 bench gemm: %d shapes x %d peers on %s (%s), half path %s%s\n", shapes.n,
            NPEER, d->name, d->platform,
            cl16_ctx_half_path(ctx) == CL16_HALF_NATIVE ? "native" : "storage",
            o.reps ? "" : o.quick ? ", quick" : "");
    char blas[128];
    blas_describe(blas, sizeof blas, 1);
    fprintf(stderr, "cl16 bench gemm: host peer: %s\n", blas);
    static const int no_tuned[2] = {0, 0};
    int tuned_ok[2] = {0, 0};
    char tuned_info[2][600] = {"", ""};
    for (int pass = 0; pass < 2 && !rc; pass++) {
      if (pass == 1 && !tuned_apply(ctx, rows, shapes.n, tuned_ok, tuned_info)) break;
      for (int i = 0; i < shapes.n; i++) {
        rows[i].sh = shapes.v[i];
        cl16_status s = run_shape(ctx, &rows[i], i, shapes.n, &o, pass, pass ? tuned_ok : no_tuned);
        if (s) {
            /* Could not even set the shape up (allocation, upload): every peer is an error. */
            for (int p = 0; p < NPEER; p++) {
                rows[i].r[p].st = RS_ERROR;
                rows[i].r[p].exit_code = cli_exit_code(s);
                snprintf(rows[i].r[p].reason, sizeof rows[i].r[p].reason, "setup: %s: %s",
                         cl16_status_str(s), cl16_ctx_last_error(ctx));
            }
            fprintf(stderr, "    setup failed: %s\n", rows[i].r[0].reason);
        }
        for (int p = 0; p < NPEER && !rc; p++) rc = rows[i].r[p].exit_code;
      }
    }
    for (int i = 0; i < shapes.n && !rc; i++) /* a damaged tuned-parameters file, too */
        for (int p = 0; p < NPEER && !rc; p++) rc = rows[i].r[p].exit_code;
    print_table(rows, shapes.n, ctx, &o.pk, tuned_info);
    if (rc) fprintf(stderr, "cl16 bench gemm: some results FAILED or errored (see the notes)\n");
    if (jo.f) {
        write_json(jo.f, rows, shapes.n, ctx, &o, tuned_info);
        int e = bench_out_close(&jo, 1, "bench gemm");
        if (!rc) rc = e;
    }
out:
    bench_out_close(&jo, 0, "bench gemm");
    cl16_ctx_free(ctx);
    free(rows);
    free(shapes.v);
    return rc;
}

int cmd_bench(int argc, char **argv, const char *device) {
    if (argc >= 2 && !strcmp(argv[1], "gemm")) return bench_gemm(argc, argv, device);
    if (argc >= 2 && !strcmp(argv[1], "conv")) return bench_conv(argc, argv, device);
    /* `bench step` is another name for it: it times whole training steps. */
    if (argc >= 2 && (!strcmp(argv[1], "train") || !strcmp(argv[1], "step")))
        return bench_train(argc, argv, device);
    if (argc >= 2 && !strcmp(argv[1], "compare")) return bench_compare(argc, argv);
    if (argc >= 2 && !strcmp(argv[1], "optim")) return bench_optim(argc, argv, device);
    if (argc >= 2 && !strcmp(argv[1], "peak")) return bench_peak(argc, argv, device);
    if (argc >= 2 && !strcmp(argv[1], "all")) return bench_all(argc, argv, device);
    if (argc >= 2 && !strcmp(argv[1], "startup")) return bench_startup(argc, argv, device);
    fprintf(stderr, "cl16 bench: which benchmark? usage: cl16 bench gemm [--json FILE] [--quick] "
                    "[--reps R] [--shapes squares|nets|all] [--peaks FILE]\n"
                    "       cl16 bench conv [--json FILE] [--quick] [--reps R] [--peaks FILE] [--cpu-time]\n"
                    "       cl16 bench train [--models M,...] [--precisions P,...] [--batch B] [--steps S] [--quick] [--json FILE] [--peaks FILE] [--profile N] [--blocks N] [--peer CMD]\n"
                    "       cl16 bench optim [--elements N] [--quick] [--json FILE] [--peaks FILE]\n"
                    "       cl16 bench peak [--quick] [--json FILE]\n"
                    "       cl16 bench startup [--quick] [--json FILE]\n"
                    "       cl16 bench all --out DIR [--quick]\n"
                    "       cl16 bench compare [--markdown] A.json B.json ...\n");
    return CL16_EXIT_USAGE;
}
