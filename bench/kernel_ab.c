/* kernel_ab.c - one kernel-source edit against another, in one process: two
 * contexts, one building its kernels from directory A and one from B (the
 * kernel_dir option, as CL16_KERNEL_DIR), run the same convolution forwards
 * alternately, a round at a time with the order reversed every other round,
 * so both see the same load on a shared machine. Reported per shape and
 * dtype: median ms per call of each, the median B/A of the rounds with their
 * least and most, the algorithm each context ran, and how many outputs differ
 * in their bits (0 when the edit keeps the results). The shapes are the 3x3,
 * stride-1, pad-1 forwards of ResNet-20 at batch 128 on 32x32 inputs, and the
 * same on 28x28; with "beta1", their backward-data accumulating into dx
 * (beta 1, as a residual block's first convolution does). Set CL16_CONV_ALGO
 * to hold the algorithm fixed (the measured choice may differ between the
 * contexts). Run:
 *   CL16_CONV_ALGO=implicit build/bench/kernel_ab kernels /tmp/edited-kernels [rounds] [beta1]
 * (docs/benchmarks.md quotes it for the mapped stores of the implicit GEMM). */
#include "bench_rand.h"
#include "cl16.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void ok(cl16_ctx *ctx, cl16_status s, const char *what) {
    if (s) {
        fprintf(stderr, "kernel_ab: %s: %s: %s\n", what, cl16_status_str(s),
                ctx ? cl16_ctx_last_error(ctx) : "");
        exit(1);
    }
}

/* A tensor of uniform values in [-0.5, 0.5) from a fixed seed (bench_rand.h). */
static cl16_tensor *mkr(cl16_ctx *ctx, cl16_dtype dt, const int64_t d[4], uint64_t seed) {
    cl16_tensor *t;
    ok(ctx, cl16_tensor_create(ctx, dt, 4, d, &t), "tensor");
    ok(ctx, bench_fill_uniform(t, (size_t)(d[0] * d[1] * d[2] * d[3]), 0.5f, seed), "random contents");
    return t;
}

enum { MAXR = 101, REPS = 3 };

/* y = conv(x, w), or (bwd) x += conv^T(y, w). */
static cl16_status call(cl16_ctx *ctx, int bwd, const cl16_conv2d_params *p, cl16_tensor *x,
                        const cl16_tensor *w, cl16_tensor *y) {
    return bwd ? cl16_conv2d_backward_data(ctx, p, y, w, 1.0f, x)
               : cl16_conv2d_forward(ctx, p, x, w, NULL, y);
}

int main(int argc, char **argv) {
    if (argc < 3 || (argc > 4 && strcmp(argv[4], "beta1"))) {
        fprintf(stderr, "usage: kernel_ab KERNEL_DIR_A KERNEL_DIR_B [rounds (1..%d, 11)] [beta1]\n",
                MAXR);
        return 2;
    }
    const int bwd = argc > 4; /* backward-data, beta 1 */
    const int rounds = argc > 3 ? atoi(argv[3]) : 11;
    if (rounds < 1 || rounds > MAXR) {
        fprintf(stderr, "kernel_ab: rounds must be 1..%d, got '%s'\n", MAXR, argv[3]);
        return 2;
    }
    cl16_ctx *cx[2];
    for (int k = 0; k < 2; k++) {
        cl16_ctx_opts o;
        cl16_ctx_opts_init(&o);
        o.kernel_dir = argv[1 + k];
        ok(NULL, cl16_ctx_create(&cx[k], &o), argv[1 + k]);
    }
    printf("%s, batch 128, %s, %d rounds of %d calls, A = %s, B = %s\n",
           cl16_ctx_device(cx[0])->name, bwd ? "backward-data with beta 1" : "forward", rounds, REPS,
           argv[1], argv[2]);
    printf("| shape | dtype | A ms | B ms | B/A (median of rounds) | least-most | algorithm A / B | "
           "outputs differing |\n|---|---|---|---|---|---|---|---|\n");
    static const int64_t shapes[][2] = {{16, 32}, {32, 16}, {64, 8}, {16, 28}, {32, 14}, {64, 7}};
    const int ns = (int)(sizeof shapes / sizeof *shapes);
    cl16_conv2d_params p;
    cl16_conv2d_params_init(&p);
    p.pad_h = p.pad_w = 1;
    for (int si = 0; si < ns; si++)
        for (int h16 = 0; h16 < 2; h16++) {
            const cl16_dtype dt = h16 ? CL16_F16 : CL16_F32;
            const int64_t c = shapes[si][0], h = shapes[si][1];
            const int64_t xd[4] = {128, c, h, h}, wd[4] = {c, c, 3, 3};
            cl16_tensor *x[2], *w[2], *y[2];
            char algo[2][32];
            for (int k = 0; k < 2; k++) {
                x[k] = mkr(cx[k], dt, xd, 1 + (uint64_t)si);
                w[k] = mkr(cx[k], dt, wd, 100 + (uint64_t)si);
                y[k] = mkr(cx[k], dt, xd, 200);
                /* the first call: kernel builds and the algorithm's choice */
                ok(cx[k], call(cx[k], bwd, &p, x[k], w[k], y[k]), "convolution");
                ok(cx[k], cl16_ctx_finish(cx[k]), "finish");
                ok(cx[k],
                   cl16_conv2d_algorithm(cx[k], &p, dt, xd, wd, 0, bwd, algo[k], sizeof algo[k]),
                   "algorithm");
            }
            double t[2][MAXR], r[MAXR];
            for (int ri = 0; ri < rounds; ri++) {
                for (int kk = 0; kk < 2; kk++) {
                    const int k = ri & 1 ? 1 - kk : kk;
                    const double t0 = now();
                    for (int q = 0; q < REPS; q++)
                        ok(cx[k], call(cx[k], bwd, &p, x[k], w[k], y[k]), "convolution");
                    ok(cx[k], cl16_ctx_finish(cx[k]), "finish");
                    t[k][ri] = (now() - t0) / REPS * 1e3;
                }
                r[ri] = t[1][ri] / t[0][ri];
            }
            const size_t cnt = (size_t)(128 * c * h * h);
            float *a = malloc(cnt * sizeof *a), *b = malloc(cnt * sizeof *b);
            if (!a || !b) {
                fprintf(stderr, "kernel_ab: out of host memory\n");
                return 1;
            }
            ok(cx[0], cl16_tensor_read_f32(bwd ? x[0] : y[0], a, cnt), "read");
            ok(cx[1], cl16_tensor_read_f32(bwd ? x[1] : y[1], b, cnt), "read");
            size_t diff = 0;
            for (size_t i = 0; i < cnt; i++) diff += memcmp(&a[i], &b[i], sizeof *a) != 0;
            free(a), free(b);
            qsort(t[0], (size_t)rounds, sizeof(double), cmp);
            qsort(t[1], (size_t)rounds, sizeof(double), cmp);
            qsort(r, (size_t)rounds, sizeof(double), cmp);
            printf("| %lldx%lldx%lld 3x3 | %s | %.3f | %.3f | %.3f | %.3f-%.3f | %s / %s | %zu |\n",
                   (long long)c, (long long)h, (long long)h, h16 ? "f16" : "f32", t[0][rounds / 2],
                   t[1][rounds / 2], r[rounds / 2], r[0], r[rounds - 1], algo[0], algo[1], diff);
            fflush(stdout);
            for (int k = 0; k < 2; k++) {
                cl16_tensor_free(x[k]);
                cl16_tensor_free(w[k]);
                cl16_tensor_free(y[k]);
            }
        }
    for (int k = 0; k < 2; k++) cl16_ctx_free(cx[k]);
    return 0;
}
