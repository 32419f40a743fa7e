/* gemm_accumulate.c - error of f16 GEMM with float and with half
 * accumulation (CL16_ACC_HALF), against a float64 reference, for K from 16 to
 * 4096 and inputs of mixed and of one sign; then the speed of both at 1024^3.
 * Half accumulation needs a native-half device; elsewhere it reports the
 * refusal. Figures: docs/numerics.md. Run: build/bench/gemm_accumulate */
#include "cl16.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}
int main(void) {
    cl16_ctx *ctx;
    if (cl16_ctx_create(&ctx, NULL)) {
        printf("%s\n", cl16_ctx_last_error(ctx));
        return 1;
    }
    printf("device: %s, half path %s\n", cl16_ctx_device(ctx)->name,
           cl16_ctx_half_path(ctx) == CL16_HALF_NATIVE ? "native" : "storage");
    int Ks[] = {16, 64, 256, 1024, 4096};
    int M = 64, N = 64;
    for (int pos = 0; pos < 2; pos++)
        for (int ki = 0; ki < 5; ki++) {
            int K = Ks[ki];
            float *a = malloc(4 * M * K), *b = malloc(4 * K * N), *c = malloc(4 * M * N);
            uint32_t s = 99;
            for (int i = 0; i < M * K + K * N; i++) {
                s ^= s << 13;
                s ^= s >> 17;
                s ^= s << 5;
                float v = (float)((s >> 8) / 8388608.0);
                if (!pos)
                    v = 2 * v - 1;
                v = cl16_half_to_float(cl16_float_to_half(v));
                if (i < M * K)
                    a[i] = v;
                else
                    b[i - M * K] = v;
            }
            int64_t da[2] = {M, K}, db[2] = {K, N}, dc[2] = {M, N};
            cl16_tensor *A, *B, *C;
            cl16_tensor_create(ctx, CL16_F16, 2, da, &A);
            cl16_tensor_create(ctx, CL16_F16, 2, db, &B);
            cl16_tensor_create(ctx, CL16_F16, 2, dc, &C);
            cl16_tensor_write_f32(A, a, M * K);
            cl16_tensor_write_f32(B, b, K * N);
            printf("%s K=%5d:", pos ? "inputs [0,1) " : "inputs [-1,1)", K);
            for (int acc = 0; acc < 2; acc++) {
                cl16_gemm_desc d;
                cl16_gemm_desc_init(&d);
                d.m = M;
                d.n = N;
                d.k = K;
                d.a = A;
                d.lda = K;
                d.b = B;
                d.ldb = N;
                d.c = C;
                d.ldc = N;
                d.accumulate = acc;
                cl16_status st = cl16_gemm_ex(ctx, &d);
                if (st) {
                    printf(" %s: %s\n", acc ? "half" : "float", cl16_ctx_last_error(ctx));
                    continue;
                }
                cl16_tensor_read_f32(C, c, M * N);
                double wr = 0, ws = 0;
                for (int i = 0; i < M; i++)
                    for (int j = 0; j < N; j++) {
                        double r = 0, mg = 0;
                        for (int p = 0; p < K; p++) {
                            r += (double)a[i * K + p] * b[p * N + j];
                            mg += fabs((double)a[i * K + p] * b[p * N + j]);
                        }
                        double e = fabs(c[i * N + j] - r);
                        if (e / mg > ws)
                            ws = e / mg;
                        if (fabs(r) > 1e-3 * mg && e / fabs(r) > wr)
                            wr = e / fabs(r);
                    }
                printf("  acc %-5s max|err|/sum|ab| %.2e (%.1f u_h)  max rel %.2e",
                       acc ? "half" : "float", ws, ws / 0x1p-11, wr);
            }
            printf("\n");
            cl16_tensor_free(A);
            cl16_tensor_free(B);
            cl16_tensor_free(C);
            free(a);
            free(b);
            free(c);
        }
    /* speed at 1024^3 */
    int n = 1024;
    int64_t dd[2] = {n, n};
    cl16_tensor *A, *B, *C;
    cl16_tensor_create(ctx, CL16_F16, 2, dd, &A);
    cl16_tensor_create(ctx, CL16_F16, 2, dd, &B);
    cl16_tensor_create(ctx, CL16_F16, 2, dd, &C);
    cl16_tensor_fill(A, 0.01f);
    cl16_tensor_fill(B, 0.01f);
    for (int acc = 0; acc < 2; acc++) {
        cl16_gemm_desc d;
        cl16_gemm_desc_init(&d);
        d.m = d.n = d.k = n;
        d.a = A;
        d.lda = n;
        d.b = B;
        d.ldb = n;
        d.c = C;
        d.ldc = n;
        d.accumulate = acc;
        if (cl16_gemm_ex(ctx, &d)) {
            printf("speed acc %d: %s\n", acc, cl16_ctx_last_error(ctx));
            continue;
        }
        cl16_ctx_finish(ctx);
        double t0 = now();
        for (int r = 0; r < 5; r++)
            cl16_gemm_ex(ctx, &d);
        cl16_ctx_finish(ctx);
        printf("1024^3 f16 acc %s: %.1f GFLOP/s\n", acc ? "half" : "float",
               2e-9 * n * n * n * 5 / (now() - t0));
    }
    cl16_ctx_free(ctx);
    return 0;
}
