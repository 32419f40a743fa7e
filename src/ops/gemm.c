/* gemm.c - cl16_gemm and its descriptor form: validates the views, picks the
 * backend and kernel parameters for the shape class, and enqueues the GEMM
 * (cl16's kernels in kernels/gemm.cl, or CLBlast plus the epilogue kernel).
 * Nothing is launched unless every argument is consistent. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "runtime/internal.h"

void cl16_gemm_desc_init(cl16_gemm_desc *d) {
    if (!d) return;
    memset(d, 0, sizeof *d);
    d->batch = 1;
    d->alpha = 1.0f;
}

/* Last element (exclusive) a batch of rows x cols views with row stride ld
 * touches, starting at off, entries stride apart. */
static int64_t view_end(int64_t off, int64_t batch, int64_t stride, int64_t rows, int64_t cols,
                        int64_t ld) {
    return off + (batch - 1) * stride + (rows - 1) * ld + cols;
}

/* Checks that a batch of rows x cols views of tensor t fits in it. */
static cl16_status check_view(cl16_ctx *ctx, const char *name, const cl16_tensor *t, int64_t rows,
                              int64_t cols, int64_t off, int64_t ld, int64_t stride,
                              int64_t batch) {
    if (!t) return cl16__fail(ctx, CL16_ERR_INVALID_ARG, "gemm: tensor %s is NULL", name);
    if (t->ctx != ctx)
        return cl16__fail(ctx, CL16_ERR_INVALID_ARG, "gemm: tensor %s belongs to another context", name);
    if (ld < cols || ld < 1)
        return cl16__fail(ctx, CL16_ERR_SHAPE,
                          "gemm: ld%s = %" PRId64 " is smaller than its %" PRId64 " columns", name, ld,
                          cols);
    if (off < 0 || stride < 0)
        return cl16__fail(ctx, CL16_ERR_SHAPE,
                          "gemm: tensor %s has a negative offset (%" PRId64 ") or batch stride (%" PRId64 ")",
                          name, off, stride);
    int64_t need = view_end(off, batch, stride, rows, cols, ld);
    if (need > t->numel)
        return cl16__fail(ctx, CL16_ERR_SHAPE,
                          "gemm: tensor %s holds %" PRId64 " elements; %" PRId64 " view(s) of %" PRId64
                          "x%" PRId64 " (ld %" PRId64 ", offset %" PRId64 ", stride %" PRId64
                          ") need %" PRId64,
                          name, t->numel, batch, rows, cols, ld, off, stride, need);
    return CL16_OK;
}

/* 1 when element ranges [a0, a1) and [b0, b1) of one buffer intersect. */
static int ranges_meet(int64_t a0, int64_t a1, int64_t b0, int64_t b1) { return a0 < b1 && b0 < a1; }

cl16_status cl16__gemm_validate(cl16_ctx *ctx, const cl16_gemm_desc *d) {
    if (!ctx) return CL16_ERR_INVALID_ARG;
    if (ctx->init_status) return ctx->init_status;
    if (!d) return cl16__fail(ctx, CL16_ERR_INVALID_ARG, "gemm: descriptor is NULL");
    const int64_t m = d->m, n = d->n, k = d->k;
    if (m < 1 || n < 1 || k < 1 || m > INT32_MAX || n > INT32_MAX || k > INT32_MAX)
        return cl16__fail(ctx, CL16_ERR_SHAPE,
                          "gemm: M=%" PRId64 " N=%" PRId64 " K=%" PRId64 " (each must be 1..2^31-1)",
                          m, n, k);
    if (d->batch < 1 || d->batch > INT32_MAX)
        return cl16__fail(ctx, CL16_ERR_SHAPE, "gemm: batch = %" PRId64 " (must be 1..2^31-1)", d->batch);
    const int reduce = d->batch > 1 && d->c_stride == 0;
    cl16_status s;
    /* Stored shapes: A is M x K (K x M if transposed), B is K x N (N x K). */
    if ((s = check_view(ctx, "A", d->a, d->trans_a ? k : m, d->trans_a ? m : k, d->a_offset, d->lda,
                        d->a_stride, d->batch)))
        return s;
    if ((s = check_view(ctx, "B", d->b, d->trans_b ? n : k, d->trans_b ? k : n, d->b_offset, d->ldb,
                        d->b_stride, d->batch)))
        return s;
    if ((s = check_view(ctx, "C", d->c, m, n, d->c_offset, d->ldc, d->c_stride, reduce ? 1 : d->batch)))
        return s;
    if (d->c->dtype == CL16_I32)
        return cl16__fail(ctx, CL16_ERR_SHAPE, "gemm: tensor C is i32; GEMM takes f16 or f32");
    if (d->a->dtype != d->c->dtype || d->b->dtype != d->c->dtype)
        return cl16__fail(ctx, CL16_ERR_SHAPE, "gemm: mixed dtypes A=%s B=%s C=%s",
                          cl16_dtype_name(d->a->dtype), cl16_dtype_name(d->b->dtype),
                          cl16_dtype_name(d->c->dtype));
    /* The C views of different batch entries must be disjoint: one after the
     * other, or side by side within the rows. */
    if (d->batch > 1 && !reduce) {
        int after = d->c_stride >= (m - 1) * d->ldc + n;
        int side = d->c_stride >= n && (d->batch - 1) * d->c_stride + n <= d->ldc;
        if (!after && !side)
            return cl16__fail(ctx, CL16_ERR_SHAPE,
                              "gemm: the C views of the batch overlap (c_stride %" PRId64
                              ", ldc %" PRId64 ", %" PRId64 "x%" PRId64 ")",
                              d->c_stride, d->ldc, m, n);
    }
    /* C must not overlap A or B (the kernel reads them while writing C). */
    int64_t c0 = d->c_offset, c1 = view_end(c0, reduce ? 1 : d->batch, d->c_stride, m, n, d->ldc);
    const cl16_tensor *in[2] = {d->a, d->b};
    const int64_t in0[2] = {d->a_offset, d->b_offset};
    const int64_t in1[2] = {view_end(d->a_offset, d->batch, d->a_stride, d->trans_a ? k : m,
                                     d->trans_a ? m : k, d->lda),
                            view_end(d->b_offset, d->batch, d->b_stride, d->trans_b ? n : k,
                                     d->trans_b ? k : n, d->ldb)};
    for (int i = 0; i < 2; i++)
        if (in[i]->mem == d->c->mem && ranges_meet(in0[i], in1[i], c0, c1))
            return cl16__fail(ctx, CL16_ERR_INVALID_ARG, "gemm: C overlaps tensor %s", i ? "B" : "A");

    switch (d->bias_mode) {
    case CL16_BIAS_NONE:
        if (d->bias)
            return cl16__fail(ctx, CL16_ERR_INVALID_ARG,
                              "gemm: a bias tensor is given but bias_mode is NONE");
        break;
    case CL16_BIAS_ROW:
    case CL16_BIAS_COL: {
        const int64_t len = d->bias_mode == CL16_BIAS_ROW ? m : n;
        if (!d->bias)
            return cl16__fail(ctx, CL16_ERR_INVALID_ARG, "gemm: bias_mode is %s but the bias is NULL",
                              d->bias_mode == CL16_BIAS_ROW ? "ROW" : "COL");
        if (d->bias->ctx != ctx)
            return cl16__fail(ctx, CL16_ERR_INVALID_ARG, "gemm: the bias belongs to another context");
        if (d->bias->dtype != d->c->dtype)
            return cl16__fail(ctx, CL16_ERR_SHAPE, "gemm: bias is %s, C is %s",
                              cl16_dtype_name(d->bias->dtype), cl16_dtype_name(d->c->dtype));
        if (d->bias_offset < 0 || d->bias_offset + len > d->bias->numel)
            return cl16__fail(ctx, CL16_ERR_SHAPE,
                              "gemm: bias holds %" PRId64 " elements; %" PRId64
                              " from offset %" PRId64 " are needed (one per %s)",
                              d->bias->numel, len, d->bias_offset,
                              d->bias_mode == CL16_BIAS_ROW ? "row of C" : "column of C");
        if (d->bias->mem == d->c->mem && ranges_meet(d->bias_offset, d->bias_offset + len, c0, c1))
            return cl16__fail(ctx, CL16_ERR_INVALID_ARG, "gemm: C overlaps the bias");
        break;
    }
    default:
        return cl16__fail(ctx, CL16_ERR_INVALID_ARG, "gemm: bias_mode %d is not a cl16_bias_mode",
                          (int)d->bias_mode);
    }
    if (d->activation != CL16_ACT_NONE && d->activation != CL16_ACT_RELU)
        return cl16__fail(ctx, CL16_ERR_INVALID_ARG, "gemm: activation %d is not a cl16_activation",
                          (int)d->activation);
    if (d->backend != CL16_GEMM_AUTO && d->backend != CL16_GEMM_OWN && d->backend != CL16_GEMM_CLBLAST)
        return cl16__fail(ctx, CL16_ERR_INVALID_ARG, "gemm: backend %d is not a cl16_gemm_backend",
                          (int)d->backend);
    if (d->accumulate == CL16_ACC_HALF) {
        if (d->c->dtype != CL16_F16)
            return cl16__fail(ctx, CL16_ERR_INVALID_ARG,
                              "gemm: half accumulation needs f16 tensors (C is %s)",
                              cl16_dtype_name(d->c->dtype));
        if (ctx->half != CL16_HALF_NATIVE)
            return cl16__fail(ctx, CL16_ERR_UNSUPPORTED,
                              "gemm: half accumulation needs the native-half path; device '%s' "
                              "runs the storage path (half in memory, float arithmetic)",
                              ctx->dev.name);
        /* The half-accumulating kernel computes on half vectors: not where
         * the compiler lacks them (cl16__half_vectors, the NVIDIA quirk). */
        if (!cl16__half_vectors(ctx))
            return cl16__fail(ctx, CL16_ERR_UNSUPPORTED,
                              "gemm: half accumulation needs cl_khr_fp16's half-vector built-ins, "
                              "which device '%s' does not advertise (half storage with float "
                              "accumulation works)",
                              ctx->dev.name);
    } else if (d->accumulate != CL16_ACC_FLOAT) {
        return cl16__fail(ctx, CL16_ERR_INVALID_ARG, "gemm: accumulate %d is not a cl16_accumulate",
                          (int)d->accumulate);
    }
    return CL16_OK;
}

/* cl16's own parameters for class cls (operands of dtype dt): the tuned
 * ones where they fit the device, else the built-in table; *why says which. */
static const cl16_gemm_choice *own_params(cl16_ctx *ctx, int cls, cl16_dtype dt,
                                          cl16_gemm_params *p, const char **why) {
    cl16__gemm_tune_load(ctx);
    const cl16_gemm_choice *t = &ctx->gemm_tuned[cls];
    char reason[160];
    if (t->valid && !cl16__gemm_params_fit(ctx, &t->own, dt, reason, sizeof reason)) {
        *p = t->own;
        *why = "tuned";
    } else {
        cl16__gemm_defaults(ctx, cls, p);
        *why = "built-in";
    }
    return t;
}

/* Backend and parameters for d; *why says where they came from. */
static void gemm_select(cl16_ctx *ctx, const cl16_gemm_desc *d, cl16_gemm_params *p,
                        const char **why) {
    const cl16_gemm_choice *t = own_params(ctx, cl16__gemm_class_of(d), d->c->dtype, p, why);
    cl16_gemm_backend b = d->backend != CL16_GEMM_AUTO ? d->backend : ctx->gemm_force;
    if (b == CL16_GEMM_AUTO) {
        /* CLBlast only where the tuner measured it faster and it passed
         * verification; it has no batch-reduce and no half accumulation. */
        int reduce = d->batch > 1 && d->c_stride == 0;
        /* bf16 shares the f16 classes (2-byte storage, float operands after
         * packing), but CLBlast has no bf16 GEMM: bf16 always runs cl16's own. */
        if (t->valid && t->clblast_ok && t->clblast_gflops > t->own_gflops && !reduce &&
            d->accumulate == CL16_ACC_FLOAT && d->c->dtype != CL16_BF16) {
            b = CL16_GEMM_CLBLAST;
            *why = "tuned";
        } else {
            b = CL16_GEMM_OWN;
        }
    } else if (b == CL16_GEMM_CLBLAST) {
        *why = "forced";
    }
    p->backend = b;
}

static const char *kernel_name(cl16_gemm_kind k) {
    return k == CL16_GK_DOT ? "cl16_gemm_dot" : k == CL16_GK_LMEM ? "cl16_gemm_lmem" : "cl16_gemm_tile";
}

/* The bias/ReLU epilogue as its own pass (after CLBlast). */
static cl16_status run_epilogue(cl16_ctx *ctx, const cl16_gemm_desc *d, const cl16_gemm_params *p,
                                int64_t batch) {
    /* Any variant of gemm.cl has the epilogue kernel: take the one cl16's own
     * GEMM would use for this shape, which is likely built already. */
    char defines[192];
    cl16_gemm_params own = *p;
    own.backend = CL16_GEMM_OWN;
    char why[160];
    if (cl16__gemm_params_fit(ctx, &own, d->c->dtype, why, sizeof why))
        cl16__gemm_defaults(ctx, cl16__gemm_class_of(d), &own);
    cl16__gemm_defines(&own, d->trans_a, d->trans_b, 0, 0, defines, sizeof defines);
    cl16_variant v = {d->c->dtype, 0, defines};
    cl_kernel kern;
    cl16_status s = cl16__kernel(ctx, "gemm.cl", &v, "cl16_gemm_epilogue", &kern);
    if (s) return s;
    cl_int im = (cl_int)d->m, in = (cl_int)d->n, bm = (cl_int)d->bias_mode, relu = d->activation == CL16_ACT_RELU;
    cl_long co = d->c_offset, lc = d->ldc, cs = d->c_stride, bo = d->bias_offset;
    cl_mem bias = d->bias ? d->bias->mem : d->c->mem;
    cl_int err = 0;
    cl_uint i = 0;
#define ARG(x) \
    if (!err) err = clSetKernelArg(kern, i++, sizeof(x), &(x))
    ARG(im); ARG(in); ARG(d->c->mem); ARG(co); ARG(lc); ARG(cs);
    ARG(bias); ARG(bo); ARG(bm); ARG(relu);
#undef ARG
    size_t global[3] = {(size_t)d->n, (size_t)d->m, (size_t)batch};
    if (!err) err = cl16__enqueue(ctx, kern, 3, global, NULL);
    return err ? cl16__cl_fail(ctx, err, "gemm epilogue %" PRId64 "x%" PRId64, d->m, d->n) : CL16_OK;
}

static cl16_status run_clblast(cl16_ctx *ctx, const cl16_gemm_desc *d, const cl16_gemm_params *p) {
    cl16_status s;
    if (d->batch > 1 && d->c_stride == 0) {
        /* Batch-reduce: CLBlast has none, so entries accumulate into C one by
         * one (beta for the first, 1 after; each pass rounds C once more). */
        cl16_gemm_desc e = *d;
        e.batch = 1;
        for (int64_t g = 0; g < d->batch; g++) {
            e.a_offset = d->a_offset + g * d->a_stride;
            e.b_offset = d->b_offset + g * d->b_stride;
            e.beta = g ? 1.0f : d->beta;
            if ((s = cl16__gemm_clblast(ctx, &e))) return s;
        }
    } else if ((s = cl16__gemm_clblast(ctx, d))) {
        return s;
    }
    if (d->bias_mode != CL16_BIAS_NONE || d->activation != CL16_ACT_NONE)
        return run_epilogue(ctx, d, p, d->batch > 1 && d->c_stride == 0 ? 1 : d->batch);
    return CL16_OK;
}

/* The workspace holds at least bytes (grown, never shrunk; the queue is in
 * order, so one GEMM's use ends before the next one's begins). */
static cl16_status workspace(cl16_ctx *ctx, size_t bytes) {
    if (ctx->ws_bytes >= bytes) return CL16_OK;
    if (ctx->ws) {
        cl_int err = clFinish(ctx->queue);
        if (err) return cl16__cl_fail(ctx, err, "clFinish before growing the GEMM workspace");
        cl16__dev_free(ctx, ctx->ws, ctx->ws_bytes);
        ctx->ws = NULL, ctx->ws_bytes = 0;
    }
    cl16_status s = cl16__dev_alloc(ctx, bytes, "GEMM workspace (B transposed)", &ctx->ws);
    if (!s) ctx->ws_bytes = bytes;
    return s;
}

/* Enqueues cl16_gemm_pack: op(X) (rows x cols per entry, `entries` of them)
 * into the workspace at float offset ws_off, and describes that copy in *wt. */
static cl16_status pack_one(cl16_ctx *ctx, cl_kernel kern, const cl16_tensor *x, int trans,
                            int64_t rows, int64_t cols, int64_t off, int64_t ld, int64_t stride,
                            int64_t entries, int64_t ws_off, struct cl16_tensor *wt) {
    cl_int err = 0;
    cl_int r = (cl_int)rows, c = (cl_int)cols, t = trans;
    cl_long o = off, l = ld, st = stride, wo = ws_off;
    cl_uint i = 0;
#define ARG(v) \
    if (!err) err = clSetKernelArg(kern, i++, sizeof(v), &(v))
    ARG(r); ARG(c); ARG(t); ARG(x->mem); ARG(o); ARG(l); ARG(st); ARG(ctx->ws); ARG(wo);
#undef ARG
    size_t global[3] = {((size_t)cols + 15) / 16, (size_t)rows, (size_t)entries};
    if (!err) err = cl16__enqueue(ctx, kern, 3, global, NULL);
    if (err) return cl16__cl_fail(ctx, err, "gemm: packing a %" PRId64 "x%" PRId64 " operand", rows, cols);
    memset(wt, 0, sizeof *wt);
    wt->ctx = ctx, wt->dtype = CL16_F32, wt->ndim = 1;
    wt->numel = ws_off + rows * cols * entries, wt->dims[0] = wt->numel;
    wt->bytes = (size_t)wt->numel * sizeof(float), wt->mem = ctx->ws;
    return CL16_OK;
}

/* Enqueues cl16_gemm_panel: op(B) of d in column panels of tn (gemm.cl,
 * PANEL_B), in B's dtype, into the workspace from byte off on, and points
 * pd's B at it (a view described in *wt). */
static cl16_status panel_b(cl16_ctx *ctx, const cl16_gemm_desc *d, const char *defines, int tn,
                           size_t off, cl16_gemm_desc *pd, struct cl16_tensor *wt) {
    cl16_variant v = {d->c->dtype, 0, defines};
    cl_kernel kern;
    cl16_status s = cl16__kernel(ctx, "gemm.cl", &v, "cl16_gemm_panel", &kern);
    if (s) return s;
    const size_t es = cl16_dtype_size(d->c->dtype);
    const int64_t eb = d->b_stride ? d->batch : 1, npan = (d->n + tn - 1) / tn;
    const int64_t per = d->k * npan * tn; /* elements per entry */
    cl_int err = 0;
    cl_int r = (cl_int)d->k, c = (cl_int)d->n, t = d->trans_b, itn = tn;
    cl_long o = d->b_offset, l = d->ldb, st = d->b_stride, wo = (cl_long)(off / es);
    cl_uint i = 0;
#define ARG(x) \
    if (!err) err = clSetKernelArg(kern, i++, sizeof(x), &(x))
    ARG(r); ARG(c); ARG(t); ARG(itn); ARG(d->b->mem); ARG(o); ARG(l); ARG(st); ARG(ctx->ws); ARG(wo);
#undef ARG
    size_t global[3] = {(size_t)npan, (size_t)d->k, (size_t)eb};
    if (!err) err = cl16__enqueue(ctx, kern, 3, global, NULL);
    if (err)
        return cl16__cl_fail(ctx, err, "gemm: B of %" PRId64 "x%" PRId64 " in panels", d->k, d->n);
    memset(wt, 0, sizeof *wt);
    wt->ctx = ctx, wt->dtype = d->c->dtype, wt->ndim = 1;
    wt->numel = (int64_t)(off / es) + per * eb, wt->dims[0] = wt->numel;
    wt->bytes = (size_t)wt->numel * es, wt->mem = ctx->ws;
    pd->b = wt, pd->b_offset = (int64_t)(off / es), pd->ldb = tn;
    pd->b_stride = d->b_stride ? per : 0, pd->trans_b = 0;
    return CL16_OK;
}

/* The pack step of params with `pack`: op(A) and op(B) become float copies in
 * NN layout in the workspace (for f32 tensors only the transposed ones), and
 * *pd (a copy of d) points at them (B's copy after A's in the workspace).
 * With panel (tn wide), B goes into column panels in its own dtype instead. */
static cl16_status pack_operands(cl16_ctx *ctx, const cl16_gemm_desc *d, const char *defines,
                                 int a_only, int panel, cl16_gemm_desc *pd,
                                 struct cl16_tensor wt[2]) {
    const int f16 = d->c->dtype == CL16_F16 || d->c->dtype == CL16_BF16; /* 16-bit storage */
    const int do_a = f16 || d->trans_a, do_b = !panel && !a_only && (f16 || d->trans_b);
    const int64_t ea = d->a_stride ? d->batch : 1, eb = d->b_stride ? d->batch : 1;
    const int64_t na = do_a ? d->m * d->k * ea : 0, nb = do_b ? d->k * d->n * eb : 0;
    const size_t pb = panel ? (size_t)(d->k * ((d->n + panel - 1) / panel * panel) * eb) *
                                  cl16_dtype_size(d->c->dtype)
                            : 0;
    cl16_status s = workspace(ctx, (size_t)(na + nb) * sizeof(float) + pb);
    if (s) return s;
    cl16_variant v = {d->c->dtype, 0, defines};
    cl_kernel kern = NULL;
    if ((do_a || do_b) && (s = cl16__kernel(ctx, "gemm.cl", &v, "cl16_gemm_pack", &kern))) return s;
    *pd = *d;
    if (panel && (s = panel_b(ctx, d, defines, panel, (size_t)na * sizeof(float), pd, &wt[1])))
        return s;
    if (do_a) {
        if ((s = pack_one(ctx, kern, d->a, d->trans_a, d->m, d->k, d->a_offset, d->lda, d->a_stride, ea,
                          0, &wt[0])))
            return s;
        pd->a = &wt[0], pd->a_offset = 0, pd->lda = d->k, pd->a_stride = d->a_stride ? d->m * d->k : 0;
        pd->trans_a = 0;
    }
    if (do_b) {
        if ((s = pack_one(ctx, kern, d->b, d->trans_b, d->k, d->n, d->b_offset, d->ldb, d->b_stride, eb,
                          na, &wt[1])))
            return s;
        pd->b = &wt[1], pd->b_offset = na, pd->ldb = d->n, pd->b_stride = d->b_stride ? d->k * d->n : 0;
        pd->trans_b = 0;
    }
    return CL16_OK;
}

static cl16_status gemm_kernel(cl16_ctx *ctx, const cl16_gemm_desc *d, const cl16_gemm_params *p,
                               int ab_float, int b_half, int panel, const cl16_gemm_implicit *im);

/* Whether gemm_enqueue runs d with p as an f16 GEMM on float A and f16 B
 * (below): the tile kernel, B not transposed, float sums, a CPU's storage path. */
static int f16_pack_a(const cl16_ctx *ctx, const cl16_gemm_desc *d, const cl16_gemm_params *p) {
    return p->backend == CL16_GEMM_OWN && p->kind == CL16_GK_TILE && d->c->dtype == CL16_F16 &&
           !d->trans_b && d->accumulate == CL16_ACC_FLOAT && ctx->dev.type == CL16_DEVICE_CPU &&
           ctx->half != CL16_HALF_NATIVE;
}

/* Whether gemm_enqueue reads B from column panels (gemm.cl, PANEL_B): on a
 * CPU, the tile kernel with float sums, B read in its dtype (f32, or f16
 * beside float A), where the rows of B that one tile's k loop walks span at
 * least PANEL_SPAN bytes and C has at least PANEL_MIN_M rows to share each
 * panel (the copy is one more launch, reading and writing B once). Walking
 * K rows ldb apart touches a page per row. `bench gemm --shapes squares`,
 * before and after (docs/benchmarks.md, gemm-panel-*.json): f32 2048^3
 * 20-26 -> 124-137 GFLOP/s, 1024^3 98-105 -> 143-175; f16 2048^3 46-69 ->
 * 180-188, 1024^3 102-118 -> 150-156. Forced at 256^3 (unsaved runs of
 * `cl16 gemm`) the copy made it slower. ctx->gemm_panel forces it on (1) or
 * off (0); -1: this rule. */
#define PANEL_SPAN (2.0 * 1024 * 1024)
#define PANEL_MIN_M 128
static int panel_wanted(const cl16_ctx *ctx, const cl16_gemm_desc *d, const cl16_gemm_params *p,
                        int a_only) {
    if (p->backend != CL16_GEMM_OWN || p->kind != CL16_GK_TILE || d->accumulate != CL16_ACC_FLOAT ||
        !(d->c->dtype == CL16_F32 || a_only))
        return 0;
    if (ctx->gemm_panel >= 0)
        return ctx->gemm_panel;
    const double span = (double)d->k * (double)(d->trans_b ? d->n : d->ldb) *
                        (double)cl16_dtype_size(d->c->dtype);
    return ctx->dev.type == CL16_DEVICE_CPU && d->m >= PANEL_MIN_M && span >= PANEL_SPAN;
}

void cl16__gemm_set_panel(cl16_ctx *ctx, int mode) { ctx->gemm_panel = mode < 0 ? -1 : mode != 0; }

static cl16_status gemm_enqueue(cl16_ctx *ctx, const cl16_gemm_desc *d, const cl16_gemm_params *p) {
    if (p->backend == CL16_GEMM_CLBLAST) return run_clblast(ctx, d, p);
    /* f16 on a CPU's storage path, B not transposed: A packed as float (each
     * of its elements converted once, not once per tile), B left in f16 and
     * widened as its vectors load (B_HALF, one conversion per vector), k not
     * unrolled. PoCL 3.1, AMD EPYC, `bench gemm --shapes squares`, f16
     * GFLOP/s, two alternating runs of 7c46d77 and 346677a: 1024^3
     * 74.7-74.9 -> 100.3-108.4, 512^3 42-57 -> 123-141 (docs/benchmarks.md,
     * gemm-packa-*.json). */
    const int a_only = f16_pack_a(ctx, d, p);
    const int panel = panel_wanted(ctx, d, p, a_only) ? p->tn : 0;
    if (!a_only && !panel &&
        !(p->pack && p->kind != CL16_GK_DOT && d->accumulate == CL16_ACC_FLOAT &&
          (d->c->dtype != CL16_F32 || d->trans_a || d->trans_b)))
        return gemm_kernel(ctx, d, p, 0, 0, 0, NULL);
    /* Operands packed as float copies (for f32 only the transposed ones), or
     * B in panels. */
    cl16_gemm_params q = *p;
    if (a_only)
        q.ku = 1, q.pack = 0;
    const int ab_float = d->c->dtype != CL16_F32;
    char pdef[192];
    cl16__gemm_defines(&q, 0, 0, 0, ab_float, pdef, sizeof pdef);
    cl16_gemm_desc packed;
    struct cl16_tensor wt[2];
    cl16_status s = pack_operands(ctx, d, pdef, a_only, panel, &packed, wt);
    return s ? s : gemm_kernel(ctx, &packed, &q, ab_float, a_only, panel != 0, NULL);
}

/* Enqueues one of gemm.cl's GEMM kernels for d (operands float when
 * ab_float, B f16 beside float A when also b_half; im: the tile kernel's
 * implicit form, or NULL). */
static cl16_status gemm_kernel(cl16_ctx *ctx, const cl16_gemm_desc *d, const cl16_gemm_params *p,
                               int ab_float, int b_half, int panel,
                               const cl16_gemm_implicit *imp) {
    cl16_status s;
    char why[160];
    if (cl16__gemm_params_fit(ctx, p, d->c->dtype, why, sizeof why))
        return cl16__fail(ctx, CL16_ERR_INVALID_ARG, "gemm: kernel parameters do not fit: %s", why);
    if (p->kind == CL16_GK_DOT && (d->trans_a || !d->trans_b))
        return cl16__fail(ctx, CL16_ERR_INTERNAL, "gemm: the dot kernel only computes A * B^T");
    char defines[192];
    size_t dl = cl16__gemm_defines(p, d->trans_a, d->trans_b, d->accumulate == CL16_ACC_HALF,
                                   ab_float, defines, sizeof defines);
    if (imp && dl < sizeof defines)
        dl += (size_t)snprintf(defines + dl, sizeof defines - dl, " -DIMPLICIT=%d", imp->which);
    if (b_half && dl < sizeof defines)
        dl += (size_t)snprintf(defines + dl, sizeof defines - dl, " -DB_HALF=1");
    if (panel && dl < sizeof defines)
        snprintf(defines + dl, sizeof defines - dl, " -DPANEL_B=1");
    cl16_variant v = {d->c->dtype, 0, defines};
    cl_kernel kern;
    if ((s = cl16__kernel(ctx, "gemm.cl", &v, kernel_name(p->kind), &kern))) return s;

    const int reduce = d->batch > 1 && d->c_stride == 0;
    cl_int im = (cl_int)d->m, in = (cl_int)d->n, ik = (cl_int)d->k;
    cl_int nred = reduce ? (cl_int)d->batch : 1;
    cl_int bm = (cl_int)d->bias_mode, relu = d->activation == CL16_ACT_RELU;
    cl_long ao = d->a_offset, la = d->lda, as = d->a_stride;
    cl_long bo = d->b_offset, lb = d->ldb, bs = d->b_stride;
    cl_long co = d->c_offset, lc = d->ldc, cs = d->c_stride, bio = d->bias_offset;
    cl_mem bias = d->bias ? d->bias->mem : d->c->mem; /* unread when bias_mode is NONE */
    cl_int err = 0;
    cl_uint i = 0;
#define ARG(x) \
    if (!err) err = clSetKernelArg(kern, i++, sizeof(x), &(x))
    ARG(im); ARG(in); ARG(ik); ARG(d->alpha);
    ARG(d->a->mem); ARG(ao); ARG(la); ARG(as);
    ARG(d->b->mem); ARG(bo); ARG(lb); ARG(bs);
    ARG(d->beta); ARG(d->c->mem); ARG(co); ARG(lc); ARG(cs); ARG(nred);
    ARG(bias); ARG(bio); ARG(bm); ARG(relu);
    /* The implicit form's row table and column map (unread otherwise). */
    cl_mem rtab = imp ? imp->rtab : d->c->mem;
    cl_int cwp = imp ? imp->cwp : 0, cwo = imp ? imp->cwo : 0;
    cl_int crp = imp ? imp->crp : 0, ccs = imp ? imp->ccs : 0, crw = imp ? imp->crw : 0;
    ARG(rtab); ARG(cwp); ARG(cwo); ARG(crp); ARG(ccs); ARG(crw);
#undef ARG
    size_t z = reduce ? 1 : (size_t)d->batch;
    size_t global[3], local[3] = {1, 1, 1};
    if (p->kind == CL16_GK_LMEM) {
        size_t bm_ = (size_t)(p->wgy * p->tm), bn_ = (size_t)(p->wgx * p->tn);
        global[0] = ((size_t)d->n + bn_ - 1) / bn_ * (size_t)p->wgx;
        global[1] = ((size_t)d->m + bm_ - 1) / bm_ * (size_t)p->wgy;
        local[0] = (size_t)p->wgx, local[1] = (size_t)p->wgy;
    } else {
        /* An explicit, small work-group: left to itself PoCL groups up to
         * 4096 work-items, whose register tiles then overflow a worker
         * thread's stack (M or N of 2048 crashed). Work-items past the edge
         * return at once, so the grid is rounded up to whole groups. */
        if (ctx->dev.type == CL16_DEVICE_CPU || ctx->dev.max_work_group < 64)
            local[0] = 8;
        else
            local[0] = 16, local[1] = 4;
        global[0] = ((size_t)d->n + (size_t)p->tn - 1) / (size_t)p->tn;
        global[1] = ((size_t)d->m + (size_t)p->tm - 1) / (size_t)p->tm;
        for (int i2 = 0; i2 < 2; i2++) global[i2] = (global[i2] + local[i2] - 1) / local[i2] * local[i2];
    }
    global[2] = z;
    if (!err) err = cl16__enqueue(ctx, kern, 3, global, local);
    return err ? cl16__cl_fail(ctx, err, "gemm %" PRId64 "x%" PRId64 "x%" PRId64 " (batch %" PRId64 ")",
                               d->m, d->n, d->k, d->batch)
               : CL16_OK;
}

/* One GEMM enqueued (s == OK): its calls, flops and bytes in the counters;
 * only what was enqueued counts. */
static cl16_status counted(cl16_ctx *ctx, cl16_status s, double flops, double bytes) {
    if (!s) {
        ctx->stats.gemm_calls++;
        ctx->stats.gemm_flops += flops;
        cl16__count(ctx, flops, bytes);
    }
    return s;
}

cl16_status cl16__gemm_run(cl16_ctx *ctx, const cl16_gemm_desc *d, const cl16_gemm_params *p) {
    if (cl16__fault("launch"))
        return cl16__cl_fail(ctx, CL_OUT_OF_RESOURCES, "gemm launch (injected fault)");
    const double fl = 2.0 * (double)d->m * (double)d->n * (double)d->k * (double)d->batch;
    const double es = (double)cl16_dtype_size(d->c->dtype), outs = d->c_stride ? (double)d->batch : 1.0;
    return counted(ctx, gemm_enqueue(ctx, d, p), fl,
                   es * ((double)(d->m * d->k) * (d->a_stride ? (double)d->batch : 1.0) +
                         (double)(d->k * d->n) * (d->b_stride ? (double)d->batch : 1.0) +
                         (double)(d->m * d->n) * outs * (d->beta != 0.0f ? 2.0 : 1.0)));
}

/* The implicit form (internal.h): the tile kernel with the parameters of d's
 * class (f32's when the operands are float copies), unpacked; form 2 on a CPU
 * its own tall tile (tune.c). Where the class runs another kernel, the
 * built-in table's tile, else a fixed 4 x 16 one. The caller vouches
 * for the operands' extents (the row table's rows lie inside them). */
cl16_status cl16__gemm_implicit(cl16_ctx *ctx, const cl16_gemm_desc *d,
                                const cl16_gemm_implicit *im) {
    if (cl16__fault("launch"))
        return cl16__cl_fail(ctx, CL_OUT_OF_RESOURCES, "gemm launch (injected fault)");
    const cl16_dtype dt = im->ab_float ? CL16_F32 : d->c->dtype;
    cl16_gemm_params p;
    memset(&p, 0, sizeof p);
    p.ku = 1, p.wgx = p.wgy = 8, p.kt = 16;
    if (d->trans_b) {
        /* A * B^T (which 1): the dot kernel, A's rows from the table. 4 x 2
         * outputs per work-item, 8-wide k: of 1x4 to 4x4 and 8- or 16-wide
         * (LeNet-5 / ResNet-20 conv1 backward-weights) none was clearly
         * faster. */
        p.kind = CL16_GK_DOT, p.tm = 4, p.tn = 2, p.vw = 8;
    } else if (im->which == 3 && im->ccs == 2) {
        /* The paired stores (gemm.cl) need VW <= 8 columns within one output
         * row: VW dividing the row. Tiles measured on ResNet-20's shortcuts
         * (4, 8 or 16 rows; VW, 2VW or 4VW columns; k unrolled or not): f32
         * 4 x 4VW; 16-bit 4 x 2VW with A read as 4-vectors (KU 4: one vector
         * conversion for four k, where KU 1 was slower). */
        const int f32 = dt == CL16_F32;
        p.kind = CL16_GK_TILE, p.vw = im->cwo % 8 == 0 ? 8 : 4;
        p.tm = 4, p.tn = (f32 ? 4 : 2) * p.vw, p.ku = f32 ? 1 : 4;
    } else if (im->which == 2 && ctx->dev.type == CL16_DEVICE_CPU) {
        cl16__gemm_implicit_cpu_tile(ctx, dt, &p);
    } else {
        const int reduce = d->batch > 1 && d->c_stride == 0;
        const int cls = cl16__gemm_class(dt, 0, 0, reduce, d->m, d->n, d->k, d->batch);
        const char *why;
        own_params(ctx, cls, dt, &p, &why);
        if (p.kind != CL16_GK_TILE) /* tuned to another kernel: the built-in table's */
            cl16__gemm_defaults(ctx, cls, &p);
        if (p.kind != CL16_GK_TILE) {
            memset(&p, 0, sizeof p);
            p.kind = CL16_GK_TILE, p.tm = 4, p.tn = 16, p.vw = 4, p.ku = 1, p.wgx = p.wgy = 8, p.kt = 16;
        }
    }
    p.backend = CL16_GEMM_OWN, p.pack = 0;
    return counted(ctx, gemm_kernel(ctx, d, &p, im->ab_float, im->b_half, 0, im), im->flops, 0.0);
}

cl16_status cl16_gemm_ex(cl16_ctx *ctx, const cl16_gemm_desc *d) {
    cl16_status s = cl16__gemm_validate(ctx, d);
    if (s) return s;
    cl16_gemm_params p;
    const char *why;
    gemm_select(ctx, d, &p, &why);
    return cl16__gemm_run(ctx, d, &p);
}

cl16_status cl16_gemm_plan(cl16_ctx *ctx, const cl16_gemm_desc *d, char *buf, size_t len) {
    if (!buf || !len) return ctx ? cl16__fail(ctx, CL16_ERR_INVALID_ARG, "gemm_plan: no buffer") : CL16_ERR_INVALID_ARG;
    buf[0] = 0;
    cl16_status s = cl16__gemm_validate(ctx, d);
    if (s) return s;
    cl16_gemm_params p;
    const char *why;
    gemm_select(ctx, d, &p, &why);
    char ps[128], cls[32];
    cl16__gemm_params_str(&p, ps, sizeof ps);
    cl16__gemm_class_name(cl16__gemm_class_of(d), cls, sizeof cls);
    const int a_only = f16_pack_a(ctx, d, &p);
    snprintf(buf, len, "%s (%s, class %s)%s%s", ps, why, cls,
             a_only ? "; runs with A packed as float, B f16, ku=1" : "",
             panel_wanted(ctx, d, &p, a_only) ? "; B in column panels" : "");
    return CL16_OK;
}

cl16_status cl16_gemm(cl16_ctx *ctx, int trans_a, int trans_b, int64_t m, int64_t n, int64_t k,
                      float alpha, const cl16_tensor *a, int64_t lda, const cl16_tensor *b,
                      int64_t ldb, float beta, cl16_tensor *c, int64_t ldc) {
    cl16_gemm_desc d;
    cl16_gemm_desc_init(&d);
    d.trans_a = trans_a, d.trans_b = trans_b, d.m = m, d.n = n, d.k = k;
    d.alpha = alpha, d.beta = beta;
    d.a = a, d.lda = lda, d.b = b, d.ldb = ldb, d.c = c, d.ldc = ldc;
    return cl16_gemm_ex(ctx, &d);
}

cl16_status cl16_gemm_strided_batched(cl16_ctx *ctx, int trans_a, int trans_b, int64_t m,
                                      int64_t n, int64_t k, float alpha, const cl16_tensor *a,
                                      int64_t a_offset, int64_t lda, int64_t a_stride,
                                      const cl16_tensor *b, int64_t b_offset, int64_t ldb,
                                      int64_t b_stride, float beta, cl16_tensor *c,
                                      int64_t c_offset, int64_t ldc, int64_t c_stride,
                                      int64_t batch) {
    cl16_gemm_desc d;
    cl16_gemm_desc_init(&d);
    d.trans_a = trans_a, d.trans_b = trans_b, d.m = m, d.n = n, d.k = k, d.batch = batch;
    d.alpha = alpha, d.beta = beta;
    d.a = a, d.a_offset = a_offset, d.lda = lda, d.a_stride = a_stride;
    d.b = b, d.b_offset = b_offset, d.ldb = ldb, d.b_stride = b_stride;
    d.c = c, d.c_offset = c_offset, d.ldc = ldc, d.c_stride = c_stride;
    return cl16_gemm_ex(ctx, &d);
}
