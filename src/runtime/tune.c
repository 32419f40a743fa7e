/* tune.c - GEMM kernel parameters: the built-in table per device class, shape
 * classes, the tuning file in the cache directory and the tuner that writes it.
 *
 * A shape class is dtype x (trans_a, trans_b) x batch-reduce or not x size,
 * the size from the call's work M*N*K*batch: small < 2^21 <= medium < 2^27
 * <= large. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/internal.h"

static const char *const size_names[CL16_GEMM_NSIZES] = {"small", "medium", "large"};

int cl16__gemm_class(cl16_dtype dt, int ta, int tb, int reduce, int64_t m, int64_t n, int64_t k,
                     int64_t batch) {
    /* Size by the whole call's work: what a launch's fixed costs (and extra
     * packing launches) are spread over. */
    double work = (double)m * (double)n * (double)k * (double)batch;
    int size = work < 2097152.0 ? 0 : work < 134217728.0 ? 1 : 2;
    int op = (ta ? 2 : 0) + (tb ? 1 : 0);
    /* bf16 shares the f16 classes: the same 2-byte storage and packing. */
    return (((dt == CL16_F16 || dt == CL16_BF16 ? 1 : 0) * 4 + op) * 2 + (reduce ? 1 : 0)) * CL16_GEMM_NSIZES + size;
}

int cl16__gemm_class_of(const cl16_gemm_desc *d) {
    return cl16__gemm_class(d->c->dtype, d->trans_a, d->trans_b, d->batch > 1 && d->c_stride == 0,
                            d->m, d->n, d->k, d->batch);
}

/* The parts of a class index. */
#define CLS_SIZE(c) ((c) % CL16_GEMM_NSIZES)
#define CLS_REDUCE(c) (((c) / CL16_GEMM_NSIZES) % 2)
#define CLS_OP(c) (((c) / CL16_GEMM_NSIZES / 2) % 4)
#define CLS_F16(c) ((c) / CL16_GEMM_NSIZES / 8)

void cl16__gemm_class_name(int c, char *buf, size_t n) {
    const int op = CLS_OP(c);
    snprintf(buf, n, "%s %c%c %s%s", CLS_F16(c) ? "f16" : "f32", op & 2 ? 'T' : 'N', op & 1 ? 'T' : 'N',
             size_names[CLS_SIZE(c)], CLS_REDUCE(c) ? " reduce" : "");
}

static int has(const char *hay, const char *needle) { return strstr(hay, needle) != NULL; }

/* The built-in table. Only the CPU rows are measured (PoCL 3.1 and Intel's
 * CPU runtime, docs/benchmarks.md); the GPU rows are conventional starting
 * points until `cl16 tune gemm` has run on such a device. */
/* A CPU's vector registers, from the preferred float vector width: 32 with
 * AVX-512 (width 16), 16 with AVX2 or less (PoCL reports 8). A register
 * tile's accumulators, TM rows of TN / width vectors, must fit them, or they
 * spill on every multiply-add. */
static int cpu_vector_regs(const cl16_ctx *ctx) {
    return ctx->dev.float_vector_width >= 16 ? 32 : 16;
}
static int cpu_tile_fits(const cl16_ctx *ctx, int tm, int tn) {
    const int width = ctx->dev.float_vector_width >= 16 ? 16 : 8;
    return tm * ((tn + width - 1) / width) <= cpu_vector_regs(ctx);
}

/* cl16's own tile kernel, no packing, k not unrolled, TM x TN by VW
 * (the local-memory fields at their defaults): what every table row
 * starts from. */
static void own_tile(cl16_gemm_params *p, int tm, int tn, int vw) {
    memset(p, 0, sizeof *p);
    p->backend = CL16_GEMM_OWN;
    p->kind = CL16_GK_TILE;
    p->ku = 1;
    p->wgx = p->wgy = 8, p->kt = 16;
    p->tm = tm, p->tn = tn, p->vw = vw;
}

/* The implicit GEMM (form 2) computes every tile whole over one image's
 * padded-width columns, (Ho - 1) * Wp + Wo of them: 71, 271 and 1055 at
 * ResNet-20's 8x8, 16x16 and 32x32 layers, so 64-column tiles compute 128,
 * 320 and 1088, 16-column ones 80, 272 and 1056, 24-column ones 72, 288 and
 * 1056; and the class table's 4 x 64 before 2026-12-07 (32 accumulator
 * vectors on AVX2) spilled. 16 x 16 where the registers hold it (AVX-512;
 * the backward-weights rule below, not measured on this form). On AVX2, 12
 * accumulators: 4 x 24 in 8-wide vectors, whose rows divide the 16, 32 and
 * 64 output channels that 6-row tiles round up to 18, 36 and 66.
 * PoCL 3.1, AMD EPYC, `CL16_CONV_ALGO=implicit build/bench/layer_ab resnet20
 * 5` with f9043bf and aa65d60, f32 forward ms, two runs each, 4 x 64 ku 4 ->
 * 6 x 16 ku 1: layer1.conv 14.6-18.5 -> 8.5-8.8, layer2.conv 15.0-15.4 ->
 * 7.6-12.1, layer3.conv 23.3-23.5 -> 7.5-7.9; 6 x 16 -> 4 x 24, 396e4d1
 * against its successor, the same command with `11 cpu` (process CPU ms),
 * three runs each (docs/runs/pocl-epyc-2026-12-08, ab-impl-layer_ab-*):
 * layer3.conv forward 11.4-15.6 -> 8.4-9.8, backward-data 11.5-13.2 ->
 * 8.9-11.4, layer1 and layer2 within the runs' spread. k is unrolled only
 * where A stays 16-bit (4-vectors, one conversion for four k): f16 phases of
 * ResNet-20's strided backward-data with ku 1 took 2.0-2.8x their f32 time
 * (docs/runs/pocl-epyc-2026-12-07g, ab-tile-layer_ab-new-*), while float A
 * read as 4-vectors needs TM more registers and spills. */
void cl16__gemm_implicit_cpu_tile(const cl16_ctx *ctx, cl16_dtype dt, cl16_gemm_params *p) {
    if (cpu_tile_fits(ctx, 16, 16))
        own_tile(p, 16, 16, 16), p->ku = 4;
    else
        own_tile(p, 4, 24, 8), p->ku = dt == CL16_F32 ? 1 : 4;
}

void cl16__gemm_defaults(const cl16_ctx *ctx, int cls, cl16_gemm_params *p) {
    const int t = CLS_OP(cls), ta = t & 2, tb = t & 1;
    own_tile(p, 0, 0, 0);
    const char *v = ctx->dev.vendor;
    if (ctx->dev.type == CL16_DEVICE_CPU) {
        /* PoCL turns a work-group into loops, so the per-work-item register
         * tile is what gets vectorised: 4 x 64 with 16-wide B rows (1024^3
         * f16: 4x64 43-46 GFLOP/s, 8x32 39-42, 8x16 27, measured before the
         * tile kept its arrays in registers; `cl16 tune gemm` prints today's
         * figures, 4x64 ku 4 about 150 for f32 NN large); small shapes need a
         * narrower tile or everything takes the scalar edge path (f16
         * 32x96x96: 4x16 40 GFLOP/s, 4x64 under 2). A * B^T reads both
         * operands along k: the dot kernel (f16 NT 2-5x the tile kernel). */
        const int size = CLS_SIZE(cls);
        const int pocl = has(ctx->dev.platform, "Portable Computing Language");
        /* A * B^T summed over a batch: packing would copy every entry's B
         * for few rows of C; the dot kernel reads them in place (PoCL,
         * 16x144x1024 x128 f16: 24.5 GFLOP/s dot, 9 packed). */
        if (!ta && tb && CLS_REDUCE(cls)) {
            p->kind = CL16_GK_DOT, p->tm = 4, p->tn = 4, p->vw = 16;
        } else if (!ta && !tb && CLS_REDUCE(cls)) {
            /* Convolution weight gradients, dw^T = sum col * dy^T: few
             * columns (Cout, padded to 16), a long k. A tall tile reads each
             * dy^T vector for 16 rows (PoCL, 144x16x1024 x2 f32: 16x16 ku 4
             * 52 GFLOP/s, 8x16 39, 4x64 12). */
            p->tm = 16, p->tn = 16, p->vw = 16, p->ku = 4;
            /* Where 16 x 16 does not fit (AVX2), tuned on an AMD EPYC
             * (PoCL): f32 6x16 89 GFLOP/s (144x16x1024-class shapes), f16
             * 4x16 k-unrolled 28-70. */
            if (!cpu_tile_fits(ctx, p->tm, p->tn)) {
                if (CLS_F16(cls)) p->tm = 4;
                else p->tm = 6, p->ku = 1;
            }
        } else
        if (!ta && tb && (size == 0 || !pocl)) {
            /* Intel's CPU runtime, tuned: the dot kernel for every A * B^T
             * (f16 NT large 122 GFLOP/s), no packing except for A^T * B^T. */
            p->kind = CL16_GK_DOT, p->tm = 4, p->tn = 4, p->vw = 16;
        } else if (!pocl) {
            p->pack = ta && tb;
            p->tm = 4, p->tn = 64, p->vw = 16;
        } else {
            /* Transposed operands are packed into the workspace first (as
             * float: M*K + K*N copies against M*N*K products), then the NN
             * path runs. PoCL, NT 512^3: 38 GFLOP/s packed, 31 dot, 4-7
             * tile; f16 TN 150x100x16 x128: 37-40 packed, 17-21 not. */
            p->pack = ta || tb;
            p->tm = 4, p->tn = size == 0 ? 16 : 64, p->vw = 16;
            /* k unrolled by 4 (NN): PoCL 1024^3 f16 40-46 -> 48-61 GFLOP/s;
             * Intel's CPU runtime drops from 96 to 25 with it. */
            if (pocl && (!ta || p->pack)) p->ku = 4;
            /* Where 4 x 64 does not fit (AVX2: 32 accumulator vectors on
             * 16 registers), 6 x 16, k unrolled only where the operands
             * stay 16-bit (its A 4-vectors save conversions; on float
             * operands the unroll was slower; f16 on a CPU's storage path
             * packs A as float anyway, gemm.c's f16_pack_a). PoCL 3.1, AMD
             * EPYC, `bench gemm --shapes squares` with f9043bf then b52fc12
             * (docs/benchmarks.md, gemm-squares-*.json), f32 GFLOP/s: 1024^3
             * 43.9 -> 104.1, 256^3 43.8 -> 134.0. */
            if (!cpu_tile_fits(ctx, p->tm, p->tn)) {
                p->tm = 6, p->tn = 16;
                p->ku = CLS_F16(cls) && !p->pack ? 4 : 1;
            }
        }
    } else if (has(v, "ARM") || has(v, "QUALCOMM") || has(v, "Qualcomm")) {
        /* Mali, Adreno: local memory is ordinary memory; vector loads and a
         * modest register tile. */
        p->tm = 4, p->tn = 8, p->vw = 8;
    } else if (has(v, "NVIDIA") || has(v, "Advanced Micro Devices") || has(v, "AMD")) {
        p->kind = CL16_GK_LMEM, p->wgx = 16, p->wgy = 16, p->tm = 4, p->tn = 4, p->kt = 16;
    } else {
        /* Intel GPUs and anything else: a 64-work-item group. */
        p->kind = CL16_GK_LMEM, p->wgx = 8, p->wgy = 8, p->tm = 4, p->tn = 4, p->kt = 16;
    }
    char why[160];
    if (cl16__gemm_params_fit(ctx, p, CL16_F32, why, sizeof why)) {
        p->kind = CL16_GK_TILE, p->tm = 4, p->tn = 8, p->vw = 8, p->ku = 1;
    }
}

int cl16__gemm_params_fit(const cl16_ctx *ctx, const cl16_gemm_params *p, cl16_dtype dt, char *why,
                          size_t n) {
    (void)dt;
    if (p->backend == CL16_GEMM_CLBLAST) return 0;
    if (p->pack && p->kind == CL16_GK_DOT) {
        snprintf(why, n, "pack does not apply to the dot kernel");
        return -1;
    }
    int vw_ok = p->vw == 4 || p->vw == 8 || p->vw == 16;
    switch (p->kind) {
    case CL16_GK_TILE:
        if (!vw_ok || p->tm < 1 || p->tm > 16 || p->tn % p->vw || p->tn / p->vw > 4 ||
            (p->ku != 1 && p->ku != 4)) {
            snprintf(why, n, "tile kernel needs tm 1..16, vw 4/8/16, tn = vw..4*vw, ku 1/4");
            return -1;
        }
        return 0;
    case CL16_GK_DOT:
        if (!vw_ok || p->tm < 1 || p->tm > 8 || p->tn < 1 || p->tn > 8) {
            snprintf(why, n, "dot kernel needs tm, tn 1..8 and vw 4/8/16");
            return -1;
        }
        return 0;
    case CL16_GK_LMEM: {
        if (p->tm < 1 || p->tm > 8 || p->tn < 1 || p->tn > 8 || p->kt < 1 || p->kt > 64 ||
            p->wgx < 1 || p->wgy < 1) {
            snprintf(why, n, "lmem kernel needs tm, tn 1..8, kt 1..64");
            return -1;
        }
        uint64_t wg = (uint64_t)p->wgx * (uint64_t)p->wgy;
        uint64_t local = (uint64_t)p->kt * (uint64_t)(p->wgy * p->tm + p->wgx * p->tn) * 4u;
        if (wg > ctx->dev.max_work_group) {
            snprintf(why, n, "work-group %dx%d exceeds the device's %llu", p->wgx, p->wgy,
                     (unsigned long long)ctx->dev.max_work_group);
            return -1;
        }
        if (local > ctx->dev.local_mem) {
            snprintf(why, n, "needs %llu bytes of local memory, the device has %llu",
                     (unsigned long long)local, (unsigned long long)ctx->dev.local_mem);
            return -1;
        }
        return 0;
    }
    }
    snprintf(why, n, "unknown kernel kind %d", (int)p->kind);
    return -1;
}

size_t cl16__gemm_defines(const cl16_gemm_params *p, int trans_a, int trans_b, int half_acc,
                          int ab_float, char *buf, size_t n) {
    int w;
    switch (p->kind) {
    case CL16_GK_DOT:
        w = snprintf(buf, n, "-DTM=%d -DTN=%d -DVW=%d -DTRANS_A=0 -DTRANS_B=1", p->tm, p->tn, p->vw);
        break;
    case CL16_GK_LMEM:
        w = snprintf(buf, n, "-DTM=%d -DTN=%d -DWGX=%d -DWGY=%d -DKT=%d -DVW=4 -DTRANS_A=%d -DTRANS_B=%d",
                     p->tm, p->tn, p->wgx, p->wgy, p->kt, trans_a ? 1 : 0, trans_b ? 1 : 0);
        break;
    default:
        w = snprintf(buf, n, "-DTM=%d -DTN=%d -DVW=%d -DKU=%d -DTRANS_A=%d -DTRANS_B=%d", p->tm, p->tn,
                     p->vw, p->ku, trans_a ? 1 : 0, trans_b ? 1 : 0);
        break;
    }
    if (w >= 0 && (size_t)w < n && half_acc) w += snprintf(buf + w, n - (size_t)w, " -DCL16_HALF_ACC=1");
    if (w >= 0 && (size_t)w < n && ab_float) w += snprintf(buf + w, n - (size_t)w, " -DAB_FLOAT=1");
    return w < 0 ? 0 : (size_t)w;
}

size_t cl16__gemm_params_str(const cl16_gemm_params *p, char *buf, size_t n) {
    int w;
    if (p->backend == CL16_GEMM_CLBLAST)
        w = snprintf(buf, n, "clblast");
    else if (p->kind == CL16_GK_DOT)
        w = snprintf(buf, n, "own dot tm=%d tn=%d vw=%d", p->tm, p->tn, p->vw);
    else if (p->kind == CL16_GK_LMEM)
        w = snprintf(buf, n, "own lmem tm=%d tn=%d wgx=%d wgy=%d kt=%d", p->tm, p->tn, p->wgx, p->wgy,
                     p->kt);
    else
        w = snprintf(buf, n, "own tile tm=%d tn=%d vw=%d ku=%d", p->tm, p->tn, p->vw, p->ku);
    if (w >= 0 && (size_t)w < n && p->backend != CL16_GEMM_CLBLAST && p->pack)
        w += snprintf(buf + w, n - (size_t)w, " pack");
    return w < 0 ? 0 : (size_t)w;
}

int cl16__gemm_params_parse(const char *s, cl16_gemm_params *p) {
    memset(p, 0, sizeof *p);
    p->ku = 1, p->wgx = p->wgy = 8, p->kt = 16, p->vw = 4;
    char kind[16];
    int used = 0;
    if (sscanf(s, "own %15s%n", kind, &used) != 1) return -1;
    p->backend = CL16_GEMM_OWN;
    const char *rest = s + used;
    int got;
    size_t sl = strlen(s);
    if (sl > 5 && !strcmp(s + sl - 5, " pack")) p->pack = 1;
    if (!strcmp(kind, "tile")) {
        p->kind = CL16_GK_TILE;
        got = sscanf(rest, " tm=%d tn=%d vw=%d ku=%d", &p->tm, &p->tn, &p->vw, &p->ku);
        return got == 4 ? 0 : -1;
    }
    if (!strcmp(kind, "dot")) {
        p->kind = CL16_GK_DOT;
        got = sscanf(rest, " tm=%d tn=%d vw=%d", &p->tm, &p->tn, &p->vw);
        return got == 3 ? 0 : -1;
    }
    if (!strcmp(kind, "lmem")) {
        p->kind = CL16_GK_LMEM;
        got = sscanf(rest, " tm=%d tn=%d wgx=%d wgy=%d kt=%d", &p->tm, &p->tn, &p->wgx, &p->wgy, &p->kt);
        return got == 5 ? 0 : -1;
    }
    return -1;
}

void cl16__default_variant(const cl16_ctx *ctx, const char *file, cl16_dtype dtype,
                           cl16_variant *v, char *defines, size_t n) {
    v->dtype = dtype;
    v->half_arith = 0;
    v->defines = NULL;
    if (!strcmp(file, "gemm.cl")) {
        /* The large NN class: what a square GEMM and most layers use. */
        cl16_gemm_params gp;
        cl16__gemm_defaults(ctx, cl16__gemm_class(dtype, 0, 0, 0, 1024, 1024, 1024, 1), &gp);
        cl16__gemm_defines(&gp, 0, 0, 0, 0, defines, n);
        v->defines = defines;
    } else if (!strcmp(file, "eltwise.cl")) {
        /* The casts do not depend on the tensors' dtype: one program serves both. */
        v->dtype = CL16_F16;
    }
}

/* ---- the tuning file ------------------------------------------------------
 * <cache_dir>/gemm-tune-<16 hex of the device key>.txt, text:
 *   cl16-gemm-tune 2
 *   device <name> | <driver>
 *   <dtype> <op> <size> [reduce] <own params...> gflops=<x> clblast=<x|no>
 * One line per tuned class; classes without a line use the built-in table. */
#define TUNE_MAGIC "cl16-gemm-tune 2"

void cl16__device_file(const cl16_ctx *ctx, const char *prefix, char *out, size_t n) {
    if (!ctx->cache_on || !ctx->cache_dir[0]) {
        out[0] = 0;
        return;
    }
    cl16_sha256 s;
    uint8_t key[32];
    cl16_sha256_init(&s);
    cl16_sha256_update(&s, prefix, strlen(prefix));
    cl16_sha256_update(&s, CL16_VERSION_STRING, strlen(CL16_VERSION_STRING));
    cl16__hash_device(ctx, &s);
    /* The half path changes the kernels' speed: one file per path. */
    cl16_sha256_update(&s, ctx->half == CL16_HALF_NATIVE ? "native" : "storage", 6);
    cl16_sha256_final(&s, key);
    char hex[17];
    for (int i = 0; i < 8; i++) snprintf(hex + 2 * i, 3, "%02x", key[i]);
    snprintf(out, n, "%.4000s/%s-%s.txt", ctx->cache_dir, prefix, hex);
}

void cl16__gemm_tune_path_init(cl16_ctx *ctx) {
    cl16__device_file(ctx, "gemm-tune", ctx->gemm_tune_path, sizeof ctx->gemm_tune_path);
}

const char *cl16_gemm_tune_path(const cl16_ctx *ctx) { return ctx ? ctx->gemm_tune_path : ""; }

/* Parses one class line; returns the class index or -1. */
static int parse_line(const char *line, cl16_gemm_choice *c) {
    char dt[8], op[8], size[16], fourth[16] = "";
    double gf;
    char own[160], cb[32];
    if (sscanf(line, "%7s %7s %15s %15s", dt, op, size, fourth) < 3) return -1;
    int f16 = !strcmp(dt, "f16");
    if (!f16 && strcmp(dt, "f32")) return -1;
    if (strlen(op) != 2 || (op[0] != 'N' && op[0] != 'T') || (op[1] != 'N' && op[1] != 'T')) return -1;
    int si = -1;
    for (int i = 0; i < CL16_GEMM_NSIZES; i++)
        if (!strcmp(size, size_names[i])) si = i;
    if (si < 0) return -1;
    const int reduce = !strcmp(fourth, "reduce");
    const char *own_at = strstr(line, " own ");
    const char *gf_at = strstr(line, " gflops=");
    if (!own_at || !gf_at || gf_at < own_at) return -1;
    size_t ol = (size_t)(gf_at - own_at - 1);
    if (ol >= sizeof own) return -1;
    memcpy(own, own_at + 1, ol);
    own[ol] = 0;
    memset(c, 0, sizeof *c);
    if (cl16__gemm_params_parse(own, &c->own)) return -1;
    if (sscanf(gf_at, " gflops=%lf clblast=%31s", &gf, cb) != 2 || !(gf > 0)) return -1;
    c->own_gflops = gf;
    if (strcmp(cb, "no")) {
        char *end;
        c->clblast_gflops = strtod(cb, &end);
        if (*end || !(c->clblast_gflops > 0)) return -1;
        c->clblast_ok = 1;
    }
    c->valid = 1;
    return (((f16 ? 1 : 0) * 4 + (op[0] == 'T' ? 2 : 0) + (op[1] == 'T' ? 1 : 0)) * 2 + reduce) *
               CL16_GEMM_NSIZES +
           si;
}

void cl16__gemm_tune_load(cl16_ctx *ctx) {
    if (ctx->gemm_tune_loaded) return;
    ctx->gemm_tune_loaded = 1;
    const char *path = cl16_gemm_tune_path(ctx);
    if (!path[0]) return;
    FILE *f = fopen(path, "r");
    if (!f) return; /* not tuned yet: the built-in table */
    cl16_gemm_choice got[CL16_GEMM_NCLASSES];
    memset(got, 0, sizeof got);
    char line[512];
    int lineno = 0, bad = 0;
    while (!bad && fgets(line, sizeof line, f)) {
        lineno++;
        line[strcspn(line, "\n")] = 0;
        if (lineno == 1) {
            bad = strcmp(line, TUNE_MAGIC) != 0;
            continue;
        }
        if (!line[0] || line[0] == '#' || !strncmp(line, "device ", 7)) continue;
        cl16_gemm_choice c;
        int cls = parse_line(line, &c);
        if (cls < 0) {
            bad = 1;
            break;
        }
        char why[160];
        if (cl16__gemm_params_fit(ctx, &c.own, CL16_F32, why, sizeof why)) {
            bad = 1;
            break;
        }
        got[cls] = c;
    }
    fclose(f);
    if (bad || lineno == 0) {
        cl16__warn(ctx, "ignoring the GEMM tuning file %s: line %d is malformed (built-in "
                   "parameters are used; `cl16 tune gemm` rewrites it)",
                   path, lineno);
        return;
    }
    memcpy(ctx->gemm_tuned, got, sizeof got);
}

static cl16_status tune_save(cl16_ctx *ctx) {
    const char *path = cl16_gemm_tune_path(ctx);
    if (!path[0])
        return cl16__fail(ctx, CL16_ERR_IO, "gemm tune: the disk cache is off, nowhere to save");
    if (cl16__mkdir_p(ctx->cache_dir))
        return cl16__fail(ctx, CL16_ERR_IO, "gemm tune: cannot create %s: %s", ctx->cache_dir,
                          strerror(errno));
    char tmp[CL16_PATH_MAX + 32];
    FILE *f = cl16__text_open(path, tmp, sizeof tmp);
    if (!f) return cl16__fail(ctx, CL16_ERR_IO, "gemm tune: cannot write %s: %s", tmp, strerror(errno));
    fprintf(f, "%s\ndevice %s | %s\n", TUNE_MAGIC, ctx->dev.name, ctx->dev.driver);
    for (int c = 0; c < CL16_GEMM_NCLASSES; c++) {
        const cl16_gemm_choice *t = &ctx->gemm_tuned[c];
        if (!t->valid) continue;
        char name[32], ps[128];
        cl16__gemm_class_name(c, name, sizeof name);
        cl16__gemm_params_str(&t->own, ps, sizeof ps);
        if (t->clblast_ok)
            fprintf(f, "%s %s gflops=%.3f clblast=%.3f\n", name, ps, t->own_gflops, t->clblast_gflops);
        else
            fprintf(f, "%s %s gflops=%.3f clblast=no\n", name, ps, t->own_gflops);
    }
    const int e = cl16__text_commit(f, tmp, path);
    if (e) return cl16__fail(ctx, CL16_ERR_IO, "gemm tune: cannot write %s: %s", path, strerror(e));
    /* Convolution choices timed with the old GEMM parameters are measured
     * again with the new ones (PoCL on an AMD EPYC: 2 of LeNet-5's 7
     * choices made before the first tuning changed after it). */
    cl16__conv_choices_forget(ctx);
    return CL16_OK;
}

/* ---- the tuner ------------------------------------------------------------- */

void cl16_tune_opts_init(cl16_tune_opts *o) {
    if (o) memset(o, 0, sizeof *o), o->save = 1;
}

typedef struct tune_shape {
    int64_t m, n, k, batch;
    int ta, tb, reduce, a_shared; /* a_shared: one A for every entry (stride 0) */
} tune_shape;

/* Synthetic shapes per class, for classes the training shapes below miss and
 * for quick runs; batch-reduce classes sum the entries. */
static tune_shape synth_shape(int ta, int tb, int size, int reduce, int quick) {
    static const int64_t full[2][3][4] = {{{48, 96, 96, 2}, {64, 256, 144, 32}, {1024, 1024, 512, 1}},
                                          {{64, 16, 128, 8}, {144, 32, 256, 32}, {256, 128, 2048, 2}}};
    static const int64_t fast[2][3][4] = {{{17, 40, 33, 4}, {100, 128, 96, 4}, {512, 512, 512, 1}},
                                          {{27, 16, 100, 8}, {144, 32, 256, 4}, {256, 128, 2048, 2}}};
    const int64_t *v = quick ? fast[reduce][size] : full[reduce][size];
    tune_shape t = {v[0], v[1], v[2], v[3], ta, tb, reduce, 0};
    return t;
}

/* The GEMMs of training LeNet-5 (28x28) and ResNet-20 (32x32) at batch 128,
 * as cl16 runs them: convolution as im2col per image batched over the images
 * (forward W * col, backward-data W^T * dY, backward-weights col * dY^T summed
 * over the images of a chunk, Cout padded to 16), Linear as X W^T, dY W, dY^T X. Rows: {Cout, H*W, C*k*k, first
 * layer} for convolutions, {in, out, 0, -1} for Linear. */
static int net_shapes(const cl16_ctx *ctx, cl16_dtype dt, tune_shape *out, int max) {
    static const int layers[][4] = {
        {6, 784, 25, 1},   {16, 100, 150, 0}, {400, 120, 0, -1}, {120, 84, 0, -1},
        {84, 10, 0, -1},   {16, 1024, 27, 1}, {16, 1024, 144, 0}, {32, 256, 144, 0},
        {32, 256, 288, 0}, {32, 256, 16, 0},  {64, 64, 288, 0},  {64, 64, 576, 0},
        {64, 64, 32, 0},   {64, 10, 0, -1}};
    int n = 0;
    for (size_t i = 0; i < sizeof layers / sizeof layers[0]; i++) {
        const int *l = layers[i];
        tune_shape t[3];
        int c = 0;
        if (l[3] >= 0) {
            t[c++] = (tune_shape){l[0], l[1], l[2], 128, 0, 0, 0, 1};
            if (!l[3]) t[c++] = (tune_shape){l[2], l[1], l[0], 128, 1, 0, 0, 1};
            const int64_t ld = (l[0] + 15) / 16 * 16;
            const int64_t nb = cl16__conv_bww_images(ctx, dt, (int64_t)l[2] * l[1], (int64_t)l[1] * ld);
            t[c++] = (tune_shape){l[2], ld, l[1], nb, 0, 0, 1, 0};
        } else {
            t[c++] = (tune_shape){128, l[1], l[0], 1, 0, 1, 0, 0};
            t[c++] = (tune_shape){128, l[0], l[1], 1, 0, 0, 0, 0};
            t[c++] = (tune_shape){l[1], l[0], 128, 1, 1, 0, 0, 0};
        }
        for (int j = 0; j < c && n < max; j++) out[n++] = t[j];
    }
    return n;
}

static int shape_class(cl16_dtype dt, const tune_shape *t) {
    return cl16__gemm_class(dt, t->ta, t->tb, t->reduce, t->m, t->n, t->k, t->batch);
}

static int same(const cl16_gemm_params *a, cl16_gemm_params b) {
    char x[128], y[128];
    cl16__gemm_params_str(a, x, sizeof x);
    cl16__gemm_params_str(&b, y, sizeof y);
    return !strcmp(x, y);
}

#define MAX_CAND 32

/* Candidate parameters for class cls on this device, the built-in choice
 * first (so tuning never loses to it); returns the count. */
static int candidates(const cl16_ctx *ctx, int cls, int quick, cl16_gemm_params *out, int max) {
    const int t = CLS_OP(cls), ta = t >> 1, tb = t & 1;
    int n = 0;
    cl16__gemm_defaults(ctx, cls, &out[n++]);
    /* CPUs: register tiles that do not fit the vector registers
     * (cpu_tile_fits) are not timed at all (PoCL on a 16-register CPU, f32
     * 256^3 to 1024^3: 4x16 63-81 GFLOP/s, 6x16 95-114; 4x64 28-36 on the
     * tuner's f32 NN large shapes). */
    const int cpu = ctx->dev.type == CL16_DEVICE_CPU;
#define ADDP(K, TM_, TN_, VW_, KU_, WGX_, WGY_, KT_, PB_)                                      \
    do {                                                                                       \
        if (n < max && !(cpu && (K) == CL16_GK_TILE && !cpu_tile_fits(ctx, TM_, TN_))) {       \
            cl16_gemm_params q = {CL16_GEMM_OWN, K, TM_, TN_, VW_, KU_, WGX_, WGY_, KT_, PB_}; \
            char w_[160];                                                                        \
            if (!cl16__gemm_params_fit(ctx, &q, CL16_F32, w_, sizeof w_) && !same(&q, out[0]))  \
                out[n++] = q;                                                                  \
        }                                                                                      \
    } while (0)
#define ADD(K, TM_, TN_, VW_, KU_, WGX_, WGY_, KT_) ADDP(K, TM_, TN_, VW_, KU_, WGX_, WGY_, KT_, 0)
    const int nn = !ta && !tb, nt = !ta && tb;
    if (ctx->dev.type == CL16_DEVICE_CPU) {
        const int f16 = CLS_F16(cls);
        if (nt) ADD(CL16_GK_DOT, 2, 8, 16, 1, 8, 8, 16);
        /* Operands packed as float in NN layout (always pays off for
         * transposed ones; for f16 it also converts each half only once). */
        if (!nn || f16) {
            ADDP(CL16_GK_TILE, 4, 64, 16, 4, 8, 8, 16, 1);
            ADDP(CL16_GK_TILE, 4, 16, 16, 4, 8, 8, 16, 1);
            if (!quick) ADDP(CL16_GK_TILE, 8, 16, 16, 4, 8, 8, 16, 1);
            if (!quick) ADDP(CL16_GK_TILE, 4, 64, 16, 1, 8, 8, 16, 1);
            if (!quick) ADDP(CL16_GK_TILE, 4, 48, 16, 4, 8, 8, 16, 1);
            /* Taller tiles: TM x NV accumulators plus NV B vectors within
             * AVX-512's 32 registers. */
            if (!quick) ADDP(CL16_GK_TILE, 6, 64, 16, 1, 8, 8, 16, 1);
            if (!quick) ADDP(CL16_GK_TILE, 6, 64, 16, 4, 8, 8, 16, 1);
            if (!quick) ADDP(CL16_GK_TILE, 8, 48, 16, 4, 8, 8, 16, 1);
        }
        if (cpu_vector_regs(ctx) <= 16) {
            /* 16 vector registers (AVX2): 6 rows of two 8-wide vectors is
             * 12 accumulators, 2 B vectors and a broadcast A. Loading A 4
             * values at a time (ku 4) needs registers this tile lacks. */
            ADDP(CL16_GK_TILE, 6, 16, 16, 1, 8, 8, 16, !nn || f16);
            if (!quick) ADDP(CL16_GK_TILE, 6, 16, 8, 1, 8, 8, 16, !nn || f16);
            if (!quick) ADDP(CL16_GK_TILE, 4, 24, 8, 1, 8, 8, 16, !nn || f16);
            if (!quick) ADDP(CL16_GK_TILE, 3, 32, 16, 1, 8, 8, 16, !nn || f16);
            if (!quick && f16 && nn) ADD(CL16_GK_TILE, 6, 16, 16, 4, 8, 8, 16);
        }
        if (nt) ADD(CL16_GK_DOT, 4, 4, 16, 1, 8, 8, 16);
        if (nn && CLS_REDUCE(cls)) {
            ADD(CL16_GK_TILE, 8, 16, 16, 4, 8, 8, 16);
            ADD(CL16_GK_TILE, 12, 16, 16, 4, 8, 8, 16);
            ADD(CL16_GK_TILE, 8, 32, 16, 4, 8, 8, 16);
        }
        ADD(CL16_GK_TILE, 4, 16, 16, nn ? 4 : 1, 8, 8, 16);
        if (!quick) {
            ADD(CL16_GK_TILE, 4, 64, 16, nn ? 4 : 1, 8, 8, 16);
            if (nn) ADD(CL16_GK_TILE, 4, 64, 16, 1, 8, 8, 16);
            ADD(CL16_GK_TILE, 2, 64, 16, nn ? 4 : 1, 8, 8, 16);
            ADD(CL16_GK_TILE, 8, 32, 16, nn ? 4 : 1, 8, 8, 16);
            ADD(CL16_GK_TILE, 4, 32, 16, nn ? 4 : 1, 8, 8, 16);
            ADD(CL16_GK_TILE, 8, 16, 16, nn ? 4 : 1, 8, 8, 16);
            ADD(CL16_GK_TILE, 4, 48, 16, nn ? 4 : 1, 8, 8, 16);
            ADD(CL16_GK_TILE, 8, 16, 8, 1, 8, 8, 16);
            ADD(CL16_GK_TILE, 8, 48, 16, nn ? 4 : 1, 8, 8, 16);
            ADD(CL16_GK_TILE, 6, 64, 16, 1, 8, 8, 16);
            if (nn) ADD(CL16_GK_TILE, 6, 64, 16, 4, 8, 8, 16);
            ADD(CL16_GK_TILE, 12, 32, 16, nn ? 4 : 1, 8, 8, 16);
            if (nt) {
                ADD(CL16_GK_DOT, 2, 8, 16, 1, 8, 8, 16);
                ADD(CL16_GK_DOT, 4, 2, 16, 1, 8, 8, 16);
                ADD(CL16_GK_DOT, 2, 4, 16, 1, 8, 8, 16);
                ADD(CL16_GK_DOT, 4, 4, 8, 1, 8, 8, 16);
            }
        }
        ADD(CL16_GK_LMEM, 4, 4, 4, 1, 8, 8, 16);
    } else {
        ADD(CL16_GK_LMEM, 4, 4, 4, 1, 16, 16, 16);
        ADD(CL16_GK_TILE, 4, 8, 8, 1, 8, 8, 16);
        if (nt) ADD(CL16_GK_DOT, 2, 2, 8, 1, 8, 8, 16);
        if (!quick) {
            ADD(CL16_GK_LMEM, 4, 4, 4, 1, 8, 8, 16);
            ADD(CL16_GK_LMEM, 2, 2, 4, 1, 16, 16, 16);
            ADD(CL16_GK_LMEM, 8, 8, 4, 1, 16, 16, 8);
            ADD(CL16_GK_LMEM, 4, 8, 4, 1, 16, 8, 16);
            ADD(CL16_GK_LMEM, 2, 4, 4, 1, 32, 8, 16);
            ADD(CL16_GK_TILE, 4, 16, 8, 1, 8, 8, 16);
            ADD(CL16_GK_TILE, 2, 8, 4, 1, 8, 8, 16);
            ADD(CL16_GK_TILE, 8, 8, 8, 1, 8, 8, 16);
            if (nt) {
                ADD(CL16_GK_DOT, 4, 4, 4, 1, 8, 8, 16);
                ADD(CL16_GK_DOT, 1, 4, 8, 1, 8, 8, 16);
            }
        }
    }
#undef ADD
#undef ADDP
    return n;
}

typedef struct tune_bufs {
    tune_shape sh;
    cl16_dtype dt;
    float *a, *b, *c;
    double *ref, *mag;
    cl16_tensor *A, *B, *C;
    cl16_gemm_desc d;
} tune_bufs;

static void tune_bufs_free(tune_bufs *t) {
    free(t->a), free(t->b), free(t->c), free(t->ref), free(t->mag);
    cl16_tensor_free(t->A), cl16_tensor_free(t->B), cl16_tensor_free(t->C);
    memset(t, 0, sizeof *t);
}

static cl16_status tune_bufs_make(cl16_ctx *ctx, tune_bufs *t) {
    const tune_shape sh = t->sh;
    const int64_t ar = sh.ta ? sh.k : sh.m, ac = sh.ta ? sh.m : sh.k;
    const int64_t br = sh.tb ? sh.n : sh.k, bc = sh.tb ? sh.k : sh.n;
    const int64_t outs = sh.reduce ? 1 : sh.batch, as = sh.a_shared ? 0 : ar * ac;
    const size_t na = (size_t)(ar * ac * (sh.a_shared ? 1 : sh.batch)), nb = (size_t)(br * bc * sh.batch),
                 nc = (size_t)(sh.m * sh.n * outs);
    t->a = malloc(na * sizeof *t->a), t->b = malloc(nb * sizeof *t->b), t->c = malloc(nc * sizeof *t->c);
    t->ref = calloc(nc, sizeof *t->ref), t->mag = calloc(nc, sizeof *t->mag);
    if (!t->a || !t->b || !t->c || !t->ref || !t->mag)
        return cl16__fail(ctx, CL16_ERR_OUT_OF_MEMORY, "gemm tune: host buffers for %lldx%lldx%lld",
                          (long long)sh.m, (long long)sh.n, (long long)sh.k);
    uint32_t s = 12345u;
    for (size_t i = 0; i < na + nb; i++) {
        s ^= s << 13, s ^= s >> 17, s ^= s << 5;
        float v = (float)((double)(s >> 8) / 8388608.0 - 1.0);
        if (t->dt == CL16_F16) v = cl16_half_to_float(cl16_float_to_half(v));
        if (i < na) t->a[i] = v;
        else t->b[i - na] = v;
    }
    for (int64_t g = 0; g < sh.batch; g++)
        for (int64_t i = 0; i < sh.m; i++)
            for (int64_t j = 0; j < sh.n; j++) {
                double r = 0, mg = 0;
                for (int64_t p = 0; p < sh.k; p++) {
                    double x = t->a[g * as + (sh.ta ? p * sh.m + i : i * sh.k + p)];
                    double y = t->b[g * br * bc + (sh.tb ? j * sh.k + p : p * sh.n + j)];
                    r += x * y, mg += fabs(x * y);
                }
                const int64_t o = ((sh.reduce ? 0 : g) * sh.m + i) * sh.n + j;
                t->ref[o] += r, t->mag[o] += mg;
            }
    int64_t da[1] = {(int64_t)na}, db[1] = {(int64_t)nb}, dc[1] = {(int64_t)nc};
    cl16_status st;
    if ((st = cl16_tensor_create(ctx, t->dt, 1, da, &t->A)) ||
        (st = cl16_tensor_create(ctx, t->dt, 1, db, &t->B)) ||
        (st = cl16_tensor_create(ctx, t->dt, 1, dc, &t->C)) ||
        (st = cl16_tensor_write_f32(t->A, t->a, na)) || (st = cl16_tensor_write_f32(t->B, t->b, nb)))
        return st;
    cl16_gemm_desc_init(&t->d);
    cl16_gemm_desc *d = &t->d;
    d->trans_a = sh.ta, d->trans_b = sh.tb, d->m = sh.m, d->n = sh.n, d->k = sh.k, d->batch = sh.batch;
    d->a = t->A, d->lda = ac, d->a_stride = as;
    d->b = t->B, d->ldb = bc, d->b_stride = br * bc;
    d->c = t->C, d->ldc = sh.n, d->c_stride = sh.reduce ? 0 : sh.m * sh.n;
    return CL16_OK;
}

/* Verifies C against the float64 reference: float accumulation, one
 * rounding to the output type. Returns the worst error / bound (<= 1 passes). */
static cl16_status tune_verify(tune_bufs *t, double *worst) {
    size_t nc = (size_t)(t->sh.m * t->sh.n * (t->sh.reduce ? 1 : t->sh.batch));
    const double terms = (double)t->sh.k * (t->sh.reduce ? (double)t->sh.batch : 1.0);
    cl16_status s = cl16_tensor_read_f32(t->C, t->c, nc);
    if (s) return s;
    const double u_out = t->dt == CL16_F16 ? 0x1p-11 : 0x1p-24;
    double w = 0;
    int nonzero = 0;
    for (size_t i = 0; i < nc; i++) {
        double bound = (terms + 2) * 0x1p-24 * t->mag[i] * 1.01 + u_out * fabs(t->ref[i]) + 1e-30;
        double r = fabs((double)t->c[i] - t->ref[i]) / bound;
        if (!(r <= w)) w = r; /* NaN sticks */
        nonzero |= t->c[i] != 0.0f;
    }
    *worst = nonzero ? w : INFINITY;
    return CL16_OK;
}

static void progress(const cl16_tune_opts *o, const char *fmt, ...) CL16_PRINTF(2, 3);
static void progress(const cl16_tune_opts *o, const char *fmt, ...) {
    if (!o->progress) return;
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    o->progress(o->progress_user, buf);
}

/* Runs p on t: a first call (build), verification, then timed blocks.
 * *gflops = 0 when the candidate is not usable (reason in *why). */
static cl16_status tune_measure(cl16_ctx *ctx, tune_bufs *t, const cl16_gemm_params *p, int quick,
                                double *gflops, char *why, size_t wl) {
    *gflops = 0;
    cl16_status s = cl16_tensor_fill(t->C, 0.0f);
    if (s) return s;
    s = cl16__gemm_run(ctx, &t->d, p);
    if (!s) s = cl16_ctx_finish(ctx);
    if (s == CL16_ERR_BUILD || s == CL16_ERR_UNSUPPORTED || s == CL16_ERR_OPENCL ||
        s == CL16_ERR_INVALID_ARG) {
        snprintf(why, wl, "%s: %.200s", cl16_status_str(s), cl16_ctx_last_error(ctx));
        char *nl = strchr(why, '\n');
        if (nl) *nl = 0;
        return CL16_OK;
    }
    if (s) return s;
    double worst;
    if ((s = tune_verify(t, &worst))) return s;
    if (!(worst <= 1.0)) {
        snprintf(why, wl, "rejected: wrong result (error %.3g of the bound)", worst);
        return CL16_OK;
    }
    const double flops = 2.0 * (double)t->sh.m * (double)t->sh.n * (double)t->sh.k * (double)t->sh.batch;
    const double block = quick ? 0.005 : 0.03;
    double best = INFINITY;
    for (int rep = 0; rep < 3; rep++) {
        int calls = 0;
        double t0 = cl16__now(), el;
        do {
            if ((s = cl16__gemm_run(ctx, &t->d, p))) return s;
            calls++;
            if ((s = cl16_ctx_finish(ctx))) return s;
            el = cl16__now() - t0;
        } while (el < block && calls < 1000);
        if (el / calls < best) best = el / calls;
    }
    *gflops = flops / best * 1e-9;
    return CL16_OK;
}

/* Times every candidate (and CLBlast) of class cls on its shapes; the score
 * is the geometric mean of GFLOP/s over the shapes, and a candidate must pass
 * verification on every shape to score at all. */
static cl16_status tune_class(cl16_ctx *ctx, const cl16_tune_opts *o, cl16_dtype dt, int cls,
                              const tune_shape *shapes, int nshapes, int clblast,
                              cl16_gemm_choice *ch) {
    cl16_gemm_params cand[MAX_CAND + 1]; /* + CLBlast */
    int nc = candidates(ctx, cls, o->quick, cand, MAX_CAND);
    if (clblast) memset(&cand[nc], 0, sizeof cand[nc]), cand[nc++].backend = CL16_GEMM_CLBLAST;
    double logsum[MAX_CAND + 1] = {0};
    int ok[MAX_CAND + 1];
    for (int i = 0; i < nc; i++) ok[i] = 1;
    char cname[40];
    cl16__gemm_class_name(cls, cname, sizeof cname);
    cl16_status s = CL16_OK;
    for (int r = 0; r < nshapes && !s; r++) {
        tune_bufs t;
        memset(&t, 0, sizeof t);
        t.sh = shapes[r], t.dt = dt;
        if (!(s = tune_bufs_make(ctx, &t))) {
            for (int i = 0; i < nc && !s; i++) {
                if (!ok[i]) continue;
                char ps[128], why[256] = "";
                double gf;
                cl16__gemm_params_str(&cand[i], ps, sizeof ps);
                s = tune_measure(ctx, &t, &cand[i], o->quick, &gf, why, sizeof why);
                if (s) break;
                if (gf > 0) {
                    logsum[i] += log(gf);
                    progress(o, "%s %lldx%lldx%lld x%lld: %s: %.2f GFLOP/s", cname, (long long)t.sh.m,
                             (long long)t.sh.n, (long long)t.sh.k, (long long)t.sh.batch, ps, gf);
                } else {
                    ok[i] = 0;
                    progress(o, "%s: %s: skipped (%s)", cname, ps, why);
                }
            }
        }
        tune_bufs_free(&t);
    }
    if (s) return s;
    memset(ch, 0, sizeof *ch);
    for (int i = 0; i < nc; i++) {
        if (!ok[i]) continue;
        const double gm = exp(logsum[i] / nshapes);
        if (cand[i].backend == CL16_GEMM_CLBLAST) ch->clblast_ok = 1, ch->clblast_gflops = gm;
        else if (gm > ch->own_gflops) ch->valid = 1, ch->own = cand[i], ch->own_gflops = gm;
    }
    if (ch->valid) {
        char ps[128];
        cl16__gemm_params_str(&ch->own, ps, sizeof ps);
        const int cb = ch->clblast_ok && ch->clblast_gflops > ch->own_gflops;
        progress(o, "%s: chose %s (%.2f GFLOP/s%s)", cname, cb ? "clblast" : ps,
                 cb ? ch->clblast_gflops : ch->own_gflops, nshapes > 1 ? ", geometric mean" : "");
    } else {
        progress(o, "%s: no candidate passed; the built-in parameters stay", cname);
    }
    return CL16_OK;
}

cl16_status cl16_gemm_tune(cl16_ctx *ctx, const cl16_tune_opts *opts) {
    if (!ctx) return CL16_ERR_INVALID_ARG;
    if (ctx->init_status) return ctx->init_status;
    cl16_tune_opts o;
    if (opts) o = *opts;
    else cl16_tune_opts_init(&o);
    if (!o.f16 && !o.f32) o.f16 = o.f32 = 1;
    cl16__gemm_tune_load(ctx); /* classes not tuned now keep their earlier result */
    tune_shape nets[64];
    cl16_status s = CL16_OK;
    for (int dti = 0; dti < 2 && !s; dti++) {
        const cl16_dtype dt = dti ? CL16_F16 : CL16_F32;
        if (dti ? !o.f16 : !o.f32) continue;
        const int nnet = o.quick ? 0 : net_shapes(ctx, dt, nets, 64);
        char cb_why[160] = "";
        const int cb = cl16__clblast_supports(ctx, dt, cb_why, sizeof cb_why);
        if (!cb) progress(&o, "%s: clblast: not available (%s)", cl16_dtype_name(dt), cb_why);
        for (int op = 0; op < 4 && !s; op++) {
            const int ta = op >> 1, tb = op & 1;
            for (int ci = 0; ci < 2 * CL16_GEMM_NSIZES && !s; ci++) {
                const int reduce = ci / CL16_GEMM_NSIZES, size = ci % CL16_GEMM_NSIZES;
                /* Batch-reduce is how convolution weight gradients (NN) are summed. */
                if (reduce && (ta || tb)) continue;
                /* The class's training shapes (at most two), else a synthetic one. */
                tune_shape sh[2];
                int ns = 0;
                const tune_shape synth = synth_shape(ta, tb, size, reduce, o.quick);
                const int want = shape_class(dt, &synth);
                for (int i = 0; i < nnet && ns < 2; i++)
                    if (shape_class(dt, &nets[i]) == want) sh[ns++] = nets[i];
                if (!ns) sh[ns++] = synth;
                cl16_gemm_choice ch;
                if ((s = tune_class(ctx, &o, dt, want, sh, ns, cb, &ch))) break;
                if (ch.valid) ctx->gemm_tuned[want] = ch;
            }
        }
    }
    if (s) return s;
    return o.save ? tune_save(ctx) : CL16_OK;
}
