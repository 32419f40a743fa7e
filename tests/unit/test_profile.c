/* test_profile.c - device time from profiling events (cl16_ctx_device_time):
 * it grows with the work enqueued and stays below the wall clock around it,
 * survives more commands than the event array holds (the oldest are harvested),
 * counts the calls it cannot see (CLBlast's), and is refused, naming the
 * option, on a context made without profiling; cl16_ctx_kernel_times splits
 * the same time by kernel name. */
#include <math.h>
#include <time.h>

#include "check.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int main(void) {
    cl16_ctx_opts o;
    cl16_ctx_opts_init(&o);
    o.cache = 0;
    o.profiling = 1;
    cl16_ctx *ctx;
    cl16_status s = cl16_ctx_create(&ctx, &o);
    if (s) {
        fprintf(stderr, "cannot create a context: %s: %s\n", cl16_status_str(s), cl16_ctx_last_error(ctx));
        cl16_ctx_free(ctx);
        return 1;
    }
    double t0 = -1, t1 = -1, t2 = -1;
    CHECK_OK(ctx, cl16_ctx_device_time(ctx, &t0));
    CHECK(t0 >= 0);

    /* A GEMM's kernel: device time grows, by no more than the wall time around it. */
    const int64_t n = 256, dims[2] = {n, n};
    cl16_tensor *a = NULL, *b = NULL, *c = NULL;
    CHECK_OK(ctx, cl16_tensor_create(ctx, CL16_F32, 2, dims, &a));
    CHECK_OK(ctx, cl16_tensor_create(ctx, CL16_F32, 2, dims, &b));
    CHECK_OK(ctx, cl16_tensor_create(ctx, CL16_F32, 2, dims, &c));
    CHECK_OK(ctx, cl16_tensor_fill(a, 0.5f));
    CHECK_OK(ctx, cl16_tensor_fill(b, 0.25f));
    CHECK_OK(ctx, cl16_gemm(ctx, 0, 0, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n)); /* builds */
    CHECK_OK(ctx, cl16_ctx_finish(ctx));
    CHECK_OK(ctx, cl16_ctx_device_time(ctx, &t1));
    const double w0 = now_s();
    for (int i = 0; i < 3; i++)
        CHECK_OK(ctx, cl16_gemm(ctx, 0, 0, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n));
    CHECK_OK(ctx, cl16_ctx_device_time(ctx, &t2)); /* waits for the three itself */
    const double wall = now_s() - w0;
    CHECK_MSG(t2 > t1 && t1 > t0, "device time %g -> %g -> %g s", t0, t1, t2);
    CHECK_MSG(t2 - t1 <= wall * 1.05 + 1e-4, "3 GEMMs: device %g s, wall %g s", t2 - t1, wall);
    float *got = malloc((size_t)(n * n) * sizeof *got);
    CHECK(got != NULL);
    if (got) {
        CHECK_OK(ctx, cl16_tensor_read_f32(c, got, (size_t)(n * n)));
        CHECK_MSG(got[0] == 32.0f && got[n * n - 1] == 32.0f, "C = %g ... %g, want 256 * 0.5 * 0.25",
                  (double)got[0], (double)got[n * n - 1]);
    }
    free(got);

    /* A GEMM handed to CLBlast: its kernels are out of sight, and counted as such. */
    cl16_ctx_stats cs0, cs1;
    cl16_ctx_stats_get(ctx, &cs0);
    cl16_gemm_desc d;
    cl16_gemm_desc_init(&d);
    d.m = d.n = d.k = n, d.alpha = 1.0f, d.beta = 0.0f;
    d.a = a, d.lda = n, d.b = b, d.ldb = n, d.c = c, d.ldc = n;
    d.backend = CL16_GEMM_CLBLAST;
    s = cl16_gemm_ex(ctx, &d);
    if (s == CL16_ERR_UNSUPPORTED) {
        printf("note: CLBlast declines SGEMM here (%s); its counting is not checked\n",
               cl16_ctx_last_error(ctx));
    } else {
        CHECK_OK(ctx, s);
        CHECK_OK(ctx, cl16_ctx_finish(ctx));
        cl16_ctx_stats_get(ctx, &cs1);
        CHECK_MSG(cs1.untimed_calls == cs0.untimed_calls + 1, "untimed calls %llu -> %llu",
                  (unsigned long long)cs0.untimed_calls, (unsigned long long)cs1.untimed_calls);
        CHECK(cs0.untimed_calls == 0);
    }

    /* More commands than the pending-event array holds (4096): harvested on the
     * way, all counted, none leaked (the sanitizer build runs this test). */
    int64_t one = 64;
    cl16_tensor *small = NULL;
    CHECK_OK(ctx, cl16_tensor_create(ctx, CL16_F32, 1, &one, &small));
    for (int i = 0; i < 5000 && small; i++)
        if (cl16_tensor_fill(small, (float)i)) {
            CHECK_MSG(0, "fill %d: %s", i, cl16_ctx_last_error(ctx));
            break;
        }
    double t3 = -1;
    CHECK_OK(ctx, cl16_ctx_finish(ctx));
    CHECK_OK(ctx, cl16_ctx_device_time(ctx, &t3));
    CHECK_MSG(t3 > t2, "5000 fills: device time %g -> %g s", t2, t3);
    CHECK(cl16_ctx_device_time(ctx, NULL) == CL16_ERR_INVALID_ARG);

    /* Split by kernel: the entries add up to the total; the fills are one
     * entry with every call; the GEMM kernel is there with its 4 calls. */
    cl16_kernel_time kt[32];
    size_t nk = 0;
    CHECK_OK(ctx, cl16_ctx_kernel_times(ctx, kt, 32, &nk, 0));
    CHECK_MSG(nk >= 2 && nk <= 32, "%zu kernel entries", nk);
    double sum = 0;
    int fills = 0, gemms = 0;
    for (size_t i = 0; i < nk && i < 32; i++) {
        sum += kt[i].seconds;
        if (i)
            CHECK_MSG(kt[i].seconds <= kt[i - 1].seconds, "entry %zu not sorted", i);
        if (!strcmp(kt[i].name, "(copy/fill)"))
            fills = kt[i].calls >= 5000;
        if (strstr(kt[i].name, "gemm") && kt[i].calls >= 4)
            gemms = 1;
    }
    CHECK_MSG(fabs(sum - t3) <= 1e-6 + 1e-9 * t3, "kernel entries sum to %g s, device time %g s", sum,
              t3);
    CHECK_MSG(fills && gemms, "fill entry %d, GEMM entry %d (first entry %s)", fills, gemms,
              nk ? kt[0].name : "-");
    /* reset: the next call sees only what came after. */
    CHECK_OK(ctx, cl16_ctx_kernel_times(ctx, NULL, 0, &nk, 1));
    CHECK_OK(ctx, cl16_tensor_fill(small, 2.0f));
    CHECK_OK(ctx, cl16_ctx_kernel_times(ctx, kt, 1, &nk, 0));
    CHECK_MSG(nk == 1 && kt[0].calls == 1 && !strcmp(kt[0].name, "(copy/fill)"),
              "after reset and one fill: %zu entries, %s x %llu", nk, nk ? kt[0].name : "-",
              nk ? (unsigned long long)kt[0].calls : 0ULL);
    CHECK(cl16_ctx_kernel_times(ctx, NULL, 1, &nk, 0) == CL16_ERR_INVALID_ARG);
    CHECK(cl16_ctx_device_time(NULL, &t3) == CL16_ERR_INVALID_ARG);
    /* Queued work left at teardown: cl16_ctx_free waits and releases its events. */
    CHECK_OK(ctx, cl16_tensor_fill(small, 1.0f));
    cl16_tensor_free(small), cl16_tensor_free(a), cl16_tensor_free(b), cl16_tensor_free(c);
    cl16_ctx_free(ctx);

    /* Without profiling: refused, and the message names the option. */
    cl16_ctx *plain = test_ctx(NULL);
    double t = 1;
    CHECK(cl16_ctx_device_time(plain, &t) == CL16_ERR_UNSUPPORTED && t == 0);
    size_t pn = 9;
    CHECK(cl16_ctx_kernel_times(plain, NULL, 0, &pn, 0) == CL16_ERR_UNSUPPORTED && pn == 0);
    CHECK_MSG(strstr(cl16_ctx_last_error(plain), "profiling") != NULL, "message: %s",
              cl16_ctx_last_error(plain));
    cl16_ctx_free(plain);
    return check_done("test_profile");
}
