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
 * divisor 4). Same arguments as the general kernels (kh .. pw and cip
 * unused). */
/* V windows of the output row from column ow on (V = 8 or 4; V2 = 2V): two
 * 2V-wide loads per input row (one vector conversion each on the storage
 * path) split into even and odd columns, the scalar loop's comparisons lane
 * by lane (select), so the same results. */
#define POOL2X2_FWD_V(V, V2, LANES)                                                             \
    do {                                                                                        \
        const CAT(float, V2) r0 = CAT(convert_float, V2)(CAT(LD, V2)(x0 + 2 * ow, 0));          \
        const CAT(float, V2) r1 = CAT(convert_float, V2)(CAT(LD, V2)(x1 + 2 * ow, 0));          \
        const CAT(float, V) v00 = r0.even, v01 = r0.odd, v10 = r1.even, v11 = r1.odd;           \
        if (kind != 1) {                                                                        \
            const CAT(int, V) i0 = (CAT(int, V))((2 * oh) * w + 2 * ow) + 2 * (CAT(int, V))LANES; \
            CAT(float, V) best = v00;                                                           \
            CAT(int, V) bi = i0;                                                                \
            CAT(int, V) c = isgreater(v01, best) | (isnan(v01) & ~isnan(best));                 \
            best = select(best, v01, c), bi = select(bi, i0 + 1, c);                            \
            c = isgreater(v10, best) | (isnan(v10) & ~isnan(best));                             \
            best = select(best, v10, c), bi = select(bi, i0 + w, c);                            \
            c = isgreater(v11, best) | (isnan(v11) & ~isnan(best));                             \
            best = select(best, v11, c), bi = select(bi, i0 + w + 1, c);                        \
            if (kind == 2) {                                                                    \
                c = islessequal(best, (CAT(float, V))(0.0f));                                   \
                best = select(best, (CAT(float, V))(0.0f), c);                                  \
                bi = select(bi, (CAT(int, V))(-1), c);                                          \
            }                                                                                   \
            CAT(ST, V)(best, y + ob + ow, 0);                                                   \
            if (has_idx) CAT(vstore, V)(bi, 0, idx + ob + ow);                                  \
        } else {                                                                                \
            CAT(ST, V)((((0.0f + v00) + v01) + v10 + v11) / 4.0f, y + ob + ow, 0);              \
        }                                                                                       \
    } while (0)
#define LANES8 (0, 1, 2, 3, 4, 5, 6, 7)
#define LANES4 (0, 1, 2, 3)

__kernel void cl16_pool2x2_fwd(__global const store_t *x, __global store_t *y, __global int *idx,
                               const int has_idx, const int h, const int w, const int ho,
                               const int wo, const int kh, const int kw, const int sh,
                               const int sw, const int ph, const int pw, const int kind,
                               const int cip) {
    /* One work-item per output row (grid: 1, ho, planes): PoCL's cost per
     * work-item and 64-bit index arithmetic per element made the one-output
     * form 3x slower (LeNet-5 pool1, AMD EPYC). */
    const int oh = (int)get_global_id(1);
    const long plane = (long)get_global_id(2);
    if (oh >= ho) return;
    const long ob = (plane * ho + oh) * wo;
    __global const store_t *x0 = x + plane * h * w + (long)(2 * oh) * w, *x1 = x0 + w;
    /* Vectors of 8 windows, or of 4 in rows of 4 to 7; a row's last vector
     * ends at its last window, overlapping the one before (its values
     * stored again, the same bits), so no window takes the scalar loop,
     * which is slow here (`build/bench/layer_ab lenet`, random data, EPYC:
     * f32 pool1 0.84-0.92 ms with its last 6 windows a row branching on the
     * data in that loop, 0.24-0.27 ms all in vectors). */
    int ow = 0;
    for (; ow + 8 <= wo; ow += 8) POOL2X2_FWD_V(8, 16, LANES8);
    if (ow < wo && wo >= 8) {
        ow = wo - 8;
        POOL2X2_FWD_V(8, 16, LANES8);
        ow = wo;
    }
    for (; ow + 4 <= wo; ow += 4) POOL2X2_FWD_V(4, 8, LANES4);
    if (ow < wo && wo >= 4) {
        ow = wo - 4;
        POOL2X2_FWD_V(4, 8, LANES4);
        ow = wo;
    }
    for (; ow < wo; ow++) {
        const int i0 = (2 * oh) * w + 2 * ow;
        const float v00 = (float)LD(x0, 2 * ow), v01 = (float)LD(x0, 2 * ow + 1);
        const float v10 = (float)LD(x1, 2 * ow), v11 = (float)LD(x1, 2 * ow + 1);
        if (kind != 1) {
            /* Row-major, strict >, the first NaN wins: as cl16_pool2d_fwd;
             * selects, not branches on the data. */
            float best = v00;
            int bi = i0, c;
            c = isgreater(v01, best) | (isnan(v01) & !isnan(best));
            best = c ? v01 : best, bi = c ? i0 + 1 : bi;
            c = isgreater(v10, best) | (isnan(v10) & !isnan(best));
            best = c ? v10 : best, bi = c ? i0 + w : bi;
            c = isgreater(v11, best) | (isnan(v11) & !isnan(best));
            best = c ? v11 : best, bi = c ? i0 + w + 1 : bi;
            c = (kind == 2) & islessequal(best, 0.0f);
            best = c ? 0.0f : best, bi = c ? -1 : bi;
            ST(best, y, ob + ow);
            if (has_idx) idx[ob + ow] = bi;
        } else {
            ST((((0.0f + v00) + v01) + v10 + v11) / 4.0f, y, ob + ow);
        }
    }
}

/* V outputs of the row from column ow on (V = 8 or 4; V2 = 2V): their two
 * inputs in this row interleaved into one 2V-wide store (one conversion on
 * the storage path), the same values as the scalar loop. */
#define POOL2X2_BWD_V(V, V2, LANES, MASK)                                                       \
    do {                                                                                        \
        const CAT(float, V) v = (CAT(float, V))(0.0f) + CAT(convert_float, V)(CAT(LD, V)(dy + ob + ow, 0)); \
        CAT(float, V) a, b;                                                                     \
        if (kind != 1) {                                                                        \
            const CAT(int, V) id = CAT(vload, V)(0, idx + ob + ow) -                            \
                                   ((CAT(int, V))(ih * w + 2 * ow) + 2 * (CAT(int, V))LANES);   \
            a = select((CAT(float, V))(0.0f), v, id == 0);                                      \
            b = select((CAT(float, V))(0.0f), v, id == 1);                                      \
        } else {                                                                                \
            a = b = v / 4.0f;                                                                   \
        }                                                                                       \
        CAT(float, V2) ab = shuffle2(a, b, MASK);                                               \
        if (beta != 0.0f) ab += beta * CAT(convert_float, V2)(CAT(LD, V2)(dx + e0 + 2 * ow, 0)); \
        CAT(ST, V2)(ab, dx + e0 + 2 * ow, 0);                                                   \
    } while (0)
#define INTERLEAVE8 (uint16)(0, 8, 1, 9, 2, 10, 3, 11, 4, 12, 5, 13, 6, 14, 7, 15)
#define INTERLEAVE4 (uint8)(0, 4, 1, 5, 2, 6, 3, 7)

/* One work-item per input row (grid: 1, h, planes): each output of the row's
 * window row feeds two adjacent inputs; columns and rows past the last
 * window get zeros. */
__kernel void cl16_pool2x2_bwd(__global const store_t *dy, __global const int *idx,
                               __global store_t *dx, const float beta, const int h, const int w,
                               const int ho, const int wo, const int kh, const int kw,
                               const int sh, const int sw, const int ph, const int pw,
                               const int kind, const int cip) {
    const int ih = (int)get_global_id(1);
    const long plane = (long)get_global_id(2);
    if (ih >= h) return;
    const long e0 = (plane * h + ih) * w;
    const int oh = ih >> 1;
    int iw = 0;
    if (oh < ho) {
        const long ob = (plane * ho + oh) * wo;
        /* Vectors of 8 outputs, then of 4; with beta 0 a row's last vector
         * ends at its last output, overlapping the one before (the same
         * bits stored again; with beta != 0 the overlap would add beta*dx
         * twice), so few outputs take the scalar loop, whose scalar
         * conversions are slow on the storage path. */
        int ow = 0;
        for (; ow + 8 <= wo; ow += 8) POOL2X2_BWD_V(8, 16, LANES8, INTERLEAVE8);
        if (ow < wo && wo >= 8 && beta == 0.0f) {
            ow = wo - 8;
            POOL2X2_BWD_V(8, 16, LANES8, INTERLEAVE8);
            ow = wo;
        }
        for (; ow + 4 <= wo; ow += 4) POOL2X2_BWD_V(4, 8, LANES4, INTERLEAVE4);
        if (ow < wo && wo >= 4 && beta == 0.0f) {
            ow = wo - 4;
            POOL2X2_BWD_V(4, 8, LANES4, INTERLEAVE4);
            ow = wo;
        }
        for (; ow < wo; ow++) {
            const long o = ob + ow;
            float a, b;
            if (kind != 1) { /* MAX; index -1 (ReLU zeroed the output) matches nothing */
                const int id = idx[o] - ih * w - 2 * ow;
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
