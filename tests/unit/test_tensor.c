/* test_tensor.c - tensors move between host and device with conversion: host
 * float->half rounds to nearest even, the device cast kernels agree with the
 * host converter bit for bit (f32->f16 on edge cases, f16->f32 on all 65536
 * patterns; bf16 the same way, plus f16 <-> bf16), fill and copy work, wrong sizes are refused, and the OpenCL
 * handles given out for interoperability are the ones holding the data. */
#define CL_TARGET_OPENCL_VERSION 120
#include <CL/cl.h>
#include <math.h>
#include <stdint.h>

#include "check.h"

int main(void) {
    cl16_ctx *ctx = test_ctx(NULL);

    /* f16 -> f32 on the device for every half pattern. */
    int64_t n = 65536;
    cl16_tensor *h, *f;
    CHECK_OK(ctx, cl16_tensor_create(ctx, CL16_F16, 1, &n, &h));
    CHECK_OK(ctx, cl16_tensor_create(ctx, CL16_F32, 1, &n, &f));
    uint16_t *bits = malloc(65536 * 2), *back = malloc(65536 * 2);
    float *vals = malloc(65536 * 4);
    for (uint32_t i = 0; i < 65536; i++) bits[i] = (uint16_t)i;
    CHECK_OK(ctx, cl16_tensor_write_raw(h, bits, 65536 * 2));
    CHECK_OK(ctx, cl16_tensor_copy(f, h));
    CHECK_OK(ctx, cl16_tensor_read_raw(f, vals, 65536 * 4));
    int bad = 0;
    for (uint32_t i = 0; i < 65536; i++) {
        float want = cl16_half_to_float((uint16_t)i);
        if (isnan(want) ? !isnan(vals[i]) : memcmp(&want, &vals[i], 4)) bad++;
    }
    CHECK_MSG(bad == 0, "%d half patterns widened differently on the device", bad);

    /* ... and back f32 -> f16 on the device: the identity (NaN stays NaN). */
    CHECK_OK(ctx, cl16_tensor_copy(h, f));
    CHECK_OK(ctx, cl16_tensor_read_raw(h, back, 65536 * 2));
    bad = 0;
    for (uint32_t i = 0; i < 65536; i++) {
        int nan = (i & 0x7c00) == 0x7c00 && (i & 0x3ff);
        if (nan ? !((back[i] & 0x7c00) == 0x7c00 && (back[i] & 0x3ff)) : back[i] != i) bad++;
    }
    CHECK_MSG(bad == 0, "%d halves did not survive f16->f32->f16 on the device", bad);
    cl16_tensor_free(h), cl16_tensor_free(f);

    /* Device rounding f32 -> f16 on edge cases and random floats equals the host's. */
    enum { M = 4096 };
    float src[M];
    const float edges[] = {0.0f, -0.0f, 65504.0f, 65519.99f, 65520.0f, 1e6f, -1e6f, 0x1p-24f,
                           0x1p-25f, 0x1.000002p-25f, 0x1.8p-24f, 0x1p-26f, 0x1.ffcp-15f,
                           1.0f + 0x1p-11f, 1.0f + 3 * 0x1p-11f, 2049.0f, 0.1f, INFINITY};
    size_t ne = sizeof edges / sizeof *edges;
    uint32_t s = 12345;
    for (int i = 0; i < M; i++) {
        if ((size_t)i < ne) src[i] = edges[i];
        else {
            s ^= s << 13, s ^= s >> 17, s ^= s << 5;
            uint32_t b = (s & 0x807fffffu) | ((100u + (s >> 24) % 50u) << 23); /* 2^-27 .. 2^22 */
            memcpy(&src[i], &b, 4);
        }
    }
    int64_t m = M;
    cl16_tensor *a, *b;
    CHECK_OK(ctx, cl16_tensor_create(ctx, CL16_F32, 1, &m, &a));
    CHECK_OK(ctx, cl16_tensor_create(ctx, CL16_F16, 1, &m, &b));
    CHECK_OK(ctx, cl16_tensor_write_f32(a, src, M));
    CHECK_OK(ctx, cl16_tensor_copy(b, a));
    uint16_t got[M];
    CHECK_OK(ctx, cl16_tensor_read_raw(b, got, sizeof got));
    bad = 0;
    for (int i = 0; i < M; i++)
        if (got[i] != cl16_float_to_half(src[i])) {
            if (bad++ < 5)
                fprintf(stderr, "%a: device 0x%04x host 0x%04x\n", (double)src[i], got[i],
                        cl16_float_to_half(src[i]));
        }
    CHECK_MSG(bad == 0, "%d device roundings differ from the host", bad);

    /* Every rounding boundary: for each finite half, the float midway to the
     * next one and the floats either side of it, both signs, and NaNs with
     * payloads, cast on the device (f32 -> f16) against the host converter
     * (a NaN must stay a NaN; its payload may differ off CPUs). */
    {
        const int64_t nb = 0x7bff * 6 + 8;
        float *fv = malloc((size_t)nb * sizeof *fv);
        uint16_t *hv = malloc((size_t)nb * sizeof *hv);
        int64_t k = 0;
        for (uint32_t hb = 0; hb < 0x7bff; hb++) {
            const float lo = cl16_half_to_float((uint16_t)hb), hi = cl16_half_to_float((uint16_t)(hb + 1));
            const float mid = lo + (hi - lo) * 0.5f; /* exact: 11 bits of mantissa in float */
            const float three[3] = {mid, nextafterf(mid, 0.0f), nextafterf(mid, INFINITY)};
            for (int j = 0; j < 3; j++) fv[k++] = three[j], fv[k++] = -three[j];
        }
        const uint32_t nans[8] = {0x7f800001u, 0x7fc00000u, 0xffc00001u, 0x7f802000u,
                                  0x7fffffffu, 0xff800fffu, 0x7fa00000u, 0x7f801fffu};
        for (int j = 0; j < 8; j++) memcpy(&fv[k++], &nans[j], 4);
        cl16_tensor *fa, *ha;
        CHECK_OK(ctx, cl16_tensor_create(ctx, CL16_F32, 1, &k, &fa));
        CHECK_OK(ctx, cl16_tensor_create(ctx, CL16_F16, 1, &k, &ha));
        CHECK_OK(ctx, cl16_tensor_write_f32(fa, fv, (size_t)k));
        CHECK_OK(ctx, cl16_tensor_copy(ha, fa));
        CHECK_OK(ctx, cl16_tensor_read_raw(ha, hv, (size_t)k * 2));
        bad = 0;
        for (int64_t i = 0; i < k; i++) {
            const uint16_t want = cl16_float_to_half(fv[i]);
            const int nan = isnan(fv[i]);
            if (nan ? !((hv[i] & 0x7c00) == 0x7c00 && (hv[i] & 0x3ff)) : hv[i] != want) {
                if (bad++ < 5)
                    fprintf(stderr, "%a: device 0x%04x host 0x%04x\n", (double)fv[i], hv[i], want);
            }
        }
        CHECK_MSG(bad == 0, "%d device roundings at half boundaries differ from the host", bad);
        cl16_tensor_free(fa), cl16_tensor_free(ha);
        free(fv), free(hv);
    }

    /* write_f32 into an f16 tensor rounds on the host; read_f32 widens exactly. */
    float rt[M];
    CHECK_OK(ctx, cl16_tensor_write_f32(b, src, M));
    CHECK_OK(ctx, cl16_tensor_read_f32(b, rt, M));
    bad = 0;
    for (int i = 0; i < M; i++)
        if (rt[i] != cl16_half_to_float(cl16_float_to_half(src[i]))) bad++;
    CHECK(bad == 0);

    /* fill: f16 rounds the value, f32 keeps it. */
    CHECK_OK(ctx, cl16_tensor_fill(b, 0.1f));
    CHECK_OK(ctx, cl16_tensor_read_raw(b, got, sizeof got));
    CHECK(got[0] == 0x2e66 && got[M - 1] == 0x2e66);
    CHECK_OK(ctx, cl16_tensor_fill(a, 0.1f));
    CHECK_OK(ctx, cl16_tensor_read_f32(a, rt, M));
    CHECK(rt[0] == 0.1f && rt[M - 1] == 0.1f);

    /* same-dtype copy */
    cl16_tensor *c;
    CHECK_OK(ctx, cl16_tensor_create(ctx, CL16_F32, 1, &m, &c));
    CHECK_OK(ctx, cl16_tensor_write_f32(c, src, M));
    CHECK_OK(ctx, cl16_tensor_copy(a, c));
    CHECK_OK(ctx, cl16_tensor_read_f32(a, rt, M));
    CHECK(memcmp(rt, src, sizeof rt) == 0);

    /* wrong sizes */
    CHECK(cl16_tensor_write_f32(a, src, M - 1) == CL16_ERR_SHAPE);
    CHECK(strstr(cl16_ctx_last_error(ctx), "4095") != NULL);
    CHECK(cl16_tensor_read_raw(b, got, sizeof got + 2) == CL16_ERR_SHAPE);
    CHECK(cl16_tensor_write_f32(a, NULL, M) == CL16_ERR_INVALID_ARG);
    int64_t small = 7;
    cl16_tensor *d;
    CHECK_OK(ctx, cl16_tensor_create(ctx, CL16_F16, 1, &small, &d));
    CHECK(cl16_tensor_copy(d, a) == CL16_ERR_SHAPE);
    cl16_tensor_free(d);

    /* i32 tensors (labels, pool indices): integers in and out, fill, no casts. */
    int64_t ni = 5;
    cl16_tensor *li;
    CHECK_OK(ctx, cl16_tensor_create(ctx, CL16_I32, 1, &ni, &li));
    CHECK(cl16_tensor_bytes(li) == 20 && !strcmp(cl16_dtype_name(CL16_I32), "i32"));
    const float labels[5] = {0, 9, -3, 16777216, 7};
    float lb[5];
    int32_t raw[5];
    CHECK_OK(ctx, cl16_tensor_write_f32(li, labels, 5));
    CHECK_OK(ctx, cl16_tensor_read_raw(li, raw, sizeof raw));
    CHECK(raw[0] == 0 && raw[1] == 9 && raw[2] == -3 && raw[3] == 16777216 && raw[4] == 7);
    CHECK_OK(ctx, cl16_tensor_read_f32(li, lb, 5));
    CHECK(!memcmp(lb, labels, sizeof lb));
    const float frac[5] = {0, 1.5f, 2, 3, 4};
    CHECK(cl16_tensor_write_f32(li, frac, 5) == CL16_ERR_INVALID_ARG);
    CHECK(strstr(cl16_ctx_last_error(ctx), "1.5") != NULL);
    CHECK_OK(ctx, cl16_tensor_fill(li, -2.0f));
    CHECK_OK(ctx, cl16_tensor_read_raw(li, raw, sizeof raw));
    CHECK(raw[0] == -2 && raw[4] == -2);
    CHECK(cl16_tensor_fill(li, 0.25f) == CL16_ERR_INVALID_ARG);
    cl16_tensor *lf;
    CHECK_OK(ctx, cl16_tensor_create(ctx, CL16_F32, 1, &ni, &lf));
    CHECK(cl16_tensor_copy(lf, li) == CL16_ERR_SHAPE);
    cl16_tensor_free(li), cl16_tensor_free(lf);

    /* bf16: every pattern widened on the device (bf16 -> f32) equals the host's,
     * the floats next to every rounding boundary narrow (f32 -> bf16) like the
     * host converter, NaNs stay NaN, f16 <-> bf16 round once, and write/read,
     * fill and the element size follow the dtype. */
    {
        CHECK(cl16_dtype_size(CL16_BF16) == 2 && !strcmp(cl16_dtype_name(CL16_BF16), "bf16"));
        cl16_tensor *bt, *ft, *ht;
        CHECK_OK(ctx, cl16_tensor_create(ctx, CL16_BF16, 1, &n, &bt));
        CHECK_OK(ctx, cl16_tensor_create(ctx, CL16_F32, 1, &n, &ft));
        CHECK_OK(ctx, cl16_tensor_create(ctx, CL16_F16, 1, &n, &ht));
        CHECK(cl16_tensor_bytes(bt) == 65536 * 2);
        CHECK_OK(ctx, cl16_tensor_write_raw(bt, bits, 65536 * 2));
        CHECK_OK(ctx, cl16_tensor_copy(ft, bt));
        CHECK_OK(ctx, cl16_tensor_read_raw(ft, vals, 65536 * 4));
        bad = 0;
        for (uint32_t i = 0; i < 65536; i++) {
            float want = cl16_bf16_to_float((uint16_t)i);
            if (memcmp(&want, &vals[i], 4)) bad++;
        }
        CHECK_MSG(bad == 0, "%d bf16 patterns widened differently on the device", bad);
        /* Boundaries: for each pattern below infinity, the midpoint to the next
         * one and its neighbours (both signs), plus NaNs with dropped-bit payloads. */
        float *fv = malloc(65536 * 4);
        uint16_t *hv = malloc(65536 * 2);
        int64_t k = 0;
        for (uint32_t bb = 0; bb < 0x7f80 && k + 6 <= 65536 - 8; bb += 3) {
            const float lo = cl16_bf16_to_float((uint16_t)bb), hi = cl16_bf16_to_float((uint16_t)(bb + 1));
            const float mid = lo + (hi - lo) * 0.5f; /* exact */
            const float three[3] = {mid, nextafterf(mid, 0.0f), nextafterf(mid, INFINITY)};
            for (int j = 0; j < 3; j++) fv[k++] = three[j], fv[k++] = -three[j];
        }
        const uint32_t nans[8] = {0x7f800001u, 0x7fc00000u, 0xffc00001u, 0x7f80ffffu,
                                  0x7fffffffu, 0xff800fffu, 0x7fa00000u, 0x7f808000u};
        for (int j = 0; j < 8; j++) memcpy(&fv[k++], &nans[j], 4);
        for (int64_t i = k; i < 65536; i++) fv[i] = 0.0f;
        CHECK_OK(ctx, cl16_tensor_write_raw(ft, fv, 65536 * 4));
        CHECK_OK(ctx, cl16_tensor_copy(bt, ft));
        CHECK_OK(ctx, cl16_tensor_read_raw(bt, hv, 65536 * 2));
        bad = 0;
        for (int64_t i = 0; i < 65536; i++) {
            const uint16_t want = cl16_float_to_bf16(fv[i]);
            if (hv[i] != want && bad++ < 5)
                fprintf(stderr, "%a: device bf16 0x%04x host 0x%04x\n", (double)fv[i], hv[i], want);
        }
        CHECK_MSG(bad == 0, "%d device bf16 roundings differ from the host", bad);
        CHECK(k > 60000 && hv[k - 1] == 0x7fc0 && hv[k - 8] == 0x7fc0); /* dropped-bit NaNs stay NaN */
        /* f16 -> bf16: every finite half, rounded once (half -> float exact). */
        CHECK_OK(ctx, cl16_tensor_write_raw(ht, bits, 65536 * 2));
        CHECK_OK(ctx, cl16_tensor_copy(bt, ht));
        CHECK_OK(ctx, cl16_tensor_read_raw(bt, hv, 65536 * 2));
        bad = 0;
        for (uint32_t i = 0; i < 65536; i++)
            if (hv[i] != cl16_float_to_bf16(cl16_half_to_float((uint16_t)i))) bad++;
        CHECK_MSG(bad == 0, "%d halves converted to bf16 differently from the host", bad);
        /* bf16 -> f16: every bf16 pattern, against the host's float -> half. */
        CHECK_OK(ctx, cl16_tensor_write_raw(bt, bits, 65536 * 2));
        CHECK_OK(ctx, cl16_tensor_copy(ht, bt));
        CHECK_OK(ctx, cl16_tensor_read_raw(ht, hv, 65536 * 2));
        bad = 0;
        for (uint32_t i = 0; i < 65536; i++) {
            const float v = cl16_bf16_to_float((uint16_t)i);
            const uint16_t want = cl16_float_to_half(v);
            if (isnan(v) ? !((hv[i] & 0x7c00) == 0x7c00 && (hv[i] & 0x3ff)) : hv[i] != want) bad++;
        }
        CHECK_MSG(bad == 0, "%d bf16 patterns converted to f16 differently from the host", bad);
        /* write_f32 rounds on the host, read_f32 widens, fill rounds the value. */
        float rv[M];
        uint16_t rb[M];
        cl16_tensor *bm;
        CHECK_OK(ctx, cl16_tensor_create(ctx, CL16_BF16, 1, &m, &bm));
        CHECK_OK(ctx, cl16_tensor_write_f32(bm, src, M));
        CHECK_OK(ctx, cl16_tensor_read_f32(bm, rv, M));
        bad = 0;
        for (int i = 0; i < M; i++)
            if (rv[i] != cl16_bf16_to_float(cl16_float_to_bf16(src[i]))) bad++;
        CHECK(bad == 0);
        CHECK_OK(ctx, cl16_tensor_fill(bm, 0.1f));
        CHECK_OK(ctx, cl16_tensor_read_raw(bm, rb, sizeof rb));
        CHECK(rb[0] == 0x3dcd && rb[M - 1] == 0x3dcd);
        cl16_tensor_free(bm), cl16_tensor_free(bt), cl16_tensor_free(ft), cl16_tensor_free(ht);
        free(fv), free(hv);
    }

    /* Interoperability: the context's queue reads the tensor's cl_mem directly. */
    void *clc = NULL, *clq = NULL, *cld = NULL;
    CHECK_OK(ctx, cl16_ctx_opencl(ctx, &clc, &clq, &cld));
    CHECK(clc && clq && cld);
    CHECK(cl16_ctx_opencl(NULL, &clc, NULL, NULL) == CL16_ERR_INVALID_ARG);
    CHECK(cl16_tensor_cl_mem(NULL) == NULL);
    int64_t n4 = 4;
    cl16_tensor *io;
    CHECK_OK(ctx, cl16_tensor_create(ctx, CL16_F32, 1, &n4, &io));
    const float iov[4] = {1.5f, -2.0f, 3.25f, 0.0f};
    float iob[4] = {0};
    CHECK_OK(ctx, cl16_tensor_write_f32(io, iov, 4));
    CHECK(cl16_tensor_cl_mem(io) != NULL);
    CHECK(clEnqueueReadBuffer((cl_command_queue)clq, (cl_mem)cl16_tensor_cl_mem(io), CL_TRUE, 0,
                              sizeof iob, iob, 0, NULL, NULL) == CL_SUCCESS);
    CHECK(!memcmp(iob, iov, sizeof iov));
    cl16_tensor_free(io);

    cl16_tensor_free(a), cl16_tensor_free(b), cl16_tensor_free(c);
    free(bits), free(back), free(vals);
    cl16_ctx_free(ctx);
    return check_done("test_tensor");
}
