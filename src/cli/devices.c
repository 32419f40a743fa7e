/* devices.c - `cl16 devices` (list every device with its half path) and
 * `cl16 probe` (open one device and build its kernels); `devices --timing`
 * measures cold and warm start by running `cl16 probe` as child processes. */
#include <errno.h>
#include <ftw.h>
#include <inttypes.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"

extern char **environ;

static const char *type_name(cl16_device_type t) {
    switch (t) {
    case CL16_DEVICE_CPU: return "cpu";
    case CL16_DEVICE_GPU: return "gpu";
    case CL16_DEVICE_ACCELERATOR: return "accelerator";
    default: return "other";
    }
}

static const char *half_name(cl16_half_path h) {
    return h == CL16_HALF_NATIVE ? "native" : h == CL16_HALF_STORAGE ? "storage" : "unusable";
}

static void json_str(FILE *f, const char *s) {
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') fprintf(f, "\\%c", c);
        else if (c < 0x20) fprintf(f, "\\u%04x", c);
        else fputc(c, f);
    }
    fputc('"', f);
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Runs `self --device dev probe --quiet` with extra environment; returns seconds or -1. */
static double time_child(const char *self, const char *dev, const char *cache_dir, int cold) {
    char cache_env[4200], *envp[256];
    int n = 0;
    snprintf(cache_env, sizeof cache_env, "CL16_CACHE_DIR=%s", cache_dir);
    for (char **e = environ; *e && n < 250; e++)
        if (strncmp(*e, "CL16_CACHE_DIR=", 15) && strncmp(*e, "CL16_CACHE=", 11) &&
            strncmp(*e, "POCL_KERNEL_CACHE=", 18))
            envp[n++] = *e;
    envp[n++] = cache_env;
    /* A cold start must not be served by PoCL's own compiled-kernel cache either. */
    if (cold) envp[n++] = "POCL_KERNEL_CACHE=0";
    envp[n] = NULL;
    char *argv[] = {(char *)self, "--device", (char *)dev, "probe", "--quiet", NULL};
    double t0 = now_s();
    pid_t pid;
    if (posix_spawn(&pid, self, NULL, NULL, argv, envp)) return -1;
    int st;
    if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st)) return -1;
    return now_s() - t0;
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb, (void)flag, (void)ftw;
    return remove(p);
}

#define TIMING_RUNS 5
/* Median of `runs` (at most TIMING_RUNS) cold (empty cache each time) and warm
 * starts of this program's `probe` on device `index`; spread: min and max of
 * each. Also `cl16 bench startup` (bench_all.c). */
int cli_start_timing(int index, int runs, double *cold, double *warm, double spread[4]) {
    if (runs < 1 || runs > TIMING_RUNS) runs = TIMING_RUNS;
    char self[4096];
    ssize_t l = readlink("/proc/self/exe", self, sizeof self - 1);
    if (l <= 0) return -1;
    self[l] = '\0';
    const char *tmp = getenv("TMPDIR");
    char root[4096], dir[4200], dev[16];
    snprintf(root, sizeof root, "%s/cl16-timing-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(root)) return -1;
    snprintf(dev, sizeof dev, "%d", index);
    double c[TIMING_RUNS], w[TIMING_RUNS];
    int ok = 1;
    for (int r = 0; r < runs && ok; r++) {
        snprintf(dir, sizeof dir, "%s/cold%d", root, r);
        c[r] = time_child(self, dev, dir, 1);
        ok = c[r] >= 0;
    }
    snprintf(dir, sizeof dir, "%s/warm", root);
    ok = ok && time_child(self, dev, dir, 0) >= 0; /* fills the cache */
    for (int r = 0; r < runs && ok; r++) {
        w[r] = time_child(self, dev, dir, 0);
        ok = w[r] >= 0;
    }
    nftw(root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    if (!ok) return -1;
    qsort(c, (size_t)runs, sizeof *c, cmp_d);
    qsort(w, (size_t)runs, sizeof *w, cmp_d);
    *cold = c[runs / 2];
    *warm = w[runs / 2];
    spread[0] = c[0], spread[1] = c[runs - 1], spread[2] = w[0], spread[3] = w[runs - 1];
    return 0;
}

int cmd_devices(int argc, char **argv, const char *device) {
    int json = 0, timing = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json")) json = 1;
        else if (!strcmp(argv[i], "--timing")) timing = 1;
        else if (!strcmp(argv[i], "--device") && i + 1 < argc) device = argv[++i];
        else {
            fprintf(stderr, "cl16 devices: unknown option '%s'\n", argv[i]);
            return CL16_EXIT_USAGE;
        }
    }
    cl16_device_info *list;
    size_t n;
    char err[4096];
    cl16_status s = cl16_devices(&list, &n, err, sizeof err);
    if (s) return cli_fail(s, "cannot list OpenCL devices", err);

    int rc = 0, only = -1;
    if (device && *device) {
        /* --device limits the list to the device it selects (an unknown one is an error). */
        cl16_ctx *sel;
        if ((rc = cli_ctx(&sel, device, 0, 0))) {
            cl16_devices_free(list, n);
            return rc;
        }
        only = cl16_ctx_device(sel)->index;
        cl16_ctx_free(sel);
    }
    if (json) printf("{\n  \"cl16_version\": \"%s\",\n  \"devices\": [", cl16_version());
    else
        printf("%-3s %-28s %-44s %-14s %-14s %9s %-8s\n", "#", "platform", "device", "vendor",
               "driver", "mem MiB", "half");
    const char *cache_dir = NULL;
    char cache_buf[4096] = "";
    for (size_t i = 0; i < n; i++) {
        const cl16_device_info *d = &list[i];
        char idx[24];
        snprintf(idx, sizeof idx, "%zu", i);
        if (only >= 0 && (int)i != only) continue;
        cl16_ctx *ctx;
        cl16_ctx_opts o;
        cl16_ctx_opts_init(&o);
        o.device = idx;
        cl16_status cs = cli_ctx_opts(&ctx, &o);
        cl16_half_path hp = cs ? CL16_HALF_AUTO : cl16_ctx_half_path(ctx);
        if (cs) rc = cli_fail(cs, d->name, cl16_ctx_last_error(ctx));
        else if (cl16_ctx_cache_dir(ctx)) {
            snprintf(cache_buf, sizeof cache_buf, "%s", cl16_ctx_cache_dir(ctx));
            cache_dir = cache_buf;
        }
        cl16_ctx_free(ctx);
        double cold = -1, warm = -1, spread[4] = {0};
        if (timing && !cs && cli_start_timing((int)i, TIMING_RUNS, &cold, &warm, spread))
            fprintf(stderr, "cl16: start-up timing failed for device %zu\n", i);
        if (json) {
            printf("%s\n    {\"index\": %zu, \"platform\": ", i ? "," : "", i);
            json_str(stdout, d->platform);
            printf(", \"name\": ");
            json_str(stdout, d->name);
            printf(", \"vendor\": ");
            json_str(stdout, d->vendor);
            printf(", \"driver\": ");
            json_str(stdout, d->driver);
            printf(", \"opencl\": ");
            json_str(stdout, d->version);
            printf(", \"opencl_c\": ");
            json_str(stdout, d->c_version);
            printf(",\n     \"type\": \"%s\", \"global_mem\": %" PRIu64 ", \"local_mem\": %" PRIu64
                   ", \"max_alloc\": %" PRIu64 ", \"max_work_group\": %zu, \"compute_units\": %u"
                   ", \"max_clock_mhz\": %u, \"float_vector_width\": %u,\n     \"fp16_extension\": %s, \"fp64\": %s"
                   ", \"subgroups\": %s, \"int64_atomics\": %s, \"half_path\": \"%s\"",
                   type_name(d->type), d->global_mem, d->local_mem, d->max_alloc, d->max_work_group,
                   d->compute_units, d->max_clock_mhz, d->float_vector_width, d->has_fp16_ext ? "true" : "false",
                   d->has_fp64 ? "true" : "false", d->has_subgroups ? "true" : "false",
                   d->has_int64_atomics ? "true" : "false", half_name(hp));
            if (timing) printf(", \"cold_start_s\": %.4f, \"warm_start_s\": %.4f", cold, warm);
            printf(",\n     \"extensions\": ");
            json_str(stdout, d->extensions);
            printf("}");
        } else {
            printf("%-3zu %-28.28s %-44.44s %-14.14s %-14.14s %9.0f %-8s\n", i, d->platform, d->name,
                   d->vendor, d->driver, (double)d->global_mem / 1048576.0, half_name(hp));
            if (timing && cold >= 0)
                printf("    start to a ready context (median of %d): cold %.3f s [%.3f-%.3f], "
                       "warm %.3f s [%.3f-%.3f]\n",
                       TIMING_RUNS, cold, spread[0], spread[1], warm, spread[2], spread[3]);
        }
    }
    if (json) {
        printf("\n  ],\n  \"cache_dir\": ");
        if (cache_dir) json_str(stdout, cache_dir);
        else printf("null");
        printf("\n}\n");
    } else {
        printf("cache: %s\n", cache_dir ? cache_dir : "off");
        if (timing)
            printf("cold = empty cl16 cache (and PoCL's kernel cache off); warm = full cache; "
                   "each a new process that builds or loads every kernel\n");
    }
    cl16_devices_free(list, n);
    return rc;
}

int cmd_probe(int argc, char **argv, const char *device) {
    int quiet = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--quiet")) quiet = 1;
        else if (!strcmp(argv[i], "--device") && i + 1 < argc) device = argv[++i];
        else {
            fprintf(stderr, "cl16 probe: unknown option '%s'\n", argv[i]);
            return CL16_EXIT_USAGE;
        }
    }
    double t0 = now_s();
    cl16_ctx *ctx;
    int rc = cli_ctx(&ctx, device, 1, 0);
    if (rc) return rc;
    double t1 = now_s();
    if (!quiet) {
        const cl16_device_info *d = cl16_ctx_device(ctx);
        cl16_ctx_stats st;
        cl16_ctx_stats_get(ctx, &st);
        printf("device %d: %s (%s, driver %s)\n", d->index, d->name, d->platform, d->driver);
        printf("half path: %s (cl_khr_fp16 %s)\n", half_name(cl16_ctx_half_path(ctx)),
               d->has_fp16_ext ? "advertised" : "not advertised");
        printf("programs: %u built from source, %u loaded from the cache (%u rejected entries)\n",
               st.programs_built, st.cache_hits, st.cache_rejected);
        printf("cache: %s\n", cl16_ctx_cache_dir(ctx) ? cl16_ctx_cache_dir(ctx) : "off");
        printf("ready in %.3f s (probe %.3f s, programs %.3f s)\n", t1 - t0, st.probe_seconds,
               st.build_seconds);
    }
    cl16_ctx_free(ctx);
    return 0;
}
