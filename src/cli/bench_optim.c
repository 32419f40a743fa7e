/* bench_optim.c - `cl16 bench optim`: the fused optimizer updates judged
 * against the memory limit. An update reads and writes every weight, its
 * gradient and its state once, so its speed is bytes moved per second; the
 * device's own copy (clEnqueueCopyBuffer of a buffer of the same size) is
 * measured in the same run as the reference, and each update is reported as
 * GB/s (from the median block), as a percentage of that copy's GB/s and of
 * the device's copy peak (cl16_measure_peaks), with its kernel time from
 * profiling events. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/bench_util.h"
#include "cli/cli.h"

typedef struct mode {
    const char *name;      /* as in --precision */
    cl16_dtype wdt, gdt;   /* weights/state, gradient */
    cl16_rounding rounding;
    int mixed;
} mode;

static const mode modes[] = {
    {"fp32", CL16_F32, CL16_F32, CL16_ROUND_NEAREST, 0},
    {"fp16", CL16_F16, CL16_F16, CL16_ROUND_NEAREST, 0},
    {"fp16-sr", CL16_F16, CL16_F16, CL16_ROUND_STOCHASTIC, 0},
    {"fp16-kahan", CL16_F16, CL16_F16, CL16_ROUND_KAHAN, 0},
    {"mixed", CL16_F32, CL16_F16, CL16_ROUND_NEAREST, 1},
};
enum { NMODES = sizeof modes / sizeof modes[0] };

typedef struct run {
    cl16_ctx *ctx;
    cl16_optim_params p;
    cl16_optim_extra x;
    cl16_tensor *w, *g, *m, *v, *src, *dst;
    int64_t step;
    int copy;
} run;

static int call(void *u) {
    run *r = u;
    if (r->copy)
        return (int)cl16_tensor_copy(r->dst, r->src);
    /* step 2 onwards: SGD reads its momentum buffer */
    return (int)cl16_optim_step_ex(r->ctx, &r->p, ++r->step, r->w, r->g, r->m, r->v, &r->x);
}
static int finish(void *u) { return (int)cl16_ctx_finish(((run *)u)->ctx); }

static const char *usage_text =
    "usage: cl16 bench optim [--elements N] [--quick] [--json FILE] [--peaks FILE]\n"
    "  GB/s of the fused update kernels (SGD with momentum, Adam) in every training\n"
    "  precision (fp32, fp16, fp16-sr, fp16-kahan, mixed) on N parameters (default 16M;\n"
    "  --quick 1M), against the device's copy of a buffer as large as the weights and\n"
    "  as % of the device's copy peak (measured first, or read from --peaks FILE, the\n"
    "  output of `cl16 bench peak --json`); median of blocks, spread, kernel time.\n";

int bench_optim(int argc, char **argv, const char *device) {
    int64_t n = 0;
    int quick = 0;
    const char *json = NULL, *peaks_from = NULL;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        const int c = bench_common_opt(argc, argv, &i, usage_text, &quick, &json, &device);
        if (c == 2)
            return 0;
        if (c)
            continue;
        if (v && !strcmp(a, "--peaks")) {
            peaks_from = argv[++i];
        } else if (v && !strcmp(a, "--elements")) {
            char *end;
            long long x = strtoll(v, &end, 10);
            if (*end || x < 1024 || x > ((long long)1 << 30)) {
                fprintf(stderr, "cl16 bench optim: --elements must be in 1024..2^30, got '%s'\n", v);
                return CL16_EXIT_USAGE;
            }
            n = x, i++;
        } else {
            fprintf(stderr, "cl16 bench optim: unknown or incomplete option '%s'\n%s", a, usage_text);
            return CL16_EXIT_USAGE;
        }
    }
    if (!n)
        n = (int64_t)1 << (quick ? 20 : 24);
    bench_out jo;
    if (bench_out_open(&jo, json, "bench optim"))
        return cli_exit_code(CL16_ERR_IO);
    FILE *jf = jo.f;
    cl16_ctx *ctx = NULL;
    int rc = cli_ctx(&ctx, device, 0, 1); /* profiling: kernel times */
    if (rc)
        goto out;
    cl16_peaks pk;
    if ((rc = bench_peaks(ctx, quick, peaks_from, "bench optim", &pk)))
        goto out;
    fprintf(stderr, "cl16 bench optim: %lld parameters on %s, half path %s\n", (long long)n,
            cl16_ctx_device(ctx)->name,
            cl16_ctx_half_path(ctx) == CL16_HALF_NATIVE ? "native" : "storage");
    /* Reference: the device copying a buffer as large as f32 weights. */
    run r;
    memset(&r, 0, sizeof r);
    r.ctx = ctx;
    cl16_status s;
    if ((s = cl16_tensor_create(ctx, CL16_F32, 1, &n, &r.src)) ||
        (s = cl16_tensor_create(ctx, CL16_F32, 1, &n, &r.dst)) || (s = cl16_tensor_fill(r.src, 1.0f))) {
        rc = cli_fail(s, "bench optim", cl16_ctx_last_error(ctx));
        goto out;
    }
    bench_runner br = {call, finish, &r, ctx, 0};
    bench_stats st;
    r.copy = 1;
    if ((rc = bench_time_calls(&br, quick, 0, quick ? 0.05 : 0.3, 50, &st))) {
        rc = cli_fail((cl16_status)rc, "bench optim: copy", cl16_ctx_last_error(ctx));
        goto out;
    }
    const double copy_gbs = 2.0 * (double)n * 4.0 / st.median_s / 1e9;
    cl16_tensor_free(r.src), cl16_tensor_free(r.dst);
    r.src = r.dst = NULL;
    r.copy = 0;
    printf("device copy (read + write of %.0f MB): %.1f GB/s (median); the device's copy peak "
           "%.1f GB/s\n", n * 4.0 / 1e6, copy_gbs, pk.copy_gb_per_s);
    printf("%-6s %-11s %12s %10s %17s %10s %10s %10s %10s\n", "optim", "precision", "bytes/param",
           "ms/step", "[min-max]", "kernel ms", "GB/s", "% of copy", "% of peak");
    if (jf) {
        bench_json_head(jf, "optim", ctx);
        bench_json_peaks(jf, &pk, peaks_from);
        fprintf(jf, ",\n  \"elements\": %lld, \"copy_gb_per_s\": ", (long long)n);
        bench_json_num(jf, copy_gbs);
        fprintf(jf, ", \"copy_pct_peak\": ");
        bench_json_num(jf, bench_pct(copy_gbs, pk.copy_gb_per_s));
        fprintf(jf, ",\n  \"runs\": [");
    }
    int first_row = 1;
    for (int kind = 0; kind < 2 && !rc; kind++)
        for (int mi = 0; mi < NMODES && !rc; mi++) {
            const mode *md = &modes[mi];
            cl16_optim_params_init(&r.p);
            r.p.kind = kind ? CL16_OPT_ADAM : CL16_OPT_SGD;
            r.p.lr = 1e-3f, r.p.momentum = kind ? 0.0f : 0.9f;
            cl16_optim_extra_init(&r.x);
            r.x.rounding = md->rounding;
            r.step = 0;
            cl16_tensor *comp = NULL, *w16 = NULL;
            s = cl16_tensor_create(ctx, md->wdt, 1, &n, &r.w);
            if (!s) s = cl16_tensor_create(ctx, md->gdt, 1, &n, &r.g);
            if (!s) s = cl16_tensor_create(ctx, md->wdt, 1, &n, &r.m);
            if (!s && kind) s = cl16_tensor_create(ctx, md->wdt, 1, &n, &r.v);
            if (!s && md->rounding == CL16_ROUND_KAHAN) s = cl16_tensor_create(ctx, CL16_F16, 1, &n, &comp);
            if (!s && md->mixed) s = cl16_tensor_create(ctx, CL16_F16, 1, &n, &w16);
            cl16_tensor *all[] = {r.w, r.g, r.m, r.v, comp, w16};
            for (int t = 0; t < 6 && !s; t++)
                if (all[t])
                    s = cl16_tensor_fill(all[t], t == 1 ? 1e-3f : t == 0 ? 0.5f : 0.0f);
            r.x.comp = comp, r.x.w16 = w16;
            double per = 0;
            if (!s)
                s = (cl16_status)bench_time_calls(&br, quick, 0, quick ? 0.05 : 0.3, 50, &st);
            per = st.median_s;
            if (s) {
                rc = cli_fail(s, "bench optim", cl16_ctx_last_error(ctx));
            } else {
                /* Bytes each element moves: w, m (and v) read and written, g read;
                 * Kahan: the compensation read and written; mixed: the f16 copy written. */
                const double ws = (double)cl16_dtype_size(md->wdt), gs = (double)cl16_dtype_size(md->gdt);
                const double bytes = 2 * ws * (kind ? 3 : 2) + gs +
                                     (comp ? 4.0 : 0.0) + (w16 ? 2.0 : 0.0);
                const double gbs = bytes * (double)n / per / 1e9;
                char spread[40];
                snprintf(spread, sizeof spread, "[%.3f-%.3f]", st.min_s * 1e3, st.max_s * 1e3);
                printf("%-6s %-11s %12.0f %10.3f %17s %10.3f %10.1f %10.1f %10.1f\n",
                       kind ? "adam" : "sgd", md->name, bytes, per * 1e3, spread, st.kernel_s * 1e3,
                       gbs, 100.0 * gbs / copy_gbs, bench_pct(gbs, pk.copy_gb_per_s));
                if (jf) {
                    fprintf(jf, "%s\n    {\"optimizer\": \"%s\", \"precision\": \"%s\", "
                                "\"bytes_per_param\": %.0f, \"ms_per_step\": ",
                            first_row ? "" : ",", kind ? "adam" : "sgd-momentum", md->name, bytes);
                    bench_json_num(jf, per * 1e3);
                    bench_json_stats(jf, &st);
                    fprintf(jf, ", \"gb_per_s\": ");
                    bench_json_num(jf, gbs);
                    fprintf(jf, ", \"fraction_of_copy\": ");
                    bench_json_num(jf, gbs / copy_gbs);
                    fprintf(jf, ", \"pct_peak\": ");
                    bench_json_num(jf, bench_pct(gbs, pk.copy_gb_per_s));
                    fprintf(jf, "}");
                    first_row = 0;
                }
            }
            for (int t = 0; t < 6; t++)
                cl16_tensor_free(all[t]);
            r.w = r.g = r.m = r.v = NULL;
        }
    if (jf && !rc)
        fprintf(jf, "\n  ]\n}\n");
out:
    cl16_ctx_free(ctx);
    if (jf) {
        const int e = bench_out_close(&jo, !rc, "bench optim");
        if (!rc)
            rc = e;
    }
    return rc;
}
