/* test_gemm_errors.c - every way a caller can get a GEMM wrong is refused with
 * the right status and a message naming the argument, and nothing runs: C
 * keeps its bytes and the context's GEMM count does not move. */
#include "gemm_check.h"

static cl16_ctx *ctx, *other;
static cl16_tensor *watched[8];
static unsigned char *watched_bytes[8];
static int n_watched;

static void watch(cl16_tensor *t) {
    size_t bytes = cl16_tensor_bytes(t);
    watched[n_watched] = t;
    watched_bytes[n_watched] = malloc(bytes);
    CHECK_OK(ctx, cl16_tensor_read_raw(t, watched_bytes[n_watched], bytes));
    n_watched++;
}

#define S_SHAPE (1u << CL16_ERR_SHAPE)
#define S_INVAL (1u << CL16_ERR_INVALID_ARG)
#define S_UNSUP (1u << CL16_ERR_UNSUPPORTED)

/* Checks a refused call: status in `allowed`, the detail mentions one of the
 * '|'-separated alternatives of each of need1 and need2 (NULL: no check), no
 * GEMM counted, every watched tensor unchanged. */
static void refused(cl16_ctx *on, unsigned allowed, const char *need1, const char *need2, cl16_status rc,
                    uint64_t calls_before, const char *expr, int line) {
    const char *msg = cl16_ctx_last_error(on);
    cl16_ctx_stats st;
    cl16_ctx_stats_get(on, &st);
    if (rc == CL16_OK || !(allowed & (1u << rc))) {
        fprintf(stderr, "line %d: %s -> %s (%s)\n", line, expr, cl16_status_str(rc), msg);
        check_failures++;
    }
    if ((need1 && !gc_mentions(msg, need1)) || (need2 && !gc_mentions(msg, need2))) {
        fprintf(stderr, "line %d: %s: detail \"%s\" does not name %s%s%s\n", line, expr, msg, need1,
                need2 ? " / " : "", need2 ? need2 : "");
        check_failures++;
    }
    if (st.gemm_calls != calls_before) {
        fprintf(stderr, "line %d: %s: a GEMM was counted although the call failed\n", line, expr);
        check_failures++;
    }
    for (int i = 0; i < n_watched; i++) {
        size_t bytes = cl16_tensor_bytes(watched[i]);
        unsigned char *now = malloc(bytes);
        CHECK_OK(ctx, cl16_tensor_read_raw(watched[i], now, bytes));
        if (memcmp(now, watched_bytes[i], bytes)) {
            fprintf(stderr, "line %d: %s: output tensor %d changed although the call failed\n", line, expr, i);
            check_failures++;
        }
        free(now);
    }
}

static uint64_t calls(cl16_ctx *on) {
    cl16_ctx_stats st;
    cl16_ctx_stats_get(on, &st);
    return st.gemm_calls;
}

#define REFUSED_ON(on, allowed, need1, need2, expr)                                    \
    do {                                                                               \
        uint64_t before_ = calls(on);                                                  \
        cl16_status rc_ = (expr);                                                      \
        refused(on, allowed, need1, need2, rc_, before_, #expr, __LINE__);             \
    } while (0)
#define REFUSED(allowed, need1, need2, expr) REFUSED_ON(ctx, allowed, need1, need2, expr)

/* A descriptor refused by cl16_gemm_ex. */
#define REFUSED_EX(allowed, need1, need2, desc)                                        \
    do {                                                                               \
        cl16_gemm_desc dd_ = (desc);                                                   \
        REFUSED(allowed, need1, need2, cl16_gemm_ex(ctx, &dd_));                       \
    } while (0)

static cl16_tensor *tensor(cl16_ctx *on, cl16_dtype dt, int64_t d0, int64_t d1, float fill) {
    int64_t dims[2] = {d0, d1};
    cl16_tensor *t = NULL;
    CHECK_OK(on, cl16_tensor_create(on, dt, d1 ? 2 : 1, dims, &t));
    if (!t) exit(1);
    CHECK_OK(on, cl16_tensor_fill(t, fill));
    return t;
}

int main(void) {
    ctx = test_ctx(getenv("CL16_CACHE_DIR"));
    other = test_ctx(NULL);
    const int native = cl16_ctx_half_path(ctx) == CL16_HALF_NATIVE;
    const int64_t M = 4, N = 6, K = 5;
    /* A 4x5, B 5x6, C 4x6 (f32); At 5x4, Bt 6x5 for the transposed forms. */
    cl16_tensor *A = tensor(ctx, CL16_F32, M, K, 0.5f), *B = tensor(ctx, CL16_F32, K, N, 0.25f);
    cl16_tensor *C = tensor(ctx, CL16_F32, M, N, 3.0f);
    cl16_tensor *At = tensor(ctx, CL16_F32, K, M, 0.5f), *Bt = tensor(ctx, CL16_F32, N, K, 0.25f);
    cl16_tensor *Ah = tensor(ctx, CL16_F16, M, K, 0.5f), *Bh = tensor(ctx, CL16_F16, K, N, 0.25f);
    cl16_tensor *Ch = tensor(ctx, CL16_F16, M, N, 3.0f);
    cl16_tensor *Cbig = tensor(ctx, CL16_F32, 64, 0, 7.0f); /* room for 2 C views of 24 + slack */
    cl16_tensor *biasM = tensor(ctx, CL16_F32, M, 0, 1.0f), *biasN = tensor(ctx, CL16_F32, N, 0, 1.0f);
    cl16_tensor *biasNh = tensor(ctx, CL16_F16, N, 0, 1.0f);
    cl16_tensor *Ao = tensor(other, CL16_F32, M, K, 0.5f), *Bo = tensor(other, CL16_F32, K, N, 0.5f);
    cl16_tensor *Co = tensor(other, CL16_F32, M, N, 0.5f), *biasNo = tensor(other, CL16_F32, N, 0, 1.0f);

    /* The valid calls these cases are variations of; they must run. */
    CHECK_OK(ctx, cl16_gemm(ctx, 0, 0, M, N, K, 1, A, K, B, N, 0, C, N));
    CHECK_OK(ctx, cl16_gemm(ctx, 1, 1, M, N, K, 1, At, M, Bt, K, 0, C, N));
    CHECK_OK(ctx, cl16_tensor_fill(C, 3.0f));
    watch(C), watch(Ch), watch(Cbig);

    /* ---- cl16_gemm ---- */
    REFUSED(S_INVAL, "tensor A", NULL, cl16_gemm(ctx, 0, 0, M, N, K, 1, NULL, K, B, N, 0, C, N));
    REFUSED(S_INVAL, "tensor B", NULL, cl16_gemm(ctx, 0, 0, M, N, K, 1, A, K, NULL, N, 0, C, N));
    REFUSED(S_INVAL, "tensor C", NULL, cl16_gemm(ctx, 0, 0, M, N, K, 1, A, K, B, N, 0, NULL, N));
    const char *mname = "M=|M =|M is|M must|M (", *nname = "N=|N =|N is|N must|N (";
    const char *kname = "K=|K =|K is|K must|K (";
    REFUSED(S_SHAPE | S_INVAL, mname, NULL, cl16_gemm(ctx, 0, 0, 0, N, K, 1, A, K, B, N, 0, C, N));
    REFUSED(S_SHAPE | S_INVAL, mname, NULL, cl16_gemm(ctx, 0, 0, -3, N, K, 1, A, K, B, N, 0, C, N));
    REFUSED(S_SHAPE | S_INVAL, nname, NULL, cl16_gemm(ctx, 0, 0, M, 0, K, 1, A, K, B, N, 0, C, N));
    REFUSED(S_SHAPE | S_INVAL, kname, NULL, cl16_gemm(ctx, 0, 0, M, N, 0, 1, A, K, B, N, 0, C, N));
    /* ld smaller than the stored columns: K for A, M for A^T (K x M stored). */
    REFUSED(S_SHAPE, "lda", NULL, cl16_gemm(ctx, 0, 0, M, N, K, 1, A, K - 1, B, N, 0, C, N));
    REFUSED(S_SHAPE, "lda", NULL, cl16_gemm(ctx, 0, 0, M, N, K, 1, A, 0, B, N, 0, C, N));
    REFUSED(S_SHAPE, "lda", NULL, cl16_gemm(ctx, 1, 0, M, N, K, 1, At, M - 1, B, N, 0, C, N));
    REFUSED(S_SHAPE, "ldb", NULL, cl16_gemm(ctx, 0, 0, M, N, K, 1, A, K, B, N - 1, 0, C, N));
    REFUSED(S_SHAPE, "ldb", NULL, cl16_gemm(ctx, 0, 1, M, N, K, 1, A, K, Bt, K - 1, 0, C, N));
    REFUSED(S_SHAPE, "ldc", NULL, cl16_gemm(ctx, 0, 0, M, N, K, 1, A, K, B, N, 0, C, N - 1));
    /* Tensor too small for the view (shapes that do not fit together). */
    REFUSED(S_SHAPE, "tensor A", NULL, cl16_gemm(ctx, 0, 0, M, N, K + 1, 1, A, K + 1, Cbig, N, 0, C, N));
    REFUSED(S_SHAPE, "tensor A", NULL, cl16_gemm(ctx, 1, 0, M, N, K + 1, 1, A, M, Cbig, N, 0, C, N));
    REFUSED(S_SHAPE, "tensor A", NULL, cl16_gemm(ctx, 0, 0, M, N, K, 1, A, K + 1, B, N, 0, C, N));
    REFUSED(S_SHAPE, "tensor B", NULL, cl16_gemm(ctx, 0, 0, M, N + 1, K, 1, A, K, B, N + 1, 0, Cbig, N + 1));
    REFUSED(S_SHAPE, "tensor B", NULL, cl16_gemm(ctx, 0, 1, M, N, K, 1, A, K, B, K + 1, 0, C, N));
    REFUSED(S_SHAPE, "tensor C", NULL, cl16_gemm(ctx, 0, 0, M, N, K, 1, A, K, B, N, 0, C, N + 1));
    REFUSED(S_SHAPE, "tensor C", NULL, cl16_gemm(ctx, 0, 0, M, N - 1, K, 1, A, K, B, N, 0, C, N + 2));
    /* Mixed dtypes. */
    REFUSED(S_SHAPE, "dtype", NULL, cl16_gemm(ctx, 0, 0, M, N, K, 1, Ah, K, B, N, 0, C, N));
    REFUSED(S_SHAPE, "dtype", NULL, cl16_gemm(ctx, 0, 0, M, N, K, 1, A, K, Bh, N, 0, C, N));
    REFUSED(S_SHAPE, "dtype", NULL, cl16_gemm(ctx, 0, 0, M, N, K, 1, A, K, B, N, 0, Ch, N));
    REFUSED(S_SHAPE, "dtype", NULL, cl16_gemm(ctx, 0, 0, M, N, K, 1, Ah, K, Bh, N, 0, C, N));
    /* Tensors of another context, on either side. */
    REFUSED(S_INVAL, "context", "tensor A", cl16_gemm(ctx, 0, 0, M, N, K, 1, Ao, K, B, N, 0, C, N));
    REFUSED(S_INVAL, "context", "tensor B", cl16_gemm(ctx, 0, 0, M, N, K, 1, A, K, Bo, N, 0, C, N));
    REFUSED(S_INVAL, "context", "tensor C", cl16_gemm(ctx, 0, 0, M, N, K, 1, A, K, B, N, 0, Co, N));
    REFUSED_ON(other, S_INVAL, "context", "tensor A", cl16_gemm(other, 0, 0, M, N, K, 1, A, K, Bo, N, 0, Co, N));

    /* ---- cl16_gemm_ex ---- */
    cl16_gemm_desc base;
    cl16_gemm_desc_init(&base);
    base.m = M, base.n = N, base.k = K;
    base.a = A, base.lda = K, base.b = B, base.ldb = N, base.c = C, base.ldc = N;
    CHECK_OK(ctx, cl16_gemm_ex(ctx, &base));
    CHECK_OK(ctx, cl16_tensor_fill(C, 3.0f));
    cl16_gemm_desc d;
    REFUSED(S_INVAL, "desc|descriptor|NULL", NULL, cl16_gemm_ex(ctx, NULL));
#define WITH(stmt) (d = base, stmt, d)
    REFUSED_EX(S_INVAL, "tensor A", NULL, WITH(d.a = NULL));
    REFUSED_EX(S_INVAL, "tensor C", NULL, WITH(d.c = NULL));
    REFUSED_EX(S_SHAPE | S_INVAL, "batch", NULL, WITH(d.batch = 0));
    REFUSED_EX(S_SHAPE | S_INVAL, "batch", NULL, WITH(d.batch = -2));
    REFUSED_EX(S_SHAPE | S_INVAL, mname, NULL, WITH(d.m = 0));
    REFUSED_EX(S_SHAPE, "lda", NULL, WITH(d.lda = K - 1));
    REFUSED_EX(S_SHAPE, "ldb", NULL, WITH((d.trans_b = 1, d.b = Bt, d.ldb = K - 1)));
    REFUSED_EX(S_SHAPE, "ldc", NULL, WITH(d.ldc = N - 1));
    /* Offsets and batch strides that leave the tensor, or are negative. */
    REFUSED_EX(S_SHAPE, "tensor A|a_offset", NULL, WITH(d.a_offset = 1));
    REFUSED_EX(S_SHAPE | S_INVAL, "a_offset|tensor A|offset", NULL, WITH(d.a_offset = -1));
    REFUSED_EX(S_SHAPE, "tensor B|b_offset", NULL, WITH(d.b_offset = 3));
    REFUSED_EX(S_SHAPE, "tensor C|c_offset", NULL, WITH(d.c_offset = 1));
    REFUSED_EX(S_SHAPE | S_INVAL, "c_offset|tensor C|offset", NULL, WITH(d.c_offset = -6));
    /* batch 2: A shared (stride 0) is fine, but a stride that leaves A is not. */
    REFUSED_EX(S_SHAPE, "tensor A|a_stride", NULL,
               WITH((d.batch = 2, d.a_stride = 1, d.b_stride = 0, d.c = Cbig, d.c_stride = 24)));
    REFUSED_EX(S_SHAPE, "tensor B|b_stride", NULL,
               WITH((d.batch = 2, d.b_stride = 30, d.c = Cbig, d.c_stride = 24)));
    REFUSED_EX(S_SHAPE | S_INVAL, "b_stride|tensor B|stride", NULL,
               WITH((d.batch = 2, d.b_stride = -1, d.c = Cbig, d.c_stride = 24)));
    REFUSED_EX(S_SHAPE, "tensor C|c_stride", NULL,
               WITH((d.batch = 2, d.c = Cbig, d.c_offset = 20, d.c_stride = 24)));
    REFUSED_EX(S_SHAPE, "tensor C|c_stride", NULL,
               WITH((d.batch = 3, d.c = Cbig, d.c_stride = 24)));
    /* Overlapping C views: 0 < c_stride < the 24-element view. */
    REFUSED_EX(S_SHAPE | S_INVAL, "c_stride|overlap", NULL, WITH((d.batch = 2, d.c = Cbig, d.c_stride = 1)));
    REFUSED_EX(S_SHAPE | S_INVAL, "c_stride|overlap", NULL, WITH((d.batch = 2, d.c = Cbig, d.c_stride = 23)));
    REFUSED_EX(S_SHAPE | S_INVAL, "c_stride|overlap", NULL,
               WITH((d.batch = 2, d.c = Cbig, d.ldc = 8, d.c_stride = 20))); /* view spans 3*8+6 = 30 */
    /* Mixed dtypes and other contexts in the descriptor. */
    REFUSED_EX(S_SHAPE, "dtype", NULL, WITH(d.b = Bh));
    REFUSED_EX(S_INVAL, "context", "tensor B", WITH(d.b = Bo));
    /* Bias: wrong length (ROW wants M, COL wants N), past its end through the
     * offset, wrong dtype, missing, from another context; bad enum values. */
    REFUSED_EX(S_SHAPE, "bias", NULL, WITH((d.bias_mode = CL16_BIAS_COL, d.bias = biasM)));
    REFUSED_EX(S_SHAPE, "bias", NULL, WITH((d.bias_mode = CL16_BIAS_COL, d.bias = biasN, d.bias_offset = 1)));
    REFUSED_EX(S_SHAPE | S_INVAL, "bias", NULL, WITH((d.bias_mode = CL16_BIAS_COL, d.bias = biasN, d.bias_offset = -1)));
    REFUSED_EX(S_SHAPE, "bias", "dtype|f16", WITH((d.bias_mode = CL16_BIAS_COL, d.bias = biasNh)));
    REFUSED_EX(S_INVAL, "bias", NULL, WITH(d.bias_mode = CL16_BIAS_ROW));
    REFUSED_EX(S_INVAL, "bias", NULL, WITH(d.bias_mode = CL16_BIAS_COL));
    REFUSED_EX(S_INVAL, "bias", "context", WITH((d.bias_mode = CL16_BIAS_COL, d.bias = biasNo)));
    REFUSED_EX(S_INVAL, "bias_mode|bias mode", NULL, WITH((d.bias_mode = (cl16_bias_mode)7, d.bias = biasN)));
    /* A bias with bias_mode NONE would be silently ignored: the header says it must be NULL. */
    REFUSED_EX(S_INVAL, "bias", NULL, WITH(d.bias = biasN));
    REFUSED_EX(S_INVAL, "activation", NULL, WITH(d.activation = (cl16_activation)9));
    REFUSED_EX(S_INVAL, "accumulate", NULL, WITH(d.accumulate = (cl16_accumulate)4));
    /* Half accumulation of f32 tensors means nothing. */
    REFUSED_EX(S_INVAL | S_SHAPE | S_UNSUP, "accumulate|half", NULL, WITH(d.accumulate = CL16_ACC_HALF));
    REFUSED_EX(S_INVAL, "backend", NULL, WITH(d.backend = (cl16_gemm_backend)5));
    /* Bias ROW of the right length M = 4 (shorter than N) is fine. */
    d = base, d.bias_mode = CL16_BIAS_ROW, d.bias = biasM;
    CHECK_OK(ctx, cl16_gemm_ex(ctx, &d));
    CHECK_OK(ctx, cl16_tensor_fill(C, 3.0f));

    /* C written over A's elements while the kernel reads them; the same
     * tensor holding A and C side by side is fine. */
    REFUSED_EX(S_INVAL | S_SHAPE, "overlap", NULL, WITH((d.c = Cbig, d.a = Cbig, d.c_offset = 10)));
    REFUSED_EX(S_INVAL | S_SHAPE, "overlap", NULL, WITH((d.c = Cbig, d.b = Cbig, d.b_offset = 10)));
    {
        float one[64], got[64];
        for (int i = 0; i < 64; i++) one[i] = i < 20 ? 0.5f : 9.0f;
        cl16_tensor *AC = tensor(ctx, CL16_F32, 64, 0, 0.0f);
        CHECK_OK(ctx, cl16_tensor_write_f32(AC, one, 64));
        d = base, d.a = AC, d.c = AC, d.c_offset = 20;
        CHECK_OK(ctx, cl16_gemm_ex(ctx, &d));
        CHECK_OK(ctx, cl16_tensor_read_f32(AC, got, 64));
        for (int i = 0; i < 64; i++)
            CHECK_MSG(got[i] == (i >= 20 && i < 44 ? 0.625f : one[i]), "A and C in one tensor: [%d] = %g", i, got[i]);
        cl16_tensor_free(AC);
    }

    /* Half accumulation: the storage path cannot sum in half. */
    cl16_gemm_desc dh = base;
    dh.a = Ah, dh.b = Bh, dh.c = Ch, dh.accumulate = CL16_ACC_HALF;
    if (!native) REFUSED_EX(S_UNSUP, "half", NULL, dh);
    /* CLBlast refuses half where the device does not report cl_khr_fp16. */
    dh.accumulate = CL16_ACC_FLOAT, dh.backend = CL16_GEMM_CLBLAST;
    if (!cl16_ctx_device(ctx)->has_fp16_ext) REFUSED_EX(S_UNSUP, "clblast", "half|f16|fp16", dh);

    /* ---- cl16_gemm_strided_batched ---- */
    REFUSED(S_SHAPE | S_INVAL, "batch", NULL,
            cl16_gemm_strided_batched(ctx, 0, 0, M, N, K, 1, A, 0, K, 0, B, 0, N, 0, 0, C, 0, N, 24, 0));
    REFUSED(S_SHAPE, "lda", NULL,
            cl16_gemm_strided_batched(ctx, 0, 0, M, N, K, 1, A, 0, 2, 0, B, 0, N, 0, 0, Cbig, 0, N, 24, 2));
    REFUSED(S_SHAPE, "tensor A|a_stride", NULL,
            cl16_gemm_strided_batched(ctx, 0, 0, M, N, K, 1, A, 0, K, 20, B, 0, N, 0, 0, Cbig, 0, N, 24, 2));
    REFUSED(S_SHAPE | S_INVAL, "c_stride|overlap", NULL,
            cl16_gemm_strided_batched(ctx, 0, 0, M, N, K, 1, A, 0, K, 0, B, 0, N, 0, 0, Cbig, 0, N, 12, 2));
    REFUSED(S_SHAPE, "dtype", NULL,
            cl16_gemm_strided_batched(ctx, 0, 0, M, N, K, 1, A, 0, K, 0, B, 0, N, 0, 0, Ch, 0, N, 0, 1));
    REFUSED(S_INVAL, "context", "tensor C",
            cl16_gemm_strided_batched(ctx, 0, 0, M, N, K, 1, A, 0, K, 0, B, 0, N, 0, 0, Co, 0, N, 0, 1));

    /* Still usable after all that. */
    float out[24];
    CHECK_OK(ctx, cl16_gemm(ctx, 0, 0, M, N, K, 1, A, K, B, N, 0, C, N));
    CHECK_OK(ctx, cl16_tensor_read_f32(C, out, 24));
    for (int i = 0; i < 24; i++) CHECK(out[i] == 0.625f);

    cl16_tensor *all[] = {A, B, C, At, Bt, Ah, Bh, Ch, Cbig, biasM, biasN, biasNh};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) cl16_tensor_free(all[i]);
    cl16_tensor_free(Ao), cl16_tensor_free(Bo), cl16_tensor_free(Co), cl16_tensor_free(biasNo);
    for (int i = 0; i < n_watched; i++) free(watched_bytes[i]);
    cl16_ctx_free(other);
    cl16_ctx_free(ctx);
    return check_done("test_gemm_errors");
}
