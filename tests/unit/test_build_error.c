/* test_build_error.c - a kernel file with a syntax error (test-only source,
 * loaded through the kernel-directory switch) yields CL16_ERR_BUILD and a
 * message holding the compiler's build log; the context stays usable. A
 * missing kernel file is an I/O error, and a device whose storage probe
 * computes wrongly is refused. */
#include <ftw.h>
#include <stdlib.h>
#include <unistd.h>

#include "check.h"

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb, (void)flag, (void)ftw;
    return remove(p);
}

static void write_file(const char *dir, const char *name, const char *text) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
}

int main(void) {
    char dir[] = "/tmp/cl16-test-kernels-XXXXXX";
    if (!mkdtemp(dir)) SKIP("cannot create a temporary directory");
    /* A working probe and header, and an eltwise.cl that does not compile. */
    write_file(dir, "common.cl", "#define CL16_TEST_COMMON 1\n");
    write_file(dir, "probe.cl",
               "__kernel void cl16_probe(__global const half *a, __global const half *b,\n"
               "  __global const half *c, __global half *o) { size_t i = get_global_id(0);\n"
               "  vstore_half_rte(vload_half(i,a)*vload_half(i,b)+vload_half(i,c), i, o); }\n");
    write_file(dir, "eltwise.cl",
               "#include \"common.cl\"\n"
               "__kernel void cl16_cast_f32_f16(__global const float *s, __global half *d, ulong n) {\n"
               "  size_t i = get_global_id(0) this_is_not_c;\n}\n");
    cl16_ctx_opts o;
    cl16_ctx_opts_init(&o);
    o.cache = 0;
    o.kernel_dir = dir;
    o.half = CL16_HALF_STORAGE;
    cl16_ctx *ctx;
    CHECK_OK(ctx, cl16_ctx_create(&ctx, &o));
    int64_t n = 4;
    cl16_tensor *a, *b;
    CHECK_OK(ctx, cl16_tensor_create(ctx, CL16_F32, 1, &n, &a));
    CHECK_OK(ctx, cl16_tensor_create(ctx, CL16_F16, 1, &n, &b));
    cl16_status s = cl16_tensor_copy(b, a);
    CHECK(s == CL16_ERR_BUILD);
    const char *msg = cl16_ctx_last_error(ctx);
    printf("error detail:\n%s\n", msg);
    CHECK(strstr(msg, "eltwise.cl") != NULL);
    CHECK(strstr(msg, "build log") != NULL);
    CHECK_MSG(strstr(msg, "this_is_not_c") != NULL || strstr(msg, "error") != NULL,
              "the compiler's log is missing: %s", msg);
    /* Same-dtype work that needs no kernel still runs. */
    CHECK_OK(ctx, cl16_tensor_fill(a, 2.0f));
    float y[4];
    CHECK_OK(ctx, cl16_tensor_read_f32(a, y, 4));
    CHECK(y[3] == 2.0f);
    cl16_tensor_free(a), cl16_tensor_free(b);
    cl16_ctx_free(ctx);

    /* A missing kernel file in the directory is an I/O error naming it. */
    unlink(strcat(strcpy((char[600]){0}, dir), "/eltwise.cl"));
    CHECK_OK(ctx, cl16_ctx_create(&ctx, &o));
    CHECK_OK(ctx, cl16_tensor_create(ctx, CL16_F32, 1, &n, &a));
    CHECK_OK(ctx, cl16_tensor_create(ctx, CL16_F16, 1, &n, &b));
    CHECK(cl16_tensor_copy(b, a) == CL16_ERR_IO);
    CHECK(strstr(cl16_ctx_last_error(ctx), "eltwise.cl") != NULL);
    cl16_tensor_free(a), cl16_tensor_free(b);
    cl16_ctx_free(ctx);
    /* A device whose storage probe computes a wrong result (simulated with a
     * test-only probe.cl) is refused with UNSUPPORTED and the first wrong element. */
    write_file(dir, "probe.cl",
               "__kernel void cl16_probe(__global const half *a, __global const half *b,\n"
               "  __global const half *c, __global half *o) { size_t i = get_global_id(0);\n"
               "  vstore_half_rte(vload_half(i,a)*vload_half(i,b), i, o); }\n");
    cl16_status ps = cl16_ctx_create(&ctx, &o);
    CHECK(ps == CL16_ERR_UNSUPPORTED);
    msg = cl16_ctx_last_error(ctx);
    CHECK_MSG(strstr(msg, "storage probe") && strstr(msg, "expected"), "message: %s", msg);
    cl16_ctx_free(ctx);

    nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
    return check_done("test_build_error");
}
