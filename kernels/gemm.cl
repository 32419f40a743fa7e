/* gemm.cl - general matrix multiply on f32, f16 or bf16 tensors (row-major):
 *
 *     C_g = act(alpha * sum_r op(A_gr) * op(B_gr) + beta * C_g + bias)
 *
 * for every batch entry g (get_global_id(2)), where X_gr starts at element
 * x_off + (g + r) * x_str and r runs over 0..nred-1 (nred > 1 only for a
 * batch-reduce GEMM, launched with one batch entry). Products are accumulated
 * in acc_t (float unless CL16_HALF_ACC on a native-half device) and rounded
 * once on store; alpha, beta, bias and ReLU are applied in float.
 *
 * Three kernels share the epilogue and the loads:
 *   cl16_gemm_tile  register tile TM x TN per work-item, B rows read as VW-wide
 *                   vectors, no local memory (CPUs, mobile GPUs).  Any op.
 *   cl16_gemm_dot   op = A * B^T: TM x TN outputs per work-item, each a dot
 *                   product of two rows read as VW-wide vectors along k (both
 *                   operands contiguous in k).
 *   cl16_gemm_lmem  work-group WGX x WGY stages KT-deep slices of A and B in
 *                   local memory; work-item computes TM x TN outputs strided by
 *                   the work-group shape (coalesced; desktop GPUs).  Any op.
 * Every kernel handles any M, N, K (1 and primes included) without padding.
 *
 * Build parameters (-D), besides those of common.cl:
 *   TM, TN    rows / columns of C per work-item. tile: TN a multiple of VW,
 *             at most 4*VW. dot, lmem: 1..8 each.
 *   VW        vector width: 4, 8 or 16 (tile: B loads; dot: k loads).
 *   KU        tile kernel, op = NN: k unroll 1 or 4 (4 reads A as 4-vectors).
 *   WGX, WGY  lmem work-group shape.   KT  lmem k slice depth.
 *   TRANS_A, TRANS_B  1 = operand stored transposed.
 *   B_HALF    with AB_FLOAT in an f16 build: B stays f16, its vectors widened
 *             as they load (A float); the 16-bit implicit forward on a CPU.
 *   PANEL_B   tile kernel, NN, not IMPLICIT: B in column panels of TN
 *             (cl16_gemm_panel: panel t holds columns t*TN .. t*TN+TN-1 of
 *             every row, K rows of TN elements, zeros past N), so that a
 *             tile's k loop reads one contiguous run instead of K rows ldb
 *             apart; every tile is loaded whole, the edge stored by N.
 *   IMPLICIT  tile kernel, NN only: 0 plain; 1 row r of A starts at element
 *             rtab[r] (not r * lda); 2 row p of B starts at rtab[p] (not
 *             p * ldb) and column j of C is mapped: stored at element
 *             (j / cwp) * crp + (j % cwp) * ccs of its row, or not at all
 *             when j % cwp >= cwo; every tile is computed whole, so B must
 *             be readable TN - 1 elements past the last row's N columns (the
 *             caller's slack); 3 B's rows plain, C's columns mapped as in 2,
 *             tiles at the edge of C as in the plain kernel, and with ccs 2
 *             and VW <= 8 a vector whose VW columns fall in one output row
 *             of crw elements is stored as 2*VW elements, those between its
 *             columns rewritten with the bits they had. With form 2 a
 *             stride-1 convolution runs on its zero-padded input without an
 *             im2col buffer (conv.c, "implicit"): the padded image read from
 *             element rtab[p] on is row p of the column matrix, one output
 *             row of cwo pixels per cwp columns (crp = cwo, ccs = 1). With
 *             form 3 a strided 1x1 backward-data writes the input pixels its
 *             stride samples (crp = stride_h * W, ccs = stride_w).
 * Runtime: bias_mode 0 none, 1 per row (M values), 2 per column (N values);
 * relu 1 = max(x, 0) with NaN propagated (a NaN must reach the loss check).
 */
#include "common.cl"

#ifndef TM
#define TM 4
#endif
#ifndef VW
#define VW 16
#endif
#ifndef TN
#define TN 64
#endif
#ifndef KU
#define KU 1
#endif
#ifndef WGX
#define WGX 8
#endif
#ifndef WGY
#define WGY 8
#endif
#ifndef KT
#define KT 16
#endif
#ifndef TRANS_A
#define TRANS_A 0
#endif
#ifndef TRANS_B
#define TRANS_B 0
#endif
#ifndef IMPLICIT
#define IMPLICIT 0
#endif
#ifndef PANEL_B
#define PANEL_B 0
#endif
#if PANEL_B && (IMPLICIT || TRANS_B)
#error "PANEL_B takes the plain NN tile kernel"
#endif
#if IMPLICIT && (TRANS_A || (TRANS_B && IMPLICIT != 1))
#error "IMPLICIT takes NN operands (form 1 also A * B^T)"
#endif
#if VW != 4 && VW != 8 && VW != 16
#error "VW must be 4, 8 or 16"
#endif
#if KU != 1 && KU != 4
#error "KU must be 1 or 4"
#endif

typedef CAT(float, VW) floatv;
/* Full unrolling of the loops over a register tile (TM, TN, NV, VW are
 * build constants), so that its arrays become registers. */
#define UNROLL _Pragma("unroll")

/* ---- element access --------------------------------------------------------
 * ELT(p, i)   element i as the accumulation type (sacc_t)
 * LDV(p, i)   VW elements from i as accv_t      LD4V: 4 elements as acc4_t
 * LDF(p, i)   element i as float                LDVF: VW elements as floatv
 * STF / STVF  store float / floatv, rounding to nearest even for f16. */
#ifndef AB_FLOAT
#define AB_FLOAT 0
#endif
#if AB_FLOAT
/* A and B are float copies made by cl16_gemm_pack (op already applied when
 * packed); C keeps the tensors' dtype. */
typedef float ab_t;
#define SACC_T float
typedef float sacc_t;
typedef floatv accv_t;
typedef float4 acc4_t;
#define ACCV_TO_F(v) (v)
#define ELT(p, i) ((p)[i])
#define LDV(p, i) CAT(vload, VW)(0, (p) + (i))
#define LD4V(p, i) vload4(0, (p) + (i))
#elif CL16_DTYPE == 1 && CL16_HALF_NATIVE && CL16_HALF_ACC
#define GEMM_HALF_ACC 1
typedef store_t ab_t;
#define SACC_T half
typedef half sacc_t;
typedef CAT(half, VW) accv_t;
typedef half4 acc4_t;
/* Portable spellings: NVIDIA's OpenCL offers neither vloadN on half pointers
 * nor convert_floatN/convert_halfN for half vectors (ambiguous overloads), so
 * half vectors are loaded as their bits (ushortN) and reinterpreted, and
 * widened through vload_halfN from private memory. */
#define ELT(p, i) ((p)[i])
#define LDV(p, i) CAT(as_half, VW)(CAT(vload, VW)(0, (const global ushort *)((p) + (i))))
#define LD4V(p, i) as_half4(vload4(0, (const global ushort *)((p) + (i))))
float2 h2f_2(half2 v) { return vload_half2(0, (const half *)&v); }
float4 h2f_4(half4 v) { return vload_half4(0, (const half *)&v); }
float8 h2f_8(half8 v) { return vload_half8(0, (const half *)&v); }
float16 h2f_16(half16 v) { return vload_half16(0, (const half *)&v); }
#define ACCV_TO_F(v) CAT(h2f_, VW)(v)
#else
#define GEMM_HALF_ACC 0
typedef store_t ab_t;
#define SACC_T float
typedef float sacc_t;
typedef floatv accv_t;
typedef float4 acc4_t;
#define ACCV_TO_F(v) (v)
#if CL16_DTYPE == 0
#define ELT(p, i) ((p)[i])
#define LDV(p, i) CAT(vload, VW)(0, (p) + (i))
#define LD4V(p, i) vload4(0, (p) + (i))
#elif CL16_DTYPE == 2
/* bf16: ushort vectors widened by common.cl's shifts. */
#define ELT(p, i) LD((p), (i))
#define LDV(p, i) CAT(cl16_bf2f, VW)(CAT(vload, VW)(0, (p) + (i)))
#define LD4V(p, i) cl16_bf2f4(vload4(0, (p) + (i)))
#else
/* Half storage with float accumulation, on both half paths: vload_halfN widens
 * while it loads (portable: NVIDIA's OpenCL has no half-vector vloadN or
 * convert_floatN). Single elements on the storage path go through
 * common.cl's LD (an exact integer conversion on CPUs, where the scalar
 * built-in is a library call per element). */
#if CL16_HALF_NATIVE
#define ELT(p, i) vload_half(0, (p) + (i))
#else
#define ELT(p, i) LD((p), (i))
#endif
#define LDV(p, i) CAT(vload_half, VW)(0, (p) + (i))
#define LD4V(p, i) vload_half4(0, (p) + (i))
#endif
#endif
#if CL16_DTYPE == 0
#define LDF(p, i) ((p)[i])
#define LDVF(p, i) CAT(vload, VW)(0, (p) + (i))
#define STF(v, p, i) ((p)[i] = (v))
#define STVF(v, p, i) CAT(vstore, VW)((v), 0, (p) + (i))
#elif CL16_DTYPE == 2
#define LDF(p, i) LD((p), (i))
#define LDVF(p, i) CAT(cl16_bf2f, VW)(CAT(vload, VW)(0, (p) + (i)))
#define STF(v, p, i) ST((v), (p), (i))
#define STVF(v, p, i) CAT(vstore, VW)(CAT(cl16_f2bf, VW)(v), 0, (p) + (i))
#elif CL16_HALF_NATIVE
#define LDF(p, i) vload_half(0, (p) + (i))
#define LDVF(p, i) CAT(vload_half, VW)(0, (p) + (i))
#define STF(v, p, i) vstore_half_rte((v), 0, (p) + (i))
#define STVF(v, p, i) CAT(CAT(vstore_half, VW), _rte)((v), 0, (p) + (i))
#else /* storage path: single elements through common.cl's LD / ST */
#define LDF(p, i) LD((p), (i))
#define LDVF(p, i) CAT(vload_half, VW)(0, (p) + (i))
#define STF(v, p, i) ST((v), (p), (i))
#define STVF(v, p, i) CAT(CAT(vstore_half, VW), _rte)((v), 0, (p) + (i))
#endif

/* op(A)[i][p] and op(B)[p][j] of the matrices at offsets ao / bo. */
#if TRANS_A
#define A_AT(ao, i, p) ELT(A, (ao) + (long)(p) * lda + (i))
#else
#define A_AT(ao, i, p) ELT(A, (ao) + (long)(i) * lda + (p))
#endif
/* Start of row p of B (NN): p * ldb, or the table's entry (IMPLICIT 2). */
#if IMPLICIT == 2
#define B_ROW(p) ((long)rtab[p])
#else
#define B_ROW(p) ((long)(p) * ldb)
#endif
#if TRANS_B
#define B_AT(bo, p, j) ELTB(B, (bo) + (long)(j) * ldb + (p))
#else
#define B_AT(bo, p, j) ELTB(B, (bo) + B_ROW(p) + (j))
#endif
/* Where row p of the tile at column j0 starts in B (NN): in its panel, or in
 * the row. */
#if PANEL_B
#define B_TILE_ROW(p, j0) (((long)((j0) / TN) * K + (p)) * TN)
#else
#define B_TILE_ROW(p, j0) (B_ROW(p) + (j0))
#endif

/* B's element type and loads: with B_HALF, f16 (C's dtype) next to float A. */
#ifndef B_HALF
#define B_HALF 0
#endif
#if B_HALF && !(AB_FLOAT && CL16_DTYPE == 1)
#error "B_HALF goes with AB_FLOAT in an f16 build"
#endif
#if B_HALF
typedef store_t b_t;
#define LDVB(p, i) CAT(vload_half, VW)(0, (p) + (i))
#define ELTB(p, i) LD((p), (i))
#else
typedef ab_t b_t;
#define LDVB(p, i) LDV(p, i)
#define ELTB(p, i) ELT(p, i)
#endif
#define GEMM_ARGS                                                                              \
    const int M, const int N, const int K, const float alpha, __global const ab_t *A,          \
        const long a_off, const long lda, const long a_str, __global const b_t *B,            \
        const long b_off, const long ldb, const long b_str, const float beta,                  \
        __global store_t *C, const long c_off, const long ldc, const long c_str, const int nred, \
        __global const store_t *bias, const long bias_off, const int bias_mode, const int relu,     \
        __global const int *rtab, const int cwp, const int cwo, const int crp, const int ccs,   \
        const int crw

/* ---- epilogue -------------------------------------------------------------- */
CL16_INLINE float epi1(float acc, int i, int j, long ci, const float alpha, const float beta,
                  __global const store_t *C, __global const store_t *bias, const long bias_off,
                  const int bias_mode, const int relu) {
    float out = alpha * acc;
    if (beta != 0.0f) out = MADD(beta, LDF(C, ci), out);
    if (bias_mode == 1) out += LDF(bias, bias_off + i);
    else if (bias_mode == 2) out += LDF(bias, bias_off + j);
    if (relu && out < 0.0f) out = 0.0f;
    return out;
}

CL16_INLINE floatv epiv(floatv acc, int i, int j, long ci, const float alpha, const float beta,
                   __global const store_t *C, __global const store_t *bias, const long bias_off,
                   const int bias_mode, const int relu) {
    floatv out = alpha * acc;
    if (beta != 0.0f) out = MADD((floatv)(beta), LDVF(C, ci), out);
    if (bias_mode == 1) out += (floatv)(LDF(bias, bias_off + i));
    else if (bias_mode == 2) out += LDVF(bias, bias_off + j);
    if (relu) out = select(out, (floatv)(0.0f), isless(out, (floatv)(0.0f)));
    return out;
}

/* ---- cl16_gemm_tile ---------------------------------------------------------- */
#define NV (TN / VW)
#if TN % VW == 0 && NV >= 1 && NV <= 4
/* The tail of a tile: the tail = cv % VW columns past its whole vectors, as
 * one more vector filled element by element (zeros past the edge). */
#define TAIL_LOAD(dst, bo, p)                                                             \
    do {                                                                                  \
        sacc_t t_[VW];                                                                    \
        for (int c_ = 0; c_ < VW; c_++) t_[c_] = c_ < tail ? B_AT(bo, p, jt + c_) : (sacc_t)0; \
        dst = CAT(vload, VW)(0, t_);                                                      \
    } while (0)

/* The k loop of one tile, over all nred batch-reduce entries. Called twice
 * with a literal full: 1 for tiles with TN whole columns (the bulk), where
 * every edge test folds away, 0 for tiles at the edge of C. Together with the
 * unrolled TM / NV / 4 loops this keeps the accumulators and the B vectors in
 * registers: with the edge tests left in, PoCL 3.1 kept both arrays on the
 * stack (a load and a store around every multiply-add). */
__attribute__((always_inline)) inline void
tile_accumulate(const int full, accv_t acc[TM][NV], accv_t acct[TM], const long arow[TM],
                const int K, __global const ab_t *A, const long a0, const long lda,
                const long a_str, __global const b_t *B, const long b0, const long ldb,
                const long b_str, const int nred, const int j0, const int nvf, const int tail,
                const int jt, __global const int *rtab) {
    for (int red = 0; red < nred; red++) {
        const long ao = a0 + red * a_str, bo = b0 + red * b_str;
        int p = 0;
#if KU == 4 && !TRANS_A && !TRANS_B
        /* k unrolled by 4, A read as 4-vectors along k (on the storage path
         * one vector conversion instead of four scalar ones), then one B row
         * at a time: NV B vectors live, not 4 * NV, so tall tiles keep their
         * accumulators in registers. */
        for (; p + 4 <= K; p += 4) {
            acc4_t a[TM];
            UNROLL
            for (int r = 0; r < TM; r++) a[r] = LD4V(A, ao + arow[r] + p);
            UNROLL
            for (int u = 0; u < 4; u++) {
                const long brow = bo + B_TILE_ROW(p + u, j0);
                accv_t b[NV];
                UNROLL
                for (int v = 0; v < NV; v++)
                    b[v] = full || v < nvf ? LDVB(B, brow + v * VW) : (accv_t)(0);
                accv_t bt = (accv_t)(0);
                if (!full && tail) TAIL_LOAD(bt, bo, p + u);
                UNROLL
                for (int r = 0; r < TM; r++) {
                    const sacc_t au = u == 0 ? a[r].s0 : u == 1 ? a[r].s1 : u == 2 ? a[r].s2 : a[r].s3;
                    UNROLL
                    for (int v = 0; v < NV; v++) acc[r][v] = MADD((accv_t)(au), b[v], acc[r][v]);
                    if (!full && tail) acct[r] = MADD((accv_t)(au), bt, acct[r]);
                }
            }
        }
#endif
        for (; p < K; p++) {
            accv_t b[NV];
#if TRANS_B
            UNROLL
            for (int v = 0; v < NV; v++) {
                sacc_t t[VW];
                UNROLL
                for (int c = 0; c < VW; c++)
                    t[c] = full || v < nvf ? B_AT(bo, p, j0 + v * VW + c) : (sacc_t)0;
                b[v] = CAT(vload, VW)(0, t);
            }
#else
            const long brow = bo + B_TILE_ROW(p, j0);
            UNROLL
            for (int v = 0; v < NV; v++) b[v] = full || v < nvf ? LDVB(B, brow + v * VW) : (accv_t)(0);
#endif
            accv_t bt = (accv_t)(0);
            if (!full && tail) TAIL_LOAD(bt, bo, p);
            UNROLL
            for (int r = 0; r < TM; r++) {
#if TRANS_A
                const sacc_t a = A_AT(ao, arow[r], p);
#else
                const sacc_t a = ELT(A, ao + arow[r] + p);
#endif
                UNROLL
                for (int v = 0; v < NV; v++) acc[r][v] = MADD((accv_t)(a), b[v], acc[r][v]);
                if (!full && tail) acct[r] = MADD((accv_t)(a), bt, acct[r]);
            }
        }
    }
}

#if IMPLICIT >= 2
/* The bits of the dtype in private memory: a vector rounded once, then
 * copied element by element to where its columns go. */
#if CL16_DTYPE == 0
typedef float craw_t;
#define STV_RAW(v, raw) CAT(vstore, VW)((v), 0, (raw))
#elif CL16_DTYPE == 2
typedef ushort craw_t;
#define STV_RAW(v, raw) CAT(vstore, VW)(CAT(cl16_f2bf, VW)(v), 0, (raw))
#else
typedef ushort craw_t;
#define STV_RAW(v, raw) CAT(CAT(vstore_half, VW), _rte)((v), 0, (__private half *)(raw))
#endif

/* A vector of C's bits (craw_t lanes) and the permute mask of its lanes. */
#if CL16_DTYPE == 0
#define CRAW float
#define CMASK uint
#else
#define CRAW ushort
#define CMASK ushort
#endif
typedef CAT(CRAW, VW) crawv_t;
#if VW == 4
#define LANES (CAT(CMASK, VW))(0, 1, 2, 3)
#elif VW == 8
#define LANES (CAT(CMASK, VW))(0, 1, 2, 3, 4, 5, 6, 7)
#else
#define LANES (CAT(CMASK, VW))(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15)
#endif
/* Stores lanes [a, a + cnt) of r (cnt < VW) to d[0 .. cnt): the lanes
 * rotated to the front by one permute, then half, quarter... vectors stored
 * by the bits of cnt. */
CL16_INLINE void store_run(const crawv_t r, const int a, const int cnt, __global craw_t *d) {
    const crawv_t t = shuffle(r, LANES + (CMASK)a);
#if VW == 16
    CAT(CRAW, 8) t8 = t.lo;
    if (cnt & 8) { vstore8(t.lo, 0, d); t8 = t.hi; d += 8; }
#elif VW == 8
    const CAT(CRAW, 8) t8 = t;
#endif
#if VW >= 8
    CAT(CRAW, 4) t4 = t8.lo;
    if (cnt & 4) { vstore4(t8.lo, 0, d); t4 = t8.hi; d += 4; }
#else
    const CAT(CRAW, 4) t4 = t;
#endif
    CAT(CRAW, 2) t2 = t4.lo;
    if (cnt & 2) { vstore2(t4.lo, 0, d); t2 = t4.hi; d += 2; }
    if (cnt & 1) d[0] = t2.x;
}

#if IMPLICIT == 3 && VW <= 8
/* 2*VW-element loads and stores of C's dtype, and the interleaving of the
 * results (even elements) with the bits between them (odd elements). */
#if VW == 4
#define VW2 8
#else
#define VW2 16
#endif
typedef CAT(float, VW2) floatv2;
#if CL16_DTYPE == 0
#define LDV2F(p, i) CAT(vload, VW2)(0, (p) + (i))
#define STV2F(v, p, i) CAT(vstore, VW2)((v), 0, (p) + (i))
#elif CL16_DTYPE == 2
#define LDV2F(p, i) CAT(cl16_bf2f, VW2)(CAT(vload, VW2)(0, (p) + (i)))
#define STV2F(v, p, i) CAT(vstore, VW2)(CAT(cl16_f2bf, VW2)(v), 0, (p) + (i))
#else
#define LDV2F(p, i) CAT(vload_half, VW2)(0, (p) + (i))
#define STV2F(v, p, i) CAT(CAT(vstore_half, VW2), _rte)((v), 0, (p) + (i))
#endif
#if VW == 4
#define PAIR_MASK (uint8)(0, 4, 1, 5, 2, 6, 3, 7)
#else
#define PAIR_MASK (uint16)(0, 8, 1, 9, 2, 10, 3, 11, 4, 12, 5, 13, 6, 14, 7, 15)
#endif
#endif

/* The epilogue of a vector whose old C values cv (used when beta != 0) and
 * per-column bias bv (bias_mode 2) are already loaded: the mapped stores'
 * form of epiv. */
CL16_INLINE floatv epi_loaded(const floatv acc, const floatv cv, const floatv bv, const int i,
                              const float alpha, const float beta, __global const store_t *bias,
                              const long bias_off, const int bias_mode, const int relu) {
    floatv out = alpha * acc;
    if (beta != 0.0f) out = MADD((floatv)(beta), cv, out);
    if (bias_mode == 1) out += (floatv)(LDF(bias, bias_off + i));
    else if (bias_mode == 2) out += bv;
    if (relu) out = select(out, (floatv)(0.0f), isless(out, (floatv)(0.0f)));
    return out;
}

/* Stores the first n (<= VW) of the results v of row i, columns j.., of C,
 * mapped onto output rows (see IMPLICIT): whole when the vector lies within
 * one row and its columns are adjacent (ccs 1), else the epilogue and the
 * rounding still run on the vector and the elements are copied one by one
 * (those in a row's padding skipped). */
CL16_INLINE void store_mapped(const floatv v, const int n, const int i, const int j,
                              const long crow, const int cwp, const int cwo, const int crp,
                              const int ccs, const int crw, const float alpha, const float beta,
                              __global store_t *C, __global const store_t *bias,
                              const long bias_off, const int bias_mode, const int relu) {
    int q = j / cwp;
    const int o = j - q * cwp;
    if (ccs == 1 && n == VW && o + VW <= cwo) {
        const long ci = crow + (long)q * crp + o;
        STVF(epiv(v, i, j, ci, alpha, beta, C, bias, bias_off, bias_mode, relu), C, ci);
        return;
    }
#if IMPLICIT == 3 && VW <= 8
    if (ccs == 2 && n == VW && o + VW <= cwo && 2 * (o + VW) <= crw) {
        const long ci = crow + (long)q * crp + 2 * o;
        const floatv2 old = LDV2F(C, ci);
        const floatv bv = bias_mode == 2 ? LDVF(bias, bias_off + j) : (floatv)(0.0f);
        const floatv out = epi_loaded(v, old.even, bv, i, alpha, beta, bias, bias_off, bias_mode, relu);
        STV2F(shuffle2(out, old.odd, PAIR_MASK), C, ci);
        return;
    }
#endif
    /* A vector across the end of an output row (cwp >= VW: it reaches the
     * next row only): the row's part and the next row's part each stored as
     * a run of lanes (with beta, the old values read lane by lane). Element
     * by element (below) this took 4-17 % of a 3x3 forward
     * (bench/kernel_ab.c). */
    if (ccs == 1 && n == VW && cwp >= VW) {
        floatv cvv = (floatv)(0.0f);
        if (beta != 0.0f) {
            float cv[VW];
            UNROLL
            for (int c = 0; c < VW; c++) {
                const int col = o + c, nx = col >= cwp, oc = nx ? col - cwp : col;
                cv[c] = oc < cwo ? LDF(C, crow + (long)(q + nx) * crp + oc) : 0.0f;
            }
            cvv = CAT(vload, VW)(0, cv);
        }
        const floatv bv = bias_mode == 2 ? LDVF(bias, bias_off + j) : (floatv)(0.0f);
        const floatv out = epi_loaded(v, cvv, bv, i, alpha, beta, bias, bias_off, bias_mode, relu);
        craw_t raw[VW];
        STV_RAW(out, raw);
        const crawv_t rv = CAT(vload, VW)(0, raw);
        __global craw_t *cr = (__global craw_t *)C + crow + (long)q * crp;
        if (o < cwo) store_run(rv, 0, cwo - o, cr + o);
        const int s2 = cwp - o; /* the first lane in the next row */
        if (s2 < VW) store_run(rv, s2, min(VW - s2, cwo), cr + crp);
        return;
    }
    long idx[VW]; /* element of C for each column, -1 when not stored */
    for (int c = 0, oc = o; c < VW; c++) {
        idx[c] = c < n && oc < cwo ? crow + (long)q * crp + (long)oc * ccs : -1;
        if (++oc == cwp)
            oc = 0, q++; /* the next output row */
    }
    floatv cvv = (floatv)(0.0f), bvv = (floatv)(0.0f);
    if (beta != 0.0f) {
        float cv[VW];
        for (int c = 0; c < VW; c++) cv[c] = idx[c] >= 0 ? LDF(C, idx[c]) : 0.0f;
        cvv = CAT(vload, VW)(0, cv);
    }
    if (bias_mode == 2) {
        float bv[VW];
        for (int c = 0; c < VW; c++) bv[c] = c < n ? LDF(bias, bias_off + j + c) : 0.0f;
        bvv = CAT(vload, VW)(0, bv);
    }
    const floatv out = epi_loaded(v, cvv, bvv, i, alpha, beta, bias, bias_off, bias_mode, relu);
    craw_t raw[VW];
    STV_RAW(out, raw);
    __global craw_t *cr = (__global craw_t *)C;
    for (int c = 0; c < VW; c++)
        if (idx[c] >= 0) cr[idx[c]] = raw[c];
}
#endif

__kernel void cl16_gemm_tile(GEMM_ARGS) {
    const int j0 = (int)get_global_id(0) * TN;
    const int i0 = (int)get_global_id(1) * TM;
    const long g = (long)get_global_id(2);
    if (i0 >= M || j0 >= N) return;
    const long a0 = a_off + g * a_str, b0 = b_off + g * b_str, c0 = c_off + g * c_str;
    /* Tiles that cross the edge of C keep the vector path: rows past M re-read
     * the last row and are not stored; the columns past the last whole
     * VW-vector form one more vector loaded element by element. */
    const int rv = min(TM, M - i0);     /* rows of C in this tile */
    const int cv = min(TN, N - j0);     /* columns of C in this tile */
    const int nvf = cv / VW;            /* whole vectors among them */
    const int tail = cv - nvf * VW, jt = j0 + nvf * VW;
    /* Rows of A: where each starts (NN; its index when A is transposed). */
    long arow[TM];
    UNROLL
    for (int r = 0; r < TM; r++) {
        const int i = min(i0 + r, M - 1);
#if TRANS_A
        arow[r] = i;
#elif IMPLICIT == 1
        arow[r] = rtab[i];
#else
        arow[r] = (long)i * lda;
#endif
    }

    accv_t acc[TM][NV], acct[TM];
    UNROLL
    for (int r = 0; r < TM; r++) {
        acct[r] = (accv_t)(0);
        UNROLL
        for (int v = 0; v < NV; v++) acc[r][v] = (accv_t)(0);
    }
    /* IMPLICIT 2: every tile full (cwp > 0 there); the columns past N read
     * the caller's slack and are not stored. The test stays a run-time one:
     * with the edge form folded away, PoCL 3.1 packed arow[] into one vector
     * register and spilled an accumulator in the k loop (1.4x slower). */
#if IMPLICIT == 2
    const int whole = nvf == NV || cwp > 0;
#elif PANEL_B
    /* A panel is whole, zeros past N. The test stays a run-time one (ldb is
     * the panel width there, never 0), for the reason above: folded away,
     * f32 1024^3 ran at 73-76 GFLOP/s instead of 138-163 (unsaved runs of
     * `cl16 gemm`). */
    const int whole = nvf == NV || ldb > 0;
#else
    const int whole = nvf == NV;
#endif
    if (whole)
        tile_accumulate(1, acc, acct, arow, K, A, a0, lda, a_str, B, b0, ldb, b_str, nred, j0, nvf,
                        tail, jt, rtab);
    else
        tile_accumulate(0, acc, acct, arow, K, A, a0, lda, a_str, B, b0, ldb, b_str, nred, j0, nvf,
                        tail, jt, rtab);
    for (int r = 0; r < TM; r++) {
        if (r >= rv) break;
        const int i = i0 + r;
        const long crow = c0 + (long)i * ldc;
#if IMPLICIT >= 2
        UNROLL
        for (int v = 0; v < NV; v++) {
            const int j = j0 + v * VW;
#if IMPLICIT == 2
            if (j >= N) break; /* whole tiles: the vector holds min(VW, N - j) columns */
#else
            if (v >= nvf) break;
#endif
            store_mapped(ACCV_TO_F(acc[r][v]), min(VW, N - j), i, j, crow, cwp, cwo, crp, ccs, crw,
                         alpha, beta, C, bias, bias_off, bias_mode, relu);
        }
#if IMPLICIT == 3
        if (tail)
            store_mapped(ACCV_TO_F(acct[r]), tail, i, jt, crow, cwp, cwo, crp, ccs, crw, alpha, beta,
                         C, bias, bias_off, bias_mode, relu);
#endif
        continue;
#endif
        for (int v = 0; v < NV; v++) {
            if (v >= nvf) break;
            const int j = j0 + v * VW;
            STVF(epiv(ACCV_TO_F(acc[r][v]), i, j, crow + j, alpha, beta, C, bias, bias_off, bias_mode,
                      relu),
                 C, crow + j);
        }
        if (tail) {
            float t[VW];
#if PANEL_B
            /* computed whole: the tail is vector nvf (< NV), picked by an
             * unrolled select so that acc stays in registers */
            accv_t tv = acc[r][0];
            UNROLL
            for (int v = 1; v < NV; v++)
                if (v == nvf) tv = acc[r][v];
            CAT(vstore, VW)(ACCV_TO_F(tv), 0, t);
#else
            CAT(vstore, VW)(ACCV_TO_F(acct[r]), 0, t);
#endif
            for (int c = 0; c < tail; c++)
                STF(epi1(t[c], i, jt + c, crow + jt + c, alpha, beta, C, bias, bias_off, bias_mode,
                         relu),
                    C, crow + jt + c);
        }
    }
}
#endif

/* ---- cl16_gemm_dot (op = A * B^T) -------------------------------------------- */
#if !TRANS_A && TRANS_B && TM <= 8 && TN <= 8
#if VW == 16
#define HSUM(v) hsum8((v).lo + (v).hi)
#elif VW == 8
#define HSUM(v) hsum4((v).lo + (v).hi)
#else
#define HSUM(v) hsum2((v).lo + (v).hi)
#endif
CL16_INLINE sacc_t hsum2(CAT(SACC_T, 2) v) { return v.s0 + v.s1; }
CL16_INLINE sacc_t hsum4(CAT(SACC_T, 4) v) { return hsum2(v.lo + v.hi); }
CL16_INLINE sacc_t hsum8(CAT(SACC_T, 8) v) { return hsum4(v.lo + v.hi); }

__kernel void cl16_gemm_dot(GEMM_ARGS) {
    const int j0 = (int)get_global_id(0) * TN;
    const int i0 = (int)get_global_id(1) * TM;
    const long g = (long)get_global_id(2);
    if (i0 >= M || j0 >= N) return;
    const long a0 = a_off + g * a_str, b0 = b_off + g * b_str, c0 = c_off + g * c_str;
    /* Rows and columns past the edge are clamped for loading, skipped on store;
     * where each row of A starts (IMPLICIT 1: the table's entry). */
    int ri[TM], cj[TN];
    long ar[TM];
    UNROLL
    for (int r = 0; r < TM; r++) {
        ri[r] = min(i0 + r, M - 1);
#if IMPLICIT == 1
        ar[r] = rtab[ri[r]];
#else
        ar[r] = (long)ri[r] * lda;
#endif
    }
    UNROLL
    for (int c = 0; c < TN; c++) cj[c] = min(j0 + c, N - 1);
    sacc_t sum[TM][TN];
    UNROLL
    for (int r = 0; r < TM; r++)
        UNROLL
        for (int c = 0; c < TN; c++) sum[r][c] = 0;
    const int kv = K - K % VW;
    for (int red = 0; red < nred; red++) {
        const long ao = a0 + red * a_str, bo = b0 + red * b_str;
        accv_t acc[TM][TN];
        UNROLL
        for (int r = 0; r < TM; r++)
            UNROLL
            for (int c = 0; c < TN; c++) acc[r][c] = (accv_t)(0);
        for (int p = 0; p < kv; p += VW) {
            accv_t a[TM], b[TN];
            UNROLL
            for (int r = 0; r < TM; r++) a[r] = LDV(A, ao + ar[r] + p);
            UNROLL
            for (int c = 0; c < TN; c++) b[c] = LDV(B, bo + (long)cj[c] * ldb + p);
            UNROLL
            for (int r = 0; r < TM; r++)
                UNROLL
                for (int c = 0; c < TN; c++) acc[r][c] = MADD(a[r], b[c], acc[r][c]);
        }
        /* The K % VW tail: each row's elements loaded (and converted) once,
         * not once per pair of rows; the same sums in the same order. */
        const int tl = K - kv;
        sacc_t at[TM][VW], bt[TN][VW];
        UNROLL
        for (int r = 0; r < TM; r++)
            for (int q = 0; q < tl; q++) at[r][q] = ELT(A, ao + ar[r] + kv + q);
        UNROLL
        for (int c = 0; c < TN; c++)
            for (int q = 0; q < tl; q++) bt[c][q] = ELT(B, bo + (long)cj[c] * ldb + kv + q);
        UNROLL
        for (int r = 0; r < TM; r++)
            UNROLL
            for (int c = 0; c < TN; c++) {
                sacc_t s = HSUM(acc[r][c]);
                for (int q = 0; q < tl; q++) s = MADD(at[r][q], bt[c][q], s);
                sum[r][c] += s;
            }
    }
    UNROLL
    for (int r = 0; r < TM; r++) {
        if (i0 + r >= M) break;
        UNROLL
        for (int c = 0; c < TN; c++) {
            if (j0 + c >= N) break;
            const long ci = c0 + (long)(i0 + r) * ldc + j0 + c;
            STF(epi1((float)sum[r][c], i0 + r, j0 + c, ci, alpha, beta, C, bias, bias_off, bias_mode,
                     relu),
                C, ci);
        }
    }
}
#endif

/* ---- cl16_gemm_lmem ----------------------------------------------------------- */
#if TM <= 8 && TN <= 8
#define BM (WGY * TM)
#define BN (WGX * TN)
__kernel __attribute__((reqd_work_group_size(WGX, WGY, 1))) void cl16_gemm_lmem(GEMM_ARGS) {
    __local sacc_t As[KT][BM];
    __local sacc_t Bs[KT][BN];
    const int lx = (int)get_local_id(0), ly = (int)get_local_id(1);
    const int lid = ly * WGX + lx;
    const int gi = (int)get_group_id(1) * BM, gj = (int)get_group_id(0) * BN;
    const long g = (long)get_global_id(2);
    const long a0 = a_off + g * a_str, b0 = b_off + g * b_str, c0 = c_off + g * c_str;
    sacc_t acc[TM][TN];
    UNROLL
    for (int r = 0; r < TM; r++)
        UNROLL
        for (int c = 0; c < TN; c++) acc[r][c] = 0;
    for (int red = 0; red < nred; red++) {
        const long ao = a0 + red * a_str, bo = b0 + red * b_str;
        for (int k0 = 0; k0 < K; k0 += KT) {
            barrier(CLK_LOCAL_MEM_FENCE);
            /* Cooperative loads, consecutive work-items on consecutive addresses. */
            for (int idx = lid; idx < BM * KT; idx += WGX * WGY) {
#if TRANS_A
                const int p = idx / BM, r = idx % BM;
#else
                const int r = idx / KT, p = idx % KT;
#endif
                const int i = gi + r, kk = k0 + p;
                As[p][r] = (i < M && kk < K) ? A_AT(ao, i, kk) : (sacc_t)0;
            }
            for (int idx = lid; idx < BN * KT; idx += WGX * WGY) {
#if TRANS_B
                const int c = idx / KT, p = idx % KT;
#else
                const int p = idx / BN, c = idx % BN;
#endif
                const int j = gj + c, kk = k0 + p;
                Bs[p][c] = (j < N && kk < K) ? B_AT(bo, kk, j) : (sacc_t)0;
            }
            barrier(CLK_LOCAL_MEM_FENCE);
            for (int p = 0; p < KT; p++) {
                sacc_t a[TM], b[TN];
                UNROLL
                for (int r = 0; r < TM; r++) a[r] = As[p][ly + r * WGY];
                UNROLL
                for (int c = 0; c < TN; c++) b[c] = Bs[p][lx + c * WGX];
                UNROLL
                for (int r = 0; r < TM; r++)
                    UNROLL
                    for (int c = 0; c < TN; c++) acc[r][c] = MADD(a[r], b[c], acc[r][c]);
            }
        }
    }
    UNROLL
    for (int r = 0; r < TM; r++) {
        const int i = gi + ly + r * WGY;
        if (i >= M) break;
        UNROLL
        for (int c = 0; c < TN; c++) {
            const int j = gj + lx + c * WGX;
            if (j >= N) break;
            const long ci = c0 + (long)i * ldc + j;
            STF(epi1((float)acc[r][c], i, j, ci, alpha, beta, C, bias, bias_off, bias_mode, relu), C,
                ci);
        }
    }
}
#endif

/* ---- cl16_gemm_epilogue --------------------------------------------------------
 * C = act(C + bias) over an M x N view per batch entry: the epilogue for GEMMs
 * run by another backend (CLBlast). */
__kernel void cl16_gemm_epilogue(const int M, const int N, __global store_t *C, const long c_off,
                                 const long ldc, const long c_str, __global const store_t *bias,
                                 const long bias_off, const int bias_mode, const int relu) {
    const int j = (int)get_global_id(0), i = (int)get_global_id(1);
    if (i >= M || j >= N) return;
    const long ci = c_off + (long)get_global_id(2) * c_str + (long)i * ldc + j;
    STF(epi1(LDF(C, ci), i, j, ci, 1.0f, 0.0f, C, bias, bias_off, bias_mode, relu), C, ci);
}

/* ---- cl16_gemm_panel -----------------------------------------------------------
 * dst_g = op(src_g) (rows x cols) in column panels of tn (PANEL_B's layout:
 * element (r, c) at ((c / tn) * rows + r) * tn + c % tn, zeros in the last
 * panel's columns past cols), entry stride rows * ceil(cols / tn) * tn. The
 * dtype's bits are moved, not converted. Work-item (x, r, g) writes panel
 * x's row r. */
#if CL16_DTYPE == 0
typedef float panel_t;
#else
typedef ushort panel_t;
#endif
__kernel void cl16_gemm_panel(const int rows, const int cols, const int trans, const int tn,
                              __global const panel_t *src, const long src_off, const long ld,
                              const long src_str, __global panel_t *dst, const long dst_off) {
    const int t = (int)get_global_id(0), r = (int)get_global_id(1);
    const long g = (long)get_global_id(2);
    const int npan = (cols + tn - 1) / tn;
    if (t >= npan || r >= rows) return;
    const long s0 = src_off + g * src_str;
    __global panel_t *d = dst + dst_off + g * (long)rows * npan * tn + ((long)t * rows + r) * tn;
    const int c0 = t * tn, n = min(tn, cols - c0);
    if (trans)
        for (int c = 0; c < n; c++) d[c] = src[s0 + (long)(c0 + c) * ld + r];
    else
        for (int c = 0; c < n; c++) d[c] = src[s0 + (long)r * ld + c0 + c];
    for (int c = n; c < tn; c++) d[c] = 0;
}

/* ---- cl16_gemm_pack ------------------------------------------------------------
 * dst_g = float(op(src_g)) for the rows x cols matrix op(src) (trans: src is
 * stored cols x rows), packed row-major, entry stride rows*cols. The GEMM then
 * runs its NN path on float operands (AB_FLOAT): no transposed reads, and on
 * the storage path each half is converted once instead of once per use.
 * Work-item (x, r, g) writes columns 16x .. 16x+15 of row r. */
#if CL16_DTYPE == 0
#define PACK_LD(p, i) ((p)[i])
#elif CL16_HALF_NATIVE && CL16_DTYPE == 1
#define PACK_LD(p, i) vload_half(0, (p) + (i))
#else
#define PACK_LD(p, i) LD((p), (i))
#endif
__kernel void cl16_gemm_pack(const int rows, const int cols, const int trans,
                             __global const store_t *src, const long src_off, const long ld,
                             const long src_str, __global float *dst, const long dst_off) {
    const int c0 = (int)get_global_id(0) * 16, r = (int)get_global_id(1);
    const long g = (long)get_global_id(2);
    if (c0 >= cols || r >= rows) return;
    const long s0 = src_off + g * src_str;
    __global float *d = dst + dst_off + g * (long)rows * cols + (long)r * cols;
    const int ce = min(c0 + 16, cols);
    if (trans)
        for (int c = c0; c < ce; c++) d[c] = PACK_LD(src, s0 + (long)c * ld + r);
    else
        for (int c = c0; c < ce; c++) d[c] = PACK_LD(src, s0 + (long)r * ld + c);
}
