/* common.cl - storage and arithmetic types shared by every cl16 kernel, so one
 * source serves the fp32 baseline, the fp16 storage path and the native-half path.
 *
 * Build parameters (-D), all set by cl16__build_options():
 *   CL16_DTYPE       0 = f32 tensors, 1 = f16 tensors.                  Default 1.
 *   CL16_HALF_NATIVE 1 = the device computes in half (cl_khr_fp16 verified by
 *                    the probe); 0 = storage path: half only in memory, read
 *                    with vload_half*, written with vstore_half*_rte.    Default 0.
 *   CL16_HALF_ARITH  native path only: 1 = element arithmetic in half (real_t
 *                    is half); 0 = float. Accumulators (acc_t) stay float
 *                    unless CL16_HALF_ACC is 1.                          Default 0.
 *   CL16_HALF_ACC    native path only: 1 = accumulate in half (opt-in,
 *                    less accurate).                                     Default 0.
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

#if CL16_HALF_NATIVE
#pragma OPENCL EXTENSION cl_khr_fp16 : enable
#endif

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
/* Storage path: no usable cl_khr_fp16; half only through vload_half/vstore_half. */
typedef half store_t;
typedef float real_t;
typedef float4 real4;
typedef float8 real8;
typedef float16 real16;
typedef float acc_t;
#define LD(p, i) vload_half((i), (p))
#define LD4(p, i) vload_half4((i), (p))
#define LD8(p, i) vload_half8((i), (p))
#define LD16(p, i) vload_half16((i), (p))
#define ST(v, p, i) vstore_half_rte((float)(v), (i), (p))
#define ST4(v, p, i) vstore_half4_rte(convert_float4(v), (i), (p))
#define ST8(v, p, i) vstore_half8_rte(convert_float8(v), (i), (p))
#define ST16(v, p, i) vstore_half16_rte(convert_float16(v), (i), (p))
#endif

#endif /* CL16_COMMON_CL */
