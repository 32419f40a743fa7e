/* common.cl - storage and arithmetic types shared by every cl16 kernel, so one
 * source serves the fp32 baseline, the fp16 storage path and the native-half path.
 *
 * Build parameters (-D), all set by cl16__build_options():
 *   CL16_DTYPE       0 = f32 tensors, 1 = f16 tensors, 2 = bf16 tensors
 *                    (ushort storage, float arithmetic on every device;
 *                    the CL16_HALF_* parameters do not apply).          Default 1.
 *   CL16_HALF_NATIVE 1 = the device computes in half (cl_khr_fp16 verified by
 *                    the probe); 0 = storage path: half only in memory, read
 *                    with vload_half*, written with vstore_half*_rte.    Default 0.
 *   CL16_HALF_ARITH  native path only: 1 = element arithmetic in half (real_t
 *                    is half); 0 = float. Accumulators (acc_t) stay float
 *                    unless CL16_HALF_ACC is 1.                          Default 0.
 *   CL16_HALF_ACC    native path only: 1 = accumulate in half (opt-in,
 *                    less accurate).                                     Default 0.
 *   CL16_DEVICE_CPU  1 = a CPU device: storage-path scalar half loads and
 *                    stores use cl16_h2f / cl16_f2h below instead of
 *                    vload_half / vstore_half_rte.                       Default 0.
 *
 * Types:   store_t (element in memory), real_t (element arithmetic),
 *          acc_t (sums and dot products).
 * Macros:  LD(p, i) -> real_t   load element i of p
 *          ST(v, p, i)          store real/acc value v into element i (RNE)
 *          LD4/LD8/LD16(p, i) -> real4/real8/real16 from elements 4i.. / 8i.. / 16i..
 *          ST4/ST8/ST16(v, p, i)
 *          (On PoCL's CPU storage path only the 16-wide half loads and stores
 *          become vector conversions; 4- and 8-wide ones in a kernel that does
 *          both ran 8x slower than f32, 16-wide ones as fast.)
 */
#ifndef CL16_COMMON_CL
#define CL16_COMMON_CL

#ifndef CL16_DTYPE
#define CL16_DTYPE 1
#endif
#ifndef CL16_HALF_NATIVE
#define CL16_HALF_NATIVE 0
#endif
#ifndef CL16_HALF_ARITH
#define CL16_HALF_ARITH 0
#endif
#ifndef CL16_HALF_ACC
#define CL16_HALF_ACC 0
#endif
#ifndef CL16_DEVICE_CPU
#define CL16_DEVICE_CPU 0
#endif

#if CL16_HALF_NATIVE
#pragma OPENCL EXTENSION cl_khr_fp16 : enable
#endif

/* Helper functions are always inlined: PoCL 3.1 left some as calls (the
 * optimizer's per-element update, three calls per lane), which kept the
 * kernels from being vectorised (f16 SGD update 3.2x the f32 one's time). */
#define CL16_INLINE inline __attribute__((always_inline))

/* Loads from float buffers (the float copies the storage path's kernels
 * read), in the form LD / LD8U take: one element, 8 or 16 from p on. */
#define FLD(p, i) ((p)[i])
#define FLD8(p) vload8(0, (p))
#define FLD16(p) vload16(0, (p))

/* MADD(a, b, c) = a * b + c as one expression, which OpenCL C's default
 * FP_CONTRACT ON lets the compiler fuse into a multiply-add instruction where
 * the device has one. Not mad(): PoCL 3.1 lowers mad() to a separate multiply
 * and add (vmulps + vaddps on an AVX-512 CPU; `build/cl16 bench gemm --shapes
 * squares`, 256^3 and 512^3: 1.15-1.22x slower register-tile GEMMs), and
 * NVIDIA's compiler has no mad() for half. Not fma(): devices
 * without a fused unit would emulate its single rounding in software. */
#define MADD(a, b, c) ((a) * (b) + (c))

#if CL16_DTYPE == 0
/* fp32 baseline: everything float. */
typedef float store_t;
typedef float real_t;
typedef float4 real4;
typedef float8 real8;
typedef float16 real16;
typedef float acc_t;
#define LD(p, i) ((p)[i])
#define ST(v, p, i) ((p)[i] = (float)(v))
#define LD4(p, i) vload4((i), (p))
#define LD8(p, i) vload8((i), (p))
#define LD16(p, i) vload16((i), (p))
#define ST4(v, p, i) vstore4(convert_float4(v), (i), (p))
#define ST8(v, p, i) vstore8(convert_float8(v), (i), (p))
#define ST16(v, p, i) vstore16(convert_float16(v), (i), (p))

#elif CL16_DTYPE == 2
/* bfloat16: the top 16 bits of a float, stored as ushort and widened by a
 * shift; stores round to nearest even in integer operations (cl16_f2bf
 * below). The vector forms are vector integer shifts and adds, which CPUs
 * vectorise like float code; no extension or built-in is involved, so this
 * is the same on every device. */
typedef ushort store_t;
typedef float real_t;
typedef float4 real4;
typedef float8 real8;
typedef float16 real16;
typedef float acc_t;
#define LD(p, i) cl16_bf2f((p)[i])
#define ST(v, p, i) ((p)[i] = cl16_f2bf((float)(v)))
#define LD4(p, i) cl16_bf2f4(vload4((i), (p)))
#define LD8(p, i) cl16_bf2f8(vload8((i), (p)))
#define LD16(p, i) cl16_bf2f16(vload16((i), (p)))
#define ST4(v, p, i) vstore4(cl16_f2bf4(convert_float4(v)), (i), (p))
#define ST8(v, p, i) vstore8(cl16_f2bf8(convert_float8(v)), (i), (p))
#define ST16(v, p, i) vstore16(cl16_f2bf16(convert_float16(v)), (i), (p))

#elif CL16_HALF_NATIVE
/* Native path: half in memory, arithmetic in half or float, float accumulators by default. */
typedef half store_t;
#if CL16_HALF_ARITH
typedef half real_t;
typedef half4 real4;
typedef half8 real8;
typedef half16 real16;
#define LD(p, i) ((p)[i])
#define LD4(p, i) vload4((i), (p))
#define LD8(p, i) vload8((i), (p))
#define LD16(p, i) vload16((i), (p))
#else
typedef float real_t;
typedef float4 real4;
typedef float8 real8;
typedef float16 real16;
#define LD(p, i) vload_half((i), (p))
#define LD4(p, i) vload_half4((i), (p))
#define LD8(p, i) vload_half8((i), (p))
#define LD16(p, i) vload_half16((i), (p))
#endif
#if CL16_HALF_ACC
typedef half acc_t;
#else
typedef float acc_t;
#endif
#define ST(v, p, i) vstore_half_rte((float)(v), (i), (p))
#define ST4(v, p, i) vstore_half4_rte(convert_float4(v), (i), (p))
#define ST8(v, p, i) vstore_half8_rte(convert_float8(v), (i), (p))
#define ST16(v, p, i) vstore_half16_rte(convert_float16(v), (i), (p))

#else
/* Storage path: no usable cl_khr_fp16; half only in memory. On PoCL's CPU
 * device only the 16-wide vload_half16 / vstore_half16_rte are vector
 * conversions; its scalar ones are a library call per element, which keeps
 * the work-item loop from being vectorised. On CPUs single elements are
 * therefore converted by cl16_h2f / cl16_f2h (below: integer and float
 * operations PoCL vectorises across work-items, exact like the standard's).
 * (4- and 8-wide: the built-ins stay, measured faster than these.) */
typedef half store_t;
typedef float real_t;
typedef float4 real4;
typedef float8 real8;
typedef float16 real16;
typedef float acc_t;
#if CL16_DEVICE_CPU
#define LD(p, i) cl16_h2f(((__global const ushort *)(p))[i])
#define ST(v, p, i) (((__global ushort *)(p))[i] = cl16_f2h((float)(v)))
#else
#define LD(p, i) vload_half((i), (p))
#define ST(v, p, i) vstore_half_rte((float)(v), (i), (p))
#endif
#define LD4(p, i) vload_half4((i), (p))
#define LD8(p, i) vload_half8((i), (p))
#define LD16(p, i) vload_half16((i), (p))
#define ST4(v, p, i) vstore_half4_rte(convert_float4(v), (i), (p))
#define ST8(v, p, i) vstore_half8_rte(convert_float8(v), (i), (p))
#define ST16(v, p, i) vstore_half16_rte(convert_float16(v), (i), (p))
#endif

/* Exact half <-> float conversions in integer and float operations: half ->
 * float exact; float -> half rounded to nearest even with subnormals,
 * infinities and NaN (top payload bits kept, a NaN stays a NaN), bit for bit
 * the host's cl16_float_to_half over all 2^32 floats. Correct also where
 * float denormals are flushed (they round to a zero half either way). Used
 * by LD/ST on CPUs and by the cast kernels in eltwise.cl. */
CL16_INLINE float cl16_h2f(ushort h16) {
    const uint h = h16, e = h & 0x7fffu;
    uint r = (e << 13) + (112u << 23);          /* normal: exponent rebiased 15 -> 127 */
    if (e >= 0x7c00u) r = (e << 13) | 0x7f800000u; /* infinity, NaN (payload kept) */
    if (e < 0x0400u) r = as_uint((float)e * 0x1p-24f); /* zero, subnormal: exact */
    return as_float(r | ((h & 0x8000u) << 16));
}
CL16_INLINE ushort cl16_f2h(float f) {
    const uint x = as_uint(f), a = x & 0x7fffffffu;
    /* normal half: the 13 dropped bits rounded to nearest even (a carry into
     * the exponent is right, up to infinity) */
    uint r = (a - (112u << 23) + 0xfffu + ((a >> 13) & 1u)) >> 13;
    /* below 2^-14: adding 0.5 rounds to a multiple of 2^-24, nearest even */
    if (a < 0x38800000u) r = as_uint(as_float(a) + 0.5f) - 0x3f000000u;
    if (a >= 0x477ff000u) r = 0x7c00u; /* >= 65520: infinity */
    if (a > 0x7f800000u) { /* NaN: top payload bits, never all zero */
        const uint m = (a >> 13) & 0x3ffu;
        r = 0x7c00u | (m ? m : 0x200u);
    }
    return (ushort)(r | ((x >> 16) & 0x8000u));
}

/* bfloat16 <-> float: widening is exact (a shift); narrowing adds 0x7fff plus
 * the lowest kept bit, which rounds the 16 dropped bits to nearest even and
 * carries into the exponent (up to infinity) where it should. A NaN keeps its
 * top payload bits and gets the quiet bit, so it never becomes infinity. Bit
 * for bit the host's cl16_float_to_bf16 / cl16_bf16_to_float. Vector forms for
 * 2, 4, 8 and 16 lanes. */
CL16_INLINE float cl16_bf2f(ushort b) { return as_float((uint)b << 16); }
CL16_INLINE ushort cl16_f2bf(float f) {
    const uint x = as_uint(f);
    if ((x & 0x7fffffffu) > 0x7f800000u) return (ushort)((x >> 16) | 0x40u);
    return (ushort)((x + 0x7fffu + ((x >> 16) & 1u)) >> 16);
}
#define CL16_BF16_VEC(N)                                                                           \
    inline float##N cl16_bf2f##N(ushort##N b) { return as_float##N(convert_uint##N(b) << 16); }    \
    inline ushort##N cl16_f2bf##N(float##N f) {                                                    \
        const uint##N x = as_uint##N(f);                                                           \
        const uint##N r = (x + 0x7fffu + ((x >> 16) & 1u)) >> 16;                                  \
        return convert_ushort##N(select(r, (x >> 16) | 0x40u, (x & 0x7fffffffu) > 0x7f800000u));   \
    }
CL16_BF16_VEC(2)
CL16_BF16_VEC(4)
CL16_BF16_VEC(8)
CL16_BF16_VEC(16)
#undef CL16_BF16_VEC

/* Token pasting after expansion: CAT(float, 8) is float8 where 8 is a macro's value. */
#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)

/* ReLU as PyTorch (act.cl, and norm.cl's fused batch norm + ReLU): NaN stays
 * NaN (a comparison with NaN is false, so the select keeps it), -0 and
 * negatives become +0. */
CL16_INLINE float relu1(float v) { return (v > 0.0f || isnan(v)) ? v : 0.0f; }
CL16_INLINE float16 reluv(float16 v) { return select((float16)(0.0f), v, (v > 0.0f) | isnan(v)); }

/* Gradient mask as PyTorch's threshold_backward: dy where NOT (y <= 0), so a
 * NaN in y lets dy through instead of hiding it. */
CL16_INLINE float drelu1(float y, float dy) { return y <= 0.0f ? 0.0f : dy; }
CL16_INLINE float16 dreluv(float16 y, float16 dy) { return select(dy, (float16)(0.0f), y <= 0.0f); }

#endif /* CL16_COMMON_CL */
