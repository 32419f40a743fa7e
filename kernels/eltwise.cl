/* eltwise.cl - element-wise kernels of the runtime: dtype casts between f32,
 * f16 and bf16 (round to nearest even on the device).
 *
 * Build parameters: those of common.cl (CL16_DTYPE etc.); the cast kernels do
 * not depend on the dtype ones, so any variant of this program provides them.
 */
#include "common.cl"

/* dst[i] = (half)src[i], rounding to nearest even, for i < n. On CPUs through
 * common.cl's cl16_f2h / cl16_h2f (faster there than PoCL's scalar built-ins;
 * this way the tensor tests check them on the device bit for bit). */
__kernel void cl16_cast_f32_f16(__global const float *src, __global half *dst, const ulong n) {
    size_t i = get_global_id(0);
#if CL16_DEVICE_CPU
    if (i < n) ((__global ushort *)dst)[i] = cl16_f2h(src[i]);
#else
    if (i < n) vstore_half_rte(src[i], i, dst);
#endif
}

/* dst[i] = (float)src[i] (exact), for i < n. */
__kernel void cl16_cast_f16_f32(__global const half *src, __global float *dst, const ulong n) {
    size_t i = get_global_id(0);
#if CL16_DEVICE_CPU
    if (i < n) dst[i] = cl16_h2f(((__global const ushort *)src)[i]);
#else
    if (i < n) dst[i] = vload_half(i, src);
#endif
}

/* bf16 casts: through common.cl's exact integer conversions on every device
 * (bf16 is ushort storage everywhere). f16 <-> bf16 rounds once: the value
 * passes through float exactly. */
__kernel void cl16_cast_f32_bf16(__global const float *src, __global ushort *dst, const ulong n) {
    size_t i = get_global_id(0);
    if (i < n) dst[i] = cl16_f2bf(src[i]);
}

__kernel void cl16_cast_bf16_f32(__global const ushort *src, __global float *dst, const ulong n) {
    size_t i = get_global_id(0);
    if (i < n) dst[i] = cl16_bf2f(src[i]);
}

__kernel void cl16_cast_f16_bf16(__global const ushort *src, __global ushort *dst, const ulong n) {
    size_t i = get_global_id(0);
    if (i < n) dst[i] = cl16_f2bf(cl16_h2f(src[i]));
}

__kernel void cl16_cast_bf16_f16(__global const ushort *src, __global ushort *dst, const ulong n) {
    size_t i = get_global_id(0);
    if (i < n) dst[i] = cl16_f2h(cl16_bf2f(src[i]));
}
