/* test_half.c - host 16-bit conversions. half: all 65536 halves round-trip
 * exactly, and float->half matches an independent nearest-even reference (a
 * search over the sorted finite halves) on edge cases and a sweep over the
 * float range. bfloat16: the same with a float64 reference rounding. */
#include <float.h>
#include <math.h>
#include <stdint.h>

#include "check.h"

static float bits_f(uint32_t b) { float f; memcpy(&f, &b, 4); return f; }

/* Sorted finite non-negative halves as doubles, by bit pattern 0..0x7bff. */
static double pos[0x7c00];

/* Reference: nearest half by value, ties to the even mantissa; overflow rule of
 * IEEE 754: results >= 65504 + half an ulp (65520) round to infinity. */
static uint16_t ref_to_half(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    uint16_t sign = (x >> 31) ? 0x8000 : 0;
    if (isnan(f)) return 0x7e00; /* only "is a NaN" is compared */
    double a = fabs((double)f);
    if (a >= 65520.0) return sign | 0x7c00;
    int lo = 0, hi = 0x7bff;
    while (lo < hi) { /* last index with pos[idx] <= a */
        int mid = (lo + hi + 1) / 2;
        if (pos[mid] <= a) lo = mid; else hi = mid - 1;
    }
    int best = lo;
    if (lo < 0x7bff) {
        double dl = a - pos[lo], dh = pos[lo + 1] - a;
        if (dh < dl || (dh == dl && ((lo + 1) & 1) == 0)) best = lo + 1;
    }
    return (uint16_t)(sign | best);
}

/* Reference float -> bf16 in float64, from the values rather than the bits:
 * the bf16 values around |f| are consecutive multiples of the spacing of its
 * binade (2^(e-8) for 2^(e-1) <= |f| < 2^e, 2^-133 below 2^-126), the nearer
 * one wins, a tie goes to the even multiple (whose pattern is even: the
 * multiple's parity is the low mantissa bit's, and 2^e is even too); 2^128 is
 * infinity. Not for NaN. */
static uint16_t ref_to_bf16(float f) {
    const double a = fabs((double)f);
    const uint16_t sign = signbit(f) ? 0x8000 : 0;
    if (isinf(f)) return sign | 0x7f80;
    int e;
    frexp(a, &e);
    const double sp = a >= 0x1p-126 ? ldexp(1.0, e - 8) : 0x1p-133;
    const double k = floor(a / sp), dl = a - k * sp, dh = (k + 1) * sp - a;
    const double r = (dh < dl || (dh == dl && fmod(k, 2.0) == 1.0)) ? (k + 1) * sp : k * sp;
    if (r >= 0x1p128) return sign | 0x7f80;
    const float rf = (float)r; /* exact: r is a bf16 value */
    uint32_t x;
    memcpy(&x, &rf, 4);
    return (uint16_t)(sign | (x >> 16));
}

static void test_bf16(void) {
    /* 1. every bf16 -> float -> bf16 is the identity; the float is the pattern
     * followed by 16 zero bits; NaN stays NaN. */
    int bad = 0;
    for (uint32_t b = 0; b < 65536; b++) {
        float f = cl16_bf16_to_float((uint16_t)b);
        uint32_t x;
        memcpy(&x, &f, 4);
        const int is_nan = (b & 0x7f80) == 0x7f80 && (b & 0x7f);
        if (x != b << 16 || cl16_float_to_bf16(f) != (is_nan ? (b | 0x40) : b)) bad++;
        if (is_nan != (isnan(f) != 0)) bad++;
    }
    CHECK_MSG(bad == 0, "%d bf16 patterns did not round-trip", bad);

    /* 2. edge cases, expected bits written out by hand. */
    struct { float f; uint16_t want; const char *what; } cases[] = {
        {0.0f, 0x0000, "zero"}, {-0.0f, 0x8000, "negative zero"},
        {1.0f, 0x3f80, "one"}, {-2.0f, 0xc000, "-2"},
        {1.0f + 0x1p-8f, 0x3f80, "tie between 1 and 1+2^-7: even is 1"},
        {1.0f + 3 * 0x1p-8f, 0x3f82, "tie between 1+2^-7 and 1+2^-6: even is 1+2^-6"},
        {1.0f + 0x1p-8f + 0x1p-23f, 0x3f81, "just above the tie rounds up"},
        {257.0f, 0x4380, "257 ties to 256 (8 significant bits)"},
        {0.1f, 0x3dcd, "0.1"},
        {0x1.fep127f, 0x7f7f, "largest finite bf16"},
        {0x1.ffp127f, 0x7f80, "tie above the largest finite: even is infinity"},
        {0x1.fefffep127f, 0x7f7f, "just below that tie"},
        {FLT_MAX, 0x7f80, "FLT_MAX rounds to infinity"},
        {0x1p-126f, 0x0080, "smallest normal"},
        {0x1p-133f, 0x0001, "smallest subnormal"},
        {0x1p-134f, 0x0000, "half the smallest subnormal: tie to even zero"},
        {0x1.8p-133f, 0x0002, "1.5 subnormal units: tie to even (2)"},
        {0x1p-149f, 0x0000, "the smallest float underflows"},
        {65504.0f, 0x4780, "f16's largest finite: 65536 in bf16"},
        {1e30f, 0x714a, "1e30 (0x7149f2ca) rounds up, no overflow"},
        {INFINITY, 0x7f80, "inf"}, {-INFINITY, 0xff80, "-inf"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        uint16_t got = cl16_float_to_bf16(cases[i].f);
        CHECK_MSG(got == cases[i].want, "bf16 %s: %a -> 0x%04x, want 0x%04x", cases[i].what,
                  (double)cases[i].f, got, cases[i].want);
        CHECK_MSG(ref_to_bf16(cases[i].f) == cases[i].want, "bf16 reference disagrees on %s",
                  cases[i].what);
    }
    /* NaNs, payload only in the dropped bits included: still NaN, sign kept. */
    uint32_t nans[] = {0x7fc00000u, 0x7f800001u, 0xffc00001u, 0x7fbfffffu, 0x7f80ffffu, 0xff800001u};
    for (size_t i = 0; i < sizeof nans / sizeof *nans; i++) {
        uint16_t h = cl16_float_to_bf16(bits_f(nans[i]));
        CHECK_MSG((h & 0x7f80) == 0x7f80 && (h & 0x7f), "NaN 0x%08x became bf16 0x%04x", nans[i], h);
        CHECK(((h & 0x8000) != 0) == ((nans[i] >> 31) != 0));
    }

    /* 3. a sweep over all float bit patterns with a stride prime to 2^32. */
    long mism = 0, n = 0;
    for (uint64_t b = 0; b < (1ull << 32); b += 251) {
        float f = bits_f((uint32_t)b);
        uint16_t got = cl16_float_to_bf16(f);
        n++;
        if (isnan(f)) {
            if (!((got & 0x7f80) == 0x7f80 && (got & 0x7f))) mism++;
        } else if (got != ref_to_bf16(f)) {
            if (mism < 5)
                fprintf(stderr, "float %a: bf16 got 0x%04x want 0x%04x\n", (double)f, got, ref_to_bf16(f));
            mism++;
        }
    }
    CHECK_MSG(mism == 0, "%ld of %ld swept floats converted to bf16 differently from the reference",
              mism, n);

    /* 4. the bulk functions agree with the scalar ones. */
    float fs[4] = {0.1f, -3.0f, 0x1p-134f, 1e38f}, back[4];
    uint16_t hs[4];
    cl16_floats_to_bf16s(fs, hs, 4);
    cl16_bf16s_to_floats(hs, back, 4);
    for (int i = 0; i < 4; i++) {
        CHECK(hs[i] == cl16_float_to_bf16(fs[i]));
        CHECK(back[i] == cl16_bf16_to_float(hs[i]));
    }
}

int main(void) {
    test_bf16();
    /* Independent construction of the half values: m * 2^(e-25) with implicit bit. */
    for (int h = 0; h < 0x7c00; h++) {
        int e = h >> 10, m = h & 0x3ff;
        pos[h] = e ? ldexp(1024 + m, e - 25) : ldexp(m, -24);
    }

    /* 1. every half -> float -> half is the identity; NaN stays NaN; values exact. */
    int bad = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        float f = cl16_half_to_float((uint16_t)h);
        uint16_t back = cl16_float_to_half(f);
        int is_nan = (h & 0x7c00) == 0x7c00 && (h & 0x3ff);
        if (back != h || (is_nan && !isnan(f))) bad++;
        if (!is_nan && (h & 0x7fff) < 0x7c00) {
            double want = pos[h & 0x7fff] * ((h & 0x8000) ? -1 : 1);
            if ((double)f != want) bad++;
        }
    }
    CHECK_MSG(bad == 0, "%d half patterns did not round-trip", bad);
    CHECK(isinf(cl16_half_to_float(0x7c00)) && cl16_half_to_float(0x7c00) > 0);
    CHECK(isinf(cl16_half_to_float(0xfc00)) && cl16_half_to_float(0xfc00) < 0);

    /* 2. edge cases, expected bits written out by hand. */
    struct { float f; uint16_t want; const char *what; } cases[] = {
        {0.0f, 0x0000, "zero"}, {-0.0f, 0x8000, "negative zero"},
        {1.0f, 0x3c00, "one"}, {65504.0f, 0x7bff, "largest finite"},
        {65519.99f, 0x7bff, "just below the overflow threshold"},
        {65520.0f, 0x7c00, "tie at the threshold rounds to inf (even)"},
        {1e6f, 0x7c00, "overflow to inf"}, {-1e6f, 0xfc00, "negative overflow"},
        {0x1p-24f, 0x0001, "smallest subnormal"},
        {0x1p-25f, 0x0000, "half the smallest subnormal: tie to even zero"},
        {0x1.000002p-25f, 0x0001, "just above the tie rounds up"},
        {0x1.8p-24f, 0x0002, "1.5 subnormal units: tie to even (2)"},
        {0x1.4p-23f, 0x0002, "2.5 subnormal units: tie to even (2)"},
        {0x1p-26f, 0x0000, "underflow to zero"},
        {0x1p-14f, 0x0400, "smallest normal"},
        {0x1.ff8p-15f, 0x03ff, "largest subnormal"},
        {0x1.ffcp-15f, 0x0400, "largest subnormal + half unit: tie to the even smallest normal"},
        {1.0f + 0x1p-11f, 0x3c00, "tie between 1 and 1+2^-10: even is 1"},
        {1.0f + 3 * 0x1p-11f, 0x3c02, "tie between 1+2^-10 and 1+2^-9: even is 1+2^-9"},
        {0x1.002002p+0f, 0x3c01, "1 + 2^-11 + 2^-23: just above the tie"},
        {2048.0f + 1.0f, 0x6800, "2049 ties to 2048"},
        {0.1f, 0x2e66, "0.1"}, {-2.5f, 0xc100, "-2.5"},
        {INFINITY, 0x7c00, "inf"}, {-INFINITY, 0xfc00, "-inf"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        uint16_t got = cl16_float_to_half(cases[i].f);
        CHECK_MSG(got == cases[i].want, "%s: %a -> 0x%04x, want 0x%04x", cases[i].what,
                  (double)cases[i].f, got, cases[i].want);
        CHECK_MSG(ref_to_half(cases[i].f) == cases[i].want, "reference disagrees on %s", cases[i].what);
    }
    /* NaNs: quiet and signalling, with payload only in bits that are dropped. */
    uint32_t nans[] = {0x7fc00000u, 0x7f800001u, 0xffc00001u, 0x7fbfffffu, 0x7f802000u};
    for (size_t i = 0; i < sizeof nans / sizeof *nans; i++) {
        uint16_t h = cl16_float_to_half(bits_f(nans[i]));
        CHECK_MSG((h & 0x7c00) == 0x7c00 && (h & 0x3ff), "NaN 0x%08x became 0x%04x", nans[i], h);
        CHECK(((h & 0x8000) != 0) == ((nans[i] >> 31) != 0));
    }

    /* 3. a sweep over all float bit patterns with a stride prime to 2^32. */
    long mism = 0, n = 0;
    for (uint64_t b = 0; b < (1ull << 32); b += 251) {
        float f = bits_f((uint32_t)b);
        uint16_t got = cl16_float_to_half(f), want = ref_to_half(f);
        n++;
        if (isnan(f)) {
            if (!((got & 0x7c00) == 0x7c00 && (got & 0x3ff))) mism++;
        } else if (got != want) {
            if (mism < 5) fprintf(stderr, "float %a: got 0x%04x want 0x%04x\n", (double)f, got, want);
            mism++;
        }
    }
    CHECK_MSG(mism == 0, "%ld of %ld swept floats converted differently from the reference", mism, n);

    /* 4. the bulk functions agree with the scalar ones: the branch-free bulk
     * conversion on the same sweep (every float pattern was compared once,
     * when it was written), then a few values both ways. */
    {
        enum { CHUNK = 4096 };
        static float sf[CHUNK];
        static uint16_t sh[CHUNK];
        long bulk_bad = 0, m = 0;
        for (uint64_t b = 0; b < (1ull << 32);) {
            size_t k = 0;
            for (; k < CHUNK && b < (1ull << 32); k++, b += 251) sf[k] = bits_f((uint32_t)b);
            cl16_floats_to_halves(sf, sh, k);
            for (size_t j = 0; j < k; j++, m++)
                if (sh[j] != cl16_float_to_half(sf[j])) {
                    if (bulk_bad < 5)
                        fprintf(stderr, "float %a: bulk 0x%04x, scalar 0x%04x\n", (double)sf[j],
                                sh[j], cl16_float_to_half(sf[j]));
                    bulk_bad++;
                }
        }
        CHECK_MSG(bulk_bad == 0, "%ld of %ld swept floats: the bulk conversion differs from the scalar one",
                  bulk_bad, m);
    }
    float fs[5] = {0.1f, -3.0f, 65520.0f, 0x1p-25f, 7.0f};
    uint16_t hs[5];
    float back[5];
    cl16_floats_to_halves(fs, hs, 5);
    cl16_halves_to_floats(hs, back, 5);
    for (int i = 0; i < 5; i++) {
        CHECK(hs[i] == cl16_float_to_half(fs[i]));
        CHECK(back[i] == cl16_half_to_float(hs[i]) || (isinf(back[i]) && isinf(cl16_half_to_float(hs[i]))));
    }
    return check_done("test_half");
}
