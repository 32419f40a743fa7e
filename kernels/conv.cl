/* conv.cl - the non-GEMM parts of 2-D convolution (NCHW): im2col (input
 * patches as GEMM columns), col2im (gather of column gradients into dx), the
 * bias gradient, a float widening copy, and a direct forward kernel.
 *
 * Build parameters (-D): those of common.cl only (CL16_DTYPE, CL16_HALF_*).
 * Sizes and per-call values are kernel arguments, so one program serves every
 * shape. Sums are accumulated in float and rounded once on store.
 */
#include "common.cl"

/* col[z][(c*KH + i)*KW + j][oh*Wo + ow] = x[z][c][oh*sh - ph + i*dh][ow*sw - pw + j*dw]
 * (0 outside the image), for images z of the chunk starting at element x_off.
 * One work-item per row (c, i, j) of one image: a whole Ho x Wo plane, so that
 * PoCL schedules few work-groups (one element per work-item cost ~1 us of
 * scheduling per group); each output row is zeros, a copy, zeros. Exact copy.
 * Grid: (C*KH*KW rounded up, images). */
/* im2col only moves values: f16 and bf16 elements travel as raw 16-bit patterns (no
 * conversions; +0.0 is all zero bits in both formats). */
#if CL16_DTYPE == 0
typedef float raw_t;
typedef float16 raw16_t;
#else
typedef ushort raw_t;
typedef ushort16 raw16_t;
#endif

__kernel void cl16_conv_im2col(__global const raw_t *restrict x, long x_off, __global raw_t *restrict col, int C,
                               int H, int W, int KH, int KW, int Ho, int Wo, int sh, int sw, int ph,
                               int pw, int dh, int dw) {
    const int r = (int)get_global_id(0), z = (int)get_global_id(1);
    const int rows = C * KH * KW;
    if (r >= rows) return;
    const int j = r % KW, i = (r / KW) % KH, c = r / (KH * KW);
    const long xb = x_off + ((long)z * C + c) * H * W;
    __global raw_t *out = col + ((long)z * rows + r) * Ho * Wo;
    /* Output columns ow whose input column lies inside: [lo, hi). */
    const int w0 = j * dw - pw; /* iw = ow*sw + w0 */
    int lo = w0 >= 0 ? 0 : (-w0 + sw - 1) / sw;
    int hi = W - 1 - w0 < 0 ? 0 : (W - 1 - w0) / sw + 1;
    hi = min(hi, Wo);
    lo = min(lo, hi);
    if (sh == 1 && sw == 1 && Wo == W) {
        /* Unit strides, output rows as wide as the input's ("same" padding,
         * most 3x3 layers): the valid output rows [a, b) are one run of the
         * input plane, shifted by w0 along the flat index. One long copy (a
         * few 16-wide vectors per row instead of a short loop per row), then
         * the columns whose input lies past a row's edge are zeroed. Reads
         * stay inside this plane. */
        const int a = clamp(ph - i * dh, 0, Ho), b = clamp(H + ph - i * dh, a, Ho);
        const long n = (long)(b - a) * W;
        const long xs0 = xb + (long)(a - ph + i * dh) * W + w0; /* x of run element 0 */
        const long t0 = clamp(xb - xs0, 0L, n), t1 = clamp(xb + (long)H * W - xs0, t0, n);
        __global raw_t *o = out + (long)a * W;
        __global const raw_t *restrict xs = x + xs0;
        for (long t = 0; t < (long)a * W; t++) out[t] = 0;
        for (long t = 0; t < t0; t++) o[t] = 0;
        for (long t = t0; t < t1; t++) o[t] = xs[t];
        for (long t = t1; t < n; t++) o[t] = 0;
        for (long t = (long)b * W; t < (long)Ho * W; t++) out[t] = 0;
        for (int oh = 0; oh < b - a; oh++) {
            __global raw_t *orow = o + (long)oh * W;
            for (int ow = 0; ow < lo; ow++) orow[ow] = 0;
            for (int ow = hi; ow < W; ow++) orow[ow] = 0;
        }
        return;
    }
    for (int oh = 0; oh < Ho; oh++) {
        const int ih = oh * sh - ph + i * dh;
        __global raw_t *o = out + (long)oh * Wo;
        if (ih < 0 || ih >= H) {
            for (int ow = 0; ow < Wo; ow++) o[ow] = 0;
            continue;
        }
        const long xr = xb + (long)ih * W + w0;
        for (int ow = 0; ow < lo; ow++) o[ow] = 0;
        if (sw == 1) {
            __global const raw_t *xs = x + xr;
            for (int ow = lo; ow < hi; ow++) o[ow] = xs[ow];
        } else {
            for (int ow = lo; ow < hi; ow++) o[ow] = x[xr + (long)ow * sw];
        }
        for (int ow = hi; ow < Wo; ow++) o[ow] = 0;
    }
}

/* The zero-padded planes from which the implicit convolution's GEMM reads the
 * rows of its column matrix in place (gemm.cl, IMPLICIT; conv.c,
 * fwd_implicit). A channel's plane holds sh*sw phases of Hq rows of Wq
 * elements, then plane - sh*sw*Hq*Wq closing zeros; element (r, q) of phase
 * (a, b) is x[r*sh + a - ph][q*sw + b - pw], zero outside the image. At
 * stride 1 (one phase) with Wq = W + pw a row is pw zeros then the W values,
 * and one run of zeros pads both the row before and the row after (pw
 * closing zeros end the plane); at stride s each phase is a stride-1 image
 * that the taps reading it walk with unit steps. Phases no tap reads (bit a
 * of rmask, b of cmask clear) are not written. cl16_conv_pad keeps the
 * dtype's bits; cl16_conv_pad_float widens to float (exact). One work-item
 * per channel plane of one image (few work-groups: PoCL's cost per group
 * outweighed a row's copy), eight values at a time (then four) where sw is 1
 * or 2 (at 2: sixteen loaded, the phase's eight picked; one at a time these
 * were 1.4 ms of ResNet-20's f16 layer3.down backward-weights, 0.7 in f32).
 * Grid: (C rounded up, images). */
#define CONV_PAD(name, in_t, out_t, GET)                                                        \
    __kernel void name(__global const in_t *restrict x, long x_off, __global out_t *restrict xp, \
                       int C, int H, int W, int ph, int pw, int sh, int sw, int Hq, int Wq,     \
                       int plane, int rmask, int cmask) {                                       \
        const int c = (int)get_global_id(0), z = (int)get_global_id(1), nph = sh * sw;          \
        if (c >= C) return;                                                                     \
        __global out_t *pl = xp + ((long)z * C + c) * plane;                                    \
        __global const in_t *xc = x + x_off + ((long)z * C + c) * H * W;                        \
        for (int f = 0; f < nph; f++) {                                                         \
            const int a = f / sw, b = f % sw;                                                   \
            if (!((rmask >> a) & 1) || !((cmask >> b) & 1)) continue;                           \
            /* q in [lo, hi) reads column q*sw + b - pw of the image */                        \
            const int lo = pw > b ? min(Wq, (pw - b + sw - 1) / sw) : 0;                        \
            const int hi = max(lo, min(Wq, (W + pw - b + sw - 1) / sw));                        \
            for (int rr = 0; rr < Hq; rr++) {                                                   \
                __global out_t *o = pl + ((long)f * Hq + rr) * Wq;                              \
                const int ih = rr * sh + a - ph;                                                \
                if (ih < 0 || ih >= H) {                                                        \
                    for (int q = 0; q < Wq; q++) o[q] = 0;                                      \
                    continue;                                                                   \
                }                                                                               \
                __global const in_t *xs = xc + (long)ih * W;                                    \
                for (int q = 0; q < lo; q++) o[q] = 0;                                          \
                if (sw == 1) {                                                                  \
                    __global const in_t *xr = xs + lo + b - pw;                                 \
                    const int n = hi - lo;                                                      \
                    int q = 0;                                                                  \
                    for (; q + 8 <= n; q += 8) vstore8(GET##8(xr, q), 0, o + lo + q);           \
                    for (; q + 4 <= n; q += 4) vstore4(GET##4(xr, q), 0, o + lo + q);           \
                    for (; q < n; q++) o[lo + q] = GET(xr, q);                                  \
                } else {                                                                        \
                    int q = lo;                                                                 \
                    /* sw 2: sixteen loaded within the row, from the first value read */        \
                    /* (the even ones) or from the one before (the odd ones) */                 \
                    for (; sw == 2 && q + 8 <= hi; q += 8) {                                    \
                        const int e = 2 * q + b - pw;                                           \
                        if (e + 16 <= W)                                                        \
                            vstore8(GET##16(xs, e).even, 0, o + q);                             \
                        else if (e >= 1 && e + 15 <= W)                                         \
                            vstore8(GET##16(xs, e - 1).odd, 0, o + q);                          \
                        else                                                                    \
                            break;                                                              \
                    }                                                                           \
                    for (; q < hi; q++) o[q] = GET(xs, q * sw + b - pw);                        \
                }                                                                               \
                for (int q = hi; q < Wq; q++) o[q] = 0;                                         \
            }                                                                                   \
        }                                                                                       \
        for (int q = nph * Hq * Wq; q < plane; q++) pl[q] = 0; /* closing zeros */              \
    }
/* One element, and four, eight or sixteen from element i on (any alignment). */
#define PAD_RAW(p, i) ((p)[i])
#define PAD_RAW4(p, i) vload4(0, (p) + (i))
#define PAD_RAW8(p, i) vload8(0, (p) + (i))
#define PAD_RAW16(p, i) vload16(0, (p) + (i))
#define PAD_FLOAT(p, i) ((float)LD((p), (i)))
#if CL16_DTYPE == 0
#define PAD_FLOAT4(p, i) vload4(0, (p) + (i))
#define PAD_FLOAT8(p, i) vload8(0, (p) + (i))
#define PAD_FLOAT16(p, i) vload16(0, (p) + (i))
#elif CL16_DTYPE == 2
#define PAD_FLOAT4(p, i) cl16_bf2f4(vload4(0, (p) + (i)))
#define PAD_FLOAT8(p, i) cl16_bf2f8(vload8(0, (p) + (i)))
#define PAD_FLOAT16(p, i) cl16_bf2f16(vload16(0, (p) + (i)))
#else
#define PAD_FLOAT4(p, i) vload_half4(0, (p) + (i))
#define PAD_FLOAT8(p, i) vload_half8(0, (p) + (i))
#define PAD_FLOAT16(p, i) vload_half16(0, (p) + (i))
#endif
CONV_PAD(cl16_conv_pad, raw_t, raw_t, PAD_RAW)
CONV_PAD(cl16_conv_pad_float, store_t, float, PAD_FLOAT)

/* tab[r] = where row r = (c*KH + i)*KW + j < rows of the column matrix starts
 * in a padded image (cl16_conv_pad's layout: channel planes of `plane`
 * elements, phases of phplane, rows of Wp): tap (i, j) reads row offset
 * u = i*dh from row phase u % sh, u / sh rows down, and likewise columns
 * (the implicit GEMM's row table). Grid: (rows rounded up). */
__kernel void cl16_conv_rowtab(__global int *tab, int rows, int KH, int KW, int plane, int Wp,
                               int dh, int dw, int sh, int sw, int phplane) {
    const int r = (int)get_global_id(0);
    if (r >= rows) return;
    const int j = r % KW, i = (r / KW) % KH, c = r / (KH * KW), u = i * dh, v = j * dw;
    tab[r] = c * plane + (u % sh * sw + v % sw) * phplane + u / sh * Wp + v / sw;
}

/* dyt[z][P(p)][o] = (float)dy[z][o][p] for the Cout x HW planes of the images
 * z of a chunk (starting at element dy_off), rows of ld >= Cout floats (zeros
 * past Cout): the B operand of backward-weights' GEMM, dw^T = sum_z col_z *
 * dyt_z, which is NN that way with the large operand (the columns) read once
 * per image. Output rows Wo pixels wide are laid Wp >= Wo rows apart, P(p) =
 * (p / Wo)*Wp + p % Wo, with Ho*Wp rows per image and the Wp - Wo rows after
 * each output row zero (the implicit GEMM's junk columns, which then add
 * nothing); Wp = Wo = HW packs them. Exact. One work-item per DYT_RUN pixels
 * of one image (few work-groups), in 16 x 16 blocks transposed in registers:
 * 16-wide loads (one vector conversion on the storage path) and 16-wide
 * stores; element by element only at the edges. Grid: (HW / DYT_RUN rounded
 * up, images). */
#define DYT_RUN 64
__kernel void cl16_conv_dy_t(__global const store_t *dy, long dy_off, __global float *dyt, int Cout,
                             int HW, int ld, int Wo, int Wp) {
    const int p0 = (int)get_global_id(0) * DYT_RUN, z = (int)get_global_id(1);
    if (p0 >= HW) return;
    const int pe = min(p0 + DYT_RUN, HW);
    __global const store_t *src = dy + dy_off + (long)z * Cout * HW;
    __global float *d = dyt + (long)z * (HW / Wo) * Wp * ld;
#define DYT_ROW(p) ((long)((p) / Wo * Wp + (p) % Wo) * ld)
    for (int pb = p0; pb < pe; pb += 16) {
        const int np = min(16, pe - pb);
        for (int ob = 0; ob < ld; ob += 16) {
            if (np == 16 && ob + 16 <= ld) {
                float t[16][16];
                for (int i = 0; i < 16; i++) {
                    float16 v = (float16)(0.0f);
                    if (ob + i < Cout) v = convert_float16(LD16(src + (long)(ob + i) * HW + pb, 0));
                    vstore16(v, 0, t[i]);
                }
                for (int q = 0; q < 16; q++) {
                    float16 c = (float16)(t[0][q], t[1][q], t[2][q], t[3][q], t[4][q], t[5][q],
                                          t[6][q], t[7][q], t[8][q], t[9][q], t[10][q], t[11][q],
                                          t[12][q], t[13][q], t[14][q], t[15][q]);
                    vstore16(c, 0, d + DYT_ROW(pb + q) + ob);
                }
            } else {
                for (int q = 0; q < np; q++)
                    for (int o = ob; o < min(ob + 16, ld); o++)
                        d[DYT_ROW(pb + q) + o] =
                            o < Cout ? (float)LD(src, (long)o * HW + pb + q) : 0.0f;
            }
        }
    }
    /* The zero rows after each output row that ends in this run. */
    if (Wp > Wo)
        for (int e = (p0 / Wo + 1) * Wo - 1; e < pe; e += Wo)
            for (long f = DYT_ROW(e) + ld; f < DYT_ROW(e) + (long)(Wp - Wo + 1) * ld; f++)
                d[f] = 0.0f;
#undef DYT_ROW
}

/* dw[(g*cog + o)*ckk + r] = beta * dw + dwt[(g*ckk + r)*ld + o] rounded once:
 * the float sums of backward-weights (per group ckk x cog, rows of ld >= cog
 * floats) into dw. Grid: (Cout * ckk). */
__kernel void cl16_conv_dw_store(__global const float *dwt, __global store_t *dw, int Cout, int ckk,
                                 int groups, int ld, float beta) {
    const int e = (int)get_global_id(0);
    if (e >= Cout * ckk) return;
    const int co = e / ckk, r = e % ckk, cog = Cout / groups, g = co / cog, o = co % cog;
    float v = dwt[((long)g * ckk + r) * ld + o];
    if (beta != 0.0f) v += beta * (float)LD(dw, e);
    ST(v, dw, e);
}

/* dx[z][c][h][w] = beta * dx + sum of the column gradients that element fed:
 * dcol[z][(c*KH + i)*KW + j][oh*Wo + ow] over every (i, j) with
 * h = oh*sh - ph + i*dh, w = ow*sw - pw + j*dw. A gather (each work-item owns
 * one plane of dx and sums each element's terms itself): no atomics, a fixed
 * summation order, so runs agree bitwise. dcol is float (one rounding, on the
 * store into dx). The plane is contiguous in dx, so it is written 16
 * elements at a time (ST16: the vector half conversions of PoCL's storage
 * path; scalar ones cost more than the sums). beta == 0 never reads dx.
 * Grid: (C, images). */
CL16_INLINE float col2im_one(__global const float *dc, int h, int w, int KH, int KW, int Ho, int Wo,
                        int sh, int sw, int ph, int pw, int dh, int dw) {
    const int hw = Ho * Wo;
    float s = 0.0f;
    for (int i = 0; i < KH; i++) {
        /* Stride 1 (the common case) needs no division. */
        const int th = h + ph - i * dh;
        if (th < 0 || (sh != 1 && th % sh)) continue;
        const int oh = sh == 1 ? th : th / sh;
        if (oh >= Ho) continue;
        for (int j = 0; j < KW; j++) {
            const int tw = w + pw - j * dw;
            if (tw < 0 || (sw != 1 && tw % sw)) continue;
            const int ow = sw == 1 ? tw : tw / sw;
            if (ow >= Wo) continue;
            s += dc[(long)(i * KW + j) * hw + oh * Wo + ow];
        }
    }
    return s;
}

__kernel void cl16_conv_col2im(__global const float *dcol, __global store_t *dx, long dx_off, int C,
                               int H, int W, int KH, int KW, int Ho, int Wo, int sh, int sw, int ph,
                               int pw, int dh, int dw, float beta) {
    const int c = (int)get_global_id(0), z = (int)get_global_id(1);
    if (c >= C) return;
    __global const float *dc = dcol + ((long)z * C + c) * KH * KW * Ho * Wo;
    __global store_t *o = dx + dx_off + ((long)z * C + c) * H * W;
    const int plane = H * W, pv = plane - plane % 16;
    int h = 0, w = 0; /* of element e */
    for (int e = 0; e < pv; e += 16) {
        float t[16];
        for (int b = 0; b < 16; b++) {
            t[b] = col2im_one(dc, h, w, KH, KW, Ho, Wo, sh, sw, ph, pw, dh, dw);
            if (++w == W) w = 0, h++;
        }
        float16 v = vload16(0, t);
        if (beta != 0.0f) v += (float16)(beta) * convert_float16(LD16(o + e, 0));
        ST16(v, o + e, 0);
    }
    for (int e = pv; e < plane; e++) {
        float s = col2im_one(dc, h, w, KH, KW, Ho, Wo, sh, sw, ph, pw, dh, dw);
        if (beta != 0.0f) s += beta * (float)LD(o, e);
        ST(s, o, e);
        if (++w == W) w = 0, h++;
    }
}

/* db[c] = beta * db[c] + sum over images and pixels of dy[n][c][.] (float
 * sum in a fixed order: 16 lanes, then across them). The plane is read 16
 * elements at a time (one vector conversion on the storage path; scalar ones
 * made f16 twice as slow as f32). Grid: (Cout). */
__kernel void cl16_conv_bias_grad(__global const store_t *dy, __global store_t *db, int N, int Cout,
                                  int HW, float beta) {
    const int c = (int)get_global_id(0);
    if (c >= Cout) return;
    float s = 0.0f;
    for (int n = 0; n < N; n++) {
        __global const store_t *pl = dy + ((long)n * Cout + c) * HW;
        float16 v = 0.0f;
        int p = 0;
        for (; p + 16 <= HW; p += 16) v += convert_float16(LD16(pl + p, 0));
        float8 v8 = v.lo + v.hi;
        float4 v4 = v8.lo + v8.hi;
        float t = (v4.x + v4.y) + (v4.z + v4.w);
        for (; p < HW; p++) t += (float)LD(pl, p);
        s += t;
    }
    if (beta != 0.0f) s += beta * (float)LD(db, c);
    ST(s, db, c);
}

/* dst[i] = (float)src[off + i], i < n (exact); 16 elements per work-item (few
 * work-groups: PoCL's cost per group dominates one-element work-items), one
 * 16-wide load (a vector conversion on PoCL's storage path) where they all exist. */
__kernel void cl16_conv_widen(__global const store_t *src, long off, __global float *dst, long n) {
    const long q = (long)get_global_id(0), i0 = q * 16;
    src += off;
    if (i0 + 16 <= n) {
        vstore16(convert_float16(LD16(src, q)), q, dst);
        return;
    }
    for (long i = i0; i < n; i++) dst[i] = (float)LD(src, i);
}

/* dst[off + i] = src[i] rounded once to the dtype, i < n; 16 elements per
 * work-item (one vstore_half16 on the storage path), the tail one by one. */
__kernel void cl16_conv_narrow(__global const float *src, __global store_t *dst, long off, long n) {
    const long q = (long)get_global_id(0), i0 = q * 16;
    dst += off;
    if (i0 + 16 <= n) {
        ST16(vload16(q, src), dst, q);
        return;
    }
    for (long i = i0; i < n; i++) ST(src[i], dst, i);
}

/* Before a strided backward-data's phase GEMMs (each writes the pixels of
 * its phase, with its own beta): the pixels no phase writes become beta * dx,
 * rounded once, and the others keep their bits; for beta 0 every pixel
 * becomes 0 (dx may hold any bits; the GEMMs overwrite theirs). Pixel (h, w)
 * is written when bit h % sh of rmask and bit w % sw of cmask are set (a 1x1
 * kernel without padding: rmask = cmask = 1, the pixels its stride samples).
 * 16 columns of one row per work-item, one vector load and store where all 16
 * exist. Grid: (ceil(W / 16), H, planes). */
__kernel void cl16_conv_scale_unsampled(__global store_t *dx, int H, int W, int sh, int sw,
                                        int rmask, int cmask, float beta) {
    const int w0 = (int)get_global_id(0) * 16, h = (int)get_global_id(1);
    if (w0 >= W) return;
    __global store_t *row = dx + ((long)get_global_id(2) * H + h) * W + w0;
    const int whole = !((rmask >> (h % sh)) & 1); /* no pixel of this row is written */
    if (w0 + 16 <= W) {
        if (beta == 0.0f) { /* +0.0 is all zero bits in every dtype: stored as bits */
            vstore16((raw16_t)(0), 0, (__global raw_t *)row);
            return;
        }
        const float16 v = convert_float16(LD16(row, 0));
        const int16 col = (int16)(w0) + (int16)(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
        const int16 keep = whole ? (int16)(0) : ((int16)(cmask) >> (col % (int16)(sw))) & (int16)(1);
        ST16(select(beta * v, v, keep != (int16)(0)), row, 0);
        return;
    }
    for (int c = 0; w0 + c < W; c++)
        if (beta == 0.0f || whole || !((cmask >> ((w0 + c) % sw)) & 1))
            ST(beta == 0.0f ? 0.0f : beta * LD(row, c), row, c);
}

/* The A operand of one phase of a strided backward-data (conv.c, bwd_phases):
 * wp[off + e] for e = ((c * cog + o) * nt + a) * nu + b < C * cog * nt * nu is
 * w[g*cog + o][c % cg][kh0 - sh*a][kw0 - sw*b] (g = c / cg), the taps of the
 * phase from the largest down, bits copied. Grid: (C * cog * nt * nu). */
__kernel void cl16_conv_phase_w(__global const raw_t *w, __global raw_t *wp, long off, int Cout, int C,
                                int KH, int KW, int groups, int nt, int nu, int kh0, int kw0,
                                int sh, int sw) {
    const int e = (int)get_global_id(0), cog = Cout / groups, cg = C / groups, taps = nt * nu;
    if (e >= C * cog * taps) return;
    const int b = e % nu, a = (e / nu) % nt, o = (e / taps) % cog, c = e / (taps * cog);
    const int g = c / cg, cl = c % cg;
    wp[off + e] = w[((long)(g * cog + o) * cg + cl) * KH * KW + (kh0 - sh * a) * KW + (kw0 - sw * b)];
}

/* wt[(g*ckk + r)*cog + o] = (float)w[(g*cog + o)*ckk + r] for e = co*ckk + r
 * < Cout*ckk, cog = Cout/groups: each group's weights transposed, as float
 * (backward-data's GEMM then runs NN). Grid: (Cout * ckk). */
__kernel void cl16_conv_transpose_w(__global const store_t *w, __global float *wt, int Cout, int ckk,
                                    int groups) {
    const int e = (int)get_global_id(0);
    if (e >= Cout * ckk) return;
    const int co = e / ckk, r = e % ckk, cog = Cout / groups;
    const int g = co / cog, o = co % cog;
    wt[((long)g * ckk + r) * cog + o] = (float)LD(w, e);
}

/* The weights of backward-data as a forward convolution (stride 1): dy
 * convolved with each kernel rotated by 180 degrees, input and output channels
 * swapped within each group: wf[c][o][i][j] = w[g*cog + o][cl][KH-1-i][KW-1-j]
 * for c = g*cg + cl. Bits move unchanged. One work-item per element of wf. */
__kernel void cl16_conv_flip_w(__global const raw_t *w, __global raw_t *wf, int Cout, int C,
                               int KH, int KW, int groups) {
    const int e = (int)get_global_id(0), kk = KH * KW, cog = Cout / groups, cg = C / groups;
    if (e >= C * cog * kk) return;
    const int ij = e % kk, o = (e / kk) % cog, c = e / (kk * cog);
    const int g = c / cg, cl = c % cg;
    wf[e] = w[((long)(g * cog + o) * cg + cl) * kk + (kk - 1 - ij)];
}

/* Direct forward convolution, no column buffer, for layers with few input
 * channels (a network's first layer) where im2col's copy outweighs the work.
 * PoCL vectorises only across work-items of the outermost loop, so the kernel
 * vectorises itself: a work-item computes DIRECT_TW neighbouring output
 * columns (one float8) for DIRECT_TC output channels of one group (a register
 * tile: each input vector serves DIRECT_TC channels, each weight DIRECT_TW
 * columns). Interior rows at stride 1 load the inputs as one unaligned
 * vector; edges and other strides gather them one by one. The weights come
 * packed as float by cl16_conv_direct_pack, DIRECT_TC channels side by side
 * (one aligned float8 load per kernel tap; DIRECT_TC must stay 8). */
#define DIRECT_TW 8
#define DIRECT_TC 8
#define DIRECT_SPAN 32 /* longest row segment staged in private memory */
/* One tap of the register tile: each of the DIRECT_TC weights in wv times
 * the DIRECT_TW inputs in xv, into accumulators acc0..acc7. */
#define DIRECT_ACC(wv, xv)                                                                         \
    acc0 += (wv).s0 * (xv), acc1 += (wv).s1 * (xv), acc2 += (wv).s2 * (xv),                       \
    acc3 += (wv).s3 * (xv), acc4 += (wv).s4 * (xv), acc5 += (wv).s5 * (xv),                       \
    acc6 += (wv).s6 * (xv), acc7 += (wv).s7 * (xv)
/* LD8P(p) / ST8P(v, p), 16-bit types: 8 raw elements of the storage type in
 * private memory as float8, and v rounded into them (one vector conversion
 * each way, the elements moved one by one; BWD_DIRECT_STORE). */
#if CL16_DTYPE == 0
#define LD8U(p) vload8(0, (p))
#define ST8U(v, p) vstore8((v), 0, (p))
#elif CL16_DTYPE == 2
#define LD8U(p) cl16_bf2f8(vload8(0, (p)))
#define ST8U(v, p) vstore8(cl16_f2bf8(v), 0, (p))
#define ST8P(v, p) vstore8(cl16_f2bf8(v), 0, (p))
#define LD8P(p) cl16_bf2f8(vload8(0, (p)))
#elif CL16_HALF_NATIVE && CL16_HALF_ARITH
#define LD8U(p) convert_float8(vload8(0, (p)))
#define ST8U(v, p) vstore_half8_rte((v), 0, (p))
#define ST8P(v, p) vstore_half8_rte((v), 0, (__private half *)(p))
#define LD8P(p) vload_half8(0, (__private const half *)(p))
#else
#define LD8U(p) vload_half8(0, (p))
#define ST8U(v, p) vstore_half8_rte((v), 0, (p))
#define ST8P(v, p) vstore_half8_rte((v), 0, (__private half *)(p))
#define LD8P(p) vload_half8(0, (__private const half *)(p))
#endif

/* wp[(((g*ctiles + tile)*cig + ci)*KK + q)*DIRECT_TC + a] = w[co][ci][q] with
 * co = g*cog + tile*DIRECT_TC + a (past the group's end: its last channel,
 * computed but never stored). Grid: (groups * ctiles * cig * KK). */
__kernel void cl16_conv_direct_pack(__global const store_t *wt, __global float *wp, int Cout, int cig,
                                    int KK, int groups) {
    const int e = (int)get_global_id(0);
    const int cog = Cout / groups, ctiles = (cog + DIRECT_TC - 1) / DIRECT_TC;
    if (e >= groups * ctiles * cig * KK) return;
    const int q = e % KK, ci = (e / KK) % cig, tile = (e / (KK * cig)) % ctiles;
    const int g = e / (KK * cig * ctiles);
    for (int a = 0; a < DIRECT_TC; a++) {
        const int co = min(g * cog + tile * DIRECT_TC + a, g * cog + cog - 1);
        wp[(long)e * DIRECT_TC + a] = (float)LD(wt, ((long)co * cig + ci) * KK + q);
    }
}

/* Grid: (ceil(Wo / DIRECT_TW) rounded up, Ho, N * groups * ceil(Cout_per_group / DIRECT_TC)). */
__kernel void cl16_conv_direct(__global const store_t *x, __global const float *wp,
                               __global const store_t *bias, int has_bias, __global store_t *y,
                               int C, int H, int W, int Cout, int KH, int KW, int Ho, int Wo, int sh,
                               int sw, int ph, int pw, int dh, int dw, int groups) {
    const int ow0 = (int)get_global_id(0) * DIRECT_TW, oh = (int)get_global_id(1);
    const int t = (int)get_global_id(2);
    const int cog = Cout / groups, cig = C / groups;
    const int ctiles = (cog + DIRECT_TC - 1) / DIRECT_TC;
    if (ow0 >= Wo) return;
    const int n = t / (groups * ctiles), g = (t / ctiles) % groups, tile = t % ctiles;
    const int co0 = g * cog + tile * DIRECT_TC, clast = g * cog + cog - 1;
    float8 acc0 = 0.0f, acc1 = 0.0f, acc2 = 0.0f, acc3 = 0.0f;
    float8 acc4 = 0.0f, acc5 = 0.0f, acc6 = 0.0f, acc7 = 0.0f;
    const int kk = KH * KW;
    /* Input columns one output row's taps span: 8 outputs, KW taps. */
    const int span = (DIRECT_TW - 1) * sw + (KW - 1) * dw + 1;
    for (int ci = 0; ci < cig; ci++) {
        __global const store_t *xc = x + ((long)n * C + g * cig + ci) * H * W;
        __global const float *wc = wp + ((long)(g * ctiles + tile) * cig + ci) * kk * DIRECT_TC;
        for (int i = 0; i < KH; i++) {
            const int ih = oh * sh - ph + i * dh;
            if (ih < 0 || ih >= H) continue;
            __global const store_t *xr = xc + (long)ih * W;
            const int iwb = ow0 * sw - pw; /* input column of tap 0, output ow0 */
            if (span <= DIRECT_SPAN) {
                /* The input row segment every tap of this row reads, converted
                 * once into private memory (zeros outside the image): each
                 * input element is loaded once instead of once per tap. */
                float row[DIRECT_SPAN];
                if (iwb >= 0 && iwb + span <= W) {
                    for (int b = 0; b < span; b++) row[b] = (float)LD(xr, iwb + b);
                } else {
                    for (int b = 0; b < span; b++) {
                        const int iw = iwb + b;
                        row[b] = (iw >= 0 && iw < W) ? (float)LD(xr, iw) : 0.0f;
                    }
                }
                for (int j = 0; j < KW; j++) {
                    float8 xv;
                    if (sw == 1) {
                        xv = vload8(0, row + j * dw);
                    } else {
                        float tmp[DIRECT_TW];
                        for (int b = 0; b < DIRECT_TW; b++) tmp[b] = row[b * sw + j * dw];
                        xv = vload8(0, tmp);
                    }
                    const float8 wv = vload8(i * KW + j, wc);
                    DIRECT_ACC(wv, xv);
                }
                continue;
            }
            for (int j = 0; j < KW; j++) {
                const int iw0 = ow0 * sw - pw + j * dw;
                float8 xv;
                if (sw == 1 && iw0 >= 0 && iw0 + DIRECT_TW <= W) {
                    xv = LD8U(xr + iw0);
                } else {
                    float tmp[DIRECT_TW];
                    for (int b = 0; b < DIRECT_TW; b++) {
                        const int iw = iw0 + b * sw;
                        tmp[b] = (iw >= 0 && iw < W) ? (float)LD(xr, iw) : 0.0f;
                    }
                    xv = vload8(0, tmp);
                }
                const float8 wv = vload8(i * KW + j, wc);
                DIRECT_ACC(wv, xv);
            }
        }
    }
    /* Whole rows of 8 are stored as one vector (one vector conversion on the
     * storage path), the edge element by element. */
    const float8 accs[DIRECT_TC] = {acc0, acc1, acc2, acc3, acc4, acc5, acc6, acc7};
    for (int a = 0; a < DIRECT_TC; a++) {
        const int co = co0 + a;
        if (co > clast) break;
        const float bv = has_bias ? (float)LD(bias, co) : 0.0f;
        const long base = (((long)n * Cout + co) * Ho + oh) * Wo;
        const float8 v = accs[a] + bv;
        if (ow0 + DIRECT_TW <= Wo) {
            ST8U(v, y + base + ow0);
        } else {
            float res[DIRECT_TW];
            vstore8(v, 0, res);
            for (int b = 0; ow0 + b < Wo; b++) ST(res[b], y, base + ow0 + b);
        }
    }
}

/* Direct backward-data for any stride (the stride-1 case runs as a forward
 * convolution instead): dx[n][c][h][w] = beta*dx + sum over o, i, j of
 * dy[n][g*cog + o][oh][ow] * w[g*cog + o][cl][i][j] where h = oh*sh - ph + i*dh,
 * w = ow*sw - pw + j*dw. A gather with the forward kernel's register tile:
 * DIRECT_TC channels of one group times DIRECT_TW columns of one phase,
 * w = w0 + q + sw*b (b < DIRECT_TW, q < sw). All the columns of a phase take
 * the same taps (those with sw dividing q + pw - j*dw), from DIRECT_TW
 * consecutive dy elements: no tap is multiplied by a zero, and inside the
 * image the dy row segment is one vector load. wp holds the kernels rotated
 * and packed as for the forward kernel (cl16_conv_flip_w, then
 * cl16_conv_direct_pack with C output and Cout input channels): tap (i, j) is
 * packed entry KH*KW - 1 - (i*KW + j). Sums in float, one rounding on store,
 * a fixed order: bitwise reproducible. dy holds the images of a chunk, dx
 * the whole batch: image n of dy is image dx_n0 + n of dx.
 * Grid: (ceil(W / (DIRECT_TW*sw)) * sw rounded up, H,
 *        images * groups * ceil(C_per_group / DIRECT_TC)). */
/* dx[e + b*sw] = beta*dx + v.s<b> for b < DIRECT_TW with b*sw < lim, one
 * rounding each. 16-bit types: dx's old values (beta != 0) and the results
 * converted as one vector each, moved as raw elements (the scalar
 * conversions made the f16 call 1.75-1.81x f32's at ResNet-20's
 * layer2.down with beta 1, the vector form 1.13-1.34x: `build/bench/layer_ab
 * resnet20 7 beta1`, EPYC); f32 element by element. */
#if CL16_DTYPE == 0
#define BWD_DIRECT_STORE(v, dx, e, sw, lim, beta)                                                  \
    do {                                                                                           \
        float res_[DIRECT_TW];                                                                     \
        vstore8((v), 0, res_);                                                                     \
        for (int b_ = 0; b_ < DIRECT_TW && b_ * (sw) < (lim); b_++) {                              \
            const long e_ = (e) + b_ * (sw);                                                       \
            (dx)[e_] = (beta) != 0.0f ? MADD((beta), (dx)[e_], res_[b_]) : res_[b_];              \
        }                                                                                          \
    } while (0)
#else
#define BWD_DIRECT_STORE(v, dx, e, sw, lim, beta)                                                  \
    do {                                                                                           \
        __global raw_t *d_ = (__global raw_t *)(dx) + (e);                                         \
        raw_t res_[DIRECT_TW];                                                                     \
        float8 v_ = (v);                                                                           \
        if ((beta) != 0.0f) {                                                                      \
            for (int b_ = 0; b_ < DIRECT_TW; b_++)                                                 \
                res_[b_] = b_ * (sw) < (lim) ? d_[b_ * (sw)] : 0;                                  \
            v_ = MADD((beta), LD8P(res_), v_);                                                     \
        }                                                                                          \
        ST8P(v_, res_);                                                                            \
        for (int b_ = 0; b_ < DIRECT_TW && b_ * (sw) < (lim); b_++) d_[b_ * (sw)] = res_[b_];      \
    } while (0)
#endif

/* The kernel's body, for dy of type DYT read by LDY8 (8 consecutive
 * elements as float8) and LDY (one element as float): cl16_conv_bwd_direct
 * reads dy in the storage type; on 16-bit types cl16_conv_bwd_direct_fdy
 * reads a float copy of dy and still writes dx in the storage type (the
 * storage path's f16 dy loads in the inner loop made PoCL's code slower,
 * while one rounding per dx element on store is cheap). */
#define CL16_BWD_DIRECT(NAME, DYT, LDY8, LDY)                                                      \
CL16_INLINE void NAME(__global const DYT *dy, __global const float *wp, __global store_t *dx,   \
                      int dx_n0, float beta, int C, int H, int W, int Cout, int KH, int KW,       \
                      int Ho, int Wo, int sh, int sw, int ph, int pw, int dh, int dw,             \
                      int groups) {                                                               \
    const int gx = (int)get_global_id(0), h = (int)get_global_id(1);                               \
    const int t = (int)get_global_id(2);                                                           \
    const int q = gx % sw, w0 = gx / sw * DIRECT_TW * sw + q; /* column of lane 0 */               \
    const int cg = C / groups, cog = Cout / groups;                                                \
    const int ctiles = (cg + DIRECT_TC - 1) / DIRECT_TC;                                           \
    if (w0 >= W) return;                                                                           \
    const int n = t / (groups * ctiles), g = (t / ctiles) % groups, tile = t % ctiles;             \
    const int c0 = g * cg + tile * DIRECT_TC, clast = g * cg + cg - 1;                             \
    float8 acc0 = 0.0f, acc1 = 0.0f, acc2 = 0.0f, acc3 = 0.0f;                                     \
    float8 acc4 = 0.0f, acc5 = 0.0f, acc6 = 0.0f, acc7 = 0.0f;                                     \
    const int kk = KH * KW;                                                                        \
    const long plane = (long)Ho * Wo;                                                              \
    /* Taps outermost: which taps this phase and row take is decided once                          \
     * (divisions), then each runs over the group's dy channels. */                                \
    for (int i = 0; i < KH; i++) {                                                                 \
        const int th = h + ph - i * dh; /* = oh * sh */                                            \
        if (th < 0 || th % sh) continue;                                                           \
        const int oh = th / sh;                                                                    \
        if (oh >= Ho) continue;                                                                    \
        for (int j = 0; j < KW; j++) {                                                             \
            const int tw = w0 + pw - j * dw; /* = ow * sw for lane 0 */                            \
            if (tw % sw) continue;           /* (exact for negative tw too) */                     \
            const int ow0 = tw / sw;                                                               \
            if (ow0 >= Wo || ow0 + DIRECT_TW <= 0) continue; /* every lane outside */              \
            const int inside = ow0 >= 0 && ow0 + DIRECT_TW <= Wo;                                  \
            __global const DYT *dyp =                                                              \
                dy + ((long)n * Cout + g * cog) * plane + (long)oh * Wo + ow0;                     \
            __global const float *wq = wp + (long)(g * ctiles + tile) * cog * kk * DIRECT_TC +     \
                                       (kk - 1 - (i * KW + j)) * DIRECT_TC;                        \
            for (int o = 0; o < cog; o++, dyp += plane, wq += kk * DIRECT_TC) {                    \
                float8 xv;                                                                         \
                if (inside) {                                                                      \
                    xv = LDY8(dyp);                                                                \
                } else {                                                                           \
                    float tmp[DIRECT_TW];                                                          \
                    for (int b = 0; b < DIRECT_TW; b++)                                            \
                        tmp[b] = (ow0 + b >= 0 && ow0 + b < Wo) ? (float)LDY(dyp, b) : 0.0f;       \
                    xv = vload8(0, tmp);                                                           \
                }                                                                                  \
                const float8 wv = vload8(0, wq);                                                   \
                DIRECT_ACC(wv, xv);                                                                \
            }                                                                                      \
        }                                                                                          \
    }                                                                                              \
    const float8 accs[DIRECT_TC] = {acc0, acc1, acc2, acc3, acc4, acc5, acc6, acc7};               \
    for (int a = 0; a < DIRECT_TC; a++) {                                                          \
        const int c = c0 + a;                                                                      \
        if (c > clast) break;                                                                      \
        const long base = (((long)(dx_n0 + n) * C + c) * H + h) * W;                               \
        BWD_DIRECT_STORE(accs[a], dx, base + w0, sw, W - w0, beta);                                \
    }                                                                                              \
}

CL16_BWD_DIRECT(cl16_bwd_direct_st, store_t, LD8U, LD)
__kernel void cl16_conv_bwd_direct(__global const store_t *dy, __global const float *wp,
                                   __global store_t *dx, int dx_n0, float beta, int C, int H, int W,
                                   int Cout, int KH, int KW, int Ho, int Wo, int sh, int sw, int ph,
                                   int pw, int dh, int dw, int groups) {
    cl16_bwd_direct_st(dy, wp, dx, dx_n0, beta, C, H, W, Cout, KH, KW, Ho, Wo, sh, sw, ph, pw, dh,
                       dw, groups);
}
#if CL16_DTYPE != 0
CL16_BWD_DIRECT(cl16_bwd_direct_f, float, FLD8, FLD)
__kernel void cl16_conv_bwd_direct_fdy(__global const float *dy, __global const float *wp,
                                       __global store_t *dx, int dx_n0, float beta, int C, int H,
                                       int W, int Cout, int KH, int KW, int Ho, int Wo, int sh,
                                       int sw, int ph, int pw, int dh, int dw, int groups) {
    cl16_bwd_direct_f(dy, wp, dx, dx_n0, beta, C, H, W, Cout, KH, KW, Ho, Wo, sh, sw, ph, pw, dh,
                      dw, groups);
}
#endif
