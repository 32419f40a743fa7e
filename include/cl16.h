/* cl16.h - the one public header of cl16, a C11 runtime that continues the
 * training of 32-bit pre-trained networks in 16-bit on any OpenCL device.
 *
 * Conventions:
 *  - every function returns a cl16_status (or a plain value for accessors);
 *  - constructors take an out-parameter; the caller owns what they return and
 *    frees it with the matching *_free function;
 *  - the detail of the last failure on a context is cl16_ctx_last_error(ctx);
 *  - a context is used by one thread at a time; contexts are independent of
 *    each other (there is no global mutable state), so one process may drive
 *    several devices through several contexts;
 *  - the library never exits or aborts the process on a runtime failure.
 */
#ifndef CL16_H
#define CL16_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Symbols of the shared library; everything else in it is hidden. */
#if defined(CL16_BUILDING) && defined(__GNUC__)
#define CL16_API __attribute__((visibility("default")))
#else
#define CL16_API
#endif

#define CL16_VERSION_MAJOR 0
#define CL16_VERSION_MINOR 1
#define CL16_VERSION_PATCH 0
#define CL16_VERSION_STRING "0.1.0"

/* Version of the library actually linked (may differ from the header's). */
CL16_API const char *cl16_version(void);

/* ---- status ------------------------------------------------------------- */

typedef enum cl16_status {
    CL16_OK = 0,
    CL16_ERR_INVALID_ARG,  /* a caller-supplied argument is wrong (NULL, bad value) */
    CL16_ERR_NO_DEVICE,    /* no OpenCL device, or the requested one does not exist */
    CL16_ERR_UNSUPPORTED,  /* the device cannot do what was asked (e.g. native half) */
    CL16_ERR_OPENCL,       /* an OpenCL call failed; the detail names call and code */
    CL16_ERR_BUILD,        /* a kernel failed to build; the detail holds the build log */
    CL16_ERR_OUT_OF_MEMORY,/* a device or host allocation failed; detail gives bytes */
    CL16_ERR_IO,           /* reading or writing a file failed */
    CL16_ERR_FORMAT,       /* a file or buffer is corrupt, truncated or malformed */
    CL16_ERR_SHAPE,        /* tensor shapes or dtypes do not fit together */
    CL16_ERR_NUMERIC,      /* NaN or infinity where finite values are required */
    CL16_ERR_INTERNAL      /* a bug in cl16; please report it with the detail */
} cl16_status;

/* Static, never NULL, short description of a status ("out of memory"). */
CL16_API const char *cl16_status_str(cl16_status s);

/* ---- devices (no context needed) ---------------------------------------- */

typedef enum cl16_device_type {
    CL16_DEVICE_OTHER = 0,
    CL16_DEVICE_CPU,
    CL16_DEVICE_GPU,
    CL16_DEVICE_ACCELERATOR
} cl16_device_type;

typedef struct cl16_device_info {
    int index;               /* position in the flat list over all platforms */
    int platform_index;
    char platform[128];      /* platform name */
    char platform_version[128];
    char name[256];
    char vendor[128];
    char driver[128];        /* driver version */
    char version[128];       /* device OpenCL version string */
    char c_version[128];     /* OpenCL C version string */
    cl16_device_type type;
    uint64_t global_mem;     /* bytes */
    uint64_t local_mem;      /* bytes */
    uint64_t max_alloc;      /* largest single buffer, bytes */
    size_t max_work_group;
    unsigned compute_units;
    unsigned max_clock_mhz;
    int cl_major, cl_minor;  /* parsed from `version` */
    int has_fp16_ext;        /* advertises cl_khr_fp16 (not trusted alone; see the probe) */
    int has_fp64;
    int has_subgroups;       /* cl_khr_subgroups / cl_intel_subgroups / OpenCL 3 feature */
    int has_int64_atomics;
    unsigned float_vector_width; /* CL_DEVICE_PREFERRED_VECTOR_WIDTH_FLOAT (PoCL: 8 with AVX2, 16 with AVX-512) */
    const char *extensions;  /* space-separated; owned by the list */
} cl16_device_info;

/* Lists every device of every OpenCL platform the ICD loader finds.
 * On success *out is an array of *count entries, freed with cl16_devices_free.
 * On failure *out is NULL and, if err is not NULL, err receives a message. */
CL16_API cl16_status cl16_devices(cl16_device_info **out, size_t *count, char *err, size_t err_len);
CL16_API void cl16_devices_free(cl16_device_info *list, size_t count);

/* ---- context ------------------------------------------------------------ */

typedef struct cl16_ctx cl16_ctx;

typedef enum cl16_half_path {
    CL16_HALF_AUTO = 0,  /* decided by the probe (or CL16_HALF in the environment) */
    CL16_HALF_NATIVE,    /* the device computes in half (cl_khr_fp16 verified by a run) */
    CL16_HALF_STORAGE    /* half in memory, float arithmetic (vload_half/vstore_half_rte) */
} cl16_half_path;

/* Called for warnings (e.g. an unwritable cache directory). Default: stderr. */
typedef void (*cl16_log_fn)(void *user, const char *message);

/* GEMM backend. AUTO: per call, the tuned choice for the shape class (cl16
 * tune gemm), else cl16's own kernel. OWN (cl16's kernels) / CLBLAST force one. */
typedef enum cl16_gemm_backend { CL16_GEMM_AUTO = 0, CL16_GEMM_OWN = 1, CL16_GEMM_CLBLAST = 2 } cl16_gemm_backend;

typedef struct cl16_ctx_opts {
    const char *device;      /* index ("1") or case-insensitive name substring;
                                NULL: CL16_DEVICE from the environment, else device 0 */
    cl16_half_path half;     /* CL16_HALF_AUTO: CL16_HALF from the environment, else probe */
    int cache;               /* -1: environment (CL16_CACHE, default on); 0 off; 1 on */
    const char *cache_dir;   /* NULL: CL16_CACHE_DIR, $XDG_CACHE_HOME/cl16, ~/.cache/cl16 */
    const char *kernel_dir;  /* NULL: CL16_KERNEL_DIR or the embedded sources (development switch) */
    int profiling;           /* 1: command queue with profiling events (benchmarks) */
    int prebuild;            /* 1: build every default program at creation (see docs/architecture.md) */
    cl16_log_fn log;         /* NULL: warnings go to stderr */
    void *log_user;
    cl16_gemm_backend gemm;  /* AUTO: CL16_GEMM (cl16|clblast|auto) from the environment, else
                                per-shape choice; a GEMM call's own backend field overrides */
} cl16_ctx_opts;

/* Fills opts with the defaults (everything from the environment). */
CL16_API void cl16_ctx_opts_init(cl16_ctx_opts *opts);

/* Creates a context on one device: selects it, runs the half probe, opens the
 * program cache. opts may be NULL (defaults).
 * Like a database handle, *out is set even when creation fails (unless the
 * host is out of memory, then NULL): read cl16_ctx_last_error(*out) for the
 * reason, then cl16_ctx_free(*out). The caller owns *out. */
CL16_API cl16_status cl16_ctx_create(cl16_ctx **out, const cl16_ctx_opts *opts);
CL16_API void cl16_ctx_free(cl16_ctx *ctx);

/* Detail of the last failure on ctx ("" if none). Valid until the next call on ctx. */
CL16_API const char *cl16_ctx_last_error(const cl16_ctx *ctx);

/* The device the context runs on (owned by the context). */
CL16_API const cl16_device_info *cl16_ctx_device(const cl16_ctx *ctx);
CL16_API cl16_half_path cl16_ctx_half_path(const cl16_ctx *ctx);
/* Cache directory in use, or NULL when the disk cache is off. */
CL16_API const char *cl16_ctx_cache_dir(const cl16_ctx *ctx);

/* The OpenCL objects behind the context (cl_context, cl_command_queue,
 * cl_device_id, as void * so that this header needs no OpenCL header), for
 * interoperability with other OpenCL libraries, e.g. benchmarking against
 * CLBlast on the same queue. They stay owned by the context: do not release
 * them. Any out-pointer may be NULL. */
CL16_API cl16_status cl16_ctx_opencl(const cl16_ctx *ctx, void **cl_context, void **cl_queue,
                                     void **cl_device);

/* Device memory allocated through this context, in bytes: now and at the peak. */
CL16_API void cl16_ctx_memory(const cl16_ctx *ctx, uint64_t *current, uint64_t *peak);

typedef struct cl16_ctx_stats {
    unsigned programs_built;    /* programs compiled from source */
    unsigned cache_hits;        /* programs loaded from the disk cache */
    unsigned cache_misses;      /* no usable entry on disk (absent or rejected) */
    unsigned cache_rejected;    /* entries found but truncated, corrupt or refused by the driver */
    unsigned cache_writes;      /* entries written */
    double build_seconds;       /* wall time spent building or loading programs */
    double probe_seconds;       /* wall time of the half-path probe */
    uint64_t gemm_calls;        /* GEMMs enqueued (a batched call counts once) */
    double gemm_flops;          /* 2*M*N*K*batch summed over those calls */
    double op_flops;            /* floating-point operations of layer calls (GEMMs included) */
    double op_bytes;            /* bytes those calls read and wrote (minimum traffic) */
    unsigned conv_algo_measured;/* convolution shapes whose algorithm was timed (not found on disk) */
    uint64_t untimed_calls;     /* GEMMs handed to CLBlast, whose kernels cl16_ctx_device_time
                                   cannot see (a device time across one of them is partial) */
} cl16_ctx_stats;
CL16_API void cl16_ctx_stats_get(const cl16_ctx *ctx, cl16_ctx_stats *out);

/* Builds (or loads from the cache) every default program now. */
CL16_API cl16_status cl16_ctx_prebuild(cl16_ctx *ctx);

/* Waits until all work queued on the context is done. */
CL16_API cl16_status cl16_ctx_finish(cl16_ctx *ctx);

/* Device-busy time of the context so far, in seconds: waits for the commands
 * cl16 has queued, then sums END - START of their OpenCL profiling events
 * (cl16's kernels, buffer copies and fills; not host transfers, not the
 * kernels CLBlast enqueues itself: cl16_ctx_stats.untimed_calls counts those
 * calls). Read it before and after a call: the difference is that call's
 * kernel time, free of host overhead. Needs a
 * context created with opts.profiling = 1 (else CL16_ERR_UNSUPPORTED); with
 * profiling off nothing is recorded and nothing costs. */
CL16_API cl16_status cl16_ctx_device_time(cl16_ctx *ctx, double *seconds);

/* The same device time split by kernel: one entry per kernel function name
 * (buffer copies and fills together as "(copy/fill)"), longest first. */
typedef struct cl16_kernel_time {
    char name[64];
    double seconds;
    uint64_t calls;
} cl16_kernel_time;
/* Waits for the queued commands, then writes up to cap entries to out (out may
 * be NULL when cap is 0) and the number of distinct entries to *n (it may
 * exceed cap). reset 1 then clears the per-kernel sums (not the total of
 * cl16_ctx_device_time), so that a later call covers only what follows. Needs
 * opts.profiling, like cl16_ctx_device_time. */
CL16_API cl16_status cl16_ctx_kernel_times(cl16_ctx *ctx, cl16_kernel_time *out, size_t cap,
                                           size_t *n, int reset);

/* ---- tensors ------------------------------------------------------------ */

typedef enum cl16_dtype {
    CL16_F32 = 0,
    CL16_F16 = 1,
    CL16_I32 = 2, /* integers: class labels, max-pool indices (no arithmetic ops) */
    CL16_BF16 = 3 /* bfloat16: the top 16 bits of a float (8-bit exponent), float arithmetic */
} cl16_dtype;

#define CL16_MAX_DIMS 4

typedef struct cl16_tensor cl16_tensor;

/* Contiguous device tensor of 1 to 4 dimensions (row-major, last fastest).
 * Contents are undefined until written or filled. The caller owns *out and
 * must free it before the context. */
CL16_API cl16_status cl16_tensor_create(cl16_ctx *ctx, cl16_dtype dtype, int ndim,
                               const int64_t *dims, cl16_tensor **out);
CL16_API void cl16_tensor_free(cl16_tensor *t);

CL16_API cl16_dtype cl16_tensor_dtype(const cl16_tensor *t);
CL16_API int cl16_tensor_ndim(const cl16_tensor *t);
CL16_API int64_t cl16_tensor_dim(const cl16_tensor *t, int i);
CL16_API int64_t cl16_tensor_numel(const cl16_tensor *t);
CL16_API size_t cl16_tensor_bytes(const cl16_tensor *t);
CL16_API size_t cl16_dtype_size(cl16_dtype dtype);
CL16_API const char *cl16_dtype_name(cl16_dtype dtype);

/* The tensor's cl_mem (as void *), for interoperability with other OpenCL
 * libraries (e.g. benchmarking against CLBlast); owned by the tensor. Work
 * enqueued on it elsewhere must be ordered with the context's queue. */
CL16_API void *cl16_tensor_cl_mem(const cl16_tensor *t);

/* Host float <-> tensor, converting to the tensor's dtype (float->half rounds
 * to nearest even on the host). count must equal the number of elements. */
CL16_API cl16_status cl16_tensor_write_f32(cl16_tensor *t, const float *src, size_t count);
CL16_API cl16_status cl16_tensor_read_f32(const cl16_tensor *t, float *dst, size_t count);
/* Raw bytes in the tensor's own dtype; bytes must equal cl16_tensor_bytes(t). */
CL16_API cl16_status cl16_tensor_write_raw(cl16_tensor *t, const void *src, size_t bytes);
CL16_API cl16_status cl16_tensor_read_raw(const cl16_tensor *t, void *dst, size_t bytes);
/* Sets every element to value (rounded to nearest even for f16), on the device. */
CL16_API cl16_status cl16_tensor_fill(cl16_tensor *t, float value);
/* dst = src element-wise, converting dtype on the device (round to nearest even).
 * Both tensors must hold the same number of elements. */
CL16_API cl16_status cl16_tensor_copy(cl16_tensor *dst, const cl16_tensor *src);

/* ---- GEMM --------------------------------------------------------------- */

/* C = alpha * op(A) * op(B) + beta * C, row-major; op(X) = X or X^T.
 * op(A) is M x K, op(B) is K x N, C is M x N; lda/ldb/ldc are row strides in
 * elements. All three tensors share one dtype; products are accumulated in
 * float and rounded once on store. Equivalent to cl16_gemm_ex with offsets 0,
 * batch 1, no bias, no activation, backend AUTO. */
CL16_API cl16_status cl16_gemm(cl16_ctx *ctx, int trans_a, int trans_b, int64_t m, int64_t n, int64_t k,
                      float alpha, const cl16_tensor *a, int64_t lda, const cl16_tensor *b,
                      int64_t ldb, float beta, cl16_tensor *c, int64_t ldc);

/* Bias added by the GEMM epilogue. ROW: M values, bias[i] is added to row i
 * (a convolution's output channels when C is channels x pixels). COL: N
 * values, bias[j] is added to column j (a Linear layer, Y = X W^T + b). */
typedef enum cl16_bias_mode { CL16_BIAS_NONE = 0, CL16_BIAS_ROW = 1, CL16_BIAS_COL = 2 } cl16_bias_mode;
typedef enum cl16_activation { CL16_ACT_NONE = 0, CL16_ACT_RELU = 1 } cl16_activation;
/* FLOAT (default): products summed in float, one rounding on store. HALF:
 * summed in half (native-half devices only; faster on some mobile GPUs, error
 * grows with K: see docs/numerics.md). */
typedef enum cl16_accumulate { CL16_ACC_FLOAT = 0, CL16_ACC_HALF = 1 } cl16_accumulate;

/* The general form: for b in 0..batch-1, with X_b the view of tensor X that
 * starts at element x_offset + b * x_stride,
 *     C_b = act(alpha * op(A_b) * op(B_b) + beta * C_b + bias).
 * A stride of 0 reuses one A (or B) for every batch entry. A C stride of 0
 * with batch > 1 makes a batch-reduce GEMM: one C receives the sum of all
 * entries, C = act(alpha * sum_b op(A_b) * op(B_b) + beta * C + bias) (weight
 * gradients summed over a batch, no per-sample buffer). Otherwise the C views
 * of different entries must not overlap. The bias (same dtype as C) is shared
 * by all entries. Start from cl16_gemm_desc_init, which sets batch 1, alpha 1,
 * beta 0 and everything else 0 / NONE / AUTO. */
typedef struct cl16_gemm_desc {
    int trans_a, trans_b;
    int64_t m, n, k;
    int64_t batch;
    float alpha, beta;
    const cl16_tensor *a;
    int64_t a_offset, lda, a_stride;
    const cl16_tensor *b;
    int64_t b_offset, ldb, b_stride;
    cl16_tensor *c;
    int64_t c_offset, ldc, c_stride;
    const cl16_tensor *bias; /* NULL unless bias_mode != NONE */
    int64_t bias_offset;
    cl16_bias_mode bias_mode;
    cl16_activation activation;
    cl16_accumulate accumulate;
    cl16_gemm_backend backend; /* AUTO: the context's choice (see cl16_ctx_opts.gemm) */
} cl16_gemm_desc;

CL16_API void cl16_gemm_desc_init(cl16_gemm_desc *d);
CL16_API cl16_status cl16_gemm_ex(cl16_ctx *ctx, const cl16_gemm_desc *d);

/* Strided-batched convenience form of cl16_gemm_ex (no epilogue). */
CL16_API cl16_status cl16_gemm_strided_batched(cl16_ctx *ctx, int trans_a, int trans_b, int64_t m,
                                               int64_t n, int64_t k, float alpha,
                                               const cl16_tensor *a, int64_t a_offset, int64_t lda,
                                               int64_t a_stride, const cl16_tensor *b,
                                               int64_t b_offset, int64_t ldb, int64_t b_stride,
                                               float beta, cl16_tensor *c, int64_t c_offset,
                                               int64_t ldc, int64_t c_stride, int64_t batch);

/* GEMM tuning: for each shape class (dtype x transposes x size), times a
 * small grid of kernel parameters and CLBlast on representative shapes,
 * verifies every candidate against a float64 reference before it may win, and
 * stores the winners in the cache directory in a file keyed by device, driver
 * and cl16 version; later contexts on that device load it. quick = a smaller
 * grid and shapes (seconds, for tests). progress (may be NULL) receives one
 * line per measurement. save = 0 keeps the result in this context only. */
typedef struct cl16_tune_opts {
    int quick;
    int save;
    int f32, f16;          /* which dtypes to tune (both 0 = both) */
    cl16_log_fn progress;
    void *progress_user;
} cl16_tune_opts;
CL16_API void cl16_tune_opts_init(cl16_tune_opts *o);
CL16_API cl16_status cl16_gemm_tune(cl16_ctx *ctx, const cl16_tune_opts *o);
/* Path of this device's tuning file (whether or not it exists yet); "" when
 * the disk cache is off. */
CL16_API const char *cl16_gemm_tune_path(const cl16_ctx *ctx);

/* CLBlast's GEMM with the parameters CLBlast's own tuner (clblast_tuner_xgemm)
 * found for this device: the fair CLBlast peer of `cl16 bench gemm`.
 * scripts/tune-clblast.sh runs the tuner and writes a small text file
 * (docs/benchmarks.md); cl16 keeps it in the cache directory, one per device and
 * precision.
 * cl16_clblast_tuned_path: where this device's file for dt (f32 or f16) lives,
 *   whether or not it exists; CL16_ERR_IO (out = "") when the disk cache is off.
 * cl16_clblast_tuned_import: checks `file` (format, and that it was tuned on
 *   this context's device: CL16_ERR_FORMAT / CL16_ERR_INVALID_ARG naming the
 *   file and line) and stores it at that path; dest receives the path.
 * cl16_clblast_tuned_apply: hands the stored parameters to
 *   CLBlastOverrideParameters for dt; CL16_ERR_UNSUPPORTED whose detail starts
 *   with "not tuned" when there is no file. CLBlast 1.5 cannot restore its own
 *   parameters afterwards: they hold for the rest of the process. info (may be
 *   NULL) receives the path and the parameters applied. */
CL16_API cl16_status cl16_clblast_tuned_path(const cl16_ctx *ctx, cl16_dtype dt, char *out, size_t n);
CL16_API cl16_status cl16_clblast_tuned_import(cl16_ctx *ctx, const char *file, char *dest,
                                               size_t dest_len);
CL16_API cl16_status cl16_clblast_tuned_apply(cl16_ctx *ctx, cl16_dtype dt, char *info,
                                              size_t info_len);

/* Which backend and kernel parameters a GEMM of this shape would use, as one
 * line of text ("own tm=4 tn=64 vw=16 ku=4 lm=0 (tuned)"); for benchmarks and
 * diagnostics. */
CL16_API cl16_status cl16_gemm_plan(cl16_ctx *ctx, const cl16_gemm_desc *d, char *buf, size_t len);

/* ---- layers: forward and backward (NCHW, f16, bf16 or f32, float arithmetic) ---
 * Conventions shared by every layer call:
 *  - activations are 4-D NCHW tensors (Linear: 2-D [batch, features]); all
 *    float tensors of one call share one dtype (f16, bf16 or f32); labels and
 *    max-pool indices are i32;
 *  - the output tensors are allocated by the caller with exactly the shape the
 *    call produces (cl16_conv2d_out_dims etc. give it); a wrong shape is
 *    CL16_ERR_SHAPE with a message naming the tensor and the expected shape;
 *  - backward calls with a `beta` write d = beta * d + gradient (0: overwrite,
 *    1: accumulate, as a residual branch or gradient accumulation needs);
 *  - reductions (batch norm statistics, softmax, gradient sums) are done in
 *    float even when the tensors are f16, and rounded once on store;
 *  - every call adds its floating-point operations and bytes moved to
 *    cl16_ctx_stats.op_flops / op_bytes. */

typedef struct cl16_conv2d_params {
    int stride_h, stride_w, pad_h, pad_w, dilation_h, dilation_w, groups;
} cl16_conv2d_params;
/* stride 1, padding 0, dilation 1, groups 1. */
CL16_API void cl16_conv2d_params_init(cl16_conv2d_params *p);
/* Output shape [N, Cout, Ho, Wo] of x [N, C, H, W] convolved with w
 * [Cout, C/groups, kh, kw]; CL16_ERR_SHAPE naming the parameter at fault
 * (non-positive output size, C or Cout not divisible by groups, channel
 * mismatch). ctx is used for the message only. */
CL16_API cl16_status cl16_conv2d_out_dims(cl16_ctx *ctx, const cl16_conv2d_params *p,
                                          const int64_t x_dims[4], const int64_t w_dims[4],
                                          int64_t y_dims[4]);
/* The algorithm cl16 runs in this context for a convolution call with these
 * parameters, dims and dtype (has_bias: the forward call's bias), as a short
 * name in out (len bytes): pass 0 forward: "im2col", "direct", (16-bit on a
 * CPU's storage path) "im2col-float", im2col on float copies, or (stride 1)
 * "implicit", the GEMM reading the zero-padded input in place; pass 1
 * backward-data: at stride 1 "fwd-" and the forward's name (the forward form
 * on the rotated kernels; a call with beta != 0 runs "fwd-im2col" in place of
 * "fwd-direct" and "fwd-im2col-float"), else "col2im", "direct" or (dilation 1)
 * "implicit", one GEMM per stride phase writing that phase's pixels; pass 2 backward-weights:
 * "im2col-nn" or (stride 1) "implicit" or "implicit-dot". "unmeasured" when the choice has not
 * been made yet in this context or its cache directory (the first call
 * makes it). */
CL16_API cl16_status cl16_conv2d_algorithm(cl16_ctx *ctx, const cl16_conv2d_params *p,
                                           cl16_dtype dtype, const int64_t x_dims[4],
                                           const int64_t w_dims[4], int has_bias, int pass,
                                           char *out, size_t len);
/* y = conv(x, w) + bias (bias [Cout] or NULL). */
CL16_API cl16_status cl16_conv2d_forward(cl16_ctx *ctx, const cl16_conv2d_params *p,
                                         const cl16_tensor *x, const cl16_tensor *w,
                                         const cl16_tensor *bias, cl16_tensor *y);
/* dx = beta * dx + conv^T(dy, w). */
CL16_API cl16_status cl16_conv2d_backward_data(cl16_ctx *ctx, const cl16_conv2d_params *p,
                                               const cl16_tensor *dy, const cl16_tensor *w,
                                               float beta, cl16_tensor *dx);
/* dw = beta * dw + sum over the batch of the weight gradient; dbias (may be
 * NULL) = beta * dbias + sum of dy over batch and pixels. */
CL16_API cl16_status cl16_conv2d_backward_weights(cl16_ctx *ctx, const cl16_conv2d_params *p,
                                                  const cl16_tensor *x, const cl16_tensor *dy,
                                                  float beta, cl16_tensor *dw, cl16_tensor *dbias);

typedef enum cl16_pool_kind { CL16_POOL_MAX = 0, CL16_POOL_AVG = 1 } cl16_pool_kind;
typedef struct cl16_pool2d_params {
    cl16_pool_kind kind;
    int kernel_h, kernel_w, stride_h, stride_w, pad_h, pad_w;
    int count_include_pad; /* AVG: PyTorch's count_include_pad (default 1) */
    /* MAX only, 1: y = relu(max), the ReLU in front of a max pool moved behind
     * it (the same outputs; a network's conv, ReLU, pool without the ReLU's
     * pass and activation). An output the ReLU zeroes gets index -1, and the
     * backward passes no gradient through it: the gradient of pool(relu(x)). */
    int relu;
} cl16_pool2d_params;
/* MAX, 2x2, stride 2, no padding, count_include_pad 1, relu 0. */
CL16_API void cl16_pool2d_params_init(cl16_pool2d_params *p);
CL16_API cl16_status cl16_pool2d_out_dims(cl16_ctx *ctx, const cl16_pool2d_params *p,
                                          const int64_t x_dims[4], int64_t y_dims[4]);
/* MAX: indices (i32, shape of y, may be NULL) receive the flat index h*W+w of
 * each maximum within its plane (ties: the first in row-major order, as
 * PyTorch; -1 where relu zeroed the output); backward needs them. */
CL16_API cl16_status cl16_pool2d_forward(cl16_ctx *ctx, const cl16_pool2d_params *p,
                                         const cl16_tensor *x, cl16_tensor *y,
                                         cl16_tensor *indices);
/* dx = beta * dx + pool^T(dy); MAX needs the forward's indices. */
CL16_API cl16_status cl16_pool2d_backward(cl16_ctx *ctx, const cl16_pool2d_params *p,
                                          const cl16_tensor *dy, const cl16_tensor *indices,
                                          float beta, cl16_tensor *dx);
/* Global average pool: y [N, C, 1, 1] (or [N, C]) = mean over H*W. */
CL16_API cl16_status cl16_global_avgpool_forward(cl16_ctx *ctx, const cl16_tensor *x,
                                                 cl16_tensor *y);
CL16_API cl16_status cl16_global_avgpool_backward(cl16_ctx *ctx, const cl16_tensor *dy, float beta,
                                                  cl16_tensor *dx);

/* BatchNorm2d with PyTorch semantics. gamma, beta_, running_mean,
 * running_var: [C], f32 always (parameters and statistics stay in float);
 * save_mean / save_invstd: [C] f32 written by training forward for backward.
 * training = 1: normalise with the batch statistics (biased variance), then
 * running = (1 - momentum) * running + momentum * batch statistic, the
 * running variance taking the unbiased estimate; training = 0: use the
 * running statistics. Training with N*H*W = 1 is CL16_ERR_SHAPE (no unbiased
 * variance); running_mean and running_var may both be NULL in training (no
 * running statistics, PyTorch's track_running_stats=False). */
CL16_API cl16_status cl16_batchnorm2d_forward(cl16_ctx *ctx, int training, float momentum, float eps,
                                              const cl16_tensor *x, const cl16_tensor *gamma,
                                              const cl16_tensor *beta_, cl16_tensor *running_mean,
                                              cl16_tensor *running_var, cl16_tensor *save_mean,
                                              cl16_tensor *save_invstd, cl16_tensor *y);
/* Training-mode backward: dx = beta * dx + gradient; dgamma, dbeta_ ([C], f32)
 * are overwritten. */
CL16_API cl16_status cl16_batchnorm2d_backward(cl16_ctx *ctx, const cl16_tensor *x,
                                               const cl16_tensor *dy, const cl16_tensor *gamma,
                                               const cl16_tensor *save_mean,
                                               const cl16_tensor *save_invstd, float beta,
                                               cl16_tensor *dx, cl16_tensor *dgamma,
                                               cl16_tensor *dbeta_);

/* BatchNorm2d followed by ReLU in the same passes: y = relu(bn(x)) with the
 * arguments and semantics of cl16_batchnorm2d_forward, and the backward from
 * dy, the gradient of y: the ReLU mask is recomputed from x, the saved
 * statistics, gamma and beta_ (no extra read, no stored pre-ReLU output). The
 * pre-ReLU value is float inside the kernel, so in 16-bit storage the mask
 * differs from one taken on the rounded output only where that rounded to
 * zero (|value| < 2^-25 in f16), where the gradient passes. */
CL16_API cl16_status cl16_batchnorm2d_relu_forward(cl16_ctx *ctx, int training, float momentum,
                                                   float eps, const cl16_tensor *x,
                                                   const cl16_tensor *gamma,
                                                   const cl16_tensor *beta_,
                                                   cl16_tensor *running_mean,
                                                   cl16_tensor *running_var, cl16_tensor *save_mean,
                                                   cl16_tensor *save_invstd, cl16_tensor *y);
CL16_API cl16_status cl16_batchnorm2d_relu_backward(cl16_ctx *ctx, const cl16_tensor *x,
                                                    const cl16_tensor *dy,
                                                    const cl16_tensor *gamma,
                                                    const cl16_tensor *beta_,
                                                    const cl16_tensor *save_mean,
                                                    const cl16_tensor *save_invstd, float beta,
                                                    cl16_tensor *dx, cl16_tensor *dgamma,
                                                    cl16_tensor *dbeta_);

/* Element-wise, over all elements (shapes must hold the same count). */
CL16_API cl16_status cl16_relu_forward(cl16_ctx *ctx, const cl16_tensor *x, cl16_tensor *y);
/* dx = beta * dx + (y <= 0 ? 0 : dy), y the forward's output (PyTorch's mask:
 * where y is NaN the gradient passes, so a NaN is not hidden). */
CL16_API cl16_status cl16_relu_backward(cl16_ctx *ctx, const cl16_tensor *y, const cl16_tensor *dy,
                                        float beta, cl16_tensor *dx);
/* y = a*x + b*z (z may be NULL: y = a*x); relu = 1 applies ReLU after (the
 * residual add + ReLU of a ResNet block in one pass). y may alias x or z. */
CL16_API cl16_status cl16_axpby(cl16_ctx *ctx, float a, const cl16_tensor *x, float b,
                                const cl16_tensor *z, int relu, cl16_tensor *y);

/* Linear: y [N, out] = x [N, in] * w^T (w [out, in], PyTorch layout) + bias
 * ([out] or NULL), relu = 1 fuses ReLU; one GEMM. */
CL16_API cl16_status cl16_linear_forward(cl16_ctx *ctx, const cl16_tensor *x, const cl16_tensor *w,
                                         const cl16_tensor *bias, int relu, cl16_tensor *y);
/* dx (may be NULL) = beta * dx + dy * w; dw = beta * dw + dy^T * x; dbias (may
 * be NULL) = beta * dbias + column sums of dy. */
CL16_API cl16_status cl16_linear_backward(cl16_ctx *ctx, const cl16_tensor *x, const cl16_tensor *w,
                                          const cl16_tensor *dy, float beta, cl16_tensor *dx,
                                          cl16_tensor *dw, cl16_tensor *dbias);

/* Softmax cross-entropy over logits [N, classes] with labels [N] (i32, each
 * in 0..classes-1; an out-of-range label is CL16_ERR_INVALID_ARG naming the
 * sample). Computes in float with log-sum-exp: *loss (host, may be NULL) = the
 * mean loss, *correct (host, may be NULL) = how many argmax(logits) equal the
 * label (ties: the first index), and dlogits (may be NULL) = (softmax -
 * onehot) * scale / N in one kernel (scale = loss scale, 1 normally). A
 * non-finite logit, or a sample's loss beyond float's range, makes the call
 * return CL16_ERR_NUMERIC (loss and gradient still written). Blocks until the
 * result is on the host. */
CL16_API cl16_status cl16_softmax_xent(cl16_ctx *ctx, const cl16_tensor *logits,
                                       const cl16_tensor *labels, float scale, double *loss,
                                       int64_t *correct, cl16_tensor *dlogits);

/* ---- optimizers on the device ---------------------------------------------
 * One call updates one parameter tensor in place from its gradient. The
 * state tensors (m: momentum / first moment, v: second moment) have the
 * parameter's shape and dtype (16-bit state in 16-bit training); arithmetic
 * is float, each stored value rounded once to nearest even. Hyper-parameters
 * are kernel arguments, so changing them per step recompiles nothing.
 *  SGD:   g' = g + wd*w; m = momentum*m + (1 - dampening)*g' (m = g' at step 1);
 *         d = nesterov ? g' + momentum*m : m (momentum 0: d = g', m unused);
 *         w -= lr*d                                   (PyTorch's SGD)
 *  ADAM:  g' = g + wd*w; m = b1*m + (1-b1)*g'; v = b2*v + (1-b2)*g'^2;
 *         w -= lr * (m/(1-b1^t)) / (sqrt(v/(1-b2^t)) + eps)
 *  ADAMW: as ADAM without wd in g', and w -= lr*wd*w first (decoupled).
 * step t counts from 1. In f16 an eps below the half range flushes to zero in
 * storage but not in the float arithmetic used here (see docs/numerics.md). */
typedef enum cl16_optim_kind { CL16_OPT_SGD = 0, CL16_OPT_ADAM = 1, CL16_OPT_ADAMW = 2 } cl16_optim_kind;
typedef struct cl16_optim_params {
    cl16_optim_kind kind;
    float lr, weight_decay;
    float momentum, dampening; /* SGD */
    int nesterov;              /* SGD */
    float beta1, beta2, eps;   /* ADAM, ADAMW */
} cl16_optim_params;
/* SGD, lr 0.01, everything else 0; beta1 0.9, beta2 0.999, eps 1e-8. */
CL16_API void cl16_optim_params_init(cl16_optim_params *p);
/* m may be NULL for SGD without momentum; v is used by ADAM/ADAMW only. At
 * step 1 SGD does not read m (it may hold anything); Adam's m and v must be
 * zero then (the caller fills them). d, and Adam's update, use the float m and
 * v before they are rounded for storage. Refused before anything runs
 * (CL16_ERR_INVALID_ARG, or CL16_ERR_SHAPE for dtype/count): a missing
 * tensor, one of another context, dtypes other than w's f16/bf16/f32, element
 * counts other than w's, step < 1, lr or weight_decay negative or not finite,
 * momentum < 0, nesterov without momentum > 0 and dampening 0, betas outside
 * [0, 1), eps <= 0. */
CL16_API cl16_status cl16_optim_step(cl16_ctx *ctx, const cl16_optim_params *p, int64_t step,
                                     cl16_tensor *w, const cl16_tensor *g, cl16_tensor *m,
                                     cl16_tensor *v);
/* Beyond round-to-nearest (docs/numerics.md, "Update rounding"):
 *  STOCHASTIC: every stored 16-bit value of the step (w, m, v) rounds up with
 *    probability equal to its distance from the 16-bit (half or bf16) value
 *    below, in units of the spacing there; the random bits come from a counter-based generator
 *    keyed by (seed, step, tensor_id) and the element index: reproducible, and
 *    independent of work-group shape and device.
 *  KAHAN: w keeps a 16-bit compensation c (tensor comp, zero at the start):
 *    u = c + delta; w' = w + u (rounded); c = u - (w' - w).
 * Both apply to f16 and bf16 tensors; with f32 tensors they are plain updates. */
typedef enum cl16_rounding {
    CL16_ROUND_NEAREST = 0, CL16_ROUND_STOCHASTIC = 1, CL16_ROUND_KAHAN = 2
} cl16_rounding;
typedef struct cl16_optim_extra {
    cl16_rounding rounding;
    uint64_t seed;
    uint32_t tensor_id;       /* distinct per parameter tensor */
    cl16_tensor *comp;        /* KAHAN: w's dtype and count */
    cl16_tensor *w16;         /* mixed precision: w, m, v f32 (the master copy),
                                 g f16, and w16 (f16, w's count) receives the new
                                 weights rounded to nearest for the forward pass */
    float grad_scale;         /* g is multiplied by this first (1 / loss scale) */
    const cl16_tensor *skip;  /* i32 [>= 1] or NULL: when [0] != 0 nothing is
                                 written (set by cl16_grad_check) */
    cl16_tensor *stats;       /* i32 [2] or NULL: [0] += elements whose computed
                                 change was nonzero, [1] += those whose stored
                                 value nevertheless did not change (stalled) */
} cl16_optim_extra;
/* NEAREST, seed 0, tensor_id 0, no comp/w16/skip/stats, grad_scale 1. */
CL16_API void cl16_optim_extra_init(cl16_optim_extra *x);
/* cl16_optim_step with the extras (x NULL: cl16_optim_step). */
CL16_API cl16_status cl16_optim_step_ex(cl16_ctx *ctx, const cl16_optim_params *p, int64_t step,
                                        cl16_tensor *w, const cl16_tensor *g, cl16_tensor *m,
                                        cl16_tensor *v, const cl16_optim_extra *x);
/* flag[0] = 1 (i32 tensor, left as it is otherwise) when g (f16, bf16 or f32) holds
 * an infinity or NaN: a device-side overflow check for loss scaling, enqueued
 * without waiting; clear flag first (cl16_tensor_fill). */
CL16_API cl16_status cl16_grad_check(cl16_ctx *ctx, const cl16_tensor *g, cl16_tensor *flag);
/* cl16_grad_check over count gradients (any float dtypes), a few per kernel
 * launch: the trainer checks a whole model's gradients with it. */
CL16_API cl16_status cl16_grad_check_n(cl16_ctx *ctx, const cl16_tensor *const *g, size_t count,
                                       cl16_tensor *flag);

/* Learning rate at `step` (0-based) of `total`: constant, step decay (x gamma
 * every step_size steps) or cosine to 0, after a linear warm-up of `warmup`
 * steps from 0. Precisely: step < warmup gives base_lr * step / warmup (0 at
 * step 0, as HuggingFace's warm-up); then, with a = step - warmup, CONSTANT
 * gives base_lr, STEP base_lr * gamma^floor(a / step_size) (total unused) and
 * COSINE base_lr * (1 + cos(pi * a / (total - warmup))) / 2, 0 from step
 * total on. NaN for an unknown schedule, step < 0, warmup < 0 or (STEP)
 * step_size < 1, so that an optimizer step with it is refused. */
typedef enum cl16_lr_schedule { CL16_LR_CONSTANT = 0, CL16_LR_STEP = 1, CL16_LR_COSINE = 2 } cl16_lr_schedule;
CL16_API double cl16_lr_at(cl16_lr_schedule s, double base_lr, int64_t step, int64_t total,
                           int64_t warmup, int64_t step_size, double gamma);

/* ---- safetensors files (host memory, no context) ---------------------------
 * Read strictly: header length within the file, well-formed JSON, known
 * dtypes, shape product x element size = byte length, offsets inside the data
 * section, sorted without overlap or gap, names unique. Errors go to err
 * (may be NULL) naming the file, tensor and field. */
typedef enum cl16_st_dtype {
    CL16_ST_F32 = 0, CL16_ST_F16 = 1, CL16_ST_BF16 = 2, CL16_ST_I64 = 3
} cl16_st_dtype;
#define CL16_ST_MAX_DIMS 8
typedef struct cl16_st_tensor {
    const char *name;
    cl16_st_dtype dtype;
    int ndim;
    int64_t dims[CL16_ST_MAX_DIMS];
    const void *data; /* little-endian elements, `bytes` long; NOT aligned (the
                       * format promises nothing): memcpy out, never cast */
    size_t bytes;
} cl16_st_tensor;
/* A loaded file owns one copy of the bytes plus its names and metadata
 * strings; every pointer the accessors return lives until
 * cl16_safetensors_free (data points into the copy). On
 * failure *out is NULL. Tensors are indexed in data-offset order (the header's
 * key order means nothing in JSON); find looks a name up in O(log n). */
typedef struct cl16_safetensors cl16_safetensors;
CL16_API cl16_status cl16_safetensors_load(const char *path, cl16_safetensors **out, char *err,
                                           size_t err_len);
/* The same from a buffer (copied); what the fuzzer drives. */
CL16_API cl16_status cl16_safetensors_parse(const void *buf, size_t len, cl16_safetensors **out,
                                            char *err, size_t err_len);
CL16_API size_t cl16_safetensors_count(const cl16_safetensors *f);
CL16_API const cl16_st_tensor *cl16_safetensors_at(const cl16_safetensors *f, size_t i);
CL16_API const cl16_st_tensor *cl16_safetensors_find(const cl16_safetensors *f, const char *name);
/* Value of "__metadata__" key (strings only), or NULL. */
CL16_API const char *cl16_safetensors_meta(const cl16_safetensors *f, const char *key);
CL16_API void cl16_safetensors_free(cl16_safetensors *f);
/* Writes tensors (F32, F16, BF16 or I64) and string metadata (meta =
 * {key, value, key, value, ..., NULL}, may be NULL) to path atomically: a
 * temporary file in the same directory (path + ".tmp.<pid>"), fsync, rename;
 * the old file stays intact on any failure (CL16_ERR_IO naming path and errno
 * text). Header: "__metadata__" first, then the tensors in the given order
 * with contiguous offsets, padded with spaces to a multiple of 8 bytes. Bad
 * names/dtypes/ndim: CL16_ERR_INVALID_ARG; bytes != shape x dtype size:
 * CL16_ERR_SHAPE. */
CL16_API cl16_status cl16_safetensors_save(const char *path, const cl16_st_tensor *tensors,
                                           size_t count, const char *const *meta, char *err,
                                           size_t err_len);

/* ---- data sets (host memory, no context) -----------------------------------
 * IDX files (MNIST format, raw or gzip) and CIFAR-10 binary batches, loaded
 * whole into host memory as bytes. Batches come out as float NCHW scaled to
 * [0,1] and normalised per channel, labels as int32. */
typedef struct cl16_dataset cl16_dataset;
/* images: idx3 (N x H x W, u8, magic 0x00000803); labels: idx1 (N, u8, magic
 * 0x00000801); each raw or gzip (detected from the content). Validated strictly:
 * dims > 0, H and W <= 4096, at most 2^31 data bytes, file length exactly as the
 * header says, equal counts; any violation is CL16_ERR_FORMAT naming the file.
 * classes = max label + 1, but at least 10. *out is the caller's to free. */
CL16_API cl16_status cl16_dataset_load_idx(const char *images_path, const char *labels_path,
                                           cl16_dataset **out, char *err, size_t err_len);
/* dir holds data_batch_1..5.bin (train) or test_batch.bin (test): records of
 * 1 label byte (0..9) + 3072 pixel bytes (R, G, B planes of 32 x 32). */
CL16_API cl16_status cl16_dataset_load_cifar10(const char *dir, int train, cl16_dataset **out,
                                               char *err, size_t err_len);
/* name "fashion-mnist" or "mnist" (dir NULL: /usr/share/datasets/<name>), or
 * "cifar10" (dir required); mean/std get the data set's per-channel defaults
 * (Fashion-MNIST 0.2860/0.3530, MNIST 0.1307/0.3081, CIFAR-10 per channel). */
CL16_API cl16_status cl16_dataset_load(const char *name, const char *dir, int train,
                                       cl16_dataset **out, char *err, size_t err_len);
CL16_API void cl16_dataset_free(cl16_dataset *d);
/* Count, channels, height, width, classes. */
CL16_API void cl16_dataset_shape(const cl16_dataset *d, int64_t *count, int *c, int *h, int *w,
                                 int *classes);
/* The data set's published mean/std; for IDX files loaded by
 * cl16_dataset_load_idx, those computed from its pixels. Unused channels
 * repeat channel 0. */
CL16_API void cl16_dataset_default_norm(const cl16_dataset *d, float mean[3], float std[3]);
/* A permutation of 0..n-1 from seed (the same for the same seed everywhere):
 * Fisher-Yates, i = n-1 down to 1 swapping perm[i] with perm[j], j uniform in
 * [0, i] by rejection sampling of splitmix64 outputs seeded with seed. */
CL16_API void cl16_shuffle(uint64_t seed, int64_t n, int64_t *perm);
/* Images idx[0..n) as float [n, c, h, w] = (byte/255 - mean[ch]) / std[ch]
 * (computed in double, rounded once); mean/std NULL: the default norm; labels
 * may be NULL. With crop_pad > 0 the image is padded with zero bytes (before
 * normalisation) by crop_pad on every side and an h x w window taken at a
 * random offset; with flip it is mirrored horizontally with probability 1/2.
 * The draws are a hash of (seed, position in the batch): reproducible and the
 * same whoever assembles the batch. An index outside [0, count), std <= 0 or a
 * NULL argument is CL16_ERR_INVALID_ARG. */
CL16_API cl16_status cl16_dataset_batch(const cl16_dataset *d, const int64_t *idx, int64_t n,
                                        const float mean[3], const float std[3], int crop_pad,
                                        int flip, uint64_t seed, float *images, int32_t *labels);

/* ---- models ----------------------------------------------------------------
 * Built-in architectures with PyTorch's state_dict names (docs/models.md gives
 * each one's PyTorch definition), so that a model saved from PyTorch with
 * safetensors loads directly:
 *   mlp       fc1, fc2, fc3 (Linear, ReLU between; flatten of the input first)
 *   lenet5    conv1 (C->6, 5x5, pad 2), ReLU, max-pool 2, conv2 (6->16, 5x5),
 *             ReLU, max-pool 2, fc1 (16*h*w->120), ReLU, fc2 (120->84), ReLU, fc3
 *   resnet20, resnet32, resnet56   CIFAR ResNet (3 stages of 3/5/9 BasicBlocks,
 *             widths 16/32/64, bias-free convs + BatchNorm2d, 1x1 projection
 *             shortcuts where the shape changes), global average pool, fc
 * Linear weights are [out, in], Conv2d weights [out, in/groups, kh, kw].
 * A model holds its parameters, their gradients and the activations of one
 * batch, all on the context's device in the model's dtype (f32, or f16 or
 * bf16 for pure 16-bit training). BatchNorm's affine parameters and running statistics
 * stay f32 in both (they are under 1 % of ResNet-20's parameters, and the
 * layer computes its statistics in float anyway); num_batches_tracked is a
 * host counter saved as I64. */
typedef struct cl16_model cl16_model;
typedef struct cl16_model_opts {
    const char *arch;       /* one of cl16_model_archs() */
    int channels, height, width; /* input image shape */
    int classes;
    int hidden1, hidden2;   /* mlp hidden sizes */
    cl16_dtype dtype;       /* CL16_F32, CL16_F16 or CL16_BF16 */
} cl16_model_opts;
/* lenet5, 1 x 28 x 28, 10 classes, hidden 256/128, f32. */
CL16_API void cl16_model_opts_init(cl16_model_opts *o);
/* NULL-terminated list of the architecture names. */
CL16_API const char *const *cl16_model_archs(void);
/* Creates a model with parameters initialised as PyTorch initialises a fresh
 * module (Linear/Conv2d: weights kaiming-uniform with a = sqrt(5), i.e.
 * U(+-1/sqrt(fan_in)), biases U(+-1/sqrt(fan_in)); BatchNorm: weight 1, bias 0,
 * running mean 0, running var 1), drawn from `seed`. Unknown arch or a shape the
 * architecture cannot take (e.g. lenet5 on 8 x 8 images) is CL16_ERR_INVALID_ARG
 * / CL16_ERR_SHAPE with a message in cl16_ctx_last_error. */
CL16_API cl16_status cl16_model_create(cl16_ctx *ctx, const cl16_model_opts *o, uint64_t seed,
                                       cl16_model **out);
CL16_API void cl16_model_free(cl16_model *m);
CL16_API const cl16_model_opts *cl16_model_get_opts(const cl16_model *m);
CL16_API cl16_ctx *cl16_model_ctx(const cl16_model *m);

typedef enum cl16_param_kind {
    CL16_PARAM_TRAINABLE = 0, /* weights and biases: value and grad */
    CL16_PARAM_STAT = 1,      /* BatchNorm running_mean / running_var: value only */
    CL16_PARAM_COUNTER = 2    /* BatchNorm num_batches_tracked: counter only */
} cl16_param_kind;
typedef struct cl16_model_param {
    const char *name;        /* PyTorch state_dict key, e.g. "layer2.0.shortcut.1.running_var" */
    cl16_param_kind kind;
    cl16_tensor *value;      /* TRAINABLE, STAT */
    cl16_tensor *grad;       /* TRAINABLE: written by cl16_model_backward */
    int64_t counter;         /* COUNTER */
} cl16_model_param;
/* Every state_dict entry, in PyTorch's registration order. */
CL16_API size_t cl16_model_param_count(const cl16_model *m);
CL16_API cl16_model_param *cl16_model_param_at(cl16_model *m, size_t i);
/* Number of trainable scalars. */
CL16_API int64_t cl16_model_numel(const cl16_model *m);

/* Forward pass of x [N, C, H, W] (the model's dtype). training = 1 uses batch
 * statistics in BatchNorm (and updates the running ones) and keeps what
 * cl16_model_backward needs; 0 is evaluation. Activations are allocated for N
 * on first use and kept (reallocated when N changes). *logits ([N, classes])
 * belongs to the model and is valid until the next forward. The model keeps a
 * reference to x: after a training forward, x must stay alive and unchanged
 * until cl16_model_backward (the first layer's weight gradient reads it). */
CL16_API cl16_status cl16_model_forward(cl16_model *m, const cl16_tensor *x, int training,
                                        const cl16_tensor **logits);
/* Backward from dlogits [N, classes] after a training forward: overwrites the
 * grad of every trainable parameter. */
CL16_API cl16_status cl16_model_backward(cl16_model *m, const cl16_tensor *dlogits);

/* What converting a file's tensors into the model's dtype did: values read,
 * values that overflowed it (half: |x| > 65504, rounded to infinity; bf16:
 * above 3.39e38) and nonzero values flushed to zero (half: |x| < 2^-25;
 * bf16: below 2^-134), with the first tensor that had each. */
typedef struct cl16_cast_report {
    int64_t values, overflowed, flushed, subnormal;
    char first_overflow[96], first_flush[96];
} cl16_cast_report;
/* Loads the parameters of f (F32, F16 or BF16 values; I64 counters) into m,
 * rounding to nearest even into the model's dtype. Every state_dict name must
 * be present with the model's shape: otherwise CL16_ERR_FORMAT whose message
 * lists all missing, unexpected and mismatched names at once (entries named
 * "optim.*", a checkpoint's optimizer state, are not unexpected). A value that
 * overflows the model's dtype is CL16_ERR_NUMERIC naming the tensor, and m is
 * left unchanged. rep may be NULL. */
CL16_API cl16_status cl16_model_load(cl16_model *m, const cl16_safetensors *f,
                                     cl16_cast_report *rep, char *err, size_t err_len);
/* Creates the model a file holds: the architecture from its metadata "arch"
 * or, for a file without metadata (as PyTorch writes it), o->arch; channels
 * and classes from the tensors' shapes; height/width from o. dtype from o.
 * Then cl16_model_load. */
CL16_API cl16_status cl16_model_open(cl16_ctx *ctx, const char *path, const cl16_model_opts *o,
                                     cl16_model **out, cl16_cast_report *rep, char *err,
                                     size_t err_len);
/* Writes the state_dict to path atomically (cl16_safetensors_save) with the
 * floating-point tensors in file_dtype (CL16_F32, CL16_F16 or CL16_BF16; BatchNorm
 * statistics stay F32), counters as I64, and metadata "arch" plus `meta`
 * (key, value, ..., NULL; may be NULL). */
CL16_API cl16_status cl16_model_save(cl16_model *m, const char *path, cl16_dtype file_dtype,
                                     const char *const *meta, char *err, size_t err_len);

/* ---- training ---------------------------------------------------------------
 * A trainer owns the optimizer state of one model (m and v per trainable
 * parameter, in the parameter's dtype: 16-bit state in 16-bit training) and
 * the step counter. Each step: upload the batch, forward, softmax
 * cross-entropy, backward, one fused optimizer kernel per parameter with the
 * scheduled learning rate. */
/* Training precisions (docs/numerics.md). The model's dtype is f32 for FP32,
 * bf16 for BF16 and BF16_SR and f16 for the others; AUTO takes FP32, FP16 or
 * BF16 from it.
 *   FP16        pure 16-bit: weights, activations, gradients and optimizer
 *               state in half, updates rounded to nearest (the paper's method)
 *   FP16_SR     as FP16, the update's stores rounded stochastically
 *   FP16_KAHAN  as FP16, plus a 16-bit Kahan compensation per weight (+2 bytes)
 *   MIXED       half forward/backward, f32 master weights and optimizer state
 *               (+6 or +10 bytes per weight): the usual baseline
 *   BF16        as FP16 in bfloat16 (8-bit exponent, 8 significant bits):
 *               float's range, so no loss scaling by default
 *   BF16_SR     as BF16, the update's stores rounded stochastically */
typedef enum cl16_precision {
    CL16_PREC_AUTO = 0, CL16_PREC_FP32, CL16_PREC_FP16, CL16_PREC_FP16_SR,
    CL16_PREC_FP16_KAHAN, CL16_PREC_MIXED, CL16_PREC_BF16, CL16_PREC_BF16_SR
} cl16_precision;
/* "fp32", "fp16", "fp16-sr", "fp16-kahan", "mixed", "bf16", "bf16-sr"
 * ("auto" for AUTO). */
CL16_API const char *cl16_precision_name(cl16_precision p);
/* The precision named s (as above); CL16_ERR_INVALID_ARG for another name. */
CL16_API cl16_status cl16_precision_parse(const char *s, cl16_precision *out);
/* The model dtype precision p trains: CL16_F32 for FP32 (and AUTO), CL16_BF16
 * for BF16 and BF16_SR, CL16_F16 for the other 16-bit precisions. */
CL16_API cl16_dtype cl16_precision_dtype(cl16_precision p);
/* Loss scaling: the loss gradient is multiplied by S, the optimizer divides
 * the gradients by S inside its kernel. DYNAMIC checks every gradient on the
 * device (cl16_grad_check); an overflowing step is skipped and S halved, and S
 * doubles after growth_interval clean steps. */
typedef enum cl16_loss_scaling {
    CL16_SCALE_AUTO = 0,    /* DYNAMIC in the f16 precisions, NONE in FP32, BF16, BF16_SR */
    CL16_SCALE_NONE, CL16_SCALE_STATIC, CL16_SCALE_DYNAMIC
} cl16_loss_scaling;
typedef struct cl16_train_opts {
    cl16_optim_params optim;    /* lr is the base learning rate */
    cl16_lr_schedule schedule;
    int64_t total_steps;        /* COSINE: steps to reach 0 */
    int64_t warmup_steps;
    int64_t step_size;          /* STEP: decay every step_size steps */
    double gamma;               /* STEP: factor */
    cl16_precision precision;
    uint64_t seed;              /* FP16_SR, BF16_SR: the generator's seed */
    cl16_loss_scaling scaling;
    float loss_scale;           /* STATIC: S; DYNAMIC: the initial S (65536) */
    int64_t growth_interval;    /* DYNAMIC: clean steps before S doubles (2000) */
    int stall_stats;            /* 1: count stalled updates (cl16_trainer_get_stats) */
} cl16_train_opts;
/* SGD lr 0.01 (cl16_optim_params_init), constant, no warm-up, step_size 1,
 * gamma 0.1, precision AUTO, seed 0, scaling AUTO with S = 65536 and growth
 * interval 2000, stall statistics on. */
CL16_API void cl16_train_opts_init(cl16_train_opts *o);
typedef struct cl16_trainer cl16_trainer;
CL16_API cl16_status cl16_trainer_create(cl16_model *m, const cl16_train_opts *o,
                                         cl16_trainer **out);
CL16_API void cl16_trainer_free(cl16_trainer *t);
/* One training step on a host batch: images float [n, C, H, W] (normalised),
 * labels [n]. *loss (mean over the batch) and *correct may be NULL. A
 * non-finite loss is CL16_ERR_NUMERIC with no weight or optimizer state
 * changed (BatchNorm running statistics have seen the batch): the loss kernel
 * sets a device flag that the update kernels read, and the host waits once per
 * step, at its end. With loss scaling, a step whose gradients overflow is
 * skipped (CL16_OK; see cl16_train_stats.skipped). */
CL16_API cl16_status cl16_trainer_step(cl16_trainer *t, const float *images,
                                       const int32_t *labels, int64_t n, double *loss,
                                       int64_t *correct);
/* Steps taken (restored by cl16_trainer_restore); skipped steps do not count. */
CL16_API int64_t cl16_trainer_steps(const cl16_trainer *t);
typedef struct cl16_train_stats {
    int64_t steps;        /* optimizer steps taken */
    int64_t skipped;      /* steps skipped because a gradient overflowed */
    double loss_scale;    /* the current S (1 without scaling) */
    int64_t changed;      /* since the last reset: weights whose computed change was nonzero */
    int64_t stalled;      /* ... and whose stored 16-bit value nevertheless stayed */
} cl16_train_stats;
CL16_API void cl16_trainer_get_stats(const cl16_trainer *t, cl16_train_stats *s);
/* Zeroes changed and stalled (e.g. at the start of an epoch). */
CL16_API void cl16_trainer_reset_stall(cl16_trainer *t);
/* Learning rate the next step will use. */
CL16_API double cl16_trainer_lr(const cl16_trainer *t);
/* Evaluation-mode forward of a host batch: adds the summed loss and the
 * number of correct predictions to *loss_sum / *correct. */
CL16_API cl16_status cl16_model_evaluate(cl16_model *m, const float *images,
                                         const int32_t *labels, int64_t n, double *loss_sum,
                                         int64_t *correct);
/* A checkpoint: cl16_model_save in the model's own dtype plus the optimizer
 * state as "optim.m.<name>" / "optim.v.<name>" and metadata "step",
 * "optimizer", "precision" (and `meta`). Atomic: the previous file at path
 * stays intact on any failure. */
CL16_API cl16_status cl16_trainer_save(cl16_trainer *t, const char *path,
                                       const char *const *meta, char *err, size_t err_len);
/* Restores the optimizer state, step counter and loss scale from a
 * checkpoint written by cl16_trainer_save (the model is loaded separately,
 * cl16_model_load). A plain model file (no "step" metadata and no optim.*
 * tensors: starting to continue it) leaves the state zero and the counter 0
 * and returns CL16_OK; a partial or mismatched state, or another optimizer
 * or precision, is CL16_ERR_FORMAT. */
CL16_API cl16_status cl16_trainer_restore(cl16_trainer *t, const cl16_safetensors *f, char *err,
                                          size_t err_len);

/* ---- device peaks (for benchmarks) -----------------------------------------
 * What the device can do at best, measured: the copy bandwidth of a buffer
 * (clEnqueueCopyBuffer, bytes read + written per second) and the multiply-add
 * rate of a kernel of eight independent chains per work-item, in float (the
 * faster of float8 and float16 chains: AVX-512 CPUs need the wider one) and,
 * on the native-half path, in half (0 on the storage path). Each figure is the
 * best of a few repetitions sized to about budget_s seconds in all. */
typedef struct cl16_peaks {
    double copy_gb_per_s;
    double f32_gflops;
    double f16_gflops;
} cl16_peaks;
CL16_API cl16_status cl16_measure_peaks(cl16_ctx *ctx, double budget_s, cl16_peaks *out);

/* ---- host half conversion (exact, round to nearest even) ----------------- */

CL16_API uint16_t cl16_float_to_half(float f);
CL16_API float cl16_half_to_float(uint16_t h);
CL16_API void cl16_floats_to_halves(const float *src, uint16_t *dst, size_t n);
CL16_API void cl16_halves_to_floats(const uint16_t *src, float *dst, size_t n);

/* bfloat16 (the top half of a binary32): float -> bf16 rounds to nearest even
 * (overflow to infinity, infinities kept, a NaN stays a NaN with its top
 * payload bits and the quiet bit set); bf16 -> float is exact. */
CL16_API uint16_t cl16_float_to_bf16(float f);
CL16_API float cl16_bf16_to_float(uint16_t b);
CL16_API void cl16_floats_to_bf16s(const float *src, uint16_t *dst, size_t n);
CL16_API void cl16_bf16s_to_floats(const uint16_t *src, float *dst, size_t n);

#ifdef __cplusplus
}
#endif
#endif /* CL16_H */
