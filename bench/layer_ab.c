/* layer_ab.c - f16 against f32, call by call, for the convolution and pooling
 * calls of a LeNet-5 or ResNet-20 training step at batch 128 (PoCL figures in
 * docs/benchmarks.md). One context; each round runs a call in f32, then the
 * same call in f16 (queue drained around each), so both see the same load on
 * a shared machine; reported: median ms of each and the median of the
 * per-round ratios. Inputs and weights are random (a fixed seed; until
 * 2026-12-07 constants, which hid pooling's branches on the data). Run: build/bench/layer_ab [lenet|resnet20] [rounds] [cpu]
 * [beta1] [kernels] (cpu: process CPU time, PoCL's threads included, instead of wall
 * time; beta1: backward-data and pooling backward accumulate into dx, beta 1,
 * as ResNet's downsampling blocks do into the shortcut's gradient; kernels:
 * also each call's device time split by kernel, from profiling events,
 * summed over the timed rounds per dtype). */
#include "bench_rand.h"
#include "cl16.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int use_cpu; /* 1: process CPU time (all threads), less disturbed by other load */
static double now(void) {
    struct timespec t;
    clock_gettime(use_cpu ? CLOCK_PROCESS_CPUTIME_ID : CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}
static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static cl16_ctx *ctx;
static int use_kernels; /* 1: per-kernel device time of each call (profiling events) */

/* Per-kernel device time of one pass in one dtype, summed over its rounds. */
#define KT_MAX 48
typedef struct ktab {
    cl16_kernel_time e[KT_MAX];
    int n;
} ktab;
static void kt_add(ktab *t, const cl16_kernel_time *k) {
    int i = 0;
    while (i < t->n && strcmp(t->e[i].name, k->name)) i++;
    if (i == t->n) {
        if (t->n == KT_MAX) return;
        t->e[t->n++] = *k;
        return;
    }
    t->e[i].seconds += k->seconds, t->e[i].calls += k->calls;
}
static void ok(cl16_status s, const char *what) {
    if (s) {
        fprintf(stderr, "%s: %s: %s\n", what, cl16_status_str(s), cl16_ctx_last_error(ctx));
        exit(1);
    }
}
static cl16_tensor *mk(cl16_dtype dt, int64_t n, int64_t c, int64_t h, int64_t w, float v) {
    cl16_tensor *t;
    const int64_t d[4] = {n, c, h, w};
    ok(cl16_tensor_create(ctx, dt, 4, d, &t), "tensor");
    ok(cl16_tensor_fill(t, v), "fill");
    return t;
}

/* A tensor of uniform values in [-a, a) from a fixed seed (bench_rand.h). */
static cl16_tensor *mkr(cl16_dtype dt, int64_t n, int64_t c, int64_t h, int64_t w, float a,
                        uint64_t seed) {
    cl16_tensor *t = mk(dt, n, c, h, w, 0.0f);
    ok(bench_fill_uniform(t, (size_t)(n * c * h * w), a, seed), "random contents");
    return t;
}

/* One layer's tensors in one dtype. */
typedef struct lay {
    cl16_tensor *x, *w, *b, *y, *dx, *dw, *db, *idx;
} lay;

typedef struct spec {
    const char *name;
    int pool; /* 1 = 2x2 max pooling, else convolution */
    int64_t c, h, co, k, stride, pad;
    int first; /* no backward-data (a network's first layer) */
} spec;

static const spec lenet[] = {{"lenet5.conv1", 0, 1, 28, 6, 5, 1, 2, 1},
                             {"lenet5.pool1", 1, 6, 28, 6, 2, 2, 0, 0},
                             {"lenet5.conv2", 0, 6, 14, 16, 5, 1, 0, 0},
                             {"lenet5.pool2", 1, 16, 10, 16, 2, 2, 0, 0}};
static const spec resnet[] = {{"resnet20.conv1", 0, 3, 32, 16, 3, 1, 1, 1},
                              {"resnet20.layer1.conv", 0, 16, 32, 16, 3, 1, 1, 0},
                              {"resnet20.layer2.down", 0, 16, 32, 32, 3, 2, 1, 0},
                              {"resnet20.layer2.conv", 0, 32, 16, 32, 3, 1, 1, 0},
                              {"resnet20.layer2.shortcut", 0, 16, 32, 32, 1, 2, 0, 0},
                              {"resnet20.layer3.down", 0, 32, 16, 64, 3, 2, 1, 0},
                              {"resnet20.layer3.conv", 0, 64, 8, 64, 3, 1, 1, 0},
                              {"resnet20.layer3.shortcut", 0, 32, 16, 64, 1, 2, 0, 0}};

int main(int argc, char **argv) {
    const int res = argc > 1 && !strcmp(argv[1], "resnet20");
    const int rounds = argc > 2 ? atoi(argv[2]) : 15;
    float beta = 0.0f;
    for (int a = 3; a < argc; a++) {
        if (!strcmp(argv[a], "cpu"))
            use_cpu = 1;
        else if (!strcmp(argv[a], "beta1"))
            beta = 1.0f;
        else if (!strcmp(argv[a], "kernels"))
            use_kernels = 1;
        else {
            fprintf(stderr, "layer_ab: unknown option '%s' (cpu, beta1, kernels)\n", argv[a]);
            return 2;
        }
    }
    const int64_t N = 128;
    cl16_ctx_opts o;
    cl16_ctx_opts_init(&o);
    o.profiling = use_kernels;
    ok(cl16_ctx_create(&ctx, &o), "context");
    printf("%s, batch 128, %d rounds of f32 then f16 per call, %s, backward-data beta %g\n",
           cl16_ctx_device(ctx)->name, rounds, use_cpu ? "CPU time" : "wall time", (double)beta);
    printf("| layer | pass | f32 ms | f16 ms | f16/f32 (median of rounds) |\n|---|---|---|---|---|\n");
    const spec *sp = res ? resnet : lenet;
    const int ns = res ? (int)(sizeof resnet / sizeof *resnet) : (int)(sizeof lenet / sizeof *lenet);
    double sum[2] = {0, 0};
    for (int si = 0; si < ns; si++) {
        const spec *s = &sp[si];
        cl16_conv2d_params cp;
        cl16_conv2d_params_init(&cp);
        cp.stride_h = cp.stride_w = (int)s->stride, cp.pad_h = cp.pad_w = (int)s->pad;
        cl16_pool2d_params pp;
        cl16_pool2d_params_init(&pp);
        const int64_t ho = (s->h + 2 * s->pad - s->k) / s->stride + 1;
        lay L[2];
        for (int d = 0; d < 2; d++) {
            const cl16_dtype dt = d ? CL16_F16 : CL16_F32;
            L[d].x = mkr(dt, N, s->c, s->h, s->h, 1.0f, 1 + (uint64_t)si);
            L[d].dx = mk(dt, N, s->c, s->h, s->h, 0.f);
            L[d].y = mk(dt, N, s->co, ho, ho, 0.f);
            if (s->pool) {
                const int64_t d4[4] = {N, s->co, ho, ho};
                ok(cl16_tensor_create(ctx, CL16_I32, 4, d4, &L[d].idx), "idx");
                L[d].w = L[d].b = L[d].dw = L[d].db = NULL;
            } else {
                L[d].w = mkr(dt, s->co, s->c, s->k, s->k, 0.1f, 100 + (uint64_t)si);
                L[d].dw = mk(dt, s->co, s->c, s->k, s->k, 0);
                const int64_t nb = s->co;
                ok(cl16_tensor_create(ctx, dt, 1, &nb, &L[d].b), "b");
                ok(cl16_tensor_create(ctx, dt, 1, &nb, &L[d].db), "db");
                ok(cl16_tensor_fill(L[d].b, 0.1f), "fill");
                L[d].idx = NULL;
            }
        }
        const int npass = 3;
        static const char *pname[3] = {"fwd", "bwd_data", "bwd_w"};
        for (int pass = 0; pass < npass; pass++) {
            if (s->pool && pass == 2) continue;
            if (!s->pool && s->first && pass == 1) continue;
            double *t[2] = {malloc(sizeof(double) * (size_t)rounds), malloc(sizeof(double) * (size_t)rounds)};
            double *ratio = malloc(sizeof(double) * (size_t)rounds);
            static ktab kt[2];
            kt[0].n = kt[1].n = 0;
            for (int r = -2; r < rounds; r++) /* two warm-up rounds (builds, algorithm choice) */
                for (int d = 0; d < 2; d++) {
                    lay *l = &L[d];
                    ok(cl16_ctx_finish(ctx), "finish");
                    const double t0 = now();
                    if (s->pool)
                        ok(pass == 0 ? cl16_pool2d_forward(ctx, &pp, l->x, l->y, l->idx)
                                     : cl16_pool2d_backward(ctx, &pp, l->y, l->idx, beta, l->dx),
                           "pool");
                    else if (pass == 0)
                        ok(cl16_conv2d_forward(ctx, &cp, l->x, l->w, l->b, l->y), "conv fwd");
                    else if (pass == 1)
                        ok(cl16_conv2d_backward_data(ctx, &cp, l->y, l->w, beta, l->dx), "conv bwd_data");
                    else
                        ok(cl16_conv2d_backward_weights(ctx, &cp, l->x, l->y, 0.0f, l->dw, l->db),
                           "conv bwd_w");
                    ok(cl16_ctx_finish(ctx), "finish");
                    if (r >= 0) t[d][r] = (now() - t0) * 1e3;
                    if (use_kernels) {
                        cl16_kernel_time k[KT_MAX];
                        size_t nk = 0;
                        ok(cl16_ctx_kernel_times(ctx, k, KT_MAX, &nk, 1), "kernel times");
                        for (size_t i = 0; r >= 0 && i < nk && i < KT_MAX; i++) kt_add(&kt[d], &k[i]);
                    }
                }
            for (int r = 0; r < rounds; r++) ratio[r] = t[1][r] / t[0][r];
            const double m32 = median(t[0], rounds), m16 = median(t[1], rounds);
            sum[0] += m32, sum[1] += m16;
            printf("| %s | %s | %.3f | %.3f | %.2f |\n", s->name, pname[pass], m32, m16,
                   median(ratio, rounds));
            for (int d = 0; use_kernels && d < 2; d++)
                for (int i = 0; i < kt[d].n; i++)
                    printf("|   %s kernel | %s | %.3f ms/call | %.1f launches/call | |\n",
                           d ? "f16" : "f32", kt[d].e[i].name, kt[d].e[i].seconds * 1e3 / rounds,
                           (double)kt[d].e[i].calls / rounds);
            fflush(stdout);
            free(t[0]), free(t[1]), free(ratio);
        }
        for (int d = 0; d < 2; d++) {
            cl16_tensor *all[] = {L[d].x, L[d].w, L[d].b, L[d].y, L[d].dx, L[d].dw, L[d].db, L[d].idx};
            for (int i = 0; i < 8; i++) cl16_tensor_free(all[i]);
        }
    }
    printf("| all | sum of medians | %.2f | %.2f | %.2f |\n", sum[0], sum[1], sum[1] / sum[0]);
    cl16_ctx_free(ctx);
    return 0;
}
