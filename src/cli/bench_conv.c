/* bench_conv.c (CLI) - `cl16 bench conv`: time per call and GFLOP/s of cl16's f16 and f32
 * convolution passes next to CLBlast (convgemm / im2col + SGEMM / col2im) on LeNet-5 and ResNet-20
 * layers. */
#define CL_TARGET_OPENCL_VERSION 120
#include <CL/cl.h>
#include <clblast_c.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/bench_util.h"
#include "cli/cli.h"

/* How it measures (the same method as `cl16 bench gemm`, see bench.c):
 *  - all three peers run on the same inputs in the same process, one right after
 *    the other, so the ratios share the machine's load;
 *  - the first call of each peer (kernel builds, cl16's per-shape algorithm
 *    choice) is timed on its own, then blocks of calls; the median block counts,
 *    with the fastest and slowest as the spread, and for cl16's peers the
 *    device-busy time from profiling events (CLBlast's kernels are its own);
 *  - inputs are f16-representable values in [-1, 1), so one float64 reference
 *    serves the f16 and f32 peers; outputs are filled with a sentinel first;
 *  - CLBlast works on the f32 tensors' own buffers, on cl16's queue, so
 *    cl16_ctx_finish waits for it too. No bias on either side (CLBlast has none). */

#define SENTINEL 777.0f
#define SAMPLES 1000 /* output entries checked against the float64 reference */

enum { P_F16, P_F32, P_CLB, NPEER };
static const char *peer_key[NPEER] = {"cl16_f16", "cl16_f32", "clblast"};
static const char *peer_label[NPEER] = {"cl16 f16", "cl16 f32", "CLBlast"};
enum { FWD, BWD_DATA, BWD_W, NPASS };
static const char *pass_name[NPASS] = {"fwd", "bwd_data", "bwd_w"};
static const char *clblast_how[NPASS] = {
    "CLBlastSconvgemm (cross-correlation, whole batch in one call)",
    "zero dx, then per image CLBlastSgemm (dcol = W^T dY) + CLBlastScol2im (adds into dx)",
    "per image CLBlastSim2col + CLBlastSgemm (dW += dY col^T, beta 0 for the first image)"};

typedef enum { RS_NONE, RS_OK, RS_UNSUPPORTED, RS_FAILED, RS_ERROR } rstate;
static const char *rstate_name[] = {"skipped", "ok", "unsupported", "FAILED", "error"};

typedef struct layer {
    const char *name;
    int c, h, w, cout, k, stride, pad;
    int first; /* first layer of its network: no input gradient needed */
    int quick; /* in the --quick subset */
} layer;

/* ResNet-20's "down" is a stage's first (stride 2) 3x3 conv, "shortcut" its 1x1 projection. */
static const layer layers[] = {
    {"lenet5.conv1", 1, 28, 28, 6, 5, 1, 2, 1, 1},
    {"lenet5.conv2", 6, 14, 14, 16, 5, 1, 0, 0, 0},
    {"resnet20.conv1", 3, 32, 32, 16, 3, 1, 1, 1, 0},
    {"resnet20.layer1.conv", 16, 32, 32, 16, 3, 1, 1, 0, 0},
    {"resnet20.layer2.down", 16, 32, 32, 32, 3, 2, 1, 0, 1},
    {"resnet20.layer2.conv", 32, 16, 16, 32, 3, 1, 1, 0, 0},
    {"resnet20.layer2.shortcut", 16, 32, 32, 32, 1, 2, 0, 0, 0},
    {"resnet20.layer3.down", 32, 16, 16, 64, 3, 2, 1, 0, 0},
    {"resnet20.layer3.conv", 64, 8, 8, 64, 3, 1, 1, 0, 1},
    {"resnet20.layer3.shortcut", 32, 16, 16, 64, 1, 2, 0, 0, 1},
};
#define NLAYERS ((int)(sizeof layers / sizeof *layers))

typedef struct result {
    rstate st;
    char algo[24]; /* cl16 peers: the algorithm cl16 chose (cl16_conv2d_algorithm) */
    double ms, gflops, err_ratio; /* ms and gflops from the median block */
    bench_stats t;
    int exit_code;
    char reason[320];
} result;

typedef struct row {
    const layer *l;
    int pass;
    int64_t n, ho, wo;
    double flops;
    result r[NPEER];
    double f16_f32, f16_f32_lo, f16_f32_hi; /* f16/f32 time: median, least, most over the rounds */
} row;

typedef struct opts {
    int quick, reps, batch, max_reps, cpu; /* cpu: --cpu-time */
    double target_s;
    cl16_peaks pk; /* measured at the start of the run, or read (--peaks) */
    const char *peaks_from;
    const char *only; /* --layers: comma-separated name prefixes, NULL for all */
} opts;

/* Whether --layers (a list of name prefixes) selects the layer. */
static int selected(const opts *o, const char *name) {
    if (!o->only)
        return 1;
    for (const char *p = o->only; *p;) {
        const char *e = strchr(p, ',');
        const size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n && !strncmp(name, p, n))
            return 1;
        p += n + (e ? 1 : 0);
    }
    return 0;
}

/* One layer's problem: host inputs, and f16 / f32 device tensors. */
typedef struct problem {
    const layer *l;
    int64_t n, ho, wo;
    float *x, *w, *dy, *out; /* out: read-back buffer, the largest output */
    cl16_tensor *X[2], *W[2], *Y[2], *DY[2], *DX[2], *DW[2];
    cl_mem col; /* CLBlast's column buffer: one image, C*k*k x Ho*Wo floats */
} problem;

static size_t x_count(const problem *P) {
    return (size_t)(P->n * P->l->c * P->l->h * P->l->w);
}
static size_t w_count(const problem *P) {
    return (size_t)(P->l->cout * P->l->c * P->l->k * P->l->k);
}
static size_t y_count(const problem *P) {
    return (size_t)(P->n * P->l->cout * P->ho * P->wo);
}
static size_t out_count(const problem *P, int pass) {
    return pass == FWD ? y_count(P) : pass == BWD_DATA ? x_count(P) : w_count(P);
}
/* Products summed into one output entry (an upper bound for backward-data). */
static double red_len(const problem *P, int pass) {
    const layer *l = P->l;
    return pass == FWD        ? (double)l->c * l->k * l->k
           : pass == BWD_DATA ? (double)l->cout * l->k * l->k
                              : (double)P->n * (double)(P->ho * P->wo);
}

/* ---- the float64 reference ------------------------------------------------------ */

static void ref_entry(const problem *P, int pass, int64_t e, double *ref, double *mag) {
    const layer *l = P->l;
    const int64_t C = l->c, H = l->h, W = l->w, K = l->k, CO = l->cout, HO = P->ho, WO = P->wo;
    double r = 0, g = 0;
    if (pass == FWD) {
        int64_t ow = e % WO, oh = e / WO % HO, co = e / (WO * HO) % CO, n = e / (WO * HO * CO);
        for (int64_t ci = 0; ci < C; ci++)
            for (int64_t kh = 0; kh < K; kh++)
                for (int64_t kw = 0; kw < K; kw++) {
                    int64_t ih = oh * l->stride - l->pad + kh, iw = ow * l->stride - l->pad + kw;
                    if (ih < 0 || ih >= H || iw < 0 || iw >= W)
                        continue;
                    double p = (double)P->x[((n * C + ci) * H + ih) * W + iw] *
                               (double)P->w[((co * C + ci) * K + kh) * K + kw];
                    r += p, g += fabs(p);
                }
    } else if (pass == BWD_DATA) {
        int64_t iw = e % W, ih = e / W % H, ci = e / (W * H) % C, n = e / (W * H * C);
        for (int64_t co = 0; co < CO; co++)
            for (int64_t kh = 0; kh < K; kh++)
                for (int64_t kw = 0; kw < K; kw++) {
                    int64_t th = ih + l->pad - kh, tw = iw + l->pad - kw;
                    if (th < 0 || tw < 0 || th % l->stride || tw % l->stride)
                        continue;
                    int64_t oh = th / l->stride, ow = tw / l->stride;
                    if (oh >= HO || ow >= WO)
                        continue;
                    double p = (double)P->dy[((n * CO + co) * HO + oh) * WO + ow] *
                               (double)P->w[((co * C + ci) * K + kh) * K + kw];
                    r += p, g += fabs(p);
                }
    } else {
        int64_t kw = e % K, kh = e / K % K, ci = e / (K * K) % C, co = e / (K * K * C);
        for (int64_t n = 0; n < P->n; n++)
            for (int64_t oh = 0; oh < HO; oh++) {
                int64_t ih = oh * l->stride - l->pad + kh;
                if (ih < 0 || ih >= H)
                    continue;
                for (int64_t ow = 0; ow < WO; ow++) {
                    int64_t iw = ow * l->stride - l->pad + kw;
                    if (iw < 0 || iw >= W)
                        continue;
                    double p = (double)P->dy[((n * CO + co) * HO + oh) * WO + ow] *
                               (double)P->x[((n * C + ci) * H + ih) * W + iw];
                    r += p, g += fabs(p);
                }
            }
    }
    *ref = r, *mag = g;
}

typedef struct check {
    size_t count;
    int64_t *idx;
    double *ref, *mag;
} check;

static void check_free(check *c) {
    free(c->idx), free(c->ref), free(c->mag);
    memset(c, 0, sizeof *c);
}

/* Every entry of outputs up to SAMPLES entries, else a deterministic random sample. */
static int check_init(check *c, const problem *P, int pass) {
    size_t total = out_count(P, pass);
    int full = total <= SAMPLES;
    c->count = full ? total : SAMPLES;
    c->idx = malloc(c->count * sizeof *c->idx);
    c->ref = malloc(c->count * sizeof *c->ref);
    c->mag = malloc(c->count * sizeof *c->mag);
    if (!c->idx || !c->ref || !c->mag)
        return -1;
    uint64_t s = 0x9E3779B97F4A7C15ull + (uint64_t)pass;
    for (size_t i = 0; i < c->count; i++) {
        if (full)
            c->idx[i] = (int64_t)i;
        else {
            s ^= s << 13, s ^= s >> 7, s ^= s << 17;
            c->idx[i] = (int64_t)(s % (uint64_t)total);
        }
        ref_entry(P, pass, c->idx[i], &c->ref[i], &c->mag[i]);
    }
    return 0;
}

/* Largest |got - ref| / bound over the checked entries, bound = K * 2^-24 *
 * sum|products| (float accumulation in any order) + u_out * |ref| (one rounding
 * on store) + half a subnormal spacing; a sentinel-only or all-zero result fails. */
static double verify(const check *c, const float *got, double k, double u_out, char *why,
                     size_t why_len) {
    double u_abs = u_out > 0x1p-20 ? 0x1p-25 : 0x1p-150, worst = 0;
    size_t nonzero = 0, ref_nonzero = 0, sentinel = 0, bad = 0, first_bad = 0;
    for (size_t i = 0; i < c->count; i++) {
        double g = got[c->idx[i]], r = c->ref[i];
        double bound = k * 0x1p-24 * c->mag[i] * 1.01 + u_out * fabs(r) + u_abs;
        double q = fabs(g - r) / bound;
        if (!(q == q) || isinf(q))
            q = INFINITY;
        if (q > 1.0 && !bad++)
            first_bad = i;
        if (q > worst)
            worst = q;
        nonzero += g != 0.0, ref_nonzero += r != 0.0, sentinel += g == SENTINEL;
    }
    *why = 0;
    if (sentinel == c->count)
        snprintf(why, why_len, "output not written (still the sentinel)");
    else if (ref_nonzero && !nonzero)
        snprintf(why, why_len, "output is all zero");
    else if (bad)
        snprintf(why, why_len,
                 "%zu of %zu checked entries above the error bound, worst %.3g x; e.g. [%lld] = "
                 "%.9g, reference %.9g",
                 bad, c->count, worst, (long long)c->idx[first_bad], (double)got[c->idx[first_bad]],
                 c->ref[first_bad]);
    return *why ? (worst > 1.0 ? worst : INFINITY) : worst;
}

/* ---- the peers ------------------------------------------------------------------- */

typedef struct call {
    cl16_ctx *ctx;
    problem *P;
    int pass, t; /* t: 0 f16, 1 f32 */
    cl16_conv2d_params prm;
    cl_command_queue queue;
    cl16_status s;        /* cl16's status */
    CLBlastStatusCode cb; /* CLBlast's (or OpenCL's) status */
    const char *what;     /* the call that failed */
} call;

static int cl16_call(void *u) {
    call *c = u;
    problem *P = c->P;
    int t = c->t;
    if (c->pass == FWD)
        c->s = cl16_conv2d_forward(c->ctx, &c->prm, P->X[t], P->W[t], NULL, P->Y[t]);
    else if (c->pass == BWD_DATA)
        c->s = cl16_conv2d_backward_data(c->ctx, &c->prm, P->DY[t], P->W[t], 0.0f, P->DX[t]);
    else
        c->s =
            cl16_conv2d_backward_weights(c->ctx, &c->prm, P->X[t], P->DY[t], 0.0f, P->DW[t], NULL);
    return (int)c->s;
}

static int clblast_call(void *u) {
    call *c = u;
    problem *P = c->P;
    const layer *l = P->l;
    const size_t C = (size_t)l->c, H = (size_t)l->h, W = (size_t)l->w, K = (size_t)l->k;
    const size_t CO = (size_t)l->cout, HW = (size_t)(P->ho * P->wo), CKK = C * K * K;
    const size_t S = (size_t)l->stride, PD = (size_t)l->pad, N = (size_t)P->n;
    cl_mem x = cl16_tensor_cl_mem(P->X[1]), w = cl16_tensor_cl_mem(P->W[1]);
    cl_mem y = cl16_tensor_cl_mem(P->Y[1]), dy = cl16_tensor_cl_mem(P->DY[1]);
    cl_mem dx = cl16_tensor_cl_mem(P->DX[1]), dw = cl16_tensor_cl_mem(P->DW[1]);
    const CLBlastKernelMode xc = CLBlastKernelModeCrossCorrelation;
    CLBlastStatusCode e = CLBlastSuccess;
    if (c->pass == FWD) {
        c->what = "CLBlastSconvgemm";
        e = CLBlastSconvgemm(xc, C, H, W, K, K, PD, PD, S, S, 1, 1, CO, N, x, 0, w, 0, y, 0,
                             &c->queue, NULL);
    } else if (c->pass == BWD_DATA) {
        const float zero = 0.0f;
        c->what = "clEnqueueFillBuffer (zeroing dx)";
        e = (CLBlastStatusCode)clEnqueueFillBuffer(c->queue, dx, &zero, sizeof zero, 0,
                                                   x_count(P) * sizeof(float), 0, NULL, NULL);
        for (size_t n = 0; n < N && !e; n++) {
            c->what = "CLBlastSgemm (dcol = W^T dY)";
            e = CLBlastSgemm(CLBlastLayoutRowMajor, CLBlastTransposeYes, CLBlastTransposeNo, CKK,
                             HW, CO, 1.0f, w, 0, CKK, dy, n * CO * HW, HW, 0.0f, P->col, 0, HW,
                             &c->queue, NULL);
            if (e)
                break;
            c->what = "CLBlastScol2im";
            e = CLBlastScol2im(xc, C, H, W, K, K, PD, PD, S, S, 1, 1, P->col, 0, dx, n * C * H * W,
                               &c->queue, NULL);
        }
    } else {
        for (size_t n = 0; n < N && !e; n++) {
            c->what = "CLBlastSim2col";
            e = CLBlastSim2col(xc, C, H, W, K, K, PD, PD, S, S, 1, 1, x, n * C * H * W, P->col, 0,
                               &c->queue, NULL);
            if (e)
                break;
            c->what = "CLBlastSgemm (dW += dY col^T)";
            e = CLBlastSgemm(CLBlastLayoutRowMajor, CLBlastTransposeNo, CLBlastTransposeYes, CO,
                             CKK, HW, 1.0f, dy, n * CO * HW, HW, P->col, 0, HW, n ? 1.0f : 0.0f, dw,
                             0, CKK, &c->queue, NULL);
        }
    }
    c->cb = e;
    return (int)e;
}

static int finish_call(void *u) {
    call *c = u;
    return (int)(c->s = cl16_ctx_finish(c->ctx));
}

static cl16_tensor *out_tensor(problem *P, int pass, int t) {
    return pass == FWD ? P->Y[t] : pass == BWD_DATA ? P->DX[t] : P->DW[t];
}

/* A peer's call, set up (its output filled with the sentinel) for timing. */
static void peer_setup(cl16_ctx *ctx, problem *P, const row *w, int p, call *c,
                       bench_runner *run, const opts *o) {
    const int t = p == P_F16 ? 0 : 1;
    void *q = NULL;
    *c = (call){ctx, P, w->pass, t, {0}, NULL, CL16_OK, CLBlastSuccess, ""};
    cl16_conv2d_params_init(&c->prm);
    c->prm.stride_h = c->prm.stride_w = P->l->stride;
    c->prm.pad_h = c->prm.pad_w = P->l->pad;
    cl16_ctx_opencl(ctx, NULL, &q, NULL);
    c->queue = (cl_command_queue)q;
    *run = (bench_runner){p == P_CLB ? clblast_call : cl16_call, finish_call, c,
                          p == P_CLB ? NULL : ctx, o->cpu};
    c->s = cl16_tensor_fill(out_tensor(P, w->pass, t), SENTINEL);
}

/* After the timing (e: its failure, st: its figures): reads the peer's output back,
 * verifies it and fills in its result. */
static void peer_finish(cl16_ctx *ctx, problem *P, row *w, int p, call *c, int e,
                        const bench_stats *st, const check *chk) {
    result *r = &w->r[p];
    const int t = c->t;
    if (!e && c->s == CL16_OK)
        c->s = cl16_tensor_read_f32(out_tensor(P, w->pass, t), P->out, out_count(P, w->pass));
    if (p == P_CLB && c->cb) {
        /* CLBlast declines what it does not implement; anything else is an error. */
        r->st = c->cb == CLBlastNotImplemented ? RS_UNSUPPORTED : RS_ERROR;
        if (r->st == RS_ERROR)
            r->exit_code = cli_exit_code(CL16_ERR_OPENCL);
        snprintf(r->reason, sizeof r->reason, "%s returned status %d", c->what, (int)c->cb);
        return;
    }
    if (c->s) {
        r->st = RS_ERROR;
        r->exit_code = cli_exit_code(c->s);
        snprintf(r->reason, sizeof r->reason, "%s: %s", cl16_status_str(c->s),
                 cl16_ctx_last_error(ctx));
        return;
    }
    r->t = *st, r->ms = st->median_s * 1e3;
    r->gflops = w->flops / st->median_s * 1e-9;
    if (p != P_CLB) { /* what the timed calls ran: the choice is made by then */
        const int64_t xd[4] = {P->n, P->l->c, P->l->h, P->l->w},
                      wd[4] = {P->l->cout, P->l->c, P->l->k, P->l->k};
        if (cl16_conv2d_algorithm(ctx, &c->prm, t == 0 ? CL16_F16 : CL16_F32, xd, wd, 0, w->pass,
                                  r->algo, sizeof r->algo))
            snprintf(r->algo, sizeof r->algo, "?");
    }
    r->err_ratio = verify(chk, P->out, red_len(P, w->pass), t == 0 ? 0x1p-11 : 0x1p-24, r->reason,
                          sizeof r->reason);
    r->st = *r->reason ? RS_FAILED : RS_OK;
    if (*r->reason)
        r->exit_code = cli_exit_code(CL16_ERR_NUMERIC);
}

/* Times one pass: cl16's f16 and f32 peers in the same rounds (their ratio is
 * the median over the rounds), each read back and verified, then CLBlast's on
 * its own (4x and more apart, its ratio is not at the mercy of the machine's
 * drift). CLBlast writes the f32 peer's output tensor, so it runs only after
 * that has been read. */
static void run_pass(cl16_ctx *ctx, problem *P, row *w, const check *chk, const opts *o) {
    call c[NPEER];
    bench_runner run[NPEER];
    bench_stats st[NPEER];
    int err[NPEER] = {0}, in[2], n = 0;
    for (int p = P_F16; p <= P_F32; p++) {
        peer_setup(ctx, P, w, p, &c[p], &run[p], o);
        memset(&st[p], 0, sizeof st[p]);
        if (c[p].s == CL16_OK)
            in[n++] = p;
    }
    if (n) {
        bench_runner rr[2] = {run[in[0]], run[in[n - 1]]};
        bench_stats rs[2];
        int re[2] = {0, 0};
        bench_time_rounds(rr, n, o->quick ? BENCH_QUICK_BLOCKS : BENCH_MIN_BLOCKS,
                          o->quick ? BENCH_QUICK_BLOCKS : BENCH_MAX_BLOCKS, o->reps, o->target_s,
                          o->max_reps, rs, re);
        for (int i = 0; i < n; i++)
            st[in[i]] = rs[i], err[in[i]] = re[i];
    }
    for (int p = P_F16; p <= P_F32; p++)
        peer_finish(ctx, P, w, p, &c[p], err[p], &st[p], chk);
    peer_setup(ctx, P, w, P_CLB, &c[P_CLB], &run[P_CLB], o);
    memset(&st[P_CLB], 0, sizeof st[P_CLB]);
    if (c[P_CLB].s == CL16_OK)
        err[P_CLB] = bench_time_calls(&run[P_CLB], o->quick, o->reps, o->target_s, o->max_reps,
                                      &st[P_CLB]);
    peer_finish(ctx, P, w, P_CLB, &c[P_CLB], err[P_CLB], &st[P_CLB], chk);
    if (w->r[P_F16].st == RS_OK && w->r[P_F32].st == RS_OK)
        w->f16_f32 = bench_round_ratio(&st[P_F16], &st[P_F32], &w->f16_f32_lo, &w->f16_f32_hi);
}

static void problem_free(problem *P) {
    for (int t = 0; t < 2; t++) {
        cl16_tensor_free(P->X[t]), cl16_tensor_free(P->W[t]), cl16_tensor_free(P->Y[t]);
        cl16_tensor_free(P->DY[t]), cl16_tensor_free(P->DX[t]), cl16_tensor_free(P->DW[t]);
    }
    if (P->col)
        clReleaseMemObject(P->col);
    free(P->x), free(P->w), free(P->dy), free(P->out);
    memset(P, 0, sizeof *P);
}

static cl16_status problem_init(cl16_ctx *ctx, problem *P, const layer *l, int64_t n, int index) {
    memset(P, 0, sizeof *P);
    P->l = l, P->n = n;
    P->ho = (l->h + 2 * l->pad - l->k) / l->stride + 1;
    P->wo = (l->w + 2 * l->pad - l->k) / l->stride + 1;
    size_t nx = x_count(P), nw = w_count(P), ny = y_count(P), nmax = nx > ny ? nx : ny;
    if (nw > nmax)
        nmax = nw;
    P->x = malloc(nx * sizeof *P->x), P->w = malloc(nw * sizeof *P->w);
    P->dy = malloc(ny * sizeof *P->dy), P->out = malloc(nmax * sizeof *P->out);
    if (!P->x || !P->w || !P->dy || !P->out)
        return CL16_ERR_OUT_OF_MEMORY;
    bench_fill_random(P->x, nx, 1 + 3 * (uint32_t)index, 1);
    bench_fill_random(P->w, nw, 2 + 3 * (uint32_t)index, 1);
    bench_fill_random(P->dy, ny, 3 + 3 * (uint32_t)index, 1);
    const int64_t dx[4] = {n, l->c, l->h, l->w}, dw[4] = {l->cout, l->c, l->k, l->k};
    const int64_t dy[4] = {n, l->cout, P->ho, P->wo};
    int64_t check_dims[4];
    cl16_conv2d_params prm;
    cl16_conv2d_params_init(&prm);
    prm.stride_h = prm.stride_w = l->stride, prm.pad_h = prm.pad_w = l->pad;
    cl16_status s = cl16_conv2d_out_dims(ctx, &prm, dx, dw, check_dims);
    if (s)
        return s;
    if (memcmp(check_dims, dy, sizeof dy))
        return CL16_ERR_INTERNAL;
    static const cl16_dtype dts[2] = {CL16_F16, CL16_F32};
    for (int t = 0; t < 2; t++)
        if ((s = cl16_tensor_create(ctx, dts[t], 4, dx, &P->X[t])) ||
            (s = cl16_tensor_create(ctx, dts[t], 4, dw, &P->W[t])) ||
            (s = cl16_tensor_create(ctx, dts[t], 4, dy, &P->Y[t])) ||
            (s = cl16_tensor_create(ctx, dts[t], 4, dy, &P->DY[t])) ||
            (s = cl16_tensor_create(ctx, dts[t], 4, dx, &P->DX[t])) ||
            (s = cl16_tensor_create(ctx, dts[t], 4, dw, &P->DW[t])) ||
            (s = cl16_tensor_write_f32(P->X[t], P->x, nx)) ||
            (s = cl16_tensor_write_f32(P->W[t], P->w, nw)) ||
            (s = cl16_tensor_write_f32(P->DY[t], P->dy, ny)))
            return s;
    void *clctx = NULL;
    cl_int err = CL_SUCCESS;
    cl16_ctx_opencl(ctx, &clctx, NULL, NULL);
    size_t col = (size_t)(l->c * l->k * l->k) * (size_t)(P->ho * P->wo) * sizeof(float);
    P->col = clCreateBuffer((cl_context)clctx, CL_MEM_READ_WRITE, col, NULL, &err);
    return err == CL_SUCCESS ? CL16_OK : CL16_ERR_OUT_OF_MEMORY;
}

static void fmt_result(char *buf, size_t len, const result *r, const cl16_peaks *pk) {
    if (r->st == RS_OK) {
        char kern[48] = "";
        if (r->t.kernel_s == r->t.kernel_s)
            snprintf(kern, sizeof kern, ", kernel %.3f ms", r->t.kernel_s * 1e3);
        snprintf(buf, len,
                 "median %.3f ms/call [%.3f-%.3f]%s, %.2f GFLOP/s = %.1f%% of peak (%d blocks x "
                 "%d calls, first call %.3f s, error %.2f of bound)",
                 r->ms, r->t.min_s * 1e3, r->t.max_s * 1e3, kern, r->gflops,
                 bench_pct(r->gflops, pk->f32_gflops), r->t.blocks, r->t.reps, r->t.first_s,
                 r->err_ratio);
    } else
        snprintf(buf, len, "%s%s%s", rstate_name[r->st], *r->reason ? ": " : "", r->reason);
}

/* Runs every pass of one layer; rows[0..] receive them; returns the rows used or -1. */
static int run_layer(cl16_ctx *ctx, const layer *l, int index, row *rows, const opts *o) {
    problem P;
    cl16_status s = problem_init(ctx, &P, l, o->batch, index);
    int used = 0;
    for (int pass = 0; pass < NPASS; pass++) {
        if (pass == BWD_DATA && l->first)
            continue;
        row *w = &rows[used++];
        w->l = l, w->pass = pass, w->n = o->batch;
        w->ho = (l->h + 2 * l->pad - l->k) / l->stride + 1;
        w->wo = (l->w + 2 * l->pad - l->k) / l->stride + 1;
        w->f16_f32 = w->f16_f32_lo = w->f16_f32_hi = NAN;
        w->flops = 2.0 * (double)w->n * l->cout * (double)(w->ho * w->wo) * l->c * l->k * l->k;
        fprintf(stderr, "[%s %s] N=%lld C=%d %dx%d -> Cout=%d %lldx%lld, k=%d stride %d pad %d\n",
                l->name, pass_name[pass], (long long)w->n, l->c, l->h, l->w, l->cout,
                (long long)w->ho, (long long)w->wo, l->k, l->stride, l->pad);
        check chk = {0};
        if (!s && check_init(&chk, &P, pass))
            s = CL16_ERR_OUT_OF_MEMORY;
        if (!s)
            run_pass(ctx, &P, w, &chk, o);
        for (int p = 0; p < NPEER; p++) {
            result *r = &w->r[p];
            if (s) {
                r->st = RS_ERROR, r->exit_code = cli_exit_code(s);
                snprintf(r->reason, sizeof r->reason, "setup: %s: %s", cl16_status_str(s),
                         cl16_ctx_last_error(ctx));
            }
            char line[600];
            fmt_result(line, sizeof line, r, &o->pk);
            fprintf(stderr, "    %-9s %s%s%s\n", peer_label[p], line, r->algo[0] ? ", algorithm " : "",
                    r->algo);
        }
        if (w->f16_f32 == w->f16_f32)
            fprintf(stderr, "    f16/f32 time, median over %d rounds: %.3f [%.3f-%.3f]\n",
                    w->r[P_F16].t.blocks < w->r[P_F32].t.blocks ? w->r[P_F16].t.blocks
                                                                 : w->r[P_F32].t.blocks,
                    w->f16_f32, w->f16_f32_lo, w->f16_f32_hi);
        check_free(&chk);
    }
    problem_free(&P);
    return used;
}

/* ---- reports --------------------------------------------------------------------- */

/* Time ratio a/b of two peers (NaN unless both measured). */
static double tratio(const row *w, int a, int b) {
    return w->r[a].st == RS_OK && w->r[b].st == RS_OK ? w->r[a].ms / w->r[b].ms : NAN;
}

typedef struct summary {
    double worst_f16_f32, worst_vs_clb; /* largest f16/f32 time; smallest CLBlast/f16 time */
    const row *f16_f32_row, *vs_clb_row;
} summary;

static summary summarise(const row *rows, int n) {
    summary s = {NAN, NAN, NULL, NULL};
    for (int i = 0; i < n; i++) {
        double a = rows[i].f16_f32, b = tratio(&rows[i], P_CLB, P_F16);
        if (a == a && !(a <= s.worst_f16_f32))
            s.worst_f16_f32 = a, s.f16_f32_row = &rows[i];
        if (b == b && !(b >= s.worst_vs_clb))
            s.worst_vs_clb = b, s.vs_clb_row = &rows[i];
    }
    return s;
}

static void cell_ms(char *buf, size_t len, const result *r) {
    if (r->st == RS_OK)
        snprintf(buf, len, "%.3f", r->ms);
    else
        snprintf(buf, len, "%s", r->st == RS_UNSUPPORTED ? "unsupp." : rstate_name[r->st]);
}
static void cell_num(char *buf, size_t len, double x, const char *fmt) {
    if (x == x)
        snprintf(buf, len, fmt, x);
    else
        snprintf(buf, len, "-");
}

static void print_table(const row *rows, int n, const cl16_ctx *ctx, const opts *o) {
    const cl16_device_info *d = cl16_ctx_device(ctx);
    printf("\nConvolution, batch %d, on %s (%s, driver %s), half path %s; cl16 %s\n", o->batch,
           d->name, d->platform, d->driver,
           cl16_ctx_half_path(ctx) == CL16_HALF_NATIVE ? "native" : "storage", cl16_version());
    printf("ms: median per call; GF/s from it, and %% of the f32 multiply-add peak (%.1f "
           "GFLOP/s)\n", o->pk.f32_gflops);
    printf("%-26s %-8s %8s %9s %11s %9s %11s %9s %11s %7s %-10s %7s  %s\n", "shape", "pass",
           "GFLOP", "f16 ms", "GF/s %pk", "f32 ms", "GF/s %pk", "CLB ms", "GF/s %pk", "f16/f32",
           "(rounds)", "f16/CLB",
           "algorithm f16 / f32");
    for (int i = 0; i < n; i++) {
        const row *w = &rows[i];
        char ms[NPEER][16], gf[NPEER][32], r0[16], r1[16], rr[32];
        for (int p = 0; p < NPEER; p++) {
            cell_ms(ms[p], sizeof ms[p], &w->r[p]);
            const double g = w->r[p].st == RS_OK ? w->r[p].gflops : NAN;
            const double pct = bench_pct(g, o->pk.f32_gflops);
            if (g == g && pct == pct)
                snprintf(gf[p], sizeof gf[p], "%.1f %3.0f%%", g, pct);
            else
                cell_num(gf[p], sizeof gf[p], g, "%.1f");
        }
        cell_num(r0, sizeof r0, w->f16_f32, "%.2f");
        if (w->f16_f32 == w->f16_f32)
            snprintf(rr, sizeof rr, "%.2f-%.2f", w->f16_f32_lo, w->f16_f32_hi);
        else
            snprintf(rr, sizeof rr, "-");
        cell_num(r1, sizeof r1, tratio(w, P_F16, P_CLB), "%.2f");
        printf("%-26s %-8s %8.3f %9s %11s %9s %11s %9s %11s %7s %-10s %7s  %s / %s\n", w->l->name,
               pass_name[w->pass], w->flops * 1e-9, ms[0], gf[0], ms[1], gf[1], ms[2], gf[2], r0,
               rr, r1,
               w->r[P_F16].algo[0] ? w->r[P_F16].algo : "-",
               w->r[P_F32].algo[0] ? w->r[P_F32].algo : "-");
    }
    printf("f16/f32 and f16/CLB are time ratios (below 1: f16 faster). f16 and f32 are timed in "
           "the same rounds, a block of each, and f16/f32 is the median of the rounds' ratios "
           "(the rounds column: their least and most); CLBlast is timed after them. CLBlast (f32): fwd %s; "
           "bwd_data %s; bwd_w %s. No bias on either side.\n",
           clblast_how[0], clblast_how[1], clblast_how[2]);
    int header = 0;
    for (int p = 0; p < NPEER; p++)
        for (int i = 0; i < n; i++) {
            const result *r = &rows[i].r[p];
            if (r->st == RS_OK || r->st == RS_NONE)
                continue;
            if (!header++)
                printf("\nnotes:\n");
            printf("  %s %s (%s %s)%s%s\n", peer_label[p], rstate_name[r->st], rows[i].l->name,
                   pass_name[rows[i].pass], *r->reason ? ": " : "", r->reason);
        }
    summary s = summarise(rows, n);
    printf("\ngoals on this device (computed from the rows above):\n");
    if (s.f16_f32_row)
        printf("  f16 time <= 1.0x f32 per layer: worst %.2f (%s %s) %s\n", s.worst_f16_f32,
               s.f16_f32_row->l->name, pass_name[s.f16_f32_row->pass],
               s.worst_f16_f32 <= 1.0 ? "met" : "NOT met");
    else
        printf("  f16 time <= 1.0x f32 per layer: n/a (no row with both cl16 peers measured)\n");
    if (s.vs_clb_row)
        printf("  f16 >= 2x faster than the CLBlast path: worst %.2f (%s %s) %s\n", s.worst_vs_clb,
               s.vs_clb_row->l->name, pass_name[s.vs_clb_row->pass],
               s.worst_vs_clb >= 2.0 ? "met" : "NOT met");
    else
        printf("  f16 >= 2x faster than the CLBlast path: n/a (no row with CLBlast measured)\n");
}

static void json_result(FILE *f, const result *r, const cl16_peaks *pk) {
    int timed = r->st == RS_OK || r->st == RS_FAILED;
    fprintf(f, "{\"status\": ");
    bench_json_str(f, rstate_name[r->st]);
    bench_json_stats(f, timed ? &r->t : NULL);
    fprintf(f, ", \"gflops\": ");
    bench_json_num(f, timed ? r->gflops : NAN);
    fprintf(f, ", \"pct_peak\": ");
    bench_json_num(f, timed ? bench_pct(r->gflops, pk->f32_gflops) : NAN);
    fprintf(f, ", \"pct_peak_f16\": ");
    bench_json_num(f, timed ? bench_pct(r->gflops, pk->f16_gflops) : NAN);
    fprintf(f, ", \"max_error_ratio\": ");
    bench_json_num(f, timed ? r->err_ratio : NAN);
    fprintf(f, ", \"reason\": ");
    bench_json_str(f, r->reason);
    fputc('}', f);
}

static void write_json(FILE *f, const row *rows, int n, const cl16_ctx *ctx, const opts *o) {
    bench_json_head(f, "conv", ctx);
    bench_json_peaks(f, &o->pk, o->peaks_from);
    fprintf(f,
            ",\n  \"options\": {\"quick\": %s, \"batch\": %d, \"reps\": %d, \"target_s\": %g, "
            "\"max_reps\": %d, \"clock\": \"%s\", \"min_blocks\": %d, \"max_blocks\": %d, "
            "\"layers\": ",
            o->quick ? "true" : "false", o->batch, o->reps, o->target_s, o->max_reps,
            o->cpu ? "process_cpu" : "wall",
            o->quick ? BENCH_QUICK_BLOCKS : BENCH_MIN_BLOCKS,
            o->quick ? BENCH_QUICK_BLOCKS : BENCH_MAX_BLOCKS);
    if (o->only)
        bench_json_str(f, o->only);
    else
        fputs("null", f);
    fprintf(f, "},\n  \"clblast\": {");
    for (int p = 0; p < NPASS; p++) {
        fprintf(f, "%s", p ? ", " : "");
        bench_json_str(f, pass_name[p]);
        fprintf(f, ": ");
        bench_json_str(f, clblast_how[p]);
    }
    fprintf(f,
            "},\n  \"timing\": \"after the warm-up calls (the first one is first_call_s), "
            "blocks of reps calls, each timed by the clock of options.clock (wall, or the process's CPU "
            "time with --cpu-time) with cl16_ctx_finish before it "
            "stops; cl16_f16 and cl16_f32 timed in the same rounds (a block of each, the order "
            "reversed every other round), CLBlast after them; ratios.f16_f32_time is the median "
            "over the rounds of the f16 block's time over the f32 block's, f16_f32_time_min and "
            "_max the least and most; ms_per_call and gflops from the median block, ms_min and ms_max the fastest "
            "and slowest; kernel_ms the median block's device-busy time per call from OpenCL "
            "profiling events (cl16 peers only: CLBlast's is null); pct_peak of the peaks "
            "above\",\n  \"verification\": \"float64 reference on every "
            "output entry up to %d, else %d sampled entries; bound K*2^-24*sum|products| + "
            "u_out*|ref| + u_abs, K the reduction length, u_out 2^-11 (f16) or 2^-24 (f32)\","
            "\n  \"rows\": [",
            SAMPLES, SAMPLES);
    for (int i = 0; i < n; i++) {
        const row *w = &rows[i];
        const layer *l = w->l;
        fprintf(f, "%s\n    {\"shape\": ", i ? "," : "");
        bench_json_str(f, l->name);
        fprintf(f, ", \"pass\": ");
        bench_json_str(f, pass_name[w->pass]);
        fprintf(f,
                ", \"n\": %lld, \"c\": %d, \"h\": %d, \"w\": %d, \"cout\": %d, \"kh\": %d, "
                "\"kw\": %d, \"stride\": %d, \"pad\": %d, \"ho\": %lld, \"wo\": %lld, \"flops\": "
                "%.0f,\n     \"peers\": {",
                (long long)w->n, l->c, l->h, l->w, l->cout, l->k, l->k, l->stride, l->pad,
                (long long)w->ho, (long long)w->wo, w->flops);
        for (int p = 0; p < NPEER; p++) {
            fprintf(f, "%s\n       ", p ? "," : "");
            bench_json_str(f, peer_key[p]);
            fprintf(f, ": ");
            json_result(f, &w->r[p], &o->pk);
        }
        fprintf(f, "},\n     \"algorithm\": {\"cl16_f16\": ");
        bench_json_str(f, w->r[P_F16].algo[0] ? w->r[P_F16].algo : "");
        fprintf(f, ", \"cl16_f32\": ");
        bench_json_str(f, w->r[P_F32].algo[0] ? w->r[P_F32].algo : "");
        fprintf(f, "},\n     \"ratios\": {\"f16_f32_time\": ");
        bench_json_num(f, w->f16_f32);
        fprintf(f, ", \"f16_f32_time_min\": ");
        bench_json_num(f, w->f16_f32_lo);
        fprintf(f, ", \"f16_f32_time_max\": ");
        bench_json_num(f, w->f16_f32_hi);
        fprintf(f, ", \"f16_clblast_time\": ");
        bench_json_num(f, tratio(w, P_F16, P_CLB));
        fprintf(f, "}}");
    }
    summary s = summarise(rows, n);
    fprintf(f, "\n  ],\n  \"summary\": {\"worst_f16_f32_time\": ");
    bench_json_num(f, s.worst_f16_f32);
    fprintf(f, ", \"worst_f16_f32_shape\": ");
    if (s.f16_f32_row) {
        char nm[96];
        snprintf(nm, sizeof nm, "%s %s", s.f16_f32_row->l->name, pass_name[s.f16_f32_row->pass]);
        bench_json_str(f, nm);
    } else
        fputs("null", f);
    fprintf(f, ", \"goal_f16_f32_time_at_most\": 1.0, \"worst_clblast_over_f16_time\": ");
    bench_json_num(f, s.worst_vs_clb);
    fprintf(f, ", \"worst_clblast_over_f16_shape\": ");
    if (s.vs_clb_row) {
        char nm[96];
        snprintf(nm, sizeof nm, "%s %s", s.vs_clb_row->l->name, pass_name[s.vs_clb_row->pass]);
        bench_json_str(f, nm);
    } else
        fputs("null", f);
    fprintf(f, ", \"goal_clblast_over_f16_time_at_least\": 2.0}\n}\n");
}

/* ---- the command ------------------------------------------------------------------ */

int bench_conv(int argc, char **argv, const char *device) {
    opts o = {.batch = 128, .max_reps = 50, .target_s = 0.3};
    const char *json = NULL;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--quick"))
            o.quick = 1;
        else if (!strcmp(a, "--cpu-time"))
            o.cpu = 1;
        else if (v && !strcmp(a, "--json"))
            json = argv[++i];
        else if (v && !strcmp(a, "--device"))
            device = argv[++i];
        else if (v && !strcmp(a, "--peaks"))
            o.peaks_from = argv[++i];
        else if (v && !strcmp(a, "--layers"))
            o.only = argv[++i];
        else if (v && !strcmp(a, "--reps")) {
            char *end;
            long x = strtol(v, &end, 10);
            if (*end || x < 1 || x > 1000) {
                fprintf(stderr, "cl16 bench conv: --reps must be an integer in 1..1000, got '%s'\n",
                        v);
                return CL16_EXIT_USAGE;
            }
            o.reps = (int)x, i++;
        } else {
            fprintf(stderr, "cl16 bench conv: unknown or incomplete option '%s'\n", a);
            return CL16_EXIT_USAGE;
        }
    }
    if (o.quick)
        o.target_s = 0.05, o.max_reps = 5, o.batch = 8;
    int any = 0;
    for (int i = 0; i < NLAYERS; i++)
        any |= (!o.quick || layers[i].quick) && selected(&o, layers[i].name);
    if (!any) {
        fprintf(stderr, "cl16 bench conv: --layers '%s' selects no layer%s; the layers are:",
                o.only, o.quick ? " of the --quick subset" : "");
        for (int i = 0; i < NLAYERS; i++)
            if (!o.quick || layers[i].quick)
                fprintf(stderr, " %s", layers[i].name);
        fputc('\n', stderr);
        return CL16_EXIT_USAGE;
    }

    /* Open the JSON output first: a bad path fails before a long run. */
    bench_out jo;
    if (bench_out_open(&jo, json, "bench conv"))
        return cli_exit_code(CL16_ERR_IO);
    row *rows = calloc((size_t)NLAYERS * NPASS, sizeof *rows);
    cl16_ctx *ctx = NULL;
    int rc = rows ? 0 : cli_fail(CL16_ERR_OUT_OF_MEMORY, "bench conv", "");
    if (!rc)
        rc = cli_ctx(&ctx, device, 0, 1); /* profiling: kernel times */
    if (rc)
        goto out;
    if ((rc = bench_peaks(ctx, o.quick, o.peaks_from, "bench conv", &o.pk)))
        goto out;
    const cl16_device_info *d = cl16_ctx_device(ctx);
    fprintf(stderr,
            "cl16 bench conv: LeNet-5 and ResNet-20 layers at batch %d x %d peers on %s "
            "(%s), half path %s%s%s\n",
            o.batch, NPEER, d->name, d->platform,
            cl16_ctx_half_path(ctx) == CL16_HALF_NATIVE ? "native" : "storage",
            o.quick ? ", quick subset" : "", o.cpu ? ", process CPU time" : "");
    int n = 0;
    for (int i = 0; i < NLAYERS; i++)
        if ((!o.quick || layers[i].quick) && selected(&o, layers[i].name))
            n += run_layer(ctx, &layers[i], i, rows + n, &o);
    for (int i = 0; i < n && !rc; i++)
        for (int p = 0; p < NPEER && !rc; p++)
            rc = rows[i].r[p].exit_code;
    print_table(rows, n, ctx, &o);
    if (rc)
        fprintf(stderr, "cl16 bench conv: some results FAILED or errored (see the notes)\n");
    if (jo.f) {
        write_json(jo.f, rows, n, ctx, &o);
        int e = bench_out_close(&jo, 1, "bench conv");
        if (!rc)
            rc = e;
    }
out:
    bench_out_close(&jo, 0, "bench conv");
    cl16_ctx_free(ctx);
    free(rows);
    return rc;
}
