/* make_seeds.c - writes the fuzz seed corpora (tests/fuzz/corpus/) with the
 * project's own writers: cl16_safetensors_save, cl16_model_save, the program
 * cache's header, IDX and CIFAR-10 files as the data set tests write them.
 * Usage: make_seeds OUTDIR (creates OUTDIR/{safetensors,idx,cifar,cache,model}). */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "cl16.h"
#include "runtime/internal.h"

static const char *outdir;
static int failures;

static void path_of(char *p, size_t n, const char *sub, const char *name) {
    snprintf(p, n, "%s/%s/%s", outdir, sub, name);
}

static void put(const char *sub, const char *name, const void *data, size_t len) {
    char p[4096];
    path_of(p, sizeof p, sub, name);
    FILE *f = fopen(p, "wb");
    if (!f || (len && fwrite(data, 1, len, f) != len) || fclose(f)) {
        fprintf(stderr, "make_seeds: cannot write %s\n", p);
        failures++;
    }
}

static unsigned char *slurp(const char *p, size_t *len) {
    FILE *f = fopen(p, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc(n > 0 ? (size_t)n : 1);
    if (b && n > 0 && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    fclose(f);
    *len = n > 0 ? (size_t)n : 0;
    return b;
}

/* ---- safetensors ---------------------------------------------------------- */
static void seeds_safetensors(void) {
    char p[4096];
    float w[6] = {1, -2, 3.5f, 0, 1e-3f, 65504};
    uint16_t h[4] = {0x3c00, 0xc000, 0x7bff, 0x0001};
    uint16_t bf[2] = {0x3f80, 0xbf80};
    int64_t cnt = 42;
    cl16_st_tensor t[4] = {
        {"w", CL16_ST_F32, 2, {2, 3}, w, sizeof w},
        {"h", CL16_ST_F16, 1, {4}, h, sizeof h},
        {"b.bf", CL16_ST_BF16, 3, {1, 2, 1}, bf, sizeof bf},
        {"n", CL16_ST_I64, 0, {0}, &cnt, sizeof cnt},
    };
    const char *meta[] = {"arch", "mlp", "format", "pt", NULL};
    struct { const char *name; size_t count; const char *const *meta; } v[] = {
        {"four_dtypes_meta.safetensors", 4, meta},
        {"one_f32.safetensors", 1, NULL},
        {"empty.safetensors", 0, NULL},
        {"empty_meta.safetensors", 0, meta},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        path_of(p, sizeof p, "safetensors", v[i].name);
        char err[256];
        if (cl16_safetensors_save(p, t, v[i].count, v[i].meta, err, sizeof err)) {
            fprintf(stderr, "make_seeds: %s\n", err);
            failures++;
        }
    }
    /* A zero-size tensor and an 8-dimensional one. */
    cl16_st_tensor z[2] = {{"zero", CL16_ST_F32, 2, {0, 7}, w, 0},
                           {"eight", CL16_ST_F16, 8, {1, 1, 1, 1, 1, 1, 1, 2}, h, 4}};
    path_of(p, sizeof p, "safetensors", "zero_and_8d.safetensors");
    if (cl16_safetensors_save(p, z, 2, NULL, NULL, 0))
        failures++;
}

/* ---- IDX: 4-byte LE image length, image file, label file ------------------- */
static unsigned char *idx_file(int ndim, const uint32_t *dims, uint8_t fill, size_t *len) {
    size_t n = 1;
    for (int i = 0; i < ndim; i++)
        n *= dims[i];
    *len = 4 + 4 * (size_t)ndim + n;
    unsigned char *b = malloc(*len);
    b[0] = b[1] = 0, b[2] = 8, b[3] = (unsigned char)ndim;
    for (int i = 0; i < ndim; i++)
        for (int k = 0; k < 4; k++)
            b[4 + 4 * i + k] = (unsigned char)(dims[i] >> (24 - 8 * k));
    for (size_t i = 0; i < n; i++)
        b[4 + 4 * ndim + i] = (uint8_t)(fill + i * 37);
    return b;
}

static unsigned char *gzip_of(const unsigned char *src, size_t len, size_t *out_len) {
    z_stream z;
    memset(&z, 0, sizeof z);
    if (deflateInit2(&z, 9, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return NULL;
    size_t cap = deflateBound(&z, (uLong)len);
    unsigned char *b = malloc(cap);
    z.next_in = (Bytef *)(uintptr_t)src, z.avail_in = (uInt)len;
    z.next_out = b, z.avail_out = (uInt)cap;
    deflate(&z, Z_FINISH);
    *out_len = cap - z.avail_out;
    deflateEnd(&z);
    return b;
}

static void idx_pair(const char *name, const unsigned char *im, size_t il, const unsigned char *lb,
                     size_t ll) {
    unsigned char *b = malloc(4 + il + ll);
    for (int k = 0; k < 4; k++)
        b[k] = (unsigned char)(il >> (8 * k));
    memcpy(b + 4, im, il);
    memcpy(b + 4 + il, lb, ll);
    put("idx", name, b, 4 + il + ll);
    free(b);
}

static void seeds_idx(void) {
    uint32_t idims[3] = {3, 4, 5}, ldims[1] = {3};
    size_t il, ll, gil, gll;
    unsigned char *im = idx_file(3, idims, 1, &il), *lb = idx_file(1, ldims, 0, &ll);
    for (uint32_t i = 0; i < 3; i++)
        lb[8 + i] = (uint8_t)(i * 4); /* labels 0, 4, 8 */
    idx_pair("raw_3x4x5.idx", im, il, lb, ll);
    unsigned char *gim = gzip_of(im, il, &gil), *glb = gzip_of(lb, ll, &gll);
    idx_pair("gzip_3x4x5.idx", gim, gil, glb, gll);
    idx_pair("gzip_images_raw_labels.idx", gim, gil, lb, ll);
    /* Two gzip members making one stream (gzread's concatenation). */
    size_t g1, g2;
    unsigned char *a = gzip_of(im, il / 2, &g1), *b = gzip_of(im + il / 2, il - il / 2, &g2);
    unsigned char *cat = malloc(g1 + g2);
    memcpy(cat, a, g1);
    memcpy(cat + g1, b, g2);
    idx_pair("gzip_two_members.idx", cat, g1 + g2, lb, ll);
    /* Labels above 9 (more classes) and a 1 x 1 image. */
    uint32_t one[3] = {1, 1, 1}, l1[1] = {1};
    size_t ol, o2;
    unsigned char *oi = idx_file(3, one, 200, &ol), *ol1 = idx_file(1, l1, 0, &o2);
    ol1[8] = 17;
    idx_pair("one_pixel_label17.idx", oi, ol, ol1, o2);
    free(im), free(lb), free(gim), free(glb), free(a), free(b), free(cat), free(oi), free(ol1);
}

/* ---- CIFAR-10 --------------------------------------------------------------- */
static void seeds_cifar(void) {
    for (int n = 1; n <= 2; n++) {
        size_t len = (size_t)n * 3073;
        unsigned char *b = malloc(len);
        for (size_t i = 0; i < len; i++)
            b[i] = (unsigned char)(i * 7 + 3);
        for (int r = 0; r < n; r++)
            b[(size_t)r * 3073] = (unsigned char)(r * 9);
        char name[64];
        snprintf(name, sizeof name, "records_%d.bin", n);
        put("cifar", name, b, len);
        free(b);
    }
}

/* ---- program cache entries (key as in fuzz_cache.c) ------------------------- */
static void seeds_cache(void) {
    static const uint8_t key[32] = "cl16-fuzz-cache-key-0123456789a";
    const char *payloads[] = {"x", "a small program binary stand-in\n"};
    for (int i = 0; i < 2; i++) {
        size_t n = strlen(payloads[i]);
        unsigned char *b = malloc(CL16_CACHE_HEADER_SIZE + n);
        cl16__cache_header(b, key, (const unsigned char *)payloads[i], n);
        memcpy(b + CL16_CACHE_HEADER_SIZE, payloads[i], n);
        char name[64];
        snprintf(name, sizeof name, "entry_%zu.clbin", n);
        put("cache", name, b, CL16_CACHE_HEADER_SIZE + n);
        free(b);
    }
}

/* ---- models (first byte: 0 load, 1 open; see fuzz_model.c) ------------------ */
static void model_seed(cl16_ctx *ctx, const cl16_model_opts *o, cl16_dtype file_dt,
                       const char *name) {
    cl16_model *m = NULL;
    if (cl16_model_create(ctx, o, 5, &m)) {
        fprintf(stderr, "make_seeds: model %s: %s\n", o->arch, cl16_ctx_last_error(ctx));
        failures++;
        return;
    }
    char tmp[4096], err[512];
    snprintf(tmp, sizeof tmp, "%s/model/.tmp.safetensors", outdir);
    if (cl16_model_save(m, tmp, file_dt, NULL, err, sizeof err)) {
        fprintf(stderr, "make_seeds: %s\n", err);
        failures++;
    } else {
        size_t len = 0;
        unsigned char *b = slurp(tmp, &len);
        for (int mode = 0; b && mode < 2; mode++) {
            if (mode == 0 && strcmp(o->arch, "mlp"))
                continue; /* the load mode's models are mlp */
            unsigned char *c = malloc(len + 1);
            c[0] = (unsigned char)mode;
            memcpy(c + 1, b, len);
            char nm[128];
            snprintf(nm, sizeof nm, "%s_%s", mode ? "open" : "load", name);
            put("model", nm, c, len + 1);
            free(c);
        }
        free(b);
        unlink(tmp);
    }
    cl16_model_free(m);
}

static void seeds_model(void) {
    cl16_ctx_opts co;
    cl16_ctx_opts_init(&co);
    co.cache = 0;
    cl16_ctx *ctx = NULL;
    if (cl16_ctx_create(&ctx, &co)) {
        fprintf(stderr, "make_seeds: no OpenCL device, model seeds skipped: %s\n",
                ctx ? cl16_ctx_last_error(ctx) : "");
        cl16_ctx_free(ctx);
        return;
    }
    cl16_model_opts o;
    cl16_model_opts_init(&o); /* as fuzz_model.c's models */
    o.arch = "mlp", o.channels = 1, o.height = 4, o.width = 4, o.classes = 3;
    o.hidden1 = 5, o.hidden2 = 4;
    model_seed(ctx, &o, CL16_F32, "mlp_f32.safetensors");
    model_seed(ctx, &o, CL16_F16, "mlp_f16.safetensors");
    /* The open mode's images are 12 x 12 (fuzz_model.c). */
    cl16_model_opts_init(&o);
    o.arch = "mlp", o.channels = 1, o.height = 12, o.width = 12, o.classes = 3;
    o.hidden1 = 4, o.hidden2 = 3;
    model_seed(ctx, &o, CL16_F16, "mlp12_f16.safetensors");
    cl16_model_opts_init(&o);
    o.arch = "lenet5", o.channels = 1, o.height = 12, o.width = 12, o.classes = 2;
    model_seed(ctx, &o, CL16_F16, "lenet5_f16.safetensors");
    cl16_ctx_free(ctx);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: make_seeds OUTDIR\n");
        return 2;
    }
    outdir = argv[1];
    const char *subs[] = {"", "/safetensors", "/idx", "/cifar", "/cache", "/model"};
    for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++) {
        char p[4096];
        snprintf(p, sizeof p, "%s%s", outdir, subs[i]);
        mkdir(p, 0755);
    }
    seeds_safetensors();
    seeds_idx();
    seeds_cifar();
    seeds_cache();
    seeds_model();
    return failures ? 1 : 0;
}
