/* bench_train.c - `cl16 bench train`: the time and peak device memory of a
 * whole training step (upload, forward, loss, backward, optimizer) of each
 * built-in model in fp32 and fp16 on one device, and their ratios. Each
 * precision gets its own context so that its peak memory is its own; a
 * model's precisions are timed in the same rounds (bench_time_rounds). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/bench_peer.h"
#include "cli/bench_util.h"
#include "cli/cli.h"

typedef struct result {
    const char *model;
    const char *dtype; /* the precision's name */
    int batch, steps;
    double first_s, step_s, images_per_s, loss;
    double median_s, max_s; /* over the blocks: the spread of ms/step */
    double round_s[BENCH_MAX_BLOCKS]; /* per step, block by block in the order timed */
    double kernel_s;        /* device-busy time per step (median block); NAN if not measured */
    double flops;           /* floating-point operations of one step (cl16_ctx_stats) */
    int blocks;
    uint64_t peak;
    int rc;
    /* --profile: the kernels taking the most device time over the timed steps */
    cl16_kernel_time kt[24];
    size_t nkt;  /* entries in kt */
    size_t akt;  /* distinct kernels in all */
    int psteps;  /* steps those times cover */
    /* time against fp32 (not for fp32 itself): the median, least and most of
     * the rounds' ratios */
    double time_x, time_x_min, time_x_max;
} result;

typedef struct step_call {
    cl16_ctx *ctx;
    cl16_trainer *t;
    const float *img;
    const int32_t *lab;
    int batch;
    double *loss;
    int calls;
} step_call;
static int step_one(void *u) {
    step_call *c = u;
    c->calls++;
    return (int)cl16_trainer_step(c->t, c->img, c->lab, c->batch, c->loss, NULL);
}
static int step_finish(void *u) { return (int)cl16_ctx_finish(((step_call *)u)->ctx); }

/* One model in one precision, in its own context (so that its peak memory is
 * its own), ready to be timed: the first warm-up step is taken here (its
 * operation count is one step's); the second is bench_time_rounds' first call. */
typedef struct run_state {
    cl16_ctx *ctx;
    cl16_model *m;
    cl16_trainer *t;
    float *img;
    int32_t *lab;
    step_call sc;
} run_state;

static void run_free(run_state *q) {
    free(q->img), free(q->lab);
    cl16_trainer_free(q->t);
    cl16_model_free(q->m);
    cl16_ctx_free(q->ctx);
    memset(q, 0, sizeof *q);
}

static int run_setup(const char *device, const char *model, cl16_precision prec, int batch,
                     int steps, int profile, result *r, run_state *q) {
    memset(r, 0, sizeof *r);
    memset(q, 0, sizeof *q);
    const cl16_dtype dt = cl16_precision_dtype(prec);
    r->model = model, r->dtype = cl16_precision_name(prec);
    r->batch = batch, r->steps = steps;
    int rc = cli_ctx(&q->ctx, device, 0, 1); /* profiling: kernel times */
    if (rc)
        return r->rc = rc;
    cl16_ctx *ctx = q->ctx;
    cl16_model_opts mo;
    cl16_model_opts_init(&mo);
    mo.arch = model, mo.dtype = dt;
    if (strncmp(model, "resnet", 6) == 0) /* CIFAR-10's shape, what ResNet-20 is for */
        mo.channels = 3, mo.height = mo.width = 32;
    cl16_train_opts to;
    cl16_train_opts_init(&to);
    to.optim.lr = 0.01f, to.optim.momentum = 0.9f, to.optim.weight_decay = 5e-4f;
    to.precision = prec; /* 16-bit: dynamic loss scaling and stall counting on, as in training */
    const size_t px = (size_t)batch * mo.channels * mo.height * mo.width;
    q->img = malloc(px * sizeof *q->img);
    q->lab = malloc((size_t)batch * sizeof *q->lab);
    cl16_status s = q->img && q->lab ? CL16_OK : CL16_ERR_OUT_OF_MEMORY;
    if (!s)
        s = cl16_model_create(ctx, &mo, 1, &q->m);
    if (!s)
        s = cl16_trainer_create(q->m, &to, &q->t);
    if (!s) {
        bench_fill_random(q->img, px, 7, 0);
        for (int i = 0; i < batch; i++)
            q->lab[i] = (i * 7) % mo.classes;
        cl16_ctx_stats st0, st1;
        cl16_ctx_stats_get(ctx, &st0);
        double t0 = bench_now();
        s = cl16_trainer_step(q->t, q->img, q->lab, batch, &r->loss, NULL);
        if (!s)
            s = cl16_ctx_finish(ctx);
        r->first_s = bench_now() - t0;
        cl16_ctx_stats_get(ctx, &st1);
        r->flops = st1.op_flops - st0.op_flops;
    }
    size_t nk;
    if (!s && profile) /* from here on: the per-kernel split of the timed steps */
        s = cl16_ctx_kernel_times(ctx, NULL, 0, &nk, 1);
    if (s)
        return r->rc = cli_fail(s, "bench train", cl16_ctx_last_error(ctx));
    const step_call sc = {ctx, q->t, q->img, q->lab, batch, &r->loss, 0};
    q->sc = sc;
    return 0;
}

/* The timed blocks' figures into r (and the profile, the peak memory). */
static int run_finish(const bench_stats *bs, int profile, result *r, run_state *q) {
    if (profile) {
        cl16_status s = cl16_ctx_kernel_times(q->ctx, r->kt, sizeof r->kt / sizeof r->kt[0],
                                              &r->akt, 0);
        if (s)
            return r->rc = cli_fail(s, "bench train", cl16_ctx_last_error(q->ctx));
        r->nkt = r->akt < sizeof r->kt / sizeof r->kt[0] ? r->akt : sizeof r->kt / sizeof r->kt[0];
        r->psteps = q->sc.calls;
    }
    r->first_s += bs->first_s;
    r->step_s = bs->min_s, r->median_s = bs->median_s, r->max_s = bs->max_s;
    r->kernel_s = bs->kernel_s, r->blocks = bs->blocks;
    memcpy(r->round_s, bs->round_s, sizeof r->round_s);
    r->images_per_s = r->batch / r->step_s;
    uint64_t cur;
    cl16_ctx_memory(q->ctx, &cur, &r->peak);
    return 0;
}

/* A peer framework's steps (--peer), timed in the same rounds as the model's
 * precisions. */
typedef struct peer_result {
    int ok;        /* timed: the figures below are set */
    bench_peer_id id;
    double loss;   /* its last step's */
    bench_stats bs; /* its blocks, in the model's rounds */
    /* cl16's speed over the peer's for each precision: the peer's block time
     * over the precision's, median, least and most over the rounds */
    double speed[8], speed_min[8], speed_max[8];
} peer_result;

/* A run's step times in the JSON: the fastest, median and slowest blocks,
 * their count, each block's in the order timed (the same rounds for a
 * model's precisions and its peer: block k of each is round k), and images/s
 * from the fastest and the median. */
static void json_steps(FILE *jf, int batch, double fastest, double median, double slowest,
                       int blocks, const double *round_s) {
    bench_json_field(jf, "ms_per_step", fastest * 1e3);
    bench_json_field(jf, "ms_per_step_median", median * 1e3);
    bench_json_field(jf, "ms_per_step_max", slowest * 1e3);
    fprintf(jf, ", \"blocks\": %d, \"ms_per_step_rounds\": [", blocks);
    for (int k = 0; k < blocks; k++) {
        fprintf(jf, "%s", k ? ", " : "");
        bench_json_num(jf, round_s[k] * 1e3);
    }
    fprintf(jf, "]");
    bench_json_field(jf, "images_per_s", batch / fastest);
    bench_json_field(jf, "images_per_s_median", batch / median);
}

/* The --profile lines under a row: the top kernels per step. */
static void print_profile(const result *r, int profile) {
    if (!profile || !r->psteps)
        return;
    double tot = 0;
    for (size_t k = 0; k < r->nkt; k++)
        tot += r->kt[k].seconds;
    printf("    %-34s %9s %7s %10s   (%zu kernels; %d steps)\n", "kernel", "ms/step", "share",
           "launches", r->akt, r->psteps);
    for (size_t k = 0; k < r->nkt && k < (size_t)profile; k++)
        printf("    %-34s %9.3f %6.1f%% %10.1f\n", r->kt[k].name,
               r->kt[k].seconds * 1e3 / r->psteps, tot > 0 ? 100 * r->kt[k].seconds / tot : 0.0,
               (double)r->kt[k].calls / r->psteps);
}

static const char *usage_text =
    "usage: cl16 bench train [--models M1,M2,...] [--precisions P1,P2,...] [--batch B]\n"
    "                        [--steps S] [--quick] [--json FILE] [--peaks FILE] [--profile N]\n"
    "                        [--blocks N] [--peer CMD]\n"
    "  Time whole training steps (upload, forward, loss, backward, SGD with momentum)\n"
    "  of each model in each precision on random data, each precision in its own\n"
    "  context, all of a model's precisions timed in the same rounds (a block of each\n"
    "  per round); report ms/step, images/s, peak device memory and the ratios to\n"
    "  fp32 (time: the median of the rounds' ratios, their least and most beside it).\n"
    "  defaults: --models lenet5,resnet20 --precisions fp32,fp16 (any of fp32 fp16\n"
    "  fp16-sr fp16-kahan mixed bf16 bf16-sr; fp32 first) --batch 128 --steps 5 per block,\n"
    "  --blocks 5 (rounds; up to 20)\n"
    "  after 2 warm-up steps (ms/step: fastest block, with the median and slowest;\n"
    "  kernel ms from profiling events; GFLOP/s and % of the f32 peak from the median);\n"
    "  --quick: batch 32, 2 steps, 3 blocks. ResNets take 3x32x32 inputs, the others 1x28x28.\n"
    "  The device's peaks are measured first, or read from --peaks FILE (the output of\n"
    "  `cl16 bench peak --json` on this device).\n"
    "  --profile N: after each row, the N kernels with the most device time over the\n"
    "  timed steps (ms/step, share of the kernel time, launches/step; up to 24),\n"
    "  also in the JSON as \"kernels\".\n"
    "  --peer CMD: also time another framework's steps of each model in the same\n"
    "  rounds, block for block, and report cl16's speed over it per precision (the\n"
    "  median of the rounds' ratios). CMD is run as `sh -c \"CMD --serve MODEL --batch\n"
    "  B\"` and answers \"step\" lines (docs/benchmarks.md, \"Peers in the same\n"
    "  rounds\"); e.g. --peer \"/usr/bin/python3 bench/pytorch_peer.py\". A peer that\n"
    "  fails is reported by name and makes the exit status non-zero; cl16's rows and\n"
    "  JSON are still written.\n";

int bench_train(int argc, char **argv, const char *device) {
    char models[256] = "lenet5,resnet20", precs[256] = "fp32,fp16";
    int batch = 128, steps = 5, quick = 0, profile = 0, blocks = BENCH_MIN_BLOCKS;
    const char *json = NULL, *peaks_from = NULL, *peer_cmd = NULL;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        const int c = bench_common_opt(argc, argv, &i, usage_text, &quick, &json, &device);
        if (c == 2)
            return 0;
        if (c)
            continue;
        if (v && !strcmp(a, "--peaks")) {
            peaks_from = argv[++i];
        } else if (v && !strcmp(a, "--peer")) {
            peer_cmd = argv[++i];
        } else if (v && !strcmp(a, "--models")) {
            snprintf(models, sizeof models, "%s", v), i++;
        } else if (v && !strcmp(a, "--precisions")) {
            snprintf(precs, sizeof precs, "%s", v), i++;
        } else if (v && (!strcmp(a, "--batch") || !strcmp(a, "--steps") ||
                         !strcmp(a, "--profile") || !strcmp(a, "--blocks"))) {
            char *end;
            const long hi = a[2] == 'p' ? 24 : a[3] == 'l' ? BENCH_MAX_BLOCKS : 65536;
            long x = strtol(v, &end, 10);
            if (*end || x < 1 || x > hi) {
                fprintf(stderr, "cl16 bench train: %s must be an integer in 1..%ld, got '%s'\n", a,
                        hi, v);
                return CL16_EXIT_USAGE;
            }
            *(a[3] == 'l' ? &blocks : a[2] == 'b' ? &batch : a[2] == 's' ? &steps : &profile) =
                (int)x;
            i++;
        } else {
            fprintf(stderr, "cl16 bench train: unknown or incomplete option '%s'\n%s", a, usage_text);
            return CL16_EXIT_USAGE;
        }
    }
    if (quick)
        batch = 32, steps = 2, blocks = BENCH_QUICK_BLOCKS;
    bench_out jo;
    if (bench_out_open(&jo, json, "bench train"))
        return cli_exit_code(CL16_ERR_IO);
    FILE *jf = jo.f;
    enum { MAXP = 8 };
    static result res[32][MAXP];
    static peer_result pres[32];
    const char *names[32];
    cl16_precision pl[MAXP];
    int n = 0, np = 0, rc = 0, peer_rc = 0;
    for (char *tok = strtok(models, ","); tok && n < 32; tok = strtok(NULL, ","))
        names[n++] = tok;
    for (char *tok = strtok(precs, ","); tok; tok = strtok(NULL, ",")) {
        if (np == MAXP || cl16_precision_parse(tok, &pl[np]) || pl[np] == CL16_PREC_AUTO ||
            (np == 0) != (pl[np] == CL16_PREC_FP32)) {
            fprintf(stderr, "cl16 bench train: --precisions takes fp32 first, then up to %d of "
                    "fp16, fp16-sr, fp16-kahan, mixed, bf16, bf16-sr; got '%s'\n", MAXP - 1, tok);
            return CL16_EXIT_USAGE;
        }
        np++;
    }
    cl16_ctx *ctx = NULL; /* for the device line and the JSON head */
    if ((rc = cli_ctx(&ctx, device, 0, 0)))
        goto out;
    cl16_peaks pk;
    if ((rc = bench_peaks(ctx, quick, peaks_from, "bench train", &pk)))
        goto out;
    fprintf(stderr, "cl16 bench train: %d model(s) at batch %d on %s, half path %s\n", n, batch,
            cl16_ctx_device(ctx)->name,
            cl16_ctx_half_path(ctx) == CL16_HALF_NATIVE ? "native" : "storage");
    printf("ms/step: fastest block [median, slowest]; kernel: device-busy ms/step (median); GFLOP/s "
           "from the median, %% of the f32 multiply-add peak (%.1f GFLOP/s)\n", pk.f32_gflops);
    printf("%-10s %10s %10s %19s %9s %8s %6s %10s %10s %6s %11s %9s\n", "model", "precision",
           "ms/step", "[median, max]", "kernel", "GFLOP/s", "%pk", "images/s", "peak MB", "time x",
           "(rounds)", "memory x");
    for (int i = 0; i < n && !rc; i++) {
        /* Every precision of the model at once, each in its own context, timed
         * in rounds (a block of each per round, bench_time_rounds): the time
         * ratios to fp32 are the rounds' medians, so a drift of the machine's
         * speed between precisions does not enter them. */
        run_state q[MAXP];
        bench_runner run[MAXP + 1];
        bench_stats bs[MAXP + 1];
        int err[MAXP + 1] = {0}, ready = 0, nr = np;
        bench_peer peer = {0};
        peer_result *pr = &pres[i];
        fprintf(stderr, "  %s: %d precision(s)%s, timed in rounds ...\n", names[i], np,
                peer_cmd ? " and a peer" : "");
        for (int d = 0; d < np && !rc; d++, ready++)
            rc = run_setup(device, names[i], pl[d], batch, steps, profile, &res[i][d], &q[d]);
        for (int d = 0; d < np && !rc; d++) {
            const bench_runner one = {step_one, step_finish, &q[d].sc, q[d].ctx, 0};
            run[d] = one;
        }
        if (!rc && peer_cmd) {
            /* The peer's own set-up and warm-up steps come before its greeting. */
            if ((rc = bench_peer_start(&peer, peer_cmd, names[i], batch))) {
                fprintf(stderr, "cl16 bench train: %s\n", peer.err);
            } else {
                const bench_runner one = {bench_peer_step, bench_peer_finish, &peer, NULL, 0};
                run[nr++] = one;
                fprintf(stderr, "  %s: peer %s %s (%s) on %s\n", names[i], peer.id.name,
                        peer.id.version, peer.id.precision, peer.id.device[0] ? peer.id.device : "?");
            }
        }
        if (!rc && bench_time_rounds(run, nr, blocks, blocks, steps, 0.0, steps, bs, err))
            for (int d = 0; d < np && !rc; d++)
                if (err[d])
                    rc = res[i][d].rc = cli_fail((cl16_status)err[d], "bench train",
                                                 cl16_ctx_last_error(q[d].ctx));
        for (int d = 0; d < np && !rc; d++)
            rc = run_finish(&bs[d], profile, &res[i][d], &q[d]);
        for (int d = 0; d < np && !rc; d++)
            res[i][d].time_x = bench_round_ratio(&bs[d], &bs[0], &res[i][d].time_x_min,
                                                 &res[i][d].time_x_max);
        if (!rc && nr > np) {
            if (err[np]) { /* cl16's rows go on; the exit status says the peer failed */
                fprintf(stderr, "cl16 bench train: %s\n", peer.err);
                peer_rc = err[np];
            } else {
                const bench_stats *b = &bs[np];
                pr->ok = 1, pr->id = peer.id, pr->loss = peer.loss, pr->bs = *b;
                for (int d = 0; d < np; d++)
                    pr->speed[d] = bench_round_ratio(b, &bs[d], &pr->speed_min[d],
                                                     &pr->speed_max[d]);
            }
        }
        bench_peer_stop(&peer);
        for (int d = 0; d < ready; d++)
            run_free(&q[d]);
        for (int d = 0; d < np && !rc; d++) {
            const result *r = &res[i][d], *b = &res[i][0];
            char spread[40];
            snprintf(spread, sizeof spread, "[%.2f, %.2f]", r->median_s * 1e3, r->max_s * 1e3);
            const double gf = r->flops / r->median_s * 1e-9;
            char kern[24] = "-"; /* none when a step's GEMMs went to CLBlast */
            if (r->kernel_s == r->kernel_s)
                snprintf(kern, sizeof kern, "%.2f", r->kernel_s * 1e3);
            printf("%-10s %10s %10.2f %19s %9s %8.2f %5.1f%% %10.1f %10.2f", r->model, r->dtype,
                   r->step_s * 1e3, spread, kern, gf, bench_pct(gf, pk.f32_gflops),
                   r->images_per_s, r->peak / 1e6);
            if (d) {
                char rounds[32];
                snprintf(rounds, sizeof rounds, "%.2f-%.2f", r->time_x_min, r->time_x_max);
                printf(" %6.2f %11s %9.2f\n", r->time_x, rounds,
                       (double)r->peak / (double)b->peak);
            } else {
                printf(" %6s %11s %9s\n", "1", "", "1");
            }
            print_profile(r, profile);
            fflush(stdout);
        }
        if (!rc && pr->ok) {
            /* "time x": the peer's block time over fp32's, cl16_speedup's fp32 */
            const bench_stats *b = &pr->bs;
            char spread[40], rounds[32];
            snprintf(spread, sizeof spread, "[%.2f, %.2f]", b->median_s * 1e3, b->max_s * 1e3);
            snprintf(rounds, sizeof rounds, "%.2f-%.2f", pr->speed_min[0], pr->speed_max[0]);
            printf("%-10s %10s %10.2f %19s %9s %8s %6s %10.1f %10s %6.2f %11s %9s\n", names[i],
                   pr->id.name, b->min_s * 1e3, spread, "-", "-", "-", batch / b->min_s, "-",
                   pr->speed[0], rounds, "-");
            char threads[32] = "";
            if (pr->id.threads)
                snprintf(threads, sizeof threads, ", %d thread(s)", pr->id.threads);
            printf("  %s, cl16 over %s %s (%s%s), speed, median of %d rounds [least, most]:",
                   names[i], pr->id.name, pr->id.version, pr->id.precision, threads, b->blocks);
            for (int d = 0; d < np; d++)
                printf("%s %s %.2fx [%.2f, %.2f]", d ? "," : "", res[i][d].dtype, pr->speed[d],
                       pr->speed_min[d], pr->speed_max[d]);
            printf("\n");
            fflush(stdout);
        }
    }
    if (!rc && jf) {
        bench_json_head(jf, "train", ctx);
        bench_json_peaks(jf, &pk, peaks_from);
        fprintf(jf, ",\n  \"batch\": %d, \"steps\": %d, \"optimizer\": \"sgd-momentum\",\n  \"runs\": [", batch,
                steps);
        for (int i = 0; i < n; i++)
            for (int d = 0; d < np; d++) {
                const result *r = &res[i][d];
                fprintf(jf, "%s\n    {\"model\": ", i || d ? "," : "");
                bench_json_str(jf, r->model);
                fprintf(jf, ", \"precision\": \"%s\"", r->dtype);
                json_steps(jf, batch, r->step_s, r->median_s, r->max_s, r->blocks, r->round_s);
                const double gf = r->flops / r->median_s * 1e-9;
                bench_json_field(jf, "kernel_ms_per_step", r->kernel_s * 1e3);
                bench_json_field(jf, "flops_per_step", r->flops);
                bench_json_field(jf, "gflops", gf);
                bench_json_field(jf, "pct_peak", bench_pct(gf, pk.f32_gflops));
                bench_json_field(jf, "pct_peak_f16", bench_pct(gf, pk.f16_gflops));
                fprintf(jf, ", \"peak_device_bytes\": %llu", (unsigned long long)r->peak);
                bench_json_field(jf, "first_steps_s", r->first_s);
                if (d) {
                    bench_json_field(jf, "time_vs_fp32", r->time_x);
                    bench_json_field(jf, "time_vs_fp32_min", r->time_x_min);
                    bench_json_field(jf, "time_vs_fp32_max", r->time_x_max);
                    bench_json_field(jf, "memory_vs_fp32",
                                     (double)r->peak / (double)res[i][0].peak);
                }
                if (profile) {
                    fprintf(jf, ", \"kernels\": [");
                    for (size_t k = 0; k < r->nkt && k < (size_t)profile; k++) {
                        fprintf(jf, "%s{\"name\": ", k ? ", " : "");
                        bench_json_str(jf, r->kt[k].name);
                        fprintf(jf, ", \"ms_per_step\": ");
                        bench_json_num(jf, r->kt[k].seconds * 1e3 / r->psteps);
                        fprintf(jf, ", \"launches_per_step\": ");
                        bench_json_num(jf, (double)r->kt[k].calls / r->psteps);
                        fprintf(jf, "}");
                    }
                    fprintf(jf, "]");
                }
                fprintf(jf, "}");
            }
        fprintf(jf, "\n  ]");
        if (peer_cmd) {
            fprintf(jf, ",\n  \"peer_command\": ");
            bench_json_str(jf, peer_cmd);
            fprintf(jf, ",\n  \"peer_runs\": [");
            int first = 1;
            for (int i = 0; i < n; i++) {
                const peer_result *pr = &pres[i];
                if (!pr->ok)
                    continue;
                fprintf(jf, "%s\n    {\"model\": ", first ? "" : ",");
                first = 0;
                bench_json_str(jf, names[i]);
                fprintf(jf, ", \"peer\": ");
                bench_json_str(jf, pr->id.name);
                fprintf(jf, ", \"version\": ");
                bench_json_str(jf, pr->id.version);
                fprintf(jf, ", \"precision\": ");
                bench_json_str(jf, pr->id.precision);
                fprintf(jf, ", \"device\": ");
                bench_json_str(jf, pr->id.device);
                bench_json_field(jf, "threads", pr->id.threads ? (double)pr->id.threads : NAN);
                json_steps(jf, batch, pr->bs.min_s, pr->bs.median_s, pr->bs.max_s, pr->bs.blocks,
                           pr->bs.round_s);
                bench_json_field(jf, "loss", pr->loss);
                fprintf(jf, ", \"cl16_speedup\": {");
                for (int d = 0; d < np; d++) {
                    fprintf(jf, "%s\"%s\": {\"median\": ", d ? ", " : "", res[i][d].dtype);
                    bench_json_num(jf, pr->speed[d]);
                    bench_json_field(jf, "min", pr->speed_min[d]);
                    bench_json_field(jf, "max", pr->speed_max[d]);
                    fprintf(jf, "}");
                }
                fprintf(jf, "}}");
            }
            fprintf(jf, "\n  ]");
        }
        fprintf(jf, "\n}\n");
    }
out:
    cl16_ctx_free(ctx);
    if (jf) {
        const int e = bench_out_close(&jo, !rc, "bench train");
        if (!rc)
            rc = e;
    }
    return rc ? rc : peer_rc;
}
