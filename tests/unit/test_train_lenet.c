/* test_train_lenet.c - LeNet-5 (PyTorch layout: conv1 1->6 5x5 pad 2, ReLU,
 * max-pool 2, conv2 6->16 5x5, ReLU, max-pool 2, fc1 400->120, ReLU, fc2
 * 120->84, ReLU, fc3 84->10) trained on Fashion-MNIST through the public layer
 * API, forward and backward by hand, in f32 and in pure f16. Every layer of
 * the CNN path (convolution both ways, pooling with indices, Linear on a 4-D
 * input, ReLU, softmax cross-entropy, SGD) runs in one loop; both dtypes must
 * learn and agree within a few points. Skipped when Fashion-MNIST is absent.
 *
 * `test_train_lenet --bench` instead times 20 steps at batch 128 per dtype
 * (after 5 warm-up steps, each dtype in a fresh context) and prints ms/step and
 * peak device memory, f16 against f32: the training-step figure of
 * docs/benchmarks.md until the `cl16 bench step` command exists. */
#include <math.h>
#include <stdint.h>
#include <time.h>

#include "check.h"

enum { MAXB = 128, NP = 10 };
static int BATCH = 32, STEPS = 150, TEST_N = 1024;
static double step_s;     /* --bench: seconds per step after the warm-up */
static double step_cpu;   /* --bench: process CPU seconds per step (PoCL's threads included) */
static double cpu_now(void);
static uint64_t peak_mem; /* --bench: peak device bytes of the run */

static uint64_t rng;
static float urand(float bound) {
    uint64_t z = (rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull, z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return (float)(((double)(z >> 11) / 9007199254740992.0 * 2.0 - 1.0) * bound);
}

static cl16_tensor *mk(cl16_ctx *ctx, cl16_dtype dt, int nd, const int64_t *d) {
    cl16_tensor *t = NULL;
    CHECK_OK(ctx, cl16_tensor_create(ctx, dt, nd, d, &t));
    if (t)
        CHECK_OK(ctx, cl16_tensor_fill(t, 0.0f));
    return t;
}
#define T(nd, ...) mk(ctx, dt, nd, (const int64_t[]){__VA_ARGS__})

typedef struct result {
    double first_loss, last_loss, acc;
} result;

static double cl16_now_for_test(void);

/* --profile: each layer call of a timed step runs alone (the queue drained
 * before and after it); per call site the fastest of its timed calls counts
 * (the machine is shared: the minimum of many is what repeats). */
enum { NPROF = 23 };
static const char *prof_name[NPROF] = {
    "conv1 fwd",     "relu1 fwd",   "pool1 fwd",     "conv2 fwd",      "relu2 fwd",
    "pool2 fwd",     "fc1 fwd",     "fc2 fwd",       "fc3 fwd",        "softmax-xent",
    "fc3 bwd",       "relu4 bwd",   "fc2 bwd",       "relu3 bwd",      "fc1 bwd",
    "pool2 bwd",     "relu2 bwd",   "conv2 bwd_w",   "conv2 bwd_data", "pool1 bwd",
    "relu1 bwd",     "conv1 bwd_w", "SGD (10 tensors)"};
static int profile, timing, prof_cpu;
/* The profile's clock: wall time, or with --profile-cpu the CPU time of the
 * whole process (PoCL's worker threads included), which other processes on
 * a loaded machine disturb far less. */
static double prof_clock(void) {
    struct timespec ts;
    clock_gettime(prof_cpu ? CLOCK_PROCESS_CPUTIME_ID : CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}
static double prof_s[NPROF];
#define PROF(i, call)                                                                              \
    do {                                                                                           \
        double t_ = 0;                                                                             \
        if (profile && timing) {                                                                   \
            CHECK_OK(ctx, cl16_ctx_finish(ctx));                                                   \
            t_ = prof_clock();                                                              \
        }                                                                                          \
        CHECK_OK(ctx, call);                                                                       \
        if (profile && timing) {                                                                   \
            CHECK_OK(ctx, cl16_ctx_finish(ctx));                                                   \
            t_ = prof_clock() - t_;                                                         \
            if (t_ < prof_s[i])                                                                    \
                prof_s[i] = t_;                                                                    \
        }                                                                                          \
    } while (0);

static result run(cl16_ctx *ctx, cl16_dtype dt, const cl16_dataset *tr, const cl16_dataset *te) {
    result r = {0, 0, 0};
    rng = 12345;
    /* Parameters: {shape, fan_in}. */
    static const int64_t shp[NP][4] = {{6, 1, 5, 5}, {6},       {16, 6, 5, 5}, {16},     {120, 400},
                                       {120},        {84, 120}, {84},          {10, 84}, {10}};
    static const int nd[NP] = {4, 1, 4, 1, 2, 1, 2, 1, 2, 1};
    static const float fan[NP] = {25, 25, 150, 150, 400, 400, 120, 120, 84, 84};
    cl16_tensor *p[NP], *g[NP], *m[NP];
    for (int i = 0; i < NP; i++) {
        p[i] = mk(ctx, dt, nd[i], shp[i]), g[i] = mk(ctx, dt, nd[i], shp[i]);
        m[i] = mk(ctx, dt, nd[i], shp[i]);
        int64_t n = cl16_tensor_numel(p[i]);
        float *v = malloc((size_t)n * sizeof *v);
        for (int64_t j = 0; j < n; j++)
            v[j] = urand(1.0f / sqrtf(fan[i]));
        CHECK_OK(ctx, cl16_tensor_write_f32(p[i], v, (size_t)n));
        free(v);
    }
    const int64_t N = BATCH;
    cl16_tensor *x = T(4, N, 1, 28, 28), *c1 = T(4, N, 6, 28, 28), *r1 = T(4, N, 6, 28, 28);
    cl16_tensor *p1 = T(4, N, 6, 14, 14), *c2 = T(4, N, 16, 10, 10), *r2 = T(4, N, 16, 10, 10);
    cl16_tensor *p2 = T(4, N, 16, 5, 5), *a1 = T(2, N, 120), *a2 = T(2, N, 84), *z = T(2, N, 10);
    cl16_tensor *dz = T(2, N, 10), *da2 = T(2, N, 84), *dz2 = T(2, N, 84), *da1 = T(2, N, 120);
    cl16_tensor *dz1 = T(2, N, 120), *dp2 = T(4, N, 16, 5, 5), *dr2 = T(4, N, 16, 10, 10);
    cl16_tensor *dc2 = T(4, N, 16, 10, 10), *dp1 = T(4, N, 6, 14, 14), *dr1 = T(4, N, 6, 28, 28);
    cl16_tensor *dc1 = T(4, N, 6, 28, 28), *i1 = NULL, *i2 = NULL, *lab = NULL;
    CHECK_OK(ctx, cl16_tensor_create(ctx, CL16_I32, 4, (const int64_t[]){N, 6, 14, 14}, &i1));
    CHECK_OK(ctx, cl16_tensor_create(ctx, CL16_I32, 4, (const int64_t[]){N, 16, 5, 5}, &i2));
    CHECK_OK(ctx, cl16_tensor_create(ctx, CL16_I32, 1, &N, &lab));
    cl16_conv2d_params cp1, cp2;
    cl16_conv2d_params_init(&cp1), cl16_conv2d_params_init(&cp2);
    cp1.pad_h = cp1.pad_w = 2;
    cl16_pool2d_params pp;
    cl16_pool2d_params_init(&pp); /* max 2x2 stride 2 */
    cl16_optim_params op;
    cl16_optim_params_init(&op);
    op.lr = 0.05f, op.momentum = 0.9f;

    int64_t count;
    int cc, hh, ww, classes;
    cl16_dataset_shape(tr, &count, &cc, &hh, &ww, &classes);
    int64_t *perm = malloc((size_t)count * sizeof *perm), idx[MAXB];
    static float img[MAXB * 784];
    int32_t labels[MAXB];
    cl16_shuffle(3, count, perm);
    double acc20 = 0;
    double t0 = 0, c0 = 0;
    for (int step = 0; step < STEPS + 1; step++) {
        const int eval = step == STEPS; /* the last pass evaluates */
        if (step == 5 || eval) {
            CHECK_OK(ctx, cl16_ctx_finish(ctx));
            timing = step == 5;
            if (step == 5)
                t0 = cl16_now_for_test(), c0 = cpu_now();
            else
                step_s = (cl16_now_for_test() - t0) / (STEPS - 5),
                step_cpu = (cpu_now() - c0) / (STEPS - 5);
        }
        int64_t hits = 0;
        for (int64_t b0 = 0; b0 < (eval ? TEST_N : BATCH); b0 += BATCH) {
            for (int i = 0; i < BATCH; i++)
                idx[i] = eval ? b0 + i : perm[step * BATCH + i];
            CHECK_OK(ctx, cl16_dataset_batch(eval ? te : tr, idx, BATCH, NULL, NULL, 0, 0, 0, img,
                                             labels));
            CHECK_OK(ctx, cl16_tensor_write_f32(x, img, BATCH * 784));
            CHECK_OK(ctx, cl16_tensor_write_raw(lab, labels, (size_t)BATCH * sizeof labels[0]));
            PROF(0, cl16_conv2d_forward(ctx, &cp1, x, p[0], p[1], c1))
            PROF(1, cl16_relu_forward(ctx, c1, r1))
            PROF(2, cl16_pool2d_forward(ctx, &pp, r1, p1, i1))
            PROF(3, cl16_conv2d_forward(ctx, &cp2, p1, p[2], p[3], c2))
            PROF(4, cl16_relu_forward(ctx, c2, r2))
            PROF(5, cl16_pool2d_forward(ctx, &pp, r2, p2, i2))
            PROF(6, cl16_linear_forward(ctx, p2, p[4], p[5], 1, a1))
            PROF(7, cl16_linear_forward(ctx, a1, p[6], p[7], 1, a2))
            PROF(8, cl16_linear_forward(ctx, a2, p[8], p[9], 0, z))
            double loss = 0;
            int64_t correct = 0;
            PROF(9, cl16_softmax_xent(ctx, z, lab, 1.0f, &loss, &correct, eval ? NULL : dz))
            hits += correct;
            if (eval)
                continue;
            PROF(10, cl16_linear_backward(ctx, a2, p[8], dz, 0.0f, da2, g[8], g[9]))
            PROF(11, cl16_relu_backward(ctx, a2, da2, 0.0f, dz2))
            PROF(12, cl16_linear_backward(ctx, a1, p[6], dz2, 0.0f, da1, g[6], g[7]))
            PROF(13, cl16_relu_backward(ctx, a1, da1, 0.0f, dz1))
            PROF(14, cl16_linear_backward(ctx, p2, p[4], dz1, 0.0f, dp2, g[4], g[5]))
            PROF(15, cl16_pool2d_backward(ctx, &pp, dp2, i2, 0.0f, dr2))
            PROF(16, cl16_relu_backward(ctx, r2, dr2, 0.0f, dc2))
            PROF(17, cl16_conv2d_backward_weights(ctx, &cp2, p1, dc2, 0.0f, g[2], g[3]))
            PROF(18, cl16_conv2d_backward_data(ctx, &cp2, dc2, p[2], 0.0f, dp1))
            PROF(19, cl16_pool2d_backward(ctx, &pp, dp1, i1, 0.0f, dr1))
            PROF(20, cl16_relu_backward(ctx, r1, dr1, 0.0f, dc1))
            PROF(21, cl16_conv2d_backward_weights(ctx, &cp1, x, dc1, 0.0f, g[0], g[1]))
            double t_sgd = 0;
            if (profile && timing) {
                CHECK_OK(ctx, cl16_ctx_finish(ctx));
                t_sgd = prof_clock();
            }
            for (int i = 0; i < NP; i++)
                CHECK_OK(ctx, cl16_optim_step(ctx, &op, step + 1, p[i], g[i], m[i], NULL));
            if (profile && timing) {
                CHECK_OK(ctx, cl16_ctx_finish(ctx));
                t_sgd = prof_clock() - t_sgd;
                if (t_sgd < prof_s[22])
                    prof_s[22] = t_sgd;
            }
            if (step < 20)
                r.first_loss += loss / 20;
            if (step >= STEPS - 20)
                r.last_loss += loss / 20, acc20 += (double)correct;
        }
        if (eval)
            r.acc = (double)hits / TEST_N;
    }
    (void)acc20;
    uint64_t cur;
    cl16_ctx_memory(ctx, &cur, &peak_mem);
    free(perm);
    cl16_tensor *all[] = {x,   c1,  r1,  p1,  c2,  r2,  p2,  a1,  a2,  z,  dz, da2,
                          dz2, da1, dz1, dp2, dr2, dc2, dp1, dr1, dc1, i1, i2, lab};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        cl16_tensor_free(all[i]);
    for (int i = 0; i < NP; i++)
        cl16_tensor_free(p[i]), cl16_tensor_free(g[i]), cl16_tensor_free(m[i]);
    return r;
}

static double cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double cl16_now_for_test(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* --profile [rounds]: 6 (or rounds) rounds of (f32, f16), each dtype in a fresh context; per layer
 * call the fastest call of all rounds, and their sum (calls run one at a
 * time, so it exceeds --bench's pipelined step). */
static int profile_main(cl16_dataset *tr, cl16_dataset *te, int ROUNDS) {
    double best[2][NPROF], step_best[2];
    uint64_t peak[2] = {0, 0};
    for (int d = 0; d < 2; d++)
        for (int i = 0; i < NPROF; i++)
            best[d][i] = 1e30;
    profile = 1, BATCH = 128, STEPS = 25, TEST_N = 128;
    for (int r = 0; r < ROUNDS; r++)
        for (int d = 0; d < 2; d++) {
            cl16_ctx *ctx = test_ctx(getenv("CL16_CACHE_DIR"));
            for (int i = 0; i < NPROF; i++)
                prof_s[i] = 1e30;
            run(ctx, d ? CL16_F16 : CL16_F32, tr, te);
            cl16_ctx_free(ctx);
            for (int i = 0; i < NPROF; i++)
                if (prof_s[i] * 1e3 < best[d][i])
                    best[d][i] = prof_s[i] * 1e3;
            peak[d] = peak_mem;
        }
    for (int d = 0; d < 2; d++) {
        step_best[d] = 0;
        for (int i = 0; i < NPROF; i++)
            step_best[d] += best[d][i];
    }
    printf("%s\n| layer call | f32 ms | f16 ms | f16/f32 |\n|---|---|---|---|\n",
           prof_cpu ? "CPU time (all threads)" : "wall time");
    for (int i = 0; i < NPROF; i++)
        printf("| %s | %.3f | %.3f | %.2f |\n", prof_name[i], best[0][i], best[1][i],
               best[1][i] / best[0][i]);
    printf("| step (sum of the fastest calls) | %.2f | %.2f | %.2f |\n", step_best[0],
           step_best[1], step_best[1] / step_best[0]);
    printf("peak device memory: f32 %.1f MB, f16 %.1f MB (f16/f32 %.2f)\n", peak[0] / 1e6,
           peak[1] / 1e6, (double)peak[1] / (double)peak[0]);
    cl16_dataset_free(tr), cl16_dataset_free(te);
    return check_done("train_lenet --profile");
}

int main(int argc, char **argv) {
    const int bench = argc > 1 && !strcmp(argv[1], "--bench");
    if (bench)
        BATCH = 128, STEPS = 25, TEST_N = 128;
    char err[512];
    cl16_dataset *tr = NULL, *te = NULL;
    if (cl16_dataset_load("fashion-mnist", NULL, 1, &tr, err, sizeof err) ||
        cl16_dataset_load("fashion-mnist", NULL, 0, &te, err, sizeof err)) {
        cl16_dataset_free(tr);
        SKIP("Fashion-MNIST not available: %s", err);
    }
    prof_cpu = argc > 1 && !strcmp(argv[1], "--profile-cpu");
    if (argc > 1 && (!strcmp(argv[1], "--profile") || prof_cpu))
        return profile_main(tr, te, argc > 2 ? atoi(argv[2]) : 6);
    cl16_ctx *ctx = test_ctx(getenv("CL16_CACHE_DIR"));
    result f32 = run(ctx, CL16_F32, tr, te);
    const double s32 = step_s, c32 = step_cpu;
    const uint64_t m32 = peak_mem;
    if (bench)
        cl16_ctx_free(ctx), ctx = test_ctx(getenv("CL16_CACHE_DIR")); /* fresh peak */
    result f16 = run(ctx, CL16_F16, tr, te);
    if (bench) {
        printf("LeNet-5 step, batch 128, %s: f32 %.1f ms, f16 %.1f ms (f16/f32 %.2f); CPU time "
               "(all threads) f32 %.1f ms, f16 %.1f ms (f16/f32 %.2f); peak device memory f32 "
               "%.1f MB, f16 %.1f MB (f16/f32 %.2f)\n",
               cl16_ctx_device(ctx)->name, s32 * 1e3, step_s * 1e3, step_s / s32, c32 * 1e3,
               step_cpu * 1e3, step_cpu / c32, m32 / 1e6, peak_mem / 1e6,
               (double)peak_mem / (double)m32);
        cl16_dataset_free(tr), cl16_dataset_free(te);
        cl16_ctx_free(ctx);
        return check_done("train_lenet --bench");
    }
    printf("f32: loss %.3f -> %.3f, test accuracy %.3f\n", f32.first_loss, f32.last_loss, f32.acc);
    printf("f16: loss %.3f -> %.3f, test accuracy %.3f\n", f16.first_loss, f16.last_loss, f16.acc);
    /* 150 steps of 32 images (4800 images, under a tenth of an epoch). */
    CHECK_MSG(f32.last_loss < 0.7 * f32.first_loss, "f32 loss did not fall enough");
    CHECK_MSG(f16.last_loss < 0.7 * f16.first_loss, "f16 loss did not fall enough");
    CHECK_MSG(f32.acc > 0.60, "f32 test accuracy %.3f", f32.acc);
    CHECK_MSG(f16.acc > 0.60, "f16 test accuracy %.3f", f16.acc);
    CHECK_MSG(fabs(f16.acc - f32.acc) < 0.08, "f16 %.3f vs f32 %.3f", f16.acc, f32.acc);
    cl16_dataset_free(tr), cl16_dataset_free(te);
    cl16_ctx_free(ctx);
    return check_done("train_lenet");
}
