/* half.c - exact host conversion between IEEE binary32 and the 16-bit formats
 * (binary16 and bfloat16): round to nearest, ties to even; subnormals,
 * infinities and NaN kept. */
#include <string.h>

#include "cl16.h"

uint16_t cl16_float_to_half(float f) {
    uint32_t x;
    memcpy(&x, &f, sizeof x);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000u);
    uint32_t ax = x & 0x7fffffffu;

    if (ax >= 0x7f800000u) {               /* inf or NaN */
        if (ax == 0x7f800000u) return (uint16_t)(sign | 0x7c00u);
        uint32_t m = (ax >> 13) & 0x3ffu;  /* keep the top payload bits */
        if (m == 0) m = 0x200u;            /* payload only in dropped bits: stay a NaN */
        return (uint16_t)(sign | 0x7c00u | m);
    }
    if (ax >= 0x477ff000u) return (uint16_t)(sign | 0x7c00u); /* >= 65520 rounds to inf */
    if (ax < 0x38800000u) {                /* below 2^-14: half subnormal or zero */
        if (ax <= 0x33000000u) return sign; /* <= 2^-25: ties to the even zero */
        uint32_t e = ax >> 23;
        uint32_t m = (ax & 0x7fffffu) | 0x800000u;
        uint32_t shift = 126u - e;          /* 14..24: units of 2^-24 */
        uint32_t r = m >> shift;
        uint32_t rem = m & ((1u << shift) - 1u), halfway = 1u << (shift - 1u);
        if (rem > halfway || (rem == halfway && (r & 1u))) r++;
        return (uint16_t)(sign | r);        /* r == 0x400 is the smallest normal */
    }
    uint32_t r = ax - 0x38000000u;         /* rebias exponent 127 -> 15 */
    uint32_t h = r >> 13, rem = r & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (h & 1u))) h++; /* may carry into inf: correct */
    return (uint16_t)(sign | h);
}

float cl16_half_to_float(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t e = (h >> 10) & 0x1fu, m = h & 0x3ffu, x;
    if (e == 0) {
        float v = (float)m * 0x1p-24f; /* exact: m < 2^10 */
        memcpy(&x, &v, sizeof x);
        x |= sign;
    } else if (e == 31) {
        x = sign | 0x7f800000u | (m << 13);
    } else {
        x = sign | ((e + 112u) << 23) | (m << 13);
    }
    float f;
    memcpy(&f, &x, sizeof f);
    return f;
}

/* The bulk conversion gives cl16_float_to_half's bits without its branches,
 * so the compiler can vectorise the loop (a training step converts every
 * input batch of a 16-bit model: 100k values for LeNet-5 at batch 128):
 *  - normal results: the same bias-and-shift as bf16, 0xfff plus the lowest
 *    kept bit, rounds the 13 dropped bits to nearest even; a carry runs into
 *    the exponent, up to 0x7c00 (infinity) for 65520 and above;
 *  - results below 2^-14: |x| + 0.5f rounds |x| to a multiple of 2^-24 (float's
 *    spacing at 0.5) in the FPU's round-to-nearest-even, and the bits above
 *    those of 0.5f count the 2^-24 units, 0x400 being the smallest normal;
 *  - NaN keeps its top payload bits (0x200 when only dropped bits held it). */
void cl16_floats_to_halves(const float *src, uint16_t *dst, size_t n) {
    for (size_t i = 0; i < n; i++) {
        uint32_t x, ux;
        memcpy(&x, &src[i], sizeof x);
        const uint32_t ax = x & 0x7fffffffu;
        float a, u;
        memcpy(&a, &ax, sizeof a);
        u = a + 0.5f;
        memcpy(&ux, &u, sizeof ux);
        const uint32_t sub = ux - 0x3f000000u;
        /* selections as masks: a branch would stop the vectoriser */
        const uint32_t nrm = (ax - 0x38000000u + 0xfffu + ((ax >> 13) & 1u)) >> 13;
        const uint32_t over = 0u - (uint32_t)(nrm > 0x7c00u);
        const uint32_t fin = (nrm & ~over) | (0x7c00u & over);
        const uint32_t pay = (ax >> 13) & 0x3ffu;
        const uint32_t nan = 0x7c00u | pay | (0x200u & (0u - (uint32_t)(pay == 0u)));
        const uint32_t small = 0u - (uint32_t)(ax < 0x38800000u);
        const uint32_t isnan = 0u - (uint32_t)(ax > 0x7f800000u);
        const uint32_t h = (nan & isnan) | (~isnan & ((sub & small) | (fin & ~small)));
        dst[i] = (uint16_t)(((x >> 16) & 0x8000u) | h);
    }
}

void cl16_halves_to_floats(const uint16_t *src, float *dst, size_t n) {
    for (size_t i = 0; i < n; i++) dst[i] = cl16_half_to_float(src[i]);
}

/* bfloat16 keeps float's sign and exponent and the top 7 mantissa bits, so the
 * rounding is an integer add on the bit pattern: 0x7fff plus the lowest kept
 * bit rounds the 16 dropped bits to nearest even, and a carry runs into the
 * exponent (up to infinity) exactly as it should. Only NaN needs care: its
 * payload may live in the dropped bits alone, so the quiet bit is set. */
uint16_t cl16_float_to_bf16(float f) {
    uint32_t x;
    memcpy(&x, &f, sizeof x);
    if ((x & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((x >> 16) | 0x0040u);
    return (uint16_t)((x + 0x7fffu + ((x >> 16) & 1u)) >> 16);
}

float cl16_bf16_to_float(uint16_t b) {
    uint32_t x = (uint32_t)b << 16;
    float f;
    memcpy(&f, &x, sizeof f);
    return f;
}

void cl16_floats_to_bf16s(const float *src, uint16_t *dst, size_t n) {
    for (size_t i = 0; i < n; i++) dst[i] = cl16_float_to_bf16(src[i]);
}

void cl16_bf16s_to_floats(const uint16_t *src, float *dst, size_t n) {
    for (size_t i = 0; i < n; i++) dst[i] = cl16_bf16_to_float(src[i]);
}
