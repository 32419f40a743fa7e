/* pool.cl - 2-D max / average pooling and global average pooling, forward and
 * backward, NCHW. Backward passes gather over dx (one work-item per input
 * element, a fixed visiting order): deterministic and free of atomics.
 *
 * Build parameters: those of common.cl (CL16_DTYPE etc.); none of its own.
 * Arithmetic is float whatever the storage type; results are rounded once on store.
 */
#include "common.cl"

/* PyTorch's avg_pool2d divisor for output (oh, ow). */
static float avg_divisor(int oh, int ow, int h, int w, int kh, int kw, int sh, int sw, int ph,
                         int pw, int cip) {
    int hs = oh * sh - ph, ws = ow * sw - pw;
    int he = min(hs + kh, h + ph), we = min(ws + kw, w + pw);
    int size = (he - hs) * (we - ws);
    if (cip) return (float)size;
    hs = max(hs, 0), ws = max(ws, 0), he = min(he, h), we = min(we, w);
    return (float)((he - hs) * (we - ws));
}

/* One work-item per output element: global (Wo, Ho, N*C), no divisions.
 * kind 0 = MAX (indices written when has_idx), 1 = AVG (cip = count_include_pad),
 * 2 = MAX then ReLU: an output the ReLU zeroes gets index -1, which no input
 * element matches, so the backward passes no gradient through it. That is
 * the gradient of pool(relu(x)) too, which has the same outputs (ReLU is
 * monotone) and, where the maximum is positive, the same index. */
__kernel void cl16_pool2d_fwd(__global const store_t *x, __global store_t *y, __global int *idx,
                              const int has_idx, const int h, const int w, const int ho,
                              const int wo, const int kh, const int kw, const int sh, const int sw,
                              const int ph, const int pw, const int kind, const int cip) {
    int ow = (int)get_global_id(0), oh = (int)get_global_id(1);
    long plane = (long)get_global_id(2);
    if (ow >= wo || oh >= ho) return;
    long o = (plane * ho + oh) * wo + ow;
    long base = plane * h * w;
    int hs = oh * sh - ph, ws = ow * sw - pw;
    int h0 = max(hs, 0), w0 = max(ws, 0), h1 = min(hs + kh, h), w1 = min(ws + kw, w);
    if (kind != 1) {
        /* Row-major scan; strict > keeps the first of equal maxima; a NaN wins
         * (the first one), as in PyTorch. Padding never takes part. */
        float best = 0.0f;
        int bi = -1;
        for (int i = h0; i < h1; i++)
            for (int j = w0; j < w1; j++) {
                float v = (float)LD(x, base + (long)i * w + j);
                if (bi < 0 || v > best || (isnan(v) && !isnan(best))) {
                    best = v;
                    bi = i * w + j;
                }
            }
        if (kind == 2 && best <= 0.0f) best = 0.0f, bi = -1; /* relu1: NaN passes */
        ST(best, y, o);
        if (has_idx) idx[o] = bi;
    } else {
        float s = 0.0f;
        for (int i = h0; i < h1; i++)
            for (int j = w0; j < w1; j++) s += (float)LD(x, base + (long)i * w + j);
        ST(s / avg_divisor(oh, ow, h, w, kh, kw, sh, sw, ph, pw, cip), y, o);
    }
}

/* One work-item per input element: global (W, H, N*C). Sums, in a fixed
 * order, the dy of every output whose window holds the element (MAX: only
 * those whose index names it; AVG: dy / divisor), then dx = beta * dx + sum
 * (dx not read when beta is 0). */
__kernel void cl16_pool2d_bwd(__global const store_t *dy, __global const int *idx,
                              __global store_t *dx, const float beta, const int h, const int w,
                              const int ho, const int wo, const int kh, const int kw,
                              const int sh, const int sw, const int ph, const int pw,
                              const int kind, const int cip) {
    int iw = (int)get_global_id(0), ih = (int)get_global_id(1);
    long plane = (long)get_global_id(2);
    if (iw >= w || ih >= h) return;
    long e = (plane * h + ih) * w + iw;
    long obase = plane * ho * wo;
    int self = ih * w + iw;
    /* Outputs oh with oh*sh - ph <= ih < oh*sh - ph + kh. */
    int oh0 = ih + ph - kh + 1;
    oh0 = oh0 <= 0 ? 0 : (oh0 + sh - 1) / sh;
    int oh1 = min((ih + ph) / sh, ho - 1);
    int ow0 = iw + pw - kw + 1;
    ow0 = ow0 <= 0 ? 0 : (ow0 + sw - 1) / sw;
    int ow1 = min((iw + pw) / sw, wo - 1);
    float s = 0.0f;
    for (int oh = oh0; oh <= oh1; oh++)
        for (int ow = ow0; ow <= ow1; ow++) {
            long o = obase + (long)oh * wo + ow;
            if (kind != 1) {
                if (idx[o] == self) s += (float)LD(dy, o);
            } else {
                s += (float)LD(dy, o) / avg_divisor(oh, ow, h, w, kh, kw, sh, sw, ph, pw, cip);
            }
        }
    if (beta != 0.0f) s += beta * (float)LD(dx, e);
    ST(s, dx, e);
}

/* The same two passes for 2x2 windows, stride 2, no padding (LeNet's and
 * most CNNs' pooling): windows do not overlap and lie wholly inside, so each
 * output reads four fixed inputs and each input feeds at most one output.
 * A work-item takes one row; no divisions, and the same results bit for bit
 * as the general kernels (same comparison order, same summation order,
 * divisor 4). Same
 * arguments as the general kernels (kh .. pw and cip unused), then idx0: the
 * first index element of the planes launched (a chunk of planes through
 * float copies; 0 otherwise). */
/* The forward's body for x of type XT read by LDX (one element as float),
 * its 8-window vector loop where VEC (x float: LDX16 loads 16 as float16),
 * y and idx written from element y0 and idx0 on. */
#define POOL2X2_FWD(NAME, XT, LDX, LDX16, VEC)                                                     \
    CL16_INLINE void NAME(__global const XT *x, __global store_t *y, __global int *idx,          \
                          const int has_idx, const int h, const int w, const int ho,              \
                          const int wo, const int kind, const long y0, const long idx0) {         \
        /* One work-item per output row (grid: 1, ho, planes): PoCL's cost per                   \
         * work-item and 64-bit index arithmetic per element made the one-output                 \
         * form 3x slower (LeNet-5 pool1, AMD EPYC). */                                           \
        const int oh = (int)get_global_id(1);                                                     \
        const long plane = (long)get_global_id(2);                                                \
        if (oh >= ho) return;                                                                     \
        const long ob = (plane * ho + oh) * wo;                                                   \
        __global const XT *x0 = x + plane * h * w + (long)(2 * oh) * w, *x1 = x0 + w;             \
        int ow = 0;                                                                               \
        /* 8 windows at a time: two 16-wide loads per input row split into even                  \
         * and odd columns, the same comparisons lane by lane (select), so the                   \
         * same results as the scalar loop below. */                                              \
        for (; VEC && ow + 8 <= wo; ow += 8) {                                                    \
            const float16 r0 = LDX16(x0 + 2 * ow), r1 = LDX16(x1 + 2 * ow);                       \
            const float8 v00 = r0.even, v01 = r0.odd, v10 = r1.even, v11 = r1.odd;                \
            if (kind != 1) {                                                                      \
                const int8 i0 = (int8)((2 * oh) * w + 2 * ow) + (int8)(0, 2, 4, 6, 8, 10, 12, 14); \
                float8 best = v00;                                                                \
                int8 bi = i0;                                                                     \
                int8 c = isgreater(v01, best) | (isnan(v01) & ~isnan(best));                      \
                best = select(best, v01, c), bi = select(bi, i0 + 1, c);                          \
                c = isgreater(v10, best) | (isnan(v10) & ~isnan(best));                           \
                best = select(best, v10, c), bi = select(bi, i0 + w, c);                          \
                c = isgreater(v11, best) | (isnan(v11) & ~isnan(best));                           \
                best = select(best, v11, c), bi = select(bi, i0 + w + 1, c);                      \
                if (kind == 2) {                                                                  \
                    c = islessequal(best, (float8)(0.0f));                                        \
                    best = select(best, (float8)(0.0f), c), bi = select(bi, (int8)(-1), c);       \
                }                                                                                 \
                ST8(best, y + y0 + ob + ow, 0);                                                   \
                if (has_idx) vstore8(bi, 0, idx + idx0 + ob + ow);                                \
            } else {                                                                              \
                ST8((((0.0f + v00) + v01) + v10 + v11) / 4.0f, y + y0 + ob + ow, 0);              \
            }                                                                                     \
        }                                                                                         \
        for (; ow < wo; ow++) {                                                                   \
            const int i0 = (2 * oh) * w + 2 * ow;                                                 \
            const float v00 = (float)LDX(x0, 2 * ow), v01 = (float)LDX(x0, 2 * ow + 1);           \
            const float v10 = (float)LDX(x1, 2 * ow), v11 = (float)LDX(x1, 2 * ow + 1);           \
            if (kind != 1) {                                                                      \
                /* Row-major, strict >, the first NaN wins: as cl16_pool2d_fwd. */                \
                float best = v00;                                                                 \
                int bi = i0;                                                                      \
                if (v01 > best || (isnan(v01) && !isnan(best))) best = v01, bi = i0 + 1;          \
                if (v10 > best || (isnan(v10) && !isnan(best))) best = v10, bi = i0 + w;          \
                if (v11 > best || (isnan(v11) && !isnan(best))) best = v11, bi = i0 + w + 1;      \
                if (kind == 2 && best <= 0.0f) best = 0.0f, bi = -1;                              \
                ST(best, y, y0 + ob + ow);                                                        \
                if (has_idx) idx[idx0 + ob + ow] = bi;                                            \
            } else {                                                                              \
                ST((((0.0f + v00) + v01) + v10 + v11) / 4.0f, y, y0 + ob + ow);                   \
            }                                                                                     \
        }                                                                                         \
    }
/* 16 elements of the storage type as float16: run (VEC) only where that
 * type is float */
#define POOL_S16(p) convert_float16(LD16((p), 0))
POOL2X2_FWD(cl16_pool2x2_fwd_st, store_t, LD, POOL_S16, CL16_DTYPE == 0)
__kernel void cl16_pool2x2_fwd(__global const store_t *x, __global store_t *y, __global int *idx,
                               const int has_idx, const int h, const int w, const int ho,
                               const int wo, const int kh, const int kw, const int sh,
                               const int sw, const int ph, const int pw, const int kind,
                               const int cip, const long idx0) {
    cl16_pool2x2_fwd_st(x, y, idx, has_idx, h, w, ho, wo, kind, 0, idx0);
}
#if CL16_DTYPE != 0
/* The 16-bit forward on a float copy of x (a chunk of images; CPUs' storage
 * path, where PoCL vectorises float loads but not 16-bit ones), y rounded
 * on store: y and idx of the whole batch from element idx0 on. */
POOL2X2_FWD(cl16_pool2x2_fwd_f, float, FLD, FLD16, 1)
__kernel void cl16_pool2x2_fwd_fx(__global const float *x, __global store_t *y, __global int *idx,
                                  const int has_idx, const int h, const int w, const int ho,
                                  const int wo, const int kh, const int kw, const int sh,
                                  const int sw, const int ph, const int pw, const int kind,
                                  const int cip, const long idx0) {
    cl16_pool2x2_fwd_f(x, y, idx, has_idx, h, w, ho, wo, kind, idx0, idx0);
}
#endif

/* One work-item per input row (grid: 1, h, planes): each output of the row's
 * window row feeds two adjacent inputs; columns and rows past the last
 * window get zeros. */
__kernel void cl16_pool2x2_bwd(__global const store_t *dy, __global const int *idx,
                               __global store_t *dx, const float beta, const int h, const int w,
                               const int ho, const int wo, const int kh, const int kw,
                               const int sh, const int sw, const int ph, const int pw,
                               const int kind, const int cip, const long idx0) {
    const int ih = (int)get_global_id(1);
    const long plane = (long)get_global_id(2);
    if (ih >= h) return;
    const long e0 = (plane * h + ih) * w;
    const int oh = ih >> 1;
    int iw = 0;
    if (oh < ho) {
        const long ob = (plane * ho + oh) * wo;
        for (int ow = 0; ow < wo; ow++) {
            const long o = ob + ow;
            float a, b;
            if (kind != 1) { /* MAX; index -1 (ReLU zeroed the output) matches nothing */
                const int id = idx[idx0 + o] - ih * w - 2 * ow;
                const float v = 0.0f + (float)LD(dy, o);
                a = id == 0 ? v : 0.0f;
                b = id == 1 ? v : 0.0f;
            } else {
                a = b = 0.0f + (float)LD(dy, o) / 4.0f;
            }
            if (beta != 0.0f) {
                a += beta * (float)LD(dx, e0 + 2 * ow);
                b += beta * (float)LD(dx, e0 + 2 * ow + 1);
            }
            ST(a, dx, e0 + 2 * ow);
            ST(b, dx, e0 + 2 * ow + 1);
        }
        iw = 2 * wo;
    }
    for (; iw < w; iw++) {
        float s = 0.0f;
        if (beta != 0.0f) s += beta * (float)LD(dx, e0 + iw);
        ST(s, dx, e0 + iw);
    }
}

/* Element-wise copies between a tensor (from element off) and a float buffer, 16 elements per
 * work-item (vload_half16 / vstore_half16_rte on the storage path; the last
 * work-item also copies the n % 16 tail): exact widening; narrowing computes
 * dst = src + beta * dst (dst not read when beta is 0), rounded once. */
__kernel void cl16_pool_widen16(__global const store_t *src, __global float *dst, const long n,
                                const long off) {
    src += off;
    const long q = (long)get_global_id(0), nv = n / 16;
    if (q < nv) vstore16(convert_float16(LD16(src, q)), q, dst);
    if (q == nv)
        for (long i = nv * 16; i < n; i++) dst[i] = (float)LD(src, i);
}
__kernel void cl16_pool_narrow16(__global const float *src, __global store_t *dst, const long n,
                                 const float beta, const long off) {
    dst += off;
    const long q = (long)get_global_id(0), nv = n / 16;
    if (q < nv) {
        float16 v = vload16(q, src);
        if (beta != 0.0f) v += (float16)(beta) * convert_float16(LD16(dst, q));
        ST16(v, dst, q);
    }
    if (q == nv)
        for (long i = nv * 16; i < n; i++) {
            float v = src[i];
            if (beta != 0.0f) v += beta * (float)LD(dst, i);
            ST(v, dst, i);
        }
}

/* One work-item per plane: y[p] = mean of the hw elements of plane p. */
__kernel void cl16_gavgpool_fwd(__global const store_t *x, __global store_t *y, const long planes,
                                const int hw) {
    long p = get_global_id(0);
    if (p >= planes) return;
    long base = p * hw;
    float s = 0.0f;
    for (int i = 0; i < hw; i++) s += (float)LD(x, base + i);
    ST(s / (float)hw, y, p);
}

/* dx = beta * dx + dy[plane] / hw, 16 elements of dx per work-item: one
 * 16-wide store (one conversion on the storage path) where they lie in one
 * plane, else one by one (element by element, the f16 form ran 4.6x slower
 * than f32 in a ResNet-20 step). */
__kernel void cl16_gavgpool_bwd(__global const store_t *dy, __global store_t *dx, const float beta,
                                const long total, const int hw) {
    const long e0 = (long)get_global_id(0) * 16;
    if (e0 >= total) return;
    if (e0 + 16 <= total && e0 / hw == (e0 + 15) / hw) {
        float16 g = (float16)((float)LD(dy, e0 / hw) / (float)hw);
        if (beta != 0.0f) g += beta * convert_float16(LD16(dx + e0, 0));
        ST16(g, dx + e0, 0);
        return;
    }
    for (long e = e0; e < min(e0 + 16, total); e++) {
        float g = (float)LD(dy, e / hw) / (float)hw;
        if (beta != 0.0f) g += beta * (float)LD(dx, e);
        ST(g, dx, e);
    }
}
