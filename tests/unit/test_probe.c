/* test_probe.c - the half path is decided by running a kernel: PoCL on a CPU
 * (no cl_khr_fp16) must come out `storage`, and forcing `native` where the
 * probe fails must be an error that says why; where the probe finds native
 * half, forcing either path must work. */
#include <stdlib.h>

#include "check.h"

static cl16_status open_half(cl16_half_path h, cl16_ctx **ctx) {
    cl16_ctx_opts o;
    cl16_ctx_opts_init(&o);
    o.half = h;
    o.cache = 0;
    return cl16_ctx_create(ctx, &o);
}

int main(void) {
    cl16_ctx *ctx;
    CHECK_OK(ctx, open_half(CL16_HALF_AUTO, &ctx));
    const cl16_device_info *d = cl16_ctx_device(ctx);
    cl16_half_path auto_path = cl16_ctx_half_path(ctx);
    int is_pocl_cpu = strstr(d->platform, "Portable Computing Language") && d->type == CL16_DEVICE_CPU;
    printf("device %s: probe says %s (cl_khr_fp16 %s)\n", d->name,
           auto_path == CL16_HALF_NATIVE ? "native" : "storage",
           d->has_fp16_ext ? "advertised" : "not advertised");
    CHECK(auto_path == CL16_HALF_NATIVE || auto_path == CL16_HALF_STORAGE);
    if (is_pocl_cpu && !d->has_fp16_ext) CHECK(auto_path == CL16_HALF_STORAGE);
    char name[256];
    snprintf(name, sizeof name, "%s", d->name);
    cl16_ctx_free(ctx);

    /* Forcing storage always works. */
    CHECK_OK(ctx, open_half(CL16_HALF_STORAGE, &ctx));
    CHECK(cl16_ctx_half_path(ctx) == CL16_HALF_STORAGE);
    cl16_ctx_free(ctx);

    cl16_status s = open_half(CL16_HALF_NATIVE, &ctx);
    if (auto_path == CL16_HALF_STORAGE) {
        CHECK(s == CL16_ERR_UNSUPPORTED);
        const char *msg = cl16_ctx_last_error(ctx);
        CHECK_MSG(strstr(msg, "native") && strstr(msg, name), "unhelpful message: %s", msg);
        CHECK_MSG(strstr(msg, "Probe result"), "message lacks the probe's reason: %s", msg);
    } else {
        CHECK(s == CL16_OK && cl16_ctx_half_path(ctx) == CL16_HALF_NATIVE);
    }
    cl16_ctx_free(ctx);

    /* The environment forces it too. */
    setenv("CL16_HALF", "storage", 1);
    CHECK_OK(ctx, open_half(CL16_HALF_AUTO, &ctx));
    CHECK(cl16_ctx_half_path(ctx) == CL16_HALF_STORAGE);
    cl16_ctx_free(ctx);
    setenv("CL16_HALF", "native", 1);
    s = open_half(CL16_HALF_AUTO, &ctx);
    CHECK(auto_path == CL16_HALF_STORAGE ? s == CL16_ERR_UNSUPPORTED : s == CL16_OK);
    cl16_ctx_free(ctx);
    unsetenv("CL16_HALF");
    return check_done("test_probe");
}
