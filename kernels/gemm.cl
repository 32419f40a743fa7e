/* gemm.cl - general matrix multiply C = alpha*op(A)*op(B) + beta*C on f32 or
 * f16 tensors (row-major), products accumulated in acc_t, one rounding on store.
 *
 * Build parameters: those of common.cl (CL16_DTYPE, CL16_HALF_NATIVE, ...).
 * This is the reference kernel: one output per work-item, any shape, any
 * strides. op(X) is expressed by strides (row stride, column stride) so the
 * four transpose combinations share one kernel.
 */
#include "common.cl"

__kernel void cl16_gemm_ref(const int M, const int N, const int K, const float alpha,
                            __global const store_t *A, const long a_off, const long a_rs,
                            const long a_cs, __global const store_t *B, const long b_off,
                            const long b_rs, const long b_cs, const float beta,
                            __global store_t *C, const long c_off, const long ldc) {
    const int j = (int)get_global_id(0);
    const int i = (int)get_global_id(1);
    if (i >= M || j >= N) return;
    acc_t s = (acc_t)0;
    const long ai = a_off + (long)i * a_rs, bj = b_off + (long)j * b_cs;
    for (int p = 0; p < K; p++)
        s += (acc_t)LD(A, ai + (long)p * a_cs) * (acc_t)LD(B, bj + (long)p * b_rs);
    const long ci = c_off + (long)i * ldc + j;
    float r = alpha * (float)s;
    if (beta != 0.0f) r += beta * (float)LD(C, ci); /* beta == 0: C is not read (may hold NaN) */
    ST(r, C, ci);
}
