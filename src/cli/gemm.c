/* gemm.c (CLI) - `cl16 gemm`: runs one GEMM on the device in f16 and/or f32,
 * checks it against a float64 host reference with a bound derived from K and
 * the unit round-off, and reports GFLOP/s. The demo's smoke test of a device. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/bench_util.h"
#include "cli/cli.h"

static int run_one(cl16_ctx *ctx, cl16_dtype dt, int64_t m, int64_t n, int64_t k, int ta, int tb,
                   int reps) {
    int64_t ar = ta ? k : m, ac = ta ? m : k, br = tb ? n : k, bc = tb ? k : n;
    int64_t da[2] = {ar, ac}, db[2] = {br, bc}, dc[2] = {m, n};
    size_t na = (size_t)(ar * ac), nb = (size_t)(br * bc), nc = (size_t)(m * n);
    float *a = malloc(na * 4), *b = malloc(nb * 4), *c = malloc(nc * 4);
    cl16_tensor *A = NULL, *B = NULL, *C = NULL;
    cl16_status s = CL16_ERR_OUT_OF_MEMORY;
    int rc = 0;
    if (!a || !b || !c) goto out;
    bench_fill_random(a, na, 1, 0);
    bench_fill_random(b, nb, 2, 0);
    if (dt == CL16_F16) { /* the reference sees exactly what the device sees */
        for (size_t i = 0; i < na; i++) a[i] = cl16_half_to_float(cl16_float_to_half(a[i]));
        for (size_t i = 0; i < nb; i++) b[i] = cl16_half_to_float(cl16_float_to_half(b[i]));
    }
    if ((s = cl16_tensor_create(ctx, dt, 2, da, &A)) || (s = cl16_tensor_create(ctx, dt, 2, db, &B)) ||
        (s = cl16_tensor_create(ctx, dt, 2, dc, &C)) || (s = cl16_tensor_write_f32(A, a, na)) ||
        (s = cl16_tensor_write_f32(B, b, nb)) || (s = cl16_tensor_fill(C, 0.0f)))
        goto out;
    /* First call builds or loads the kernel: timed separately. */
    double t0 = bench_now();
    if ((s = cl16_gemm(ctx, ta, tb, m, n, k, 1.0f, A, ta ? m : k, B, tb ? k : n, 0.0f, C, n)) ||
        (s = cl16_ctx_finish(ctx)))
        goto out;
    double first = bench_now() - t0;
    t0 = bench_now();
    for (int r = 0; r < reps && !s; r++)
        s = cl16_gemm(ctx, ta, tb, m, n, k, 1.0f, A, ta ? m : k, B, tb ? k : n, 0.0f, C, n);
    if (s || (s = cl16_ctx_finish(ctx))) goto out;
    double per = (bench_now() - t0) / reps;
    if ((s = cl16_tensor_read_f32(C, c, nc))) goto out;

    /* |C - ref| <= gamma_K * sum|a||b| + u_out*|ref| with u = 2^-24 (float accumulation). */
    double worst = 0, u_acc = 0x1p-24, u_out = dt == CL16_F16 ? 0x1p-11 : 0x1p-24;
    int64_t bad = -1, nonzero = 0;
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            double ref = 0, mag = 0;
            for (int64_t p = 0; p < k; p++) {
                double x = a[ta ? p * m + i : i * k + p], y = b[tb ? j * k + p : p * n + j];
                ref += x * y;
                mag += fabs(x * y);
            }
            double got = c[i * n + j], bound = (double)k * u_acc * mag * 1.01 + u_out * fabs(ref) + 1e-30;
            double r = fabs(got - ref) / bound;
            if (!(r <= 1.0) && bad < 0) bad = i * n + j;
            if (r > worst || r != r) worst = r;
            nonzero += got != 0.0;
        }
    printf("%s %s%s %lldx%lldx%lld: %.2f GFLOP/s (%.3f ms/call, first call %.3f s), "
           "max error %.3f of bound%s\n",
           cl16_dtype_name(dt), ta ? "T" : "N", tb ? "T" : "N", (long long)m, (long long)n,
           (long long)k, 2.0 * (double)m * (double)n * (double)k / per * 1e-9, per * 1e3, first, worst,
           bad < 0 && nonzero ? ", check passed" : "");
    if (bad >= 0 || !nonzero) {
        fprintf(stderr, "cl16 gemm: %s result is wrong%s\n", cl16_dtype_name(dt),
                nonzero ? " (error above the bound)" : " (all zero)");
        rc = cli_exit_code(CL16_ERR_NUMERIC);
    }
out:
    if (s) rc = cli_fail(s, "gemm", cl16_ctx_last_error(ctx));
    cl16_tensor_free(A), cl16_tensor_free(B), cl16_tensor_free(C);
    free(a), free(b), free(c);
    return rc;
}

static int parse_dim(const char *v, int64_t *out, const char *name) {
    char *end;
    long long x = strtoll(v, &end, 10);
    if (*end || x < 1 || x > 65536) {
        fprintf(stderr, "cl16 gemm: %s must be an integer in 1..65536, got '%s'\n", name, v);
        return -1;
    }
    *out = x;
    return 0;
}

int cmd_gemm(int argc, char **argv, const char *device) {
    int64_t m = 256, n = 256, k = 256, reps = 5;
    int ta = 0, tb = 0, f16 = 1, f32 = 1;
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(o, "--trans-a")) ta = 1;
        else if (!strcmp(o, "--trans-b")) tb = 1;
        else if (v && !strcmp(o, "--m")) { if (parse_dim(v, &m, "--m")) return CL16_EXIT_USAGE; i++; }
        else if (v && !strcmp(o, "--n")) { if (parse_dim(v, &n, "--n")) return CL16_EXIT_USAGE; i++; }
        else if (v && !strcmp(o, "--k")) { if (parse_dim(v, &k, "--k")) return CL16_EXIT_USAGE; i++; }
        else if (v && !strcmp(o, "--reps")) { if (parse_dim(v, &reps, "--reps")) return CL16_EXIT_USAGE; i++; }
        else if (v && !strcmp(o, "--device")) { device = v; i++; }
        else if (v && !strcmp(o, "--dtype")) {
            f16 = !strcmp(v, "f16") || !strcmp(v, "both");
            f32 = !strcmp(v, "f32") || !strcmp(v, "both");
            if (!f16 && !f32) {
                fprintf(stderr, "cl16 gemm: --dtype must be f16, f32 or both, got '%s'\n", v);
                return CL16_EXIT_USAGE;
            }
            i++;
        } else {
            fprintf(stderr, "cl16 gemm: unknown or incomplete option '%s'\n", o);
            return CL16_EXIT_USAGE;
        }
    }
    cl16_ctx *ctx;
    int rc = cli_ctx(&ctx, device, 0, 0);
    if (rc) return rc;
    const cl16_device_info *d = cl16_ctx_device(ctx);
    printf("device %d: %s, half path %s\n", d->index, d->name,
           cl16_ctx_half_path(ctx) == CL16_HALF_NATIVE ? "native" : "storage");
    if (f16) rc = run_one(ctx, CL16_F16, m, n, k, ta, tb, (int)reps);
    if (f32 && !rc) rc = run_one(ctx, CL16_F32, m, n, k, ta, tb, (int)reps);
    cl16_ctx_free(ctx);
    return rc;
}
