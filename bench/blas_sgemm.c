/* blas_sgemm.c - the host peer of cl16's GEMM figures: OpenBLAS SGEMM on the
 * CPU, row-major N x N x N, GFLOP/s of the median of R calls after a warm-up.
 * Usage: blas_sgemm [N] [R]. */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 1024, reps = argc > 2 ? atoi(argv[2]) : 5;
    if (n < 1 || n > 16384 || reps < 1 || reps > 1000) {
        fprintf(stderr, "usage: blas_sgemm [N 1..16384] [R 1..1000]\n");
        return 2;
    }
    size_t nn = (size_t)n * (size_t)n;
    float *a = malloc(nn * sizeof *a), *b = malloc(nn * sizeof *b), *c = malloc(nn * sizeof *c);
    double *t = malloc((size_t)reps * sizeof *t);
    if (!a || !b || !c || !t) return 1;
    for (size_t i = 0; i < nn; i++) a[i] = b[i] = (float)(i % 7) * 0.1f;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1, a, n, b, n, 0, c, n);
    for (int r = 0; r < reps; r++) {
        double t0 = now();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1, a, n, b, n, 0, c, n);
        t[r] = now() - t0;
    }
    qsort(t, (size_t)reps, sizeof *t, cmp);
    printf("openblas sgemm %dx%dx%d: %.2f GFLOP/s (median of %d)\n", n, n, n,
           2.0 * n * (double)n * n / t[reps / 2] * 1e-9, reps);
    free(a), free(b), free(c), free(t);
    return 0;
}
