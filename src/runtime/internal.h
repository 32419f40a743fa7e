/* internal.h - what the runtime's files share: the context and tensor structs,
 * error helpers, the allocator, build options and program lookup. Not installed. */
#ifndef CL16_INTERNAL_H
#define CL16_INTERNAL_H

#define CL_TARGET_OPENCL_VERSION 120
#ifndef CL_USE_DEPRECATED_OPENCL_1_2_APIS
#define CL_USE_DEPRECATED_OPENCL_1_2_APIS
#endif
#include <CL/cl.h>
#include <stdarg.h>
#include <stdio.h>

#include "cl16.h"

#define CL16_PATH_MAX 4096
#define CL16_CACHE_FORMAT_VERSION 1u
#define CL16_CACHE_HEADER_SIZE 88u

#if defined(__GNUC__)
#define CL16_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define CL16_PRINTF(a, b)
#endif

/* ---- configuration from the environment (src/runtime/config.c) ---------- */
typedef struct cl16_config {
    char device[256];           /* "" = not set */
    cl16_half_path half;        /* AUTO when unset */
    int cache;                  /* 1 on, 0 off */
    char cache_dir[CL16_PATH_MAX];
    char kernel_dir[CL16_PATH_MAX]; /* "" = embedded */
    cl16_gemm_backend gemm;     /* AUTO unless forced */
    int conv_algo;              /* CL16_CONV_ALGO: 0 auto, 1 im2col, 2 direct, 3 im2col-float,
                                   4 implicit, 5 implicit-dot */
} cl16_config;

/* Resolves opts (may be NULL) against the environment. Every environment
 * variable cl16 reads is read here and nowhere else. */
cl16_status cl16__config_resolve(const cl16_ctx_opts *opts, cl16_config *cfg, char *err,
                                 size_t err_len);

/* ---- programs ----------------------------------------------------------- */
#define CL16_MAX_KERNELS_PER_PROGRAM 32

typedef struct cl16_program {
    char *file;     /* registry name, e.g. "gemm.cl" */
    char *options;  /* the complete build option string */
    cl_program prog;
    int nkernels;
    char kernel_names[CL16_MAX_KERNELS_PER_PROGRAM][64];
    cl_kernel kernels[CL16_MAX_KERNELS_PER_PROGRAM];
} cl16_program;

/* A variant of a kernel file: what goes into its build options. */
typedef struct cl16_variant {
    cl16_dtype dtype;     /* storage type of the tensors the kernels see */
    int half_arith;       /* native path only: 1 = arithmetic (not only storage) in half */
    const char *defines;  /* extra "-DNAME=VALUE ..." (tuning parameters), may be NULL */
} cl16_variant;

/* ---- GEMM plans (details below) ---- */
typedef enum cl16_gemm_kind { CL16_GK_TILE = 0, CL16_GK_DOT = 1, CL16_GK_LMEM = 2 } cl16_gemm_kind;
typedef struct cl16_gemm_params {
    cl16_gemm_backend backend; /* OWN or CLBLAST */
    cl16_gemm_kind kind;       /* which of gemm.cl's kernels (OWN only) */
    int tm, tn, vw;            /* rows / columns of C per work-item, vector width */
    int ku;                    /* tile kernel, NN: k unroll 1 or 4 */
    int wgx, wgy, kt;          /* lmem kernel: work-group shape, k slice */
    int pack;                  /* tile, lmem: copy op(A), op(B) into the workspace as float
                                  (f16; for f32 only transposed operands) and run the NN path */
} cl16_gemm_params;

/* Shape classes: dtype x (trans_a, trans_b) x batch-reduce or not x size (by
 * the work M*N*K*batch). Index ((f16 * 4 + op) * 2 + reduce) * NSIZES + size,
 * op = 2 * trans_a + trans_b. */
#define CL16_GEMM_NSIZES 3
#define CL16_GEMM_NCLASSES (2 * 4 * 2 * CL16_GEMM_NSIZES)
int cl16__gemm_class(cl16_dtype dt, int ta, int tb, int reduce, int64_t m, int64_t n, int64_t k,
                     int64_t batch);
int cl16__gemm_class_of(const cl16_gemm_desc *d);
/* "f16 NT small" for class index c. */
void cl16__gemm_class_name(int c, char *buf, size_t n);
typedef struct cl16_gemm_choice {
    int valid;
    cl16_gemm_params own;  /* fastest verified parameters of cl16's kernels */
    double own_gflops;
    int clblast_ok;        /* CLBlast ran and passed verification */
    double clblast_gflops;
} cl16_gemm_choice;

/* ---- the context -------------------------------------------------------- */
struct cl16_ctx {
    cl16_status init_status;
    cl16_device_info dev;
    char *dev_extensions;       /* owned copy behind dev.extensions */
    cl_platform_id platform;
    cl_device_id device;
    cl_context cl;
    cl_command_queue queue;
    cl16_half_path half;
    int profiling;
    /* With profiling: events of commands enqueued but not yet summed
     * (src/runtime/profile.c), and the device-busy nanoseconds summed so far. */
    cl_event *prof_ev;
    cl_kernel *prof_k;          /* the kernel behind each pending event (NULL: copy, fill) */
    size_t prof_n;
    uint64_t prof_ns;
    int prof_lost; /* an event array could not be allocated */
    /* Device time per kernel object (cl16_ctx_kernel_times): allocated on the
     * first harvest; kernels past its capacity are summed in its last entry. */
    struct cl16__prof_entry *prof_tab;
    size_t prof_tab_n;

    int cache_on;
    int cache_warned;
    char cache_dir[CL16_PATH_MAX];
    char kernel_dir[CL16_PATH_MAX];

    cl16_program *progs;
    size_t nprogs, progs_cap;

    uint64_t mem_cur, mem_peak;
    cl16_ctx_stats stats;

    cl16_gemm_backend gemm_force;          /* from opts / CL16_GEMM */
    int gemm_tune_loaded;
    int clblast_used;
    int gemm_panel;                         /* B in column panels: -1 by size (gemm.c), 0 never,
                                               1 always (tests) */
    cl_mem ws;                              /* GEMM workspace (packed B), grown on demand */
    size_t ws_bytes;
    char gemm_tune_path[CL16_PATH_MAX];    /* "" when the cache is off */
    cl16_gemm_choice gemm_tuned[CL16_GEMM_NCLASSES];
    int conv_algo;                          /* from CL16_CONV_ALGO (cl16_config.conv_algo) */
    struct cl16_conv_table *conv;           /* per-shape algorithm choices (src/ops/conv.c) */
    int poison;                             /* CL16_DEBUG_POISON=1: new buffers filled with NaN
                                               bytes (tests: nothing may count on zeroed memory) */

    char *err;
    size_t err_cap;
    cl16_log_fn log;
    void *log_user;
};

struct cl16_tensor {
    cl16_ctx *ctx;
    cl16_dtype dtype;
    int ndim;
    int64_t dims[CL16_MAX_DIMS];
    int64_t numel;
    size_t bytes;
    cl_mem mem;
};

/* ---- errors (src/runtime/status.c) -------------------------------------- */
/* Records the detail on ctx and returns s, so callers write `return cl16__fail(...)`. */
cl16_status cl16__fail(cl16_ctx *ctx, cl16_status s, const char *fmt, ...) CL16_PRINTF(3, 4);
/* Maps an OpenCL error code of call `what` into a status and detail. */
cl16_status cl16__cl_fail(cl16_ctx *ctx, cl_int code, const char *what, ...) CL16_PRINTF(3, 4);
/* Appends text to the current detail (e.g. a build log). */
void cl16__append_error(cl16_ctx *ctx, const char *text);
const char *cl16__cl_error_name(cl_int code);
void cl16__warn(cl16_ctx *ctx, const char *fmt, ...) CL16_PRINTF(2, 3);
/* Turns an OpenCL code into the status it means (allocation failures -> OOM). */
cl16_status cl16__status_of_cl(cl_int code);

/* ---- devices (src/runtime/device.c) ------------------------------------- */
/* Finds the device named by spec (index or name substring; "" = first). */
cl16_status cl16__device_select(const char *spec, cl16_device_info *info, char **extensions,
                                cl_platform_id *platform, cl_device_id *device, char *err,
                                size_t err_len);

/* ---- build options, programs, cache ------------------------------------- */
size_t cl16__build_options(const cl16_ctx *ctx, const cl16_variant *v, char *buf, size_t n);
/* Native half with half-vector built-ins (src/runtime/build_opts.c: the NVIDIA quirk). */
/* The options every kernel build starts with (src/runtime/build_opts.c says
 * why each is there). */
#define CL16_BASE_BUILD_OPTIONS "-cl-std=CL1.2 -w"
int cl16__half_vectors(const cl16_ctx *ctx);
/* Returns the kernel `name` of embedded file `file` built for variant v,
 * building or loading the program on first use. The kernel is owned by ctx. */
cl16_status cl16__kernel(cl16_ctx *ctx, const char *file, const cl16_variant *v,
                         const char *name, cl_kernel *out);
/* Builds (or loads from cache) a program from explicit source text. */
cl16_status cl16__program_build(cl16_ctx *ctx, const char *file, const char *source,
                                size_t length, const char *options, cl_program *out);
/* Text of an embedded (or kernel_dir) file; *owned set when the caller must free it. */
cl16_status cl16__kernel_source(cl16_ctx *ctx, const char *file, const char **text,
                                size_t *length, char **owned);
void cl16__programs_release(cl16_ctx *ctx);

/* Disk cache (src/runtime/program_cache.c). */
void cl16__cache_key(const cl16_ctx *ctx, const char *source, size_t length,
                     const char *options, uint8_t key[32]);
/* Loads a verified entry; returns 0 and a malloc'd payload, or -1 (absent) / -2 (rejected). */
int cl16__cache_load(cl16_ctx *ctx, const uint8_t key[32], unsigned char **payload, size_t *len);
/* The validation cl16__cache_load applies, split so that it also runs over a
 * buffer (the fuzz harness, tests/fuzz/fuzz_cache.c): header checks given the
 * whole file's size (0 and *n = payload bytes, or -2), then the checksum. */
int cl16__cache_check_header(const unsigned char hdr[CL16_CACHE_HEADER_SIZE], uint64_t file_size,
                             const uint8_t key[32], size_t *n);
int cl16__cache_check_payload(const unsigned char hdr[CL16_CACHE_HEADER_SIZE],
                              const unsigned char *payload, size_t n);
/* A whole entry in memory: 0 and *payload pointing into buf, or -2. */
int cl16__cache_parse(const unsigned char *buf, size_t len, const uint8_t key[32],
                      const unsigned char **payload, size_t *n);
/* The header cl16__cache_store writes in front of payload. */
void cl16__cache_header(unsigned char hdr[CL16_CACHE_HEADER_SIZE], const uint8_t key[32],
                        const unsigned char *payload, size_t len);
/* Writes an entry atomically (temporary file + rename); failures warn once and disable the cache. */
void cl16__cache_store(cl16_ctx *ctx, const uint8_t key[32], const unsigned char *payload,
                       size_t len);

/* Hashes what identifies the device and its driver (the cache keys' device part). */
struct cl16_sha256;
void cl16__hash_device(const cl16_ctx *ctx, struct cl16_sha256 *s);
/* A parsed CLBlast tuned-parameters file (src/ops/clblast_tuned.c). */
#define CL16_CLBLAST_MAX_PARAMS 32
#define CL16_CLBLAST_NAME_MAX 16
typedef struct cl16_clblast_tuned {
    char device[256];
    char kernel[16];
    int precision; /* 16 or 32 */
    char note[256];
    size_t n;
    char names[CL16_CLBLAST_MAX_PARAMS][CL16_CLBLAST_NAME_MAX];
    size_t values[CL16_CLBLAST_MAX_PARAMS];
} cl16_clblast_tuned;
/* Parses the text of a tuned-parameters file; CL16_ERR_FORMAT with err naming
 * origin and the line at fault. Needs no device (tests/unit/test_clblast_tuned.c). */
cl16_status cl16__clblast_tuned_parse(const char *text, size_t len, const char *origin,
                                      cl16_clblast_tuned *out, char *err, size_t err_len);
/* mkdir -p; 0 on success, -1 with errno set. */
int cl16__mkdir_p(const char *dir);
/* A small text file replaced whole or not at all: text_open opens
 * "<path>.<pid>.tmp" for writing (its name in tmp; NULL with errno set);
 * text_commit flushes, fsyncs and closes f and renames tmp over path, or
 * removes tmp: 0, or the errno of the step that failed. */
FILE *cl16__text_open(const char *path, char *tmp, size_t tmp_len);
int cl16__text_commit(FILE *f, const char *tmp, const char *path);

/* ---- memory (src/runtime/tensor.c) -------------------------------------- */
cl16_status cl16__dev_alloc(cl16_ctx *ctx, size_t bytes, const char *what, cl_mem *out);
void cl16__dev_free(cl16_ctx *ctx, cl_mem mem, size_t bytes);

/* ---- GEMM plans and tuning (src/runtime/tune.c, src/ops/gemm.c) -------- */
/* Built-in parameters of cl16's own kernels for a shape class on this device
 * (device type and vendor), used until the tuner has measured better ones. */
void cl16__gemm_defaults(const cl16_ctx *ctx, int cls, cl16_gemm_params *p);
/* The tile of the implicit GEMM's form 2 (a stride-1 convolution on its
 * padded input) on a CPU device for operands of dtype dt, whatever the
 * class tables say. */
void cl16__gemm_implicit_cpu_tile(const cl16_ctx *ctx, cl16_dtype dt, cl16_gemm_params *p);
/* The variant of kernel file `file` that the ops use by default for dtype on
 * this device (defines points into the caller's buffer): what prebuild builds. */
void cl16__default_variant(const cl16_ctx *ctx, const char *file, cl16_dtype dtype,
                           cl16_variant *v, char *defines, size_t n);
/* The -D string of a GEMM variant (kernel parameters and transposes). */
size_t cl16__gemm_defines(const cl16_gemm_params *p, int trans_a, int trans_b, int half_acc,
                          int ab_float, char *buf, size_t n);
/* "own tile tm=4 tn=64 vw=16 ku=4" / "clblast". */
size_t cl16__gemm_params_str(const cl16_gemm_params *p, char *buf, size_t n);
/* Parses what cl16__gemm_params_str writes; 0 on success. */
int cl16__gemm_params_parse(const char *s, cl16_gemm_params *p);
/* Checks that the device can run p (work-group size, local memory); 0 if so,
 * else -1 and a reason. */
int cl16__gemm_params_fit(const cl16_ctx *ctx, const cl16_gemm_params *p, cl16_dtype dt,
                          char *why, size_t n);
/* Loads this device's tuning file into ctx->gemm_tuned (once, lazily); a
 * damaged file warns and is ignored. */
void cl16__gemm_tune_load(cl16_ctx *ctx);
/* <cache dir>/<prefix>-<16 hex>.txt, the hex a hash of prefix, cl16 version,
 * device, driver and half path: where per-device measurements are kept; ""
 * when the disk cache is off. */
void cl16__device_file(const cl16_ctx *ctx, const char *prefix, char *out, size_t n);
/* Sets ctx->gemm_tune_path from the cache directory, device and half path. */
void cl16__gemm_tune_path_init(cl16_ctx *ctx);
/* Validates d (names the argument at fault) without launching anything. */
cl16_status cl16__gemm_validate(cl16_ctx *ctx, const cl16_gemm_desc *d);
/* Runs a validated d with explicit parameters (the tuner's entry point). */
cl16_status cl16__gemm_run(cl16_ctx *ctx, const cl16_gemm_desc *d, const cl16_gemm_params *p);
/* The tile kernel's implicit form (gemm.cl, IMPLICIT), NN only: which = 1,
 * row r of A starts at element rtab[r] of it (not r * lda); which = 2, row p
 * of B starts at rtab[p], and column j of C goes to element (j / cwp) * crp
 * + (j % cwp) * ccs of its row unless j % cwp >= cwo; which = 3, B's rows
 * plain (rtab unread), C's columns mapped as in 2, crw the elements of an
 * output row (the stride-2 vector stores stay within it). ab_float: A and B are
 * float buffers (views of dtype f32), C keeps its dtype; b_half (with
 * ab_float): B is f16 instead, widened in the loop. flops: the useful
 * work, for the counters. Unvalidated: conv.c's convolutions only; with
 * which = 2 every tile is computed whole, so B must stay readable 63
 * elements past the last entry's last row of N. */
typedef struct cl16_gemm_implicit {
    int which;
    cl_mem rtab;
    int cwp, cwo, crp, ccs, crw;
    int ab_float, b_half;
    double flops;
} cl16_gemm_implicit;
cl16_status cl16__gemm_implicit(cl16_ctx *ctx, const cl16_gemm_desc *d,
                                const cl16_gemm_implicit *im);

/* ---- CLBlast backend (src/ops/gemm_clblast.c) --------------------------- */
/* 1 when CLBlast can run GEMMs of dtype dt on this context's device (f32:
 * always; f16: only when the device reports cl_khr_fp16); else 0 and, when
 * why != NULL, a short reason in why[0..why_len). */
int cl16__clblast_supports(const cl16_ctx *ctx, cl16_dtype dt, char *why, size_t why_len);
/* Runs alpha*op(A)*op(B) + beta*C of an already validated descriptor through
 * CLBlast (strided-batched when d->batch > 1; a batch-reduce desc, c_stride 0,
 * is never passed here). Ignores bias/activation (the caller runs the
 * epilogue kernel). Returns CL16_ERR_UNSUPPORTED with a message when CLBlast
 * refuses the dtype on this device, CL16_ERR_OPENCL/OUT_OF_MEMORY on failure. */
cl16_status cl16__gemm_clblast(cl16_ctx *ctx, const cl16_gemm_desc *d);
/* Drops CLBlast's process-wide program cache if this context used CLBlast. */
void cl16__clblast_release(cl16_ctx *ctx);

/* ---- layers (src/ops/) -------------------------------------------------- */
/* Adds one layer call's work to the context's statistics. */
static inline void cl16__count(cl16_ctx *ctx, double flops, double bytes) {
    ctx->stats.op_flops += flops;
    ctx->stats.op_bytes += bytes;
}

/* Softmax cross-entropy split at its host sync, so a training step can queue
 * its backward and update behind the loss and wait once, at the end.
 * cl16__xent_launch checks the arguments, checks the labels (host_labels,
 * when the caller holds them, else one blocking read of `labels`), and queues
 * the kernel and the non-blocking reads of its per-sample results into p;
 * when skip (an i32 [1] tensor, may be NULL) is given, the kernel sets
 * skip[0] = 1 if any sample's logits or loss are not finite, so the updates
 * that read the flag write nothing. cl16__xent_collect waits for the queue and
 * sums the results as cl16_softmax_xent does (CL16_ERR_NUMERIC for a
 * non-finite sample); it frees p, and so does cl16__xent_free, which may be
 * called on a launched or zeroed p. */
typedef struct cl16__xent {
    int64_t n;
    float *lo;  /* per-sample losses, read back */
    int32_t *fl; /* per-sample flags (loss.cl's XENT_*), read back */
    cl_mem dloss, dflags;
} cl16__xent;
cl16_status cl16__xent_launch(cl16_ctx *ctx, const cl16_tensor *logits, const cl16_tensor *labels,
                              const int32_t *host_labels, float scale, cl16_tensor *dlogits,
                              cl16_tensor *skip, cl16__xent *p);
cl16_status cl16__xent_collect(cl16_ctx *ctx, cl16__xent *p, double *loss, int64_t *correct);
void cl16__xent_free(cl16_ctx *ctx, cl16__xent *p);

/* Frees ctx->conv (the convolution algorithm table). */
void cl16__conv_release(cl16_ctx *ctx);
/* Caps the im2col column buffer of one call at bytes (images are processed in
 * chunks that fit; at least one image per chunk); 0 restores the default. */
void cl16__conv_set_col_limit(cl16_ctx *ctx, size_t bytes);
/* Bytes of float x and y per chunk of the f16 direct forward on a CPU (0 = the default); for tests. */
void cl16__conv_set_direct_chunk(cl16_ctx *ctx, size_t bytes);
/* Bytes of columns one chunk of a convolution's images may take on this
 * device (about 1.5 MB on a CPU, to stay in cache; 64 MB elsewhere), for f32;
 * 16-bit dtypes half of it. */
double cl16__conv_chunk_bytes(const cl16_ctx *ctx, cl16_dtype dt);
/* Drops this device's remembered convolution choices, on disk and in ctx:
 * they were timed with the GEMM parameters that a new tuning replaces, so the
 * next convolution of each shape measures the candidates again. */
void cl16__conv_choices_forget(cl16_ctx *ctx);
/* Whether GEMMs read B from column panels (gemm.c, panel_wanted): -1 by
 * size (the default), 0 never, 1 wherever the kernel can (tests). */
void cl16__gemm_set_panel(cl16_ctx *ctx, int mode);
/* Backward-weights' images per chunk (at least 2): float columns (col_floats
 * per image, 0 when x is its own) and dy^T (dyt_floats per image) within
 * cl16__conv_chunk_bytes; before the column-buffer cap. The GEMM tuner's
 * training shapes use it too. */
int64_t cl16__conv_bww_images(const cl16_ctx *ctx, cl16_dtype dt, int64_t col_floats,
                              int64_t dyt_floats);

/* ---- device time (src/runtime/profile.c) ------------------------------- */
/* Every command cl16 puts on the queue goes through these, so that with the
 * profiling option its device time is counted (cl16_ctx_device_time); with it
 * off they add nothing but a branch. cl16__enqueue: clEnqueueNDRangeKernel with
 * no offset and no wait list. Other commands: ev = cl16__prof_slot(ctx) (NULL
 * when not profiling), pass ev as the command's event, then
 * cl16__prof_commit(ctx, ev, err). */
cl_int cl16__enqueue(cl16_ctx *ctx, cl_kernel k, cl_uint dim, const size_t *global,
                     const size_t *local);
cl_event *cl16__prof_slot(cl16_ctx *ctx);
void cl16__prof_commit(cl16_ctx *ctx, cl_event *slot, cl_int err);
/* cl16__prof_commit for a kernel launch: its time is also counted under k's name. */
void cl16__prof_commit_kernel(cl16_ctx *ctx, cl_event *slot, cl_int err, cl_kernel k);
/* Sums and releases the events of completed commands (after a clFinish: all). */
void cl16__prof_collect(cl16_ctx *ctx);
/* Waits for and releases every pending event; frees the array (context teardown). */
void cl16__prof_release(cl16_ctx *ctx);

/* ---- misc --------------------------------------------------------------- */
double cl16__now(void);
/* SHA-256 (src/runtime/sha256.c). */
typedef struct cl16_sha256 {
    uint32_t h[8];
    uint64_t len;
    unsigned char buf[64];
    size_t fill;
} cl16_sha256;
void cl16_sha256_init(cl16_sha256 *s);
void cl16_sha256_update(cl16_sha256 *s, const void *data, size_t n);
void cl16_sha256_final(cl16_sha256 *s, uint8_t out[32]);

/* Fault injection (src/runtime/fault.c): 1 when the test build is told to
 * fail this event at `site` ("alloc", "write", "launch"); always 0 otherwise. */
int cl16__fault(const char *site);

#endif
