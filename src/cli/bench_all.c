/* bench_all.c - `cl16 bench peak` (the device's measured copy bandwidth and
 * multiply-add peaks) and `cl16 bench all` (every benchmark into one folder,
 * the files `cl16 bench compare` reads). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/bench_util.h"
#include "cli/cli.h"

static const char *peak_usage =
    "usage: cl16 bench peak [--quick] [--json FILE]\n"
    "  the device's copy bandwidth (GB/s, read + write) and multiply-add rate\n"
    "  (GFLOP/s) in float and, on the native-half path, in half\n";

/* Only the common options: anything else is a usage error naming it. */
static int common_only(int argc, char **argv, const char *name, const char *usage, int *quick,
                       const char **json, const char **device) {
    for (int i = 2; i < argc; i++) {
        const int c = bench_common_opt(argc, argv, &i, usage, quick, json, device);
        if (c == 2)
            return 0;
        if (!c) {
            fprintf(stderr, "cl16 bench %s: unknown or incomplete option '%s'\n", name, argv[i]);
            return CL16_EXIT_USAGE;
        }
    }
    return -1;
}

int bench_peak(int argc, char **argv, const char *device) {
    const char *json = NULL;
    int quick = 0, r = common_only(argc, argv, "peak", peak_usage, &quick, &json, &device);
    if (r >= 0)
        return r;
    const double budget = quick ? 0.4 : 2.0;
    cl16_ctx *ctx = NULL;
    int rc = cli_ctx(&ctx, device, 0, 0);
    if (rc)
        return rc;
    cl16_peaks pk;
    cl16_status s = cl16_measure_peaks(ctx, budget, &pk);
    if (s) {
        rc = cli_fail(s, "bench peak", cl16_ctx_last_error(ctx));
    } else {
        printf("%s (%s), half path %s: copy %.1f GB/s, f32 multiply-add %.1f GFLOP/s\n",
               cl16_ctx_device(ctx)->name, cl16_ctx_device(ctx)->platform,
               cl16_ctx_half_path(ctx) == CL16_HALF_NATIVE ? "native" : "storage",
               pk.copy_gb_per_s, pk.f32_gflops);
        if (pk.f16_gflops > 0)
            printf("  f16 multiply-add %.1f GFLOP/s\n", pk.f16_gflops);
        else
            printf("  f16 arithmetic: none (storage path: half in memory, float arithmetic)\n");
        bench_out jo;
        if (json && !(rc = bench_out_open(&jo, json, "bench peak"))) {
            FILE *f = jo.f;
            bench_json_head(f, "peak", ctx);
            fprintf(f, ",\n  \"copy_gb_per_s\": ");
            bench_json_num(f, pk.copy_gb_per_s);
            fprintf(f, ",\n  \"f32_gflops\": ");
            bench_json_num(f, pk.f32_gflops);
            fprintf(f, ",\n  \"f16_gflops\": ");
            bench_json_num(f, pk.f16_gflops > 0 ? pk.f16_gflops : 0.0 / 0.0);
            fprintf(f, "\n}\n");
            rc = bench_out_close(&jo, 1, "bench peak");
        }
    }
    cl16_ctx_free(ctx);
    return rc;
}

static const char *startup_usage =
    "usage: cl16 bench startup [--quick] [--json FILE]\n"
    "  cold start (empty program cache) and warm start (full cache) of a fresh\n"
    "  process to a ready device, every kernel built or loaded: median, min and\n"
    "  max of 5 processes each (--quick: 1)\n";

int bench_startup(int argc, char **argv, const char *device) {
    const char *json = NULL;
    int quick = 0, r = common_only(argc, argv, "startup", startup_usage, &quick, &json, &device);
    if (r >= 0)
        return r;
    const int runs = quick ? 1 : 5;
    cl16_ctx *ctx = NULL;
    int rc = cli_ctx(&ctx, device, 0, 0);
    if (rc)
        return rc;
    double cold, warm, spread[4];
    if (cli_start_timing(cl16_ctx_device(ctx)->index, runs, &cold, &warm, spread)) {
        cl16_ctx_free(ctx);
        return cli_fail(CL16_ERR_IO, "bench startup", "a timed child process failed");
    }
    printf("%s: cold start %.3f s (min %.3f, max %.3f), warm start %.3f s (min %.3f, max %.3f), "
           "%d process(es) each\n",
           cl16_ctx_device(ctx)->name, cold, spread[0], spread[1], warm, spread[2], spread[3], runs);
    bench_out jo;
    if (json && !(rc = bench_out_open(&jo, json, "bench startup"))) {
        bench_json_head(jo.f, "startup", ctx);
        fprintf(jo.f, ",\n  \"processes\": %d, \"cold_start_s\": ", runs);
        bench_json_num(jo.f, cold);
        fprintf(jo.f, ", \"cold_min_s\": ");
        bench_json_num(jo.f, spread[0]);
        fprintf(jo.f, ", \"cold_max_s\": ");
        bench_json_num(jo.f, spread[1]);
        fprintf(jo.f, ",\n  \"warm_start_s\": ");
        bench_json_num(jo.f, warm);
        fprintf(jo.f, ", \"warm_min_s\": ");
        bench_json_num(jo.f, spread[2]);
        fprintf(jo.f, ", \"warm_max_s\": ");
        bench_json_num(jo.f, spread[3]);
        fprintf(jo.f, "\n}\n");
        rc = bench_out_close(&jo, 1, "bench startup");
    }
    cl16_ctx_free(ctx);
    return rc;
}

int bench_all(int argc, char **argv, const char *device) {
    const char *dir = NULL;
    int quick = 0;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            printf("usage: cl16 bench all --out DIR [--quick]\n"
                   "  peak, startup, gemm, conv, optim and train, each into DIR/<name>.json (the files\n"
                   "  to send in, and to give `cl16 bench compare`); --quick for each, and\n"
                   "  without startup. The later benchmarks take their %% of peak from\n"
                   "  DIR/peak.json (--peaks), so one run shares one set of peaks\n");
            return 0;
        } else if (!strcmp(a, "--quick")) {
            quick = 1;
        } else if (v && !strcmp(a, "--out")) {
            dir = argv[++i];
        } else if (v && !strcmp(a, "--device")) {
            device = argv[++i];
        } else {
            fprintf(stderr, "cl16 bench all: unknown or incomplete option '%s'\n", a);
            return CL16_EXIT_USAGE;
        }
    }
    if (!dir) {
        fprintf(stderr, "cl16 bench all: --out DIR is required\n");
        return CL16_EXIT_USAGE;
    }
    if (mkdir(dir, 0755) != 0 && errno != EEXIST)
        return cli_fail(CL16_ERR_IO, "bench all: cannot create", dir);
    static const char *const names[] = {"peak", "startup", "gemm", "conv", "optim", "train"};
    int rc = 0, have_peaks = 0;
    char peaks[4200];
    snprintf(peaks, sizeof peaks, "%s/peak.json", dir);
    for (int b = 0; b < 6; b++) {
        if (quick && !strcmp(names[b], "startup"))
            continue; /* cold starts build every kernel: not quick (cl16 bench startup --quick) */
        char path[4200];
        snprintf(path, sizeof path, "%s/%s.json", dir, names[b]);
        char *args[10];
        int n = 0;
        args[n++] = "bench";
        args[n++] = (char *)names[b];
        args[n++] = "--json";
        args[n++] = path;
        if (quick)
            args[n++] = "--quick";
        if (have_peaks && strcmp(names[b], "startup")) { /* one set of peaks for the whole run */
            args[n++] = "--peaks";
            args[n++] = peaks;
        }
        args[n] = NULL;
        fprintf(stderr, "== cl16 bench %s -> %s\n", names[b], path);
        fflush(stdout);
        int r = !strcmp(names[b], "peak")      ? bench_peak(n, args, device)
                : !strcmp(names[b], "startup") ? bench_startup(n, args, device)
                : !strcmp(names[b], "optim") ? bench_optim(n, args, device)
                : !strcmp(names[b], "train") ? bench_train(n, args, device)
                : !strcmp(names[b], "conv")  ? bench_conv(n, args, device)
                                             : cmd_bench(n, args, device);
        if (r && !rc)
            rc = r;
        if (!strcmp(names[b], "peak"))
            have_peaks = !r;
    }
    fprintf(stderr, "cl16 bench all: %s; files in %s\n", rc ? "some benchmarks failed" : "done", dir);
    return rc;
}
