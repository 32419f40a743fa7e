/* bench_util.c - shared by the benchmark sub-commands (see bench_util.h). */
#include "cli/bench_util.h"
#include "cli/cli.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

double bench_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

double bench_cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void bench_fill_random(float *x, size_t n, uint32_t seed, int half_exact) {
    uint32_t s = seed * 2654435761u + 1;
    for (size_t i = 0; i < n; i++) {
        s ^= s << 13, s ^= s >> 17, s ^= s << 5;
        x[i] = (float)((double)(s >> 8) / 8388608.0 - 1.0);
        if (half_exact)
            x[i] = cl16_half_to_float(cl16_float_to_half(x[i]));
    }
}

double bench_median(double *v, int n) {
    if (n <= 0)
        return NAN;
    for (int i = 1; i < n; i++) /* insertion sort: a handful of blocks */
        for (int j = i; j > 0 && v[j - 1] > v[j]; j--) {
            const double t = v[j];
            v[j] = v[j - 1], v[j - 1] = t;
        }
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* Device time so far, NAN when it cannot be read; *untimed: calls whose
 * kernels it cannot see (CLBlast through cl16's GEMM backend) so far. */
static double dev_time(cl16_ctx *ctx, uint64_t *untimed) {
    double t;
    cl16_ctx_stats cs;
    cl16_ctx_stats_get(ctx, &cs);
    *untimed = cs.untimed_calls;
    return ctx && cl16_ctx_device_time(ctx, &t) == CL16_OK ? t : NAN;
}

/* One timed block of n calls of r: the wall (or CPU) time per call into *wall and,
 * when the device saw all of it, the device time per call into *kern (else NAN). */
static int time_block(const bench_runner *r, int n, double *wall, double *kern) {
    double (*now)(void) = r->cpu_clock ? bench_cpu_now : bench_now;
    uint64_t u0, u1;
    const double d0 = dev_time(r->dev, &u0), t0 = now();
    int e = 0;
    for (int i = 0; i < n && !e; i++)
        e = r->call(r->u);
    if (e || (e = r->finish(r->u)))
        return e;
    const double t = now() - t0, d1 = dev_time(r->dev, &u1);
    *wall = t / n;
    /* A block that handed work to CLBlast has a partial device time: none. */
    *kern = d1 == d1 && d0 == d0 && d1 > d0 && u1 == u0 ? (d1 - d0) / n : NAN;
    return 0;
}

/* Warm-up of one peer: the first call on its own, and (reps 0) a second that sizes
 * its blocks. */
static int warm_up(const bench_runner *r, int min_blocks, int reps, double target_s, int max_reps,
                   bench_stats *st) {
    double (*now)(void) = r->cpu_clock ? bench_cpu_now : bench_now;
    double t0 = now();
    int e;
    if ((e = r->call(r->u)) || (e = r->finish(r->u)))
        return e;
    st->first_s = now() - t0;
    int n = reps;
    if (!n) {
        t0 = now();
        if ((e = r->call(r->u)) || (e = r->finish(r->u)))
            return e;
        const double t1 = now() - t0;
        const double want = ceil(target_s / min_blocks / (t1 > 1e-7 ? t1 : 1e-7));
        n = want > max_reps ? max_reps : want < 1 ? 1 : (int)want;
    }
    st->reps = n;
    return 0;
}

int bench_time_rounds(const bench_runner *r, int n, int min_blocks, int max_blocks, int reps,
                      double target_s, int max_reps, bench_stats *st, int *err) {
    if (max_blocks > BENCH_MAX_BLOCKS)
        max_blocks = BENCH_MAX_BLOCKS;
    if (min_blocks > max_blocks)
        min_blocks = max_blocks;
    double kern[BENCH_ROUND_PEERS][BENCH_MAX_BLOCKS], spent = 0;
    int nk[BENCH_ROUND_PEERS] = {0}, live = 0, fail = 0;
    if (n < 1 || n > BENCH_ROUND_PEERS)
        return -1;
    for (int p = 0; p < n; p++) {
        memset(&st[p], 0, sizeof st[p]);
        st[p].median_s = st[p].min_s = st[p].max_s = st[p].kernel_s = NAN;
        st[p].first_s = NAN;
        if ((err[p] = warm_up(&r[p], min_blocks, reps, target_s, max_reps, &st[p])))
            fail = fail ? fail : err[p];
        else
            live++;
    }
    /* One block size for all (the smallest sized), so that each round's blocks
     * are about as long and the peers see the machine over the same span. */
    int common = 0;
    for (int p = 0; p < n; p++)
        if (!err[p] && (!common || st[p].reps < common))
            common = st[p].reps;
    for (int p = 0; p < n; p++)
        if (!err[p])
            st[p].reps = common;
    /* Round k runs the live peers in order for even k, in reverse for odd k, so a
     * steady drift of the machine's speed favours none of them. */
    for (int k = 0; live && k < max_blocks && (k < min_blocks || spent < target_s * live); k++)
        for (int j = 0; j < n; j++) {
            const int p = k % 2 ? n - 1 - j : j;
            if (err[p])
                continue;
            double w, kn;
            if ((err[p] = time_block(&r[p], st[p].reps, &w, &kn))) {
                fail = fail ? fail : err[p], live--;
                continue;
            }
            spent += w * st[p].reps;
            st[p].round_s[st[p].blocks++] = w;
            if (kn == kn)
                kern[p][nk[p]++] = kn;
        }
    for (int p = 0; p < n; p++) {
        bench_stats *s = &st[p];
        if (err[p] || !s->blocks)
            continue;
        double sorted[BENCH_MAX_BLOCKS];
        memcpy(sorted, s->round_s, sizeof(double) * (size_t)s->blocks);
        s->median_s = bench_median(sorted, s->blocks);
        s->min_s = sorted[0], s->max_s = sorted[s->blocks - 1];
        if (nk[p] == s->blocks)
            s->kernel_s = bench_median(kern[p], nk[p]);
    }
    return fail;
}

int bench_time_calls(const bench_runner *r, int quick, int reps, double target_s, int max_reps,
                     bench_stats *st) {
    int e = 0;
    bench_time_rounds(r, 1, quick ? BENCH_QUICK_BLOCKS : BENCH_MIN_BLOCKS,
                      quick ? BENCH_QUICK_BLOCKS : BENCH_MAX_BLOCKS, reps, target_s, max_reps, st,
                      &e);
    return e;
}

double bench_round_ratio(const bench_stats *a, const bench_stats *b, double *lo, double *hi) {
    const int n = a->blocks < b->blocks ? a->blocks : b->blocks;
    double v[BENCH_MAX_BLOCKS];
    for (int i = 0; i < n; i++)
        v[i] = a->round_s[i] / b->round_s[i];
    const double m = bench_median(v, n); /* sorts v */
    if (lo)
        *lo = n ? v[0] : NAN;
    if (hi)
        *hi = n ? v[n - 1] : NAN;
    return m;
}

int bench_peaks(cl16_ctx *ctx, int quick, const char *from, const char *what, cl16_peaks *pk) {
    memset(pk, 0, sizeof *pk);
    if (from) {
        jv d;
        char cmd[96], why[512];
        snprintf(cmd, sizeof cmd, "%s: --peaks", what);
        const int rc = bench_read_json(from, cmd, &d);
        if (rc)
            return rc;
        const char *dev = jv_str(&d, "device", "?"), *here = cl16_ctx_device(ctx)->name;
        cl16_status s = CL16_OK;
        if (strcmp(jv_str(&d, "benchmark", ""), "peak")) {
            snprintf(why, sizeof why, "a %s benchmark file; --peaks takes the file of `cl16 bench "
                     "peak --json`", jv_str(&d, "benchmark", "?"));
            s = CL16_ERR_FORMAT;
        } else if (strcmp(dev, here)) {
            snprintf(why, sizeof why, "measured on '%s'; this run is on '%s'", dev, here);
            s = CL16_ERR_INVALID_ARG;
        } else if (!(jv_num(&d, "f32_gflops", 0) > 0) || !(jv_num(&d, "copy_gb_per_s", 0) > 0)) {
            snprintf(why, sizeof why, "no positive f32_gflops and copy_gb_per_s");
            s = CL16_ERR_FORMAT;
        } else {
            pk->copy_gb_per_s = jv_num(&d, "copy_gb_per_s", 0);
            pk->f32_gflops = jv_num(&d, "f32_gflops", 0);
            pk->f16_gflops = jv_num(&d, "f16_gflops", 0); /* null: 0 */
        }
        jv_free(&d);
        if (s) {
            char w[4300];
            snprintf(w, sizeof w, "%s: --peaks %s", what, from);
            return cli_fail(s, w, why);
        }
        fprintf(stderr, "cl16 %s: device peaks from %s: copy %.1f GB/s, f32 multiply-add %.1f "
                        "GFLOP/s\n", what, from, pk->copy_gb_per_s, pk->f32_gflops);
        return 0;
    }
    cl16_status s = cl16_measure_peaks(ctx, quick ? 0.4 : 2.0, pk);
    if (s) {
        fprintf(stderr, "cl16 %s: note: the device's peaks could not be measured (%s: %s); "
                        "no %% of peak in this run\n", what, cl16_status_str(s), cl16_ctx_last_error(ctx));
        memset(pk, 0, sizeof *pk);
        return 0;
    }
    fprintf(stderr, "cl16 %s: device peaks: copy %.1f GB/s, f32 multiply-add %.1f GFLOP/s", what,
            pk->copy_gb_per_s, pk->f32_gflops);
    if (pk->f16_gflops > 0)
        fprintf(stderr, ", f16 %.1f GFLOP/s", pk->f16_gflops);
    fputc('\n', stderr);
    return 0;
}

double bench_pct(double x, double peak) {
    return x == x && !isinf(x) && x > 0 && peak > 0 && !isinf(peak) ? 100.0 * x / peak : NAN;
}

void bench_json_peaks(FILE *f, const cl16_peaks *pk, const char *from) {
    fprintf(f, ",\n  \"peaks\": {\"copy_gb_per_s\": ");
    bench_json_num(f, pk->copy_gb_per_s > 0 ? pk->copy_gb_per_s : NAN);
    fprintf(f, ", \"f32_gflops\": ");
    bench_json_num(f, pk->f32_gflops > 0 ? pk->f32_gflops : NAN);
    fprintf(f, ", \"f16_gflops\": ");
    bench_json_num(f, pk->f16_gflops > 0 ? pk->f16_gflops : NAN);
    fprintf(f, ", \"from\": ");
    if (from)
        bench_json_str(f, from);
    else
        fputs("null", f);
    fputc('}', f);
}

void bench_json_stats(FILE *f, const bench_stats *st) {
    const double x[5] = {st ? st->median_s * 1e3 : NAN, st ? st->min_s * 1e3 : NAN,
                         st ? st->max_s * 1e3 : NAN, st ? st->kernel_s * 1e3 : NAN,
                         st ? st->first_s : NAN};
    static const char *const k[5] = {"ms_per_call", "ms_min", "ms_max", "kernel_ms", "first_call_s"};
    for (int i = 0; i < 5; i++) {
        fprintf(f, ", \"%s\": ", k[i]);
        bench_json_num(f, x[i]);
    }
    fprintf(f, ", \"reps\": %d, \"blocks\": %d", st ? st->reps : 0, st ? st->blocks : 0);
}

void bench_json_str(FILE *f, const char *s) {
    fputc('"', f);
    for (; s && *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            fprintf(f, "\\%c", ch);
        else if (ch < 0x20)
            fprintf(f, "\\u%04x", ch);
        else
            fputc(ch, f);
    }
    fputc('"', f);
}

void bench_json_num(FILE *f, double x) {
    if (x == x && !isinf(x))
        fprintf(f, "%.6g", x);
    else
        fputs("null", f);
}

void bench_json_field(FILE *f, const char *key, double x) {
    fprintf(f, ", \"%s\": ", key);
    bench_json_num(f, x);
}

void bench_json_head(FILE *f, const char *benchmark, const cl16_ctx *ctx) {
    const cl16_device_info *d = cl16_ctx_device(ctx);
    char date[64];
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", &tm);
    fprintf(f, "{\n  \"benchmark\": ");
    bench_json_str(f, benchmark);
    const char *keys[] = {"cl16_version",     "date",   "device",   "platform",
                          "platform_version", "driver", "half_path"};
    const char *vals[] = {cl16_version(),
                          date,
                          d->name,
                          d->platform,
                          d->platform_version,
                          d->driver,
                          cl16_ctx_half_path(ctx) == CL16_HALF_NATIVE ? "native" : "storage"};
    for (int i = 0; i < 7; i++) {
        fprintf(f, ",\n  \"%s\": ", keys[i]);
        bench_json_str(f, vals[i]);
    }
}

int bench_out_open(bench_out *o, const char *path, const char *what) {
    o->f = NULL, o->path = path, o->tmp[0] = '\0';
    if (!path)
        return 0;
    snprintf(o->tmp, sizeof o->tmp, "%s.tmp.%ld", path, (long)getpid());
    if (!(o->f = fopen(o->tmp, "w"))) {
        char w[128];
        snprintf(w, sizeof w, "%s: cannot write the JSON output", what);
        return cli_fail(CL16_ERR_IO, w, o->tmp);
    }
    return 0;
}

int bench_out_close(bench_out *o, int keep, const char *what) {
    if (!o->f)
        return 0;
    const int bad = ferror(o->f) != 0 || fclose(o->f) != 0;
    o->f = NULL;
    if (!keep || bad || rename(o->tmp, o->path) != 0) {
        remove(o->tmp);
        if (!keep)
            return 0;
        char w[128];
        snprintf(w, sizeof w, "%s: cannot write the JSON output", what);
        return cli_fail(CL16_ERR_IO, w, o->path);
    }
    fprintf(stderr, "cl16 %s: wrote %s\n", what, o->path);
    return 0;
}

int bench_common_opt(int argc, char **argv, int *i, const char *usage, int *quick,
                     const char **json, const char **device) {
    const char *a = argv[*i];
    const int has_value = *i + 1 < argc;
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
        fputs(usage, stdout);
        return 2;
    }
    if (!strcmp(a, "--quick")) {
        *quick = 1;
        return 1;
    }
    if (has_value && (!strcmp(a, "--json") || !strcmp(a, "--device"))) {
        *(a[2] == 'j' ? json : device) = argv[++*i];
        return 1;
    }
    return 0;
}

int bench_read_json(const char *path, const char *cmd, jv *out) {
    FILE *f = fopen(path, "rb");
    char what[4200];
    if (!f) {
        snprintf(what, sizeof what, "%s: cannot open", cmd);
        return cli_fail(CL16_ERR_IO, what, path);
    }
    char *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len + 65536 > cap) {
            cap = cap ? 2 * cap : 1 << 20;
            if (cap > ((size_t)64 << 20)) {
                free(buf), fclose(f);
                snprintf(what, sizeof what, "%s: file larger than 64 MB", cmd);
                return cli_fail(CL16_ERR_FORMAT, what, path);
            }
            char *nb = realloc(buf, cap);
            if (!nb) {
                free(buf), fclose(f);
                return cli_fail(CL16_ERR_OUT_OF_MEMORY, cmd, path);
            }
            buf = nb;
        }
        const size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0)
            break;
    }
    fclose(f);
    char err[256];
    const int bad = jv_parse(buf, len, out, err, sizeof err);
    free(buf);
    if (bad) {
        snprintf(what, sizeof what, "%s: %s", cmd, path);
        return cli_fail(CL16_ERR_FORMAT, what, err);
    }
    if (out->type != JV_OBJ || !jv_str(out, "benchmark", NULL)) {
        jv_free(out);
        snprintf(what, sizeof what, "%s: %s", cmd, path);
        return cli_fail(CL16_ERR_FORMAT, what, "not a cl16 benchmark file (no \"benchmark\" key)");
    }
    return 0;
}
