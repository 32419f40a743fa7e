/* probe.cl - decides the half path of a device by running arithmetic, not by
 * reading its extension string (some drivers under- or over-report cl_khr_fp16).
 *
 * Build parameters (-D):
 *   CL16_PROBE_NATIVE 1 = compute in half (needs working cl_khr_fp16);
 *                     0 = storage path (vload_half/vstore_half_rte, float math). Default 0.
 *
 * Each work-item i computes out[i] = a[i] * b[i] + c[i] on values chosen by the
 * host so the exact result is representable in half; the host checks every
 * element bit for bit.
 */
#ifndef CL16_PROBE_NATIVE
#define CL16_PROBE_NATIVE 0
#endif

#if CL16_PROBE_NATIVE
#pragma OPENCL EXTENSION cl_khr_fp16 : enable
__kernel void cl16_probe(__global const half *a, __global const half *b, __global const half *c,
                         __global half *out) {
    size_t i = get_global_id(0);
    half x = a[i] * b[i];
    half y = x + c[i];
    out[i] = y;
}
#else
__kernel void cl16_probe(__global const half *a, __global const half *b, __global const half *c,
                         __global half *out) {
    size_t i = get_global_id(0);
    float y = vload_half(i, a) * vload_half(i, b) + vload_half(i, c);
    vstore_half_rte(y, i, out);
}
#endif
