/* test_gemm_kernels.c - every GEMM kernel kind of kernels/gemm.cl (tile,
 * with and without k unroll and operand packing; dot; local memory, with and
 * without packing) run with explicit parameters through the internal entry
 * point, in all transpose combinations that kind serves, both dtypes, with
 * offsets, padded leading dimensions, strided batches, batch-reduce, bias and
 * ReLU, against a float64 reference. The public tests reach only the kinds the
 * built-in table picks on the test device; this one covers the rest (the local
 * memory kernel is the GPUs' default). Bound: (K*batch + 4) * 2^-24 * 1.01 *
 * magnitude + output rounding, as in docs/numerics.md. */
#include <math.h>

#include "check.h"
#include "runtime/internal.h"

static float rnd(uint32_t *s) {
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return (float)((double)(*s >> 8) / 8388608.0 - 1.0);
}
static void run(cl16_ctx *ctx, cl16_dtype dt, const cl16_gemm_params *p, int ta, int tb, int m,
                int n, int k, int batch, int reduce, int bias_mode, int relu, float alpha,
                float beta) {
    int64_t ar = ta ? k : m, ac = ta ? m : k, br = tb ? n : k, bc = tb ? k : n;
    int lda = ac + 3, ldb = bc + 1, ldc = n + 2;
    int64_t as = (ar * lda) + 5, bs = br * ldb + 2, cs = reduce ? 0 : m * ldc + 1;
    int64_t ao = 7, bo = 3, co = 4;
    int64_t na = ao + batch * as, nb = bo + batch * bs,
            nc = co + (reduce ? 1 : batch) * (m * ldc + 1);
    float *a = malloc(na * 4), *b = malloc(nb * 4), *c = malloc(nc * 4), *c0 = malloc(nc * 4),
          *bi = malloc((m > n ? m : n) * 4 + 16);
    uint32_t s = 1234 + m * 7 + n * 13 + k;
#define R(x) (dt == CL16_F16 ? cl16_half_to_float(cl16_float_to_half(x)) : (x))
    for (int64_t i = 0; i < na; i++)
        a[i] = R(rnd(&s));
    for (int64_t i = 0; i < nb; i++)
        b[i] = R(rnd(&s));
    for (int64_t i = 0; i < nc; i++)
        c0[i] = R(rnd(&s));
    for (int i = 0; i < (m > n ? m : n) + 4; i++)
        bi[i] = R(rnd(&s));
    cl16_tensor *A, *B, *C, *BI;
    int64_t d1;
    d1 = na;
    cl16_tensor_create(ctx, dt, 1, &d1, &A);
    d1 = nb;
    cl16_tensor_create(ctx, dt, 1, &d1, &B);
    d1 = nc;
    cl16_tensor_create(ctx, dt, 1, &d1, &C);
    d1 = (m > n ? m : n) + 4;
    cl16_tensor_create(ctx, dt, 1, &d1, &BI);
    cl16_tensor_write_f32(A, a, na);
    cl16_tensor_write_f32(B, b, nb);
    cl16_tensor_write_f32(C, c0, nc);
    cl16_tensor_write_f32(BI, bi, d1);
    cl16_gemm_desc d;
    cl16_gemm_desc_init(&d);
    d.trans_a = ta;
    d.trans_b = tb;
    d.m = m;
    d.n = n;
    d.k = k;
    d.batch = batch;
    d.alpha = alpha;
    d.beta = beta;
    d.a = A;
    d.a_offset = ao;
    d.lda = lda;
    d.a_stride = as;
    d.b = B;
    d.b_offset = bo;
    d.ldb = ldb;
    d.b_stride = bs;
    d.c = C;
    d.c_offset = co;
    d.ldc = ldc;
    d.c_stride = cs;
    if (bias_mode) {
        d.bias = BI;
        d.bias_offset = 2;
        d.bias_mode = bias_mode;
    }
    d.activation = relu;
    cl16_status st = cl16__gemm_validate(ctx, &d);
    if (!st)
        st = cl16__gemm_run(ctx, &d, p);
    if (!st)
        st = cl16_tensor_read_f32(C, c, nc);
    char ps[128];
    cl16__gemm_params_str(p, ps, sizeof ps);
    CHECK_MSG(!st, "%s: %s: %s", ps, cl16_status_str(st), cl16_ctx_last_error(ctx));
    if (st)
        goto out;
    double worst = 0;
    int nz = 0;
    int nb_out = reduce ? 1 : batch, nred = reduce ? batch : 1;
    for (int g = 0; g < nb_out; g++)
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++) {
                double r = 0, mg = 0;
                for (int q = 0; q < nred; q++) {
                    int gg = g + q;
                    for (int pp = 0; pp < k; pp++) {
                        double x = a[ao + gg * as +
                                     (ta ? (int64_t)pp * lda + i : (int64_t)i * lda + pp)],
                               y = b[bo + gg * bs +
                                     (tb ? (int64_t)j * ldb + pp : (int64_t)pp * ldb + j)];
                        r += x * y;
                        mg += fabs(x * y);
                    }
                }
                int64_t ci = co + g * cs + (int64_t)i * ldc + j;
                double out = alpha * r + beta * c0[ci];
                double mag = fabs(alpha) * mg + fabs(beta * c0[ci]);
                if (bias_mode == 1) {
                    out += bi[2 + i];
                    mag += fabs(bi[2 + i]);
                }
                if (bias_mode == 2) {
                    out += bi[2 + j];
                    mag += fabs(bi[2 + j]);
                }
                if (relu && out < 0)
                    out = 0;
                double uo = dt == CL16_F16 ? 0x1p-11 : 0x1p-24;
                double bound = (k * nred + 4) * 0x1p-24 * mag * 1.01 + uo * fabs(out) + 1e-30;
                double e = fabs(c[ci] - out) / bound;
                if (!(e <= worst))
                    worst = e;
                nz |= c[ci] != 0;
            }
    /* nothing before the first view may change */
    for (int i = 0; i < co; i++)
        if (c[i] != c0[i]) {
            worst = 1e9;
        }
    CHECK_MSG(worst <= 1 && nz,
              "%s %s %c%c %dx%dx%d batch %d reduce %d bias %d relu %d: error %.3g of the bound, "
              "nonzero %d",
              cl16_dtype_name(dt), ps, ta ? 'T' : 'N', tb ? 'T' : 'N', m, n, k, batch, reduce,
              bias_mode, relu, worst, nz);
out:
    cl16_tensor_free(A);
    cl16_tensor_free(B);
    cl16_tensor_free(C);
    cl16_tensor_free(BI);
    free(a);
    free(b);
    free(c);
    free(c0);
    free(bi);
}
int main(void) {
    cl16_ctx *ctx = test_ctx(getenv("CL16_CACHE_DIR"));
    /* One parameter set per kernel kind, with odd tile sizes so edges occur. */
    cl16_gemm_params ps[] = {{CL16_GEMM_OWN, CL16_GK_TILE, 4, 64, 16, 4, 8, 8, 16, 0},
                             {CL16_GEMM_OWN, CL16_GK_TILE, 3, 16, 8, 1, 8, 8, 16, 0},
                             {CL16_GEMM_OWN, CL16_GK_TILE, 3, 16, 8, 4, 8, 8, 16, 1},
                             {CL16_GEMM_OWN, CL16_GK_DOT, 3, 2, 4, 1, 8, 8, 16, 0},
                             {CL16_GEMM_OWN, CL16_GK_LMEM, 2, 3, 4, 1, 4, 8, 5, 0},
                             {CL16_GEMM_OWN, CL16_GK_LMEM, 2, 3, 4, 1, 4, 8, 5, 1}};
    int shapes[][3] = {{1, 1, 1}, {17, 3, 64}, {67, 130, 29}};
    for (int dt = 0; dt < 2; dt++)
        for (unsigned pi = 0; pi < sizeof ps / sizeof ps[0]; pi++)
            for (int op = 0; op < 4; op++) {
                if (ps[pi].kind == CL16_GK_DOT && op != 1)
                    continue;
                for (unsigned si = 0; si < 3; si++) {
                    int *sh = shapes[si];
                    run(ctx, dt ? CL16_F16 : CL16_F32, &ps[pi], op >> 1, op & 1, sh[0], sh[1],
                        sh[2], 1, 0, 0, 0, 1.0f, 0.0f);
                    run(ctx, dt ? CL16_F16 : CL16_F32, &ps[pi], op >> 1, op & 1, sh[0], sh[1],
                        sh[2], 3, 0, (si % 3), si & 1, 0.75f, -1.25f);
                    run(ctx, dt ? CL16_F16 : CL16_F32, &ps[pi], op >> 1, op & 1, sh[0], sh[1],
                        sh[2], 3, 1, 2 - (si % 3), 1, 1.5f, 0.5f);
                }
            }
    cl16_ctx_free(ctx);
    return check_done("gemm_kernels");
}
