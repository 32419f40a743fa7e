/* bench_util.c - shared by the benchmark sub-commands (see bench_util.h). */
#include "cli/bench_util.h"
#include "cli/cli.h"

#include <math.h>
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

int bench_time_calls(const bench_runner *r, int quick, int reps, double target_s, int max_reps,
                     double *first_s, double *per_s, int *reps_out, int *blocks) {
    double (*now)(void) = r->cpu_clock ? bench_cpu_now : bench_now;
    double t0 = now();
    int e;
    if ((e = r->call(r->u)) || (e = r->finish(r->u)))
        return e;
    *first_s = now() - t0;
    int n = reps, max_blocks = reps ? 1 : quick ? 3 : BENCH_MAX_BLOCKS;
    double spent = 0;
    *blocks = 0, *per_s = INFINITY;
    if (!n) {
        t0 = now();
        if ((e = r->call(r->u)) || (e = r->finish(r->u)))
            return e;
        double t1 = now() - t0;
        *per_s = t1, *reps_out = 1, *blocks = 1, spent = t1;
        double want = ceil(target_s / (t1 > 1e-7 ? t1 : 1e-7));
        n = want > max_reps ? max_reps : (int)want;
        if (n < 2)
            return 0; /* one call already fills the budget */
        *blocks = 0, *per_s = INFINITY, spent = 0;
    }
    while (*blocks < max_blocks && (*blocks == 0 || spent < target_s)) {
        t0 = now();
        for (int i = 0; i < n; i++)
            if ((e = r->call(r->u)))
                return e;
        if ((e = r->finish(r->u)))
            return e;
        double t = now() - t0;
        spent += t, ++*blocks;
        if (t / n < *per_s)
            *per_s = t / n;
    }
    *reps_out = n;
    return 0;
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
