/* gemm.cl - general matrix multiply C = alpha*op(A)*op(B) + beta*C on f32 or
 * f16 tensors (row-major), products accumulated in acc_t, one rounding on store.
 *
 * Build parameters: those of common.cl (CL16_DTYPE, CL16_HALF_NATIVE, ...) and
 * the tile parameters documented below.
 */
#include "common.cl"

/* ---- register-tiled GEMM ---------------------------------------------------
 * Each work-item computes a TM x TN tile of C: work-item (x, y) owns rows
 * y*TM .. y*TM+TM-1 and columns x*TN .. x*TN+TN-1. Rows of B are read as VW-wide
 * vectors (vload_half8/16 on the f16 paths, vload8/16 for f32); the TM values of
 * A per k are scalars broadcast into the vectors (for op = NN, k is unrolled by
 * 4 and A is read as 4-wide vectors along k). No local memory and no
 * barriers, which suits CPUs (PoCL) where local memory is ordinary cache and a
 * barrier splits the work-item loop. Tiles that cross the edge of C take a
 * scalar path with bounds checks, so any M, N, K works without padding.
 *
 * Build parameters (-D):
 *   TM       rows per work-item: 1..16.                         Default 8.
 *   TN       columns per work-item: a multiple of VW (<= 4*VW).  Default 32.
 *   VW       vector width of the B loads: 8 or 16.              Default 16.
 *   KU       k unroll of the NN interior loop: 1 or 4 (4 reads A as
 *            4-wide vectors along k).                            Default 4.
 *   TRANS_A  1: A is stored K x M (op(A) = A^T).                Default 0.
 *   TRANS_B  1: B is stored N x K (op(B) = B^T).                Default 0.
 */
#ifndef TM
#define TM 8
#endif
#ifndef VW
#define VW 16
#endif
#ifndef TN
#define TN 32
#endif
#ifndef KU
#define KU 4
#endif
#ifndef TRANS_A
#define TRANS_A 0
#endif
#ifndef TRANS_B
#define TRANS_B 0
#endif
#define NV (TN / VW)
#if TN % VW != 0 || NV < 1 || NV > 4
#error "TN must be VW, 2*VW, 3*VW or 4*VW"
#endif
#if KU != 1 && KU != 4
#error "KU must be 1 or 4"
#endif

#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)
typedef CAT(float, VW) accv_t;
#if CL16_DTYPE == 0
#define LDV(p, i) CAT(vload, VW)(0, (p) + (i))
#define LD4V(p, i) vload4(0, (p) + (i))
#define STV(v, p, i) CAT(vstore, VW)((v), 0, (p) + (i))
#else
#define LDV(p, i) CAT(vload_half, VW)(0, (p) + (i))
#define LD4V(p, i) vload_half4(0, (p) + (i))
#define STV(v, p, i) CAT(CAT(vstore_half, VW), _rte)((v), 0, (p) + (i))
#endif

/* op(A)[i][p] and op(B)[p][j] as scalars (float). */
#if TRANS_A
#define A_AT(i, p) (float)LD(A, a_off + (long)(p) * lda + (i))
#else
#define A_AT(i, p) (float)LD(A, a_off + (long)(i) * lda + (p))
#endif
#if TRANS_B
#define B_AT(p, j) (float)LD(B, b_off + (long)(j) * ldb + (p))
#else
#define B_AT(p, j) (float)LD(B, b_off + (long)(p) * ldb + (j))
#endif

__kernel void cl16_gemm_tile(const int M, const int N, const int K, const float alpha,
                             __global const store_t *A, const long a_off, const long lda,
                             __global const store_t *B, const long b_off, const long ldb,
                             const float beta, __global store_t *C, const long c_off,
                             const long ldc) {
    const int j0 = (int)get_global_id(0) * TN;
    const int i0 = (int)get_global_id(1) * TM;
    if (i0 >= M || j0 >= N) return;

    if (i0 + TM <= M && j0 + TN <= N) {
        /* Interior tile: vector loads of B, TM x NV vector accumulators. */
        accv_t acc[TM][NV];
        for (int r = 0; r < TM; r++)
            for (int v = 0; v < NV; v++) acc[r][v] = (accv_t)(0.0f);
        int p = 0;
#if KU == 4 && !TRANS_A && !TRANS_B
        /* K unrolled by 4: A read as 4-wide vectors along k (one conversion
         * instruction instead of four scalar ones on the f16 paths). */
        for (; p + 4 <= K; p += 4) {
            accv_t b[4][NV];
            for (int u = 0; u < 4; u++) {
                const long brow = b_off + (long)(p + u) * ldb + j0;
                for (int v = 0; v < NV; v++) b[u][v] = LDV(B, brow + v * VW);
            }
            for (int r = 0; r < TM; r++) {
                const float4 a = convert_float4(LD4V(A, a_off + (long)(i0 + r) * lda + p));
                for (int v = 0; v < NV; v++) {
                    accv_t t = acc[r][v];
                    t = mad((accv_t)(a.s0), b[0][v], t);
                    t = mad((accv_t)(a.s1), b[1][v], t);
                    t = mad((accv_t)(a.s2), b[2][v], t);
                    acc[r][v] = mad((accv_t)(a.s3), b[3][v], t);
                }
            }
        }
#endif
        for (; p < K; p++) {
            accv_t b[NV];
#if TRANS_B
            for (int v = 0; v < NV; v++) {
                float t[VW];
                for (int c = 0; c < VW; c++) t[c] = B_AT(p, j0 + v * VW + c);
                b[v] = CAT(vload, VW)(0, t);
            }
#else
            const long brow = b_off + (long)p * ldb + j0;
            for (int v = 0; v < NV; v++) b[v] = LDV(B, brow + v * VW);
#endif
            for (int r = 0; r < TM; r++) {
                const float a = A_AT(i0 + r, p);
                for (int v = 0; v < NV; v++) acc[r][v] = mad((accv_t)(a), b[v], acc[r][v]);
            }
        }
        for (int r = 0; r < TM; r++) {
            const long crow = c_off + (long)(i0 + r) * ldc + j0;
            for (int v = 0; v < NV; v++) {
                accv_t out = alpha * acc[r][v];
                if (beta != 0.0f) out += beta * LDV(C, crow + v * VW);
                STV(out, C, crow + v * VW);
            }
        }
        return;
    }

    /* Edge tile: scalar, bounds-checked. */
    const int ie = min(i0 + TM, M), je = min(j0 + TN, N);
    for (int i = i0; i < ie; i++)
        for (int j = j0; j < je; j++) {
            float s = 0.0f;
            for (int p = 0; p < K; p++) s = mad(A_AT(i, p), B_AT(p, j), s);
            const long ci = c_off + (long)i * ldc + j;
            float out = alpha * s;
            if (beta != 0.0f) out += beta * (float)LD(C, ci);
            ST(out, C, ci);
        }
}
