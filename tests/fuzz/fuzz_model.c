/* fuzz_model.c - libFuzzer harness for the model loader on top of the
 * safetensors reader: cl16_model_load (names, shapes, dtypes, non-finite and
 * overflowing values) and cl16_model_open (architecture and shapes taken
 * from the file). Needs an OpenCL device: one context per process. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cl16.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Made once: the context (no disk cache, so runs leave nothing behind), an
 * f32 and an f16 model of the shape make_seeds.c saves, and a memfd that
 * cl16_model_open reads the input from. */
static cl16_ctx *ctx;
static cl16_model *models[2];
static int memfd = -1;
static char memfd_path[64];

/* The model opts make_seeds.c writes its model seeds with. */
static void fuzz_model_opts(cl16_model_opts *o, cl16_dtype dt) {
    cl16_model_opts_init(o);
    o->arch = "mlp";
    o->channels = 1, o->height = 4, o->width = 4, o->classes = 3;
    o->hidden1 = 5, o->hidden2 = 4;
    o->dtype = dt;
}

static int setup(void) {
    cl16_ctx_opts co;
    cl16_ctx_opts_init(&co);
    co.cache = 0;
    if (cl16_ctx_create(&ctx, &co) != CL16_OK) {
        fprintf(stderr, "fuzz_model: no OpenCL context: %s\n", ctx ? cl16_ctx_last_error(ctx) : "");
        return -1;
    }
    for (int i = 0; i < 2; i++) {
        cl16_model_opts o;
        fuzz_model_opts(&o, i ? CL16_F16 : CL16_F32);
        if (cl16_model_create(ctx, &o, 1, &models[i]) != CL16_OK) {
            fprintf(stderr, "fuzz_model: model: %s\n", cl16_ctx_last_error(ctx));
            return -1;
        }
    }
    memfd = memfd_create("cl16-fuzz-model", 0);
    if (memfd < 0) {
        perror("fuzz_model: memfd_create");
        return -1;
    }
    snprintf(memfd_path, sizeof memfd_path, "/proc/self/fd/%d", memfd);
    return 0;
}

/* First byte: even -> cl16_model_load into both models; odd -> the rest is a
 * file for cl16_model_open (architecture from its metadata, 12 x 12 images). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static int ready;
    if (!ready) {
        if (setup())
            abort();
        ready = 1;
    }
    if (size < 1)
        return 0;
    const int open_mode = data[0] & 1;
    data++, size--;
    char err[4096];
    if (!open_mode) {
        cl16_safetensors *f = NULL;
        if (cl16_safetensors_parse(data, size, &f, err, sizeof err) != CL16_OK)
            return 0;
        for (int i = 0; i < 2; i++) {
            cl16_cast_report rep;
            cl16_model_load(models[i], f, &rep, err, sizeof err);
        }
        cl16_safetensors_free(f);
        return 0;
    }
    if (ftruncate(memfd, 0) || (size && pwrite(memfd, data, size, 0) != (ssize_t)size))
        abort();
    cl16_model_opts o;
    cl16_model_opts_init(&o);
    o.arch = NULL;
    o.height = o.width = 12;
    cl16_model *m = NULL;
    cl16_cast_report rep;
    cl16_status st = cl16_model_open(ctx, memfd_path, &o, &m, &rep, err, sizeof err);
    if (st == CL16_OK && !m)
        __builtin_trap();
    if (st != CL16_OK && m)
        __builtin_trap();
    cl16_model_free(m);
    return 0;
}
